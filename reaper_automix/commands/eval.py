"""``reaper-automix eval TARGET``: run an action's evaluation protocol and print its figures.

Each target is a module of :mod:`reaper_automix.evaluation` with ``add_arguments(parser)`` and
``main(args)``; adding an evaluation means adding its name here.
"""

from __future__ import annotations

import argparse
import importlib

from . import SUMMARIES

TARGETS = {"balance": "Auto balance group: methods against human balances (issue 17)",
           "match": "Match reference: same-song and cross-song protocols (issue 14)",
           "vocal": "Mix lead vocal: the paper's MAE table, settings against the DiffVox presets, "
                    "level against MUSDB18, on held-out generated songs (docs/vocal.md)"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval", help=SUMMARIES["eval"],
        description="Evaluate an action end to end on songs and print its figures. Slow: "
        "minutes to hours; not part of the tests.")
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for name, title in TARGETS.items():
        target = targets.add_parser(name, help=title, description=title)
        module = importlib.import_module(f"reaper_automix.evaluation.{name}")
        module.add_arguments(target)
        target.set_defaults(run=module.main)
