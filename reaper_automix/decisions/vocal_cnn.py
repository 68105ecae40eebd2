"""The ``cnn`` vocal method: Li & Lerch's four networks (algorithms.md C.4), trained by us
(``reaper-automix train vocal``, :mod:`reaper_automix.training.vocal`) on generated material.

Features: mel spectrograms of the mono backing and the mono vocal (44.1 kHz, FFT 2048, hop 1024,
128 HTK mel bands, Hann, centred, power 2, no log); frames where the vocal's RMS over the frame's
2048-sample window is below −30 dBFS are dropped from both; the rest is cut into blocks of 64
frames (the remainder dropped); a block is (2, 128, 64), channel 0 the backing, channel 1 the
vocal, each channel divided by its own maximum. Each network: 4 × [Conv2d 3×3 (no padding) →
BatchNorm → ReLU → MaxPool 2], channels 2 → 8 → 16 → 32 → 64, flatten (768), dropout 0.3,
Linear(768 → k). Predictions are averaged over the song's blocks and clamped to [0, 1].

Stages (chain order, each on the audio the previous stages produced): EQ (9 octave gains; the
4 largest kept and negated: the network predicts what was added), compression (a target LRA for
the rules' iterative search), reverb (the 10 FdnReverb parameters), level (vocal minus backing).
The authors' published weights are not used, shipped or imported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.bands import OCTAVE_CENTRES_HZ
from ..audio.io import resample
from ..iem import FDNREVERB
from . import vocal_rules
from .vocal_chain import Stage

WEIGHTS_FILE = Path(__file__).with_name("vocal_cnn.pt")
FEATURE_RATE = 44100
N_FFT, HOP, N_MELS, BLOCK_FRAMES = 2048, 1024, 128, 64
GATE_DBFS = -30.0
CHANNELS = (2, 8, 16, 32, 64)

#: Label ranges for the [0, 1] normalisation (C.4 table).
LEVEL_RANGE = (-10.0, 6.0)
LRA_RANGE = (5.0, 30.0)
EQ_RANGE = (-15.0, 15.0)
REVERB_PARAMS = ("delayLength", "revTime", "lowCutoff", "lowQ", "lowGain", "highCutoff",
                 "highQ", "highGain", "fadeInTime", "dryWet")
MODELS = {"level": 1, "compression": 1, "eq": len(OCTAVE_CENTRES_HZ), "reverb": 10}


# =============================================================================== features
@lru_cache(maxsize=4)
def mel_filterbank(sample_rate: int = FEATURE_RATE, n_fft: int = N_FFT,
                   n_mels: int = N_MELS) -> np.ndarray:
    """(n_fft/2 + 1, n_mels) triangular HTK-mel filters from 0 Hz to Nyquist, unnormalised
    (torchaudio's ``melscale_fbanks(..., norm=None, mel_scale="htk")``)."""
    freqs = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)

    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    points = 700.0 * (10.0 ** (np.linspace(mel(0.0), mel(sample_rate / 2.0), n_mels + 2)
                               / 2595.0) - 1.0)
    slopes = points[None, :] - freqs[:, None]
    widths = np.diff(points)
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    return np.maximum(0.0, np.minimum(down, up))


def _frames(signal: np.ndarray) -> np.ndarray:
    """Centred, reflect-padded frames of N_FFT samples every HOP (torch.stft's layout)."""
    pad = N_FFT // 2
    padded = np.pad(signal, pad, mode="reflect") if signal.size > pad else np.pad(signal, pad)
    count = 1 + (padded.size - N_FFT) // HOP
    return np.lib.stride_tricks.as_strided(
        padded, shape=(count, N_FFT), strides=(padded.strides[0] * HOP, padded.strides[0]),
        writeable=False)


def mel_spectrogram(signal: np.ndarray) -> np.ndarray:
    """(frames, 128) power mel spectrogram of a mono 44.1 kHz signal."""
    frames = _frames(np.asarray(signal, dtype=np.float32))
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)  # periodic Hann, as torch
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    return (power @ mel_filterbank()).astype(np.float32)


