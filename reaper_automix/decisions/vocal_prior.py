"""The ``prior`` vocal method: real engineers' vocal chains (the 455 DiffVox presets, Yu et al.
2025) mapped onto MultiEQ → OmniCompressor → FdnReverb, as a Gaussian prior, fitted to the song.

Mapping (docs/vocal.md has the full table):

* EQ: DiffVox's high-pass, low shelf, two peaks, high shelf and low-pass are RBJ biquads; MultiEQ
  has the same six types with the same formulas: band 1 HP 12 dB/oct (Q), band 2 low shelf,
  bands 3–4 peaks, band 5 high shelf (shelves at DiffVox's fixed Q 0.707 → 0.70), band 6 LP
  12 dB/oct (Q). Qs are clamped to MultiEQ's 0.05–8.
* Compressor: threshold relative to a −18 LUFS vocal (DiffVox normalised every dry vocal to
  −18 LUFS) becomes absolute through the measured loudness of the vocal's first channel (the one
  OmniCompressor keys on); ratio (≤ 15.8, 16 means ∞), attack (≤ 100 ms), release (≤ 500 ms),
  make-up. Not mapped: DiffVox's expander (its median ratio 0.99 is a no-op), its RMS/peak
  averaging (median coefficient 0.66 per sample: close to OmniCompressor's peak detector) and
  its sub-millisecond look-ahead (OmniCompressor's is a fixed 5 ms: left off).
* Reverb: not raw values (the networks differ) but what they sound like: FdnReverb's mean decay
  time over 0.4–4 kHz equals DiffVox's (flat in-loop shelves, so T60 = revTime), and its
  reverb-to-direct energy ratio for a centred source equals DiffVox's ``fdn_reverb_to_direct_db``
  through the dry/wet mix (the plug-in's wet signal holds the direct sound: an insert at dry/wet
  w plays the dry vocal plus w times the tail). Room size 15 (Li & Lerch's fitted mean; DiffVox's
  six fixed delay lines carry no per-preset information), no fade-in (DiffVox's FDN has none),
  64 lines.
* Not mapped: the ping-pong delay (no delay among the three plug-ins) and the panner.

The prior is a Gaussian over 21 features of the *mapped* IEM settings (log frequencies and Qs,
gains, threshold re −18 LUFS, log ratio/attack/release, make-up, log T60, reverb-to-direct dB),
fitted to all 455 presets: its penalty is evaluated in the space the optimiser moves in, after
the plug-ins' clamps. DiffVox's own Gaussian lives in the 130-dimensional raw space of its chain,
where the reverb quantities we match are functions of many parameters at once (decay filters,
mixing matrices, EQ), so an IEM setting has no point there to evaluate. The fitted prior ships as
``vocal_prior.json`` (MIT, with ``vocal_prior.LICENSE``); :func:`derive_prior` rebuilds it.

Per song the method starts at the prior mean and moves, stage by stage in chain order, to the
maximum a posteriori setting: masking against the backing (EQ), the vocal's loudness range
(compressor threshold), and the level (within what mixes do), each trading against
½·Mahalanobis² under the prior; the parameters a stage does not fit take their conditional mean.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from ..analysis.bands import (
    band_power_spectrum,
    bandpass_power_response,
    gate_by_vocal,
    usable_centres,
)
from ..analysis.loudness import LoudnessMeter, k_weighting_sos
from ..iem import FDNREVERB, MULTIEQ, OMNICOMPRESSOR
from .vocal_chain import (
    NEUTRAL_COMPRESSOR,
    Stage,
    VocalChain,
    apply_compressor,
    concurrently,
    is_dual_mono,
    reverb_path,
    sos_response,
)

PRIOR_FILE = Path(__file__).with_name("vocal_prior.json")
DIFFVOX_LUFS = -18.0
REVERB_ROOM, REVERB_LINES = 15.0, 2.0
PRIOR_SAMPLE_RATE = 44100

#: Structured features (the optimiser's space) and how each maps to a value.
FEATURES: tuple[str, ...] = (
    "hp_log_hz", "hp_log_q", "ls_log_hz", "ls_gain_db", "pk1_log_hz", "pk1_gain_db",
    "pk1_log_q", "pk2_log_hz", "pk2_gain_db", "pk2_log_q", "hs_log_hz", "hs_gain_db",
    "lp_log_hz", "lp_log_q", "threshold_re18_db", "log_ratio", "log_attack_ms",
    "log_release_ms", "makeup_db", "log_t60_s", "reverb_to_direct_db",
)
EQ_FEATURES = FEATURES[:14]
COMP_FEATURES = FEATURES[14:19]
REVERB_FEATURES = FEATURES[19:]
#: Method-independent descriptors for comparing any chain with the presets (evaluation).
DESCRIPTOR_CENTRES_HZ = (63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0)
DESCRIPTORS: tuple[str, ...] = (
    *(f"eq_{fc:g}hz_db" for fc in DESCRIPTOR_CENTRES_HZ), "threshold_re18_db", "log_ratio",
    "log_attack_ms", "log_release_ms", "log_t60_s", "reverb_to_direct_db",
)
ATTACK_FLOOR_MS, RELEASE_FLOOR_MS = 0.1, 1.0

# Level: vocal minus backing in MUSDB18 test mixes (BS.1770; diffvox-presets README).
LEVEL_MEDIAN_LU, LEVEL_SD_LU = -3.6, 1.3
LEVEL_P10_LU, LEVEL_P90_LU = -5.0, -2.1
LEVEL_SOURCE = ("MUSDB18 median vocal minus backing (-3.6 LU, sd 1.3; p10-p90 -5.0 to -2.1), "
                "moved for masking")
# Masking: the vocal should sit at least MARGIN_DB over the backing in its essential bands.
MARGIN_DB, SOFTNESS_DB, MASKING_SD_DB = 0.0, 2.0, 3.0
VOCAL_ESSENTIAL, BACKING_ESSENTIAL = 6, 2
# Loudness range: the paper's mean vocal LRA (one-sided: only a wider range is penalised).
LRA_TARGET_LU, LRA_SD_LU = 16.36, 1.0


# =============================================================================== mapping
def map_preset(preset: Mapping[str, float], sample_rate: int = PRIOR_SAMPLE_RATE,
               unit_ratio_db: float | None = None) -> dict[str, Any]:
    """One decoded DiffVox preset as IEM settings: MultiEQ params, OmniCompressor params with
    the threshold still relative to −18 LUFS (key ``threshold_re18_db``), FdnReverb params,
    and the reverb's achieved T60 and reverb-to-direct ratio."""
    eq = eq_params(
        hp=(preset["highpass_freq_hz"], preset["highpass_Q"]),
        ls=(preset["lowshelf_freq_hz"], preset["lowshelf_gain_db"]),
        pk1=(preset["peq1_freq_hz"], preset["peq1_gain_db"], preset["peq1_Q"]),
        pk2=(preset["peq2_freq_hz"], preset["peq2_gain_db"], preset["peq2_Q"]),
        hs=(preset["highshelf_freq_hz"], preset["highshelf_gain_db"]),
        lp=(preset["lowpass_freq_hz"], preset["lowpass_Q"]),
    )
    comp = comp_params(preset["comp_ratio"], preset["comp_attack_ms"],
                       preset["comp_release_ms"], preset["makeup_db"])
    threshold = float(np.clip(preset["comp_threshold_db_re_-18LUFS_input"], -60.0, 20.0))
    reverb, r2d = reverb_params(preset["fdn_T60_s_mean_0.4-4kHz"],
                                preset["fdn_reverb_to_direct_db"], sample_rate, unit_ratio_db)
    return {"multieq": eq, "omnicompressor": comp, "threshold_re18_db": threshold,
            "fdnreverb": reverb, "t60_s": reverb["revTime"], "reverb_to_direct_db": r2d}


