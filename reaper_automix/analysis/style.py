"""Mix-style features of Diff-MST's audio-feature loss (algorithms.md B.7), over several windows
spread over a song, in a form the Match reference fit can differentiate cheaply.

Everything is measured on an STFT (Hann, n_fft 4096, hop 4096, frames inside each window) of
up to :data:`N_WINDOWS` windows of :data:`WINDOW` samples (5.94 s at 44.1 kHz) centred in equal
parts of the song; windows much quieter than the others (silence, fade-outs) are dropped. The
frames of all windows are pooled into cross-spectral matrices per frequency bin,
C_kl(f) = Σ_frames X_k(f)·conj(X_l(f)), over the signal's mono *tokens* k: a stem's L and R
(algorithms.md B.10.4). A mix whose left channel is a combination of the left tokens and whose
right channel is one of the right tokens, L(f) = Σ_i a_i(f)·X_{2i}, R(f) = Σ_i b_i(f)·X_{2i+1}
(gain, pan and EQ response per stem: the console's linear part), has power spectra that are
quadratic forms in the weights, so the Match fit gets the mix's features from the stems' C
without rendering anything. A rendered stereo signal is one source with unit weights.

The features, level-independent except the level itself:

* ``level_db``: K-weighted mean power of L + R (BS.1770's weighting, not gated), dB;
* ``bark_mid_db``: power of mid (L+R) in 24 bands equally spaced on the Bark scale from 20 Hz
  to 20 kHz, dB relative to ``level_db`` (floored 80 dB below it);
* ``bark_side_share``: side (L−R) energy / (mid + side) energy in each of those bands. B.7
  takes the log of the side spectrum instead; that has a barrier at zero side (a centred mono
  source), which traps a fitted pan on the side of the centre where it started, while the share
  is bounded and smooth;
* ``width``: side energy / mid energy (B.7's stereo width);
* ``imbalance``: (E_R − E_L)/(E_R + E_L) (B.7's stereo imbalance);
* ``crest_db`` (time domain only, :func:`crest_factor_db`): 20·log10(peak/RMS) per channel,
  averaged over windows.

B.7's per-channel RMS enters as ``level_db`` (the product sets level by loudness) and, for the
L/R difference, as ``imbalance``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.signal import sosfreqz

from .loudness import k_weighting_sos

N_FFT = 4096
HOP = 4096  # frames side by side: half the cost of 50 % overlap, the same estimator for both
WINDOW = 1 << 18  # 5.94 s at 44.1 kHz: Diff-MST's analysis window
N_WINDOWS = 8
N_BARK = 24
TOTAL, K_TOTAL = N_BARK, N_BARK + 1  # rows of SpectralGrid.pools after the Bark bands
N_POOLS = N_BARK + 2
BARK_RANGE_HZ = (20.0, 20000.0)
FLOOR_DB = -80.0  # band powers are floored this far below the level
WINDOW_GATE_DB = -20.0  # windows this much quieter than the mean window are dropped
SILENCE_DB = -90.0  # mean square below this is digital silence (dBFS)


def bark(frequency_hz: np.ndarray | float) -> np.ndarray:
    """Traunmüller's Bark scale."""
    f = np.asarray(frequency_hz, dtype=np.float64)
    return 26.81 * f / (1960.0 + f) - 0.53


