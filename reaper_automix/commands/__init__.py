"""Subcommands of the ``reaper-automix`` CLI: one module each, with register() and run()."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from ..report import Published
    from ..session import Project


#: Every subcommand, in the order `reaper-automix --help` lists them, with its one-line summary.
SUMMARIES: dict[str, str] = {
    "inspect": "show a project's folder tree",
    "render": "render a track, folder or the whole mix to WAV",
    "analyze": "measure the loudness, peaks and CFB band of an audio file",
    "balance": "balance the tracks inside folders (Auto balance group)",
    "match": "mix the top-level groups to sound like a reference (Match reference)",
    "mix": "balance every folder, then match the groups to a reference (both stages)",
    "vocal": "mix the lead vocal against the backing (Mix lead vocal)",
    "eval": "run an action's evaluation protocol (figures for docs/)",
    "demo": "write a demo multitrack session (REAPER project, stems, reference mix)",
    "install": "install the AutoMix actions into REAPER (or --uninstall them)",
    "worker": "run one job of the REAPER actions (protocol v1, see docs/reaper.md)",
    "generate": "write generated multitrack sessions (REAPER project, stems with roles, manifest)",
    "train": "train a model that ships with reaper-automix (developers)",
}


def seed_argument(text: str) -> int:
    """argparse type of ``--seed``: a non-negative integer."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("the seed must be a non-negative integer")
    return value


def add_skip_missing(parser: argparse.ArgumentParser) -> None:
    """The ``--skip-missing`` option of every command that renders a project."""
    parser.add_argument(
        "--skip-missing", action="store_true",
        help="render missing or unreadable media as silence (with a warning) instead of failing",
    )


def add_report_options(parser: argparse.ArgumentParser) -> None:
    """The ``--report`` and ``--preview`` options of every action (see write_report_files)."""
    parser.add_argument(
        "--report", metavar="PATH",
        help="also write a self-contained HTML report of the decisions (plots and tables; "
        "with --preview, A/B players); it opens offline in any browser",
    )
    parser.add_argument(
        "--preview", metavar="DIR",
        help="also write before.wav and after.wav of the whole mix, matched to the same "
        "integrated loudness, into DIR",
    )


def write_report_files(
    args: argparse.Namespace,
    console: Console,
    publisher: Callable[..., Published],
    after: Project,
) -> dict[str, Any] | None:
    """Call an action's publisher (e.g. ``partial(publish_balance, data, spectra)``) for the
    ``--report``/``--preview`` the user gave and say what was written; returns the written
    files as JSON, or None when neither option was given. ``after`` is the changed model."""
    if not (args.report or args.preview):
        return None
    from ..hosts.rpp import open_project

    with console.status("writing the report…"):
        published = publisher(
            html=args.report, preview_dir=args.preview, project=str(args.project),
            before=open_project(args.project) if args.preview else None, after=after,
            skip_missing=getattr(args, "skip_missing", False),
        )
    if published.previews is not None:
        for message in published.previews.warnings:
            console.print(f"[yellow]warning:[/yellow] {message}")
        played = ", ".join(f"{p.path.name} {p.gain_db:+.1f} dB" for p in published.previews.items)
        target = published.previews.target_lufs
        console.print(f"wrote previews in {published.previews.directory} ({played}"
                      + (f"; all at {target:.1f} LUFS)" if target is not None else ")"))
    if published.html is not None:
        console.print(f"wrote report {published.html}")
    return published.to_json()


def add_output_options(parser: argparse.ArgumentParser, project: str,
                       reports: str = "the report") -> None:
    """``--dry-run``, ``--json`` and ``-o`` of every command that writes the project
    (``project``: what the written project is, e.g. "balanced")."""
    parser.add_argument("--dry-run", action="store_true", help="compute and report, write nothing")
    parser.add_argument("--json", action="store_true", help=f"print {reports} as JSON")
    parser.add_argument("-o", "--output", help=f"write the {project} project here instead")


def save_project(console: Console, project: Project, args: argparse.Namespace) -> int:
    """Save as :func:`add_output_options` asked (in place with a backup, to ``-o``, or not at all
    with ``--dry-run``) and say where; the command's exit status."""
    if args.dry_run:
        console.print("dry run: nothing written")
        return 0
    backup = project.save(args.output)
    target = args.output or args.project
    console.print(f"wrote {target}" + (f" (previous file kept as {backup})" if backup else ""))
    return 0


def add_skip_unplayable(parser: argparse.ArgumentParser) -> None:
    """The ``--skip-unplayable`` option of every command that renders tracks headless."""
    parser.add_argument(
        "--skip-unplayable", action="store_true",
        help="go on (with a warning per track) when tracks hold MIDI, an instrument or plug-ins "
        "other than IEM MultiEQ/OmniCompressor/FdnReverb, which only REAPER plays: they are "
        "analysed as the headless renderer plays them (MIDI silent, other plug-ins skipped). "
        "Without it such tracks stop the command; inside REAPER the balance, match and mix "
        "actions have REAPER render them (the vocal action warns and goes on)",
    )
