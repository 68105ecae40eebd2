"""``reaper-automix train match``: train MatchNet, the fit's starting point for Match reference
(docs/match-model.md). Heavy imports happen only when it runs."""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import replace
from pathlib import Path


def register(targets: argparse._SubParsersAction) -> None:
    parser = targets.add_parser(
        "match", help="the Match reference network (B.7 Method 1 on generated sessions)",
        description="Generate sessions with the offline generator, cache Method-1 examples "
        "(references made by random console settings on another segment of the same "
        "session), then train MatchNet with the AF + MRSTFT losses through the differentiable "
        "console plus a parameter loss. Resumable: finished sessions, examples and the latest "
        "checkpoint are kept. Uses a GPU for the network when torch sees one.")
    parser.add_argument("--data", type=Path, required=True,
                        help="folder for generated sessions and cached examples")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for checkpoints, the weights (match_net.pt) and card.json")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 3000)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUT/checkpoint.pt")
    parser.add_argument("--sessions", type=int, default=None,
                        help="training sessions to generate (default 100)")
    parser.add_argument("--validation-sessions", type=int, default=None,
                        help="validation sessions (default 8)")
    parser.add_argument("--examples-per-session", type=int, default=None,
                        help="Method-1 examples per session (default 8)")
    parser.add_argument("--batch", type=int, default=None,
                        help="examples per step (default 6; one goes through the console)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on a shared 2-core machine a second "
                        "thread is slower)")
    parser.add_argument("--prepare-only", action="store_true",
                        help="generate and cache the examples, do not train")
    parser.add_argument("--train-only", action="store_true",
                        help="train on the examples already cached (e.g. while a --prepare-only "
                        "run is still adding more: training picks them up at each validation)")
    parser.add_argument("--tiny", action="store_true",
                        help="a tiny network and 1-session data set (smoke test)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..training import match as T

    torch.set_num_threads(max(1, args.threads))
    data_config = T.DataConfig()
    overrides = {"train_sessions": args.sessions, "validation_sessions": args.validation_sessions,
                 "examples_per_session": args.examples_per_session}
    if args.tiny:
        data_config = replace(data_config, train_sessions=1, validation_sessions=1,
                              examples_per_session=2, session_length_s=20.0)
    data_config = replace(data_config, **{k: v for k, v in overrides.items() if v is not None})
    say = lambda message: print(message, flush=True)  # noqa: E731
    if not args.train_only:
        counts = T.prepare(args.data, data_config, say)
        say(f"examples: {counts['train']} train, {counts['validation']} validation")
    if args.prepare_only:
        return 0
    config = T.TrainConfig()
    if args.tiny:
        config = T.tiny(config)
    config = replace(config, **{k: v for k, v in {"steps": args.steps, "batch": args.batch}.items()
                                if v is not None})
    command = "reaper-automix " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    card = T.train(args.data, args.out, config, resume=args.resume, say=say, command=command)
    say(f"wrote {args.out / 'match_net.pt'} after {card['steps']} steps "
        f"({card['wall_seconds'] / 60:.1f} min)")
    return 0
