"""IEM FdnReverb 1.2.4 emulation (iem.md section 8).

A feedback delay network of N = 16/32/64 lines with prime-derived lengths. Per sample and line:
read the line, add the input (channel c feeds line c), high shelf then low shelf (float32
TDF-II, per-line gains in dB per second of travel), output w·d + (1-w)·x, scale by the line's
decay gain, mix all lines with the orthonormal Walsh–Hadamard matrix, write back. A non-zero
fade-in time runs a second identical network with decay 10^(-3/FT): y = (w·d + (1-w)·x) - w·d'.

Float32 details found by bit-exact comparison with the plug-in (beyond iem.md): each shelf
output with |y| ≤ 1e-8 is set to 0 before the state update; the shelves' β uses √A taken in
float32; the mixed lines are divided by float32 √N; the fade-in network's output is subtracted
after the dry/wet mix. With them the emulation reproduces the plug-in's output bit for bit.

State-load semantics (iem.md section 9, quirk 2): a fresh instance applies revTime only from a
change callback, and loading a state whose revTime equals the current value (the default 5.0)
fires none, so the network keeps its start-up overall gain of 0.1 per second: T60 = 3 s.
:func:`process` models that by default (``fresh_instance=True``), since a REAPER project that
is opened loads every plug-in state into a fresh instance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numba import njit

from .multieq import HIGH_SHELF, LOW_SHELF
from .params import FDNREVERB

F32 = np.float32
STARTUP_T60 = 3.0  # the network's own start-up overall gain 0.1 per second
LINE_COUNTS = (16, 32, 64)
_DEFAULT_REV_TIME = FDNREVERB.param("revTime").snap(FDNREVERB.param("revTime").default)


def _odd_primes(count: int) -> np.ndarray:
    limit = 16
    while True:
        sieve = np.ones(limit, bool)
        sieve[:2] = False
        for k in range(2, math.isqrt(limit) + 1):
            if sieve[k]:
                sieve[k * k :: k] = False
        primes = np.flatnonzero(sieve)[1:]
        if primes.size >= count:
            return primes[:count]
        limit *= 2


def delay_lengths(room_size: float, n_lines: int, sample_rate: float) -> np.ndarray:
    """Line lengths in samples: P[idx]/10 ms for prime indices spread by the room size."""
    final = int(room_size)
    first = final // 10
    indices = [max(first, 1)]
    spread, first32, lines32 = F32(abs(final - first)), F32(first), F32(n_lines)
    for i in range(1, n_lines):
        increment = max(first32 + spread * F32(i) / lines32, F32(1.0))
        indices.append(int(math.floor(float(F32(indices[-1]) + increment) + 0.5)))
    primes = _odd_primes(indices[-1] + 1)[indices].astype(np.float32)
    milliseconds = (primes / F32(10.0)).astype(np.float32)
    return ((milliseconds / F32(1000.0)).astype(np.float64) * sample_rate).astype(np.int64)


def _shelf_rows(kind: int, cutoff: float, q: float, gain_db_per_s: float,
                lengths: np.ndarray, sample_rate: float) -> np.ndarray:
    """Per-line RBJ shelf coefficients, computed in double except A = sqrt(gain) and sqrt(A),
    which are float32 (matches the plug-in's impulse responses bit for bit)."""
    per_second = float(F32(10.0) ** (F32(gain_db_per_s) * F32(0.05)))
    gains = (per_second ** (lengths / sample_rate)).astype(np.float32)
    a32 = np.sqrt(gains)
    a = a32.astype(np.float64)
    w = 2.0 * math.pi * max(min(cutoff, sample_rate / 2.0), 2.0) / sample_rate
    c, beta = math.cos(w), math.sin(w) * np.sqrt(a32).astype(np.float64) / q
    plus, minus = a + 1.0, a - 1.0
    sign = -1.0 if kind == LOW_SHELF else 1.0  # the high shelf flips the sign of the cos terms
    b = (
        a * (plus + sign * minus * c + beta),
        -sign * 2.0 * a * (minus + sign * plus * c),
        a * (plus + sign * minus * c - beta),
    )
    den = (
        plus - sign * minus * c + beta,
        sign * 2.0 * (minus - sign * plus * c),
        plus - sign * minus * c - beta,
    )
    inv = 1.0 / den[0]
    rows = np.stack([b[0] * inv, b[1] * inv, b[2] * inv, den[1] * inv, den[2] * inv], axis=1)
    return rows.astype(np.float32)


def _feedback_gains(t60: float, lengths: np.ndarray, sample_rate: float) -> np.ndarray:
    per_second = float(F32(10.0 ** (-3.0 / t60)))
    return (per_second ** (lengths / sample_rate)).astype(np.float32)


@njit(cache=True, nogil=True)
def _hadamard(t: np.ndarray, start: int, n: int, root: np.float32) -> None:
    """In place on t[start:start+n]: Sylvester–Hadamard transform (natural order, butterflies
    of span 1, 2, 4, …, taken two spans per pass), each result divided by √n in the last
    stage; the plug-in's rounding, bit for bit. For n = 4^k, √n is a power of two and the
    division is the exact product with 1/√n."""
    inverse = np.float32(1.0) / root
    h = 1
    while 4 * h <= n:
        scale = inverse if 4 * h == n else np.float32(1.0)
        for i in range(start, start + n, 4 * h):
            for j in range(i, i + h):
                a, b, c, d = t[j], t[j + h], t[j + 2 * h], t[j + 3 * h]
                s0, s1, s2, s3 = a + b, a - b, c + d, c - d
                t[j] = (s0 + s2) * scale
                t[j + h] = (s1 + s3) * scale
                t[j + 2 * h] = (s0 - s2) * scale
                t[j + 3 * h] = (s1 - s3) * scale
        h *= 4
    if h < n:  # n = 2·4^k: one radix-2 pass left, √n is not a power of two
        for j in range(start, start + h):
            a, b = t[j], t[j + h]
            t[j] = (a + b) / root
            t[j + h] = (a - b) / root


@njit(cache=True, nogil=True)
def _network(x: np.ndarray, lengths: np.ndarray, gains: np.ndarray, high: np.ndarray,
             low: np.ndarray, n_nets: int, dry_wet: np.float32) -> np.ndarray:
    """Run ``n_nets`` identical networks side by side (the second one is the fade-in network,
    whose output is subtracted). Per-line arrays hold all networks' lines one after the other;
    ``high``/``low`` are (5, lines) rows b0, b1, b2, a1, a2. ``x`` is (channels, samples)."""
    total, n_in, n = lengths.shape[0], x.shape[0], x.shape[1]
    n_lines = total // n_nets
    offsets = np.zeros(total, np.int64)
    offsets[1:] = np.cumsum(lengths)[:-1]
    buffer = np.zeros(lengths.sum(), np.float32)
    positions = np.zeros(total, np.int64)
    hs1, hs2 = np.zeros(total, np.float32), np.zeros(total, np.float32)
    ls1, ls2 = np.zeros(total, np.float32), np.zeros(total, np.float32)
    d = np.zeros(total, np.float32)
    t = np.zeros(total, np.float32)
    root = np.float32(math.sqrt(n_lines))
    wet, dry = dry_wet, np.float32(1.0) - dry_wet
    zero, tiny = np.float32(0.0), np.float32(1e-8)  # each shelf output snaps |y| ≤ 1e-8 to 0
    y = np.empty_like(x)
    for i in range(n):
        for c in range(total):
            d[c] = buffer[offsets[c] + positions[c]]
        for net in range(n_nets):
            for c in range(n_in):
                d[net * n_lines + c] += x[c, i]
        for c in range(total):
            v = d[c]
            o = high[0, c] * v + hs1[c]
            o = zero if -tiny <= o <= tiny else o
            hs1[c] = high[1, c] * v - high[3, c] * o + hs2[c]
            hs2[c] = high[2, c] * v - high[4, c] * o
            p = low[0, c] * o + ls1[c]
            p = zero if -tiny <= p <= tiny else p
            ls1[c] = low[1, c] * o - low[3, c] * p + ls2[c]
            ls2[c] = low[2, c] * o - low[4, c] * p
            d[c] = p
            t[c] = gains[c] * p
        for net in range(n_nets):
            _hadamard(t, net * n_lines, n_lines, root)
        for c in range(total):
            buffer[offsets[c] + positions[c]] = t[c]
            positions[c] = 0 if positions[c] + 1 == lengths[c] else positions[c] + 1
        for c in range(n_in):
            y[c, i] = wet * d[c] + dry * x[c, i]
            if n_nets == 2:  # the fade-in network's output is subtracted afterwards
                y[c, i] -= wet * d[n_lines + c]
    return y


def effective_t60(rev_time: float, *, fresh_instance: bool = True) -> float:
    """The T60 the network runs at: 3 s when a fresh instance loads the default revTime."""
    value = FDNREVERB.param("revTime").snap(rev_time)
    return STARTUP_T60 if fresh_instance and value == _DEFAULT_REV_TIME else value


def decay_time(params: Mapping[str, float], frequencies_hz: np.ndarray, sample_rate: float, *,
               fresh_instance: bool = True) -> np.ndarray:
    """T60 in seconds at ``frequencies_hz``: the plug-in's own decay display (iem.md 8.3),
    −3 / log10(|H_low(f)|·|H_high(f)|·10^(−3/RT)) with the shelves at their per-second gains,
    RT as the network runs it (:func:`effective_t60`). Infinite where the loop gain is ≥ 1."""
    values = FDNREVERB.complete(params)
    t60 = effective_t60(values["revTime"], fresh_instance=fresh_instance)
    f = np.clip(np.asarray(frequencies_hz, np.float64), 0.0, sample_rate / 2.0 * (1.0 - 1e-9))
    z = np.exp(-2j * np.pi * f / sample_rate)
    one_second = np.array([int(sample_rate)])
    loop_db = np.full(f.shape, -3.0 * 20.0 / t60)  # 20·log10 of the overall gain per second
    for kind, band in ((HIGH_SHELF, "high"), (LOW_SHELF, "low")):
        b0, b1, b2, a1, a2 = _shelf_rows(kind, values[f"{band}Cutoff"], values[f"{band}Q"],
                                         values[f"{band}Gain"], one_second,
                                         sample_rate)[0].astype(np.float64)
        response = (b0 + b1 * z + b2 * z * z) / (1.0 + a1 * z + a2 * z * z)
        loop_db += 20.0 * np.log10(np.abs(response))
    with np.errstate(divide="ignore"):
        return np.where(loop_db < 0.0, -60.0 / np.minimum(loop_db, -1e-12), np.inf)


def process(params: Mapping[str, float], audio: np.ndarray, sample_rate: float, *,
            fresh_instance: bool = True) -> np.ndarray:
    """FdnReverb on (n_samples, n_channels) audio (≤ 64 channels); float32 out, same shape.

    ``fresh_instance=False`` models an instance whose revTime was applied by a real change
    (e.g. automation or a live set after another value), so 5.0 means 5 s.
    """
    values = FDNREVERB.complete(params)
    signal = np.asarray(audio, dtype=np.float32)
    if signal.shape[1] > 64:
        raise ValueError(f"FdnReverb has 64 channels; got audio with {signal.shape[1]}")
    n_lines = LINE_COUNTS[int(values["fdnSize"])]
    lengths = delay_lengths(values["delayLength"], n_lines, sample_rate)
    t60 = effective_t60(values["revTime"], fresh_instance=fresh_instance)
    gains = [_feedback_gains(t60, lengths, sample_rate)]
    if values["fadeInTime"] > 0:  # the fade-in network: same lines, decay 10^(-3/FT)
        gains.append(_feedback_gains(values["fadeInTime"], lengths, sample_rate))
    n_nets = len(gains)
    rows = [
        _shelf_rows(kind, values[f"{band}Cutoff"], values[f"{band}Q"], values[f"{band}Gain"],
                    lengths, sample_rate)
        for kind, band in ((HIGH_SHELF, "high"), (LOW_SHELF, "low"))
    ]
    high, low = (np.ascontiguousarray(np.tile(r, (n_nets, 1)).T) for r in rows)
    used = min(signal.shape[1], n_lines)
    wet = _network(
        np.ascontiguousarray(signal[:, :used].T), np.tile(lengths, n_nets),
        np.concatenate(gains), high, low, n_nets, F32(values["dryWet"]),
    )
    out = np.zeros_like(signal)
    out[:, :used] = wet.T
    return out
