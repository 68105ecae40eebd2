# @description AutoMix: Set role of selected tracks
# @version 0.1.0
# @author reaper-automix developers
# @noindex
"""AutoMix: Set role of selected tracks: the role Auto balance group uses for them, kept in the
project (type auto to let AutoMix detect it again)."""

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

from reaper_automix.reaper import roles  # noqa: E402
from reaper_automix.reaper.api import ReaperApi  # noqa: E402

roles.set_roles(ReaperApi.load())
