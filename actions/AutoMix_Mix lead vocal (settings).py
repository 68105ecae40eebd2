# @description AutoMix: Mix lead vocal (settings)
# @version 0.1.0
# @author reaper-automix developers
# @noindex
"""AutoMix: Mix lead vocal (settings): method, amount and report, kept per project."""

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

from reaper_automix.reaper import vocal  # noqa: E402
from reaper_automix.reaper.api import ReaperApi  # noqa: E402

vocal.configure(ReaperApi.load())
