"""The differentiable console: stems in, stereo mix out, as REAPER will play the written values.

Per stem: input gain N (fixed) → MultiEQ (six bands, exact recursive biquads) → OmniCompressor
(keyed from the stem's left channel, the gain applied to both channels, as the plug-in does on its
64-channel layout) → gain → REAPER's pan (stereo balance) → sum. float64 torch on CPU.

Stems are stereo: a stereo stem is two mono tokens, L and R, that share the stem's one chain
(algorithms.md B.10.4); a mono stem plays on a stereo bus as dual mono (L = R), as REAPER plays a
mono item on a stereo track. :func:`stem_tokens` is that one rule, used for rendering and for
analysis alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..iem.multieq import coefficients as plugin_coefficients
from .compressor import gain_reduction, key_level, smoothing_coefficient
from .filters import cascade, frequency_response, peaks_and_shelves
from .params import (
    ATTACK, EQ_BANDS, EQ_FREQS, EQ_GAINS, EQ_QS, GAIN, KNEE, PAN, RATIO, RELEASE, THRESHOLD,
)


def stem_tokens(stems: Sequence[np.ndarray] | np.ndarray) -> torch.Tensor:
    """Stems, each (samples,) mono or (samples, 2) stereo, of one length → tokens (S, 2, samples)
    float64: token 0 is the left channel, token 1 the right; a mono stem gives L = R."""
    rows = []
    for stem in stems:
        audio = np.asarray(stem)
        if audio.ndim == 1:
            audio = audio[:, None]
        if audio.ndim != 2 or audio.shape[1] not in (1, 2):
            raise ValueError(f"a stem must be (samples,) or (samples, 1 or 2); got {audio.shape}")
        rows.append(np.repeat(audio, 2, axis=1) if audio.shape[1] == 1 else audio)
    lengths = {row.shape[0] for row in rows}
    if len(lengths) > 1:
        raise ValueError(f"stems must have one length; got {sorted(lengths)}")
    return torch.from_numpy(np.stack(rows).transpose(0, 2, 1).astype(np.float64))


def pan_gains(pan: torch.Tensor) -> torch.Tensor:
    """REAPER's stereo balance at 0 dB pan law (the renderer's law): (S,) → (S, 2)."""
    return torch.stack([torch.clamp(1.0 - pan, max=1.0), torch.clamp(1.0 + pan, max=1.0)], -1)


def eq_sections(physical: torch.Tensor, sample_rate: float, *,
                plugin_rounding: bool = True) -> torch.Tensor:
    """The six EQ bands of every stem as sections (S, 6, 5).

    With ``plugin_rounding`` (the default) the values are the plug-in's own float32
    coefficients (``iem.multieq``): for low, sharp filters their rounding changes the response by
    more than -40 dB (a 20 Hz shelf at Q 8). The gradient is always that of the float64 closed
    forms (a straight-through estimate); without rounding, values and gradient are both float64
    (what a finite-difference check needs).
    """
    exact = peaks_and_shelves([band.kind for band in EQ_BANDS], physical[:, EQ_FREQS],
                              physical[:, EQ_QS], physical[:, EQ_GAINS], sample_rate)
    if not plugin_rounding:
        return exact
    values = physical.detach().numpy()
    plugin = torch.from_numpy(np.array([
        [plugin_coefficients(band.kind, values[s, f], values[s, q], values[s, g], sample_rate)
         for band, g, f, q in zip(EQ_BANDS, EQ_GAINS, EQ_FREQS, EQ_QS)]
        for s in range(values.shape[0])
    ], dtype=np.float64).reshape(exact.shape))
    return exact + (plugin - exact).detach()


def eq_response(physical: torch.Tensor, frequencies: torch.Tensor, sample_rate: float, *,
                plugin_rounding: bool = True) -> torch.Tensor:
    """Complex EQ response (S, F) at ``frequencies`` Hz."""
    sections = eq_sections(physical, sample_rate, plugin_rounding=plugin_rounding)
    return frequency_response(sections, frequencies, sample_rate)


def equalise(tokens: torch.Tensor, physical: torch.Tensor, input_gain_db: torch.Tensor,
             sample_rate: float, *, plugin_rounding: bool = True) -> torch.Tensor:
    """Input gain and MultiEQ: tokens (S, 2, n) → (S, 2, n)."""
    n_stems, _, n = tokens.shape
    scaled = tokens * torch.pow(10.0, input_gain_db / 20.0)[:, None, None]
    sections = eq_sections(physical, sample_rate, plugin_rounding=plugin_rounding)
    sections = sections.repeat_interleave(2, dim=0)
    return cascade(scaled.reshape(2 * n_stems, n), sections).reshape(n_stems, 2, n)


def compressor_gain(equalised: torch.Tensor, physical: torch.Tensor,
                    sample_rate: float) -> torch.Tensor:
    """OmniCompressor's linear gain (S, n), keyed from each stem's left token."""
    reduction = gain_reduction(
        key_level(equalised[:, 0]), physical[:, THRESHOLD], physical[:, RATIO], physical[:, KNEE],
        smoothing_coefficient(physical[:, ATTACK], sample_rate),
        smoothing_coefficient(physical[:, RELEASE], sample_rate),
    )
    return torch.pow(10.0, reduction / 20.0)


def output_gains(physical: torch.Tensor) -> torch.Tensor:
    """Gain and pan as per-channel linear gains (S, 2)."""
    return torch.pow(10.0, physical[:, GAIN] / 20.0)[:, None] * pan_gains(physical[:, PAN])


def process(tokens: torch.Tensor, physical: torch.Tensor, input_gain_db: torch.Tensor,
            sample_rate: float, *, plugin_rounding: bool = True) -> torch.Tensor:
    """Every stem through its chain: tokens (S, 2, n), physical parameters (S, 25), input gains
    (S,) dB → the stems as they reach the master, (S, 2, n)."""
    equalised = equalise(tokens, physical, input_gain_db, sample_rate,
                         plugin_rounding=plugin_rounding)
    gain = compressor_gain(equalised, physical, sample_rate)
    return equalised * gain[:, None, :] * output_gains(physical)[:, :, None]


def mix(tokens: torch.Tensor, physical: torch.Tensor, input_gain_db: torch.Tensor,
        sample_rate: float, *, plugin_rounding: bool = True) -> torch.Tensor:
    """The stereo mix (2, n) of :func:`process`."""
    return process(tokens, physical, input_gain_db, sample_rate,
                   plugin_rounding=plugin_rounding).sum(dim=0)


def render_song(stems: Sequence[np.ndarray], physical: torch.Tensor, input_gain_db: np.ndarray,
                sample_rate: int, rest: np.ndarray | None = None) -> np.ndarray:
    """The whole song through the console, without gradients: stems (each (n, 2) float32, as
    rendered), physical parameters (S, 25), input gains (S,) dB, and ``rest`` (n, 2) added as
    it is. One stem at a time, both channels filtered in parallel (float64 inside, summed in
    float32 like the renderer); identity EQ sections and 1:1 compressors are skipped. Returns an
    (n, 2) float32 view of a (2, n) array."""
    n = stems[0].shape[0] if stems else (rest.shape[0] if rest is not None else 0)
    out = np.zeros((2, n), np.float32)
    if rest is not None:
        out += rest.T
    with torch.no_grad():
        for s, stem in enumerate(stems):
            params = physical[s:s + 1]
            input_gain = 10.0 ** (float(input_gain_db[s]) / 20.0)
            weights = (output_gains(params)[0] * input_gain).numpy()
            sections = eq_sections(params, sample_rate)[0]
            active = sections[[k for k in range(sections.shape[0])
                               if not _identity(sections[k])]]
            compressed = float(params[0, RATIO]) > 1.0
            if not active.shape[0] and not compressed:
                out += (stem * weights.astype(np.float32)).T
                continue
            audio = torch.from_numpy(np.ascontiguousarray(stem.T, np.float64))
            if active.shape[0]:  # both channels at once: the kernel runs one per core
                audio = cascade(audio, active[None].expand(2, -1, -1))
            values = audio.numpy()
            if compressed:
                values *= torch.pow(10.0, gain_reduction(
                    key_level(audio[:1] * input_gain), params[:, THRESHOLD],
                    params[:, RATIO], params[:, KNEE],
                    smoothing_coefficient(params[:, ATTACK], sample_rate),
                    smoothing_coefficient(params[:, RELEASE], sample_rate)) / 20.0).numpy()
            values *= weights[:, None]
            out += values
    return out.T


def _identity(row: torch.Tensor) -> bool:
    return bool(row[0] == 1.0 and row[1] == row[3] and row[2] == row[4])
