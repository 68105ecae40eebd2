"""Render a :class:`SessionSpec` into stems with roles, cached on disk, and write projects.

A rendered session is a folder ``<cache>/sessions/<key>/`` holding ``stems/*.wav`` (32-bit
float, 44.1 kHz, stereo, one common length) and ``session.json`` (the spec and every stem's
role, source, notes and loudness). The key hashes the spec, :data:`GENERATOR_VERSION`, the
versions of the packages that shape the audio and the identities of the soundfont, kits and
syllables used, so every worktree and process shares one cache and never reads a stale render.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..analysis.loudness import LoudnessMeter
from ..audio.io import read_audio, write_float_wav
from ..music.score import Note, Piece, load_piece
from ..music.synth import GMSynth
from ..rpp.builder import ItemSpec, TrackSpec, write_project
from ..session import db_to_gain
from . import drumkit, sources
from .arrange import Timeline, humanise, in_short_bars, part_notes, timeline
from .drumkit import PIECES
from .drums import Grid, groove
from .spec import VOCAL, DrumSpec, PartSpec, SessionSpec
from .vocals import SungNote, sing

GENERATOR_VERSION = "3"
SAMPLE_RATE = 44100
RELEASE_S = 1.5  # at least this much release tail after the final bar line
SYNTH_GAIN_DB = -6.0
PEAK_LIMIT = 10 ** (-1.0 / 20.0)  # a stem peaking at 0 dBFS or above is scaled to -1 dBFS
VOCAL_LUFS_RANGE = (-26.0, -18.0)
MANIFEST = "session.json"
FOLDERS = ("Drums", "Bass", "Vocals", "Other")
DRUM_ROLES = {"kick": "kick", "snare": "snare", "clap": "clap", "snaps": "clap",
              "hats_closed": "hats_closed", "hats_open": "hats_open",
              "hats_pedal": "hats_pedal", "toms": "toms", "crash": "cymbals",
              "ride": "cymbals"}
DRUM_STEMS = {"tom_high": "toms", "tom_mid": "toms", "tom_low": "toms",
              "bongo_high": "bongos", "bongo_low": "bongos"}
DRUM_FALLBACKS = {"ride": ("hats_closed",), "hats_pedal": ("hats_closed",),
                  "hats_open": ("hats_closed",), "tom_high": ("tom_mid", "tom_low"),
                  "tom_mid": ("tom_low", "tom_high"), "tom_low": ("tom_mid", "tom_high"),
                  "crash": ("ride",), "snaps": ("clap",), "clap": ("snaps",)}
DRUM_LABELS = {"hats_closed": "Hi-Hat (closed)", "hats_open": "Hi-Hat (open)",
               "hats_pedal": "Hi-Hat (pedal)"}
TEXTURE_LABELS = {"melody": "Lead", "bass": "Bass", "sustain": "Pad", "chords": "Chords",
                  "arpeggio": "Arpeggio", "strum": "Strums", "counter": "Counter",
                  "fx": "FX", "lead_vocal": "Lead Vocal", "backing_vocal": "Backing Vocal"}


@dataclass(frozen=True)
class Stem:
    """One rendered stem and everything known about it."""

    name: str  # track name, unique in the session
    folder: str  # Drums, Bass, Vocals or Other
    role: str  # one of reaper_automix.analysis.roles.ROLES
    path: Path  # float32 stereo WAV at the session's sample rate
    gm_program: int | None  # GM program; None for drums and vocals
    drum_notes: tuple[int, ...]  # GM drum notes of the pieces on this stem
    source: str  # what made it: soundfont preset, kit instruments, syllables; score part
    lufs: float  # integrated loudness of the file (BS.1770)
    peak: float  # sample peak of the file, linear
    gain_applied_db: float  # 0, or the cut applied because the render peaked at 0 dBFS
    monophonic: bool  # one note at a time (pitch-checkable)
    notes: tuple[tuple[float, float, int, int], ...]  # (start s, length s, MIDI/drum note, vel)

    def read(self) -> np.ndarray:
        """The stem's audio as float32 (frames, 2)."""
        return read_audio(self.path)[0]


