"""Outside REAPER, python-reapy warns on import and its objects fail: the adapter refuses clearly.

Runs in a subprocess: reapy decides once per process whether it is inside REAPER.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_OUTSIDE = textwrap.dedent("""
    import warnings
    warnings.simplefilter("always")
    from reaper_automix.reaper.api import NotInsideReaperError, ReaperApi
    with warnings.catch_warnings(record=True) as caught:
        try:
            ReaperApi.load()
        except NotInsideReaperError as exc:
            print("refused:", exc)
    print("warned:", sorted({type(w.message).__name__ for w in caught}))
    import reapy
    try:
        reapy.Project()
    except Exception as exc:
        print("Project():", type(exc).__name__)
""")


def test_outside_reaper_the_adapter_refuses_and_reapy_fails() -> None:
    run = subprocess.run([sys.executable, "-c", _OUTSIDE], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("refused: python-reapy is in outside mode")
    assert "DisabledDistAPIWarning" in lines[1]  # it tried the distant API and gave up
    assert lines[2] == "Project(): AttributeError"  # no EnumProjects outside REAPER
