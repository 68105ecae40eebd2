"""Match reference: fit the console to a reference mix (algorithms.md B.6, B.7, B.11), on arrays.

No project code: the caller passes each stem as it sounds before its fader (stereo, one length,
without our own MultiEQ/OmniCompressor instances), what each stem's chain holds now (fader, pan
and our two plug-ins' values, :class:`~reaper_automix.console.WrittenStem`), anything else that
reaches the master (``rest``, fixed), and the reference. It returns, per stem, the values to write
and what the console predicts they will sound like.

The fit ([product], docs/match.md):

1. every stem enters the console at :data:`~reaper_automix.console.STEM_LUFS` (its input gain);
   the start point is equal loudness (gain 0 dB), flat EQ, no compression, the current pans, or
   an explicit ``start`` (the learned model's prediction);
2. **spectral phase** (L-BFGS-B): gains and pans, then gains, pans and EQ, on the analytic mix
   spectra of :mod:`reaper_automix.analysis.style` (stem cross-spectra pooled over windows
   spread over the song; the EQ as its frequency response);
3. **dynamics phase** (Adam, time domain through the exact compressor): threshold, ratio, attack
   and release against the reference's crest factor, each stem's gain compensating the level its
   compressor takes so the spectral balance of step 2 stays; an L1 penalty on the gain reduction
   keeps compressors off unless they pay;
4. bands that move less than 0.3 dB switched off, values snapped to the plug-ins' grids; the
   whole song rendered through the console once; one common gain brings the mix to the target
   loudness (the current mix's, or the reference's with ``match_loudness``); ``amount`` applies
   that share of every move.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch

from ..analysis.loudness import LoudnessMeter
from ..analysis.pitch import torch_threads
from ..analysis.style import (
    N_WINDOWS,
    WINDOW,
    BandCross,
    CrossSpectra,
    SpectralGrid,
    SubbandCross,
    band_cross,
    crest_factor_db,
    cross_spectra,
    pooled_features,
    pooled_from_bands,
    pooled_from_subbands,
    select_windows,
    stereo_features,
    subband_cross,
)
from ..console import params as P
from ..console.compressor import gain_reduction, key_level, smoothing_coefficient
from ..console.filters import cascade
from ..console.mixer import eq_response, eq_sections, output_gains, pan_gains, render_song
from ..console.params import STEM_LUFS, WrittenStem, from_written, to_written

Progress = Callable[[float, str], None]
Cancelled = Callable[[], bool]

MIN_REFERENCE_S = 5.0
SILENT_LUFS = -70.0  # stems and references below BS.1770's absolute gate are silent
#: louder than this before its fader, a stem is out of what OmniCompressor's threshold (-50 … +10 dB
#: around the console's stem level) can follow: a broken file or gain, left untouched
LOUDEST_STEM_LUFS = STEM_LUFS + 60.0
FITS = ("full", "faders", "start")
STARTS = ("model", "neutral")  # where the fit starts: MatchNet's prediction or equal loudness
DEFAULT_START = "neutral"  # the product's default (CLI, REAPER action): the shipped network's
# start does not beat it yet on held-out sessions (docs/match-model.md)
DEFAULT_BUDGET_S = 10.0

# Loss weights: dB² for spectra and level, squared ratios for side shares, width and imbalance.
WEIGHTS = {"bark_mid_db": 1.0, "bark_side_share": 100.0, "width": 100.0, "imbalance": 100.0,
           "level_db": 1.0, "crest_db": 0.2}
EQ_PENALTY = 0.004  # per dB² of band gain, summed over bands, averaged over stems
PAN_PENALTY = 1.0  # per squared pan move
SHAPE_PENALTY = 0.002  # per octave² of frequency or Q move (keeps unused bands where they are)
COMPRESSION_PENALTY = 0.05  # per dB of mean gain reduction, averaged over stems
KNEE_DB = 6.0  # knee width set by rule
MIN_BAND_DB = 0.3  # a fitted EQ band that moves less is switched off
ADAM_RATE = 0.1  # per step, in the optimisers' units (6 dB, one octave)
MAX_DYNAMICS_STEPS = 300
PATIENCE = 25  # the dynamics phase stops after this many steps without improvement
THREADS = 2  # stem loudness and window cross-spectra run two at a time
SEGMENT = 1 << 15  # dynamics phase: central segment of each window (0.74 s at 44.1 kHz) …
PREROLL_S = 0.3  # … after this much run-in (filter and compressor state)


class MatchError(ValueError):
    """Input the fit cannot use; the message says what to do."""


class MatchCancelled(Exception):
    """The caller's ``cancelled()`` turned true."""


