"""The lead-vocal chain MultiEQ → OmniCompressor → FdnReverb (→ fader): settings, rendering
through our emulations, and the measurements the vocal decisions share.

* Settings are complete plain-value dicts, on the plug-ins' grids, exactly as written
  (:func:`reaper_automix.iem.writable_params`: FdnReverb revTime 5.0 becomes 5.1).
* FdnReverb with static parameters is linear and time-invariant, so a long vocal is rendered by
  convolving with the plug-in emulation's own 2×2 impulse response, truncated where its tail has
  decayed by 100 dB (iem.md 8.6): exact to about −100 dB, and a 3-minute vocal takes a second
  instead of minutes.
* The reverb can sit on the vocal as an insert (dry/wet) or on a return track fed by a post-fader
  send. The plug-in's wet signal contains the direct sound (iem.md 8.1), so a 100 %-wet return
  would add the vocal a second time: the return uses a short fade-in (the plug-in's subtracted
  second network), which cancels the direct path exactly and leaves the tail.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TypeVar

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft

from ..analysis.loudness import LoudnessMeter, gated_loudness, loudness_range_of, power_to_lufs
from ..iem import FDNREVERB, MULTIEQ, OMNICOMPRESSOR, process, writable_params
from ..iem.fdnreverb import LINE_COUNTS, delay_lengths, effective_t60
from ..iem.multieq import sections
from ..iem.params import PluginSpec
from ..iem.state import insert_defaults

REVERB_MODES = ("insert", "send")
#: Fade-in of a send return: cancels the direct path; 60 dB down after 20 ms.
SEND_FADE_IN_S = 0.02
IR_FLOOR_DB = 100.0  # impulse responses run until the tail has decayed this far
MAX_IR_S = 30.0
T = TypeVar("T")


@dataclass
class VocalChain:
    """Settings of the three plug-ins (complete, on the grid) and how the reverb is wired."""

    multieq: dict[str, float]
    omnicompressor: dict[str, float]
    fdnreverb: dict[str, float]
    reverb_mode: str = "insert"
    send_gain_db: float | None = None  # send mode: level of the post-fader send to the return

    def __post_init__(self) -> None:
        if self.reverb_mode not in REVERB_MODES:
            raise ValueError(f"reverb mode {self.reverb_mode!r}: use one of {REVERB_MODES}")
        self.multieq = complete(MULTIEQ, self.multieq)
        self.omnicompressor = complete(OMNICOMPRESSOR, self.omnicompressor)
        self.fdnreverb = complete(FDNREVERB, self.fdnreverb)

    def params(self) -> dict[str, dict[str, float]]:
        return {MULTIEQ.name: dict(self.multieq), OMNICOMPRESSOR.name: dict(self.omnicompressor),
                FDNREVERB.name: dict(self.fdnreverb)}


def complete(plugin: str | PluginSpec, params: Mapping[str, float]) -> dict[str, float]:
    """Every parameter of a new instance holding ``params``, as it will be written."""
    return writable_params(plugin, {**insert_defaults(plugin), **params})


# ---------------------------------------------------------------------------- neutral
#: Exactly transparent settings: MultiEQ band 1 a 0 dB low shelf, bands 2–5 0 dB peaks, band 6 a
#: 0 dB high shelf; OmniCompressor at 1:1; FdnReverb fully dry (its dry path is the input).
NEUTRAL_EQ: dict[str, float] = {
    "filterType0": 3.0, "filterGain0": 0.0, "filterType5": 3.0, "filterGain5": 0.0,
    **{f"filterType{b}": 1.0 for b in range(1, 5)}, **{f"filterGain{b}": 0.0 for b in range(1, 5)},
}
NEUTRAL_COMPRESSOR: dict[str, float] = {"ratio": 1.0, "threshold": 0.0, "outGain": 0.0,
                                        "knee": 0.0, "lookAhead": 0.0, "orderSetting": 0.0}
NEUTRAL_REVERB: dict[str, float] = {"dryWet": 0.0, "fadeInTime": 0.0}


# ---------------------------------------------------------------------------- rendering
def is_dual_mono(audio: np.ndarray) -> bool:
    return audio.ndim == 2 and audio.shape[1] == 2 and np.array_equal(audio[:, 0], audio[:, 1])


def _per_channel(plugin: PluginSpec, audio: np.ndarray, sample_rate: int,
                 params: Mapping[str, float]) -> np.ndarray:
    """The plug-in on ``audio``; a dual-mono input is processed once: MultiEQ filters every
    channel alike, and OmniCompressor (64-channel layout) gives both the gain keyed from L."""
    if is_dual_mono(audio):
        out = process(plugin, params, np.ascontiguousarray(audio[:, :1]), sample_rate)
        return np.repeat(out, 2, axis=1)
    return process(plugin, params, audio, sample_rate)


def apply_eq(audio: np.ndarray, sample_rate: int, params: Mapping[str, float]) -> np.ndarray:
    return _per_channel(MULTIEQ, audio, sample_rate, params)


def apply_compressor(audio: np.ndarray, sample_rate: int,
                     params: Mapping[str, float]) -> np.ndarray:
    return _per_channel(OMNICOMPRESSOR, audio, sample_rate, params)


def measure(audio: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """Integrated loudness (LUFS) and loudness range (LU) from one K-weighting pass; a dual-mono
    signal is measured on one channel of weight 2 (the same BS.1770 sum, half the work)."""
    if is_dual_mono(audio):
        profile = LoudnessMeter(sample_rate, channel_weights=[2.0]).profile(audio[:, :1])
    else:
        profile = LoudnessMeter(sample_rate).profile(audio)
    short_term = power_to_lufs(profile.window_power(3.0))
    return gated_loudness(profile), loudness_range_of(short_term)


def reverb_impulse_responses(params: Mapping[str, float], sample_rate: int, *,
                             centred: bool = False) -> np.ndarray:
    """(2 inputs, n, 2 outputs) impulse responses of FdnReverb as a fresh instance plays
    ``params`` (direct path included), long enough for the tail to fall by 100 dB. With
    ``centred`` one run answers for a dual-mono input: (1, n, 2), both inputs summed."""
    values = FDNREVERB.complete(params)
    return _impulse_responses(tuple(sorted(values.items())), int(sample_rate), centred).copy()


@lru_cache(maxsize=8)
def _impulse_responses(values: tuple[tuple[str, float], ...], sample_rate: int,
                       centred: bool) -> np.ndarray:
    params = dict(values)
    inputs = _impulses(centred)
    if params["fadeInTime"] > 0:  # the fade-in network is subtracted after the dry/wet mix
        return _network_responses(values, sample_rate, centred)
    # One network: the plug-in's output is wet·d + (1 − wet)·x in float32 with d independent
    # of the mix, so the response at any dry/wet is the 100 %-wet one (d exactly) times wet
    # plus the scaled impulse: bit for bit what running the network at that dry/wet gives,
    # and one network run serves every dry/wet (the prior fits the mix after measuring it).
    full = _network_responses(tuple(sorted({**params, "dryWet": 1.0}.items())), sample_rate,
                              centred)
    wet = np.float32(params["dryWet"])
    responses = full * wet
    for number, gains in enumerate(inputs):
        responses[number, 0] += (np.float32(1.0) - wet) * np.asarray(gains, np.float32)
    return responses


def _impulses(centred: bool) -> tuple[list[float], ...]:
    return ([1.0, 1.0],) if centred else ([1.0, 0.0], [0.0, 1.0])


@lru_cache(maxsize=8)
def _network_responses(values: tuple[tuple[str, float], ...], sample_rate: int,
                       centred: bool) -> np.ndarray:
    """The emulation's responses to impulses on each input (two inputs on two threads)."""
    params = dict(values)
    length = ir_length(params, sample_rate)

    def response(gains: list[float]) -> np.ndarray:
        impulse = np.zeros((length, 2), np.float32)
        impulse[0] = gains
        return process(FDNREVERB, params, impulse, sample_rate)

    runs = concurrently(*(lambda gains=gains: response(gains) for gains in _impulses(centred)))
    return np.stack(runs)


