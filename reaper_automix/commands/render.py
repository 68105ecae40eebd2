"""``reaper-automix render PROJECT [--track NAME|GUID] -o OUT.wav``."""

from __future__ import annotations

import argparse

from rich.console import Console

from ..audio.io import write_audio
from ..audio.render import render_project_track
from . import SUMMARIES, add_skip_missing, add_skip_unplayable


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "render",
        help=SUMMARIES["render"],
        description="Render a track or folder (post-FX, post-fader) or, without --track, the "
        "sum of all top-level tracks, headless, as 32-bit float WAV at the project rate. "
        "IEM plug-ins are emulated; tracks with MIDI, instruments or other plug-ins stop the "
        "command (--skip-unplayable: a warning each, MIDI silent, other plug-ins skipped).",
    )
    parser.add_argument("project", help="path to an .RPP file")
    parser.add_argument("--track", help="track or folder name or GUID (default: the whole mix)")
    parser.add_argument("-o", "--output", required=True, help="output .wav path")
    add_skip_missing(parser)
    add_skip_unplayable(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    with console.status("rendering…"):
        audio, rate, warnings = render_project_track(
            args.project, args.track, skip_missing=args.skip_missing,
            skip_unplayable=args.skip_unplayable,
        )
    for message in warnings:
        console.print(f"[yellow]warning:[/yellow] {message}")
    path = write_audio(args.output, audio, rate)
    console.print(f"wrote {path} ({audio.shape[0] / rate:.2f} s, {rate} Hz, stereo)")
    return 0