def eq_params(hp, ls, pk1, pk2, hs, lp) -> dict[str, float]:
    """MultiEQ settings for DiffVox's six filters, snapped to the plug-in's grid."""
    q = MULTIEQ.param("filterQ0")
    values = {
        "filterType0": 1.0, "filterFrequency0": hp[0], "filterQ0": q.snap(hp[1]),
        "filterType1": 0.0, "filterFrequency1": ls[0], "filterQ1": 0.7, "filterGain1": ls[1],
        "filterType2": 1.0, "filterFrequency2": pk1[0], "filterGain2": pk1[1],
        "filterQ2": q.snap(pk1[2]),
        "filterType3": 1.0, "filterFrequency3": pk2[0], "filterGain3": pk2[1],
        "filterQ3": q.snap(pk2[2]),
        "filterType4": 2.0, "filterFrequency4": hs[0], "filterQ4": 0.7, "filterGain4": hs[1],
        "filterType5": 1.0, "filterFrequency5": lp[0], "filterQ5": q.snap(lp[1]),
        "filterGain0": 0.0, "filterGain5": 0.0,
        **{f"filterEnabled{b}": 1.0 for b in range(6)},
    }
    return MULTIEQ.complete(values)


def comp_params(ratio: float, attack_ms: float, release_ms: float,
                makeup_db: float) -> dict[str, float]:
    """OmniCompressor settings (threshold set later); ratio kept finite (≤ 15.8)."""
    return OMNICOMPRESSOR.complete({
        **NEUTRAL_COMPRESSOR, "ratio": min(ratio, 15.8), "attack": attack_ms,
        "release": release_ms, "outGain": makeup_db,
    })