def ir_length(params: Mapping[str, float], sample_rate: int) -> int:
    """Samples until the slowest-decaying frequency has fallen by IR_FLOOR_DB (≤ MAX_IR_S)."""
    values = FDNREVERB.complete(params)
    t60 = max_t60(values, sample_rate)
    fade = values["fadeInTime"]
    lines = delay_lengths(values["delayLength"], LINE_COUNTS[int(values["fdnSize"])], sample_rate)
    seconds = max(t60, fade) * IR_FLOOR_DB / 60.0 + lines.max() / sample_rate
    return int(math.ceil(min(seconds, MAX_IR_S) * sample_rate))


def t60_curve(params: Mapping[str, float], freqs: np.ndarray, sample_rate: int) -> np.ndarray:
    """The plug-in's decay time at ``freqs`` (its own T60 display, iem.md 8.3), in seconds."""
    values = FDNREVERB.complete(params)
    rt = effective_t60(values["revTime"])
    decay_per_s = 10.0 ** (-3.0 / rt)
    magnitude = np.ones_like(freqs, dtype=float)
    for band, kind in (("low", "lowshelf"), ("high", "highshelf")):
        gain = 10.0 ** (values[f"{band}Gain"] / 20.0)  # per second of travel
        magnitude *= _shelf_magnitude(kind, values[f"{band}Cutoff"], values[f"{band}Q"], gain,
                                      freqs, sample_rate)
    per_second = magnitude * decay_per_s
    with np.errstate(divide="ignore"):
        return np.where(per_second < 1.0, -3.0 / np.log10(per_second), np.inf)


