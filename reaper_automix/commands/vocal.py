"""``reaper-automix vocal PROJECT``: EQ, compression, reverb and level for the lead vocal."""

from __future__ import annotations

import argparse
import json
import math
from functools import partial
from typing import Any

from rich.console import Console, Group
from rich.progress import Progress
from rich.table import Table

from ..decisions.vocal import DEFAULT_METHOD, METHODS
from ..decisions.vocal_chain import REVERB_MODES
from ..hosts.rpp import open_project
from ..jobs.vocal import VocalPlots, VocalReport, plan_vocal
from . import (SUMMARIES, add_output_options, add_report_options, add_skip_missing, add_skip_unplayable,
               save_project, write_report_files)

REPORT_WIDTH = 80


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "vocal",
        help=SUMMARIES["vocal"],
        description="Decide EQ, compression, reverb and level for the lead vocal against the "
        "backing and write them as IEM MultiEQ -> OmniCompressor -> FdnReverb on the vocal "
        "track (tagged instances, added or updated) and its fader. Methods: prior (default; "
        "real engineers' vocal chains, DiffVox, fitted to the song), rules (Li & Lerch's "
        "baseline), cnn (Li & Lerch's networks, trained by us on generated material). The "
        "project is updated in place (with a .automix-bak backup) unless -o or --dry-run.",
    )
    parser.add_argument("project", help="path to an .RPP file")
    parser.add_argument("--vocal", metavar="NAME|GUID",
                        help="the lead vocal track (default: the one track named like a lead "
                        "vocal)")
    parser.add_argument("--backing", action="append", metavar="NAME|GUID",
                        help="a track or folder of the backing; repeatable (default: "
                        "everything that reaches the master except the vocal)")
    parser.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD,
                        help="how to decide (default: %(default)s)")
    parser.add_argument("--amount", type=float, default=100.0, metavar="PCT",
                        help="how far to go from transparent settings and the current fader "
                        "to the decision, 0-100 (default: 100)")
    parser.add_argument("--reverb", choices=REVERB_MODES, default="insert",
                        help="FdnReverb on the vocal with dry/wet (insert, default) or on a "
                        "return track fed by a post-fader send (send)")
    add_output_options(parser, "mixed")
    add_skip_missing(parser)
    add_skip_unplayable(parser)
    add_report_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    if not 0.0 <= args.amount <= 100.0:
        raise ValueError(f"--amount must lie in 0-100, not {args.amount:g}")
    project = open_project(args.project)
    plots = VocalPlots() if args.report else None
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("mixing the vocal", total=1.0)
        report = plan_vocal(
            project, args.vocal, args.backing, method=args.method, amount=args.amount / 100.0,
            reverb=args.reverb, skip_missing=args.skip_missing,
            skip_unplayable=args.skip_unplayable, plots=plots,
            progress=lambda fraction, message: bar.update(task, completed=fraction,
                                                          description=message),
        )
    for message in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {message}")
    data = report.to_json()
    files = None
    if args.report or args.preview:
        from ..report.vocal import publish_vocal  # matplotlib: imported only for a report

        files = write_report_files(args, console, partial(publish_vocal, data, plots), project)
    if args.json:
        print(json.dumps(data if files is None else {**data, "files": files}, indent=2,
                         ensure_ascii=False))
    else:
        Console(width=REPORT_WIDTH).print(report_renderable(report))
    return save_project(console, project, args)


# ---------------------------------------------------------------------------------- report
def report_renderable(report: VocalReport) -> Group:
    """The decision report: levels, then every parameter written, in 80 columns."""
    parts: list[Any] = [_summary(report)]
    for plugin in report.plugins:
        parts.append(_plugin_table(plugin.plugin, plugin.tag, plugin.track, plugin.params))
    if report.send:
        volume = report.send.get("volume_db")
        parts.append(f"send {report.vocal} -> {report.send['track']}: "
                     f"{_db(volume)} ({report.send.get('mode') or report.send.get('note')})")
    parts.extend(f"note: {note}" for note in report.notes)
    return Group(*parts)


def _summary(report: VocalReport) -> Table:
    table = Table(title=f"Mix lead vocal — {report.vocal} · {report.method} · reverb "
                  f"{report.reverb}" + (f" · amount {report.amount * 100:.0f} %"
                                        if report.amount < 1 else ""),
                  caption=f"vocal: {report.vocal_chosen_by}; backing: "
                  f"{', '.join(report.backing)}; level target: {report.level_target_source}",
                  caption_justify="left")
    for column in ("", "before", "after", "target"):
        table.add_column(column, justify="left" if not column else "right")
    table.add_row("vocal − backing", _lu(report.level_before_lu), _lu(report.level_after_lu),
                  _lu(report.level_target_lu))
    table.add_row("loudness range", _lu(report.lra_before_lu, signed=False),
                  _lu(report.lra_after_lu, signed=False), "")
    table.add_row("fader", _db(report.fader_before_db), _db(report.fader_after_db), "")
    return table


def _plugin_table(plugin: str, tag: str, track: str, params: list[dict[str, Any]]) -> Table:
    table = Table(title=f"{plugin} \"{tag}\" on {track}", title_justify="left")
    if plugin == "MultiEQ":
        for column in ("band", "on", "type", "frequency", "Q", "gain"):
            table.add_column(column, justify="left" if column in ("band", "type") else "right")
        by_id = {p["id"]: p for p in params}
        table.caption = f"input channels: {by_id['inputChannelsSetting']['text']}"
        table.caption_justify = "left"
        for band in range(6):
            get = lambda key: by_id[f"{key}{band}"]["text"]  # noqa: E731
            table.add_row(str(band + 1), get("filterEnabled"), get("filterType"),
                          f"{get('filterFrequency')} Hz", get("filterQ"),
                          f"{get('filterGain')} dB")
        return table
    table.add_column("parameter")
    table.add_column("value", justify="right")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    cells = [(p["name"], f"{p['text']} {p['unit']}".strip()) for p in params]
    for left, right in zip(cells[0::2], cells[1::2] + [("", "")] * (len(cells) % 2)):
        table.add_row(*left, *right)
    return table


def _lu(value: float | None, *, signed: bool = True) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:+.2f} LU" if signed else f"{value:.1f} LU"


def _db(value: float | None) -> str:
    if value is None:
        return "–"
    if value == -math.inf:
        return "-inf dB"
    return f"{value:+.2f} dB"