def reverb_params(t60_s: float, reverb_to_direct_db: float, sample_rate: int,
                  unit_ratio_db: float | None = None) -> tuple[dict[str, float], float]:
    """FdnReverb settings with this decay time and reverb-to-direct ratio (insert, flat
    shelves); returns them and the ratio actually reached on the plug-in's grid."""
    rev_time = FDNREVERB.param("revTime")
    base = {"delayLength": REVERB_ROOM, "fdnSize": REVERB_LINES, "revTime": rev_time.snap(t60_s),
            "lowCutoff": 100.0, "lowQ": 0.5, "lowGain": 0.0, "highCutoff": 2000.0,
            "highQ": 0.5, "highGain": 0.0, "fadeInTime": 0.0, "dryWet": 1.0}
    if base["revTime"] == rev_time.snap(rev_time.default):
        base["revTime"] = rev_time.snap(5.1)  # a fresh instance would play 5.0 at 3 s
    unit = unit_reverb_to_direct_db(base["revTime"], sample_rate) if unit_ratio_db is None \
        else unit_ratio_db
    dry_wet = FDNREVERB.param("dryWet")
    wet = dry_wet.snap(min(1.0, 10.0 ** ((reverb_to_direct_db - unit) / 20.0)))
    wet = max(wet, dry_wet.step)  # the smallest audible step; 0 would be −∞ dB
    values = FDNREVERB.complete({**base, "dryWet": wet})
    return values, 20.0 * math.log10(values["dryWet"]) + unit


@lru_cache(maxsize=256)
def unit_reverb_to_direct_db(rev_time: float, sample_rate: int) -> float:
    """Reverb-to-direct ratio of our insert reverb at dry/wet 1 (room 15, flat shelves)."""
    values = {"delayLength": REVERB_ROOM, "fdnSize": REVERB_LINES, "revTime": rev_time,
              "lowGain": 0.0, "highGain": 0.0, "fadeInTime": 0.0, "dryWet": 1.0}
    return reverb_path(VocalChain({}, {}, values), sample_rate).reverb_to_direct_db()


# ============================================================================== features
def feature_vector(eq: Mapping[str, float], comp: Mapping[str, float], threshold_re18_db: float,
                   t60_s: float, reverb_to_direct_db: float) -> np.ndarray:
    """The 21 structured features of a chain in the prior's layout (bands as :func:`eq_params`
    sets them)."""
    log = math.log
    return np.array([
        log(eq["filterFrequency0"]), log(eq["filterQ0"]), log(eq["filterFrequency1"]),
        eq["filterGain1"], log(eq["filterFrequency2"]), eq["filterGain2"], log(eq["filterQ2"]),
        log(eq["filterFrequency3"]), eq["filterGain3"], log(eq["filterQ3"]),
        log(eq["filterFrequency4"]), eq["filterGain4"], log(eq["filterFrequency5"]),
        log(eq["filterQ5"]), threshold_re18_db, log(comp["ratio"]),
        log(max(comp["attack"], ATTACK_FLOOR_MS)), log(max(comp["release"], RELEASE_FLOOR_MS)),
        comp["outGain"], log(t60_s), reverb_to_direct_db,
    ])


def eq_from_features(values: np.ndarray) -> dict[str, float]:
    """MultiEQ settings from the 14 EQ features."""
    e = np.exp
    return eq_params(hp=(e(values[0]), e(values[1])), ls=(e(values[2]), values[3]),
                     pk1=(e(values[4]), values[5], e(values[6])),
                     pk2=(e(values[7]), values[8], e(values[9])),
                     hs=(e(values[10]), values[11]), lp=(e(values[12]), e(values[13])))


def descriptor_vector(eq: Mapping[str, float], comp: Mapping[str, float],
                      threshold_re18_db: float, t60_s: float, reverb_to_direct_db: float,
                      sample_rate: int = PRIOR_SAMPLE_RATE) -> np.ndarray:
    """Layout-free descriptors of any chain: the EQ's gain at the octave centres, then the
    compressor and reverb features."""
    from .vocal_chain import eq_response_db

    freqs = np.array([min(fc, 0.45 * sample_rate) for fc in DESCRIPTOR_CENTRES_HZ])
    response = eq_response_db(eq, freqs, sample_rate)
    log = math.log
    return np.array([
        *response, threshold_re18_db, log(comp["ratio"]),
        log(max(comp["attack"], ATTACK_FLOOR_MS)), log(max(comp["release"], RELEASE_FLOOR_MS)),
        log(t60_s), reverb_to_direct_db,
    ])