def _shelf_magnitude(kind: str, cutoff: float, q: float, linear_gain: float, freqs: np.ndarray,
                     sample_rate: int) -> np.ndarray:
    a = math.sqrt(linear_gain)
    w = 2.0 * math.pi * max(min(cutoff, sample_rate / 2.0), 2.0) / sample_rate
    c, beta = math.cos(w), math.sin(w) * math.sqrt(a) / q
    sign = -1.0 if kind == "lowshelf" else 1.0
    b = [a * ((a + 1) + sign * (a - 1) * c + beta), -sign * 2 * a * ((a - 1) + sign * (a + 1) * c),
         a * ((a + 1) + sign * (a - 1) * c - beta)]
    den = [(a + 1) - sign * (a - 1) * c + beta, sign * 2 * ((a - 1) - sign * (a + 1) * c),
           (a + 1) - sign * (a - 1) * c - beta]
    return np.abs(sos_response(np.array([[*b, *den]]) / den[0], freqs, sample_rate))


def max_t60(params: Mapping[str, float], sample_rate: int) -> float:
    freqs = np.geomspace(20.0, sample_rate / 2.0 * 0.999, 256)
    return float(min(np.max(t60_curve(params, freqs, sample_rate)), MAX_IR_S))


def mean_t60(params: Mapping[str, float], sample_rate: int, low: float = 400.0,
             high: float = 4000.0) -> float:
    """Mean decay time over log-spaced frequencies in [low, high] (DiffVox's summary band)."""
    freqs = np.geomspace(low, high, 64)
    return float(np.mean(np.minimum(t60_curve(params, freqs, sample_rate), MAX_IR_S)))


@dataclass
class ReverbPath:
    """How the reverb adds to the vocal: ``h`` maps the compressed vocal to the vocal's whole
    output (dry path plus reverb; insert: the plug-in's output; send: dry + gain·return).
    ``h`` is (2 inputs, n, 2 outputs), or (1, n, 2) for a dual-mono input (inputs summed)."""

    h: np.ndarray
    direct_samples: int  # the first reflection arrives at this sample

    @property
    def centred(self) -> np.ndarray:
        """Response to a dual-mono input, (n, 2)."""
        return self.h[0] if self.h.shape[0] == 1 else self.h[0] + self.h[1]

    def reverb_to_direct_db(self) -> float:
        """Tail energy over direct energy for a centred (dual-mono) source, in dB."""
        centred = self.centred
        direct = float(np.sum(centred[: self.direct_samples].astype(np.float64) ** 2))
        tail = float(np.sum(centred[self.direct_samples :].astype(np.float64) ** 2))
        if tail <= 0:
            return -math.inf
        return 10.0 * math.log10(tail / direct) if direct > 0 else math.inf


def reverb_path(chain: VocalChain, sample_rate: int, *, centred: bool = True) -> ReverbPath:
    h = reverb_impulse_responses(chain.fdnreverb, sample_rate, centred=centred)
    h = h.astype(np.float64)
    values = chain.fdnreverb
    lines = delay_lengths(values["delayLength"], LINE_COUNTS[int(values["fdnSize"])], sample_rate)
    if chain.reverb_mode == "send":
        gain = 0.0 if chain.send_gain_db is None else 10.0 ** (chain.send_gain_db / 20.0)
        h = h * gain
        if centred:
            h[0, 0] += 1.0  # the dry track itself
        else:
            h[0, 0, 0] += 1.0
            h[1, 0, 1] += 1.0
    return ReverbPath(h, int(lines.min()))


def apply_reverb(audio: np.ndarray, sample_rate: int, chain: VocalChain) -> np.ndarray:
    """The vocal's output (pre-fader) for compressed input ``audio`` (n, 2): the convolution
    with the impulse response (exact to −100 dB) by overlap-save in float32 FFT blocks of about
    three response lengths, on two threads (float32 FFT rounding is near −120 dB)."""
    x = np.asarray(audio, dtype=np.float32)
    dual_mono = is_dual_mono(x)
    path = reverb_path(chain, sample_rate, centred=dual_mono)
    inputs = [x[:, 0]] if dual_mono else [x[:, 0], x[:, 1]]
    return convolve(inputs, path.h)


