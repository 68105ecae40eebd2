"""Characteristic Frequency Band (CFB) loudness (algorithms.md A.2).

A track's band is either [c − w/2, c + w/2] from its spectral centroid c and bandwidth w
(method ``centroid``) or [2·f0, 4·f0] from its PESTO pitch (method ``f0``). The track is
pre-filtered by a first-order high-pass at lo and a first-order low-pass at hi (the JUCE filters
behind pedalboard's HighpassFilter/LowpassFilter) and its BS.1770-4 integrated loudness is
measured. Method ``lufs`` is the plain integrated loudness.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numba
import numpy as np
import scipy.fft

from .loudness import LoudnessMeter, as_frames, energy_profiles, gated_loudness
from .pitch import DEFAULT_MODEL, track_pitch

if TYPE_CHECKING:
    from .role_features import SpectralStats

Method = Literal["centroid", "f0", "lufs"]
METHODS: tuple[str, ...] = ("centroid", "f0", "lufs")

FRAME_LENGTH = 2048  # librosa defaults, in samples at any rate
HOP_LENGTH = 512
ACTIVE_FRAME_FLOOR_DB = 60.0  # below the track's sample peak
ACTIVE_FRAME_RANGE_DB = 50.0
MAX_BAND_FRACTION = 0.45  # hi ≤ 0.45·fs
AUTHORS_MAX_HZ = 22_000.0
MIN_LO_HZ = 1.0
COLLAPSE_RATIO = 1.05
F0_FALLBACK_BAND_HZ = (50.0, 10_000.0)
#: librosa's window: periodic Hann (scipy's get_window("hann", 2048, fftbins=True)).
_HANN = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(FRAME_LENGTH) / FRAME_LENGTH)).astype(np.float32)
#: PESTO's CQT pads 4096 samples on each side by reflection, which needs a longer input.
_PESTO_MIN_SAMPLES = 8192
_STFT_CHUNK_FRAMES = 64  # small temporaries: large ones cost page faults in every call


@dataclass(frozen=True)
class CfbOptions:
    """Knobs of the CFB analysis; the defaults are the product rules of A.2.

    ``f0_max_frames`` caps the PESTO frames per track: the step doubles from ``f0_step_ms``
    until the active audio yields at most that many frames (None = every ``f0_step_ms``).
    """

    centroid_frames: Literal["active", "all"] = "active"
    f0_model: str = DEFAULT_MODEL
    f0_step_ms: float = 10.0
    f0_confidence: float = 0.5
    f0_min_frames: int = 10
    f0_max_frames: int | None = 512


@dataclass(frozen=True)
class CfbResult:
    """What was measured for one track, and why when it is not the requested band."""

    method: str
    loudness_lufs: float  # l_i: the loudness of the band (or the full band on fallback)
    band_hz: tuple[float, float] | None  # the pre-filter band; None = full band
    full_band_lufs: float = math.nan  # plain integrated loudness, for activity and reports
    centroid_hz: float | None = None
    bandwidth_hz: float | None = None
    f0_hz: float | None = None
    pitch_frames: int | None = None  # confident frames the f0 is the mean of
    pitch_step_ms: float | None = None
    fallback: str | None = None


def first_order_band_sos(lo_hz: float, hi_hz: float, sample_rate: float) -> np.ndarray:
    """First-order high-pass at lo times first-order low-pass at hi, as one (1, 6) SOS section.

    Both are JUCE's bilinear first-order filters (−3 dB at the cutoff, 6 dB/octave), the ones
    behind pedalboard's HighpassFilter and LowpassFilter.
    """
    n_lo = math.tan(math.pi * lo_hz / sample_rate)
    n_hi = math.tan(math.pi * hi_hz / sample_rate)
    highpass_b = np.array([1.0, -1.0]) / (1.0 + n_lo)
    highpass_a = np.array([1.0, (n_lo - 1.0) / (n_lo + 1.0)])
    lowpass_b = np.array([n_hi, n_hi]) / (1.0 + n_hi)
    lowpass_a = np.array([1.0, (n_hi - 1.0) / (n_hi + 1.0)])
    return np.concatenate([np.convolve(highpass_b, lowpass_b), np.convolve(highpass_a, lowpass_a)])[None, :]


@dataclass(frozen=True)
class MonoFrames:
    """The channel average (the analysis signal of both band methods), zero-padded for centred
    frames as librosa's ``center=True`` does: frame t covers padded[t·hop : t·hop + 2048]."""

    padded: np.ndarray  # float32
    n_samples: int

    @property
    def signal(self) -> np.ndarray:
        start = FRAME_LENGTH // 2
        return self.padded[start : start + self.n_samples]

    @property
    def n_frames(self) -> int:
        return 1 + self.n_samples // HOP_LENGTH