@dataclass(frozen=True)
class Gaussian:
    """A multivariate normal over named dimensions."""

    names: tuple[str, ...]
    mean: np.ndarray
    cov: np.ndarray

    @cached_property
    def precision(self) -> np.ndarray:
        return _inverse(self.cov)

    @cached_property
    def log_normaliser(self) -> float:
        return 0.5 * (np.linalg.slogdet(self.cov)[1] + self.mean.size * math.log(2 * math.pi))

    def mahalanobis2(self, x: np.ndarray) -> float:
        d = np.asarray(x) - self.mean
        return float(d @ self.precision @ d)

    def log_likelihood(self, x: np.ndarray) -> float:
        return float(-0.5 * self.mahalanobis2(x) - self.log_normaliser)

    def conditional_mean(self, x: np.ndarray, free: list[int]) -> np.ndarray:
        """x with the ``free`` dimensions replaced by their mean given the others."""
        fixed = [i for i in range(self.mean.size) if i not in free]
        out = np.array(x, dtype=float)
        gain = self.cov[np.ix_(free, fixed)] @ _inverse(self.cov[np.ix_(fixed, fixed)])
        out[free] = self.mean[free] + gain @ (out[fixed] - self.mean[fixed])
        return out


def _inverse(matrix: np.ndarray) -> np.ndarray:
    return np.linalg.inv(matrix)


@dataclass(frozen=True)
class VocalPrior:
    """The shipped prior: structured Gaussian, descriptor Gaussian, per-dimension percentiles."""

    features: Gaussian
    descriptors: Gaussian
    percentiles: dict[str, dict[str, list[float]]]  # space → name → [p10, p50, p90]
    count: int

    def index(self, name: str) -> int:
        return self.features.names.index(name)


@lru_cache(maxsize=1)
def load_prior(path: str | Path = PRIOR_FILE) -> VocalPrior:
    data = json.loads(Path(path).read_text(encoding="utf-8"))

    def gaussian(entry: dict) -> Gaussian:
        return Gaussian(tuple(entry["names"]), np.array(entry["mean"]), np.array(entry["cov"]))

    return VocalPrior(gaussian(data["features"]), gaussian(data["descriptors"]),
                      data["percentiles"], int(data["count"]))


# ================================================================================ method
class MaskingModel:
    """How much the backing masks the vocal in the vocal's essential octave bands.

    Built once from the vocal-gated blocks (as the rules' analysis): power spectra on a
    1/12-octave grid, so that the band levels of the vocal through any EQ response, and at any
    level against the backing, cost a few microseconds. The margin m_k is the vocal's band
    level minus the backing's when the vocal sits at ``level_lu`` below the backing.
    """

    def __init__(self, vocal: np.ndarray, backing: np.ndarray, sample_rate: int,
                 vocal_lufs: float, backing_lufs: float) -> None:
        self.sample_rate = sample_rate
        self.gate = gate_by_vocal(vocal, backing, sample_rate)
        self.centres = usable_centres(sample_rate)
        top = 0.49 * sample_rate
        self.edges = np.geomspace(16.0, top, int(12 * math.log2(top / 16.0)) + 1)
        self.freqs = np.sqrt(self.edges[:-1] * self.edges[1:])
        self.bandpass = np.array([bandpass_power_response(fc, sample_rate, self.freqs)
                                  for fc in self.centres])
        self.k_weight = _power_response(k_weighting_sos(sample_rate), self.freqs, sample_rate)
        self.backing_lufs = backing_lufs
        self._bin_cache: dict[int, np.ndarray] = {}
        self.active = self.gate.kept_blocks > 0
        if not self.active:
            return
        self._bins(self.gate.backing.size)  # once, before the two threads use it
        backing_power, vocal_power = concurrently(lambda: self._binned(self.gate.backing),
                                                  lambda: self._binned(self.gate.vocal))
        self.backing_bands = self._bands(backing_power)
        self._use_vocal(vocal_power, vocal_lufs)
        order = np.argsort(-self.vocal_bands, kind="stable")
        self.essential = sorted(order[:VOCAL_ESSENTIAL].tolist())
        backing_top = np.argsort(-self.backing_bands, kind="stable")[:BACKING_ESSENTIAL]
        self.backing_only = sorted(set(backing_top.tolist()) - set(self.essential))

    def set_vocal(self, gated_vocal: np.ndarray, lufs: float) -> None:
        """Use this (gated) vocal and its integrated loudness from now on."""
        self._use_vocal(self._binned(gated_vocal), lufs)

    def _use_vocal(self, power: np.ndarray, lufs: float) -> None:
        self.vocal_power = power
        self.vocal_bands = self._bands(power)
        self.vocal_lufs = lufs

    def _binned(self, signal: np.ndarray) -> np.ndarray:
        power = band_power_spectrum(signal)
        return np.bincount(self._bins(signal.size), weights=power, minlength=self.freqs.size)

    def _bins(self, size: int) -> np.ndarray:
        """The 1/12-octave bin of each FFT bin of a ``size``-sample signal (kept: every gated
        signal of a song has the same size)."""
        if size not in self._bin_cache:
            freqs = np.fft.rfftfreq(size, 1.0 / self.sample_rate)
            self._bin_cache[size] = np.clip(np.searchsorted(self.edges, freqs) - 1, 0,
                                            self.freqs.size - 1)
        return self._bin_cache[size]

    def _bands(self, power: np.ndarray, gain_db: np.ndarray | None = None) -> np.ndarray:
        weights = power if gain_db is None else power * 10.0 ** (gain_db / 10.0)
        with np.errstate(divide="ignore"):
            return 10.0 * np.log10(np.maximum(self.bandpass @ weights, 1e-300))

    def margins(self, level_lu: float, gain_db: np.ndarray | None = None) -> np.ndarray:
        """Vocal minus backing per octave band (dB) with EQ ``gain_db`` on the grid, the vocal
        re-levelled to ``level_lu`` relative to the backing (loudness change by K-weighting)."""
        bands = self.vocal_bands if gain_db is None else self._bands(self.vocal_power, gain_db)
        shift = 0.0
        if gain_db is not None:
            weighted = self.vocal_power * self.k_weight
            shift = 10.0 * math.log10(np.sum(weighted * 10.0 ** (gain_db / 10.0))
                                      / np.sum(weighted))
        offset = self.backing_lufs + level_lu - (self.vocal_lufs + shift)
        return bands + offset - self.backing_bands

    def cost(self, level_lu: float, gain_db: np.ndarray | None = None) -> float:
        """−log-likelihood of the masking: soft shortfalls of the essential bands under
        MARGIN_DB, and the vocal's excess in bands only the backing needs."""
        if not self.active:
            return 0.0
        m = self.margins(level_lu, gain_db)
        short = _softplus(MARGIN_DB - m[self.essential])
        excess = _softplus(m[self.backing_only] - MARGIN_DB) if self.backing_only else np.zeros(0)
        total = (np.sum(short**2) + np.sum(excess**2)) / max(1, len(self.essential))
        return float(total / (2.0 * MASKING_SD_DB**2))


