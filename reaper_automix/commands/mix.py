"""``reaper-automix mix PROJECT --reference REF``: the two-stage system in one command."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial
from typing import Any

from rich.console import Console, Group
from rich.progress import Progress

from ..analysis.spectrum import SpectrumRecorder
from ..hosts.rpp import open_project
from ..jobs.balance import METHODS
from ..jobs.match import MatchPlots
from ..jobs.mix import plan_mix
from . import SUMMARIES, add_output_options, add_report_options
from .balance import report_view
from .match import add_match_options, finish, options_from_args, report_tables


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mix",
        help=SUMMARIES["mix"],
        description="Stage 1, Auto balance group, on every folder (deepest first); then stage 2, "
        "Match reference, on the top-level tracks and folders, with stage 1's balance already "
        "inside them. One save at the end (in place with a .automix-bak backup, unless -o or "
        "--dry-run is given).",
    )
    parser.add_argument("project", help="path to an .RPP file")
    parser.add_argument("--method", choices=METHODS, default="role",
                        help="stage 1's method (default role; see `balance --help`)")
    add_match_options(parser)
    parser.add_argument("--skip-unplayable", action="store_true",
                        help="stage 1: balance tracks the headless renderer cannot play (MIDI, "
                        "instruments, other plug-ins) as it plays them, instead of refusing; "
                        "stage 2 leaves such stems untouched either way")
    add_output_options(parser, "mixed", "both reports")
    add_report_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    options = options_from_args(args)
    project = open_project(args.project)
    spectra = SpectrumRecorder(project.sample_rate) if args.report else None
    plots = MatchPlots() if args.report else None
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("mixing", total=1.0)
        balance, report, _ = plan_mix(
            project, args.reference, method=args.method, stems=args.stems, options=options,
            skip_unplayable=args.skip_unplayable, spectra=spectra, plots=plots,
            progress=lambda fraction, message: bar.update(task, completed=fraction,
                                                          description=message))
    warnings = (balance.warnings if balance else []) + report.warnings
    data = {"balance": balance.to_json() if balance else None, "match": report.to_json()}
    tables = Group(*([report_view(balance)] if balance else []), report_tables(report))
    changed = report.written or bool(balance and any(
        t.volume_after_db != t.volume_before_db for g in balance.groups for t in g.tracks))

    def publisher() -> Callable[..., Any]:
        from ..report.match import publish_mix  # matplotlib: imported only for a report

        return partial(publish_mix, data["balance"], spectra, data["match"], plots,
                       reference=args.reference)

    return finish(console, project, args, warnings, data, tables, changed, publisher)
