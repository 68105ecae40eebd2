"""Worker jobs: one job type per user-facing action, run headless in the worker process.

A job takes a JSON-able request and returns a JSON-able result; it reports progress through
``progress(fraction, message)`` and stops early (raising :class:`JobCancelled`) when
``cancelled()`` turns true. Adding an action means adding one module here and one entry to
:data:`JOB_TYPES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

Progress = Callable[[float, str], None]
Cancelled = Callable[[], bool]

#: job type → module in this package exposing ``run(request, progress, cancelled) -> dict``.
JOB_TYPES = {"balance": "balance", "match": "match", "mix": "mix", "vocal": "vocal"}


class JobError(Exception):
    """A failure the user can act on (the message says what to do)."""


class JobCancelled(JobError):
    """The user cancelled the job."""


def run_job(
    request: dict[str, Any],
    progress: Progress = lambda fraction, message: None,
    cancelled: Cancelled = lambda: False,
) -> dict[str, Any]:
    """Run the job named by ``request["job"]``."""
    job = request.get("job")
    if job not in JOB_TYPES:
        known = ", ".join(sorted(JOB_TYPES))
        raise JobError(f"unknown job type {job!r} (known: {known}); update reaper-automix")
    module = importlib.import_module(f"{__name__}.{JOB_TYPES[job]}")
    return module.run(request, progress, cancelled)
