"""Starting and watching a worker process (standard library only: runs inside REAPER).

The interpreter is always given explicitly (recorded by ``reaper-automix install``), never
``sys.executable``: inside REAPER that is REAPER itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .protocol import LOG

#: Variables that point an embedded interpreter at its own library; a child Python must not
#: inherit REAPER's.
_PYTHON_ENV = ("PYTHONHOME", "PYTHONPATH", "PYTHONEXECUTABLE", "PYTHONSTARTUP")


class WorkerStartError(OSError):
    """The worker interpreter could not be started."""


class WorkerProcess:
    """One running ``python -m reaper_automix.worker JOB_DIR``."""

    def __init__(self, process: subprocess.Popen, job_dir: Path) -> None:
        self.process = process
        self.job_dir = job_dir

    @classmethod
    def start(cls, python: str, job_dir: Path) -> WorkerProcess:
        if not python or not Path(python).is_file():
            raise WorkerStartError(f"the worker Python {python!r} does not exist")
        env = {k: v for k, v in os.environ.items() if k not in _PYTHON_ENV}
        env["PYTHONIOENCODING"] = "utf-8"
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if sys.platform == "win32" else 0
        with open(job_dir / LOG, "ab") as log:
            try:
                process = subprocess.Popen(
                    [python, "-m", "reaper_automix.worker", str(job_dir)],
                    cwd=str(job_dir), env=env, stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, creationflags=flags,
                )
            except OSError as exc:
                raise WorkerStartError(f"cannot start the worker Python {python!r}: {exc}") from exc
        return cls(process, job_dir)

    def exit_code(self) -> int | None:
        """None while running."""
        return self.process.poll()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
