"""PESTO pitch tracking: the one module of the project that imports ``pesto``.

``pesto/core.py`` imports torchaudio at module top, but only ``predict_from_files`` uses it. The
torchaudio wheels available beside our CPU torch fail to load, and installing pesto's own
dependency pulls gigabytes of CUDA packages. So: try the real torchaudio; on any exception
register a stub whose ``load`` raises a clear error, then import pesto. We load audio ourselves
and never call ``predict_from_files``.

``pesto.utils.export`` (writing predictions to CSV/NPZ/PNG files) imports matplotlib.pyplot, 0.6 s
of start-up for every f0 balance: a stub replaces it, whose ``export`` raises; we never write
PESTO's files.
"""

from __future__ import annotations

import math
import sys
import threading
import types
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

DEFAULT_MODEL = "mir-1k_g7"
_TORCHAUDIO_STUB_FLAG = "__reaper_automix_stub__"
#: Loaded PESTO models by (name, step, rate), least recently used first.
_loaded_models: OrderedDict[tuple[str, float, int], Any] = OrderedDict()
MAX_LOADED_MODELS = 8
_models_lock = threading.Lock()
_import_lock = threading.Lock()


class PitchUnavailableError(RuntimeError):
    """PESTO (or torch) cannot be imported or run."""


def _refuse_load(*_args: Any, **_kwargs: Any) -> None:
    raise RuntimeError(
        "torchaudio is not available (reaper-automix registers a stub so that pesto imports): "
        "load audio with reaper_automix.audio.io.read_audio and call pesto.predict on the array"
    )


def _ensure_torchaudio_importable() -> None:
    """Keep a working torchaudio; replace an absent or broken one by a stub module."""
    try:
        import torchaudio  # noqa: F401  (only checks that it loads)
    except Exception:  # a broken wheel raises OSError, RuntimeError, ImportError…
        stub = types.ModuleType("torchaudio")
        stub.load = _refuse_load  # type: ignore[attr-defined]
        setattr(stub, _TORCHAUDIO_STUB_FLAG, True)
        sys.modules["torchaudio"] = stub


def _refuse_export(*_args: Any, **_kwargs: Any) -> None:
    raise RuntimeError("pesto's file export is replaced by a stub in reaper-automix (it would "
                       "import matplotlib at start-up): write the PitchTrack arrays yourself")


def _stub_pesto_export() -> None:
    """Register the stub of ``pesto.utils.export`` before pesto imports the real one."""
    if "pesto.utils.export" not in sys.modules:
        stub = types.ModuleType("pesto.utils.export")
        stub.export = _refuse_export  # type: ignore[attr-defined]
        sys.modules["pesto.utils.export"] = stub


def import_pesto() -> types.ModuleType:
    """Import and return the ``pesto`` package (registering the torchaudio stub when needed,
    and the export stub)."""
    with _import_lock:  # worker threads must not see a half-imported pesto
        _ensure_torchaudio_importable()
        _stub_pesto_export()
        try:
            import pesto
        except Exception as exc:
            raise PitchUnavailableError(
                f"cannot import pesto ({exc!r}): install it with "
                "`.venv/bin/python -m pip install --no-deps pesto-pitch` next to the CPU torch"
            ) from exc
    return pesto


@dataclass(frozen=True)
class PitchTrack:
    """Frame-wise PESTO output: frame centre times, f0 in Hz and voicing confidence in [0, 1]."""

    times_s: np.ndarray
    f0_hz: np.ndarray
    confidence: np.ndarray


def _model(model_name: str, step_ms: float, sample_rate: int) -> Any:
    """The loaded model for (name, step, rate), loaded once per process (loading builds the CQT
    kernels: 0.3-1 s). Threads share it: PESTO's forward pass changes nothing in the model as
    long as the sampling rate stays the one it was loaded for."""
    key = (model_name, float(step_ms), int(sample_rate))
    with _models_lock:  # held while loading: a second thread wanting the same model waits for it
        model = _loaded_models.get(key)
        if model is None:
            model = import_pesto().load_model(model_name, float(step_ms), sampling_rate=int(sample_rate))
            _speed_up_encoder(model.encoder)
            _loaded_models[key] = model
            while len(_loaded_models) > MAX_LOADED_MODELS:  # about 17 MB each
                _loaded_models.popitem(last=False)
        _loaded_models.move_to_end(key)
    return model


def _speed_up_encoder(encoder: Any) -> None:
    """Run PESTO's encoder layers through faster CPU kernels, the same arithmetic: each 1-D
    convolution as a 2-D one in channels-last layout (oneDNN's fast path: 2.4× here) and the
    Toeplitz output layer as a product with its dense matrix. Activations stay within 1e-4 of
    PESTO's own, pitch within 0.002 cent on a test tone (tests compare to 1e-5 relative). Layers of
    another shape are left alone."""
    import torch
    from pesto.model import ToeplitzLinear

    for module in encoder.modules():
        if not isinstance(module, torch.nn.Conv1d) or not _plain_convolution(module):
            continue
        if isinstance(module, ToeplitzLinear):
            module.forward = partial(torch.matmul, other=_toeplitz_matrix(module))
        else:
            weight = module.weight.detach().unsqueeze(2).contiguous(memory_format=torch.channels_last)
            module.forward = partial(_conv1d_as_2d, weight=weight, bias=module.bias, padding=module.padding[0])