def _softplus(x: np.ndarray) -> np.ndarray:
    return SOFTNESS_DB * np.logaddexp(0.0, np.asarray(x) / SOFTNESS_DB)


def _power_response(sos: np.ndarray, freqs: np.ndarray, sample_rate: int) -> np.ndarray:
    return np.abs(sos_response(sos, freqs, sample_rate)) ** 2


def eq_response_from_features(x: np.ndarray, freqs: np.ndarray, sample_rate: int) -> np.ndarray:
    """The continuous (unsnapped) response in dB of the prior's EQ layout, RBJ in float64."""
    e = np.exp
    fs = float(sample_rate)
    rows = [
        _rbj("hp", e(x[0]), e(x[1]), 0.0, fs), _rbj("ls", e(x[2]), 0.7, x[3], fs),
        _rbj("pk", e(x[4]), e(x[6]), x[5], fs), _rbj("pk", e(x[7]), e(x[9]), x[8], fs),
        _rbj("hs", e(x[10]), 0.7, x[11], fs), _rbj("lp", e(x[12]), e(x[13]), 0.0, fs),
    ]
    z = np.exp(-2j * np.pi * freqs / fs)
    total = np.zeros(freqs.shape)
    for b0, b1, b2, a0, a1, a2 in rows:
        h = (b0 + b1 * z + b2 * z * z) / (a0 + a1 * z + a2 * z * z)
        total += 20.0 * np.log10(np.maximum(np.abs(h), 1e-12))
    return total


def _rbj(kind: str, f: float, q: float, gain_db: float, fs: float) -> tuple[float, ...]:
    f = min(max(f, 2.0), 0.499 * fs)
    w = 2.0 * math.pi * f / fs
    c, s = math.cos(w), math.sin(w)
    alpha = s / (2.0 * q)
    a = 10.0 ** (gain_db / 40.0)
    if kind == "hp":
        return (1 + c) / 2, -(1 + c), (1 + c) / 2, 1 + alpha, -2 * c, 1 - alpha
    if kind == "lp":
        return (1 - c) / 2, 1 - c, (1 - c) / 2, 1 + alpha, -2 * c, 1 - alpha
    if kind == "pk":
        return 1 + alpha * a, -2 * c, 1 - alpha * a, 1 + alpha / a, -2 * c, 1 - alpha / a
    beta = 2.0 * math.sqrt(a) * alpha
    sign = -1.0 if kind == "ls" else 1.0
    return (a * ((a + 1) + sign * (a - 1) * c + beta),
            -sign * 2 * a * ((a - 1) + sign * (a + 1) * c),
            a * ((a + 1) + sign * (a - 1) * c - beta),
            (a + 1) - sign * (a - 1) * c + beta,
            sign * 2 * ((a - 1) - sign * (a + 1) * c),
            (a + 1) - sign * (a - 1) * c - beta)


