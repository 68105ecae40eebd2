"""``reaper-automix eval TARGET``: reproducible evaluations behind the figures in docs/."""

from __future__ import annotations

import argparse
import importlib

#: target → module in reaper_automix.evaluation exposing register(parser) and run(args).
TARGETS = {"vocal": "vocal"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval", help="run an evaluation and print its figures (developers)",
        description="Evaluate an action's methods on held-out generated material; the figures "
        "in docs/ come from these commands.")
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for name, module in TARGETS.items():
        importlib.import_module(f"reaper_automix.evaluation.{module}").register(targets)
