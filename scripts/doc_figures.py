"""Regenerate the pictures in docs/images/ from the reports of the demo session.

    .venv/bin/python scripts/doc_figures.py [--out docs/images] [--work .cache/doc-figures]

Builds the demo (seed 0) under the work folder if it is not there yet, runs the actions with
report plot data exactly as ``--report`` does, and saves the figures the docs show (kept small:
96 dpi PNG, under 100 kB each).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reaper_automix.analysis.spectrum import SpectrumRecorder
from reaper_automix.demo import build_demo
from reaper_automix.hosts.rpp import open_project
from reaper_automix.jobs.balance import plan_balance
from reaper_automix.jobs.vocal import VocalPlots, plan_vocal
from reaper_automix.report.balance import group_figure
from reaper_automix.report.document import figure_png
from reaper_automix.report.vocal import eq_figure, level_figure, plugin_values, spectra_figure

REPO = Path(__file__).resolve().parents[1]
MAX_BYTES = 100_000


def balance_figures(project_file: Path, out: Path) -> list[Path]:
    project = open_project(project_file)
    spectra = SpectrumRecorder(project.sample_rate)
    report = plan_balance(project, ["Drums"], method="centroid", spectra=spectra).to_json()
    (drums,) = report["groups"]
    return [save(group_figure(drums, spectra.spectra), out / "report-balance-drums.png")]


def vocal_figures(project_file: Path, out: Path) -> list[Path]:
    project = open_project(project_file)
    plots = VocalPlots()
    report = plan_vocal(project, method="prior", plots=plots).to_json()
    eq = plugin_values(report)["MultiEQ"]
    return [save(level_figure(report), out / "report-vocal-level.png"),
            save(spectra_figure(plots.spectra), out / "report-vocal-spectra.png"),
            save(eq_figure(eq, project.sample_rate), out / "report-vocal-eq.png")]


def save(figure: object, path: Path) -> Path:
    data = figure_png(figure)
    if len(data) > MAX_BYTES:
        raise SystemExit(f"{path.name}: {len(data)} bytes, over the {MAX_BYTES}-byte budget")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    parser.add_argument("--work", type=Path, default=REPO / ".cache" / "doc-figures")
    args = parser.parse_args()
    project = args.work / "demo" / "automix-demo.RPP"
    if not project.exists():
        build_demo(args.work / "demo")
    for path in [*balance_figures(project, args.out), *vocal_figures(project, args.out)]:
        print(f"wrote {path} ({path.stat().st_size // 1000} kB)")


if __name__ == "__main__":
    main()
