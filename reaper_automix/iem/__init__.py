"""The IEM plug-in layer: parameter tables, plug-in state codec and DSP emulations of IEM
MultiEQ, OmniCompressor and FdnReverb (IEM Plug-in Suite 1.14.0). See docs/iem.md.

The tables (:mod:`.params`) and the state codec (:mod:`.state`) use the standard library only, so
that the live REAPER host can use them inside REAPER; numpy is imported by the emulations and
:func:`process` only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .params import (
    FDNREVERB,
    MULTIEQ,
    OMNICOMPRESSOR,
    PLUGINS,
    ParamSpec,
    PluginSpec,
    get_plugin,
    identify,
)
from .state import (
    StateError,
    VstBlock,
    VstPayload,
    build_state,
    fx_params,
    new_vst_block,
    payload_params,
    update_payload,
    writable_params,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "FDNREVERB", "MULTIEQ", "OMNICOMPRESSOR", "PLUGINS", "ParamSpec", "PluginSpec", "StateError",
    "VstBlock", "VstPayload", "build_state", "fx_params", "get_plugin", "identify",
    "new_vst_block", "payload_params", "process", "update_payload", "writable_params",
]


def process(
    plugin: str | PluginSpec,
    params: Mapping[str, float],
    audio: np.ndarray,
    sample_rate: int,
    **options: Any,
) -> np.ndarray:
    """Run one plug-in emulation on ``audio`` ((n_samples,) or (n_samples, n_channels)).

    ``params`` are plain values as stored in the plug-in state (missing ones take the plug-in's
    defaults, all are snapped to the grid). The model is a fresh instance that loaded this state
    and was prepared, which is what REAPER plays after opening a project: FdnReverb revTime 5.0
    plays at T60 = 3 s (see :func:`writable_params`), OmniCompressor runs on the plug-in's own
    64-channel layout (both L and R compressed, keyed from L). Returns float32 of the same shape.

    ``options`` go to the plug-in's module: OmniCompressor ``block_size`` (512) and
    ``host_channels`` (64); FdnReverb ``fresh_instance`` (True).
    """
    import numpy as np

    from . import fdnreverb, multieq, omnicompressor

    spec = get_plugin(plugin)
    signal = np.asarray(audio)
    if signal.ndim not in (1, 2) or (signal.ndim == 2 and signal.shape[1] == 0):
        raise ValueError(
            f"{spec.name}: audio must be (n_samples,) or (n_samples, n_channels); "
            f"got shape {signal.shape}"
        )
    if sample_rate <= 0:
        raise ValueError(f"{spec.name}: sample rate must be positive, got {sample_rate}")
    if signal.shape[0] == 0:
        return np.zeros(signal.shape, np.float32)
    if not np.all(np.isfinite(signal)):
        raise ValueError(f"{spec.name}: audio contains NaN or infinite samples")
    frames = signal.reshape(signal.shape[0], -1)
    module = {MULTIEQ.name: multieq, OMNICOMPRESSOR.name: omnicompressor, FDNREVERB.name: fdnreverb}
    out = module[spec.name].process(params, frames, sample_rate, **options)
    return out.reshape(signal.shape)
