"""MatchNet: the small Diff-MST-style network that gives Match reference its starting point
(algorithms.md B.3, B.4, B.11; docs/match-model.md).

Tokens are mono signals: every stem gives two (its left and right channel, B.10.4), the
reference two (L, R). One shared encoder (log-mel front end + CNN) turns each token into a
vector; learned type embeddings say what a token is (stem left, stem right, reference left,
reference right) and a projection of the mean of a stem's two vectors is added to both, so the
pair knows it belongs together. A pre-LN Transformer with **no positional encoding** runs over
[stem tokens] + [reference tokens] with a padding mask, so the stems have no order
(permutation-equivariant) and any number of them fits. One shared head with a sigmoid gives the
25 normalised console parameters of :mod:`reaper_automix.console.params` for every stem token;
a stem's parameters are the mean of its two tokens' outputs (so they stay in [0, 1]).

Inputs follow B.2/B.11: each stem's 5.94 s window at the stem's console level shifted to
:data:`INPUT_STEM_LUFS` (−48 LUFS for a stem at the console's ``STEM_LUFS``), the reference window
at :data:`INPUT_REFERENCE_LUFS` (−16 LUFS). Outputs are console parameters in the console's own
domain (stems at ``STEM_LUFS``); :func:`predict` maps them to physical values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..console import params as P

WEIGHTS_FILE = Path(__file__).with_name("match_net.pt")
STORED_DTYPE = torch.float16  # how :func:`save` stores floating tensors
SAMPLE_RATE = 44100
WINDOW = 262144  # 5.94 s at 44.1 kHz, the original's analysis window (B.6, B.11)
INPUT_STEM_LUFS = -48.0  # B.2: what a stem at the console's STEM_LUFS is scaled to
INPUT_REFERENCE_LUFS = -16.0  # B.2: the reference window's loudness
STEM_LEFT, STEM_RIGHT, REFERENCE_LEFT, REFERENCE_RIGHT = range(4)


class ModelUnavailableError(OSError):
    """The shipped weights are missing or unreadable."""


@dataclass(frozen=True)
class MatchNetConfig:
    """Sizes of the network (defaults: the shipped model)."""

    n_fft: int = 4096
    hop: int = 2048
    n_mels: int = 128
    f_min: float = 20.0
    f_max: float = 20000.0
    channels: tuple[int, ...] = (8, 16, 32, 64, 128, 256)
    d_model: int = 256
    heads: int = 4
    layers: int = 4
    feedforward: int = 1024
    dropout: float = 0.1

    @classmethod
    def from_dict(cls, data: dict) -> MatchNetConfig:
        return cls(**{**data, "channels": tuple(data["channels"])})


# ------------------------------------------------------------------------------------ front end
def mel_filterbank(n_fft: int, n_mels: int, sample_rate: float, f_min: float,
                   f_max: float) -> torch.Tensor:
    """Triangular filters (n_mels, n_fft // 2 + 1) on the HTK mel scale, peak 1."""
    def mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(np.array(f_min)), mel(np.array(f_max)), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None] - low) / (centre - low)
    falling = (high - bins[None]) / (high - centre)
    return torch.from_numpy(np.clip(np.minimum(rising, falling), 0.0, None).astype(np.float32))


