"""ITU-R BS.1770-4 loudness with EBU Tech 3341 (M, S, I) and Tech 3342 (LRA), plus peaks.

Audio is ``(samples,)`` or ``(samples, channels)`` float. One fused K-weighting pass per pair of
channels (numba, GIL released) yields the channel-weighted energy of every 100 ms segment; every window
(400 ms gating block, momentary, 3 s short-term) is a run of consecutive segments, read from a
cumulative sum. No Python loop over blocks and no per-sample temporaries of the whole signal. The K-weighting is
derived from the analog prototype for any sample rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LRA_RELATIVE_GATE_LU = -20.0
BLOCK_S = 0.4
SHORT_TERM_S = 3.0
STEP_S = 0.1
LRA_STABLE_AFTER_S = 60.0
SURROUND_WEIGHT = 1.41
_LOUDNESS_OFFSET = -0.691

# Analog prototype of the K-weighting (libebur128's parameters, BS.1770-4 to about 1e-14).
_SHELF_F0 = 1681.974450955533
_SHELF_GAIN_DB = 3.999843853973347
_SHELF_Q = 0.7071752369554196
_SHELF_VB_EXPONENT = 0.4996667741545416
_HIGHPASS_F0 = 38.13547087602444
_HIGHPASS_Q = 0.5003270373238773


class LoudnessError(ValueError):
    """Audio that the meter cannot measure."""


class TooShortError(LoudnessError):
    """The signal is shorter than one gating block, so it has no integrated loudness."""


class InvalidAudioError(LoudnessError):
    """The audio array has NaN/inf samples or an unusable shape."""


def k_weighting_sos(sample_rate: float) -> np.ndarray:
    """BS.1770-4 K-weighting (shelf, then RLB high-pass) as a (2, 6) second-order-section array."""
    k = math.tan(math.pi * _SHELF_F0 / sample_rate)
    vh = 10.0 ** (_SHELF_GAIN_DB / 20.0)
    vb = vh**_SHELF_VB_EXPONENT
    a0 = 1.0 + k / _SHELF_Q + k * k
    shelf = [
        (vh + vb * k / _SHELF_Q + k * k) / a0,
        2.0 * (k * k - vh) / a0,
        (vh - vb * k / _SHELF_Q + k * k) / a0,
        1.0,
        2.0 * (k * k - 1.0) / a0,
        (1.0 - k / _SHELF_Q + k * k) / a0,
    ]
    k = math.tan(math.pi * _HIGHPASS_F0 / sample_rate)
    a0 = 1.0 + k / _HIGHPASS_Q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / _HIGHPASS_Q + k * k) / a0]
    return np.array([shelf, highpass])


def default_channel_weights(n_channels: int) -> np.ndarray:
    """BS.1770 weights by channel count: 5.0 is L R C Ls Rs, 5.1/6 ch is L R C LFE Ls Rs.

    Other layouts weigh every channel 1.0; pass explicit weights for anything else.
    """
    if n_channels == 5:
        return np.array([1.0, 1.0, 1.0, SURROUND_WEIGHT, SURROUND_WEIGHT])
    if n_channels == 6:
        return np.array([1.0, 1.0, 1.0, 0.0, SURROUND_WEIGHT, SURROUND_WEIGHT])
    return np.ones(n_channels)


def stem_channel_weights(track_channels: int, stem_channels: int) -> np.ndarray:
    """Weights that measure a track as it sounds on a bus of ``stem_channels`` channels.

    A mono track on a bus of two or more channels is dual mono on L and R (weight 1 + 1 = 2,
    i.e. +3.01 dB); any other narrower track feeds the bus's first channels, as REAPER routes it.
    """
    if track_channels > stem_channels:
        raise InvalidAudioError(f"a {track_channels}-channel track cannot feed a {stem_channels}-channel stem")
    bus = default_channel_weights(stem_channels)
    if track_channels == 1 and stem_channels >= 2:
        return np.array([bus[0] + bus[1]])
    return bus[:track_channels]


NON_FINITE_MESSAGE = "audio contains NaN or infinite samples: check the render or the file"


def as_frames(audio: np.ndarray, *, check_finite: bool = True) -> np.ndarray:
    """Validate audio and return it as (samples, channels) without copying. ``check_finite=False``
    leaves the pass over the samples to a caller whose own pass finds NaN or infinity."""
    array = np.asarray(audio)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] == 0:
        raise InvalidAudioError(f"audio must be shaped (samples,) or (samples, channels), got {array.shape}")
    if array.shape[1] > 64 and array.shape[0] <= 64:
        raise InvalidAudioError(
            f"audio shaped {array.shape} looks like (channels, samples): transpose it to (samples, channels)"
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise InvalidAudioError(f"audio must be float (nominal range ±1), got dtype {array.dtype}")
    if check_finite and not np.isfinite(np.sum(array)) and not np.isfinite(array).all():  # sum: fast path
        raise InvalidAudioError(NON_FINITE_MESSAGE)
    return array


def power_to_lufs(mean_square: np.ndarray | float) -> np.ndarray | float:
    """Channel-weighted mean square → loudness (−inf for zero power)."""
    with np.errstate(divide="ignore"):
        return _LOUDNESS_OFFSET + 10.0 * np.log10(mean_square)


def amplitude_to_db(amplitude: float) -> float:
    """Linear amplitude → dB (−inf for 0)."""
    return 20.0 * math.log10(amplitude) if amplitude > 0 else -math.inf


@dataclass(frozen=True)
class EnergyProfile:
    """K-weighted, channel-weighted energy of every complete 100 ms step segment of a signal.

    Segment j spans samples [boundaries[j], boundaries[j + 1]) with boundaries[j] = round(j·0.1·fs);
    every window (400 ms block, 3 s short-term) is a run of consecutive segments.
    """

    segment_energy: np.ndarray  # float64, one value per complete segment
    boundaries: np.ndarray  # int64, segment count + 1
    sample_rate: float
    n_samples: int

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sample_rate

    def window_power(self, window_s: float) -> np.ndarray:
        """Mean weighted power of every complete window; window j starts at j·0.1 s."""
        steps = int(round(window_s / STEP_S))
        if steps < 1 or abs(steps * STEP_S - window_s) > 1e-9:
            raise ValueError(f"windows must be a whole number of {STEP_S} s steps, got {window_s} s")
        if self.segment_energy.size < steps:
            return np.zeros(0)
        cumulative = np.concatenate([[0.0], np.cumsum(self.segment_energy)])
        energy = cumulative[steps:] - cumulative[:-steps]
        lengths = self.boundaries[steps:] - self.boundaries[:-steps]
        return np.maximum(energy, 0.0) / lengths


def energy_profiles(
    audio: np.ndarray,
    sample_rate: float,
    channel_weights: Sequence[float] | None = None,
    band: np.ndarray | None = None,
) -> tuple[EnergyProfile, EnergyProfile | None]:
    """The K-weighted energy profile and, with ``band`` (one second-order section, shape (6,) or
    (1, 6)), the profile of the K-weighted signal further filtered by it, from one pass.

    The filters are linear and time-invariant, so filtering after the K-weighting equals
    filtering before it.
    """
    frames = as_frames(audio, check_finite=False)  # non-finite samples give non-finite energies
    weights = _weights_for(frames.shape[1], channel_weights)
    section = _IDENTITY_SECTION if band is None else np.asarray(band, dtype=float)
    if section.size != 6:
        raise ValueError(f"the band filter must be one second-order section (6 values), got {section.shape}")
    step = STEP_S * sample_rate
    segments = int(math.floor(frames.shape[0] / step + 1e-9))
    boundaries = np.round(np.arange(segments + 1) * step).astype(np.int64)
    energies = np.zeros((2, segments))
    channels = [c for c in range(frames.shape[1]) if weights[c] != 0.0]
    if segments:
        for first in range(0, len(channels), 2):  # channels in pairs: two filter chains at once
            pair = channels[first : first + 2]
            pair_weights = np.array([weights[c] for c in pair] + [0.0] * (2 - len(pair)))
            _pair_energies(frames, pair[0], pair[-1], pair_weights, k_weighting_sos(sample_rate),
                           section.reshape(6), boundaries, energies)
    if not np.isfinite(energies).all():
        raise InvalidAudioError(NON_FINITE_MESSAGE)
    profiles = [EnergyProfile(energy, boundaries, float(sample_rate), frames.shape[0]) for energy in energies]
    return profiles[0], (profiles[1] if band is not None else None)


def energy_profile(
    audio: np.ndarray,
    sample_rate: float,
    channel_weights: Sequence[float] | None = None,
    prefilter: np.ndarray | None = None,
) -> EnergyProfile:
    """K-weight every channel (then filter by an optional second-order section) and sum its
    power per step."""
    full, banded = energy_profiles(audio, sample_rate, channel_weights, prefilter)
    return full if banded is None else banded


_IDENTITY_SECTION = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])


@numba.njit(nogil=True, cache=True)
def _pair_energies(frames, left, right, weights, k, band, boundaries, out):  # noqa: ANN001 (numba)
    """Add the weighted per-segment energy of channels ``left`` and ``right`` (the same channel
    with weight 0 for an odd one out) to out[0] (K-weighted) and out[1] (K-weighted, then
    ``band``): transposed direct form II, every coefficient and state in a local.

    One pass, no temporaries and no GIL; the two channels' independent recursions interleave,
    which the CPU runs side by side (3.5x faster than one channel at a time through arrays).
    """
    b0, b1, b2, a1, a2 = k[0, 0], k[0, 1], k[0, 2], k[0, 4], k[0, 5]  # shelf
    c0, c1, c2, d1, d2 = k[1, 0], k[1, 1], k[1, 2], k[1, 4], k[1, 5]  # RLB high-pass
    e0, e1, e2, f1, f2 = band[0], band[1], band[2], band[4], band[5]
    ls0 = ls1 = lh0 = lh1 = lb0 = lb1 = 0.0  # left: shelf, high-pass and band states
    rs0 = rs1 = rh0 = rh1 = rb0 = rb1 = 0.0
    for segment in range(boundaries.size - 1):
        left_full = left_band = right_full = right_band = 0.0
        for n in range(boundaries[segment], boundaries[segment + 1]):
            x = np.float64(frames[n, left])
            u = np.float64(frames[n, right])
            y = b0 * x + ls0
            v = b0 * u + rs0
            ls0 = b1 * x - a1 * y + ls1
            rs0 = b1 * u - a1 * v + rs1
            ls1 = b2 * x - a2 * y
            rs1 = b2 * u - a2 * v
            x = c0 * y + lh0
            u = c0 * v + rh0
            lh0 = c1 * y - d1 * x + lh1
            rh0 = c1 * v - d1 * u + rh1
            lh1 = c2 * y - d2 * x
            rh1 = c2 * v - d2 * u
            left_full += x * x
            right_full += u * u
            y = e0 * x + lb0
            v = e0 * u + rb0
            lb0 = e1 * x - f1 * y + lb1
            rb0 = e1 * u - f1 * v + rb1
            lb1 = e2 * x - f2 * y
            rb1 = e2 * u - f2 * v
            left_band += y * y
            right_band += v * v
        out[0, segment] += weights[0] * left_full + weights[1] * right_full
        out[1, segment] += weights[0] * left_band + weights[1] * right_band


def _weights_for(n_channels: int, channel_weights: Sequence[float] | None) -> np.ndarray:
    if channel_weights is None:
        return default_channel_weights(n_channels)
    weights = np.asarray(channel_weights, dtype=float)
    if weights.shape != (n_channels,):
        raise InvalidAudioError(f"{weights.size} channel weights given for {n_channels} channels")
    return weights


def gated_loudness(profile: EnergyProfile) -> float:
    """BS.1770-4 integrated loudness: 400 ms blocks, −70 LUFS absolute and −10 LU relative gates."""
    power = profile.window_power(BLOCK_S)
    if power.size == 0:
        raise TooShortError(
            f"{profile.duration_s:.3f} s is shorter than one {BLOCK_S * 1000:.0f} ms gating block: "
            "integrated loudness is undefined"
        )
    loudness = power_to_lufs(power)
    above_absolute = loudness > ABSOLUTE_GATE_LUFS
    if not above_absolute.any():
        return -math.inf
    relative_gate = power_to_lufs(power[above_absolute].mean()) + RELATIVE_GATE_LU
    kept = above_absolute & (loudness > relative_gate)
    return float(power_to_lufs(power[kept].mean()))


def loudness_range_of(short_term_lufs: np.ndarray) -> float:
    """EBU Tech 3342 LRA from a short-term series (0.0 when fewer than two values survive)."""
    values = short_term_lufs[short_term_lufs >= ABSOLUTE_GATE_LUFS]
    if values.size < 2:
        return 0.0
    mean_power = np.mean(10.0 ** (values / 10.0))
    values = values[values >= 10.0 * np.log10(mean_power) + LRA_RELATIVE_GATE_LU]
    if values.size < 2:
        return 0.0
    low, high = np.percentile(values, [10.0, 95.0])
    return float(high - low)


def sample_peak(audio: np.ndarray) -> float:
    """Largest absolute sample value over all channels (linear)."""
    frames = as_frames(audio, check_finite=False)
    peak = float(max(frames.max(), -frames.min())) if frames.size else 0.0
    if not math.isfinite(peak):
        raise InvalidAudioError(NON_FINITE_MESSAGE)
    return peak


_TRUE_PEAK_TAPS_PER_PHASE = 32
_TRUE_PEAK_CHUNK = 1 << 17


def _oversampling_factor(sample_rate: float) -> int:
    """BS.1770-4 Annex 2: 4× below 96 kHz, 2× up to 192 kHz, none above."""
    if sample_rate < 96_000:
        return 4
    return 2 if sample_rate < 192_000 else 1


def true_peak(audio: np.ndarray, sample_rate: float) -> float:
    """BS.1770-4 Annex 2 true peak (linear, not clamped): oversampled interpolation, max |x|.

    The interpolator is a Kaiser-windowed sinc (32 taps per phase), computed in chunks.
    """
    frames = as_frames(audio)
    factor = _oversampling_factor(sample_rate)
    if factor == 1 or frames.shape[0] == 0:
        return sample_peak(frames)
    from scipy.signal import firwin, upfirdn  # here: importing scipy.signal costs ~1 s of start-up

    taps = firwin(factor * _TRUE_PEAK_TAPS_PER_PHASE + 1, 1.0 / factor, window=("kaiser", 9.0)) * factor
    delay = (taps.size - 1) // 2
    context = taps.size // factor + 1
    peak = 0.0
    for start in range(0, frames.shape[0], _TRUE_PEAK_CHUNK):
        stop = min(start + _TRUE_PEAK_CHUNK, frames.shape[0])
        first = max(start - context, 0)
        segment = frames[first : min(stop + context, frames.shape[0])].astype(np.float64)
        upsampled = upfirdn(taps, segment, up=factor, axis=0)
        offset = (start - first) * factor + delay
        window = upsampled[offset : offset + (stop - start) * factor]
        peak = max(peak, float(np.max(np.abs(window))))
    return peak


@dataclass(frozen=True)
class LoudnessReport:
    """Everything an EBU Mode meter shows for one programme."""

    duration_s: float
    integrated_lufs: float | None  # None when shorter than one block; −inf when silent
    loudness_range_lu: float
    momentary_max_lufs: float | None
    short_term_max_lufs: float | None
    sample_peak_dbfs: float
    true_peak_dbtp: float
    notes: tuple[str, ...]


class LoudnessMeter:
    """BS.1770-4 / EBU Mode meter for one sample rate (and optionally fixed channel weights).

    Mono input is one channel of weight 1. A mono track heard as dual mono on a stereo bus reads
    3.01 dB louder: measure it with ``channel_weights=[2.0]``.
    """

    def __init__(self, sample_rate: float, channel_weights: Sequence[float] | None = None) -> None:
        if not sample_rate > 0:
            raise ValueError(f"sample rate must be positive, got {sample_rate}")
        self.sample_rate = float(sample_rate)
        self.channel_weights = None if channel_weights is None else tuple(float(w) for w in channel_weights)

    def profile(self, audio: np.ndarray, prefilter: np.ndarray | None = None) -> EnergyProfile:
        """The energy profile behind every reading (compute once, read many)."""
        return energy_profile(audio, self.sample_rate, self.channel_weights, prefilter)

    def integrated(self, audio: np.ndarray, prefilter: np.ndarray | None = None) -> float:
        """Gated integrated loudness in LUFS (−inf for silence; TooShortError under 400 ms)."""
        return gated_loudness(self.profile(audio, prefilter))

    def momentary(self, audio: np.ndarray) -> np.ndarray:
        """Momentary loudness (400 ms window) every 100 ms; value j covers [0.1·j, 0.1·j + 0.4) s."""
        return power_to_lufs(self.profile(audio).window_power(BLOCK_S))

    def short_term(self, audio: np.ndarray) -> np.ndarray:
        """Short-term loudness (3 s window) every 100 ms; value j covers [0.1·j, 0.1·j + 3) s."""
        return power_to_lufs(self.profile(audio).window_power(SHORT_TERM_S))

    def loudness_range(self, audio: np.ndarray) -> float:
        """EBU Tech 3342 loudness range in LU."""
        return loudness_range_of(self.short_term(audio))

    def measure(self, audio: np.ndarray) -> LoudnessReport:
        """I, LRA, max M, max S, sample and true peak, with notes on undefined values."""
        profile = self.profile(audio)
        notes: list[str] = []
        try:
            integrated: float | None = gated_loudness(profile)
        except TooShortError as exc:
            integrated = None
            notes.append(str(exc))
        if integrated == -math.inf:
            notes.append("silent: no block above the -70 LUFS absolute gate")
        momentary = power_to_lufs(profile.window_power(BLOCK_S))
        short_term = power_to_lufs(profile.window_power(SHORT_TERM_S))
        if profile.duration_s < LRA_STABLE_AFTER_S:
            notes.append(f"shorter than {LRA_STABLE_AFTER_S:.0f} s: loudness range is not stable")
        return LoudnessReport(
            duration_s=profile.duration_s,
            integrated_lufs=integrated,
            loudness_range_lu=loudness_range_of(short_term),
            momentary_max_lufs=float(momentary.max()) if momentary.size else None,
            short_term_max_lufs=float(short_term.max()) if short_term.size else None,
            sample_peak_dbfs=amplitude_to_db(sample_peak(audio)),
            true_peak_dbtp=amplitude_to_db(true_peak(audio, self.sample_rate)),
            notes=tuple(notes),
        )
