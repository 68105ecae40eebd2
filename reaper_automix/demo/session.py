"""Build the demo session: stems, an unbalanced REAPER project, a reference mix, a manifest."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio.io import write_float_wav
from ..rpp.builder import ItemSpec, TrackSpec, write_project
from ..session import db_to_gain
from .arrangement import StemPart, arrange
from .checks import StemReport, check_stems
from .reference import reference_mix
from .score import DEFAULT_CHORALE, load_chorale
from .synth import SAMPLE_RATE, render_notes, soundfont_path

PROJECT_NAME = "automix-demo.RPP"
MEDIA_DIR = "media"
FOLDERS = ("Drums", "Bass", "Vocals", "Other")
TAIL_S = 2.5  # release tails after the final bar line
TRACK_SPREAD_DB = 6.0  # leaf faders and clip gains: uniform in ±6 dB
FOLDER_SPREAD_DB = 3.0

ARRANGEMENT_STREAM, GAIN_STREAM = 0, 1  # independent random streams drawn from one seed

Progress = Callable[[str], None]


def seeded_rng(seed: int, stream: int) -> np.random.Generator:
    """Random stream ``stream`` of ``seed`` (a non-negative integer)."""
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed}")
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(stream + 1)[stream])


@dataclass(frozen=True)
class DemoSession:
    """What :func:`build_demo` wrote."""

    project: Path
    reference: Path
    manifest: Path
    media: list[Path]
    stems: list[StemReport]
    length_s: float


@dataclass(frozen=True)
class Gains:
    """The seeded imbalance written into the project, in dB."""

    fader_db: dict[str, float]  # per leaf track
    clip_db: dict[str, float]  # per leaf track (item volume)
    folder_db: dict[str, float]


def draw_gains(seed: int, tracks: list[str], folders: tuple[str, ...] = FOLDERS) -> Gains:
    """Seeded fader and clip-gain offsets (rounded to 0.01 dB)."""
    rng = seeded_rng(seed, GAIN_STREAM)

    def draw(names, spread):
        return {n: round(float(v), 2) for n, v in zip(names, rng.uniform(-spread, spread,
                                                                         len(names)))}

    return Gains(draw(tracks, TRACK_SPREAD_DB), draw(tracks, TRACK_SPREAD_DB),
                 draw(list(folders), FOLDER_SPREAD_DB))


def build_demo(out_dir: str | Path, *, seed: int = 0, tempo: float = 80.0,
               chorale: str = DEFAULT_CHORALE, progress: Progress | None = None) -> DemoSession:
    """Render the chorale arrangement into ``out_dir`` and write the demo project around it."""
    say = progress or (lambda message: None)
    out_dir = Path(out_dir)
    if not tempo > 0:
        raise ValueError(f"tempo must be positive, not {tempo}")
    say(f"reading {chorale} from the music21 corpus")
    score = load_chorale(chorale)
    parts = arrange(score, tempo, seeded_rng(seed, ARRANGEMENT_STREAM))
    length_s = score.end * 60.0 / tempo + TAIL_S
    frames = round(length_s * SAMPLE_RATE)
    stems: dict[str, np.ndarray] = {}
    for part in parts:
        say(f"rendering {part.track} ({part.instrument})")
        stems[part.file] = render_notes(part.notes, part.program, tempo, frames)
    say("checking stems (data.md §5: format, length, loudness, headroom, timing)")
    onsets = {p.file: min(n.start for n in p.notes) * 60.0 / tempo for p in parts}
    reports = check_stems(stems, SAMPLE_RATE, onsets)
    media = [write_float_wav(out_dir / MEDIA_DIR / name, audio, SAMPLE_RATE)
             for name, audio in stems.items()]
    gains = draw_gains(seed, [p.track for p in parts])
    say(f"writing {PROJECT_NAME}")
    project = write_project(out_dir / PROJECT_NAME, _track_tree(parts, gains, length_s),
                            sample_rate=SAMPLE_RATE, tempo=tempo, seed=seed)
    say("mixing reference.wav")
    reference_audio, reference_settings = reference_mix(
        stems, SAMPLE_RATE, {report.name: report.lufs for report in reports})
    reference = write_float_wav(out_dir / "reference.wav", reference_audio, SAMPLE_RATE)
    manifest = out_dir / "demo.json"
    manifest.write_text(json.dumps(
        _manifest(seed, tempo, score.name, length_s, parts, gains, reports, reference_settings),
        indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return DemoSession(project, reference, manifest, media, reports, length_s)


def _track_tree(parts: list[StemPart], gains: Gains, length_s: float) -> list[TrackSpec]:
    tree = []
    for folder in FOLDERS:
        children = [
            TrackSpec(part.track, volume=db_to_gain(gains.fader_db[part.track]), items=[
                ItemSpec(f"{MEDIA_DIR}/{part.file}", 0.0, length_s,
                         item_volume=db_to_gain(gains.clip_db[part.track]))])
            for part in parts if part.folder == folder
        ]
        tree.append(TrackSpec(folder, volume=db_to_gain(gains.folder_db[folder]),
                              children=children))
    return tree


def _manifest(seed: int, tempo: float, chorale: str, length_s: float, parts: list[StemPart],
              gains: Gains, reports: list[StemReport], reference: dict) -> dict:
    measured = {r.name: r for r in reports}
    return {
        "generator": "reaper-automix demo",
        "seed": seed,
        "chorale": chorale,
        "tempo_bpm": tempo,
        "sample_rate": SAMPLE_RATE,
        "length_s": round(length_s, 6),
        "soundfont": soundfont_path().name,
        "project": PROJECT_NAME,
        "folders": {name: {"fader_db": gains.folder_db[name]} for name in FOLDERS},
        "tracks": [
            {
                "name": p.track,
                "folder": p.folder,
                "file": f"{MEDIA_DIR}/{p.file}",
                "instrument": p.instrument,
                "gm_program": p.program,
                "fader_db": gains.fader_db[p.track],
                "clip_gain_db": gains.clip_db[p.track],
                "stem_lufs": round(measured[p.file].lufs, 2),
                "stem_peak_dbfs": round(20 * np.log10(measured[p.file].peak), 2),
            }
            for p in parts
        ],
        "reference": {"file": "reference.wav", **reference},
    }

