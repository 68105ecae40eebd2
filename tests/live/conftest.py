"""Every test in tests/live runs in a Python process of its own that looks like REAPER's.

python-reapy decides once per process, when first imported, whether it runs inside REAPER. So
each test here is run by a child ``pytest`` (same node id) in which :func:`enter_reaper` has
installed the simulated ``reaper_python`` and REAPER's ``__main__`` before anything imported
reapy: the production code then talks to the simulator through the real reapy in inside mode.
The parent reports the child's outcome (pass, failure text, skip). The demo project is built
once by the parent and handed to the children.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ..reaper_sim import enter_reaper

CHILD_ENV = "AUTOMIX_SIMULATED_REAPER"
DEMO_ENV = "AUTOMIX_SIMULATED_REAPER_DEMO"
INSIDE = os.environ.get(CHILD_ENV) == "1"
CHILD_TIMEOUT_S = 600

if INSIDE:
    enter_reaper()


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo project (``reaper-automix demo``), built once per test session."""
    given = os.environ.get(DEMO_ENV)
    if given:
        return Path(given)
    from reaper_automix.demo import build_demo

    return build_demo(tmp_path_factory.mktemp("demo")).project


@pytest.fixture(autouse=True)
def no_job_left_running():
    """A job still registered after a test would poll a dead simulator: fail the test."""
    yield
    if not INSIDE:
        return
    from reaper_automix.reaper import action

    job = action.running()
    if job is not None:
        job.worker.kill()
        action._current = None
        pytest.fail("a job was left running")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if INSIDE:
        return None  # the child runs the test itself
    _run_in_child(pyfuncitem)
    return True


def _run_in_child(item: pytest.Function) -> None:
    env = {**os.environ, CHILD_ENV: "1"}
    if "demo" in item.funcargs:
        env[DEMO_ENV] = str(item.funcargs["demo"])
    with tempfile.TemporaryDirectory(prefix="automix-child-") as folder:
        report = Path(folder) / "report.xml"
        command = [sys.executable, "-m", "pytest", item.nodeid, "-p", "no:xdist", "-p",
                   "no:cacheprovider", "-q", "-o", "addopts=", f"--junitxml={report}"]
        run = subprocess.run(command, cwd=item.config.rootpath, env=env, capture_output=True,
                             text=True, timeout=CHILD_TIMEOUT_S)
        _report_child(run, report)


def _report_child(run: subprocess.CompletedProcess, report: Path) -> None:
    output = f"{run.stdout}\n{run.stderr}".strip()
    try:
        cases = ET.parse(report).getroot().iter("testcase")
        case = next(cases)
    except (OSError, ET.ParseError, StopIteration):
        pytest.fail(f"the child test run did not report (exit {run.returncode}):\n{output}",
                    pytrace=False)
    skipped = case.find("skipped")
    if skipped is not None:
        pytest.skip(skipped.get("message", "skipped in the simulated REAPER"))
    for tag in ("failure", "error"):
        problem = case.find(tag)
        if problem is not None:
            pytest.fail(f"in the simulated REAPER:\n{problem.text or problem.get('message')}",
                        pytrace=False)
    if run.returncode != 0:
        pytest.fail(f"the child test run failed (exit {run.returncode}):\n{output}", pytrace=False)
