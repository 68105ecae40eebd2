"""The worker process: runs one job from a job directory (protocol v1, see ``protocol``)."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

from . import protocol


def run_worker(job_dir: Path) -> int:
    """Run the job in ``job_dir``; always ends with result.json or error.json. Exit code 0 when
    the job succeeded, 1 when it failed or was cancelled."""
    try:
        request = protocol.read_request(job_dir)
    except protocol.ProtocolError as exc:
        protocol.write_error(job_dir, "error", str(exc))
        return 1
    from ..jobs import JobCancelled, JobError, run_job

    def progress(fraction: float, message: str) -> None:
        protocol.append_progress(job_dir, fraction, message)

    try:
        result = run_job({**request, "job_dir": str(job_dir)}, progress,
                         lambda: protocol.cancel_requested(job_dir))
    except JobCancelled as exc:
        protocol.write_error(job_dir, "cancelled", str(exc))
        return 1
    except JobError as exc:
        protocol.write_error(job_dir, "error", str(exc))
        return 1
    except Exception as exc:  # a bug: keep the traceback for the report
        text = traceback.format_exc()
        print(text, file=sys.stderr)
        protocol.write_error(job_dir, "crash", f"{type(exc).__name__}: {exc}", text)
        return 1
    protocol.write_result(job_dir, str(request["job"]), result)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_dir():
        print("usage: python -m reaper_automix.worker JOB_DIR (an existing directory holding "
              "request.json)", file=sys.stderr)
        return 2
    return run_worker(Path(args[0]))
