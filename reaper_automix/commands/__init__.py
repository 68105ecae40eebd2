"""Subcommands of the ``reaper-automix`` CLI: one module each, with register() and run()."""

from __future__ import annotations

import argparse


def add_skip_missing(parser: argparse.ArgumentParser) -> None:
    """The ``--skip-missing`` option of every command that renders a project."""
    parser.add_argument(
        "--skip-missing", action="store_true",
        help="render missing or unreadable media as silence (with a warning) instead of failing",
    )


def add_skip_unplayable(parser: argparse.ArgumentParser) -> None:
    """The ``--skip-unplayable`` option of every command that renders tracks headless."""
    parser.add_argument(
        "--skip-unplayable", action="store_true",
        help="go on (with a warning per track) when tracks hold MIDI, an instrument or plug-ins "
        "other than IEM MultiEQ/OmniCompressor/FdnReverb, which only REAPER plays: they are "
        "analysed as the headless renderer plays them (MIDI silent, other plug-ins skipped). "
        "Without it such tracks stop the command; inside REAPER the actions have REAPER render "
        "them",
    )