#: EQ features the masking fit moves (gains, peak frequencies and Qs, high-shelf frequency),
#: with their bounds: DiffVox's filter ranges within MultiEQ's.
_EQ_FREE: dict[str, tuple[float, float]] = {
    "ls_gain_db": (-15.0, 15.0), "pk1_log_hz": (math.log(33.0), math.log(5400.0)),
    "pk1_gain_db": (-15.0, 15.0), "pk1_log_q": (math.log(0.2), math.log(8.0)),
    "pk2_log_hz": (math.log(200.0), math.log(17500.0)), "pk2_gain_db": (-15.0, 15.0),
    "pk2_log_q": (math.log(0.2), math.log(8.0)), "hs_log_hz": (math.log(750.0), math.log(8300.0)),
    "hs_gain_db": (-15.0, 15.0),
}
_THRESHOLD_STEP_SD, _THRESHOLD_MAX_SD = 0.5, 3.0


class PriorMethod:
    """MAP fit of the mapped DiffVox prior to one song (see the module docstring)."""

    name = "prior"

    def __init__(self, prior: VocalPrior | None = None) -> None:
        self.prior = prior or load_prior()
        self.gaussian = self.prior.features
        self.x = self.gaussian.mean.copy()  # the current feature vector, stage by stage
        self.masking: MaskingModel | None = None
        self.level_lu = LEVEL_MEDIAN_LU
        self.first_channel_lufs = 0.0

    def _mahalanobis2(self, x: np.ndarray) -> float:
        return self.gaussian.mahalanobis2(x)

    # ------------------------------------------------------------------------------ EQ
    def eq(self, ctx) -> Stage:
        sr = ctx.sample_rate
        self.masking = MaskingModel(ctx.vocal, ctx.backing, sr, ctx.vocal_lufs, ctx.backing_lufs)
        self.first_channel_lufs = (ctx.vocal_lufs - 10.0 * math.log10(2.0)
                                   if is_dual_mono(ctx.vocal)
                                   else LoudnessMeter(sr).integrated(ctx.vocal[:, 0]))
        start = self.x.copy()
        notes: list[str] = []
        if not self.masking.active:
            notes.append("EQ: the vocal never rises above -30 dBFS in a 100 ms block; "
                         "the prior mean EQ is used")
        else:
            self.x = self._fit_eq(start, sr)
        params = eq_from_features(self.x[: len(EQ_FEATURES)])
        details = {"start": _named(EQ_FEATURES, start), "fitted": _named(EQ_FEATURES, self.x),
                   "masking_cost_start": self._masking_cost(start, sr),
                   "masking_cost_fitted": self._masking_cost(self.x, sr)}
        if self.masking.active:
            details["essential_hz"] = [self.masking.centres[k] for k in self.masking.essential]
            details["margins_start_db"] = self.masking.margins(
                self.level_lu, self._eq_gain(start, sr)).tolist()
            details["margins_fitted_db"] = self.masking.margins(
                self.level_lu, self._eq_gain(self.x, sr)).tolist()
        return Stage(params, details, notes)

    def _eq_gain(self, x: np.ndarray, sample_rate: int) -> np.ndarray:
        return eq_response_from_features(x, self.masking.freqs, sample_rate)

    def _masking_cost(self, x: np.ndarray, sample_rate: int) -> float:
        if self.masking is None or not self.masking.active:
            return 0.0
        return self.masking.cost(self.level_lu, self._eq_gain(x, sample_rate))

    def _fit_eq(self, start: np.ndarray, sample_rate: int) -> np.ndarray:
        free = [self.gaussian.names.index(n) for n in _EQ_FREE]
        nyquist_cap = math.log(0.45 * sample_rate)
        bounds = [(lo, min(hi, nyquist_cap) if "log_hz" in name else hi)
                  for name, (lo, hi) in _EQ_FREE.items()]
        x0 = np.clip(start[free], [b[0] for b in bounds], [b[1] for b in bounds])

        def objective(values: np.ndarray) -> float:
            x = start.copy()
            x[free] = values
            return self._masking_cost(x, sample_rate) + 0.5 * self._mahalanobis2(x)

        result = minimize(objective, x0, method="L-BFGS-B", bounds=bounds,
                          options={"maxiter": 200})
        x = start.copy()
        x[free] = result.x
        return x

    # ---------------------------------------------------------------------- compressor
    def compressor(self, ctx, vocal: np.ndarray) -> Stage:
        free = [self.gaussian.names.index(n) for n in COMP_FEATURES]
        threshold_index = self.gaussian.names.index("threshold_re18_db")
        self.x = self.gaussian.conditional_mean(self.x, free)
        sd = math.sqrt(self.gaussian.cov[threshold_index, threshold_index])
        meter = LoudnessMeter(ctx.sample_rate)
        key = np.ascontiguousarray(vocal[:, :1])  # the gain is keyed from, and equal on, ch. 0
        steps = []

        def evaluate(threshold_re18: float) -> tuple[float, np.ndarray, dict, float, dict,
                                                     np.ndarray]:
            x = self.x.copy()
            x[threshold_index] = threshold_re18
            rest = [i for i in free if i != threshold_index]
            x = self.gaussian.conditional_mean(x, rest)
            params = self._comp_params(x)
            compressed = apply_compressor(key, ctx.sample_rate, params)
            lra = meter.loudness_range(compressed)
            excess = max(0.0, lra - LRA_TARGET_LU)
            cost = excess**2 / (2 * LRA_SD_LU**2) + 0.5 * self._mahalanobis2(x)
            step = {"threshold_re18_db": threshold_re18, "threshold_db": params["threshold"],
                    "lra_lu": lra, "cost": cost}
            return cost, x, params, lra, step, compressed

        start = float(self.x[threshold_index])
        best = evaluate(start)
        steps.append(best[4])
        if best[3] > LRA_TARGET_LU:  # too wide a range: lower the threshold while it pays
            # (two thresholds tried at once on the two cores; one tried past the step that
            # stops the walk is dropped unseen)
            ks = [k for k in range(1, int(_THRESHOLD_MAX_SD / _THRESHOLD_STEP_SD + 1e-9) + 1)
                  if k * _THRESHOLD_STEP_SD <= _THRESHOLD_MAX_SD]
            stopped = False
            for first in range(0, len(ks), 2):
                trials = concurrently(*(partial(evaluate, start - k * _THRESHOLD_STEP_SD * sd)
                                        for k in ks[first : first + 2]))
                for trial in trials:
                    steps.append(trial[4])
                    if trial[0] >= best[0]:
                        stopped = True
                        break
                    best = trial
                if stopped:
                    break
        cost, self.x, params, lra, _, compressed = best
        notes = [f"compression: threshold {params['threshold']:.1f} dB = "
                 f"{self.x[threshold_index]:+.1f} dB re a -18 LUFS vocal (the vocal's first "
                 f"channel measures {self.first_channel_lufs:.1f} LUFS); LRA {lra:.1f} LU"]
        # the chain's compressor output, already computed: OmniCompressor applies the gain
        # keyed from channel 0 to both channels, so a dual-mono vocal's output is this twice
        output = np.repeat(compressed, 2, axis=1) if is_dual_mono(vocal) else None
        return Stage(params, {"steps": steps, "fitted": _named(COMP_FEATURES, self.x[free])},
                     notes, output=output)

    def _comp_params(self, x: np.ndarray) -> dict[str, float]:
        names = self.gaussian.names
        value = lambda n: float(x[names.index(n)])  # noqa: E731
        params = comp_params(math.exp(value("log_ratio")), math.exp(value("log_attack_ms")),
                             math.exp(value("log_release_ms")), value("makeup_db"))
        absolute = value("threshold_re18_db") + self.first_channel_lufs - DIFFVOX_LUFS
        params["threshold"] = OMNICOMPRESSOR.param("threshold").snap(absolute)
        return params

    # -------------------------------------------------------------------------- reverb
    def reverb(self, ctx, vocal: np.ndarray) -> Stage:
        free = [self.gaussian.names.index(n) for n in REVERB_FEATURES]
        self.x = self.gaussian.conditional_mean(self.x, free)
        t60, r2d = math.exp(self.x[free[0]]), float(self.x[free[1]])
        params, reached = reverb_params(t60, r2d, ctx.sample_rate)
        notes = [f"reverb: T60 {params['revTime']:.1f} s, reverb {reached:.1f} dB re the "
                 f"direct sound (prior, given the EQ and compressor)"]
        if reached < r2d - 0.5:
            notes.append(f"reverb: {r2d:.1f} dB would need more than 100 % wet; "
                         f"{reached:.1f} dB written")
        self.x[free[1]] = reached
        return Stage(params, {"t60_s": params["revTime"], "reverb_to_direct_db": reached,
                              "wanted_reverb_to_direct_db": r2d}, notes)

    # --------------------------------------------------------------------------- level
    def level(self, ctx, vocal: np.ndarray):
        from .vocal import Level

        details: dict[str, Any] = {"prior_mahalanobis2": self._mahalanobis2(self.x),
                                   "prior_log_likelihood": self.gaussian.log_likelihood(self.x)}
        masking = self.masking
        if masking is None or not masking.active:
            return Level(LEVEL_MEDIAN_LU, "MUSDB18 median vocal minus backing (-3.6 LU)", details)
        power = masking._binned(masking.gate.apply(vocal))  # while its loudness is measured
        masking._use_vocal(power, ctx.processed_lufs)

        def objective(level: float) -> float:
            return ((level - LEVEL_MEDIAN_LU) / LEVEL_SD_LU) ** 2 / 2 + masking.cost(level)

        result = minimize_scalar(objective, bounds=(LEVEL_P10_LU, LEVEL_P90_LU),
                                 method="bounded", options={"xatol": 0.01})
        target = round(float(result.x), 2)
        details.update({"masking_cost_at_median": masking.cost(LEVEL_MEDIAN_LU),
                        "masking_cost_at_target": masking.cost(target),
                        "margins_db": masking.margins(target).tolist(),
                        "centres_hz": list(masking.centres)})
        notes = [f"level: {target:+.2f} LU vocal minus backing (MUSDB18 median -3.6 LU, "
                 f"moved {target - LEVEL_MEDIAN_LU:+.2f} LU for masking; range -5.0 to -2.1)"]
        return Level(target, LEVEL_SOURCE, details, notes)