#: Overlap-save block: this many impulse-response lengths (fewest operations per sample with
#: blocks that stay in the cache; 2–4 measured alike), at least OLS_MIN_BLOCK samples.
OLS_BLOCK_FACTOR, OLS_MIN_BLOCK = 3, 1 << 16
OLS_ROWS = 8  # blocks transformed at once (bounds the temporaries to a few MB per thread)


def convolve(inputs: list[np.ndarray], h: np.ndarray) -> np.ndarray:
    """(n, outputs) float32: output o is Σ_i inputs[i] ∗ h[i, :, o], cut to the inputs' length.

    Overlap-save: input blocks of ``size`` samples overlapping by the response length m − 1,
    each transformed once and multiplied by every output's response spectrum; each inverse
    transform yields ``size − m + 1`` finished samples. The block rows are independent, so the
    two halves run on two threads (scipy.fft releases the GIL). One FFT of the whole signal
    when it is not longer than a block."""
    n, m, outputs = inputs[0].shape[0], h.shape[1], h.shape[2]
    out = np.empty((n, outputs), np.float32)
    size = next_fast_len(max(OLS_BLOCK_FACTOR * m, OLS_MIN_BLOCK), real=True)
    if n + m - 1 <= size:
        size = next_fast_len(n + m - 1, real=True)
        spectra = [rfft(signal, size) for signal in inputs]
        for o in range(outputs):
            total = sum(spectrum * rfft(h[i, :, o].astype(np.float32), size)
                        for i, spectrum in enumerate(spectra))
            out[:, o] = irfft(total, size)[:n]
        return out
    step = size - m + 1
    rows = -(-n // step)
    padded = []
    for signal in inputs:  # m − 1 zeros of history before the first block
        buffer = np.zeros(rows * step + m - 1, np.float32)
        buffer[m - 1 : m - 1 + n] = signal
        padded.append(buffer)
    responses = [[rfft(h[i, :, o].astype(np.float32), size) for o in range(outputs)]
                 for i in range(len(inputs))]

    def blocks(first: int, last: int) -> None:
        for start in range(first, last, OLS_ROWS):
            stop = min(start + OLS_ROWS, last)
            spectra = [rfft(np.lib.stride_tricks.as_strided(
                buffer[start * step :], (stop - start, size),
                (buffer.strides[0] * step, buffer.strides[0]), writeable=False), axis=1)
                for buffer in padded]
            lo, hi = start * step, min(stop * step, n)
            for o in range(outputs):
                total = spectra[0] * responses[0][o]
                for i in range(1, len(spectra)):
                    total += spectra[i] * responses[i][o]
                done = irfft(total, size, axis=1)[:, m - 1 :]
                out[lo:hi, o] = done.reshape(-1)[: hi - lo]

    half = rows // 2
    concurrently(lambda: blocks(0, half), lambda: blocks(half, rows))
    return out


def concurrently(*calls: Callable[[], T]) -> list[T]:
    """Run the calls at the same time, the last on this thread and each other on a thread of
    its own; their results in order (the first exception raised, after all have finished).
    Worth it for work that releases the GIL: NumPy, scipy.fft, the numba kernels."""
    if len(calls) == 1:
        return [calls[0]()]
    with ThreadPoolExecutor(max_workers=len(calls) - 1, thread_name_prefix="vocal") as pool:
        futures = [pool.submit(call) for call in calls[:-1]]
        try:
            last = calls[-1]()
        finally:
            wait(futures)
        return [*(future.result() for future in futures), last]


def render(audio: np.ndarray, sample_rate: int, chain: VocalChain) -> np.ndarray:
    """The vocal through the whole chain, pre-fader (send mode: dry plus return)."""
    x = apply_eq(audio, sample_rate, chain.multieq)
    x = apply_compressor(x, sample_rate, chain.omnicompressor)
    return apply_reverb(x, sample_rate, chain)


def to_send(insert: Mapping[str, float], sample_rate: int) -> tuple[dict[str, float], float]:
    """The return-track settings and send gain (dB) that give the same reverb-to-direct ratio
    as the insert setting ``insert``: 100 % wet, a fade-in that cancels the direct path."""
    values = complete(FDNREVERB, insert)
    send = complete(FDNREVERB, {**values, "dryWet": 1.0,
                                "fadeInTime": max(values["fadeInTime"], SEND_FADE_IN_S)})
    target, unit = concurrently(  # two network runs at once
        lambda: reverb_path(VocalChain({}, {}, values), sample_rate).reverb_to_direct_db(),
        lambda: reverb_path(VocalChain({}, {}, send, "send", 0.0), sample_rate))
    return send, _send_gain_db(target, unit)


def _send_gain_db(target_db: float, unit: ReverbPath) -> float:
    """Send gain giving ``target_db`` of reverb over direct, where ``unit`` is the path at 0 dB
    send (the return's own leftover direct sound is negligible after the fade-in)."""
    centred = unit.centred
    dry = np.zeros_like(centred)
    dry[0] = [1.0, 1.0]
    ret = centred - dry
    direct = 2.0  # the dry dual-mono impulse on two channels
    tail = float(np.sum(ret[unit.direct_samples:] ** 2))
    if not math.isfinite(target_db) or tail <= 0:
        return -math.inf
    return 10.0 * math.log10(10.0 ** (target_db / 10.0) * direct / tail)


# ---------------------------------------------------------------------------- EQ response
def eq_response_db(params: Mapping[str, float], freqs: np.ndarray, sample_rate: int) -> np.ndarray:
    """MultiEQ's magnitude response in dB at ``freqs`` (its float32 coefficients)."""
    rows = sections(params, sample_rate).astype(np.float64)
    sos = np.column_stack([rows[:, :3], np.ones(len(rows)), rows[:, 3:]])
    return 20.0 * np.log10(np.maximum(np.abs(sos_response(sos, freqs, sample_rate)), 1e-12))


def sos_response(sos: np.ndarray, freqs: np.ndarray, sample_rate: float) -> np.ndarray:
    """Complex response at ``freqs`` (Hz) of second-order sections (rows b0 b1 b2 a0 a1 a2),
    as scipy's ``sosfreqz`` computes it."""
    z = np.exp(-2j * np.pi * np.asarray(freqs, dtype=float) / sample_rate)
    response = np.ones(z.shape, complex)
    for b0, b1, b2, a0, a1, a2 in np.asarray(sos, dtype=float).reshape(-1, 6):
        response *= (b0 + b1 * z + b2 * z * z) / (a0 + a1 * z + a2 * z * z)
    return response


# ---------------------------------------------------------------------------- amount
def scaled(chain: VocalChain, amount: float) -> VocalChain:
    """The chain moved ``amount`` (0…1) of the way from transparent to ``chain``: EQ gains and
    make-up × amount, high-/low-pass frequencies from 20 Hz / 20 kHz (log scale), ratio
    1 + amount·(r − 1), reverb dry/wet (insert) or send gain × amount. 0 writes transparent
    settings (flat shelves instead of the filters, ratio 1:1, no reverb)."""
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount must lie in 0…100 %, not {amount * 100:g} %")
    if amount == 1.0:
        return chain
    if amount == 0.0:
        return replace(chain, multieq=NEUTRAL_EQ, omnicompressor=NEUTRAL_COMPRESSOR,
                       fdnreverb={**chain.fdnreverb, **NEUTRAL_REVERB},
                       send_gain_db=None if chain.send_gain_db is None else -math.inf)
    eq = dict(chain.multieq)
    for band in range(6):
        kind = int(eq[f"filterType{band}"])
        frequency = eq[f"filterFrequency{band}"]
        if band == 0 and kind < 3:
            eq["filterFrequency0"] = 20.0 * (frequency / 20.0) ** amount
        elif band == 5 and kind < 3:
            eq["filterFrequency5"] = 20000.0 * (frequency / 20000.0) ** amount
        eq[f"filterGain{band}"] = eq[f"filterGain{band}"] * amount
    comp = dict(chain.omnicompressor)
    comp["ratio"] = 1.0 + amount * (comp["ratio"] - 1.0)
    comp["outGain"] *= amount
    reverb = dict(chain.fdnreverb)
    send_db = chain.send_gain_db
    if chain.reverb_mode == "insert":
        reverb["dryWet"] *= amount
    elif send_db is not None:
        send_db = send_db + 20.0 * math.log10(amount) if amount > 0 else -math.inf
    return replace(chain, multieq=eq, omnicompressor=comp, fdnreverb=reverb, send_gain_db=send_db)


@dataclass
class Stage:
    """One stage's decision: plug-in settings, what the method found, and notes for the user."""

    params: dict[str, float]
    details: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: the stage's plug-in output for the audio it was given, when the method computed it on
    #: the way (the caller then does not render the stage again)
    output: np.ndarray | None = field(default=None, repr=False, compare=False)
