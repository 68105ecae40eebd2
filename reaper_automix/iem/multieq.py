"""IEM MultiEQ 0.2.4 emulation (iem.md section 6).

Six bands in series on every processed channel, each a float32 transposed-direct-form-II biquad
(or first-order section) whose coefficients are computed in float32 with the C library's
``tanf``/``sinf``/``cosf``, as the plug-in does. Band 1 and band 6 in 24 dB/oct mode add a
second, identical section after all bands. Sections that are exact identities in float32
(peaks and shelves at 0 dB have b == a) are skipped: their output equals their input bit for bit.

Float32 details found by bit-exact comparison with the plug-in (beyond iem.md): coefficients are
normalised by multiplying with 1/a0, and the second-order high/low-pass use 1/Q as a factor.
Subnormal filter states are flushed to zero (the plug-in runs with denormals disabled).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numba import njit

from .params import MULTIEQ

F32 = np.float32
# Section kinds
HP1, HP2, LP1, LP2, LOW_SHELF, PEAK, HIGH_SHELF = range(7)
_FIRST_BAND = (HP1, HP2, HP2, LOW_SHELF)
_MIDDLE_BAND = (LOW_SHELF, PEAK, HIGH_SHELF)
_LAST_BAND = (LP1, LP2, LP2, HIGH_SHELF)


@njit(cache=True, nogil=True)
def _coefficients(kind: int, frequency: float, q: float, gain_db: float,
                  rate: float) -> np.ndarray:
    """[b0, b1, b2, a1, a2] (a0 = 1) in float32 arithmetic."""
    one, two = np.float32(1.0), np.float32(2.0)
    fs = np.float32(rate)
    f = min(np.float32(frequency), fs / two)
    qf = np.float32(q)
    out = np.zeros(5, np.float32)
    if kind == HP1 or kind == LP1:
        k = math.tan(np.float32(math.pi) * f / fs)
        inv = one / (k + one)
        if kind == HP1:
            out[0], out[1] = inv, -inv
        else:
            out[0], out[1] = k * inv, k * inv
        out[3] = (k - one) * inv
    elif kind == HP2:
        k = math.tan(np.float32(math.pi) * f / fs)
        inv_q = one / qf
        c = one / (one + inv_q * k + k * k)
        out[0], out[1], out[2] = c, -two * c, c
        out[3], out[4] = two * c * (k * k - one), c * (one - inv_q * k + k * k)
    elif kind == LP2:
        n = one / math.tan(np.float32(math.pi) * f / fs)
        inv_q = one / qf
        c = one / (one + inv_q * n + n * n)
        out[0], out[1], out[2] = c, two * c, c
        out[3], out[4] = two * c * (one - n * n), c * (one - inv_q * n + n * n)
    else:
        out = _peak_or_shelf(kind, f, qf, np.float32(gain_db), fs)
    return out


@njit(cache=True, nogil=True)
def _peak_or_shelf(kind: int, f: np.float32, q: np.float32, gain_db: np.float32,
                   fs: np.float32) -> np.ndarray:
    one, two = np.float32(1.0), np.float32(2.0)
    a = math.sqrt(np.float32(10.0) ** (gain_db * np.float32(0.05)))
    w = two * np.float32(math.pi) * max(f, two) / fs
    c, s = math.cos(w), math.sin(w)
    plus, minus = a + one, a - one
    if kind == PEAK:
        alpha = s / (two * q)
        b = (one + alpha * a, -two * c, one - alpha * a)
        den = (one + alpha / a, -two * c, one - alpha / a)
    elif kind == LOW_SHELF:
        beta = s * math.sqrt(a) / q
        b = (a * (plus - minus * c + beta), a * two * (minus - plus * c),
             a * (plus - minus * c - beta))
        den = (plus + minus * c + beta, -two * (minus + plus * c), plus + minus * c - beta)
    else:
        beta = s * math.sqrt(a) / q
        b = (a * (plus + minus * c + beta), -a * two * (minus + plus * c),
             a * (plus + minus * c - beta))
        den = (plus - minus * c + beta, two * (minus - plus * c), plus - minus * c - beta)
    inv = one / den[0]
    out = np.zeros(5, np.float32)
    out[0], out[1], out[2] = b[0] * inv, b[1] * inv, b[2] * inv
    out[3], out[4] = den[1] * inv, den[2] * inv
    return out


def coefficients(kind: int, frequency: float, q: float, gain_db: float,
                 sample_rate: float) -> np.ndarray:
    """One section's float32 coefficients [b0, b1, b2, a1, a2], computed as the plug-in does
    (section kinds HP1, HP2, LP1, LP2, LOW_SHELF, PEAK, HIGH_SHELF of this module)."""
    return _coefficients(kind, frequency, q, gain_db, float(sample_rate))


def sections(params: Mapping[str, float], sample_rate: float) -> np.ndarray:
    """The float32 sections (rows [b0, b1, b2, a1, a2]) in processing order, identities dropped.

    Order: enabled bands 1…6, then the second section of band 1 and of band 6 in 24 dB/oct mode.
    """
    values = MULTIEQ.complete(params)
    rows: list[np.ndarray] = []
    extra: list[np.ndarray] = []
    for band in range(6):
        if values[f"filterEnabled{band}"] <= 0.5:
            continue
        kinds = _FIRST_BAND if band == 0 else _LAST_BAND if band == 5 else _MIDDLE_BAND
        band_type = int(values[f"filterType{band}"])
        row = _coefficients(
            kinds[band_type], values[f"filterFrequency{band}"], values[f"filterQ{band}"],
            values[f"filterGain{band}"], float(sample_rate),
        )
        rows.append(row)
        if band in (0, 5) and band_type == 2:
            extra.append(row)
    kept = [row for row in rows + extra if not _is_identity(row)]
    return np.array(kept, np.float32).reshape(-1, 5)


def _is_identity(row: np.ndarray) -> bool:
    b0, b1, b2, a1, a2 = row
    return bool(b0 == 1.0 and b1 == a1 and b2 == a2)


@njit(cache=True, nogil=True)
def _run_section(signal: np.ndarray, row: np.ndarray) -> None:
    """One float32 TDF-II section, in place, on a contiguous 1-D signal."""
    b0, b1, b2, a1, a2 = row[0], row[1], row[2], row[3], row[4]
    s1 = np.float32(0.0)
    s2 = np.float32(0.0)
    tiny = np.float32(1e-30)  # flush subnormal states (the plug-in runs with denormals off)
    for i in range(signal.shape[0]):
        x = signal[i]
        y = b0 * x + s1
        s1 = b1 * x - a1 * y + s2
        s2 = b2 * x - a2 * y
        if -tiny < s1 < tiny:
            s1 = np.float32(0.0)
        if -tiny < s2 < tiny:
            s2 = np.float32(0.0)
        signal[i] = y


def frequency_response(params: Mapping[str, float], frequencies_hz: np.ndarray,
                       sample_rate: float) -> np.ndarray:
    """Magnitude response in dB of the whole cascade (the float32 :func:`sections` the plug-in
    runs) at ``frequencies_hz``, evaluated in double. Frequencies at or above Nyquist are
    clamped to just below it."""
    nyquist = sample_rate / 2.0
    f = np.clip(np.asarray(frequencies_hz, np.float64), 0.0, nyquist * (1.0 - 1e-9))
    z = np.exp(-2j * np.pi * f / sample_rate)  # z^-1
    response = np.ones(f.shape, np.complex128)
    for b0, b1, b2, a1, a2 in sections(params, sample_rate).astype(np.float64):
        response *= (b0 + b1 * z + b2 * z * z) / (1.0 + a1 * z + a2 * z * z)
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(np.abs(response))


def process(params: Mapping[str, float], audio: np.ndarray, sample_rate: float) -> np.ndarray:
    """MultiEQ on (n_samples, n_channels) audio; returns float32 of the same shape.

    ``inputChannelsSetting`` n > 0 filters only the first n channels (0 = all of them).
    """
    rows = sections(params, sample_rate)
    channels = int(MULTIEQ.complete(params)["inputChannelsSetting"]) or audio.shape[1]
    out = np.array(audio, dtype=np.float32, order="F", copy=True)
    for channel in range(min(channels, out.shape[1])):
        column = out[:, channel]
        for row in rows:
            _run_section(column, row)
    return out