def _plain_convolution(conv: Any) -> bool:
    """Stride 1, no dilation, one group, zero padding given in samples (and no bias for a
    ToeplitzLinear): the layers _speed_up_encoder knows how to run."""
    from pesto.model import ToeplitzLinear

    plain = (conv.stride, conv.dilation, conv.groups, conv.padding_mode) == ((1,), (1,), 1, "zeros")
    return plain and not isinstance(conv.padding, str) and not (
        isinstance(conv, ToeplitzLinear) and conv.bias is not None)


def _conv1d_as_2d(signal: Any, *, weight: Any, bias: Any, padding: int) -> Any:
    import torch

    rows = signal.unsqueeze(2).contiguous(memory_format=torch.channels_last)  # (batch, channels, 1, length)
    return torch.nn.functional.conv2d(rows, weight, bias, padding=(0, padding)).squeeze(2)


def _toeplitz_matrix(layer: Any) -> Any:
    """M with ``x @ M == layer(x)``: ToeplitzLinear is a one-channel convolution padded by
    out − 1, so out[j] = Σ_i x[i]·w[i + out − 1 − j]."""
    import torch

    taps = layer.weight.detach()[0, 0]
    lag = layer.padding[0]  # out − 1
    inputs = taps.numel() - lag
    index = torch.arange(inputs)[:, None] + lag - torch.arange(lag + 1)[None, :]
    inside = (index >= 0) & (index < taps.numel())
    return torch.where(inside, taps[index.clamp(0, taps.numel() - 1)], torch.zeros(()))


def track_pitch(
    mono: np.ndarray,
    sample_rate: int,
    step_ms: float = 10.0,
    model_name: str = DEFAULT_MODEL,
    *,
    min_confidence: float = 0.0,
) -> PitchTrack:
    """Run PESTO on a mono float signal; frames are centred every ``step_ms`` from t = 0.

    Frames whose voicing confidence is under ``min_confidence`` get f0 NaN without running PESTO's
    pitch encoder on them: the confidence comes from the CQT alone, and the encoder sees each
    frame on its own, so the other frames' f0 is what ``model(audio)`` gives (tests check it).
    The encoder is most of PESTO's cost; drums and silence are mostly unvoiced frames.
    """
    signal = np.asarray(mono, dtype=np.float32)
    if signal.ndim != 1:
        raise ValueError(f"pitch tracking needs a mono (samples,) signal, got shape {signal.shape}")
    if signal.size == 0:
        empty = np.zeros(0)
        return PitchTrack(empty, empty, empty)
    import torch

    model = _model(model_name, step_ms, sample_rate)
    with torch.inference_mode():
        confidence, f0_hz = _voiced_pitch(model, torch.from_numpy(np.ascontiguousarray(signal)),
                                          int(sample_rate), min_confidence)
    return PitchTrack(np.arange(f0_hz.size) * step_ms / 1000.0, f0_hz, confidence)


def _voiced_pitch(
    model: Any, audio: Any, sample_rate: int, min_confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """PESTO 2.0's forward pass (``pesto.model.PESTO.forward``, step by step) with the encoder run
    only on frames at or above ``min_confidence``: (confidence, f0 in Hz, NaN where skipped)."""
    from pesto.utils import reduce_activations

    cqt = model.preprocessor(audio, sr=sample_rate).flatten(0, 1)
    energy = cqt.mul_(math.log(10) / 10.0).exp().squeeze_(1)  # scales the CQT in place, as PESTO does
    confidence = model.confidence(energy)
    voiced = confidence >= min_confidence
    f0_hz = np.full(confidence.numel(), np.nan)
    if bool(voiced.any()):
        activations = model.encoder(model.crop_cqt(cqt)[voiced])
        activations = activations.roll(-round(model.shift.item() * model.bins_per_semitone), -1)
        semitones = reduce_activations(activations, reduction=model.reduction)
        f0_hz[voiced.numpy()] = (440.0 * 2.0 ** ((semitones - 69.0) / 12.0)).double().numpy()
    return confidence.double().numpy(), f0_hz


_thread_setting = {"users": 0, "previous": 0}
_thread_setting_lock = threading.Lock()


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run torch ops with ``count`` intra-op threads, then restore the previous setting once the
    last of any overlapping users (folders analysed at the same time) leaves.

    With one PESTO call per worker thread, one torch thread each avoids oversubscribing the
    cores (measured: 2.45 s instead of 3.85 s for ten 3-minute tracks on 2 cores).
    """
    import torch

    with _thread_setting_lock:
        if _thread_setting["users"] == 0:
            _thread_setting["previous"] = torch.get_num_threads()
        _thread_setting["users"] += 1
        torch.set_num_threads(count)
    try:
        yield
    finally:
        with _thread_setting_lock:
            _thread_setting["users"] -= 1
            if _thread_setting["users"] == 0:
                torch.set_num_threads(_thread_setting["previous"])
