"""Mix lead vocal: the pure decision. A vocal and its backing in, the settings of MultiEQ →
OmniCompressor → FdnReverb and the vocal's fader out (algorithms.md C).

One interface, three methods (each decides the stages in chain order on the audio the previous
stages produced, C.1 and C.4):

* ``prior`` (default): the DiffVox presets' Gaussian prior mapped to the IEM plug-ins, fitted to
  this song (:mod:`.vocal_prior`);
* ``rules``: Li & Lerch's baseline, C.3 [product] (:mod:`.vocal_rules`);
* ``cnn``: the paper's four networks, trained by us (:mod:`.vocal_cnn`).

The level is decided last, on the processed vocal rendered through our emulations: the fader is
the gain that puts the processed vocal's integrated loudness (BS.1770) at the method's target
relative to the backing's. Audio is ``(samples,)`` or ``(samples, channels)`` with one or two
channels; a mono signal counts as dual mono, as REAPER plays a mono item on a stereo track.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from ..analysis.loudness import LoudnessMeter
from ..analysis.tempo import estimate_tempo
from ..iem import FDNREVERB, MULTIEQ, OMNICOMPRESSOR
from ..jsonable import jsonable
from ..session import FADER_MAX_DB, FADER_MIN_DB
from . import vocal_rules
from .vocal_chain import (
    REVERB_MODES,
    Stage,
    VocalChain,
    apply_compressor,
    apply_eq,
    apply_reverb,
    measure,
    render,
    scaled,
    to_send,
)

METHODS: tuple[str, ...] = ("prior", "rules", "cnn")
DEFAULT_METHOD = "prior"
MIN_DURATION_S = 5.0
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 22050, 192000
SILENCE_LUFS = -70.0

Progress = Callable[[float, str], None]


class VocalInputError(ValueError):
    """Audio the vocal decision cannot use; the message names the signal and what to do."""


@dataclass
class Level:
    """A method's level decision: vocal-minus-backing target and where the number comes from."""

    target_lu: float
    source: str
    details: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class VocalContext:
    """What every method may look at: the input signals (stereo float32, same length)."""

    vocal: np.ndarray
    backing: np.ndarray
    sample_rate: int
    backing_lufs: float
    vocal_lufs: float
    vocal_lra: float
    tempo: float | None = None
    tempo_source: str = ""
    #: measure() of the processed vocal (pre-fader), set before level(); measured on another
    #: thread while level() runs, so reading it may wait
    processed: Future | None = field(default=None, repr=False)

    @property
    def processed_lufs(self) -> float:
        return self.processed.result()[0] if self.processed is not None else math.nan

    @property
    def processed_lra(self) -> float:
        return self.processed.result()[1] if self.processed is not None else math.nan

    def tempo_bpm(self) -> float:
        """The song's tempo: the given one, else estimated from the backing (once)."""
        if self.tempo is None:
            self.tempo = estimate_tempo(self.backing, self.sample_rate)
            self.tempo_source = "estimated from the backing's onsets"
        return self.tempo


class VocalMethod(Protocol):
    """The four stages of a method, called in chain order."""

    name: str

    def eq(self, ctx: VocalContext) -> Stage: ...

    def compressor(self, ctx: VocalContext, vocal: np.ndarray) -> Stage: ...

    def reverb(self, ctx: VocalContext, vocal: np.ndarray) -> Stage: ...

    def level(self, ctx: VocalContext, vocal: np.ndarray) -> Level: ...


@dataclass
class VocalDecision:
    """Everything the vocal action writes and reports. Levels are vocal minus backing (LU,
    BS.1770 integrated loudness); LRA per EBU Tech 3342 (LU)."""

    method: str
    sample_rate: int
    chain: VocalChain
    fader_before_db: float
    fader_db: float
    level_before_lu: float
    level_after_lu: float
    level_target_lu: float
    level_target_source: str
    lra_before_lu: float
    lra_after_lu: float
    backing_lufs: float
    tempo_bpm: float | None
    tempo_source: str
    amount: float
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def gain_db(self) -> float:
        """The fader change."""
        return self.fader_db - self.fader_before_db

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["chain"] = {
            "reverb_mode": self.chain.reverb_mode,
            "send_gain_db": self.chain.send_gain_db,
            "plugins": {name: describe_params(name, values)
                        for name, values in self.chain.params().items()},
        }
        return jsonable(data)


def describe_params(plugin: str, values: Mapping[str, float]) -> list[dict[str, Any]]:
    """Each parameter in the plug-in's index order: id, name, value, the plug-in's text, unit."""
    spec = {MULTIEQ.name: MULTIEQ, OMNICOMPRESSOR.name: OMNICOMPRESSOR,
            FDNREVERB.name: FDNREVERB}[plugin]
    return [{"index": p.index, "id": p.id, "name": p.name, "value": values[p.id],
             "text": p.text(values[p.id]), "unit": p.unit} for p in spec.params]