@dataclass(frozen=True)
class GeneratedSession:
    """A rendered session: its spec, stems and musical facts."""

    spec: SessionSpec
    directory: Path
    stems: tuple[Stem, ...]
    key: str  # key after transposition, e.g. "g minor"; "" when the score has none
    length_s: float
    sample_rate: int
    first_bar_s: float  # the first full bar line (a pickup plays before it)
    end_s: float  # the final bar line: music stops here, release tails follow

    @property
    def tempo(self) -> float:
        return self.spec.tempo

    @property
    def transpose(self) -> int:
        return self.spec.transpose

    @property
    def frames(self) -> int:
        return round(self.length_s * self.sample_rate)

    def stem(self, name: str) -> Stem:
        for stem in self.stems:
            if stem.name == name:
                return stem
        raise KeyError(f"no stem {name!r}; stems: {', '.join(s.name for s in self.stems)}")

    def by_role(self, role: str) -> list[Stem]:
        return [stem for stem in self.stems if stem.role == role]

    def mix(self, gains_db: Mapping[str, float] | None = None,
            roles: Collection[str] | None = None) -> np.ndarray:
        """Sum of the stems (only those whose role is in ``roles``, when given), each at
        ``gains_db[name]`` (default 0 dB); e.g. the backing of the lead vocal is
        ``mix(roles=set(ROLES) - {"lead_vocal"})``."""
        gains = _checked_gains(self, gains_db)
        out = np.zeros((self.frames, 2), dtype=np.float32)
        for stem in self.stems:
            if roles is None or stem.role in roles:
                out += np.float32(db_to_gain(gains.get(stem.name, 0.0))) * stem.read()
        return out

    def write_project(self, path: str | Path, gains_db: Mapping[str, float] | None = None,
                      pans: Mapping[str, float] | None = None) -> Path:
        """A REAPER project with one folder per group (Drums, Bass, Vocals, Other).

        ``gains_db`` and ``pans`` (−1 left … +1 right) are keyed by stem or folder name.
        Stems under the project's folder are referenced relatively, others absolutely."""
        path = Path(path)
        gains, pans = _checked_gains(self, gains_db), _checked_gains(self, pans)
        tree = []
        for folder in FOLDERS:
            children = [TrackSpec(stem.name, volume=db_to_gain(gains.get(stem.name, 0.0)),
                                  pan=float(pans.get(stem.name, 0.0)),
                                  items=[ItemSpec(_media_path(stem.path, path.parent), 0.0,
                                                  self.length_s)])
                        for stem in self.stems if stem.folder == folder]
            if children:
                tree.append(TrackSpec(folder, volume=db_to_gain(gains.get(folder, 0.0)),
                                      pan=float(pans.get(folder, 0.0)), children=children))
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_project(path, tree, sample_rate=self.sample_rate, tempo=self.tempo,
                             seed=self.spec.seed)

    def copy_to(self, directory: str | Path) -> GeneratedSession:
        """Copy the stems and the manifest into ``directory`` (e.g. next to a project)."""
        directory = Path(directory)
        (directory / "stems").mkdir(parents=True, exist_ok=True)
        stems = []
        for stem in self.stems:
            target = directory / "stems" / stem.path.name
            shutil.copyfile(stem.path, target)
            stems.append(replace(stem, path=target))
        copied = replace(self, directory=directory, stems=tuple(stems))
        _write_manifest(copied)
        return copied


@dataclass(frozen=True)
class _Rendered:
    """A stem before it is written: audio plus what the manifest says about it."""

    label: str
    role: str
    audio: np.ndarray
    instrument: str
    gm_program: int | None
    drum_notes: tuple[int, ...]
    source: str
    notes: tuple[tuple[float, float, int, int], ...]
    monophonic: bool


def _checked_gains(session: GeneratedSession,
                   values: Mapping[str, float] | None) -> dict[str, float]:
    values = dict(values or {})
    known = {s.name for s in session.stems} | set(FOLDERS)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown stem or folder names {unknown}; the session has "
                         f"{', '.join(s.name for s in session.stems)} and {', '.join(FOLDERS)}")
    bad = [name for name, value in values.items() if not math.isfinite(value)]
    if bad:
        raise ValueError(f"non-finite values for {bad}")
    return values


def _media_path(media: Path, project_dir: Path) -> str:
    media, project_dir = media.resolve(), project_dir.resolve()
    if media.is_relative_to(project_dir):
        return media.relative_to(project_dir).as_posix()
    return str(media)


def default_cache_dir() -> Path:
    """``$REAPER_AUTOMIX_CACHE/generator``, else ``~/.cache/reaper-automix/generator``."""
    root = os.environ.get("REAPER_AUTOMIX_CACHE")
    if root:
        return Path(root).expanduser() / "generator"
    return Path.home() / ".cache" / "reaper-automix" / "generator"