def _named(names: tuple[str, ...], values: np.ndarray) -> dict[str, float]:
    return {n: float(v) for n, v in zip(names, values)}


# ======================================================================= chain vs presets
def chain_in_prior(chain: VocalChain, vocal: np.ndarray, sample_rate: int) -> dict[str, Any]:
    """Where a chain for ``vocal`` (its input, stereo) sits among the DiffVox presets: each of
    the layout-free descriptors against the presets' p10/p50/p90, the share inside p10–p90, and
    the log-likelihood under the descriptor Gaussian next to what a preset scores on average
    (−log normaliser − d/2, the expectation under the Gaussian)."""
    from .vocal_chain import mean_t60

    prior = load_prior()
    first = (LoudnessMeter(sample_rate).integrated(vocal) - 10.0 * math.log10(2.0)
             if is_dual_mono(vocal) else LoudnessMeter(sample_rate).integrated(vocal[:, 0]))
    threshold_re18 = chain.omnicompressor["threshold"] - (first - DIFFVOX_LUFS)
    t60 = mean_t60(chain.fdnreverb, sample_rate)
    r2d = reverb_path(chain, sample_rate).reverb_to_direct_db()
    x = descriptor_vector(chain.multieq, chain.omnicompressor, threshold_re18, max(t60, 1e-3),
                          max(r2d, -60.0), sample_rate)
    rows = []
    for name, value in zip(DESCRIPTORS, x):
        p10, p50, p90 = prior.percentiles["descriptors"][name]
        rows.append({"name": name, "value": float(value), "p10": p10, "p50": p50, "p90": p90,
                     "inside": bool(p10 <= value <= p90)})
    gaussian = prior.descriptors
    return {"descriptors": rows,
            "inside_share": sum(r["inside"] for r in rows) / len(rows),
            "log_likelihood": gaussian.log_likelihood(x),
            "preset_log_likelihood": -gaussian.log_normaliser - 0.5 * gaussian.mean.size,
            "presets": prior.count}


