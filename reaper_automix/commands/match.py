"""``reaper-automix match PROJECT --reference REF``: inter-group mixing to a reference's style."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from functools import partial
from typing import Any

from rich.console import Console, Group
from rich.progress import Progress
from rich.table import Table

from ..decisions.match import DEFAULT_BUDGET_S, DEFAULT_START, FITS, STARTS, MatchOptions
from ..hosts.rpp import open_project
from ..jobs import JobError
from ..jobs.match import TAG_COMPRESSOR, TAG_MULTIEQ, MatchPlots, MatchReport, plan_match
from . import SUMMARIES, add_output_options, add_report_options, save_project, write_report_files


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "match",
        help=SUMMARIES["match"],
        description="Fit each stem's fader, pan, MultiEQ and OmniCompressor so that the mix "
        "takes on the style of a reference mix (spectrum, stereo width and balance, dynamics: "
        "Diff-MST's audio features, algorithms.md B). Stems are the top-level tracks and folders "
        "that reach the master, as they sound before their fader. The results are written as "
        f"the stems' faders and pans and as two IEM plug-ins per stem ({TAG_MULTIEQ!r}, "
        f"{TAG_COMPRESSOR!r}, added or updated). The project is updated in place (with a "
        ".automix-bak backup) unless -o or --dry-run is given.",
    )
    parser.add_argument("project", help="path to an .RPP file")
    add_match_options(parser)
    add_output_options(parser, "matched")
    add_report_options(parser)
    parser.set_defaults(run=run)


def add_match_options(parser: argparse.ArgumentParser) -> None:
    """The options ``match`` and ``mix`` share."""
    parser.add_argument("--reference", required=True, metavar="REF",
                        help="the reference mix: a stereo .wav, .flac or .mp3 (resampled to the "
                        "project rate if needed), at least 5 s long")
    parser.add_argument("--stems", nargs="+", metavar="NAME|GUID",
                        help="the stems to match (top-level tracks or folders); default: every "
                        "top-level track and folder that reaches the master")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S, metavar="SECONDS",
                        help=f"time for the fit (default {DEFAULT_BUDGET_S:g} s; rendering and "
                        "analysis come on top); 0 keeps the start point (with --start model: "
                        "the network's answer alone)")
    parser.add_argument("--steps", type=int, metavar="N",
                        help="also stop each optimiser run after N steps: the result then does "
                        "not depend on the machine's speed (give a budget that is not reached)")
    parser.add_argument("--start", choices=STARTS, default=DEFAULT_START,
                        help="where the fit starts: model (the MatchNet network's prediction) or "
                        f"neutral (equal loudness, flat EQ, no compression); default {DEFAULT_START}")
    parser.add_argument("--amount", type=float, default=100.0, metavar="PCT",
                        help="apply this share of every move, 0-100 %% (fader and pan from where "
                        "they are, EQ gains from 0 dB, ratio from 1:1, threshold from off); "
                        "default 100")
    parser.add_argument("--match-loudness", action="store_true",
                        help="also take the reference's integrated loudness (default: the mix "
                        "keeps its loudness; the reference gives balance and tone)")
    parser.add_argument("--fit", choices=FITS, default="full",
                        help="full (default): gain, pan, EQ and compressor; faders: gains only; "
                        "start: equal loudness per stem, not fitted (a baseline)")


def options_from_args(args: argparse.Namespace) -> MatchOptions:
    if not 0.0 <= args.amount <= 100.0:
        raise JobError(f"--amount must lie between 0 and 100, got {args.amount:g}")
    return MatchOptions(budget_s=args.budget, amount=args.amount / 100.0,
                        match_loudness=args.match_loudness, fit=args.fit, steps=args.steps,
                        start=args.start)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    options = options_from_args(args)
    project = open_project(args.project)
    plots = MatchPlots() if args.report else None
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("matching", total=1.0)
        report, _ = plan_match(
            project, args.reference, stems=args.stems, options=options, plots=plots,
            progress=lambda fraction, message: bar.update(task, completed=fraction,
                                                          description=message))
    data = report.to_json()

    def publisher() -> Callable[..., Any]:
        from ..report.match import publish_match  # matplotlib: imported only for a report

        return partial(publish_match, data, plots, reference=args.reference)

    return finish(console, project, args, report.warnings, data, report_tables(report),
                  report.written, publisher)


def finish(console: Console, project, args: argparse.Namespace, warnings: list[str],
           data: dict, tables: Group, changed: bool,
           publisher: Callable[[], Callable[..., Any]] | None = None) -> int:
    """Print warnings, write the report and previews asked for (``publisher()`` gives the
    action's publisher), print the report, then save unless it is a dry run (shared with
    ``mix``)."""
    for message in warnings:
        console.print(f"[yellow]warning:[/yellow] {message}")
    files = None
    if publisher is not None and (args.report or args.preview):
        files = write_report_files(args, console, publisher(), project)
    if args.json:
        print(json.dumps(data if files is None else {**data, "files": files}, indent=2,
                         ensure_ascii=False))
    else:
        Console().print(tables)
    if not changed and not args.dry_run:
        console.print("amount 0 %: nothing to change, nothing written")
        return 0
    return save_project(console, project, args)


# ------------------------------------------------------------------------------------ report
def report_tables(report: MatchReport) -> Group:
    """The per-stem settings and the feature distances, readable at 80 columns."""
    stems = Table(title=f"Match reference — {_name(report.reference)}", title_justify="left")
    for column, justify in (("stem", "left"), ("fader dB", "right"), ("pan", "right"),
                            ("MultiEQ", "left"), ("OmniCompressor", "left")):
        stems.add_column(column, justify=justify)  # type: ignore[arg-type]
    for stem in report.stems:
        if not stem.matched:
            stems.add_row(stem.name, f"{stem.fader_before_db:+.1f}", _pan(stem.pan_before),
                          f"[yellow]untouched: {stem.status}[/yellow]", "")
            continue
        stems.add_row(
            stem.name, f"{stem.fader_before_db:+.1f} → {stem.fader_after_db:+.1f}",
            f"{_pan(stem.pan_before)} → {_pan(stem.pan_after)}", _eq_text(stem.eq),
            _compressor_text(stem.compressor))
    features = Table(title="Distance to the reference", title_justify="left")
    features.add_column("feature")
    columns = [c for c in ("before", "start", "after") if c in report.distances]
    for column in columns:  # start: the fit's start point, spectral features only
        features.add_column(f"{report.start} start" if column == "start" else column,
                            justify="right")
    for key, label, digits in (("bark_mid_db", "spectrum (Bark, RMS dB)", 2),
                               ("bark_side_share", "side share per band (RMS)", 3),
                               ("width", "stereo width", 3), ("imbalance", "stereo imbalance", 3),
                               ("crest_db", "crest factor (dB)", 2),
                               ("af_loss", "AF loss (weighted)", 3)):
        values = [report.distances[c].get(key) for c in columns]
        features.add_row(label, *("-" if v is None else f"{v:.{digits}f}" for v in values))
    target = "reference" if report.match_loudness else "kept"
    loudness = {"before": f"{report.before_lufs:.1f}", "start": "",
                "after": f"{report.after_lufs:.1f} ({target})"}
    features.add_row("loudness (LUFS)", *(loudness[c] for c in columns))
    steps = ", ".join(f"{k} {v}" for k, v in report.steps.items())
    seconds = sum(report.seconds.values())
    return Group(stems, features, f"fit: {report.fit} from the {report.start} start, "
                 f"amount {report.amount * 100:g} %, "
                 f"{steps} steps, {seconds:.1f} s; reference {report.reference_lufs:.1f} LUFS")


def _name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _pan(pan: float) -> str:
    if abs(pan) < 0.005:
        return "C"
    return f"{abs(pan) * 100:.0f}{'L' if pan < 0 else 'R'}"


_SHORT = {"low shelf": "LS", "peak": "PK", "high shelf": "HS"}


def _eq_text(bands) -> str:
    lines = [f"{_SHORT[b.kind]} {_hz(b.frequency_hz)} {b.gain_db:+.1f}"
             + (f" Q{b.q:.2f}" if b.kind == "peak" else "")
             for b in bands if b.enabled]
    return "\n".join(lines) or "flat"


def _hz(frequency: float) -> str:
    return f"{frequency / 1000:.1f}k" if frequency >= 1000 else f"{frequency:.0f}"


def _compressor_text(comp: dict[str, float]) -> str:
    if comp.get("ratio", 1.0) <= 1.0:
        text = "off (1:1)"
    else:
        text = (f"{comp['ratio']:.1f}:1 at {comp['threshold']:+.1f} dB\n"
                f"{comp['attack']:.0f}/{comp['release']:.0f} ms, knee {comp['knee']:.0f}")
    if comp.get("outGain"):
        text += f"\nmakeup {comp['outGain']:+.1f} dB"
    return text