@dataclass(frozen=True)
class MatchOptions:
    """How to fit. ``amount`` is a share 0 … 1 of every move; ``fit`` is "full", "faders"
    (gains and pans only) or "start" (the start point, not fitted: the equal-loudness baseline).
    ``budget_s`` bounds the start prediction and the two optimisation phases (render and
    analysis come on top); 0 keeps the start point. ``steps``, if given, also caps each
    optimiser run (every L-BFGS stage and the compressor phase) at that many steps, which makes
    the result independent of the machine's speed. ``start`` is "model" (MatchNet's prediction,
    :mod:`reaper_automix.models.match_net`) or "neutral" (equal loudness, flat, no compression,
    the current pans)."""

    budget_s: float = DEFAULT_BUDGET_S
    steps: int | None = None
    amount: float = 1.0
    match_loudness: bool = False
    fit: str = "full"
    start: str = "neutral"
    windows: int = N_WINDOWS
    window_length: int = WINDOW

    def __post_init__(self) -> None:
        if not 0.0 <= self.amount <= 1.0:
            raise MatchError(f"amount must lie between 0 and 100 %, got {self.amount * 100:g} %")
        if self.fit not in FITS:
            raise MatchError(f"fit must be one of {', '.join(FITS)}, got {self.fit!r}")
        if self.start not in STARTS:
            raise MatchError(f"start must be one of {', '.join(STARTS)}, got {self.start!r}")
        if not self.budget_s >= 0:
            raise MatchError(f"the time budget must be 0 s or more, got {self.budget_s} s")
        if self.steps is not None and self.steps < 1:
            raise MatchError(f"steps must be at least 1, got {self.steps}")


@dataclass
class StemMatch:
    """The decision for one stem: what its chain holds now and what to write."""

    name: str
    active: bool
    reason: str | None
    loudness_lufs: float | None
    input_gain_db: float | None
    before: WrittenStem
    after: WrittenStem
    console: list[float] | None = None  # physical console parameters of ``after`` (25)


@dataclass
class MatchDecision:
    stems: list[StemMatch]
    reference_lufs: float
    before_lufs: float
    after_lufs: float
    target_lufs: float
    level_shift_db: float  # the common gain that set the loudness (0 with amount 0)
    features: dict[str, dict[str, Any]]  # "reference", "before", "after"
    distances: dict[str, dict[str, float]]  # "before", "start" (spectral only), "after"
    steps: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    budget_s: float = 0.0  # the fit's time budget (options.budget_s)
    #: every loss the optimisers evaluated: {"phase", "seconds" (since the fit began), "loss"};
    #: the L-BFGS phases' AF loss (plus regulariser), the compressor phase's crest-factor loss
    trace: list[dict[str, Any]] = field(default_factory=list)
    prediction: np.ndarray | None = field(default=None, repr=False)  # (n, 2) float32 mix
    changed: bool = True  # False when nothing is to be written (amount 0)
    start: str = "neutral"  # where the fit started: "model", "neutral" or "given"


# ------------------------------------------------------------------------------------ features
def feature_loss(mix: dict[str, torch.Tensor], reference: dict[str, torch.Tensor],
                 level_target_db: torch.Tensor | float | None = None) -> torch.Tensor:
    """The weighted AF loss between feature dicts; the level term only with a target."""
    loss = WEIGHTS["bark_mid_db"] * torch.mean((mix["bark_mid_db"] - reference["bark_mid_db"])**2)
    loss = loss + WEIGHTS["bark_side_share"] * torch.mean(
        (mix["bark_side_share"] - reference["bark_side_share"]) ** 2)
    loss = loss + WEIGHTS["width"] * (mix["width"] - reference["width"]) ** 2
    loss = loss + WEIGHTS["imbalance"] * (mix["imbalance"] - reference["imbalance"]) ** 2
    if "crest_db" in mix and "crest_db" in reference:
        loss = loss + WEIGHTS["crest_db"] * torch.mean((mix["crest_db"] - reference["crest_db"])**2)
    if level_target_db is not None:
        loss = loss + WEIGHTS["level_db"] * (mix["level_db"] - level_target_db) ** 2
    return loss


def feature_distances(mix: dict[str, torch.Tensor],
                      reference: dict[str, torch.Tensor]) -> dict[str, float]:
    """Plain distances for the report: RMS over Bark bands (dB for mid, share for side),
    absolute differences of width and imbalance, mean absolute crest-factor difference (dB,
    where ``mix`` has a crest factor) and the weighted AF loss."""
    def rms(key: str) -> float:
        return float(torch.sqrt(torch.mean((mix[key] - reference[key]) ** 2)))

    return {
        "bark_mid_db": rms("bark_mid_db"),
        "bark_side_share": rms("bark_side_share"),
        "width": float(abs(mix["width"] - reference["width"])),
        "imbalance": float(abs(mix["imbalance"] - reference["imbalance"])),
        **({"crest_db": float(torch.mean(torch.abs(mix["crest_db"] - reference["crest_db"])))}
           if "crest_db" in mix else {}),
        "af_loss": float(feature_loss(mix, reference)),
    }


def _plain(values: dict[str, torch.Tensor]) -> dict[str, Any]:
    return {k: (v.tolist() if v.dim() else float(v)) for k, v in values.items()}


# -------------------------------------------------------------------------------- variables
def _span(index: int) -> float:
    """Natural units of a parameter for the optimisers: 6 dB, one octave (frequency, Q, times,
    ratio) or half the pan range; the variable is the normalised value times the range in
    those units, so equal steps mean comparable changes (L-BFGS is sensitive to scaling)."""
    param = P.PARAMETERS[index]
    if param.log:
        return math.log2(param.high / param.low)
    if param.name == "pan":
        return 2.0
    return (param.high - param.low) / 6.0


