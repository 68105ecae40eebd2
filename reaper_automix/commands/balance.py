"""``reaper-automix balance PROJECT``: intra-group level balance by CFB loudness."""

from __future__ import annotations

import argparse
import json
from functools import partial

from rich import box
from rich.console import Console, Group
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from ..analysis.role_offsets import load_role_offsets
from ..analysis.roles import ROLES
from ..analysis.spectrum import SpectrumRecorder
from ..decisions.balance import LEVELS
from ..hosts.rpp import open_project
from ..jobs.balance import (
    FADER_ROOM_DB,
    METHODS,
    BalanceReport,
    GroupBalance,
    TrackBalance,
    plan_balance,
)
from ..session import FADER_MAX_DB
from . import (SUMMARIES, add_output_options, add_report_options, add_skip_missing, add_skip_unplayable,
               save_project, write_report_files)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "balance",
        help=SUMMARIES["balance"],
        description="Set the faders of each folder's children from their loudness in their "
        "Characteristic Frequency Band (Shi et al., AES 2025): by default each child gets the "
        "level its role (kick, hats, pad, lead vocal...) usually has in a mix, while the folder "
        "keeps its level (its own fader makes up where the children's would pass +6 dB). Child "
        "folders count as one track (their sum). Clip gains are left alone. The project is updated in place (with a .automix-bak backup) unless -o or "
        "--dry-run is given.",
    )
    parser.add_argument("project", help="path to an .RPP file")
    parser.add_argument(
        "--group", action="append", metavar="NAME|GUID",
        help="folder to balance (a track inside a folder selects its folder); repeatable; "
        "default: every folder",
    )
    parser.add_argument(
        "--method", choices=METHODS, default="role",
        help="role (default): centroid-band loudness plus the offset of each track's role (from "
        "--role, a role saved in the project, the track name, or the audio when the name says "
        "nothing); centroid, f0, lufs: equal "
        "loudness in the band of the spectral centroid ± half bandwidth, in 2·f0–4·f0 from PESTO "
        "pitch, or full band",
    )
    parser.add_argument(
        "--role", action="append", metavar="TRACK=ROLE", default=[],
        help=f"the role of a track (name or GUID), overriding detection; repeatable. Roles: "
        f"{', '.join(ROLES)} (also: hats, keys, vox, bv...)",
    )
    parser.add_argument(
        "--offsets", metavar="FILE",
        help='your own role table for --method role: a JSON object of role: dB relative to the '
        'group, e.g. {"hats_closed": -8, "pad": -5}; roles left out keep the shipped values',
    )
    parser.add_argument(
        "--level", choices=LEVELS, default="keep",
        help="keep (default): the children sum to the loudness they had before, lowered only "
        f"if the folder would peak above -0.1 dBFS; faders stay {FADER_ROOM_DB:g} dB under the "
        "+12 dB top (the folder fader makes up the difference). peak: the paper's rule, the "
        "summed children peak at -0.1 dBFS",
    )
    parser.add_argument(
        "--recursive", action="store_true",
        help="also balance the folders nested inside each --group (bottom-up)",
    )
    add_output_options(parser, "balanced")
    add_skip_missing(parser)
    add_skip_unplayable(parser)
    add_report_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    roles = parse_role_options(args.role)
    role_offsets = load_role_offsets(args.offsets) if args.offsets else None
    if (roles or role_offsets) and args.method != "role":
        raise ValueError("--role and --offsets set role targets: use them with --method role")
    project = open_project(args.project)
    spectra = SpectrumRecorder(project.sample_rate) if args.report else None
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("balancing", total=1.0)
        report = plan_balance(
            project,
            args.group,
            method=args.method,
            level=args.level,
            roles=roles,
            role_offsets=role_offsets,
            recursive=args.recursive,
            skip_missing=args.skip_missing,
            skip_unplayable=args.skip_unplayable,
            spectra=spectra,
            progress=lambda fraction, message: bar.update(task, completed=fraction,
                                                          description=message),
        )
    for message in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {message}")
    data = report.to_json()
    files = None
    if args.report or args.preview:
        from ..report.balance import publish_balance  # matplotlib: imported only for a report

        files = write_report_files(args, console, partial(publish_balance, data, spectra),
                                   project)
    if args.json:
        print(json.dumps(data if files is None else {**data, "files": files}, indent=2,
                         ensure_ascii=False))
    else:
        Console().print(report_view(report))
    return save_project(console, project, args)


def parse_role_options(values: list[str]) -> dict[str, str]:
    """``--role "Track name=role"`` options as {track: role}; ValueError for a malformed one."""
    roles = {}
    for value in values:
        track, sep, role = value.rpartition("=")
        if not sep or not track.strip() or not role.strip():
            raise ValueError(f"--role {value!r}: write TRACK=ROLE, e.g. --role \"OH L=cymbals\"")
        roles[track.strip()] = role.strip()
    return roles