def bark_centres_hz(sample_rate: float) -> np.ndarray:
    """Centre frequencies (Hz) of the :data:`N_BARK` Bark bands at ``sample_rate``."""
    top = min(BARK_RANGE_HZ[1], sample_rate / 2.0)
    edges = np.linspace(bark(BARK_RANGE_HZ[0]), bark(top), N_BARK + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    return 1960.0 * (centres + 0.53) / (26.28 - centres)  # Traunmüller's scale inverted


def window_starts(n_samples: int, count: int = N_WINDOWS, length: int = WINDOW) -> np.ndarray:
    """Start samples of ``count`` windows of ``length`` centred in equal parts of the signal
    (fewer when the signal is short; one window of the whole signal when it is shorter than
    ``length``)."""
    length = min(length, n_samples)
    count = max(1, min(count, n_samples // length))
    centres = (np.arange(count) + 0.5) * n_samples / count
    return np.clip(np.round(centres - length / 2).astype(np.int64), 0, n_samples - length)


def select_windows(signal: np.ndarray, count: int = N_WINDOWS, length: int = WINDOW
                   ) -> list[tuple[int, int]]:
    """The analysis windows of ``signal`` (samples, channels): :func:`window_starts`, without
    silent windows and windows more than 20 dB below the mean power of the others. Empty if
    the signal is silent."""
    length = min(length, signal.shape[0])
    if length < N_FFT:
        return []
    spans = [(int(s), int(s) + length) for s in window_starts(signal.shape[0], count, length)]
    power = np.array([float(np.mean(np.square(signal[a:b], dtype=np.float64))) for a, b in spans])
    with np.errstate(divide="ignore"):
        level = 10.0 * np.log10(power)
    audible = level > SILENCE_DB
    if not audible.any():
        return []
    mean_db = 10.0 * math.log10(float(power[audible].mean()))
    return [span for span, db in zip(spans, level) if db > SILENCE_DB and
            db > mean_db + WINDOW_GATE_DB]


@dataclass(frozen=True)
class SpectralGrid:
    """Frequencies and weights of the STFT bins at one sample rate."""

    sample_rate: float
    frequencies: torch.Tensor  # (F,) Hz
    bin_weight: torch.Tensor  # (F,) one-sided Parseval weight / (n_fft · Σ window²)
    k_weight: torch.Tensor  # (F,) |K-weighting|²
    pools: torch.Tensor  # (N_POOLS, F): Bark band means, total, K-weighted total
    window: torch.Tensor  # (N_FFT,) Hann

    @classmethod
    def create(cls, sample_rate: float) -> SpectralGrid:
        frequencies = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
        window = torch.hann_window(N_FFT, periodic=True, dtype=torch.float64)
        weight = np.full(frequencies.size, 2.0)
        weight[0] = 1.0
        if N_FFT % 2 == 0:
            weight[-1] = 1.0
        weight /= N_FFT * float((window ** 2).sum())
        _, response = sosfreqz(k_weighting_sos(sample_rate), worN=frequencies, fs=sample_rate)
        top = min(BARK_RANGE_HZ[1], sample_rate / 2.0)
        edges = np.linspace(bark(BARK_RANGE_HZ[0]), bark(top), N_BARK + 1)
        position = bark(frequencies)
        bands = np.zeros((N_BARK, frequencies.size))
        for b in range(N_BARK):
            inside = (position >= edges[b]) & (position < edges[b + 1])
            if not inside.any():  # a band narrower than a bin: take the nearest bin
                inside[np.argmin(np.abs(position - 0.5 * (edges[b] + edges[b + 1])))] = True
            bands[b, inside] = 1.0 / inside.sum()
        k_weight = np.abs(response) ** 2
        pools = np.vstack([bands, np.ones(frequencies.size), k_weight])
        return cls(float(sample_rate), torch.from_numpy(frequencies), torch.from_numpy(weight),
                   torch.from_numpy(k_weight), torch.from_numpy(pools), window)


def stft(signal: torch.Tensor, grid: SpectralGrid) -> torch.Tensor:
    """Frames inside ``signal`` (rows, samples) → complex (rows, F, frames)."""
    return torch.stft(signal.to(torch.float64), N_FFT, HOP, window=grid.window, center=False,
                      return_complex=True)


@dataclass
class CrossSpectra:
    """Pooled cross-spectra of sources with a left and a right token each, over the frames of
    the analysis windows: per bin, Σ_frames X conj(X)ᵀ between left tokens (``ll``), right
    tokens (``rr``) and left × right (``lr``), each (F, S, S) complex."""

    ll: torch.Tensor
    rr: torch.Tensor
    lr: torch.Tensor
    frames: int

    def __add__(self, other: CrossSpectra) -> CrossSpectra:
        return CrossSpectra(self.ll + other.ll, self.rr + other.rr, self.lr + other.lr,
                            self.frames + other.frames)


def _blocks(left: torch.Tensor, right: torch.Tensor, frames: int) -> CrossSpectra:
    """ll, rr and lr per bin for (F, S, frames) complex spectra, from one batched real product
    of the stacked real and imaginary parts (3.5x faster than twelve smaller ones)."""
    s = left.shape[1]
    stacked = torch.cat([left.real, left.imag, right.real, right.imag], dim=1)  # (F, 4S, frames)
    g = torch.bmm(stacked, stacked.transpose(1, 2))
    lr_, li, rr_, ri = (slice(k * s, (k + 1) * s) for k in range(4))

    def block(ar: slice, ai: slice, br: slice, bi: slice) -> torch.Tensor:  # a conj(b)ᵀ
        return torch.complex(g[:, ar, br] + g[:, ai, bi], g[:, ai, br] - g[:, ar, bi])

    return CrossSpectra(block(lr_, li, lr_, li), block(rr_, ri, rr_, ri),
                        block(lr_, li, rr_, ri), frames)


def cross_spectra(tokens: np.ndarray | torch.Tensor, windows: list[tuple[int, int]],
                  grid: SpectralGrid) -> CrossSpectra:
    """Cross-spectra of ``tokens`` (2·S, samples), alternating left and right (token 2i is
    source i's left channel, 2i + 1 its right), over the frames of ``windows``."""
    data = torch.as_tensor(tokens)
    total: CrossSpectra | None = None
    for start, stop in windows:
        spectra = stft(data[:, start:stop], grid).permute(1, 0, 2)  # (F, 2S, frames)
        part = _blocks(spectra[:, 0::2], spectra[:, 1::2], spectra.shape[2])
        total = part if total is None else total + part
    if total is None:
        raise ValueError("no analysis window")
    return total


def _form(cross: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Σ_kl a_k C_kl conj(b_l) per bin: cross (F, S, S), a and b (F, S) → complex (F,)."""
    return torch.einsum("fk,fkl,fl->f", a, cross, b.conj())


Pooled = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def pooled_powers(cross: CrossSpectra, left: torch.Tensor, right: torch.Tensor,
                  grid: SpectralGrid) -> Pooled:
    """Pooled powers (Bark bands, total, K-weighted total) of L, R, mid and side for the mix
    L = Σ_i left_i X_{2i}, R = Σ_i right_i X_{2i+1} (weights (S, F), real or complex)."""
    scale = grid.bin_weight / cross.frames
    a = left.transpose(0, 1).to(torch.complex128)
    b = right.transpose(0, 1).to(torch.complex128)
    power_left = torch.real(_form(cross.ll, a, a)) * scale
    power_right = torch.real(_form(cross.rr, b, b)) * scale
    shared = 2.0 * torch.real(_form(cross.lr, a, b)) * scale
    pools = grid.pools
    pl, pr, ps = pools @ power_left, pools @ power_right, pools @ shared
    return pl, pr, pl + pr + ps, pl + pr - ps


@dataclass
class BandCross:
    """Cross-spectra with fixed per-source responses H already applied and pooled:
    Σ_f pool(f)·Re(H_k C_kl conj(H_l)) for the ll, rr and lr blocks, each (N_POOLS, S, S) real.
    The pooled powers of a mix whose sources differ only by real gains are then quadratic
    forms of size S: microseconds per evaluation."""

    ll: torch.Tensor
    rr: torch.Tensor
    lr: torch.Tensor


def band_cross(cross: CrossSpectra, response: torch.Tensor, grid: SpectralGrid) -> BandCross:
    """Pool ``cross`` under fixed responses ``response`` (S, F) complex."""
    weight = grid.pools * (grid.bin_weight / cross.frames)  # (P, F)
    h = response.detach().transpose(0, 1).to(torch.complex128)  # (F, S)
    outer = h[:, :, None] * h.conj()[:, None, :]

    def pool(block: torch.Tensor) -> torch.Tensor:
        return torch.einsum("pf,fkl->pkl", weight, torch.real(block * outer))

    return BandCross(pool(cross.ll), pool(cross.rr), pool(cross.lr))


def pooled_from_bands(bands: BandCross, left: torch.Tensor, right: torch.Tensor) -> Pooled:
    """Pooled powers for real per-source gains ``left``, ``right`` (S,)."""
    pl = torch.einsum("pkl,k,l->p", bands.ll, left, left)
    pr = torch.einsum("pkl,k,l->p", bands.rr, right, right)
    ps = 2.0 * torch.einsum("pkl,k,l->p", bands.lr, left, right)
    return pl, pr, pl + pr + ps, pl + pr - ps


SUBBANDS_PER_OCTAVE = 24


@dataclass
class SubbandCross:
    """Cross-spectra pooled into narrow sub-bands: per sub-band b, Σ_{f in b} w(f)·C(f) for the
    three kinds of feature pool w — the Bark band average, the plain total, the K-weighted total
    — as (3, B, S, S) complex per block. A mix whose per-source weights are taken constant within
    each sub-band (evaluated at ``frequencies``) then costs B instead of F bins per evaluation;
    the pools themselves stay exact. Sub-bands are single bins up to where 1/24 octave is wider
    than a bin, then 1/24 octave, never across a Bark band edge."""

    ll: torch.Tensor
    rr: torch.Tensor
    lr: torch.Tensor
    frequencies: torch.Tensor  # (B,) Hz, the mean frequency of each sub-band's bins
    bark_band: torch.Tensor  # (B,) the Bark band of each sub-band, −1 outside 20 Hz–20 kHz


def _subbands(grid: SpectralGrid) -> tuple[np.ndarray, np.ndarray]:
    """Every bin's sub-band (F,), numbered in frequency order, and every sub-band's Bark band."""
    f = grid.frequencies.numpy()
    knee = (f[1] - f[0]) / (2.0 ** (1.0 / SUBBANDS_PER_OCTAVE) - 1.0)  # 1/24 octave = one bin
    slot = np.floor(SUBBANDS_PER_OCTAVE * np.log2(np.maximum(f, knee) / knee))
    key = np.where(f < knee, np.arange(f.size), f.size + slot)
    inside = grid.pools[:N_BARK].numpy() > 0
    bark_band = np.where(inside.any(axis=0), np.argmax(inside, axis=0), -1)
    change = np.r_[True, (key[1:] != key[:-1]) | (bark_band[1:] != bark_band[:-1])]
    index = np.cumsum(change) - 1  # bins are in frequency order, so sub-bands are too
    return index, bark_band[change]


def subband_cross(cross: CrossSpectra, grid: SpectralGrid) -> SubbandCross:
    index, bark_band = _subbands(grid)
    index_t = torch.from_numpy(index)
    n_bands = bark_band.size
    scale = grid.bin_weight / cross.frames
    bark_average = grid.pools[:N_BARK].sum(dim=0)  # each bin's averaging weight in its band
    weights = torch.stack([bark_average, torch.ones_like(scale), grid.k_weight]) * scale

    def pool(block: torch.Tensor) -> torch.Tensor:  # (F, S, S) → (3, B, S, S)
        weighted = weights.to(torch.complex128)[:, :, None, None] * block[None]
        out = torch.zeros((3, n_bands, *block.shape[1:]), dtype=torch.complex128)
        return out.index_add_(1, index_t, weighted)

    counts = torch.zeros(n_bands, dtype=torch.float64).index_add_(
        0, index_t, torch.ones_like(grid.frequencies))
    centres = torch.zeros(n_bands, dtype=torch.float64).index_add_(
        0, index_t, grid.frequencies) / counts
    return SubbandCross(pool(cross.ll), pool(cross.rr), pool(cross.lr), centres,
                        torch.from_numpy(bark_band))


def pooled_from_subbands(sub: SubbandCross, left: torch.Tensor, right: torch.Tensor) -> Pooled:
    """Pooled powers for per-source weights ``left``, ``right`` (S, B) at the sub-bands."""
    a = left.transpose(0, 1).to(torch.complex128)  # (B, S)
    b = right.transpose(0, 1).to(torch.complex128)
    inside = sub.bark_band >= 0

    def pools(block: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        q = torch.real(torch.einsum("bk,tbkl,bl->tb", x, block, y.conj()))  # (3, B)
        bark = torch.zeros(N_BARK, dtype=torch.float64).index_add(
            0, sub.bark_band[inside], q[0, inside])
        return torch.cat([bark, q[1].sum().reshape(1), q[2].sum().reshape(1)])

    pl, pr = pools(sub.ll, a, a), pools(sub.rr, b, b)
    ps = 2.0 * pools(sub.lr, a, b)
    return pl, pr, pl + pr + ps, pl + pr - ps


def features(cross: CrossSpectra, left: torch.Tensor, right: torch.Tensor,
             grid: SpectralGrid) -> dict[str, torch.Tensor]:
    """The spectral features of the mix L = Σ_i left_i X_{2i}, R = Σ_i right_i X_{2i+1}."""
    return pooled_features(pooled_powers(cross, left, right, grid), grid)


def pooled_features(pooled: Pooled, grid: SpectralGrid) -> dict[str, torch.Tensor]:
    """Features from the pooled powers of L, R, mid and side."""
    left, right, mid, side = pooled
    level = left[K_TOTAL] + right[K_TOTAL]
    level_db = 10.0 * torch.log10(level + 1e-30)
    floor = level * 10.0 ** (FLOOR_DB / 10.0) / grid.frequencies.shape[0]

    def bands(power: torch.Tensor) -> torch.Tensor:  # mean power per bin in each band
        return 10.0 * torch.log10(power[:N_BARK] + floor) - level_db

    return {
        "level_db": level_db,
        "bark_mid_db": bands(mid),
        "bark_side_share": side[:N_BARK] / (mid[:N_BARK] + side[:N_BARK] + floor),
        "width": side[TOTAL] / (mid[TOTAL] + 1e-30),
        "imbalance": (right[TOTAL] - left[TOTAL]) / (right[TOTAL] + left[TOTAL] + 1e-30),
    }


def stereo_features(signal: np.ndarray | torch.Tensor, windows: list[tuple[int, int]],
                    grid: SpectralGrid) -> dict[str, torch.Tensor]:
    """Spectral features of a stereo signal (2, samples) plus its crest factor."""
    data = torch.as_tensor(signal)
    cross = cross_spectra(data, windows, grid)
    unit = torch.ones(1, grid.frequencies.shape[0], dtype=torch.float64)
    return {**features(cross, unit, unit, grid), "crest_db": crest_factor_db(data, windows)}


def crest_factor_db(signal: torch.Tensor, windows: list[tuple[int, int]]) -> torch.Tensor:
    """20·log10(peak / RMS) per channel of (2, samples), averaged over windows → (2,)."""
    values = []
    for start, stop in windows:
        part = signal[:, start:stop].to(torch.float64)
        peak = torch.amax(torch.abs(part), dim=1)
        rms = torch.sqrt(torch.mean(part * part, dim=1))
        values.append(20.0 * torch.log10((peak + 1e-30) / (rms + 1e-30)))
    return torch.stack(values).mean(dim=0)