def cache_key(spec: SessionSpec) -> str:
    """Hash of the spec, the generator version, package versions and source file identities."""
    payload = {"spec": spec.to_dict(), "generator": GENERATOR_VERSION,
               "packages": sources.package_versions(), "files": _source_identities(spec)}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _source_identities(spec: SessionSpec) -> dict[str, str]:
    files = {"soundfont": sources.file_identity(sources.soundfont_path(spec.soundfont))}
    if spec.drums is not None:
        for kit in sorted({k for _p, k, _i in spec.drums.instruments}):
            files[f"kit:{kit}"] = sources.file_identity(drumkit.kit_path(kit))
    if spec.vocal:
        folder = sources.klettres_syllables_dir()
        listing = ",".join(f"{p.name}:{p.stat().st_size}" for p in sorted(folder.glob("*.ogg")))
        files["syllables"] = hashlib.sha256(listing.encode()).hexdigest()[:16]
    return files


def generate_session(spec: SessionSpec, cache_dir: str | Path | None = None) -> GeneratedSession:
    """The rendered session for ``spec``, from the cache when it was rendered before."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = root / "sessions" / cache_key(spec)
    if (folder / MANIFEST).is_file():
        return load_session(folder)
    scratch = folder.with_name(f"{folder.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        session = _render(spec, in_short_bars(_cached_piece(spec.piece, root)), scratch)
        _write_manifest(session)
        try:
            scratch.rename(folder)
        except OSError:  # another process finished the same session first
            if not (folder / MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return load_session(folder)


def _cached_piece(name: str, root: Path) -> Piece:
    """The parsed score, from ``<cache>/pieces/`` after the first parse (music21 needs 0.1 s
    for a chorale but up to minutes for a quartet movement on a loaded machine)."""
    version = sources.package_versions()["music21"]
    path = root / "pieces" / f"{_slug(name)}-music21-{version}.json"
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        return Piece(data["name"], tuple(tuple(Note(*n) for n in part) for part in data["parts"]),
                     tuple(data["part_names"]), data["bar"], data["song_start"], data["end"],
                     tuple(data["phrase_ends"]), data["key"])
    piece = load_piece(name, min_parts=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f"{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    scratch.write_text(json.dumps({**vars(piece), "parts": [[list(vars(n).values()) for n in part]
                                                             for part in piece.parts]}),
                       encoding="utf-8")
    scratch.replace(path)
    return piece


def _render(spec: SessionSpec, piece: Piece, folder: Path) -> GeneratedSession:
    quarter_s = 60.0 / spec.tempo
    bar_s = piece.bar * quarter_s
    first_bar_q = piece.song_start + piece.pickup
    end_q = math.floor((spec.length_s - RELEASE_S) / bar_s) * piece.bar
    if end_q < first_bar_q + piece.bar:
        raise ValueError(f"{spec.length_s} s is too short for {spec.piece} at {spec.tempo} BPM: "
                         f"it needs at least {(first_bar_q + piece.bar) * quarter_s + RELEASE_S:.1f} s")
    line = timeline(piece, end_q, spec.transpose)
    frames = round(spec.length_s * SAMPLE_RATE)
    rendered: list[_Rendered] = []
    synth = GMSynth.shared(sources.soundfont_path(spec.soundfont), gain_db=SYNTH_GAIN_DB)
    for index, part in enumerate(spec.parts):
        rng = _stream(spec.seed, 1, index)
        notes = humanise(part_notes(line, part, spec.tempo, rng),
                         spec.humanise_ms / 1000.0 / quarter_s, rng)
        if notes:
            rendered.append(_rendered_part(part, notes, spec,
                                           _render_part(part, notes, spec, synth, frames, rng)))
    if spec.drums is not None:
        rendered += _render_drums(spec.drums, line, spec, frames)
    folder.mkdir(parents=True)
    stems = _write_stems(rendered, folder)
    return GeneratedSession(spec, folder, tuple(stems), _transposed_key(piece.key, spec.transpose),
                            frames / SAMPLE_RATE, SAMPLE_RATE, first_bar_q * quarter_s,
                            end_q * quarter_s)


def _stream(seed: int, kind: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, kind, index]))


def _render_part(part: PartSpec, notes: list[Note], spec: SessionSpec, synth: GMSynth,
                 frames: int, rng: np.random.Generator) -> np.ndarray:
    if part.program != VOCAL:
        return synth.render(notes, part.program, spec.tempo, frames)
    quarter_s = 60.0 / spec.tempo
    sung = [SungNote(n.start * quarter_s, n.length * quarter_s, n.pitch, n.velocity)
            for n in notes]
    mono = sing(sung, frames, part.texture == "backing_vocal", rng)
    target = rng.uniform(*VOCAL_LUFS_RANGE)
    stereo = np.repeat(mono[:, None], 2, axis=1)
    loudness = LoudnessMeter(SAMPLE_RATE).integrated(stereo)
    return (stereo * np.float32(db_to_gain(target - loudness))).astype(np.float32)


def _rendered_part(part: PartSpec, notes: list[Note], spec: SessionSpec,
                   audio: np.ndarray) -> _Rendered:
    quarter_s = 60.0 / spec.tempo
    sung = part.program == VOCAL
    made_by = ("klettres-data it/syllab syllables, PSOLA (praat-parselmouth)" if sung
               else f"{spec.soundfont} GM {part.program} {part.instrument}")
    return _Rendered(
        TEXTURE_LABELS[part.texture], part.role, audio, part.instrument,
        None if sung else part.program, (),
        f"{made_by}; {part.texture} ({part.rhythm}) from the {part.score_part} part of "
        f"{spec.piece}, transposed {spec.transpose:+d}",
        tuple((round(n.start * quarter_s, 6), round(n.length * quarter_s, 6), n.pitch,
               n.velocity) for n in notes),
        _monophonic(notes))


def _monophonic(notes: list[Note]) -> bool:
    ends = [n.start + n.length for n in notes]
    return all(b.start >= end - 0.1 for b, end in zip(notes[1:], ends))


def _render_drums(drums: DrumSpec, line: Timeline, spec: SessionSpec,
                  frames: int) -> list[_Rendered]:
    """One stem per drum piece (the toms share one, so do the bongos)."""
    available = {piece: (kit, name) for piece, kit, name in drums.instruments}
    hits = _drum_hits(drums, line, spec.tempo, available, _stream(spec.seed, 2, 0))
    chokes = [h.time_s for p in ("hats_closed", "hats_pedal") for h in hits.get(p, [])]
    stems: dict[str, list[str]] = {}
    for piece in hits:
        stems.setdefault(DRUM_STEMS.get(piece, piece), []).append(piece)
    out = []
    for stem in sorted(stems, key=_drum_order):
        audio = np.zeros((frames, 2), np.float32)
        notes, made = [], set()
        for piece in stems[stem]:
            kit, name = available[piece]
            audio += drumkit.render_hits(drumkit.load_kit(kit).instrument(name), hits[piece],
                                         frames, chokes if piece == "hats_open" else ())
            notes += [(round(h.time_s, 6), 0.1, PIECES[piece][0], round(127 * h.velocity))
                      for h in hits[piece]]
            made.add(f"{kit}: {name}")
        out.append(_Rendered(
            DRUM_LABELS.get(stem, stem.replace("_", " ").title()),
            DRUM_ROLES.get(stem, "percussion"), audio, stem, None,
            tuple(sorted({n[2] for n in notes})),
            f"Hydrogen kit {'; '.join(sorted(made))}; {drums.pattern} groove",
            tuple(sorted(notes)), False))
    return out


def _drum_hits(drums: DrumSpec, line: Timeline, tempo: float,
               available: Mapping[str, tuple[str, str]],
               rng: np.random.Generator) -> dict[str, list[drumkit.Hit]]:
    """The groove's hits per playable piece, swung and humanised, in seconds."""
    quarter_s = 60.0 / tempo
    grid = Grid(line.bar_q, line.first_bar_q, line.end_q, _fill_bars(line, drums.fill_every))
    has_toms = any(p.startswith("tom_") for p in available)
    hits: dict[str, list[drumkit.Hit]] = {}
    for hit in groove(grid, drums.pattern, drums.extras, has_toms, rng):
        piece = _playable(hit.piece, available)
        if piece is None:
            continue
        time_q = hit.time_q + (drums.swing if math.isclose(hit.time_q % 1.0, 0.5) else 0.0)
        time_s = max(0.0, time_q * quarter_s + rng.normal(0.0, drums.humanise_ms / 1000.0))
        velocity = float(np.clip(hit.velocity * drums.velocity + rng.normal(0.0, 0.05),
                                 0.05, 1.0))
        hits.setdefault(piece, []).append(drumkit.Hit(time_s, velocity))
    return hits


