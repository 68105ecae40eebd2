"""``reaper-automix analyze FILE``: loudness, loudness range, peaks and the CFB band of one file."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..analysis.cfb import METHODS, cfb_loudness
from ..analysis.loudness import LoudnessMeter, LoudnessReport, TooShortError
from ..audio.io import read_audio
from . import SUMMARIES


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help=SUMMARIES["analyze"],
        description="Measure one audio file as it is (its own channel layout): BS.1770-4 integrated "
        "loudness, EBU Tech 3342 loudness range, max momentary and short-term loudness, sample "
        "and true peak, and the Characteristic Frequency Band loudness used by Auto balance group.",
    )
    parser.add_argument("file", help="audio file (WAV, FLAC, AIFF, OGG, MP3: anything libsndfile reads)")
    parser.add_argument(
        "--method", choices=(*METHODS, "all"), default="centroid",
        help="CFB method: centroid (default), f0 (PESTO pitch, slower), lufs, or all three",
    )
    parser.add_argument("--json", action="store_true", help="print JSON with stable keys instead of tables")
    parser.set_defaults(run=run)


def analyse_file(path: str | Path, methods: tuple[str, ...]) -> dict:
    """Every reading of one file as a JSON-ready dict (−inf and undefined values are None)."""
    audio, rate = read_audio(path)
    report = LoudnessMeter(rate).measure(audio)
    return {
        "path": str(path),
        "sample_rate": rate,
        "channels": int(audio.shape[1]),
        "duration_s": _number(report.duration_s, 3),
        "loudness": _loudness_record(report),
        "cfb": {method: _cfb_record(audio, rate, method) for method in methods},
    }


def _loudness_record(report: LoudnessReport) -> dict:
    return {
        "integrated_lufs": _number(report.integrated_lufs),
        "loudness_range_lu": _number(report.loudness_range_lu),
        "momentary_max_lufs": _number(report.momentary_max_lufs),
        "short_term_max_lufs": _number(report.short_term_max_lufs),
        "sample_peak_dbfs": _number(report.sample_peak_dbfs),
        "true_peak_dbtp": _number(report.true_peak_dbtp),
        "notes": list(report.notes),
    }


def _cfb_record(audio, rate: int, method: str) -> dict:
    try:
        result = cfb_loudness(audio, rate, method)
    except TooShortError as exc:
        return {"loudness_lufs": None, "band_hz": None, "fallback": None, "error": str(exc)}
    return {
        "loudness_lufs": _number(result.loudness_lufs),
        "band_hz": [_number(edge, 2) for edge in result.band_hz] if result.band_hz else None,
        "centroid_hz": _number(result.centroid_hz, 2),
        "bandwidth_hz": _number(result.bandwidth_hz, 2),
        "f0_hz": _number(result.f0_hz, 2),
        "pitch_frames": result.pitch_frames,
        "pitch_step_ms": result.pitch_step_ms,
        "fallback": result.fallback,
        "error": None,
    }


def _number(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _text(value: float | None, unit: str) -> str:
    return "–" if value is None else f"{value:.2f} {unit}"


def _print_tables(record: dict) -> None:
    console = Console()
    loudness = record["loudness"]
    console.print(
        f"[bold]{record['path']}[/bold]  {record['sample_rate']} Hz, {record['channels']} ch, "
        f"{record['duration_s']:.2f} s"
    )
    table = Table(title="Loudness (BS.1770-4, EBU Tech 3341/3342)")
    table.add_column("reading")
    table.add_column("value", justify="right")
    rows = [
        ("integrated loudness", _text(loudness["integrated_lufs"], "LUFS")),
        ("loudness range", _text(loudness["loudness_range_lu"], "LU")),
        ("max momentary", _text(loudness["momentary_max_lufs"], "LUFS")),
        ("max short-term", _text(loudness["short_term_max_lufs"], "LUFS")),
        ("sample peak", _text(loudness["sample_peak_dbfs"], "dBFS")),
        ("true peak", _text(loudness["true_peak_dbtp"], "dBTP")),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    cfb = Table(title="Characteristic Frequency Band loudness")
    for column in ("method", "band", "centroid / bandwidth", "f0", "loudness", "note"):
        cfb.add_column(column)
    for method, result in record["cfb"].items():
        band = "full band" if result["band_hz"] is None else f"{result['band_hz'][0]:.0f}–{result['band_hz'][1]:.0f} Hz"
        shape = "" if result.get("centroid_hz") is None else f"{result['centroid_hz']:.0f} / {result['bandwidth_hz']:.0f} Hz"
        pitch = "" if result.get("f0_hz") is None else f"{result['f0_hz']:.1f} Hz"
        note = result.get("fallback") or result.get("error") or ""
        cfb.add_row(method, band, shape, pitch, _text(result["loudness_lufs"], "LUFS"), note)
    console.print(cfb)
    for note in loudness["notes"]:
        console.print(f"[yellow]note:[/yellow] {note}")


def run(args: argparse.Namespace) -> int:
    methods = METHODS if args.method == "all" else (args.method,)
    record = analyse_file(args.file, methods)
    if args.json:
        print(json.dumps(record, indent=2, ensure_ascii=False))
    else:
        _print_tables(record)
    return 0
