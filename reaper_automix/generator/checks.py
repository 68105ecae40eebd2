"""The checks every generated session must pass (data.md §5).

* format: 44.1 kHz, 32-bit float, stereo, one common length (sample-aligned by construction);
* content: finite, integrated loudness above −60 LUFS;
* headroom: sample peak below 1.0;
* timing: each stem's first onset where its first note is, and the tempo measured from the kick
  hits on the first and the final bar line (both placed by the score's bar grid) within 0.5 %;
* pitch (PESTO): the median pitch of each note within 0.5 semitone of the written note on ≥ 90 %
  of the notes of monophonic instrument stems and ≥ 70 % on sung stems;
* determinism (optional): a second render in a fresh cache gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .session import GeneratedSession, Stem, generate_session

MIN_LUFS = -60.0
ONSET_THRESHOLD = 1e-4  # −80 dBFS: the first sample above it is a stem's first onset
ONSET_TOLERANCE_S = 0.03
VOCAL_LEAD_S = 0.45  # a sung syllable's consonant starts up to this long before the note
TEMPO_TOLERANCE = 0.005
PITCH_TOLERANCE_ST = 0.5
PITCH_SHARE = {"instrument": 0.9, "vocal": 0.7}
PITCH_MIN_NOTE_S = 0.15
PITCH_ROLES = ("lead", "bass", "lead_vocal", "backing_vocal", "other", "strings", "brass")
VOCAL_ROLES = ("lead_vocal", "backing_vocal")


class SessionCheckError(ValueError):
    """A generated session breaks one of the data.md §5 rules."""


@dataclass(frozen=True)
class StemCheck:
    """What the checks measured on one stem."""

    name: str
    role: str
    lufs: float
    peak: float
    first_onset_s: float
    expected_onset_s: float
    pitch_notes: int  # notes judged by the pitch check (0 = not checked)
    pitch_share: float | None  # share within 0.5 semitone


@dataclass(frozen=True)
class SessionCheck:
    stems: tuple[StemCheck, ...]
    tempo_measured: float | None  # None without a kick
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_session(session: GeneratedSession, *, pitch: bool = True, determinism: bool = False,
                  raise_on_failure: bool = True) -> SessionCheck:
    """Run the data.md §5 checks; raise :class:`SessionCheckError` listing every problem (or
    return the report with ``problems`` filled when ``raise_on_failure`` is False)."""
    problems: list[str] = []
    audio = {stem.name: _read(stem, session, problems) for stem in session.stems}
    reports = [_check_stem(stem, audio[stem.name], session, pitch, problems)
               for stem in session.stems if audio[stem.name] is not None]
    tempo = _measure_tempo(session, audio)
    if tempo is not None and abs(tempo / session.tempo - 1) > TEMPO_TOLERANCE:
        problems.append(f"tempo measured {tempo:.2f} BPM from the kick on the bar grid, "
                        f"the spec says {session.tempo:.2f}")
    if determinism:
        problems += _determinism(session)
    report = SessionCheck(tuple(reports), tempo, tuple(problems))
    if problems and raise_on_failure:
        raise SessionCheckError(f"session {session.directory} failed the data.md §5 checks:\n  "
                                + "\n  ".join(problems))
    return report


def _read(stem: Stem, session: GeneratedSession, problems: list[str]) -> np.ndarray | None:
    info = sf.info(str(stem.path))
    expected = (session.sample_rate, "FLOAT", 2, session.frames)
    found = (info.samplerate, info.subtype, info.channels, info.frames)
    if found != expected:
        problems.append(f"{stem.name}: (rate, subtype, channels, frames) is {found}, must be "
                        f"{expected}")
        return None
    audio = stem.read()
    if not np.isfinite(audio).all():
        problems.append(f"{stem.name}: holds NaN or infinite samples")
        return None
    return audio


def _check_stem(stem: Stem, audio: np.ndarray, session: GeneratedSession, pitch: bool,
                problems: list[str]) -> StemCheck:
    from ..analysis.loudness import LoudnessMeter

    lufs = float(LoudnessMeter(session.sample_rate).integrated(audio))
    peak = float(np.abs(audio).max())
    loud = np.flatnonzero(np.abs(audio).max(axis=1) > ONSET_THRESHOLD)
    onset = loud[0] / session.sample_rate if loud.size else math.inf
    expected = min(n[0] for n in stem.notes) if stem.notes else 0.0
    if not lufs > MIN_LUFS:
        problems.append(f"{stem.name}: silent ({lufs:.1f} LUFS, needs > {MIN_LUFS})")
    if peak >= 1.0:
        problems.append(f"{stem.name}: clipped (sample peak {peak:.3f} >= 1.0)")
    early = VOCAL_LEAD_S if stem.role in VOCAL_ROLES else ONSET_TOLERANCE_S
    if not expected - early <= onset <= expected + ONSET_TOLERANCE_S:
        problems.append(f"{stem.name}: first onset at {onset:.3f} s, its first note is at "
                        f"{expected:.3f} s (alignment is off)")
    notes, share = 0, None
    if pitch and stem.monophonic and stem.role in PITCH_ROLES:
        notes, share = pitch_accuracy(stem, audio, session.sample_rate)
        needed = PITCH_SHARE["vocal" if stem.role in VOCAL_ROLES else "instrument"]
        if notes and share < needed:
            problems.append(f"{stem.name}: only {share:.0%} of {notes} notes within "
                            f"{PITCH_TOLERANCE_ST} semitone (needs {needed:.0%})")
    return StemCheck(stem.name, stem.role, lufs, peak, float(onset), expected, notes, share)


def pitch_accuracy(stem: Stem, audio: np.ndarray, sample_rate: int) -> tuple[int, float]:
    """(notes judged, share whose PESTO median pitch is within 0.5 semitone of the note).

    Each note of at least 0.15 s is judged on the PESTO frames of its middle 60 %."""
    from ..analysis.pitch import track_pitch

    track = track_pitch(audio.mean(axis=1), sample_rate, step_ms=20.0)
    hits = []
    for start, length, midi, _velocity in stem.notes:
        if length < PITCH_MIN_NOTE_S:
            continue
        inside = (track.times_s >= start + 0.2 * length) & (track.times_s <= start + 0.8 * length)
        f0 = track.f0_hz[inside]
        f0 = f0[f0 > 0]
        if f0.size:
            semitones = 12 * math.log2(float(np.median(f0)) / 440.0) + 69
            hits.append(abs(semitones - midi) <= PITCH_TOLERANCE_ST)
    return len(hits), float(np.mean(hits)) if hits else 0.0


def _measure_tempo(session: GeneratedSession, audio: dict[str, np.ndarray | None]) -> float | None:
    """Tempo from the kick's onsets on the first and the final bar line (the score's grid)."""
    kicks = [s for s in session.stems if s.role == "kick" and audio.get(s.name) is not None]
    if not kicks:
        return None
    kick = audio[kicks[0].name]
    first = _onset_near(kick, session.first_bar_s, session.sample_rate)
    last = _onset_near(kick, session.end_s, session.sample_rate)
    if first is None or last is None or last <= first:
        return None
    quarters = (session.end_s - session.first_bar_s) * session.tempo / 60.0
    return 60.0 * quarters / (last - first)


def _onset_near(audio: np.ndarray, time_s: float, sample_rate: int) -> float | None:
    """The first sample above a quarter of the window's peak, 30 ms before to 50 ms after."""
    start = max(0, round((time_s - 0.03) * sample_rate))
    window = np.abs(audio[start:round((time_s + 0.05) * sample_rate)]).max(axis=1)
    if window.size == 0 or window.max() <= ONSET_THRESHOLD:
        return None
    return (start + int(np.argmax(window > 0.25 * window.max()))) / sample_rate


def _determinism(session: GeneratedSession) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="automix-determinism-") as scratch:
        again = generate_session(session.spec, cache_dir=scratch)
        return [f"{stem.name}: a second render of the same spec differs"
                for stem, other in zip(session.stems, again.stems)
                if _digest(stem.path) != _digest(other.path)] + (
            ["a second render has other stems"] if len(again.stems) != len(session.stems) else [])


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
