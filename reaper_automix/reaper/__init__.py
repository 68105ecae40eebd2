"""The live REAPER side: the adapter over python-reapy, the live host, the project snapshot for the
worker, the action runner, and (not loaded inside REAPER) the installer and ReaPack index.

The modules the actions import inside REAPER (``api``, ``live``, ``snapshot``, ``config``,
``action``, ``balance``) use the standard library, plus python-reapy (imported by
:meth:`api.ReaperApi.load`, in inside mode); see docs/reaper.md.
"""
