"""Command-line interface: ``reaper-automix SUBCOMMAND …`` (also ``python -m reaper_automix``)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from rich.console import Console

from . import __version__
from .jobs import JobError

#: One module per subcommand in reaper_automix.commands, each with register() and run().
COMMANDS = ("inspect", "render", "analyze", "balance", "match", "mix", "vocal", "eval", "demo",
            "install", "worker", "generate", "train")

console = Console(stderr=True)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The CLI parser; ``only`` registers that one subcommand (its module alone is imported:
    start-up time counts, and some commands import heavy libraries)."""
    parser = argparse.ArgumentParser(
        prog="reaper-automix",
        description="Automatic mixing for REAPER projects: inspect, render and balance .RPP "
        "files headless, or run the same actions inside REAPER.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS if only is None else (only,):
        importlib.import_module(f"reaper_automix.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    command = next((w for w in words if not w.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
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
