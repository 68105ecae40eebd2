"""MultiEQ's filters, differentiable: closed-form coefficients in torch and an exact recursive
biquad cascade as a custom autograd function whose forward and backward run in numba.

Coefficients follow iem.md section 6 (the same formulas as :mod:`reaper_automix.iem.multieq`,
in float64 instead of the plug-in's float32), so gradients reach frequency, Q and gain. Every
section is normalised to a0 = 1 and stored as a row ``[b0, b1, b2, a1, a2]`` (first-order
sections have b2 = a2 = 0).

The cascade runs each row of a ``(rows, samples)`` signal through its own sections in transposed
direct form II, from a zero state. Its backward pass is the IIR adjoint: the output gradient,
time-reversed, goes through 1/A (giving v); the coefficient gradients are correlations of v with
the section's input (b) and output (a); the input gradient is v through B, time-reversed again.
Section inputs are recomputed in the backward pass instead of stored.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit, prange

from ..iem.multieq import HIGH_SHELF, HP1, HP2, LOW_SHELF, LP1, LP2, PEAK  # section kinds


# ------------------------------------------------------------------------- coefficients (torch)
def section_coefficients(kind: int, frequency: torch.Tensor, q: torch.Tensor,
                         gain_db: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """Rows ``[b0, b1, b2, a1, a2]`` (shape ``frequency.shape + (5,)``) of one section kind.

    ``frequency`` in Hz (clamped to fs/2 like the plug-in), ``q`` the user Q, ``gain_db`` used by
    peaks and shelves only. All float64 tensors of one shape; differentiable in each.
    """
    f = torch.clamp(frequency, max=sample_rate / 2.0)
    if kind in (HP1, LP1):
        k = torch.tan(math.pi * f / sample_rate)
        inv = 1.0 / (k + 1.0)
        a1 = (k - 1.0) * inv
        zero = torch.zeros_like(f)
        b = (inv, -inv) if kind == HP1 else (k * inv, k * inv)
        return torch.stack([b[0], b[1], zero, a1, zero], dim=-1)
    if kind == HP2:
        k = torch.tan(math.pi * f / sample_rate)
        c = 1.0 / (1.0 + k / q + k * k)
        return torch.stack([c, -2.0 * c, c, 2.0 * c * (k * k - 1.0), c * (1.0 - k / q + k * k)],
                           dim=-1)
    if kind == LP2:
        n = 1.0 / torch.tan(math.pi * f / sample_rate)
        c = 1.0 / (1.0 + n / q + n * n)
        return torch.stack([c, 2.0 * c, c, 2.0 * c * (1.0 - n * n), c * (1.0 - n / q + n * n)],
                           dim=-1)
    if kind not in (PEAK, LOW_SHELF, HIGH_SHELF):
        raise ValueError(f"unknown section kind {kind}")
    return peaks_and_shelves([kind], f[..., None], q[..., None], gain_db[..., None],
                             sample_rate)[..., 0, :]


def peaks_and_shelves(kinds: list[int], frequency: torch.Tensor, q: torch.Tensor,
                      gain_db: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """Rows (..., K, 5) of K peak or shelf sections at once (kinds[k] for the last axis of
    the (..., K) parameters): one batch of tensor operations for a whole EQ, whose cost is
    mostly per operation. A low shelf and a high shelf are one formula with the sign of cos w
    flipped (iem.md 6)."""
    is_peak = torch.tensor([k == PEAK for k in kinds])
    sign = torch.tensor([-1.0 if k == HIGH_SHELF else 1.0 for k in kinds], dtype=torch.float64)
    f = torch.clamp(frequency, min=2.0, max=sample_rate / 2.0)
    a = torch.pow(10.0, gain_db / 40.0)
    w = 2.0 * math.pi * f / sample_rate
    cos, sin = torch.cos(w), torch.sin(w)
    alpha = sin / (2.0 * q)
    peak_b = (1.0 + alpha * a, -2.0 * cos, 1.0 - alpha * a)
    peak_a = (1.0 + alpha / a, -2.0 * cos, 1.0 - alpha / a)
    beta = sin * torch.sqrt(a) / q
    plus, minus, scos = a + 1.0, a - 1.0, sign * cos
    shelf_b = (a * (plus - minus * scos + beta), 2.0 * a * sign * (minus - plus * scos),
               a * (plus - minus * scos - beta))
    shelf_a = (plus + minus * scos + beta, -2.0 * sign * (minus + plus * scos),
               plus + minus * scos - beta)
    b = [torch.where(is_peak, x, y) for x, y in zip(peak_b, shelf_b)]
    den = [torch.where(is_peak, x, y) for x, y in zip(peak_a, shelf_a)]
    inv = 1.0 / den[0]
    return torch.stack([b[0] * inv, b[1] * inv, b[2] * inv, den[1] * inv, den[2] * inv], dim=-1)


def frequency_response(sections: torch.Tensor, frequencies: torch.Tensor,
                       sample_rate: float) -> torch.Tensor:
    """Complex response of a cascade: ``sections`` (..., K, 5) at ``frequencies`` (F,) Hz gives
    (..., F). Differentiable in the coefficients."""
    w = 2.0 * math.pi * frequencies / sample_rate
    z1 = torch.polar(torch.ones_like(w), -w)  # e^{-jω}
    z2 = z1 * z1
    s = sections.to(torch.complex128).unsqueeze(-2)  # (..., K, 1, 5)
    num = s[..., 0] + s[..., 1] * z1 + s[..., 2] * z2
    den = 1.0 + s[..., 3] * z1 + s[..., 4] * z2
    return torch.prod(num / den, dim=-2)


# ---------------------------------------------------------------------- recursive cascade (numba)
@njit(cache=True, nogil=True)
def _section(x: np.ndarray, row: np.ndarray, y: np.ndarray) -> None:
    """y = B/A x from a zero state (transposed direct form II, float64)."""
    b0, b1, b2, a1, a2 = row[0], row[1], row[2], row[3], row[4]
    s1 = 0.0
    s2 = 0.0
    for i in range(x.shape[0]):
        xi = x[i]
        yi = b0 * xi + s1
        s1 = b1 * xi - a1 * yi + s2
        s2 = b2 * xi - a2 * yi
        y[i] = yi


@njit(cache=True, parallel=True)
def _cascade_forward(x: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    out = x.copy()
    for r in prange(x.shape[0]):
        for k in range(coeffs.shape[1]):
            _section(out[r], coeffs[r, k], out[r])  # in place: each sample is read, then written
    return out


@njit(cache=True, nogil=True)
def _section_adjoint(x: np.ndarray, y: np.ndarray, row: np.ndarray, grad_y: np.ndarray,
                     grad_x: np.ndarray, grad_row: np.ndarray) -> None:
    """Backward of one section: v = A^-T grad_y (anti-causal), grad_x = B^T v, and
    dL/db_k = Σ v[n] x[n-k], dL/da_k = -Σ v[n] y[n-k] (accumulated into grad_row)."""
    b0, b1, b2, a1, a2 = row[0], row[1], row[2], row[3], row[4]
    n = x.shape[0]
    v1 = 0.0  # v[n+1]
    v2 = 0.0  # v[n+2]
    gb0 = gb1 = gb2 = ga1 = ga2 = 0.0
    for i in range(n - 1, -1, -1):
        v = grad_y[i] - a1 * v1 - a2 * v2
        grad_x[i] = b0 * v + b1 * v1 + b2 * v2
        gb0 += v * x[i]
        if i >= 1:
            gb1 += v * x[i - 1]
            ga1 -= v * y[i - 1]
        if i >= 2:
            gb2 += v * x[i - 2]
            ga2 -= v * y[i - 2]
        v2 = v1
        v1 = v
    grad_row[0] += gb0
    grad_row[1] += gb1
    grad_row[2] += gb2
    grad_row[3] += ga1
    grad_row[4] += ga2


@njit(cache=True, parallel=True)
def _cascade_backward(x: np.ndarray, coeffs: np.ndarray,
                      grad_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows, n = x.shape
    n_sections = coeffs.shape[1]
    grad_x = np.empty_like(x)
    grad_coeffs = np.zeros_like(coeffs)
    for r in prange(rows):
        signals = np.empty((n_sections + 1, n))  # inputs of every section, then the output
        signals[0] = x[r]
        for k in range(n_sections):
            _section(signals[k], coeffs[r, k], signals[k + 1])
        grad = grad_out[r].copy()
        scratch = np.empty(n)
        for k in range(n_sections - 1, -1, -1):
            _section_adjoint(signals[k], signals[k + 1], coeffs[r, k], grad, scratch,
                             grad_coeffs[r, k])
            grad, scratch = scratch, grad
        grad_x[r] = grad
    return grad_x, grad_coeffs


class _Cascade(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x_np = np.ascontiguousarray(x.detach().numpy(), dtype=np.float64)
        c_np = np.ascontiguousarray(coeffs.detach().numpy(), dtype=np.float64)
        ctx.save_for_backward(x, coeffs)
        return torch.from_numpy(_cascade_forward(x_np, c_np))

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        x, coeffs = ctx.saved_tensors
        grad_x, grad_c = _cascade_backward(
            np.ascontiguousarray(x.detach().numpy(), dtype=np.float64),
            np.ascontiguousarray(coeffs.detach().numpy(), dtype=np.float64),
            np.ascontiguousarray(grad_out.detach().numpy(), dtype=np.float64),
        )
        return (torch.from_numpy(grad_x) if ctx.needs_input_grad[0] else None,
                torch.from_numpy(grad_c) if ctx.needs_input_grad[1] else None)


def cascade(x: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """Filter each row of ``x`` (rows, samples), float64, through its own cascade of sections
    ``coeffs`` (rows, K, 5) from a zero state: exact recursive filtering, differentiable in both
    the signal and the coefficients. K = 0 returns ``x`` unchanged."""
    if x.dim() != 2 or coeffs.dim() != 3 or coeffs.shape[0] != x.shape[0] or coeffs.shape[2] != 5:
        raise ValueError(f"cascade needs x (rows, n) and coeffs (rows, K, 5); got "
                         f"{tuple(x.shape)} and {tuple(coeffs.shape)}")
    if coeffs.shape[1] == 0 or x.shape[1] == 0:
        return x
    return _Cascade.apply(x.to(torch.float64), coeffs.to(torch.float64))