def mono_frames(audio: np.ndarray) -> MonoFrames:
    """Average the channels straight into the padded frame buffer (no full-size temporaries).
    NaN or infinity are not checked here: the loudness pass that follows finds them."""
    frames = as_frames(audio, check_finite=False)
    n_frames = 1 + frames.shape[0] // HOP_LENGTH
    mono = MonoFrames(np.zeros((n_frames + 3) * HOP_LENGTH, dtype=np.float32), frames.shape[0])
    signal = mono.signal
    if frames.shape[1] == 1:
        signal[:] = frames[:, 0]
    else:
        np.add(frames[:, 0], frames[:, 1], out=signal)
    for channel in range(2, frames.shape[1]):
        signal += frames[:, channel]
    if frames.shape[1] > 1:
        signal *= np.float32(1.0 / frames.shape[1])
    return mono


def frame_rms_db(mono: MonoFrames) -> np.ndarray:
    """RMS in dBFS of every centred 2048-sample frame at a 512-sample hop."""
    hops = mono.padded.reshape(-1, HOP_LENGTH)
    hop_energy = np.einsum("ij,ij->i", hops, hops, dtype=np.float64)
    energy = sum(hop_energy[k : k + mono.n_frames] for k in range(FRAME_LENGTH // HOP_LENGTH))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(energy / FRAME_LENGTH)


def active_frames(mono: MonoFrames) -> np.ndarray:
    """A.2 activity gate: frame RMS within 50 dB of the loudest frame and above a floor 60 dB
    under the track's sample peak. A.2 puts the floor at −60 dBFS; measuring it from the peak
    (the same for a track peaking at 0 dBFS) makes the band independent of the input gain, which
    Auto balance group needs: the result must not depend on clip gains."""
    rms = frame_rms_db(mono)
    if rms.size == 0 or not np.isfinite(rms.max()):
        return np.zeros(rms.size, dtype=bool)
    peak_db = 20.0 * np.log10(np.max(np.abs(mono.signal)))
    return (rms > peak_db - ACTIVE_FRAME_FLOOR_DB) & (rms >= rms.max() - ACTIVE_FRAME_RANGE_DB)


def spectral_centroid_bandwidth(
    mono: MonoFrames, sample_rate: float, frames: np.ndarray | None = None, *,
    stats: SpectralStats | None = None,
) -> tuple[float, float, int]:
    """Mean librosa-default centroid and bandwidth (p = 2) over the selected frames.

    ``frames`` is a boolean mask over the centred frames (None = all). Frames without energy
    count as 0 Hz, as in librosa. Returns (centroid_hz, bandwidth_hz, frames_used). ``stats``
    (role_features.SpectralStats) also gets every selected frame's spectrum, for role features.
    """
    selected = np.ones(mono.n_frames, dtype=bool) if frames is None else frames
    used = int(selected.sum())
    if used == 0:
        return 0.0, 0.0, 0
    freqs = np.arange(FRAME_LENGTH // 2 + 1) * sample_rate / FRAME_LENGTH
    framed = np.lib.stride_tricks.sliding_window_view(mono.padded, FRAME_LENGTH)[::HOP_LENGTH]
    magnitude = np.empty((_STFT_CHUNK_FRAMES, freqs.size), dtype=np.float32)
    centroid, bandwidth = np.empty(_STFT_CHUNK_FRAMES), np.empty(_STFT_CHUNK_FRAMES)
    centroid_sum = bandwidth_sum = 0.0
    for start in range(0, mono.n_frames, _STFT_CHUNK_FRAMES):  # slices: fancy indexing is 15x slower
        keep = selected[start : start + _STFT_CHUNK_FRAMES]
        kept = int(keep.sum())
        if kept == 0:
            continue
        spectrum = scipy.fft.rfft(framed[start : start + keep.size] * _HANN, axis=1)
        _magnitude_moments(spectrum, keep, freqs, magnitude, centroid, bandwidth)
        centroid_sum += centroid[:kept].sum()
        bandwidth_sum += bandwidth[:kept].sum()
        if stats is not None:
            stats.add(magnitude[:kept], centroid[:kept].copy(), bandwidth[:kept].copy())
    return float(centroid_sum / used), float(bandwidth_sum / used), used


@numba.njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})
def _magnitude_moments(spectrum, keep, freqs, magnitude, centroid, bandwidth):  # noqa: ANN001 (numba)
    """For each kept frame (row i of the outputs = the i-th kept one): its magnitude spectrum
    |X| (float32, as np.abs), and its centroid Σ|X|f / Σ|X| and bandwidth (Σ|X|(f − centroid)² /
    Σ|X|)^½ with float64 sums; 0 Hz for a frame without energy, as in librosa. One pass over
    the spectrum, no temporaries (the NumPy version's small calls cost half the FFT's time)."""
    row = 0
    for f in range(spectrum.shape[0]):
        if not keep[f]:
            continue
        total = first = second = 0.0
        for b in range(spectrum.shape[1]):
            value = spectrum[f, b]
            level = np.sqrt(value.real * value.real + value.imag * value.imag)
            magnitude[row, b] = level
            weight = np.float64(level)
            total += weight
            first += weight * freqs[b]
            second += weight * freqs[b] * freqs[b]
        if total > 0.0:
            middle = first / total
            centroid[row] = middle
            bandwidth[row] = np.sqrt(max(second / total - middle * middle, 0.0))
        else:
            centroid[row] = bandwidth[row] = 0.0
        row += 1


def active_audio(mono: MonoFrames, frames: np.ndarray) -> np.ndarray:
    """The samples of the active frames' hop cells, concatenated (cell t = t·hop ± hop/2)."""
    per_sample = np.repeat(np.append(frames, frames[-1:]), HOP_LENGTH)
    start = HOP_LENGTH // 2
    return mono.signal[per_sample[start : start + mono.n_samples]]


def pitch_step_ms(active_seconds: float, options: CfbOptions) -> float:
    """Smallest step f0_step_ms·2^k giving at most ``f0_max_frames`` frames."""
    step = options.f0_step_ms
    if options.f0_max_frames is None:
        return step
    while active_seconds * 1000.0 / step > options.f0_max_frames:
        step *= 2.0
    return step


def mean_f0(
    mono: MonoFrames, sample_rate: float, frames: np.ndarray, options: CfbOptions
) -> tuple[float | None, int, float]:
    """Mean PESTO f0 over confident frames of the active audio: (f0 or None, kept frames, step)."""
    excerpt = active_audio(mono, frames)
    step = pitch_step_ms(excerpt.size / sample_rate, options)
    too_short = excerpt.size < max(_PESTO_MIN_SAMPLES, options.f0_min_frames * step / 1000.0 * sample_rate)
    if too_short:  # cannot give f0_min_frames frames (and PESTO would fail on it)
        return None, 0, step
    pitch = track_pitch(excerpt, int(sample_rate), step, options.f0_model,
                        min_confidence=options.f0_confidence)
    confident = pitch.confidence >= options.f0_confidence
    kept = int(confident.sum())
    if kept < options.f0_min_frames:
        return None, kept, step
    return float(pitch.f0_hz[confident].mean()), kept, step


def clamp_band(lo_hz: float, hi_hz: float, sample_rate: float) -> tuple[float, float] | None:
    """Apply A.2's limits (1 Hz ≤ lo, hi ≤ min(22 kHz, 0.45·fs)); None if the band collapses."""
    lo = max(lo_hz, MIN_LO_HZ)
    hi = min(hi_hz, AUTHORS_MAX_HZ, MAX_BAND_FRACTION * sample_rate)
    return None if hi <= lo * COLLAPSE_RATIO else (float(lo), float(hi))


def cfb_loudness(
    audio: np.ndarray,
    sample_rate: float,
    method: Method = "centroid",
    *,
    channel_weights: Sequence[float] | None = None,
    options: CfbOptions = CfbOptions(),
    full_band_lufs: float | None = None,
    stats: SpectralStats | None = None,
) -> CfbResult:
    """CFB loudness of one track in its stem layout (``channel_weights``, see LoudnessMeter).

    ``full_band_lufs`` may pass an already measured full-band loudness (used for fallbacks).
    ``stats`` (centroid method): a role_features.SpectralStats that collects the role features
    on the way (``stats.features`` afterwards). Raises TooShortError under 400 ms and
    InvalidAudioError for NaN/inf.
    """
    if method not in METHODS:
        raise ValueError(f"unknown CFB method {method!r}: choose one of {', '.join(METHODS)}")
    frames = as_frames(audio)
    if method == "lufs":
        meter = LoudnessMeter(sample_rate, channel_weights)
        full = meter.integrated(frames) if full_band_lufs is None else full_band_lufs
        return CfbResult("lufs", full, None, full)
    mono = mono_frames(frames)
    result = _centroid_result(mono, sample_rate, options, stats) if method == "centroid" else (
        _f0_result(mono, sample_rate, options)
    )
    if full_band_lufs is not None and result.band_hz is None:
        return replace(result, full_band_lufs=full_band_lufs, loudness_lufs=full_band_lufs)
    band = None if result.band_hz is None else first_order_band_sos(*result.band_hz, sample_rate)
    full_profile, band_profile = energy_profiles(frames, sample_rate, channel_weights, band)  # one pass
    full = gated_loudness(full_profile) if full_band_lufs is None else full_band_lufs
    result = replace(result, full_band_lufs=full, loudness_lufs=full)
    if band_profile is None:
        return result
    loudness = gated_loudness(band_profile)
    if not math.isfinite(loudness):
        return replace(result, band_hz=None, fallback="band loudness below the -70 LUFS gate")
    return replace(result, loudness_lufs=loudness)


def _centroid_result(mono: MonoFrames, sample_rate: float, options: CfbOptions,
                     stats: SpectralStats | None = None) -> CfbResult:
    active = active_frames(mono) if options.centroid_frames == "active" or stats is not None else None
    frames = active if options.centroid_frames == "active" else None
    centroid, bandwidth, used = spectral_centroid_bandwidth(mono, sample_rate, frames, stats=stats)
    if stats is not None and active.any():
        stats.finish(mono, active)
    base = CfbResult("centroid", math.nan, None, centroid_hz=centroid, bandwidth_hz=bandwidth)
    if used == 0:
        return replace(base, fallback="no active frame: full-band loudness")
    band = clamp_band(centroid - bandwidth / 2.0, centroid + bandwidth / 2.0, sample_rate)
    if band is None:
        return replace(base, fallback="band collapsed (hi <= 1.05 lo): full-band loudness")
    return replace(base, band_hz=band)


def _f0_result(mono: MonoFrames, sample_rate: float, options: CfbOptions) -> CfbResult:
    f0, kept, step = mean_f0(mono, sample_rate, active_frames(mono), options)
    base = CfbResult("f0", math.nan, None, f0_hz=f0, pitch_frames=kept, pitch_step_ms=step)
    if f0 is None:
        band = clamp_band(*F0_FALLBACK_BAND_HZ, sample_rate)
        reason = f"{kept} confident pitched frames (< {options.f0_min_frames}): fallback band 50-10000 Hz"
        return replace(base, band_hz=band, fallback=reason)
    band = clamp_band(2.0 * f0, 4.0 * f0, sample_rate)
    if band is None:
        return replace(base, fallback="band collapsed (hi <= 1.05 lo): full-band loudness")
    return replace(base, band_hz=band)
