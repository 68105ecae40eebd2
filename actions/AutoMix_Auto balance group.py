# @description AutoMix: Auto balance group
# @version 0.1.0
# @author reaper-automix developers
# @license GPL-3.0-or-later
# @about
#   Select one or more folder tracks (or any track inside a folder) and run this action: the
#   faders of each folder's child tracks are set from their loudness in their characteristic
#   frequency band and their role (kick, hats, pad, lead vocal...), the folder keeping its
#   level, as one undo point. "Set role of selected tracks" overrides a detected role. The
#   numerical work runs in a separate worker Python set up with `reaper-automix install`; REAPER
#   stays responsive, the console shows progress, and running the action again while it works
#   offers to cancel. The package also installs AutoMix: Match reference (faders, pans, MultiEQ
#   and OmniCompressor of the top-level groups fitted to a reference mix), AutoMix: Mix
#   (balance + match) and AutoMix: Mix lead vocal (EQ, compressor, reverb and level of the lead
#   vocal against the backing).
# @provides
#   [main] .
#   [main] AutoMix_Auto balance group (settings).py
#   [main] AutoMix_Match reference.py
#   [main] AutoMix_Mix (balance + match).py
#   [main] AutoMix_Mix lead vocal.py
#   [main] AutoMix_Mix lead vocal (settings).py
#   [main] AutoMix_Set role of selected tracks.py
#   reaper_automix/__init__.py
#   reaper_automix/session.py
#   reaper_automix/analysis/__init__.py
#   reaper_automix/analysis/roles.py
#   reaper_automix/audio/__init__.py
#   reaper_automix/audio/playable.py
#   reaper_automix/iem/__init__.py
#   reaper_automix/iem/params.py
#   reaper_automix/iem/state.py
#   reaper_automix/reaper/__init__.py
#   reaper_automix/reaper/action.py
#   reaper_automix/reaper/api.py
#   reaper_automix/reaper/balance.py
#   reaper_automix/reaper/config.py
#   reaper_automix/reaper/live.py
#   reaper_automix/reaper/match.py
#   reaper_automix/reaper/report.py
#   reaper_automix/reaper/roles.py
#   reaper_automix/reaper/snapshot.py
#   reaper_automix/reaper/stems.py
#   reaper_automix/reaper/vocal.py
#   reaper_automix/rpp/__init__.py
#   reaper_automix/rpp/tokens.py
#   reaper_automix/worker/__init__.py
#   reaper_automix/worker/client.py
#   reaper_automix/worker/protocol.py
#   reapy/**/*.py
#   reapy/LICENSE.txt
"""AutoMix: Auto balance group (a Python ReaScript; the work happens in the worker process)."""

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

from reaper_automix.reaper import balance  # noqa: E402
from reaper_automix.reaper.api import ReaperApi  # noqa: E402

balance.run(ReaperApi.load(RPR_defer))  # noqa: F821  (REAPER injects RPR_defer)
