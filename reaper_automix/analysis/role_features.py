"""Audio features that tell a track's role (kick, hats, bass, pad, vocal...) when its name does not.

They are chosen to be nearly free on top of the CFB centroid analysis, which already computes a
magnitude spectrum of every active 2048-sample frame: :class:`SpectralStats` is handed each chunk
of those spectra and keeps running sums; :func:`role_features` turns them and the frame energies
into one fixed-length vector (:data:`FEATURE_NAMES`), the classifier's input.

* spectral shape: centroid, bandwidth, roll-off, flatness and peakiness (tonal vs noisy), the
  share of energy in five bands (sub, low, mid, presence, air), their spread over time;
* time: spectral flux and onset rate (percussive vs sustained), the spread of frame levels,
  crest factor, how much of the track is active, how long sounds last after an onset;
* pitch and polyphony without a pitch tracker: the lowest strong spectral peak (register) and
  the number of strong peaks per frame (single line vs chords).

The features are level-independent (a track scaled by x dB gives the same vector), as the role
must not depend on a fader.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .cfb import FRAME_LENGTH, HOP_LENGTH, MonoFrames, active_frames, frame_rms_db, mono_frames, spectral_centroid_bandwidth

#: Band edges (Hz) of the energy shares.
BAND_EDGES_HZ = (0.0, 120.0, 500.0, 2000.0, 6000.0, math.inf)
_BAND_NAMES = ("sub", "low", "mid", "presence", "air")
_LOG_BANDS = 24  # log-spaced bands for flatness, flux and roll-off, 40 Hz … 0.45·fs
_PEAK_DB = 20.0  # a spectral peak counts as strong within this of the frame's loudest bin
_ONSET_RISE_DB = 6.0

FEATURE_NAMES: tuple[str, ...] = (
    "centroid_log", "centroid_log_std", "bandwidth_log", "rolloff_log", "flatness", "flatness_std",
    "peakiness", *(f"share_{b}" for b in _BAND_NAMES), *(f"share_{b}_std" for b in _BAND_NAMES),
    "flux", "flux_std", "onset_rate", "level_spread", "level_std", "crest", "active_share",
    "sustain", "lowest_peak_log", "lowest_peak_std", "peaks",
)


class SpectralStats:
    """Running per-frame spectral statistics over chunks of magnitude spectra (one row per
    frame), for :func:`spectral_centroid_bandwidth`'s ``stats`` hook."""

    def __init__(self, sample_rate: float) -> None:
        freqs = np.arange(FRAME_LENGTH // 2 + 1) * sample_rate / FRAME_LENGTH
        self.freqs = freqs
        # bands as runs of bins (summed by _run_power_sums); log bands from 40 Hz to 0.45·fs,
        # at least one bin each
        top = int(0.45 * FRAME_LENGTH)
        starts = np.unique(np.round(np.geomspace(40.0 * FRAME_LENGTH / sample_rate, top, _LOG_BANDS + 1)).astype(int))
        self.log_starts, self.log_end = starts[:-1], starts[-1]
        self.log_centres = np.sqrt(freqs[starts[:-1]] * freqs[starts[1:] - 1] + 1.0)
        self.band_starts = np.searchsorted(freqs, BAND_EDGES_HZ[:-1])
        self.rows: dict[str, list[np.ndarray]] = {k: [] for k in (
            "centroid", "bandwidth", "flatness", "peakiness", "rolloff", "shares", "flux", "lowest", "peaks")}
        self._last: np.ndarray | None = None
        self.sample_rate = sample_rate
        self.features: np.ndarray | None = None  # set by finish()

    def finish(self, mono: MonoFrames, active: np.ndarray) -> None:
        """Compute :attr:`features` once every active frame was added."""
        self.features = features_from(self, mono, active, self.sample_rate)

    def add(self, magnitude: np.ndarray, centroid: np.ndarray, bandwidth: np.ndarray) -> None:
        """``magnitude``: (frames, bins) of consecutive active frames; centroid and bandwidth
        (Hz) per frame."""
        frames = magnitude.shape[0]
        if self._last is None:  # the first frame's flux is 0
            self._last = np.full(self.log_starts.size, np.nan)
        shares = np.empty((frames, self.band_starts.size))
        per_frame = np.empty((frames, 6))
        _frame_features(np.ascontiguousarray(magnitude, dtype=np.float32), self.freqs, self.log_starts,
                        self.log_end, self.log_centres, self.band_starts,
                        np.float32(10.0 ** (-_PEAK_DB / 20.0)), self._last, shares, per_frame)
        flatness, peakiness, rolloff, flux, lowest, peaks = per_frame.T
        for key, value in (("centroid", centroid), ("bandwidth", bandwidth), ("flatness", flatness),
                           ("peakiness", peakiness), ("rolloff", rolloff), ("shares", shares),
                           ("flux", flux), ("lowest", lowest), ("peaks", peaks)):
            self.rows[key].append(value)

    def frames(self, key: str) -> np.ndarray:
        rows = self.rows[key]
        return np.concatenate(rows) if rows else np.zeros(0)


@numba.njit(nogil=True, cache=True)
def _frame_features(magnitude, freqs, log_starts, log_end, log_centres, band_starts,  # noqa: ANN001
                    peak_ratio, last, shares, out):
    """Every frame's features, one frame (row) at a time so that it stays in the L1 cache, in one
    call per chunk (per-call overhead was most of the cost): ``out`` gets flatness, peakiness,
    roll-off (Hz), flux (dB), the lowest strong peak (Hz, NaN if none) and the strong peaks'
    count; ``shares`` the share bands' power fractions. ``last`` holds the previous frame's log
    band energies (NaN before the first frame) and is updated."""
    bands = log_starts.size
    log_bands = np.empty(bands)
    log_energy = np.empty(bands)
    for f in range(magnitude.shape[0]):
        row = magnitude[f]
        total, peakiness, lowest, peaks = _bin_sums(row, log_starts, log_end, band_starts, peak_ratio,
                                                    log_bands, shares[f])
        total += 1e-30
        shares[f] /= total
        log_sum = 0.0
        band_sum = 0.0
        for j in range(bands):
            log_bands[j] += 1e-9 * total  # a floor relative to the frame
            log_energy[j] = np.log(log_bands[j])
            log_sum += log_energy[j]
            band_sum += log_bands[j]
        flatness = np.exp(log_sum / bands) / (band_sum / bands)
        rolloff_at = 0.85 * band_sum
        cumulative = 0.0
        rolloff = log_centres[bands - 1]
        for j in range(bands):
            cumulative += log_bands[j]
            if cumulative >= rolloff_at:
                rolloff = log_centres[j]
                break
        rise = 0.0
        for j in range(bands):
            previous = log_energy[j] if np.isnan(last[j]) else last[j]
            rise += max(log_energy[j] - previous, 0.0)
            last[j] = log_energy[j]
        out[f, 0] = flatness
        out[f, 1] = peakiness
        out[f, 2] = rolloff
        out[f, 3] = rise / bands * (10.0 / np.log(10.0))
        out[f, 4] = freqs[lowest] if lowest >= 0 else np.nan
        out[f, 5] = peaks


@numba.njit(nogil=True, cache=True, fastmath=True)
def _bin_sums(row, log_starts, log_end, band_starts, peak_ratio, log_bands, shares):  # noqa: ANN001
    """One frame's power |X|² (float64) summed over the frame, the log bands and the share bands
    (runs of bins, as np.add.reduceat sums them), its peakiness (loudest / mean magnitude), and
    its strong peaks (local maxima from bin 2 on within ``peak_ratio`` of the loudest bin):
    (power, peakiness, lowest strong peak's bin or −1, strong peaks)."""
    bins = row.size
    total = 0.0
    magnitude_sum = 0.0
    loudest = row[0]
    for b in range(bins):
        value = np.float64(row[b])
        total += value * value
        magnitude_sum += value
        loudest = max(loudest, row[b])
    _run_power_sums(row, log_starts, log_end, log_bands)
    _run_power_sums(row, band_starts, bins, shares)
    threshold = loudest * peak_ratio
    count = 0
    for b in range(2, bins - 1):  # branch-free, so it vectorises (one loop with both: 1.6x slower)
        count += (row[b] > row[b - 1]) & (row[b] >= row[b + 1]) & (row[b] >= threshold)
    lowest = -1
    for b in range(2, bins - 1 if count else 2):  # the first peak, usually a few bins in
        if row[b] > row[b - 1] and row[b] >= row[b + 1] and row[b] >= threshold:
            lowest = b
            break
    return total, loudest / (magnitude_sum / bins + 1e-20), lowest, count


@numba.njit(nogil=True, cache=True, fastmath=True)
def _run_power_sums(row, starts, end, out):  # noqa: ANN001 (numba)
    """np.add.reduceat(row[:end] ** 2, starts) in float64: run j sums bins starts[j] up to the
    next start (or ``end``); a run whose start is not below the next one's is its one bin."""
    for j in range(starts.size):
        lo = starts[j]
        hi = starts[j + 1] if j + 1 < starts.size else end
        if hi <= lo:
            out[j] = np.float64(row[lo]) * np.float64(row[lo])
            continue
        acc = 0.0
        for b in range(lo, hi):
            value = np.float64(row[b])
            acc += value * value
        out[j] = acc


def role_features(audio: np.ndarray, sample_rate: float) -> np.ndarray | None:
    """The feature vector of one track (any layout); None when it has no active frame."""
    mono = mono_frames(audio)
    active = active_frames(mono)
    if not active.any():
        return None
    stats = SpectralStats(sample_rate)
    spectral_centroid_bandwidth(mono, sample_rate, active, stats=stats)
    stats.finish(mono, active)
    return stats.features


def features_from(stats: SpectralStats, mono: MonoFrames, active: np.ndarray,
                  sample_rate: float) -> np.ndarray:
    """Assemble :data:`FEATURE_NAMES` from the spectral statistics and the frame levels."""
    centroid = np.log2(np.maximum(stats.frames("centroid"), 20.0))
    flatness, shares = stats.frames("flatness"), stats.frames("shares").reshape(-1, len(_BAND_NAMES))
    flux, lowest = stats.frames("flux"), stats.frames("lowest")
    rms = frame_rms_db(mono)
    level = rms[active]
    frame_s = HOP_LENGTH / sample_rate
    rises = np.zeros(rms.size, dtype=bool)
    with np.errstate(invalid="ignore"):  # silent frames are -inf dB
        rises[2:] = (rms[2:] - np.maximum(rms[:-2], rms[1:-1] - 1.0) > _ONSET_RISE_DB) & active[2:]
    onset_rate = rises.sum() / max(active.sum() * frame_s, frame_s)
    sustain = _sustain_s(rms, rises, frame_s)
    peak_db = 20.0 * math.log10(max(float(np.max(np.abs(mono.signal))), 1e-20))
    mean_db = 10.0 * math.log10(float(np.mean(10.0 ** (level / 10.0))))
    known = np.isfinite(lowest)
    low = np.log2(np.maximum(lowest[known], 20.0)) if known.any() else np.array([np.log2(20.0)])
    values = [
        centroid.mean(), centroid.std(), np.log2(np.maximum(stats.frames("bandwidth"), 20.0)).mean(),
        np.log2(np.maximum(stats.frames("rolloff"), 20.0)).mean(), flatness.mean(), flatness.std(),
        np.log10(stats.frames("peakiness") + 1.0).mean(),
        *shares.mean(axis=0), *shares.std(axis=0),
        flux.mean(), flux.std(), onset_rate, float(np.percentile(level, 95) - np.percentile(level, 10)),
        level.std(), peak_db - mean_db, active.mean(), sustain,
        float(np.median(low)), low.std(), stats.frames("peaks").mean(),
    ]
    return np.asarray(values, dtype=np.float64)


def _sustain_s(rms: np.ndarray, onsets: np.ndarray, frame_s: float) -> float:
    """Median time after an onset until the level falls 12 dB under it (capped at 2 s)."""
    starts = np.nonzero(onsets)[0]
    if starts.size == 0:
        return 2.0
    cap = int(2.0 / frame_s)
    lengths = []
    for start in starts[:400]:
        window = rms[start : start + cap]
        below = np.nonzero(window < window[0] - 12.0)[0]
        lengths.append(below[0] if below.size else window.size)
    return float(np.median(lengths) * frame_s)