def _drum_order(stem: str) -> int:
    order = ["kick", "snare", "clap", "snaps", "hats_closed", "hats_open", "hats_pedal", "toms",
             "crash", "ride"]
    return order.index(stem) if stem in order else len(order)


def _playable(piece: str, available: Mapping[str, tuple[str, str]]) -> str | None:
    for candidate in (piece, *DRUM_FALLBACKS.get(piece, ())):
        if candidate in available:
            return candidate
    return None


def _fill_bars(line: Timeline, every: int) -> tuple[float, ...]:
    """Bar lines a fill leads into: after each phrase end, every ``every`` bars, the end."""
    bar, first = line.bar_q, line.first_bar_q
    bars = {math.ceil((p - 1e-6) / bar) * bar for p in line.phrase_ends_q}
    if every:
        bars |= {first + k * every * bar for k in range(1, int((line.end_q - first) / bar) + 1)}
    bars.add(line.end_q)
    return tuple(sorted(b for b in bars if first < b <= line.end_q))


def _write_stems(rendered: Sequence[_Rendered], folder: Path) -> list[Stem]:
    meter = LoudnessMeter(SAMPLE_RATE)
    seen: dict[str, int] = {}
    stems = []
    for index, part in enumerate(rendered, start=1):
        name = part.label if part.gm_program is None else f"{part.label} ({part.instrument})"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} {seen[name]}"
        audio, applied = _limited(part.audio)
        path = write_float_wav(folder / "stems" / f"{index:02d}_{_slug(name)}.wav", audio,
                               SAMPLE_RATE)
        stems.append(Stem(name, _folder(part.role), part.role, path, part.gm_program,
                          part.drum_notes, part.source,
                          round(float(meter.integrated(audio)), 3),
                          round(float(np.abs(audio).max()), 6), applied, part.monophonic,
                          part.notes))
    return stems


