"""Command-line interface: ``reaper-automix SUBCOMMAND …`` (also ``python -m reaper_automix``)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Iterable

from rich.console import Console

from . import __version__
from .commands import SUMMARIES
from .jobs import JobError

#: One module per subcommand in reaper_automix.commands, each with register() and run().
COMMANDS = tuple(SUMMARIES)

console = Console(stderr=True)


def build_parser(full: Iterable[str] = COMMANDS) -> argparse.ArgumentParser:
    """The CLI parser. The subcommands in ``full`` are registered with their options (their
    modules imported); the others are listed by their summaries only, so that
    ``reaper-automix --help`` or one subcommand starts fast (some import torch)."""
    parser = argparse.ArgumentParser(
        prog="reaper-automix",
        description="Automatic mixing for REAPER projects: inspect, render and balance .RPP "
        "files headless, or run the same actions inside REAPER.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, summary in SUMMARIES.items():
        if name in full:
            importlib.import_module(f"reaper_automix.commands.{name}").register(subparsers)
        else:
            subparsers.add_parser(name, help=summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    command = next((w for w in words if not w.startswith("-")), None)
    parser = build_parser((command,) if command in COMMANDS else ())
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
    )
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]")
        return 130
    except (OSError, ValueError, LookupError, JobError) as exc:
        if args.verbose:
            raise
        console.print(f"[bold red]error:[/bold red] {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