def frame_rms_dbfs(signal: np.ndarray) -> np.ndarray:
    frames = _frames(np.asarray(signal, dtype=np.float32))
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(rms)


def to_feature_rate(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono downmix at 44.1 kHz."""
    x = np.asarray(audio, dtype=np.float32)
    x = x if x.ndim == 1 else x.mean(axis=1)
    if sample_rate != FEATURE_RATE:
        x = resample(x[:, None], sample_rate, FEATURE_RATE)[:, 0]
    return np.ascontiguousarray(x, dtype=np.float32)


def feature_blocks(vocal: np.ndarray, backing: np.ndarray, sample_rate: int) -> np.ndarray:
    """(blocks, 2, 128, 64) network inputs for a song (channel 0 backing, 1 vocal)."""
    v, b = to_feature_rate(vocal, sample_rate), to_feature_rate(backing, sample_rate)
    keep = frame_rms_dbfs(v) > GATE_DBFS
    mel_v, mel_b = mel_spectrogram(v)[keep], mel_spectrogram(b)[keep]
    count = mel_v.shape[0] // BLOCK_FRAMES
    if count == 0:
        return np.zeros((0, 2, N_MELS, BLOCK_FRAMES), np.float32)
    used = count * BLOCK_FRAMES
    pair = np.stack([mel_b[:used], mel_v[:used]])  # (2, frames, mels)
    blocks = pair.reshape(2, count, BLOCK_FRAMES, N_MELS).transpose(1, 0, 3, 2)
    return normalise_blocks(blocks)


def normalise_blocks(blocks: np.ndarray) -> np.ndarray:
    """Each channel of each block divided by its own maximum (zero stays zero)."""
    peak = blocks.max(axis=(2, 3), keepdims=True)
    return (blocks / np.where(peak > 0, peak, 1.0)).astype(np.float32)


# ============================================================================= networks
def build_network(outputs: int):
    """The paper's regressor for ``outputs`` values (about 25.5 k parameters for one)."""
    import torch
    from torch import nn

    layers: list[nn.Module] = []
    for c_in, c_out in zip(CHANNELS[:-1], CHANNELS[1:]):
        layers += [nn.Conv2d(c_in, c_out, 3), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]
    layers += [nn.Flatten(), nn.Dropout(0.3), nn.Linear(CHANNELS[-1] * 6 * 2, outputs)]
    torch.manual_seed(0)
    return nn.Sequential(*layers)


def normalise_labels(model: str, values: np.ndarray) -> np.ndarray:
    lo, hi = _label_ranges(model)
    return (np.asarray(values, float) - lo) / (hi - lo)


def denormalise_labels(model: str, values: np.ndarray) -> np.ndarray:
    lo, hi = _label_ranges(model)
    return lo + np.clip(np.asarray(values, float), 0.0, 1.0) * (hi - lo)


def _label_ranges(model: str) -> tuple[np.ndarray, np.ndarray]:
    if model == "level":
        return np.array([LEVEL_RANGE[0]]), np.array([LEVEL_RANGE[1]])
    if model == "compression":
        return np.array([LRA_RANGE[0]]), np.array([LRA_RANGE[1]])
    if model == "eq":
        n = len(OCTAVE_CENTRES_HZ)
        return np.full(n, EQ_RANGE[0]), np.full(n, EQ_RANGE[1])
    # reverb (C.4 [code]): RS/30, RT/9, cutoffs/20000, Q/0.9, (gain+80)/86, FT/9, DW as is
    lo = np.array([0, 0, 0, 0, -80, 0, 0, -80, 0, 0], float)
    hi = np.array([30, 9, 20000, 0.9, 6, 20000, 0.9, 6, 9, 1], float)
    return lo, hi


@dataclass
class TrainedNetworks:
    """The four networks and what the model card says about them."""

    networks: dict[str, Any]
    card: dict[str, Any]

    def predict(self, model: str, blocks: np.ndarray) -> np.ndarray:
        """Mean normalised prediction over the blocks, clamped to [0, 1], de-normalised."""
        import torch

        net = self.networks[model]
        with torch.no_grad():
            out = net(torch.from_numpy(np.ascontiguousarray(blocks))).numpy()
        return denormalise_labels(model, np.clip(out.mean(axis=0), 0.0, 1.0))


@lru_cache(maxsize=2)
def load_networks(path: str | Path = WEIGHTS_FILE) -> TrainedNetworks:
    import torch

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"the cnn vocal method has no trained weights ({path.name} is missing); train them "
            "with `reaper-automix train vocal` or use --method prior or rules")
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    saved = torch.load(path, map_location="cpu", weights_only=True)
    networks = {}
    for name, outputs in MODELS.items():
        net = build_network(outputs)
        net.load_state_dict(saved["state_dicts"][name])
        net.eval()
        networks[name] = net
    return TrainedNetworks(networks, json.loads(saved.get("card", "{}")))


