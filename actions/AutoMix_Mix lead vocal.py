# @description AutoMix: Mix lead vocal
# @version 0.1.0
# @author reaper-automix developers
# @noindex
# @about
#   Select the lead vocal track and run this action: its EQ, compression, reverb and level
#   against everything else in the project are decided (from real engineers' vocal chains,
#   Li & Lerch's rules or their networks) and written as IEM MultiEQ, OmniCompressor and
#   FdnReverb on the track and its fader, as one undo point. The numerical work runs in the
#   worker Python set up with `reaper-automix install`; REAPER stays responsive, the console
#   shows progress, and running the action again while it works offers to cancel. Shipped in
#   the ReaPack package of "AutoMix: Auto balance group" (one package owns the shared files).
"""AutoMix: Mix lead vocal (a Python ReaScript; the work happens in the worker process)."""

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

vocal.run(ReaperApi.load(RPR_defer))  # noqa: F821  (REAPER injects RPR_defer)
