# @description AutoMix: Mix (balance + match)
# @version 0.1.0
# @author reaper-automix developers
# @noindex
"""AutoMix: Mix (balance + match) (a Python ReaScript; the work happens in the worker process).

Auto balance group on every folder, then Match reference on the top-level tracks and folders,
both stages as one undo point.
"""

import os
import sys


def _script_folder():
    """This script's folder: ``__file__`` if REAPER defines it, else ``sys.path[0]``, which
    REAPER sets to the running script's folder."""
    try:
        return os.path.dirname(os.path.abspath(__file__))
    except NameError:
        return sys.path[0]


if _script_folder() not in sys.path:
    sys.path.insert(0, _script_folder())

from reaper_automix.reaper import match  # noqa: E402
from reaper_automix.reaper.api import ReaperApi  # noqa: E402

match.run_mix(ReaperApi.load(RPR_defer))  # noqa: F821  (REAPER injects RPR_defer)
