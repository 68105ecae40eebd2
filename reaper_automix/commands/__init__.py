"""Subcommands of the ``reaper-automix`` CLI: one module each, with register() and run()."""

from __future__ import annotations

import argparse


def add_skip_missing(parser: argparse.ArgumentParser) -> None:
    """The ``--skip-missing`` option of every command that renders a project."""
    parser.add_argument(
        "--skip-missing", action="store_true",
        help="render missing or unreadable media as silence (with a warning) instead of failing",
    )
