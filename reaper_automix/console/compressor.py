"""OmniCompressor's gain computer and ballistics, differentiable (iem.md 7.1–7.3).

Per sample of the key (channel 0 of the stem): level L = max(-100, 20·log10|x|) dB
(:func:`key_level`, plain torch), overshoot
o = L - T, quadratic soft-knee gain reduction GR(o) with slope σ = 1/R - 1, then a one-pole on the
reduction in dB, z ← z + α·(GR - z), with α the attack coefficient while the reduction deepens
(GR < z) and the release coefficient while it recovers. The state starts at 0 dB. Release is
honoured. No look-ahead (the console writes lookAhead OFF, so there is no latency to compensate).

:func:`gain_reduction` is a custom autograd function whose forward and backward run in numba. The
backward runs the adjoint of the recursion, λ[n] = g[n] + (1 - α[n+1])·λ[n+1], treating the
attack/release branch taken at each sample as fixed (it is piecewise constant in the inputs), and
reaches the key level, threshold, slope, knee and both coefficients.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange

LEVEL_FLOOR_DB = -100.0


def smoothing_coefficient(time_ms: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """α = 1 - exp(-1/(fs·t)), t in seconds; differentiable in the time (must be > 0)."""
    return 1.0 - torch.exp(-1.0 / (sample_rate * time_ms * 1e-3))


@njit(cache=True, nogil=True)
def _static_curve(over: float, slope: float, knee: float) -> tuple[float, float, float, float]:
    """GR(o) and its derivatives with respect to o, σ and W."""
    half = 0.5 * knee
    if over <= -half:
        return 0.0, 0.0, 0.0, 0.0
    if over <= half:
        t = over + half
        gr = slope * t * t / (2.0 * knee)
        return gr, slope * t / knee, t * t / (2.0 * knee), slope * (t / (2.0 * knee) -
                                                                  t * t / (2.0 * knee * knee))
    return slope * over, slope, over, 0.0


@njit(cache=True, parallel=True)
def _forward(level: np.ndarray, params: np.ndarray) -> np.ndarray:
    rows, n = level.shape
    out = np.empty_like(level)
    for r in prange(rows):
        threshold, slope, knee, attack, release = (params[r, 0], params[r, 1], params[r, 2],
                                                   params[r, 3], params[r, 4])
        state = 0.0
        for i in range(n):
            gr, _, _, _ = _static_curve(level[r, i] - threshold, slope, knee)
            delta = gr - state
            state += (attack if delta < 0.0 else release) * delta
            out[r, i] = state
    return out


@njit(cache=True, parallel=True)
def _backward(level: np.ndarray, params: np.ndarray, z: np.ndarray,
              grad_z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows, n = level.shape
    grad_level = np.empty_like(level)
    grad_params = np.zeros_like(params)
    for r in prange(rows):
        threshold, slope, knee, attack, release = (params[r, 0], params[r, 1], params[r, 2],
                                                   params[r, 3], params[r, 4])
        adjoint = 0.0  # λ[i+1]
        keep_next = 1.0  # 1 - α[i+1]
        g_threshold = g_slope = g_knee = g_attack = g_release = 0.0
        for i in range(n - 1, -1, -1):
            previous = z[r, i - 1] if i > 0 else 0.0
            gr, d_over, d_slope, d_knee = _static_curve(level[r, i] - threshold, slope, knee)
            delta = gr - previous
            alpha = attack if delta < 0.0 else release
            adjoint = grad_z[r, i] + keep_next * adjoint  # λ[i] = dL/dz[i]
            d_gr = alpha * adjoint
            if delta < 0.0:
                g_attack += adjoint * delta
            else:
                g_release += adjoint * delta
            g_threshold -= d_gr * d_over
            g_slope += d_gr * d_slope
            g_knee += d_gr * d_knee
            grad_level[r, i] = d_gr * d_over
            keep_next = 1.0 - alpha
        grad_params[r, 0] = g_threshold
        grad_params[r, 1] = g_slope
        grad_params[r, 2] = g_knee
        grad_params[r, 3] = g_attack
        grad_params[r, 4] = g_release
    return grad_level, grad_params


class _GainReduction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, level: torch.Tensor, params: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        z = torch.from_numpy(_forward(_numpy(level), _numpy(params)))
        ctx.save_for_backward(level, params, z)
        return z

    @staticmethod
    def backward(ctx, grad_z: torch.Tensor):  # type: ignore[override]
        level, params, z = ctx.saved_tensors
        grad_level, grad_params = _backward(_numpy(level), _numpy(params), _numpy(z),
                                            _numpy(grad_z))
        return (torch.from_numpy(grad_level) if ctx.needs_input_grad[0] else None,
                torch.from_numpy(grad_params) if ctx.needs_input_grad[1] else None)


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().numpy(), dtype=np.float64)


def key_level(key: torch.Tensor) -> torch.Tensor:
    """The detector's level 20·log10|x| in dB, floored at -100 dB (no gradient below)."""
    floor = 10.0 ** (LEVEL_FLOOR_DB / 20.0)
    return 20.0 * torch.log10(torch.clamp(torch.abs(key), min=floor))


def gain_reduction(level: torch.Tensor, threshold_db: torch.Tensor, ratio: torch.Tensor,
                   knee_db: torch.Tensor, attack: torch.Tensor,
                   release: torch.Tensor) -> torch.Tensor:
    """Smoothed gain reduction z (rows, samples) in dB (≤ 0) for each row of key levels
    (:func:`key_level`, which a fit with a fixed key computes once).

    Per row: threshold (dB), ratio (≥ 1; ``inf`` is the plug-in's ∞:1), knee width (dB ≥ 0)
    and the attack/release coefficients α of :func:`smoothing_coefficient`. All float64;
    differentiable in every input.
    """
    if level.dim() != 2:
        raise ValueError(f"level must be (rows, samples), got {tuple(level.shape)}")
    slope = 1.0 / ratio - 1.0
    params = torch.stack([threshold_db, slope, knee_db, attack, release], dim=-1)
    params = params.to(torch.float64).expand(level.shape[0], 5)
    return _GainReduction.apply(level.to(torch.float64), params)
