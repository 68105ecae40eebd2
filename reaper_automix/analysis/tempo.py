"""Tempo of a backing track from its onset-strength envelope (for the tempo-based vocal reverb,
algorithms.md C.3). Used only when the project gives no tempo.

Onset strength is the half-wave rectified log-magnitude spectral flux (2048-sample frames, hop
512 at 44.1 kHz, scaled with the rate), smoothed over ±3 frames; its autocorrelation is weighted by a log-normal prior
centred on 120 BPM (one octave wide, as librosa's default) and the best lag between 40 and
240 BPM is refined by parabolic interpolation.
"""

from __future__ import annotations

import numpy as np

MIN_BPM, MAX_BPM = 40.0, 240.0
PRIOR_BPM, PRIOR_OCTAVES = 120.0, 1.0
_SMOOTHING = np.exp(-0.5 * np.arange(-3, 4) ** 2 / 1.5**2)


def onset_strength(audio: np.ndarray, sample_rate: float) -> tuple[np.ndarray, float]:
    """Spectral-flux onset envelope and its frame rate in Hz."""
    x = np.asarray(audio, dtype=np.float64)
    x = x if x.ndim == 1 else x.mean(axis=1)
    hop = max(1, int(round(512 * sample_rate / 44100.0)))
    size = 4 * hop
    if x.size < size + hop:
        raise ValueError(f"{x.size / sample_rate:.2f} s is too short to estimate a tempo")
    count = 1 + (x.size - size) // hop
    frames = np.lib.stride_tricks.as_strided(
        x, shape=(count, size), strides=(x.strides[0] * hop, x.strides[0]), writeable=False)
    magnitude = np.abs(np.fft.rfft(frames * np.hanning(size), axis=1))
    log_mag = np.log1p(1000.0 * magnitude)
    flux = np.maximum(np.diff(log_mag, axis=0), 0.0).sum(axis=1)
    smoothed = np.convolve(flux, _SMOOTHING, mode="same")  # a beat between two frames keeps
    return smoothed - smoothed.mean(), sample_rate / hop   # its full autocorrelation peak


def estimate_tempo(audio: np.ndarray, sample_rate: float) -> float:
    """The backing's tempo in BPM (40–240)."""
    envelope, frame_rate = onset_strength(audio, sample_rate)
    n = envelope.size
    spectrum = np.fft.rfft(envelope, 2 * n)
    autocorr = np.fft.irfft(np.abs(spectrum) ** 2)[:n]
    lags = np.arange(n, dtype=float)
    with np.errstate(divide="ignore"):
        bpm = 60.0 * frame_rate / lags
    valid = (bpm >= MIN_BPM) & (bpm <= MAX_BPM)
    if not valid.any() or autocorr[0] <= 0:
        raise ValueError("no periodic onsets found: cannot estimate a tempo")
    weight = np.exp(-0.5 * (np.log2(np.where(valid, bpm, PRIOR_BPM) / PRIOR_BPM)
                            / PRIOR_OCTAVES) ** 2)
    score = np.where(valid, autocorr * weight, -np.inf)
    best = int(np.argmax(score))
    if 0 < best < n - 1 and np.isfinite(score[best - 1]) and np.isfinite(score[best + 1]):
        left, mid, right = autocorr[best - 1], autocorr[best], autocorr[best + 1]
        curvature = left - 2.0 * mid + right
        shift = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
        return 60.0 * frame_rate / (best + max(-0.5, min(0.5, shift)))
    return float(60.0 * frame_rate / best)