# ------------------------------------------------------------------------------- deciding
def decide_vocal(
    vocal: np.ndarray,
    backing: np.ndarray | Future,
    sample_rate: int,
    *,
    method: str = DEFAULT_METHOD,
    tempo: float | None = None,
    tempo_source: str = "given",
    reverb: str = "insert",
    fader_db: float = 0.0,
    amount: float = 1.0,
    played: np.ndarray | None = None,
    names: tuple[str, str] = ("vocal", "backing"),
    progress: Progress = lambda fraction, message: None,
) -> VocalDecision:
    """Decide the vocal chain and fader for ``vocal`` (pre-fader, before our plug-ins) over
    ``backing`` (as it reaches the master).

    ``fader_db`` is the vocal's current fader; ``played`` (optional) is the vocal as it plays
    now, pre-fader (e.g. with an earlier AutoMix chain), for the "before" figures; ``amount``
    (0…1) moves every setting that far from transparent and the fader that far from where it
    is. ``tempo`` in BPM (None: estimated from the backing when a method needs it).
    ``backing`` may be a Future that will hold it (e.g. a render in progress): the vocal is
    measured meanwhile.
    """
    if method not in METHODS:
        raise ValueError(f"unknown vocal method {method!r}; choose one of {', '.join(METHODS)}")
    if reverb not in REVERB_MODES:
        raise ValueError(f"reverb must be one of {', '.join(REVERB_MODES)}, not {reverb!r}")
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount must lie in 0…100 %, not {amount * 100:g} %")
    # Two helper threads (the machine's second core): the backing is made ready (rendered, when
    # a Future, and measured) and the method set up while this thread measures the vocal; at
    # the end the processed vocal is measured while the method decides the level.
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="vocal-decision")
    try:
        implementation = pool.submit(method_implementation, method)
        ctx = _context(vocal, backing, sample_rate, tempo, tempo_source, names, pool)
        impl = implementation.result()
        before = (None if played is None else
                  pool.submit(lambda: measure(_stereo(played, names[0], sample_rate),
                                              sample_rate)))
        notes: list[str] = []
        details: dict[str, Any] = {}

        progress(0.05, f"{method}: EQ")
        eq = impl.eq(ctx)
        after_eq = apply_eq(ctx.vocal, sample_rate, eq.params)
        progress(0.3, f"{method}: compression")
        comp = impl.compressor(ctx, after_eq)
        after_comp = (comp.output if comp.output is not None
                      else apply_compressor(after_eq, sample_rate, comp.params))
        progress(0.6, f"{method}: reverb")
        rev = impl.reverb(ctx, after_comp)
        reverb_params, send_db = rev.params, None
        if reverb == "send":
            reverb_params, send_db = to_send(rev.params, sample_rate)
        chain = VocalChain(eq.params, comp.params, reverb_params, reverb, send_db)
        for name, stage in (("eq", eq), ("compressor", comp), ("reverb", rev)):
            details[name] = stage.details
            notes.extend(stage.notes)
        if amount < 1.0:
            chain = scaled(chain, amount)
            processed = render(ctx.vocal, sample_rate, chain)
        else:
            processed = apply_reverb(after_comp, sample_rate, chain)
        progress(0.8, f"{method}: level")
        ctx.processed = pool.submit(measure, processed, sample_rate)
        deciding = pool.submit(impl.level, ctx, processed)
        if not math.isfinite(ctx.processed_lufs):  # said before whatever level() made of it
            raise VocalInputError(f"{names[0]}: silent after processing; nothing to balance")
        level = deciding.result()
        details["level"] = level.details
        notes.extend(level.notes)

        if before is None:
            before_lufs, lra_before = ctx.vocal_lufs, ctx.vocal_lra
        else:
            before_lufs, lra_before = before.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    after_lufs, lra_after = ctx.processed_lufs, ctx.processed_lra
    full_fader = level.target_lu - (after_lufs - ctx.backing_lufs)
    fader = fader_db + amount * (full_fader - fader_db)
    moved_db = 0.0
    if fader > FADER_MAX_DB:
        fader, moved_db = _makeup_for_fader_top(chain, fader, notes)
    fader = max(fader, FADER_MIN_DB)
    progress(1.0, "done")
    return VocalDecision(
        method=method, sample_rate=sample_rate, chain=chain, fader_before_db=fader_db,
        fader_db=fader, level_before_lu=before_lufs + fader_db - ctx.backing_lufs,
        level_after_lu=after_lufs + moved_db + fader - ctx.backing_lufs, level_target_lu=level.target_lu,
        level_target_source=level.source, lra_before_lu=lra_before, lra_after_lu=lra_after,
        backing_lufs=ctx.backing_lufs, tempo_bpm=ctx.tempo, tempo_source=ctx.tempo_source,
        amount=amount, details=details, notes=notes,
    )


