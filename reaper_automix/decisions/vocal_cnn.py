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

import io
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
from .vocal_chain import Stage, concurrently

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


MEL_CHUNK = 512  # frames transformed at once


def mel_spectrogram(signal: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """(frames, 128) power mel spectrogram of a mono 44.1 kHz signal; with ``rows`` only those
    frames, in that order. Chunks of frames on two threads: every frame's row comes out the
    same, bit for bit, however the frames are grouped (one FFT per row, one product per row)."""
    frames = _frames(np.asarray(signal, dtype=np.float32))
    index = np.arange(frames.shape[0]) if rows is None else np.asarray(rows)
    out = np.empty((index.size, N_MELS), np.float32)
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)  # periodic Hann, as torch
    bank = mel_filterbank()

    def part(first: int, last: int) -> None:
        for start in range(first, last, MEL_CHUNK):
            stop = min(start + MEL_CHUNK, last)
            power = np.abs(np.fft.rfft(frames[index[start:stop]] * window, axis=1)) ** 2
            out[start:stop] = power @ bank  # float64 product, stored as float32

    half = index.size // 2
    concurrently(lambda: part(0, half), lambda: part(half, index.size))
    return out


def frame_rms_dbfs(signal: np.ndarray) -> np.ndarray:
    """RMS (dBFS) of each frame: the float64 squares summed per hop of 1024 samples, a frame's
    sum being its two hops' (bit for bit NumPy's pairwise sum over the 2048-sample frame, which
    splits it in these halves), without a float64 copy of every overlapping frame."""
    pad = N_FFT // 2
    x = np.asarray(signal, dtype=np.float32)
    padded = np.pad(x, pad, mode="reflect") if x.size > pad else np.pad(x, pad)
    count = 1 + (padded.size - N_FFT) // HOP
    squares = padded[: (count + 1) * HOP].astype(np.float64) ** 2
    hops = squares.reshape(count + 1, HOP).sum(axis=1)
    rms = np.sqrt((hops[:-1] + hops[1:]) / N_FFT)
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(rms)