# ============================================================================= derivation
def derive_prior(presets_dir: str | Path) -> dict[str, Any]:
    """Map every decoded DiffVox preset (``decoded_params.json``) to IEM settings and fit the
    Gaussians. Deterministic; takes about a minute (one reverb impulse response per decay
    time on the plug-in's 0.1 s grid)."""
    decoded = json.loads((Path(presets_dir) / "decoded_params.json").read_text("utf-8"))
    features, descriptors, sets = [], [], {}
    for name in sorted(decoded):
        columns = decoded[name]
        count = len(next(iter(columns.values())))
        sets[name] = count
        for i in range(count):
            mapped = map_preset({key: float(values[i]) for key, values in columns.items()})
            args = (mapped["multieq"], mapped["omnicompressor"], mapped["threshold_re18_db"],
                    mapped["t60_s"], mapped["reverb_to_direct_db"])
            features.append(feature_vector(*args))
            descriptors.append(descriptor_vector(*args))
    f, d = np.array(features), np.array(descriptors)

    def fit(names: tuple[str, ...], x: np.ndarray) -> dict[str, Any]:
        cov = np.cov(x, rowvar=False)
        cov += np.diag(np.maximum(1e-3 * np.diag(cov), 1e-6))  # keeps near-constant dims proper
        return {"names": list(names), "mean": x.mean(axis=0).tolist(), "cov": cov.tolist()}

    def quantiles(names: tuple[str, ...], x: np.ndarray) -> dict[str, list[float]]:
        return {n: np.percentile(x[:, i], [10, 50, 90]).tolist() for i, n in enumerate(names)}

    return {
        "source": "SonyResearch/diffvox presets (commit 97ae464), decoded_params.json, MIT "
                  "(see vocal_prior.LICENSE)",
        "derived_by": "reaper_automix.decisions.vocal_prior.derive_prior (docs/vocal.md)",
        "sets": sets,
        "count": int(f.shape[0]),
        "sample_rate": PRIOR_SAMPLE_RATE,
        "features": fit(FEATURES, f),
        "descriptors": fit(DESCRIPTORS, d),
        "percentiles": {"features": quantiles(FEATURES, f),
                        "descriptors": quantiles(DESCRIPTORS, d)},
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m reaper_automix.decisions.vocal_prior PRESETS_DIR [OUT.json]``"""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(main.__doc__)
        return 2
    out = Path(args[1]) if len(args) > 1 else PRIOR_FILE
    out.write_text(json.dumps(derive_prior(args[0]), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