def _limited(audio: np.ndarray) -> tuple[np.ndarray, float]:
    """``audio``, scaled to −1 dBFS if it peaks at 0 dBFS or above, and the gain applied (dB)."""
    peak = float(np.abs(audio).max())
    if peak < 1.0:
        return audio, 0.0
    return audio * np.float32(PEAK_LIMIT / peak), round(20 * math.log10(PEAK_LIMIT / peak), 3)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _folder(role: str) -> str:
    if role in DRUM_ROLES.values() or role == "percussion":
        return "Drums"
    return {"bass": "Bass", "lead_vocal": "Vocals", "backing_vocal": "Vocals"}.get(role, "Other")


_KEYS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def _transposed_key(key: str, semitones: int) -> str:
    if not key:
        return ""
    tonic, _, mode = key.partition(" ")
    names = {**{k.lower(): i for i, k in enumerate(_KEYS)},
             "db": 1, "d#": 3, "gb": 6, "g#": 8, "a#": 10, "cb": 11, "e#": 5, "fb": 4, "b#": 0}
    index = names.get(tonic.lower())
    if index is None:
        return key
    return f"{_KEYS[(index + semitones) % 12]} {mode}".strip()


def _write_manifest(session: GeneratedSession) -> None:
    data = {
        "generator": "reaper-automix session generator", "generator_version": GENERATOR_VERSION,
        "spec": session.spec.to_dict(), "key": session.key, "tempo_bpm": session.tempo,
        "transpose": session.transpose, "length_s": session.length_s,
        "sample_rate": session.sample_rate, "first_bar_s": session.first_bar_s,
        "end_s": session.end_s,
        "stems": [{**{k: v for k, v in vars(stem).items() if k != "path"},
                   "file": stem.path.relative_to(session.directory).as_posix()}
                  for stem in session.stems],
    }
    text = json.dumps(data, indent=1, ensure_ascii=False, default=list) + "\n"
    (session.directory / MANIFEST).write_text(text, encoding="utf-8")


def load_session(directory: str | Path) -> GeneratedSession:
    """Read a rendered session back from its folder (cache entry or :meth:`copy_to` target)."""
    directory = Path(directory)
    data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    stems = tuple(
        Stem(s["name"], s["folder"], s["role"], directory / s["file"], s["gm_program"],
             tuple(s["drum_notes"]), s["source"], s["lufs"], s["peak"], s["gain_applied_db"],
             s["monophonic"], tuple(tuple(n) for n in s["notes"]))
        for s in data["stems"])
    return GeneratedSession(SessionSpec.from_dict(data["spec"]), directory, stems, data["key"],
                            data["length_s"], data["sample_rate"], data["first_bar_s"],
                            data["end_s"])