#: Width of the track column: with the other columns at their widest the table fits 80 columns.
NAME_WIDTH = 24


def report_view(report: BalanceReport) -> Group:
    """The report for a terminal: a table whose cells never wrap at 80 columns (long names are
    shortened with "…"), for method ``role`` a second table of the roles and their offsets, then
    numbered notes (reasons, the fader-top shift) and each folder's outcome as plain text."""
    table = Table(title=f"Auto balance group — method {report.method}, level {report.level}",
                  box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    table.add_column("track", no_wrap=True, overflow="ellipsis", max_width=NAME_WIDTH)
    table.add_column("band Hz", no_wrap=True)
    table.add_column("LUFS", justify="right", no_wrap=True)
    table.add_column("fader dB", justify="right", no_wrap=True)
    table.add_column("move", justify="right", no_wrap=True)
    table.add_column("note", no_wrap=True)
    notes: list[str] = []

    def mark(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return f"[{notes.index(text) + 1}]"

    for group in report.groups:
        shift = mark(_shift_note(group)) if group.level_shift_db < 0 and not group.summary else ""
        table.add_row(Text(group.name, style="bold"), "target", _num(_target(group)), "", "",
                      shift)
        for track in group.tracks:
            note = "" if track.active and not track.reason else mark(_reason_note(track))
            if track.active and track.volume_after_db >= FADER_MAX_DB - 0.005:
                note = f"top {note}".strip()
            table.add_row(Text("  " + track.name), _band(track.band_hz), _num(track.loudness_db),
                          f"{_num(track.volume_before_db)}→{_num(track.volume_after_db)}",
                          _num(_move(track)), note)
    parts = [table, *([role_table(report)] if report.method == "role" else [])]
    parts += [Text(f"[{number}] {text}") for number, text in enumerate(notes, start=1)]
    parts += [Text(f"{group.name}: {line}") for group in report.groups for line in group.summary]
    parts += [Text(line) for line in report.summary]
    return Group(*parts)


#: How the terminal names where a role came from (``TrackBalance.role_source``).
SOURCE_TEXT = {"user": "engineer", "name": "name", "audio": "audio", "default": "default"}


def role_table(report: BalanceReport) -> Table:
    """Method ``role``: each child's role, where it came from (the engineer, the track's name,
    the audio classifier with its probability), and the target offset it gives."""
    table = Table(title=f"Roles — offsets from the {report.role_offsets or 'shipped'} table",
                  box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    table.add_column("track", no_wrap=True, overflow="ellipsis", max_width=NAME_WIDTH)
    table.add_column("role", no_wrap=True, overflow="ellipsis", max_width=16)
    table.add_column("from", no_wrap=True)
    table.add_column("offset dB", justify="right", no_wrap=True)
    for group in report.groups:
        table.add_row(Text(group.name, style="bold"), "", "", "")
        for track in group.tracks:
            table.add_row(Text("  " + track.name), track.role or "–", _source(track),
                          _num(track.offset_db) if track.role else "–")
    return table


def _source(track: TrackBalance) -> str:
    if track.role is None:
        return "–"
    text = SOURCE_TEXT.get(track.role_source or "", track.role_source or "")
    if track.role_source in ("name", "audio") and track.role_confidence is not None:
        text += f" {track.role_confidence:.0%}"
    return text


def _shift_note(group: GroupBalance) -> str:
    shift = -group.level_shift_db
    return (f"{group.name}: every fader is {shift:.1f} dB lower than the rule asks, to stay "
            f"under REAPER's +{FADER_MAX_DB:.0f} dB fader top; raise the folder fader "
            f"{shift:.1f} dB for a -0.1 dBFS peak.")


def _reason_note(track: TrackBalance) -> str:
    """Why a child was left alone, or why its band is not the one asked for."""
    if track.active:
        return f"{track.name}: {track.reason}"
    return f"{track.name}: left alone: {track.reason or 'not measured'}"


def _target(group: GroupBalance) -> float | None:
    """The CFB loudness every balanced child has at its fader."""
    return None if group.target_db is None else group.target_db + group.level_shift_db


def _move(track: TrackBalance) -> float | None:
    if not track.active:
        return None
    return track.volume_after_db - track.volume_before_db


def _band(band: tuple[float, float] | None) -> str:
    return "" if band is None else f"{_hz(band[0])}–{_hz(band[1])}"


def _hz(value: float) -> str:
    return f"{value / 1000:.1f}k" if value >= 1000 else f"{value:.0f}"


def _num(value: float | None) -> str:
    if value is None:
        return "–"
    if value == float("-inf"):
        return "-inf"
    return f"{value:+.1f}"