# ============================================================================== method
class CnnMethod:
    """Li & Lerch's CNN system (C.4) with our trained weights."""

    name = "cnn"

    def __init__(self, networks: TrainedNetworks | None = None) -> None:
        self.nets = networks or load_networks()

    def _blocks(self, ctx, vocal: np.ndarray) -> np.ndarray:
        blocks = feature_blocks(vocal, ctx.backing, ctx.sample_rate)
        if blocks.shape[0] == 0:
            from .vocal import VocalInputError

            raise VocalInputError(
                "the cnn method needs at least 64 mel frames (about 1.5 s) where the vocal is "
                "above -30 dBFS; this vocal has fewer (use --method prior or rules)")
        return blocks

    def eq(self, ctx) -> Stage:
        blocks = self._blocks(ctx, ctx.vocal)
        gains = self.nets.predict("eq", blocks)
        order = np.argsort(-np.abs(gains), kind="stable")[: vocal_rules.MAX_FILTERS]
        chosen = sorted((OCTAVE_CENTRES_HZ[k], float(-gains[k])) for k in order
                        if OCTAVE_CENTRES_HZ[k] < 0.45 * ctx.sample_rate)
        params = {**vocal_rules.NEUTRAL_EQ_LAYOUT}
        for band, (frequency, gain) in enumerate(chosen, start=1):
            params[f"filterFrequency{band}"] = frequency
            params[f"filterGain{band}"] = gain
        return Stage(params, {"blocks": int(blocks.shape[0]),
                              "predicted_added_db": gains.tolist(),
                              "filters": [{"frequency_hz": f, "gain_db": g, "q": 1.0}
                                          for f, g in chosen]})

    def compressor(self, ctx, vocal: np.ndarray) -> Stage:
        target = float(self.nets.predict("compression", self._blocks(ctx, vocal))[0])
        stage = vocal_rules.compression_search(vocal, ctx.sample_rate, target_lu=target)
        stage.notes.insert(0, f"compression: predicted target LRA {target:.1f} LU")
        return stage

    def reverb(self, ctx, vocal: np.ndarray) -> Stage:
        values = self.nets.predict("reverb", self._blocks(ctx, vocal))
        params = {name: float(value) for name, value in zip(REVERB_PARAMS, values)}
        params["fdnSize"] = 2.0
        params = FDNREVERB.to_grid(params)
        note = (f"reverb: predicted room {params['delayLength']:.0f}, T60 "
                f"{params['revTime']:.1f} s, dry/wet {params['dryWet']:.2f}")
        return Stage(params, {"predicted": dict(zip(REVERB_PARAMS, map(float, values)))}, [note])

    def level(self, ctx, vocal: np.ndarray):
        from .vocal import Level

        target = float(self.nets.predict("level", self._blocks(ctx, vocal))[0])
        card = self.nets.card
        source = (f"cnn level network (trained on {card.get('data', 'generated sessions')}; "
                  "see docs/vocal-cnn.md)")
        return Level(round(target, 2), source, {"predicted_lu": target},
                     [f"level: the network predicts {target:+.2f} LU vocal minus backing"])
