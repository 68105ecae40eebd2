"""``reaper-automix worker JOB_DIR``: run one worker job (what the REAPER actions start)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..worker.main import run_worker
from . import SUMMARIES


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "worker",
        help=SUMMARIES["worker"],
        description="Run the job described by JOB_DIR/request.json and write result.json or "
        "error.json there. The REAPER actions start this as `python -m reaper_automix.worker "
        "JOB_DIR`; the subcommand is the same thing, for debugging a job by hand.",
    )
    parser.add_argument("job_dir", type=Path, help="job directory holding request.json")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.job_dir.is_dir():
        raise FileNotFoundError(f"job directory {args.job_dir} does not exist")
    return run_worker(args.job_dir)
