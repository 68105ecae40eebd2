"""The checks every generated stem must pass (data.md §5), as a validation step that raises."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..analysis.loudness import LoudnessMeter

SAMPLE_RATE = 44100
MIN_LUFS = -60.0
ONSET_THRESHOLD = 1e-4  # -80 dBFS: the first sample above it is the stem's first onset
ONSET_TOLERANCE_S = 0.03


class StemCheckError(ValueError):
    """A generated stem breaks one of the data.md §5 rules."""


@dataclass(frozen=True)
class StemReport:
    """What the checks measured on one stem."""

    name: str
    lufs: float
    peak: float  # sample peak, linear
    first_onset_s: float


def check_stems(stems: Mapping[str, np.ndarray], sample_rate: int,
                expected_onsets_s: Mapping[str, float]) -> list[StemReport]:
    """Format, length, content, headroom and timing checks; raises :class:`StemCheckError`
    naming every failing stem, or returns one report per stem."""
    if sample_rate != SAMPLE_RATE:
        raise StemCheckError(f"stems are at {sample_rate} Hz; the demo must be {SAMPLE_RATE} Hz")
    lengths = {name: audio.shape[0] for name, audio in stems.items()}
    if len(set(lengths.values())) > 1:
        raise StemCheckError(f"stems differ in length (frames): {lengths}")
    meter = LoudnessMeter(sample_rate)
    problems, reports = [], []
    for name, audio in stems.items():
        if audio.dtype != np.float32 or audio.ndim != 2:
            problems.append(f"{name}: must be float32 (frames, channels), is {audio.dtype} "
                            f"{audio.shape}")
            continue
        if not np.isfinite(audio).all():
            problems.append(f"{name}: holds NaN or infinite samples")
            continue
        report = _measure(name, audio, sample_rate, meter)
        problems.extend(_judge(report, expected_onsets_s.get(name)))
        reports.append(report)
    if problems:
        raise StemCheckError("generated stems failed the data.md §5 checks:\n  "
                             + "\n  ".join(problems))
    return reports


def _measure(name: str, audio: np.ndarray, sample_rate: int, meter: LoudnessMeter) -> StemReport:
    loud = np.flatnonzero(np.abs(audio).max(axis=1) > ONSET_THRESHOLD)
    onset = loud[0] / sample_rate if loud.size else math.inf
    return StemReport(name, float(meter.integrated(audio)), float(np.abs(audio).max()),
                      float(onset))


def _judge(report: StemReport, expected_onset_s: float | None) -> list[str]:
    problems = []
    if not report.lufs > MIN_LUFS:
        problems.append(f"{report.name}: silent ({report.lufs:.1f} LUFS, needs > {MIN_LUFS})")
    if report.peak >= 1.0:
        problems.append(f"{report.name}: clipped (sample peak {report.peak:.3f} >= 1.0)")
    if expected_onset_s is not None and abs(report.first_onset_s - expected_onset_s) > \
            ONSET_TOLERANCE_S:
        problems.append(f"{report.name}: first onset at {report.first_onset_s:.3f} s, the score "
                        f"puts it at {expected_onset_s:.3f} s (tempo or alignment is off)")
    return problems
