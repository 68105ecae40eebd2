"""``reaper-automix demo --out DIR [--seed N]``: write the offline demo session."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..demo import PROJECT_NAME, DemoSession, build_demo
from . import SUMMARIES, seed_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help=SUMMARIES["demo"],
        description="Arrange a Bach chorale for drums, bass, vocal stand-ins and band, render "
        "it offline (music21 corpus + tinysoundfont + the GM soundfont in pretty_midi), and "
        f"save DIR/{PROJECT_NAME} with deliberately unbalanced faders and clip gains, float "
        "WAV stems in DIR/media/, a reference mix DIR/reference.wav and DIR/demo.json.",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--seed", type=seed_argument, default=0,
                        help="seed for gains and humanisation (default 0); same seed, same bytes")
    parser.add_argument("--force", action="store_true",
                        help=f"overwrite an existing {PROJECT_NAME} and its media in DIR")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    project = args.out / PROJECT_NAME
    if project.exists() and not args.force:
        raise FileExistsError(f"{project} already exists; pick another --out or add --force")
    started = time.perf_counter()
    with console.status("starting…") as status:
        def progress(message: str) -> None:
            console.log(message)
            status.update(message + "…")

        session = build_demo(args.out, seed=args.seed, progress=progress)
    console.print(_summary(session))
    console.print(
        f"wrote [bold]{session.project}[/bold] ({session.length_s:.1f} s, {len(session.media)} "
        f"stems), {session.reference.name} and {session.manifest.name} in "
        f"{time.perf_counter() - started:.1f} s\n"
        "[yellow]note:[/yellow] the vocal tracks are GM voice patches standing in for singers."
    )
    return 0


def _summary(session: DemoSession) -> Table:
    table = Table(title="stems (before the project's faders and clip gains)")
    table.add_column("file")
    table.add_column("LUFS", justify="right")
    table.add_column("peak dBFS", justify="right")
    for stem in session.stems:
        table.add_row(stem.name, f"{stem.lufs:.1f}", f"{20 * math.log10(stem.peak):.1f}")
    return table
