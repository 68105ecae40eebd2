"""``reaper-automix train vocal``: train Li & Lerch's four vocal networks, the cnn method of Mix
lead vocal (docs/vocal-cnn.md). Heavy imports happen only when it runs."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from rich.console import Console


def register(targets: argparse._SubParsersAction) -> None:
    from ..decisions.vocal_cnn import WEIGHTS_FILE

    parser = targets.add_parser(
        "vocal", help="Li & Lerch's four vocal networks (the cnn method of `vocal`)",
        description="Train the level, compression, EQ and reverb networks on self-labelled "
        "versions of generated songs (docs/vocal-cnn.md) and write their weights with a model "
        "card.")
    parser.add_argument("--data", choices=("generator", "synthetic"), default="generator",
                        help="generator: the offline session generator's sung vocals over "
                        "rendered backings (default); synthetic: quick synthetic songs")
    parser.add_argument("--songs", type=int, default=60, help="songs to use (default 60)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="first song seed (default 0; the evaluation uses seeds from 100000)")
    parser.add_argument("--length", type=float, default=None,
                        help="song length in seconds for generated sessions (default: the "
                        "generator's)")
    parser.add_argument("--family", default=None,
                        help="generated sessions: only pieces of this catalogue family")
    parser.add_argument("--versions", type=int, default=40,
                        help="self-labelled versions per song and network (default 40)")
    parser.add_argument("--epochs", type=int, default=40, help="epochs per network (default 40)")
    parser.add_argument("--cache", type=Path, default=Path(".cache") / "vocal-train",
                        help="feature cache folder (default .cache/vocal-train)")
    parser.add_argument("-o", "--out", type=Path, default=WEIGHTS_FILE,
                        help=f"weights file (default: the package's {WEIGHTS_FILE.name})")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..training.vocal import generator_songs, synthetic_songs, train_vocal

    console = Console(stderr=True)
    torch.set_num_threads(max(1, args.threads))
    say = lambda message: console.print(message, highlight=False)  # noqa: E731
    if args.data == "generator":
        songs = generator_songs(args.songs, args.first_seed, args.length, say, args.family)
        description = (f"{args.songs} generated sessions (seeds {args.first_seed}–"
                       f"{args.first_seed + args.songs - 1}"
                       + (f", {args.family}" if args.family else "")
                       + "): PSOLA-sung lead vocals over rendered backings")
    else:
        songs = synthetic_songs(args.songs, args.first_seed)
        description = f"{args.songs} synthetic songs (seeds from {args.first_seed})"
    versions = {model: args.versions for model in ("level", "compression", "eq", "reverb")}
    epochs = {model: args.epochs for model in versions}
    command = "reaper-automix " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    card = train_vocal(songs, versions=versions, epochs=epochs, cache=args.cache, out=args.out,
                       data_description=description, command=command, say=say,
                       seed=args.first_seed)
    for model, metrics in card["models"].items():
        console.print(f"{model}: validation MAE {metrics['mae_mean']:.3f} (constant mean "
                      f"{metrics['constant_mae_mean']:.3f}), {metrics['steps']} steps, "
                      f"{metrics['seconds']:.0f} s")
    console.print(f"wrote {args.out} ({os.path.getsize(args.out) / 1024:.0f} KiB) in "
                  f"{card['wall_seconds']:.0f} s")
    return 0
