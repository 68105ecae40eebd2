# @description AutoMix: Match reference
# @version 0.1.0
# @author reaper-automix developers
# @noindex
"""AutoMix: Match reference (a Python ReaScript; the work happens in the worker process).

Choose a reference mix: the faders, pans and two IEM plug-ins (MultiEQ, OmniCompressor) of the
project's top-level tracks and folders are set so the mix takes on its style, as one undo point.
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

match.run(ReaperApi.load(RPR_defer))  # noqa: F821  (REAPER injects RPR_defer)
