"""Loudness-matched A/B previews: the whole mix before and after an action (and the reference).

Every preview is scaled by one constant gain so that all of them have the same BS.1770-4
integrated loudness: the quietest one's, lowered further if needed so that none peaks above
:data:`PEAK_CEILING_DBFS` (no preview is ever clipped or limited). What differs between them is
then balance and tone, not level. Files are 24-bit WAV at the project rate, stereo.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.loudness import LoudnessMeter, TooShortError, amplitude_to_db, sample_peak
from ..audio.io import read_audio, resample, write_audio
from ..audio.playable import tracks_to_render, unplayable_reason
from ..audio.render import Renderer
from ..session import Project

PEAK_CEILING_DBFS = -1.0
SUBTYPE = "PCM_24"
#: What each preview is, in the order the report shows them.
LABELS = {"before": "Before", "after": "After", "reference": "Reference"}


@dataclass(frozen=True)
class Preview:
    name: str  # "before", "after", "reference"
    path: Path
    loudness_lufs: float | None  # as rendered, before matching; None: silent or < 400 ms
    gain_db: float  # applied to match
    peak_dbfs: float  # after the gain

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name.capitalize())

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "loudness_lufs": _finite(self.loudness_lufs),
                "gain_db": round(self.gain_db, 3), "peak_dbfs": _finite(self.peak_dbfs)}


@dataclass(frozen=True)
class Previews:
    directory: Path
    target_lufs: float | None  # the common loudness; None when nothing could be measured
    items: tuple[Preview, ...]
    warnings: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "target_lufs": _finite(self.target_lufs),
                "files": [p.to_json() for p in self.items], "warnings": list(self.warnings)}


def write_previews(
    directory: str | Path,
    before: Project,
    after: Project,
    *,
    reference: str | Path | None = None,
    skip_missing: bool = False,
    render: Mapping[str, Any] | None = None,
) -> Previews:
    """Render both projects' master mixes (and read the reference), match their loudness and
    write ``before.wav``, ``after.wav`` (and ``reference.wav``) into ``directory``.

    ``render`` holds the :class:`Renderer` options that hand over REAPER's renders of tracks the
    headless renderer cannot play (``rendered``, ``rendered_start``, ``rendered_post_fader``);
    tracks it still cannot play are named in the warnings."""
    options = dict(render or {})
    with tempfile.TemporaryDirectory(prefix="automix-previews-") as scratch:
        if options.get("rendered") and options.get("rendered_post_fader"):
            options = _pre_fader_renders(before, options, Path(scratch), skip_missing)
        mixes: dict[str, np.ndarray] = {}
        warnings = _unheard(before, after, options)
        for name, project in (("before", before), ("after", after)):
            renderer = Renderer(project, skip_missing=skip_missing, cache_bytes=0, **options)
            mixes[name] = renderer.mix()
            warnings.extend(w for w in renderer.warnings if w not in warnings)
    rate = after.sample_rate
    if reference is not None:
        mixes["reference"] = load_reference(reference, rate)
    return write_matched(directory, mixes, rate, warnings)


def _pre_fader_renders(before: Project, options: Mapping[str, Any], folder: Path,
                       skip_missing: bool) -> dict[str, Any]:
    """REAPER's post-fader renders (REAPER 6) turned into pre-fader files once, with the faders
    they were made at (``before``), so that the after mix applies its new faders to them."""
    renderer = Renderer(before, skip_missing=skip_missing, cache_bytes=0, **options)
    files = {}
    for track in before.tracks:
        if renderer.rendered_track_path(track) is not None:
            audio = renderer.rendered_track(track, renderer.n_samples())
            files[track.guid] = write_audio(folder / f"{len(files)}.wav", audio,
                                            before.sample_rate)
    return {**options, "rendered": files, "rendered_start": 0.0, "rendered_post_fader": False}


def _unheard(before: Project, after: Project, options: Mapping[str, Any]) -> list[str]:
    """What the previews cannot play as REAPER does: tracks only REAPER plays that it did not
    render, and REAPER renders of tracks whose children's faders the action moved."""
    probe = Renderer(after, **options)
    roots = [t for t in after.top_level if t.main_send and not t.mute]
    notes = [f"track {t.display_name!r} ({unplayable_reason(t)}) plays in the previews as the "
             "headless renderer plays it (MIDI silent, other plug-ins skipped); REAPER plays it "
             "differently" for t in tracks_to_render(roots) if probe.rendered_track_path(t) is None]
    faders = {t.guid: t.volume for t in before.tracks}
    notes += [f"track {t.display_name!r} plays in the previews from REAPER's render, made with "
              "its children's faders as they were: the after preview does not hear their new "
              "faders" for t in after.tracks if probe.rendered_track_path(t) is not None
              and any(faders.get(d.guid) != d.volume for d in t.descendants())]
    return notes


def load_reference(path: str | Path, sample_rate: int) -> np.ndarray:
    """A reference file as stereo float32 at ``sample_rate`` (mono is duplicated, more than
    two channels keep the first two)."""
    audio, rate = read_audio(path)
    audio = resample(audio, rate, sample_rate)
    if audio.shape[1] == 1:
        return np.repeat(audio, 2, axis=1)
    return audio[:, :2]


def write_matched(
    directory: str | Path,
    mixes: Mapping[str, np.ndarray],
    sample_rate: int,
    warnings: list[str] | None = None,
) -> Previews:
    """Scale every mix to one common loudness (see the module) and write ``<name>.wav``."""
    directory = Path(directory)
    meter = LoudnessMeter(sample_rate)
    loudness = {name: _loudness(meter, audio) for name, audio in mixes.items()}
    peaks = {name: amplitude_to_db(sample_peak(audio)) for name, audio in mixes.items()}
    notes = list(warnings or [])
    measured = {name: value for name, value in loudness.items() if value is not None}
    for name in mixes:
        if name not in measured:
            notes.append(f"the {name} mix is silent or shorter than 400 ms: written unchanged, "
                         "so it is not loudness-matched")
    target = common_loudness(measured, peaks) if measured else None
    items = []
    for name, audio in mixes.items():
        gain_db = target - loudness[name] if target is not None and name in measured else 0.0
        scaled = audio * np.float32(10.0 ** (gain_db / 20.0))
        path = write_audio(directory / f"{name}.wav", scaled, sample_rate, subtype=SUBTYPE)
        items.append(Preview(name, path, loudness[name], gain_db, peaks[name] + gain_db))
    return Previews(directory, target, tuple(items), tuple(notes))


def common_loudness(loudness: Mapping[str, float], peaks_dbfs: Mapping[str, float]) -> float:
    """The highest loudness every mix can be brought to with its peak at or under the ceiling:
    min over mixes of min(loudness, loudness + ceiling − peak)."""
    return min(value + min(0.0, PEAK_CEILING_DBFS - peaks_dbfs[name])
               for name, value in loudness.items())


def _loudness(meter: LoudnessMeter, audio: np.ndarray) -> float | None:
    try:
        value = meter.integrated(audio)
    except TooShortError:
        return None
    return value if math.isfinite(value) else None


def _finite(value: float | None) -> float | None:
    return round(value, 3) if value is not None and math.isfinite(value) else None
