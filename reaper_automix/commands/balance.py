"""``reaper-automix balance PROJECT``: intra-group level balance by CFB loudness."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ..hosts.rpp import open_project
from ..analysis.cfb import METHODS
from ..jobs.balance import BalanceReport, plan_balance
from . import add_skip_missing, add_skip_unplayable


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "balance",
        help="balance the tracks inside folders (Auto balance group)",
        description="Set the faders of each folder's children so that their loudness in their "
        "Characteristic Frequency Band is equal and the summed folder peaks at -0.1 dBFS "
        "(Shi et al., AES 2025). Child folders count as one track (their sum). Clip gains are "
        "left alone. The project is updated in place (with a .automix-bak backup) unless -o or "
        "--dry-run is given.",
    )
    parser.add_argument("project", help="path to an .RPP file")
    parser.add_argument(
        "--group", action="append", metavar="NAME|GUID",
        help="folder to balance (a track inside a folder selects its folder); repeatable; "
        "default: every folder",
    )
    parser.add_argument(
        "--method", choices=METHODS, default="centroid",
        help="band to measure loudness in: spectral centroid ± half bandwidth (default), "
        "2·f0–4·f0 from PESTO pitch, or plain integrated loudness",
    )
    parser.add_argument(
        "--recursive", action="store_true",
        help="also balance the folders nested inside each --group (bottom-up)",
    )
    parser.add_argument("--dry-run", action="store_true", help="compute and report, write nothing")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("-o", "--output", help="write the balanced project here instead")
    add_skip_missing(parser)
    add_skip_unplayable(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    project = open_project(args.project)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("balancing", total=1.0)
        report = plan_balance(
            project,
            args.group,
            method=args.method,
            recursive=args.recursive,
            skip_missing=args.skip_missing,
            skip_unplayable=args.skip_unplayable,
            progress=lambda fraction, message: bar.update(task, completed=fraction,
                                                          description=message),
        )
    for message in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {message}")
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        Console().print(report_table(report))
    if args.dry_run:
        console.print("dry run: nothing written")
        return 0
    backup = project.save(args.output)
    target = args.output or args.project
    console.print(f"wrote {target}" + (f" (previous file kept as {backup})" if backup else ""))
    return 0


def report_table(report: BalanceReport) -> Table:
    table = Table(title=f"Auto balance group — method {report.method}")
    for column in ("group", "track", "loudness", "gain", "fader before", "fader after", "note"):
        table.add_column(column, justify="right" if column in ("loudness", "gain") else "left")
    for group in report.groups:
        note = f"target {group.target_db:+.1f} LUFS" if group.target_db is not None else ""
        if group.level_shift_db < 0:
            note += (f"; all {group.level_shift_db:+.1f} dB to fit the +12 dB fader top "
                     f"(raise the folder fader {-group.level_shift_db:.1f} dB for a -0.1 dBFS peak)")
        table.add_row(f"[bold]{group.name}[/bold]", "", "", "", "", "", note)
        for track in group.tracks:
            table.add_row(
                "",
                track.name,
                _db(track.loudness_db, " LUFS"),
                _db(track.gain_db, " dB"),
                _db(track.volume_before_db, " dB"),
                _db(track.volume_after_db, " dB"),
                ("" if track.active else "[yellow]inactive[/yellow] ") + (track.reason or ""),
            )
    return table


def _db(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if value == float("-inf"):
        return "-inf" + unit
    return f"{value:+.2f}{unit}"
