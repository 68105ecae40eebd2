"""IEM OmniCompressor 1.4.4 emulation (iem.md section 7).

The detector keys on channel 0 only (left on a stereo track): per-sample level in dB (floored at
-100), quadratic soft knee, one-pole attack/release on the gain reduction in dB (float32 state
starting at 0 on a fresh instance). The resulting gain multiplies the processed channels, which
depend on the host's channel count (section 7.5): with the plug-in's own 64-channel layout
(``host_channels=64``, the default and what we expect REAPER to use for this 64-pin VST2) both L
and R get the gain; on a 2-channel host buffer only channel 0 does.

Look-ahead (``lookAhead`` on) delays every channel by D = trunc(float32(0.005)·fs) samples
(product in double) and shapes the gain with the plug-in's per-block backward ramp scan, so the
output depends on the host block size; pass the one REAPER uses (``block_size``).

Numerics found by comparison with the plug-in (beyond iem.md): the attack/release coefficients
stay in double and the state update z + α·Δ is computed in double, then rounded to float32;
the knee term is σ·((o + W/2)²)/(2W) with the square taken first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numba import njit

from .params import OMNICOMPRESSOR

F32 = np.float32
def lookahead_delay(sample_rate: float) -> int:
    """Look-ahead delay (and reported latency) in samples: 220 at 44.1 kHz, 239 at 48 kHz."""
    return int(float(F32(0.005)) * sample_rate)  # float32 0.005 = 0.004999999888


def _smoothing(time_ms: float, sample_rate: float) -> float:
    """One-pole coefficient 1 - exp(-1/(fs·t)) in double; t in seconds is a float32 product;
    t = 0 gives 1 (no smoothing)."""
    seconds = float(F32(time_ms) * F32(0.001))
    if seconds <= 0.0:
        return 1.0
    return 1.0 - math.exp(-1.0 / (sample_rate * seconds))


@njit(cache=True, nogil=True)
def _reduction(key: np.ndarray, threshold: np.float32, knee: np.float32, ratio: np.float32,
               attack: float, release: float) -> np.ndarray:
    """Smoothed gain reduction z[n] in dB keyed from ``key``: float32 state, updated in double
    with the double coefficients (z + α·Δ rounded once), as the plug-in does."""
    zero, half, two = np.float32(0.0), np.float32(0.5), np.float32(2.0)
    floor_db, twenty = np.float32(-100.0), np.float32(20.0)
    one = np.float32(1.0)
    slope = -one if ratio > np.float32(15.9) else one / ratio - one  # 16 on the grid means ∞:1
    half_knee = knee * half
    out = np.empty(key.shape[0], np.float32)
    state = zero
    for i in range(key.shape[0]):
        magnitude = abs(key[i])
        level = floor_db
        if magnitude > zero:
            level = max(floor_db, math.log10(magnitude) * twenty)
        over = level - threshold
        if over <= -half_knee:
            target = zero
        elif over <= half_knee:
            target = slope * ((over + half_knee) * (over + half_knee)) / (two * knee)
        else:
            target = slope * over
        delta = target - state
        alpha = attack if delta < zero else release
        state = np.float32(np.float64(state) + alpha * np.float64(delta))
        out[i] = state
    return out


@njit(cache=True, nogil=True)
def _db_to_gain(db: np.ndarray, makeup: np.float32) -> np.ndarray:
    """10^((db + makeup)/20) in float32; 0 at or below -100 dB."""
    out = np.empty(db.shape[0], np.float32)
    floor_db, ten, factor = np.float32(-100.0), np.float32(10.0), np.float32(0.05)
    for i in range(db.shape[0]):
        total = db[i] + makeup
        out[i] = ten ** (total * factor) if total > floor_db else np.float32(0.0)
    return out


@njit(cache=True, nogil=True)
def _lookahead_shape(reduction: np.ndarray, delay: int, block: int) -> np.ndarray:
    """The plug-in's per-block backward scan: linear-in-dB ramps of ``delay`` samples before
    every deepening of the reduction. Returns the gains in output order (index n pairs with the
    input delayed by ``delay``)."""
    n = reduction.shape[0]
    shaped = np.zeros(n + delay, np.float32)
    shaped[delay:] = reduction
    zero, length = np.float32(0.0), np.float32(delay)
    for start in range(0, n, block):
        newest = delay + min(start + block, n) - 1
        nxt, step = zero, zero
        for i in range(newest, delay + start - 1, -1):
            value = shaped[i]
            if value > nxt:
                shaped[i] = nxt
                nxt += step
            else:
                step = -value / length
                nxt = value + step
        for i in range(delay + start - 1, start - 1, -1):
            if shaped[i] <= nxt:
                break
            shaped[i] = nxt
            nxt += step
    return shaped[:n]


def processed_channels(order_setting: float, host_channels: int) -> int:
    """Channels that get the gain: min(host, (order+1)²), order from Auto or the setting."""
    max_order = min(math.isqrt(host_channels) - 1, 7)
    setting = int(order_setting)
    order = max_order if setting == 0 else min(setting - 1, max_order)
    return min(host_channels, (order + 1) ** 2)


def static_curve(params: Mapping[str, float], input_db: np.ndarray) -> np.ndarray:
    """Steady-state output level in dB for a detector level ``input_db`` (iem.md 7.2): the
    level plus the quadratic soft-knee gain reduction plus make-up, in double."""
    values = OMNICOMPRESSOR.complete(params)
    level = np.asarray(input_db, np.float64)
    threshold, knee, ratio = values["threshold"], values["knee"], values["ratio"]
    slope = -1.0 if ratio > 15.9 else 1.0 / ratio - 1.0
    over = np.maximum(level, -100.0) - threshold
    reduction = np.where(over > knee / 2.0, slope * over, 0.0)
    if knee > 0:
        in_knee = np.abs(over) <= knee / 2.0
        reduction = np.where(in_knee, slope * (over + knee / 2.0) ** 2 / (2.0 * knee), reduction)
    return level + reduction + values["outGain"]


def gain_reduction(params: Mapping[str, float], audio: np.ndarray, sample_rate: float, *,
                   block_size: int = 512) -> np.ndarray:
    """The gain reduction in dB (≤ 0, make-up not included) that multiplies each output sample
    of :func:`process` on the same audio: keyed from channel 0, with the ballistics and, when
    ``lookAhead`` is on, the plug-in's look-ahead ramps."""
    if block_size < 1:
        raise ValueError("block_size must be positive")
    values = OMNICOMPRESSOR.complete(params)
    signal = np.asarray(audio, dtype=np.float32).reshape(len(audio), -1)
    reduction = _reduction(
        np.ascontiguousarray(signal[:, 0]), F32(values["threshold"]), F32(values["knee"]),
        F32(values["ratio"]), _smoothing(values["attack"], sample_rate),
        _smoothing(values["release"], sample_rate),
    )
    if values["lookAhead"] >= 0.5:
        reduction = _lookahead_shape(reduction, lookahead_delay(sample_rate), block_size)
    return reduction


def process(params: Mapping[str, float], audio: np.ndarray, sample_rate: float, *,
            block_size: int = 512, host_channels: int = 64) -> np.ndarray:
    """OmniCompressor on (n_samples, n_channels) audio; float32 out, same shape.

    With look-ahead the output is delayed by :func:`lookahead_delay` samples (REAPER
    compensates it only if ``reportLatency`` was on when the plug-in was prepared).
    """
    if block_size < 1 or host_channels < 1:
        raise ValueError("block_size and host_channels must be positive")
    values = OMNICOMPRESSOR.complete(params)
    signal = np.asarray(audio, dtype=np.float32)
    reduction = gain_reduction(values, signal, sample_rate, block_size=block_size)
    if values["lookAhead"] >= 0.5:
        delay = lookahead_delay(sample_rate)
        signal = np.concatenate([np.zeros((delay, signal.shape[1]), np.float32), signal])
        signal = signal[: audio.shape[0]]
    gain = _db_to_gain(reduction, F32(values["outGain"]))
    out = signal.copy()
    count = processed_channels(values["orderSetting"], min(host_channels, 64))
    out[:, :count] *= gain[:, None]
    return out