def _makeup_for_fader_top(chain: VocalChain, fader: float,
                          notes: list[str]) -> tuple[float, float]:
    """Move what the fader cannot give (above REAPER's +12 dB top) into OmniCompressor's
    make-up gain: a linear gain after the gain computer and before the reverb, so the vocal
    sounds the same. Returns the fader left and the dB moved."""
    makeup = OMNICOMPRESSOR.param("outGain")
    current = chain.omnicompressor["outGain"]
    wanted = current + fader - FADER_MAX_DB
    steps_up = math.ceil((wanted - makeup.start) / makeup.step - 1e-6)  # the fader ends ≤ top
    chain.omnicompressor["outGain"] = makeup.snap(min(makeup.start + steps_up * makeup.step,
                                                      makeup.end))
    moved = chain.omnicompressor["outGain"] - current
    fader -= moved
    notes.append(f"level: {fader + moved:+.1f} dB is above REAPER's +{FADER_MAX_DB:g} dB fader "
                 f"top; {moved:+.1f} dB went into the compressor's make-up gain")
    if fader > FADER_MAX_DB + 1e-9:
        notes.append(f"level: still {fader - FADER_MAX_DB:.1f} dB short at the fader top and "
                     "full make-up: raise the vocal's clip gain")
        fader = FADER_MAX_DB
    return fader, moved


def method_implementation(method: str) -> VocalMethod:
    if method == "rules":
        return RulesMethod()
    if method == "prior":
        from .vocal_prior import PriorMethod

        return PriorMethod()
    from .vocal_cnn import CnnMethod

    return CnnMethod()


class RulesMethod:
    """Li & Lerch's baseline (C.3 [product])."""

    name = "rules"

    def eq(self, ctx: VocalContext) -> Stage:
        return vocal_rules.masking_eq(ctx.vocal, ctx.backing, ctx.sample_rate)

    def compressor(self, ctx: VocalContext, vocal: np.ndarray) -> Stage:
        return vocal_rules.compression_search(vocal, ctx.sample_rate)

    def reverb(self, ctx: VocalContext, vocal: np.ndarray) -> Stage:
        stage = vocal_rules.tempo_reverb(ctx.tempo_bpm())
        stage.notes.insert(0, f"reverb: {stage.params['revTime']:.1f} s for "
                              f"{ctx.tempo:.0f} BPM ({ctx.tempo_source})")
        return stage

    def level(self, ctx: VocalContext, vocal: np.ndarray) -> Level:
        return Level(vocal_rules.LEVEL_TARGET_LU, vocal_rules.LEVEL_SOURCE)


# ------------------------------------------------------------------------------- inputs
def _context(vocal: np.ndarray, backing: np.ndarray | Future, sample_rate: int,
             tempo: float | None, tempo_source: str, names: tuple[str, str],
             pool: Executor) -> VocalContext:
    """The checked inputs and their loudness; the backing's side (waiting for it, when a
    Future, then checking and measuring it) runs on ``pool`` while this thread measures the
    vocal. The errors come in the order of the checks, whichever side finishes first."""
    if not isinstance(sample_rate, (int, np.integer)) or not (
            MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE):
        raise VocalInputError(
            f"sample rate {sample_rate!r} Hz is not supported: use a project rate between "
            f"{MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} Hz (44100 or 48000 are typical)")
    v = _stereo(vocal, names[0], sample_rate)

    def backing_side() -> tuple[np.ndarray, float]:
        b = _stereo(backing.result() if isinstance(backing, Future) else backing, names[1],
                    sample_rate)
        return b, LoudnessMeter(sample_rate).integrated(b)

    prepared = pool.submit(backing_side)
    vocal_lufs, vocal_lra = measure(v, sample_rate)
    b, backing_lufs = prepared.result()
    if v.shape[0] != b.shape[0]:
        raise VocalInputError(f"{names[0]} ({v.shape[0]} samples) and {names[1]} "
                              f"({b.shape[0]} samples) must have the same length")
    if not vocal_lufs > SILENCE_LUFS:
        raise VocalInputError(f"{names[0]} is silent (integrated loudness "
                              f"{vocal_lufs:.1f} LUFS): check its items, mutes and media")
    if not backing_lufs > SILENCE_LUFS:
        raise VocalInputError(f"{names[1]} is silent: the vocal needs a backing to be mixed "
                              "against (unmute tracks or choose them with --backing)")
    if tempo is not None and not (math.isfinite(tempo) and tempo > 0):
        raise VocalInputError(f"tempo must be a positive number of BPM, not {tempo}")
    return VocalContext(v, b, int(sample_rate), backing_lufs, vocal_lufs, vocal_lra, tempo,
                        tempo_source if tempo is not None else "")


def _stereo(audio: np.ndarray, name: str, sample_rate: int) -> np.ndarray:
    array = np.asarray(audio)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] not in (1, 2):
        raise VocalInputError(f"{name}: expected mono or stereo audio shaped (samples,) or "
                              f"(samples, channels), got {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise VocalInputError(f"{name}: audio must be float, got {array.dtype}")
    if array.shape[0] < MIN_DURATION_S * sample_rate:
        raise VocalInputError(f"{name} is {array.shape[0] / sample_rate:.2f} s long; the vocal "
                              f"decision needs at least {MIN_DURATION_S:g} s of audio")
    if not np.isfinite(array).all():
        raise VocalInputError(f"{name}: audio contains NaN or infinite samples")
    if array.shape[1] == 1:
        array = np.repeat(array, 2, axis=1)
    return np.ascontiguousarray(array, dtype=np.float32)
