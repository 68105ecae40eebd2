"""``reaper-automix balance PROJECT``: intra-group level balance by CFB loudness."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ..hosts.rpp import open_project
from ..analysis.role_offsets import load_role_offsets
from ..analysis.roles import ROLES
from ..decisions.balance import LEVELS
from ..jobs.balance import FADER_ROOM_DB, METHODS, BalanceReport, plan_balance
from . import add_skip_missing, add_skip_unplayable


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "balance",
        help="balance the tracks inside folders (Auto balance group)",
        description="Set the faders of each folder's children from their loudness in their "
        "Characteristic Frequency Band (Shi et al., AES 2025): by default each child gets the "
        "level its role (kick, hats, pad, lead vocal...) usually has in a mix, while the folder "
        "keeps its level. Child folders count as one track (their sum). Clip gains are left "
        "alone. The project is updated in place (with a .automix-bak backup) unless -o or "
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
        "--role, a role saved in the project, or the track name); centroid, f0, lufs: equal "
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
    parser.add_argument("--dry-run", action="store_true", help="compute and report, write nothing")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("-o", "--output", help="write the balanced project here instead")
    add_skip_missing(parser)
    add_skip_unplayable(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    roles = parse_role_options(args.role)
    role_offsets = load_role_offsets(args.offsets) if args.offsets else None
    if (roles or role_offsets) and args.method != "role":
        raise ValueError("--role and --offsets set role targets: use them with --method role")
    project = open_project(args.project)
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
            progress=lambda fraction, message: bar.update(task, completed=fraction,
                                                          description=message),
        )
    for message in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {message}")
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        Console().print(report_table(report))
        for group in report.groups:
            for line in group.summary:
                Console().print(f"[bold]{group.name}[/bold]: {line}")
    if args.dry_run:
        console.print("dry run: nothing written")
        return 0
    backup = project.save(args.output)
    target = args.output or args.project
    console.print(f"wrote {target}" + (f" (previous file kept as {backup})" if backup else ""))
    return 0


def parse_role_options(values: list[str]) -> dict[str, str]:
    """``--role "Track name=role"`` options as {track: role}; ValueError for a malformed one."""
    roles = {}
    for value in values:
        track, sep, role = value.rpartition("=")
        if not sep or not track.strip() or not role.strip():
            raise ValueError(f"--role {value!r}: write TRACK=ROLE, e.g. --role \"OH L=cymbals\"")
        roles[track.strip()] = role.strip()
    return roles


def report_table(report: BalanceReport) -> Table:
    table = Table(title=f"Auto balance group — method {report.method}, level {report.level}")
    roles = report.method == "role"
    columns = ("group", "track", *(("role", "offset") if roles else ()), "loudness", "gain",
               "fader before", "fader after", "note")
    for column in columns:
        table.add_column(column, justify="right" if column in ("loudness", "gain", "offset") else "left")
    for group in report.groups:
        table.add_row(f"[bold]{group.name}[/bold]", *[""] * (len(columns) - 1))
        for track in group.tracks:
            role_cells = (_role(track), _db(track.offset_db, " dB")) if roles else ()
            table.add_row(
                "",
                track.name,
                *role_cells,
                _db(track.loudness_db, " LUFS"),
                _db(track.gain_db, " dB"),
                _db(track.volume_before_db, " dB"),
                _db(track.volume_after_db, " dB"),
                ("" if track.active else "[yellow]inactive[/yellow] ") + (track.reason or "")
                + (f"[yellow]{track.note}[/yellow]" if track.note else ""),
            )
    return table


def _role(track) -> str:  # noqa: ANN001 (TrackBalance)
    if track.role is None:
        return "–"
    sure = "" if track.role_source in ("user", "default") else f" {track.role_confidence:.0%}"
    return f"{track.role} ({track.role_source}{sure})"


def _db(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if value == float("-inf"):
        return "-inf" + unit
    return f"{value:+.2f}{unit}"
