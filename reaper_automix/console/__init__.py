"""The differentiable mixing console of Match reference (algorithms.md B.5, B.10, B.11).

Functional, float64 torch on CPU, explicit about ranges: :mod:`.params` holds the per-stem
parameter vector (layout, ranges, normalised ↔ physical ↔ written values), :mod:`.mixer` the
console (stem tokens → MultiEQ → OmniCompressor → gain → pan → sum), :mod:`.filters` and
:mod:`.compressor` the exact DSP as custom autograd functions running in numba. What the console
computes from a stem's parameters is what REAPER plays from the written values (docs/match.md).
"""

from .mixer import (
    compressor_gain,
    eq_response,
    eq_sections,
    equalise,
    mix,
    output_gains,
    pan_gains,
    process,
    render_song,
    stem_tokens,
)
from .params import (
    N_PARAMS,
    PARAMETERS,
    STEM_LUFS,
    Parameter,
    WrittenStem,
    from_written,
    gain_bounds,
    neutral,
    threshold_bounds,
    to_normalised,
    to_physical,
    to_written,
)

__all__ = [
    "N_PARAMS", "PARAMETERS", "STEM_LUFS", "Parameter", "WrittenStem", "compressor_gain",
    "eq_response", "eq_sections", "equalise", "from_written", "gain_bounds", "mix", "neutral",
    "output_gains", "pan_gains", "process", "render_song", "stem_tokens", "threshold_bounds",
    "to_normalised", "to_physical", "to_written",
]
