"""Long-term average spectra, for the pictures of the decision report.

A track's spectrum is the mean power spectrum of its channel average (Hann-windowed 8192-sample
frames at half overlap, accumulated in small chunks so no full-length temporary is made), then
smoothed to a fraction of an octave on log-spaced points. Levels are in dB relative to full
scale power per frame (a 0 dBFS sine reads about 0 dB at its frequency before smoothing).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.fft

FRAME_LENGTH = 8192
LOW_HZ = 20.0
HIGH_HZ = 20_000.0
POINTS = 160
SMOOTHING_OCTAVES = 1.0 / 6.0
FLOOR_DB = -150.0
_CHUNK_FRAMES = 32


@dataclass(frozen=True)
class Spectrum:
    """Levels (dB) at log-spaced frequencies (Hz)."""

    frequencies_hz: np.ndarray
    level_db: np.ndarray


def long_term_spectrum(
    audio: np.ndarray,
    sample_rate: float,
    *,
    points: int = POINTS,
    smoothing_octaves: float = SMOOTHING_OCTAVES,
) -> Spectrum:
    """The smoothed long-term spectrum of ``audio`` ((n,) or (n, channels)) from 20 Hz to
    min(20 kHz, 0.45·fs). Silence reads :data:`FLOOR_DB` everywhere."""
    signal = np.asarray(audio, np.float32)
    mono = signal.mean(axis=1) if signal.ndim == 2 else signal
    power = _mean_power(mono)
    bins = np.arange(power.size) * sample_rate / FRAME_LENGTH
    high = min(HIGH_HZ, 0.45 * sample_rate)
    centres = np.geomspace(LOW_HZ, high, points)
    cumulative = np.concatenate([[0.0], np.cumsum(power)])
    half = 2.0 ** (smoothing_octaves / 2.0)
    first = np.searchsorted(bins, centres / half, side="left")
    last = np.maximum(np.searchsorted(bins, centres * half, side="right"), first + 1)
    last = np.minimum(last, power.size)
    first = np.minimum(first, last - 1)
    mean = (cumulative[last] - cumulative[first]) / (last - first)
    with np.errstate(divide="ignore"):
        level = 10.0 * np.log10(mean)
    return Spectrum(centres, np.maximum(level, FLOOR_DB))


def _mean_power(mono: np.ndarray) -> np.ndarray:
    """Mean |FFT|² per bin over half-overlapping Hann frames, scaled so that a full-scale sine
    gives about 1 in its bin (a zero-padded single frame for short signals)."""
    hop = FRAME_LENGTH // 2
    if mono.size < FRAME_LENGTH:
        mono = np.pad(mono, (0, FRAME_LENGTH - mono.size))
    window = np.hanning(FRAME_LENGTH).astype(np.float32)
    scale = 4.0 / float(window.sum()) ** 2
    frames = np.lib.stride_tricks.sliding_window_view(mono, FRAME_LENGTH)[::hop]
    total = np.zeros(FRAME_LENGTH // 2 + 1)
    for start in range(0, frames.shape[0], _CHUNK_FRAMES):
        spectrum = scipy.fft.rfft(frames[start : start + _CHUNK_FRAMES] * window, axis=1)
        total += (spectrum.real**2 + spectrum.imag**2).sum(axis=0)
    return total * scale / max(frames.shape[0], 1)


class SpectrumRecorder:
    """Collects the long-term spectrum of every audio a wrapped loader returns, by key.

    Jobs wrap their track loaders with :meth:`recording` when a report is asked for, so the
    spectra cost one extra FFT pass over audio that is loaded anyway (thread-safe)."""

    def __init__(self, sample_rate: float) -> None:
        self.sample_rate = sample_rate
        self.spectra: dict[str, Spectrum] = {}
        self._lock = threading.Lock()

    def recording(self, key: str, load: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
        def load_and_record() -> np.ndarray:
            audio = load()
            self.record(key, audio)
            return audio

        return load_and_record

    def record(self, key: str, audio: np.ndarray) -> None:
        spectrum = long_term_spectrum(audio, self.sample_rate)
        with self._lock:
            self.spectra[key] = spectrum

