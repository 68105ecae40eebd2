"""Reports as JSON: one conversion shared by every action's ``to_json``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """``value`` ready for :func:`json.dumps`: JSON has no infinities or NaN, so -inf dB and
    other non-finite floats become null; tuples become lists, NumPy scalars Python numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return jsonable(value.item())
    return value