def to_feature_rate(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono downmix at 44.1 kHz (a stereo pair summed and halved in float32: what
    ``mean(axis=1)`` gives, bit for bit)."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 2:
        x = (x[:, 0] + x[:, 1]) * np.float32(0.5) if x.shape[1] == 2 else x.mean(axis=1)
    if sample_rate != FEATURE_RATE:
        x = resample(x[:, None], sample_rate, FEATURE_RATE)[:, 0]
    return np.ascontiguousarray(x, dtype=np.float32)


def used_frames(vocal: np.ndarray) -> np.ndarray:
    """Indices of the frames that make the blocks: those where the (feature-rate) vocal is
    above the gate, as many as fill whole blocks."""
    kept = np.flatnonzero(frame_rms_dbfs(vocal) > GATE_DBFS)
    return kept[: kept.size // BLOCK_FRAMES * BLOCK_FRAMES]


def feature_blocks(vocal: np.ndarray, backing: np.ndarray, sample_rate: int, *,
                   backing_mel: np.ndarray | None = None) -> np.ndarray:
    """(blocks, 2, 128, 64) network inputs for a song (channel 0 backing, 1 vocal).
    ``backing_mel``: the backing's :func:`mel_spectrogram` (every frame), when known."""
    v = to_feature_rate(vocal, sample_rate)
    rows = used_frames(v)
    if rows.size == 0:
        return np.zeros((0, 2, N_MELS, BLOCK_FRAMES), np.float32)
    mel_v = mel_spectrogram(v, rows)
    mel_b = (backing_mel[rows] if backing_mel is not None
             else mel_spectrogram(to_feature_rate(backing, sample_rate), rows))
    count = rows.size // BLOCK_FRAMES
    pair = np.stack([mel_b, mel_v])  # (2, frames, mels)
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


class NumpyNetwork:
    """One of :func:`build_network`'s regressors in eval mode, run in NumPy from its state dict
    (inference needs no torch: importing it costs seconds of a 10-second budget).

    The same operations as torch's CPU kernels in float32: 3×3 valid convolutions as one matrix
    product per layer (kernel (out, in·9) times the shifted inputs, channels first), batch norm
    as x·α + β with α = γ/√(var + ε) and β = bias − mean·α (how torch applies it in eval mode),
    ReLU, 2×2 max-pooling (odd rows and columns dropped), the flatten in torch's (channel, row,
    column) order, dropout off, the linear layer. Sums run in another order than torch's, so
    outputs agree to float32 rounding (about 1e-6 relative; tests/test_vocal_speed.py), not
    bit for bit."""

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        def f32(key: str) -> np.ndarray:
            return np.ascontiguousarray(np.asarray(state[key], dtype=np.float32))

        self.layers = []
        for layer in range(len(CHANNELS) - 1):
            conv, norm = 4 * layer, 4 * layer + 1
            weight = f32(f"{conv}.weight")  # (out, in, 3, 3)
            invstd = np.float32(1.0) / np.sqrt(f32(f"{norm}.running_var") + np.float32(BN_EPS))
            alpha = invstd * f32(f"{norm}.weight")
            beta = f32(f"{norm}.bias") - f32(f"{norm}.running_mean") * alpha
            kernel = weight.reshape(weight.shape[0], -1)  # (out, in·9)
            self.layers.append((kernel, f32(f"{conv}.bias"), alpha, beta))
        last = 4 * (len(CHANNELS) - 1) + 2  # conv/bn/relu/pool ×4, flatten, dropout, linear
        self.linear = (np.ascontiguousarray(f32(f"{last}.weight").T), f32(f"{last}.bias"))

    def __call__(self, blocks: np.ndarray) -> np.ndarray:
        """(blocks, outputs) for (blocks, 2, 128, 64) inputs, in chunks (bounded memory), the
        chunks on two threads (the same chunks whatever the timing: a deterministic result)."""
        x = np.asarray(blocks, dtype=np.float32)
        starts = list(range(0, max(x.shape[0], 1), INFERENCE_CHUNK))
        half = (len(starts) + 1) // 2

        def run(part: list[int]) -> list[np.ndarray]:
            return [self._forward(x[i : i + INFERENCE_CHUNK]) for i in part]

        first, second = concurrently(lambda: run(starts[:half]), lambda: run(starts[half:]))
        return np.concatenate(first + second)

    def _forward(self, blocks: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(blocks.transpose(1, 0, 2, 3))  # (channels, blocks, h, w)
        for kernel, bias, alpha, beta in self.layers:
            c, b, h, w = x.shape
            columns = np.empty((c, 3, 3, b, h - 2, w - 2), np.float32)  # (in, 3, 3) as torch
            for i in range(3):
                for j in range(3):
                    columns[:, i, j] = x[:, :, i : i + h - 2, j : j + w - 2]
            y = kernel @ columns.reshape(c * 9, -1)  # (out, positions): one product per layer
            y += bias[:, None]
            y *= alpha[:, None]
            y += beta[:, None]
            np.maximum(y, np.float32(0.0), out=y)
            y = y.reshape(-1, b, h - 2, w - 2)
            x = np.maximum(np.maximum(y[:, :, 0:-1:2, 0:-1:2], y[:, :, 0:-1:2, 1::2]),
                           np.maximum(y[:, :, 1::2, 0:-1:2], y[:, :, 1::2, 1::2]))
        flat = x.transpose(1, 0, 2, 3).reshape(x.shape[1], -1)  # (channel, row, column)
        weight, bias = self.linear
        return flat @ weight + bias


BN_EPS = 1e-5  # torch.nn.BatchNorm2d's default
INFERENCE_CHUNK = 32


@dataclass
class TrainedNetworks:
    """The four networks (:class:`NumpyNetwork`) and what the model card says about them."""

    networks: dict[str, Any]
    card: dict[str, Any]

    def predict(self, model: str, blocks: np.ndarray) -> np.ndarray:
        """Mean normalised prediction over the blocks, clamped to [0, 1], de-normalised."""
        out = self.networks[model](np.ascontiguousarray(blocks))
        return denormalise_labels(model, np.clip(out.mean(axis=0), 0.0, 1.0))


@lru_cache(maxsize=2)
def load_networks(path: str | Path = WEIGHTS_FILE) -> TrainedNetworks:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"the cnn vocal method has no trained weights ({path.name} is missing); train them "
            "with `reaper-automix train vocal` or use --method prior or rules")
    saved = read_weights(path)
    networks = {name: NumpyNetwork(saved["state_dicts"][name]) for name in MODELS}
    return TrainedNetworks(networks, json.loads(saved.get("card", "{}")))


def read_weights(path: str | Path) -> dict[str, Any]:
    """What ``torch.save`` wrote (a dict of state dicts and strings) with its tensors as NumPy
    arrays, read without torch: the zip's pickle, restricted to the classes a state dict uses
    (as ``torch.load(weights_only=True)``), and its storages. Anything else (another format,
    other classes): torch.load reads it."""
    import pickle
    import zipfile
    from collections import OrderedDict

    dtypes = {"FloatStorage": np.float32, "DoubleStorage": np.float64,
              "HalfStorage": np.float16, "LongStorage": np.int64, "IntStorage": np.int32,
              "BoolStorage": np.bool_}

    class Storage:
        def __init__(self, dtype: type) -> None:
            self.dtype = dtype

    def rebuild_tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple,
                       *_: Any) -> np.ndarray:
        item = storage.itemsize
        return np.lib.stride_tricks.as_strided(
            storage[offset:], shape=tuple(size), strides=tuple(s * item for s in stride)).copy()

    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            pickled = next(n for n in names if n.endswith("/data.pkl"))
            root = pickled[: -len("data.pkl")]
            if archive.read(root + "byteorder").strip() != b"little":
                raise ValueError("big-endian weights")

            class Unpickler(pickle.Unpickler):
                def find_class(self, module: str, name: str) -> Any:
                    if (module, name) == ("collections", "OrderedDict"):
                        return OrderedDict
                    if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                        return rebuild_tensor
                    if module == "torch" and name in dtypes:
                        return Storage(dtypes[name])
                    raise pickle.UnpicklingError(f"{module}.{name} is not a state-dict class")

                def persistent_load(self, pid: tuple) -> np.ndarray:
                    _, storage, key, _location, count = pid
                    data = archive.read(f"{root}data/{key}")
                    return np.frombuffer(data, dtype=storage.dtype, count=count)

            return Unpickler(io.BytesIO(archive.read(pickled))).load()
    except (KeyError, StopIteration, ValueError, TypeError, pickle.UnpicklingError,
            zipfile.BadZipFile):
        import torch

        saved = torch.load(path, map_location="cpu", weights_only=True)
        return {key: ({name: {k: v.numpy() for k, v in state.items()}
                       for name, state in value.items()} if key == "state_dicts" else value)
                for key, value in saved.items()}


# ============================================================================== method
class CnnMethod:
    """Li & Lerch's CNN system (C.4) with our trained weights."""

    name = "cnn"

    def __init__(self, networks: TrainedNetworks | None = None) -> None:
        self.nets = networks or load_networks()
        self.backing_mel: np.ndarray | None = None  # the backing's features: the same each stage

    def _blocks(self, ctx, vocal: np.ndarray) -> np.ndarray:
        if self.backing_mel is None:
            self.backing_mel = mel_spectrogram(to_feature_rate(ctx.backing, ctx.sample_rate))
        blocks = feature_blocks(vocal, ctx.backing, ctx.sample_rate, backing_mel=self.backing_mel)
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