@dataclass
class _Bounds:
    """Per-stem box bounds (S, 25) of the physical parameters during the fit. The optimisers
    work on scaled normalised values (:func:`_span`), boxed by these bounds."""

    low: torch.Tensor
    high: torch.Tensor

    def encode(self, physical: torch.Tensor, index: list[int]) -> torch.Tensor:
        return torch.stack([P.PARAMETERS[i].to_normalised(physical[:, i]) * _span(i)
                            for i in index], dim=1)

    def decode(self, variables: torch.Tensor, index: list[int]) -> torch.Tensor:
        return torch.stack([P.PARAMETERS[i].to_physical(variables[:, c] / _span(i))
                            for c, i in enumerate(index)], dim=1)

    def box(self, index: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode(self.low, index), self.encode(self.high, index)


def _fit_bounds(input_gain_db: np.ndarray) -> _Bounds:
    low = torch.tensor([[p.low for p in P.PARAMETERS]] * len(input_gain_db), dtype=torch.float64)
    high = torch.tensor([[p.high for p in P.PARAMETERS]] * len(input_gain_db),
                        dtype=torch.float64)
    for s, n in enumerate(input_gain_db):
        low[s, P.THRESHOLD], high[s, P.THRESHOLD] = P.threshold_bounds(float(n))
        low[s, P.GAIN], high[s, P.GAIN] = P.gain_bounds(float(n))
    return _Bounds(low, high)


# ----------------------------------------------------------------------------- the fit context
@dataclass
class _Problem:
    stems: list[np.ndarray]  # active stems (n, 2) float32
    rest: np.ndarray | None
    sample_rate: int
    input_gain_db: np.ndarray  # (S,)
    grid: SpectralGrid
    cross: CrossSpectra  # stem tokens (+ rest tokens)
    subbands: SubbandCross  # the same, pooled into sub-bands
    mix_windows: list[tuple[int, int]]
    reference: dict[str, torch.Tensor]
    reference_segments: list[np.ndarray]  # (2, SEGMENT) each, for the crest factor
    level_target_db: float
    bounds: _Bounds
    deadline: float
    cancelled: Cancelled
    max_steps: int | None = None
    started: float = field(default_factory=time.monotonic)
    trace: list[tuple[str, float, float]] = field(default_factory=list)  # (phase, s, loss)

    def record(self, phase: str, loss: float) -> None:
        self.trace.append((phase, time.monotonic() - self.started, loss))

    @property
    def n_stems(self) -> int:
        return len(self.stems)

    def check(self) -> None:
        if self.cancelled():
            raise MatchCancelled("cancelled")


def _amplitudes(problem: _Problem, physical: torch.Tensor,
                compressor_gain_db: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-source real gains of the left and right tokens (input gain, compressor level, gain,
    pan), the fixed rest last."""
    amplitude = torch.pow(10.0, (torch.as_tensor(problem.input_gain_db) + physical[:, P.GAIN]
                                 + compressor_gain_db) / 20.0)
    pans = pan_gains(physical[:, P.PAN])
    left, right = amplitude * pans[:, 0], amplitude * pans[:, 1]
    if problem.rest is not None:
        one = torch.ones(1, dtype=torch.float64)
        left, right = torch.cat([left, one]), torch.cat([right, one])
    return left, right


def _responses(problem: _Problem, physical: torch.Tensor,
               frequencies: torch.Tensor | None = None) -> torch.Tensor:
    """Every source's EQ response (S(+1), F) at the bins (or ``frequencies``): float64 closed
    forms, no float32 rounding, so the loss is smooth for the optimiser (the difference is far
    below the -40 dB bar)."""
    grid = problem.grid
    response = eq_response(physical, grid.frequencies if frequencies is None else frequencies,
                           grid.sample_rate, plugin_rounding=False)
    if problem.rest is not None:
        response = torch.cat([response, torch.ones_like(response[:1])])
    return response


def _spectral_features(problem: _Problem, physical: torch.Tensor,
                       compressor_gain_db: torch.Tensor,
                       bands: BandCross | None = None) -> dict[str, torch.Tensor]:
    """Features of the console's mix from the stems' cross-spectra: with ``bands`` (pooled under
    a fixed EQ) from those, else from the sub-band cross-spectra with every EQ's response at
    the sub-bands (1/24 octave; exact pools, the response constant within a sub-band)."""
    left, right = _amplitudes(problem, physical, compressor_gain_db)
    if bands is not None:
        return pooled_features(pooled_from_bands(bands, left, right), problem.grid)
    response = _responses(problem, physical, problem.subbands.frequencies)
    return pooled_features(pooled_from_subbands(
        problem.subbands, left[:, None] * response, right[:, None] * response), problem.grid)


def _regulariser(physical: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    eq = EQ_PENALTY * torch.sum(physical[:, P.EQ_GAINS] ** 2) / physical.shape[0]
    pan = PAN_PENALTY * torch.sum((physical[:, P.PAN] - start[:, P.PAN]) ** 2) / physical.shape[0]
    shape_index = P.EQ_FREQS + P.EQ_QS
    moves = torch.log2(physical[:, shape_index] / start[:, shape_index])
    shape = SHAPE_PENALTY * torch.sum(moves ** 2) / physical.shape[0]
    return eq + pan + shape


def _spectral_phase(problem: _Problem, start: torch.Tensor, compressor_gain_db: torch.Tensor,
                    with_eq: bool, budget_s: float) -> tuple[torch.Tensor, int]:
    """L-BFGS-B on gain and pan, then on gain, pan and EQ (gain, frequency, Q) of every stem;
    on gains alone without EQ (the faders-only fit)."""
    stages: list[list[int]] = [[P.GAIN, P.PAN] if with_eq else [P.GAIN]]
    if with_eq:
        stages.append([P.GAIN, P.PAN] + P.EQ_GAINS + P.EQ_FREQS + P.EQ_QS)
    physical = start.clone()
    evaluations = 0
    stage_end = time.monotonic() + budget_s
    for number, index in enumerate(stages):
        share = (stage_end - time.monotonic()) / (len(stages) - number)
        phase = "gains and EQ" if number else ("gains and pans" if with_eq else "gains")
        physical, used = _lbfgs(problem, physical, start, compressor_gain_db, index,
                                time.monotonic() + share, phase)
        evaluations += used
    return physical, evaluations


class _OutOfTime(Exception):
    pass


def _lbfgs(problem: _Problem, physical: torch.Tensor, start: torch.Tensor,
           compressor_gain_db: torch.Tensor, index: list[int], deadline: float,
           phase: str) -> tuple[torch.Tensor, int]:
    """scipy's L-BFGS-B on the normalised parameters ``index``; loss and gradient by torch
    (each evaluation's loss is recorded under ``phase``)."""
    from scipy.optimize import minimize

    shape = (physical.shape[0], len(index))
    low, high = problem.bounds.box(index)
    fixed_eq = not set(index) & set(P.EQ_GAINS + P.EQ_FREQS + P.EQ_QS)
    bands = band_cross(problem.cross, _responses(problem, physical), problem.grid) \
        if fixed_eq else None
    x0 = torch.minimum(torch.maximum(problem.bounds.encode(physical, index), low), high)
    best = {"loss": math.inf, "x": x0.numpy().ravel().copy()}
    evaluations = 0

    def candidate(x: torch.Tensor) -> torch.Tensor:
        out = physical.clone()
        out[:, index] = problem.bounds.decode(x.reshape(shape), index)
        return out

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal evaluations
        problem.check()
        if time.monotonic() > deadline or evaluations == (problem.max_steps or -1):
            raise _OutOfTime
        evaluations += 1
        variables = torch.from_numpy(x.copy()).requires_grad_(True)
        trial = candidate(variables)
        mix = _spectral_features(problem, trial, compressor_gain_db, bands)
        loss = feature_loss(mix, problem.reference, problem.level_target_db)
        loss = loss + _regulariser(trial, start)
        loss.backward()
        value = float(loss.detach())
        problem.record(phase, value)
        if value < best["loss"]:
            best.update(loss=value, x=x.copy())
        return value, variables.grad.numpy().copy()

    try:
        minimize(objective, best["x"], jac=True, method="L-BFGS-B",
                 bounds=list(zip(low.numpy().ravel(), high.numpy().ravel())),
                 options={"maxiter": 1000, "ftol": 1e-12, "gtol": 1e-9, "maxcor": 20})
    except _OutOfTime:
        pass
    with torch.no_grad():
        return candidate(torch.from_numpy(best["x"])), evaluations


# ------------------------------------------------------------------------------ time domain
@dataclass
class _Segments:
    """EQ'd stem tokens on the central segment of every window for the dynamics phase: the key
    levels with run-in (filter and compressor state), the tokens and their power without it
    (float32: they only feed the crest factor and the level compensation)."""

    levels: torch.Tensor  # (S·W, run_in + length) key level in dB, rows (stem, window)
    tokens: torch.Tensor  # (S, W, 2, length) float32
    power: torch.Tensor  # (S, W, length) float32, L² + R²
    rest: torch.Tensor | None  # (W, 2, length) float32
    run_in: int


def _segments(problem: _Problem, physical: torch.Tensor) -> _Segments:
    rate = problem.sample_rate
    run_in = int(PREROLL_S * rate)
    length = min(SEGMENT, min(b - a for a, b in problem.mix_windows))
    sections = eq_sections(physical, rate).repeat_interleave(2, dim=0)  # exact: plug-in values
    gains = torch.pow(10.0, torch.as_tensor(problem.input_gain_db) / 20.0)[:, None, None]
    levels, tokens, rests = [], [], []
    for a, b in problem.mix_windows:
        first = (a + b) // 2 - length // 2
        begin = max(0, first - run_in)
        block = np.stack([stem[begin:first + length].T for stem in problem.stems])  # (S, 2, m)
        block = np.pad(block, ((0, 0), (0, 0), (run_in - (first - begin), 0)))
        scaled = torch.from_numpy(block.astype(np.float64)) * gains
        with torch.no_grad():
            filtered = cascade(scaled.reshape(-1, scaled.shape[-1]), sections).reshape(
                scaled.shape)
        levels.append(key_level(filtered[:, 0]))
        tokens.append(filtered[..., run_in:].to(torch.float32))
        if problem.rest is not None:
            rests.append(torch.from_numpy(problem.rest[first:first + length].T.copy()))
    stacked = torch.stack(tokens, dim=1)  # (S, W, 2, length)
    return _Segments(torch.stack(levels, dim=1).reshape(-1, run_in + length), stacked,
                     (stacked ** 2).sum(dim=2), torch.stack(rests).float() if rests else None,
                     run_in)


def _compressed(problem: _Problem, segments: _Segments, physical: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Compressor gains on the segments without run-in: (linear gain (S, W, length) float32,
    reduction dB, each stem's power gain in dB (S,))."""
    n_stems, n_windows = segments.tokens.shape[:2]
    expand = lambda values: values.repeat_interleave(n_windows)  # noqa: E731
    rate = problem.sample_rate
    reduction = gain_reduction(
        segments.levels, expand(physical[:, P.THRESHOLD]), expand(physical[:, P.RATIO]),
        expand(physical[:, P.KNEE]),
        expand(smoothing_coefficient(physical[:, P.ATTACK], rate)),
        expand(smoothing_coefficient(physical[:, P.RELEASE], rate)),
    )[:, segments.run_in:].reshape(n_stems, n_windows, -1).to(torch.float32)
    gain = torch.pow(10.0, reduction / 20.0)
    compressed = torch.sum(segments.power * gain * gain, dim=(1, 2))
    ratio = compressed / torch.clamp(segments.power.sum(dim=(1, 2)), min=1e-30)
    return gain, reduction, 10.0 * torch.log10(torch.clamp(ratio.double(), min=1e-30))


def _segment_mix(segments: _Segments, gain: torch.Tensor, physical: torch.Tensor) -> torch.Tensor:
    """The console mix on every segment (W, 2, length)."""
    weights = output_gains(physical).to(torch.float32)  # (S, 2)
    out = torch.einsum("swcn,swn,sc->wcn", segments.tokens, gain, weights)
    return out if segments.rest is None else out + segments.rest


def _crest(mixes: torch.Tensor) -> torch.Tensor:
    spans = [(0, mixes.shape[-1])]
    return torch.stack([crest_factor_db(m, spans) for m in mixes]).mean(dim=0)


def _dynamics_phase(problem: _Problem, physical: torch.Tensor, budget_s: float
                    ) -> tuple[torch.Tensor, int]:
    """Projected Adam on threshold, ratio, attack and release (normalised); each stem's gain
    compensates the level its compressor takes, so the spectral balance stays."""
    deadline = time.monotonic() + budget_s
    segments = _segments(problem, physical)
    reference_crest = _crest(torch.from_numpy(np.stack(problem.reference_segments)))
    index = [P.THRESHOLD, P.RATIO, P.ATTACK, P.RELEASE]
    low, high = problem.bounds.box(index)
    base = physical.clone()
    base[:, P.KNEE] = KNEE_DB
    start = base.clone()
    start[:, P.THRESHOLD] = torch.clamp(torch.full_like(base[:, 0], STEM_LUFS),
                                        problem.bounds.low[:, P.THRESHOLD],
                                        problem.bounds.high[:, P.THRESHOLD])
    start[:, P.RATIO] = 1.0
    gains_before = base[:, P.GAIN].clone()

    def current(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        candidate = base.clone()
        candidate[:, index] = problem.bounds.decode(values, index)
        gain, reduction, power_db = _compressed(problem, segments, candidate)
        candidate[:, P.GAIN] = gains_before - power_db  # keep each stem's level
        return candidate, gain, reduction

    def objective(values: torch.Tensor) -> torch.Tensor:
        candidate, gain, reduction = current(values)
        crest = _crest(_segment_mix(segments, gain, candidate))
        penalty = COMPRESSION_PENALTY * torch.mean(-reduction.mean(dim=(1, 2))).double()
        return WEIGHTS["crest_db"] * torch.mean((crest.double() - reference_crest) ** 2) + penalty

    x = problem.bounds.encode(start, index)
    with torch.no_grad():
        neutral_loss = float(objective(x))
    problem.record("compressors", neutral_loss)  # every compressor at 1:1
    # barely compressing (1.05:1, where the attack branch is taken as it will be) — does more
    # ratio help anywhere? At exactly 1:1 no sample is in attack, so its gradient misleads.
    x[:, 1] = P.PARAMETERS[P.RATIO].to_normalised(torch.tensor(1.05)) * _span(P.RATIO)
    probe = x.clone().requires_grad_(True)
    objective(probe).backward()
    if bool((probe.grad[:, 1] >= 0).all()):  # raising any ratio only adds loss: stay at 1:1
        return physical, 1
    first, second = torch.zeros_like(x), torch.zeros_like(x)
    best, best_loss = None, neutral_loss  # 1:1 everywhere is the point to beat
    steps, since_best = 1, 0
    limit = min(MAX_DYNAMICS_STEPS, problem.max_steps or MAX_DYNAMICS_STEPS)
    while time.monotonic() < deadline and steps < limit and since_best < PATIENCE:
        problem.check()
        variables = x.clone().requires_grad_(True)
        loss = objective(variables)
        loss.backward()
        value = float(loss.detach())
        problem.record("compressors", value)
        if value < best_loss - 1e-6 * abs(best_loss):
            best, best_loss, since_best = x.clone(), value, 0
        else:
            since_best += 1
        first = 0.9 * first + 0.1 * variables.grad
        second = 0.999 * second + 0.001 * variables.grad ** 2
        step = (first / (1 - 0.9 ** steps)) / (torch.sqrt(second / (1 - 0.999 ** steps)) + 1e-8)
        x = torch.minimum(torch.maximum(x - ADAM_RATE * step, low), high)
        steps += 1
    if best is None:  # compression does not pay: every compressor stays off
        return physical, steps
    with torch.no_grad():
        fitted, _, _ = current(best)
    return fitted, steps


# ------------------------------------------------------------------------------- full length
def _loudness(meter: LoudnessMeter, audio: np.ndarray) -> float:
    return float(meter.integrated(audio))


def _shift_to(meter: LoudnessMeter, stems_mix: np.ndarray, rest: np.ndarray | None,
              target: float) -> float:
    """The common gain (dB) on the stems' mix that brings stems + rest to ``target`` LUFS."""
    shift = target - _loudness(meter, stems_mix if rest is None else stems_mix + rest)
    if rest is None or not math.isfinite(shift):  # loudness scales exactly with a common gain
        return shift if math.isfinite(shift) else 0.0
    for _ in range(4):  # the rest does not move: a few fixed-point steps
        error = target - _loudness(meter, stems_mix * 10 ** (shift / 20) + rest)
        if abs(error) < 0.01:
            break
        shift += error
    return shift


# ---------------------------------------------------------------------------------- decision
def _validate_reference(reference: np.ndarray, sample_rate: int, meter: LoudnessMeter) -> float:
    audio = np.asarray(reference)
    if audio.ndim != 2 or audio.shape[1] != 2:
        channels = 1 if audio.ndim == 1 else audio.shape[1]
        raise MatchError(f"the reference has {channels} channel(s): Match reference needs a "
                         "stereo mix (its width and balance are part of the style)")
    seconds = audio.shape[0] / sample_rate
    if seconds < MIN_REFERENCE_S:
        raise MatchError(f"the reference is {seconds:.1f} s long: it must last at least "
                         f"{MIN_REFERENCE_S:g} s")
    if not np.isfinite(audio).all():
        raise MatchError("the reference contains NaN or infinite samples")
    loudness = _loudness(meter, audio)
    if not loudness > SILENT_LUFS:
        raise MatchError("the reference is silent (below -70 LUFS): choose a mix with audio")
    return loudness


def _current_params(before: WrittenStem, input_gain_db: float) -> tuple[torch.Tensor, str | None]:
    """The console parameters of what the stem's chain holds now (no plug-ins: neutral)."""
    neutral = P.neutral(1)[0]
    if not before.multieq and not before.omnicompressor:
        neutral[P.GAIN] = before.fader_db - input_gain_db
        neutral[P.PAN] = before.pan
        return neutral, None
    try:
        return from_written(before, input_gain_db), None
    except ValueError as exc:
        neutral[P.GAIN] = before.fader_db - input_gain_db
        neutral[P.PAN] = before.pan
        return neutral, f"{exc}; its current EQ is ignored in the 'before' figures"


def _apply_amount(current: torch.Tensor, fitted: torch.Tensor, amount: float,
                  input_gain_db: float) -> torch.Tensor:
    """``amount`` of every move: gain and pan from where they are, EQ gains from 0 dB, ratio
    from 1:1, threshold from off (+10 dB written); shapes and times as fitted."""
    out = fitted.clone()
    out[P.GAIN] = current[P.GAIN] + amount * (fitted[P.GAIN] - current[P.GAIN])
    out[P.PAN] = current[P.PAN] + amount * (fitted[P.PAN] - current[P.PAN])
    out[P.EQ_GAINS] = amount * fitted[P.EQ_GAINS]
    out[P.RATIO] = 1.0 + amount * (fitted[P.RATIO] - 1.0)
    off = P.THRESHOLD_OFF_DB + input_gain_db
    out[P.THRESHOLD] = off + amount * (fitted[P.THRESHOLD] - off)
    return out


def match_reference(
    stems: Sequence[np.ndarray],
    reference: np.ndarray,
    sample_rate: int,
    *,
    current: Sequence[WrittenStem],
    names: Sequence[str] | None = None,
    rest: np.ndarray | None = None,
    options: MatchOptions = MatchOptions(),
    start: np.ndarray | torch.Tensor | None = None,
    progress: Progress = lambda fraction, message: None,
    cancelled: Cancelled = lambda: False,
) -> MatchDecision:
    """Fit every stem's console chain so the mix takes on the reference's style.

    ``stems``: each (n, 2) (or (n,) mono, played as dual mono), pre-fader, without our plug-ins.
    ``reference``: (m, 2) at ``sample_rate``. ``current``: per stem, its fader/pan and our
    MultiEQ/OmniCompressor values now (empty dicts when absent). ``rest``: (n, 2), everything
    else reaching the master (fixed). ``start``: physical console parameters (S, 25) to start
    from instead of equal loudness (rows of silent stems are ignored). Raises
    :class:`MatchError` for unusable input and :class:`MatchCancelled` when cancelled.
    """
    with torch_threads(1):  # measured: a second intra-op thread costs 20x the CPU time on a
        # busy 2-core machine (OpenMP threads spin while they wait), and saves little idle
        return _match(list(stems), reference, sample_rate, list(current),
                      list(names) if names is not None else None, rest, options, start,
                      progress, cancelled)


def _left_out_reason(loudness: float) -> str | None:
    """Why a stem of this integrated loudness (before its fader) is not matched, or None."""
    if not loudness > SILENT_LUFS:
        return "silent (below -70 LUFS)"
    if loudness > LOUDEST_STEM_LUFS:
        return (f"far too loud ({loudness:+.0f} LUFS before its fader, more than "
                f"{LOUDEST_STEM_LUFS:+.0f}): check its media and item gains")
    return None


def _match(stems: list[np.ndarray], reference: np.ndarray, sample_rate: int,
           current: list[WrittenStem], names: list[str] | None, rest: np.ndarray | None,
           options: MatchOptions, start: np.ndarray | torch.Tensor | None, progress: Progress,
           cancelled: Cancelled) -> MatchDecision:
    clock = {"start": time.monotonic()}
    meter = LoudnessMeter(sample_rate)
    names = list(names) if names is not None else [f"stem {i + 1}" for i in range(len(stems))]
    if len(current) != len(stems) or len(names) != len(stems):
        raise ValueError("stems, current and names must have one entry per stem")
    if not stems:
        raise MatchError("no stems to match")
    stereo = [_as_stereo(stem) for stem in stems]
    if len({s.shape[0] for s in stereo} | ({rest.shape[0]} if rest is not None else set())) > 1:
        raise ValueError("stems (and rest) must have one length")
    reference_lufs = _validate_reference(reference, sample_rate, meter)
    progress(0.02, "measuring stems")
    with ThreadPoolExecutor(THREADS) as pool:  # the meter's filter runs without the GIL
        loudness = list(pool.map(partial(_loudness, meter), stereo))
    left_out = {i: _left_out_reason(value) for i, value in enumerate(loudness)}
    active = [i for i, reason in left_out.items() if reason is None]
    if all(not value > SILENT_LUFS for value in loudness):
        raise MatchError("every stem is silent (below -70 LUFS): nothing to match; check that "
                         "the stems' items play and their media are online")
    if not active:
        raise MatchError("no stem can be matched: " + "; ".join(
            f"{names[i]} is {reason}" for i, reason in left_out.items()) + "; check that the "
            "stems' items play, their media are online and their gains are sane")
    input_gain = np.array([STEM_LUFS - loudness[i] for i in active])
    warnings: list[str] = []
    current_rows = []
    for row, i in enumerate(active):
        params, warning = _current_params(current[i], float(input_gain[row]))
        current_rows.append(params)
        if warning:
            warnings.append(f"{names[i]}: {warning}")
    current_physical = torch.stack(current_rows)
    active_stems = [stereo[i] for i in active]
    rest64 = None if rest is None or not np.any(rest) else rest

    progress(0.05, "analysing the current mix and the reference")
    before_mix = render_song(active_stems, current_physical, input_gain, sample_rate, rest64)
    before_lufs = _loudness(meter, before_mix)
    target_lufs = reference_lufs if options.match_loudness else before_lufs
    grid = SpectralGrid.create(sample_rate)
    windows = select_windows(before_mix, options.windows, options.window_length)
    if not windows:
        raise MatchError("the stems are silent in every analysis window: nothing to match")
    reference_windows = select_windows(reference, options.windows, options.window_length)
    reference_audio = torch.from_numpy(np.asarray(reference).T)  # a view: windows are sliced
    reference_features = stereo_features(reference_audio, reference_windows, grid)
    before_features = stereo_features(torch.from_numpy(before_mix.T), windows, grid)
    segment = min(SEGMENT, min(b - a for a, b in windows))
    reference_segments = [reference_audio[:, (a + b - segment) // 2:][:, :segment].numpy()
                          for a, b in reference_windows]

    def token_windows():  # one window of every stem's tokens at a time (memory)
        for a, b in windows:
            block = np.stack([stem[a:b].T for stem in active_stems])  # (S, 2, L)
            block = block.reshape(-1, b - a)
            if rest64 is not None:
                block = np.concatenate([block, rest64[a:b].T])
            yield torch.from_numpy(block.astype(np.float64))

    cross = _pooled_cross(token_windows(), grid)
    level_target = float(before_features["level_db"]) + (target_lufs - before_lufs)
    clock["analysis"] = time.monotonic()

    neutral = P.neutral(len(active), pans=current_physical[:, P.PAN].numpy())
    if start is not None:
        start_physical = torch.as_tensor(np.asarray(start, np.float64))[active].clone()
        start_used = "given"
    elif options.start == "model":
        progress(0.12, "predicting the start point (MatchNet)")
        start_physical, start_used = _model_start(active_stems, input_gain, reference,
                                                  sample_rate, options.fit, neutral), "model"
    else:
        start_physical, start_used = neutral, "neutral"
    clock["model"] = time.monotonic()
    bounds = _fit_bounds(input_gain)
    start_physical = torch.minimum(torch.maximum(start_physical, bounds.low), bounds.high)
    problem = _Problem(active_stems, rest64, sample_rate, input_gain, grid, cross,
                       subband_cross(cross, grid), windows,
                       reference_features, reference_segments, level_target, bounds,
                       clock["analysis"] + options.budget_s, cancelled, options.steps)
    if options.fit != "start" and options.budget_s > 0:  # the dynamics phase fits
        start_physical[:, P.RATIO] = 1.0  # compressors from off (its own rule)
    with torch.no_grad():  # the start point's spectral distances (its compressors left out)
        start_features = _spectral_features(problem, start_physical,
                                            torch.zeros(len(active), dtype=torch.float64))
    steps = {"spectral": 0, "dynamics": 0}
    fitted = start_physical.clone()
    if options.fit != "start" and problem.deadline > time.monotonic():
        progress(0.15, "fitting gains, pans and EQ to the reference")
        no_compression = torch.zeros(len(active), dtype=torch.float64)
        share = (problem.deadline - time.monotonic()) * (0.6 if options.fit == "full" else 1.0)
        fitted, steps["spectral"] = _spectral_phase(problem, start_physical, no_compression,
                                                    options.fit == "full", share)
    clock["spectral"] = time.monotonic()
    if options.fit == "full" and problem.deadline > time.monotonic():
        progress(0.6, "fitting compressors to the reference's dynamics")
        remaining = max(0.5, problem.deadline - time.monotonic())
        fitted, steps["dynamics"] = _dynamics_phase(problem, fitted, remaining)
    clock["dynamics"] = time.monotonic()

    progress(0.85, "rendering the matched mix")
    if options.fit != "start":  # bands that barely move are switched off (a clearer plug-in)
        gains = fitted[:, P.EQ_GAINS]
        fitted[:, P.EQ_GAINS] = torch.where(gains.abs() < MIN_BAND_DB, 0.0, gains)
    written = [to_written(fitted[row], float(input_gain[row])) for row in range(len(active))]
    exact = torch.stack([from_written(w, float(input_gain[row])) for row, w in enumerate(written)])
    stems_mix = render_song(active_stems, exact, input_gain, sample_rate)
    shift = _shift_to(meter, stems_mix, rest64, target_lufs)
    exact[:, P.GAIN] += shift
    final_rows = []
    for row in range(len(active)):
        applied = _apply_amount(current_physical[row], exact[row], options.amount,
                                float(input_gain[row]))
        final_rows.append(from_written(to_written(applied, float(input_gain[row])),
                                       float(input_gain[row])))
    final = torch.stack(final_rows)
    if options.amount == 0.0:  # nothing moves: what is there stays, plug-ins included
        final, after_mix = current_physical, before_mix
    elif options.amount == 1.0:
        after_mix = stems_mix
        after_mix *= np.float32(10 ** (shift / 20))
        if rest64 is not None:
            after_mix += rest64
    else:
        after_mix = render_song(active_stems, final, input_gain, sample_rate, rest64)
    after_features = stereo_features(torch.from_numpy(after_mix.T), windows, grid)
    clock["final"] = time.monotonic()

    results = []
    for i, name in enumerate(names):
        if i not in active:
            results.append(StemMatch(name, False, left_out[i], None, None, current[i],
                                     current[i]))
            continue
        row = active.index(i)
        after = current[i] if options.amount == 0.0 else to_written(final[row],
                                                                    float(input_gain[row]))
        results.append(StemMatch(name, True, None, loudness[i], float(input_gain[row]),
                                 current[i], after, final[row].tolist()))
    marks = ["start", "analysis", "model", "spectral", "dynamics", "final"]
    seconds = {mark: clock[mark] - clock[previous] for previous, mark in zip(marks, marks[1:])}
    return MatchDecision(
        stems=results,
        reference_lufs=reference_lufs,
        before_lufs=before_lufs,
        after_lufs=_loudness(meter, after_mix),
        target_lufs=target_lufs,
        level_shift_db=float(shift) if options.amount > 0 else 0.0,
        features={"reference": _plain(reference_features), "before": _plain(before_features),
                  "after": _plain(after_features)},
        distances={"before": feature_distances(before_features, reference_features),
                   "start": feature_distances(start_features, reference_features),
                   "after": feature_distances(after_features, reference_features)},
        steps=steps,
        seconds=seconds,
        warnings=warnings,
        budget_s=options.budget_s,
        trace=[{"phase": phase, "seconds": round(at, 4), "loss": value}
               for phase, at, value in problem.trace],
        prediction=after_mix,
        changed=options.amount > 0,
        start=start_used,
    )


def _model_start(stems: list[np.ndarray], input_gain_db: np.ndarray, reference: np.ndarray,
                 sample_rate: int, fit: str, neutral: torch.Tensor) -> torch.Tensor:
    """MatchNet's prediction as the start point; a faders-only fit takes its gains and pans
    alone (the EQ and compressor stay neutral, as that fit never moves them)."""
    from ..models.match_net import predict

    predicted = predict(stems, input_gain_db, reference, sample_rate)
    if fit != "faders":
        return predicted
    out = neutral.clone()
    out[:, [P.GAIN, P.PAN]] = predicted[:, [P.GAIN, P.PAN]]
    return out


def _as_stereo(stem: np.ndarray) -> np.ndarray:
    audio = np.asarray(stem)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.ndim != 2 or audio.shape[1] not in (1, 2):
        raise ValueError(f"a stem must be (samples,) or (samples, 1 or 2), got {audio.shape}")
    return np.repeat(audio, 2, axis=1) if audio.shape[1] == 1 else audio


def _pooled_cross(segments: Iterator[torch.Tensor], grid: SpectralGrid) -> CrossSpectra:
    """Cross-spectra of each window's tokens, summed; two windows at a time, one per core
    (torch releases the GIL inside its operations, each runs on one intra-op thread), and no
    more than two windows of tokens in memory."""
    total: CrossSpectra | None = None
    with ThreadPoolExecutor(THREADS) as pool:
        while batch := list(itertools.islice(segments, THREADS)):
            for part in pool.map(lambda x: cross_spectra(x, [(0, x.shape[1])], grid), batch):
                total = part if total is None else total + part
    assert total is not None
    return total
