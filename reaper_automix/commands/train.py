"""``reaper-automix train TARGET``: train a model shipped with reaper-automix (developers; never
run in CI). A small dispatcher: each target is a module of this package with ``register``."""

from __future__ import annotations

import argparse
import importlib

from . import SUMMARIES

#: target → module in reaper_automix.commands exposing register(targets).
TARGETS = {"match": "train_match", "vocal": "train_vocal"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help=SUMMARIES["train"],
        description="Train one of the models shipped in the package. Training data is "
        "generated offline (cached); nothing is downloaded.")
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for module in TARGETS.values():
        importlib.import_module(f"reaper_automix.commands.{module}").register(targets)