class LogMel(nn.Module):
    """Mono signals (..., n) → log-mel power (..., n_mels, frames), in dB / 20 + 4: level is an
    additive offset (a gain of g dB shifts every value by g / 20), so gains stay readable."""

    def __init__(self, config: MatchNetConfig) -> None:
        super().__init__()
        self.n_fft, self.hop = config.n_fft, config.hop
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        self.register_buffer("filters", mel_filterbank(config.n_fft, config.n_mels, SAMPLE_RATE,
                                                       config.f_min, config.f_max),
                             persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        shape = audio.shape[:-1]
        flat = audio.reshape(-1, audio.shape[-1]).float()
        spectrum = torch.stft(flat, self.n_fft, self.hop, window=self.window, center=True,
                              return_complex=True)
        power = spectrum.real ** 2 + spectrum.imag ** 2
        mel = torch.matmul(self.filters, power)
        db = 10.0 * torch.log10(mel + 1e-10)
        return (db / 20.0 + 4.0).reshape(*shape, *mel.shape[-2:])


# -------------------------------------------------------------------------------------- network
class _ConvBlock(nn.Module):
    """Conv 3×3 (no bias) → BatchNorm → ReLU → average pool (frequency, time)."""

    def __init__(self, inputs: int, outputs: int, pool: tuple[int, int]) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(inputs, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs),
            nn.ReLU(inplace=True), nn.AvgPool2d(pool, ceil_mode=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Encoder(nn.Module):
    """Log-mel (B, n_mels, frames) → (B, d_model): conv blocks, mean over frequency, mean + max
    over time, a linear layer (B.3, B.11). One conv per block (Cnn14 has two) and a (2, 4) first
    pool keep it at about 90 M multiply-adds per 6 s token, so a CPU can train it."""

    def __init__(self, config: MatchNetConfig) -> None:
        super().__init__()
        widths = (1, *config.channels)
        pools = [(2, 4)] + [(2, 2)] * (len(config.channels) - 2) + [(1, 1)]
        self.blocks = nn.Sequential(*[_ConvBlock(a, b, pool)
                                      for a, b, pool in zip(widths, widths[1:], pools)])
        self.project = nn.Linear(2 * config.channels[-1], config.d_model)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.blocks(mel[:, None]).mean(dim=2)  # (B, C, time)
        return self.project(torch.cat([x.mean(dim=-1), x.amax(dim=-1)], dim=-1))


class MatchNet(nn.Module):
    """Stems and a reference → normalised console parameters per stem (see the module doc)."""

    def __init__(self, config: MatchNetConfig = MatchNetConfig()) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.front_end = LogMel(config)
        self.encoder = Encoder(config)
        self.types = nn.Parameter(torch.randn(4, d) * 0.02)
        self.pair = nn.Linear(d, d)
        layer = nn.TransformerEncoderLayer(d, config.heads, config.feedforward, config.dropout,
                                           activation="relu", batch_first=True, norm_first=True)
        self.controller = nn.TransformerEncoder(layer, config.layers, norm=nn.LayerNorm(d),
                                                enable_nested_tensor=False)
        self.head = nn.Linear(d, P.N_PARAMS)
        with torch.no_grad():  # start at the neutral console (ratio 1:1, flat EQ, 0 dB, centre)
            self.head.weight.mul_(0.1)
            start = P.to_normalised(P.neutral(1)[0]).clamp(0.02, 0.98)
            self.head.bias.copy_(torch.logit(start).float())

    def forward(self, stems: torch.Tensor, mask: torch.Tensor,
                reference: torch.Tensor) -> torch.Tensor:
        """``stems`` (B, S, 2, samples), ``mask`` (B, S) True for real stems (padding False),
        ``reference`` (B, 2, samples) → normalised parameters (B, S, 25) in [0, 1]; rows of
        padded slots are meaningless."""
        return self.forward_mels(self.front_end(stems), mask, self.front_end(reference))

    def forward_mels(self, stem_mels: torch.Tensor, mask: torch.Tensor,
                     reference_mels: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` from front-end outputs: ``stem_mels`` (B, S, 2, mels, frames),
        ``reference_mels`` (B, 2, mels, frames). Padded stems are never encoded, so they
        change nothing (BatchNorm statistics included)."""
        batch, n_stems = mask.shape
        d = self.config.d_model
        valid = mask.reshape(-1)
        stem_embeddings = reference_mels.new_zeros(batch * n_stems, 2, d)
        if bool(valid.any()):
            real = stem_mels.reshape(batch * n_stems, 2, *stem_mels.shape[-2:])[valid]
            encoded = self.encoder(real.reshape(-1, *real.shape[-2:]))
            stem_embeddings[valid] = encoded.reshape(-1, 2, d)
        stem_embeddings = stem_embeddings.reshape(batch, n_stems, 2, d)
        stem_embeddings = (stem_embeddings + self.types[:2]
                           + self.pair(stem_embeddings.mean(dim=2, keepdim=True)))
        reference_embeddings = self.encoder(reference_mels.reshape(-1,
                                                                   *reference_mels.shape[-2:]))
        reference_embeddings = reference_embeddings.reshape(batch, 2, d) + self.types[2:]
        tokens = torch.cat([stem_embeddings.reshape(batch, 2 * n_stems, d),
                            reference_embeddings], dim=1)
        padding = torch.cat([~mask.repeat_interleave(2, dim=1),
                             torch.zeros(batch, 2, dtype=torch.bool, device=mask.device)], dim=1)
        out = self.controller(tokens, src_key_padding_mask=padding)
        per_token = torch.sigmoid(self.head(out[:, :2 * n_stems]))
        return per_token.reshape(batch, n_stems, 2, P.N_PARAMS).mean(dim=2)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


# ------------------------------------------------------------------------------------ weights
def save(model: MatchNet, path: str | Path, card: dict | None = None) -> Path:
    """Weights (floating tensors stored as float16: half the size, predictions equal to well
    under the console's grids, docs/match-model.md) + config (+ a model card dict) in one torch
    file, loadable with weights_only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().to(STORED_DTYPE) if v.is_floating_point() else v.detach().cpu()
             for k, v in model.state_dict().items()}
    torch.save({"config": asdict(model.config), "state_dict": state, "card": card or {}}, path)
    return path


def load(path: str | Path = WEIGHTS_FILE) -> MatchNet:
    """A model in eval mode from a :func:`save` file."""
    path = Path(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise ModelUnavailableError(
            f"Match reference model weights not found at {path}; reinstall reaper-automix or "
            "use --start neutral") from exc
    except (RuntimeError, OSError, KeyError) as exc:
        raise ModelUnavailableError(f"cannot read the model weights {path}: {exc}") from exc
    model = MatchNet(MatchNetConfig.from_dict(data["config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in data["state_dict"].items()})  # computes in float32
    return model.eval()


def card(path: str | Path = WEIGHTS_FILE) -> dict:
    """The training record stored with the weights (data, steps, losses, command)."""
    return dict(torch.load(Path(path), map_location="cpu", weights_only=True)["card"])


@lru_cache(maxsize=2)
def _shipped(path: str) -> MatchNet:
    return load(path)


# ---------------------------------------------------------------------------------- inference
def loudest_window(audio: np.ndarray, sample_rate: int, length: int = WINDOW) -> int:
    """Start sample of the loudest ``length`` samples of ``audio`` (n, ch), by BS.1770 power
    over the window (B.11: the loudest 6 s by short-term loudness); 0 when shorter."""
    from ..analysis.loudness import energy_profile

    if audio.shape[0] <= length:
        return 0
    seconds = math.floor(length / sample_rate * 10.0) / 10.0
    power = energy_profile(audio, sample_rate).window_power(seconds)
    if power.size == 0 or not np.any(power > 0):
        return 0
    start = int(round(int(np.argmax(power)) * 0.1 * sample_rate))
    return min(start, audio.shape[0] - length)


def _window(audio: np.ndarray, start: int, length: int) -> np.ndarray:
    part = np.asarray(audio[start:start + length], np.float32)
    if part.shape[0] < length:
        part = np.pad(part, ((0, length - part.shape[0]), (0, 0)))
    return part


def prepare_inputs(stems: Sequence[np.ndarray], input_gain_db: Sequence[float],
                   reference: np.ndarray, sample_rate: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The network's inputs (B.11): stems (1, S, 2, WINDOW) at the loudest window of their
    equal-loudness sum, each at its console level shifted to −48 LUFS; the reference (1, 2,
    WINDOW) at its loudest window, normalised to −16 LUFS. Stems are (n, 2) and the reference
    (m, 2) at ``sample_rate`` (windows are resampled to 44.1 kHz); ``input_gain_db`` brings each
    stem to the console's ``STEM_LUFS``."""
    from ..analysis.loudness import LoudnessMeter
    from ..audio.io import resample

    length = int(round(WINDOW * sample_rate / SAMPLE_RATE))

    def at_model_rate(window: np.ndarray) -> np.ndarray:
        out = resample(window, sample_rate, SAMPLE_RATE)[:WINDOW]
        return np.pad(out, ((0, WINDOW - out.shape[0]), (0, 0)))

    gains = np.power(10.0, (np.asarray(input_gain_db, np.float64)
                            + INPUT_STEM_LUFS - P.STEM_LUFS) / 20.0)
    equal = sum(np.asarray(s, np.float64) * g for s, g in zip(stems, gains))
    start = loudest_window(np.asarray(equal), sample_rate, length)
    windows = np.stack([at_model_rate(_window(s, start, length)).T * np.float32(g)
                        for s, g in zip(stems, gains)])
    reference = np.asarray(reference, np.float32)
    ref = at_model_rate(_window(reference, loudest_window(reference, sample_rate, length),
                                length))
    loudness = LoudnessMeter(SAMPLE_RATE).integrated(ref)
    if math.isfinite(loudness):
        ref = ref * np.float32(10.0 ** ((INPUT_REFERENCE_LUFS - loudness) / 20.0))
    return (torch.from_numpy(windows.astype(np.float32))[None],
            torch.from_numpy(np.ascontiguousarray(ref.T))[None])


def predict(stems: Sequence[np.ndarray], input_gain_db: Sequence[float], reference: np.ndarray,
            sample_rate: int, model: MatchNet | None = None) -> torch.Tensor:
    """Physical console parameters (S, 25) float64 for stems (each (n, 2), pre-fader) whose
    console input gains are ``input_gain_db``, against ``reference`` (m, 2). ``model`` defaults
    to the shipped weights."""
    net = model if model is not None else _shipped(str(WEIGHTS_FILE))
    audio, ref = prepare_inputs(stems, input_gain_db, reference, sample_rate)
    with torch.no_grad():
        normalised = net(audio, torch.ones(audio.shape[:2], dtype=torch.bool), ref)[0]
    return P.to_physical(normalised.double().clamp(0.0, 1.0))
