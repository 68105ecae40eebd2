"""The console's parameter vector: layout, ranges, normalised ↔ physical mapping, and the exact
mapping to what is written into the project (fader, pan, MultiEQ and OmniCompressor values).

One stem has :data:`N_PARAMS` = 25 parameters, in this order (``PARAMETERS[i].name``):

====  ======================  ==================  ========  =====================================
idx   name                    range               mapping   written as
====  ======================  ==================  ========  =====================================
0     gain_db                 -48 … +48 dB        linear    fader dB (+ MakeUp above +12 dB)
1-3   eq1 gain/freq/q         ±12 dB, 20–2000 Hz, lin/log/  MultiEQ band 1, Low-shelf
                              0.1–5               log
4-6   eq2 gain/freq/q         ±12, 80–2000, 0.1–5           MultiEQ band 2, Peak
7-9   eq3 gain/freq/q         ±12, 2000–8000                MultiEQ band 3, Peak
10-12 eq4 gain/freq/q         ±12, 8000–12000               MultiEQ band 4, Peak
13-15 eq5 gain/freq/q         ±12, 12000–20000              MultiEQ band 5, Peak
16-18 eq6 gain/freq/q         ±12, 6000–20000               MultiEQ band 6, High-shelf
19    comp_threshold_db       -50 … +10 dB        linear    OmniCompressor threshold - input gain
20    comp_ratio              1 … 10              log       ratio
21    comp_attack_ms          5 … 100 ms          log       attack
22    comp_release_ms         10 … 250 ms         log       release
23    comp_knee_db            3 … 12 dB           linear    knee
24    pan                     -1 … +1             linear    track pan (D_PAN)
====  ======================  ==================  ========  =====================================

The ranges are those of Diff-MST's console (algorithms.md B.5) clipped to what MultiEQ and
OmniCompressor can represent (B.11); frequencies, Q, times and the ratio map logarithmically
(B.10.5; the log ratio is our addition). A normalised value p ∈ [0, 1] maps to
``low + p·(high - low)`` (linear) or ``low·(high/low)^p`` (log).

**Console domain.** The console processes each stem after a fixed *input gain* N (dB) that brings
it to :data:`STEM_LUFS` integrated loudness, so gains and thresholds mean the same on every stem.
The processing order is REAPER's track chain: input gain → MultiEQ → OmniCompressor → gain →
pan. Gains commute with the linear EQ and a gain G before a compressor equals G after it with the
threshold lowered by G (comp(g·x, T) = g·comp(x, T - G)), so what is written is (B.10.9):

* fader dB + MakeUp dB = ``gain_db`` + N (MakeUp takes only what passes the +12 dB fader top);
* OmniCompressor threshold = ``comp_threshold_db`` - N;
* everything else as it is, snapped to the plug-ins' grids.

Makeup is not in the vector: it would duplicate the gain. Knee, attack and release are set by the
fit's rules or the model; look-ahead is always off (no latency).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..iem.params import MULTIEQ, OMNICOMPRESSOR
from ..session import FADER_MAX_DB, FADER_MIN_DB
from .filters import HIGH_SHELF, LOW_SHELF, PEAK

STEM_LUFS = -18.0  # integrated loudness of every stem at the console's input


@dataclass(frozen=True)
class Parameter:
    """One continuous console parameter: physical range and mapping."""

    name: str
    low: float
    high: float
    log: bool = False
    unit: str = ""

    def to_physical(self, normalised: torch.Tensor) -> torch.Tensor:
        if self.log:
            return self.low * torch.pow(self.high / self.low, normalised)
        return self.low + normalised * (self.high - self.low)

    def to_normalised(self, physical: torch.Tensor) -> torch.Tensor:
        if self.log:
            return torch.log(physical / self.low) / math.log(self.high / self.low)
        return (physical - self.low) / (self.high - self.low)


@dataclass(frozen=True)
class EqBand:
    """One console EQ band and the MultiEQ band that plays it (type fixed by rule)."""

    kind: int  # section kind of console.filters
    multieq_band: int  # 0 … 5 (shown as 1 … 6)
    multieq_type: float  # the MultiEQ filterType value
    low_hz: float
    high_hz: float
    default_hz: float


EQ_BANDS: tuple[EqBand, ...] = (
    EqBand(LOW_SHELF, 0, 3.0, 20.0, 2000.0, 100.0),
    EqBand(PEAK, 1, 1.0, 80.0, 2000.0, 400.0),
    EqBand(PEAK, 2, 1.0, 2000.0, 8000.0, 3000.0),
    EqBand(PEAK, 3, 1.0, 8000.0, 12000.0, 10000.0),
    EqBand(PEAK, 4, 1.0, 12000.0, 20000.0, 15000.0),
    EqBand(HIGH_SHELF, 5, 3.0, 6000.0, 20000.0, 10000.0),
)
EQ_GAIN_DB = 12.0
Q_RANGE = (0.1, 5.0)
DEFAULT_Q = 0.7


def _parameters() -> tuple[Parameter, ...]:
    params = [Parameter("gain_db", -48.0, 48.0, unit="dB")]
    for number, band in enumerate(EQ_BANDS, start=1):
        params += [
            Parameter(f"eq{number}_gain_db", -EQ_GAIN_DB, EQ_GAIN_DB, unit="dB"),
            Parameter(f"eq{number}_freq_hz", band.low_hz, band.high_hz, log=True, unit="Hz"),
            Parameter(f"eq{number}_q", *Q_RANGE, log=True),
        ]
    params += [
        Parameter("comp_threshold_db", -50.0, 10.0, unit="dB"),
        Parameter("comp_ratio", 1.0, 10.0, log=True),
        Parameter("comp_attack_ms", 5.0, 100.0, log=True, unit="ms"),
        Parameter("comp_release_ms", 10.0, 250.0, log=True, unit="ms"),
        Parameter("comp_knee_db", 3.0, 12.0, unit="dB"),
        Parameter("pan", -1.0, 1.0),
    ]
    return tuple(params)


PARAMETERS: tuple[Parameter, ...] = _parameters()
N_PARAMS = len(PARAMETERS)
INDEX: dict[str, int] = {p.name: i for i, p in enumerate(PARAMETERS)}
GAIN = INDEX["gain_db"]
THRESHOLD, RATIO, ATTACK, RELEASE, KNEE = (INDEX[n] for n in (
    "comp_threshold_db", "comp_ratio", "comp_attack_ms", "comp_release_ms", "comp_knee_db"))
PAN = INDEX["pan"]
EQ_GAINS = [INDEX[f"eq{b}_gain_db"] for b in range(1, 7)]
EQ_FREQS = [INDEX[f"eq{b}_freq_hz"] for b in range(1, 7)]
EQ_QS = [INDEX[f"eq{b}_q"] for b in range(1, 7)]
COMPRESSOR = [THRESHOLD, RATIO, ATTACK, RELEASE, KNEE]
THRESHOLD_OFF_DB = 10.0  # written threshold of a compressor that is off (the plug-in's top)
_LOWS = torch.tensor([p.low for p in PARAMETERS], dtype=torch.float64)
_HIGHS = torch.tensor([p.high for p in PARAMETERS], dtype=torch.float64)
_LOG = torch.tensor([p.log for p in PARAMETERS])
_LOG_RATIO = torch.where(_LOG, _HIGHS / _LOWS, torch.full_like(_LOWS, math.e))  # e: log = 1


def to_physical(normalised: torch.Tensor) -> torch.Tensor:
    """Normalised (..., 25) in [0, 1] → physical values (differentiable). Values outside [0, 1]
    raise ValueError: a model must squash its outputs (e.g. a sigmoid)."""
    if normalised.shape[-1] != N_PARAMS:
        raise ValueError(f"console parameters have {N_PARAMS} values per stem, "
                         f"got {normalised.shape[-1]}")
    if bool(((normalised < 0) | (normalised > 1)).any()):
        raise ValueError("normalised console parameters must lie in [0, 1]")
    p = normalised.to(torch.float64)
    linear = _LOWS + p * (_HIGHS - _LOWS)
    logarithmic = _LOWS * torch.pow(_LOG_RATIO, p)  # 1 on linear rows: no NaN gradient there
    return torch.where(_LOG, logarithmic, linear)


def to_normalised(physical: torch.Tensor) -> torch.Tensor:
    """Physical (..., 25) → normalised; values outside a range give p outside [0, 1]."""
    x = physical.to(torch.float64)
    logarithmic = torch.log(torch.where(_LOG, x / _LOWS, torch.ones_like(x))) / torch.log(
        _LOG_RATIO)
    linear = (x - _LOWS) / (_HIGHS - _LOWS)
    return torch.where(_LOG, logarithmic, linear)


def clamp_physical(physical: torch.Tensor) -> torch.Tensor:
    return torch.maximum(torch.minimum(physical, _HIGHS), _LOWS)


def neutral(n_stems: int, pans: np.ndarray | None = None) -> torch.Tensor:
    """Physical parameters that change nothing but the input gain: 0 dB gain, 0 dB EQ bands at
    their default frequencies with Q 0.7, ratio 1:1 (threshold, knee and times at defaults), the
    given pans (default centre)."""
    row = torch.zeros(N_PARAMS, dtype=torch.float64)
    for band, (g, f, q) in zip(EQ_BANDS, zip(EQ_GAINS, EQ_FREQS, EQ_QS)):
        row[f], row[q] = band.default_hz, DEFAULT_Q
    row[THRESHOLD], row[RATIO], row[ATTACK], row[RELEASE], row[KNEE] = -20.0, 1.0, 10.0, 100.0, 6.0
    out = row.repeat(n_stems, 1)
    if pans is not None:
        out[:, PAN] = torch.as_tensor(np.asarray(pans, np.float64))
    return out


def threshold_bounds(input_gain_db: float) -> tuple[float, float]:
    """Console thresholds that the plug-in's -50 … +10 dB range can write for a stem with this
    input gain (the written value is threshold - input gain)."""
    low, high = PARAMETERS[THRESHOLD].low, PARAMETERS[THRESHOLD].high
    return max(low, -50.0 + input_gain_db), min(high, 10.0 + input_gain_db)


def gain_bounds(input_gain_db: float) -> tuple[float, float]:
    """Console gains that fader (-150 … +12 dB) plus MakeUp (≤ +20 dB) can write."""
    low, high = PARAMETERS[GAIN].low, PARAMETERS[GAIN].high
    top = FADER_MAX_DB + OMNICOMPRESSOR.param("outGain").end
    return max(low, FADER_MIN_DB - input_gain_db), min(high, top - input_gain_db)


# ------------------------------------------------------------------------------- written values
@dataclass
class WrittenStem:
    """What one stem's decision writes: fader (dB), pan (-1 … +1), and every parameter of our
    MultiEQ and OmniCompressor instances (plain values on the plug-ins' grids)."""

    fader_db: float
    pan: float
    multieq: dict[str, float] = field(default_factory=dict)
    omnicompressor: dict[str, float] = field(default_factory=dict)


def _snap(spec_param: str, plugin, value: float) -> float:
    return plugin.param(spec_param).snap(float(value))


def to_written(physical: np.ndarray | torch.Tensor, input_gain_db: float) -> WrittenStem:
    """The project values for one stem's physical parameters (25,), snapped to every grid.

    A band is enabled only when its snapped gain is not 0 dB (a 0 dB peak or shelf is an exact
    identity; band 1 is always set explicitly, never left at the plug-in's 20 Hz high-pass). A
    compressor at 1:1 does nothing whatever its threshold: it is written "off" at +10 dB.
    """
    v = np.asarray(torch.as_tensor(physical).detach(), np.float64)
    total = float(v[GAIN]) + input_gain_db
    makeup_spec = OMNICOMPRESSOR.param("outGain")
    makeup = 0.0
    if total > FADER_MAX_DB:
        makeup = min(makeup_spec.end, math.ceil(round((total - FADER_MAX_DB) * 10.0, 6)) / 10.0)
        makeup = makeup_spec.snap(makeup)
    fader = min(max(total - makeup, FADER_MIN_DB), FADER_MAX_DB)
    multieq: dict[str, float] = {"inputChannelsSetting": 0.0}
    for band, (g, f, q) in zip(EQ_BANDS, zip(EQ_GAINS, EQ_FREQS, EQ_QS)):
        b = band.multieq_band
        gain = _snap(f"filterGain{b}", MULTIEQ, v[g])
        multieq.update({
            f"filterEnabled{b}": 1.0 if gain != 0.0 else 0.0,
            f"filterType{b}": band.multieq_type,
            f"filterFrequency{b}": _snap(f"filterFrequency{b}", MULTIEQ, v[f]),
            f"filterQ{b}": _snap(f"filterQ{b}", MULTIEQ, v[q]),
            f"filterGain{b}": gain,
        })
    comp = OMNICOMPRESSOR
    ratio = _snap("ratio", comp, min(v[RATIO], 15.8))  # 16 would mean ∞:1
    threshold = v[THRESHOLD] - input_gain_db if ratio > 1.0 else THRESHOLD_OFF_DB
    omnicompressor = {
        "orderSetting": 0.0,  # Auto: both channels of a stereo track get the gain (iem.md 7.5)
        "threshold": _snap("threshold", comp, threshold),
        "knee": _snap("knee", comp, v[KNEE]),
        "attack": _snap("attack", comp, v[ATTACK]),
        "release": _snap("release", comp, v[RELEASE]),
        "ratio": ratio,
        "outGain": makeup,
        "lookAhead": 0.0,
    }
    return WrittenStem(float(fader), float(np.clip(v[PAN], -1.0, 1.0)), multieq, omnicompressor)


def from_written(written: WrittenStem, input_gain_db: float) -> torch.Tensor:
    """Physical parameters (25,) that reproduce exactly what ``written`` plays (the inverse of
    :func:`to_written` on grid values; disabled bands become 0 dB). Values may lie outside the
    console ranges only if ``written`` was not produced by :func:`to_written`."""
    eq, comp = MULTIEQ.complete(written.multieq), OMNICOMPRESSOR.complete(written.omnicompressor)
    v = torch.zeros(N_PARAMS, dtype=torch.float64)
    v[GAIN] = written.fader_db + comp["outGain"] - input_gain_db
    for band, (g, f, q) in zip(EQ_BANDS, zip(EQ_GAINS, EQ_FREQS, EQ_QS)):
        b = band.multieq_band
        enabled = eq[f"filterEnabled{b}"] > 0.5
        if enabled and eq[f"filterType{b}"] != band.multieq_type:
            kind = MULTIEQ.param(f"filterType{b}").text(band.multieq_type)
            raise ValueError(f"MultiEQ band {b + 1} is not a {kind}: the console cannot play it")
        v[g] = eq[f"filterGain{b}"] if enabled else 0.0
        v[f], v[q] = eq[f"filterFrequency{b}"], eq[f"filterQ{b}"]
    v[THRESHOLD] = comp["threshold"] + input_gain_db
    ratio = math.inf if comp["ratio"] > 15.9 else comp["ratio"]  # 16 on the grid means ∞:1
    v[RATIO], v[ATTACK], v[RELEASE], v[KNEE] = ratio, comp["attack"], comp["release"], comp["knee"]
    v[PAN] = written.pan
    return v
