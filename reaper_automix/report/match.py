"""The Match reference section of the report, built from the job's JSON report.

The mix against the reference (Bark spectra, loudness, level, crest factor, stereo width and
imbalance of the mix before, the mix after and the reference; the feature distances before and
after), the fit (its loss over time against the time budget), a table of every stem's moves
with the reasons for stems left untouched, and per stem its fader and pan moves, the MultiEQ
magnitude response and the OmniCompressor static curve with its gain reduction over time on
the stem's own audio. The mix section of ``reaper-automix mix`` is the balance section followed
by this one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..analysis.spectrum import SpectrumRecorder
from ..analysis.style import bark_centres_hz
from ..console.params import EQ_BANDS
from ..jobs.match import MatchPlots
from ..session import Project
from . import Published, publish
from .balance import balance_section
from .document import Section
from .plots import (
    axes,
    band_levels_figure,
    color,
    compressor_figure,
    hz_text,
    multieq_figure,
    new_figure,
    paired_bars_figure,
    report_style,
)

TITLE = "Match reference"
MIXES = (("before", "mix before"), ("after", "mix after"), ("reference", "reference"))
DISTANCES = (("bark_mid_db", "spectrum (Bark, RMS dB)"),
             ("bark_side_share", "side share per band (RMS)"), ("width", "stereo width"),
             ("imbalance", "stereo imbalance"), ("crest_db", "crest factor (dB)"),
             ("af_loss", "AF loss (weighted)"))
_PHASE_TEXT = {"gains": "faders", "gains and pans": "faders and pans",
               "gains and EQ": "faders, pans and EQ", "compressors": "compressors"}


def publish_match(
    report: Mapping[str, Any],
    plots: MatchPlots | None,
    *,
    reference: str | Path,
    html: str | Path | None,
    preview_dir: str | Path | None,
    project: str,
    before: Project | None,
    after: Project,
    skip_missing: bool = False,
    render: Mapping[str, Any] | None = None,
) -> Published:
    """Write the page and previews (before, after and the reference, at equal loudness) of one
    match run (see :func:`reaper_automix.report.publish`)."""
    name = Path(project).name if project else "project"
    return publish(lambda: [match_section(report, plots)], html=html, preview_dir=preview_dir,
                   title=f"AutoMix: {TITLE} — {name}", project=project, before=before,
                   after=after, data=report, reference=reference, skip_missing=skip_missing,
                   render=render)


def publish_mix(
    balance: Mapping[str, Any] | None,
    spectra: SpectrumRecorder | None,
    match: Mapping[str, Any],
    plots: MatchPlots | None,
    *,
    reference: str | Path,
    html: str | Path | None,
    preview_dir: str | Path | None,
    project: str,
    before: Project | None,
    after: Project,
    skip_missing: bool = False,
    render: Mapping[str, Any] | None = None,
) -> Published:
    """The page and previews of ``mix``: the balance section (if stage 1 ran), then the match
    section; the previews compare the project before both stages with after both."""
    name = Path(project).name if project else "project"

    def sections() -> list[Section]:
        first = [balance_section(balance, spectra.spectra if spectra else None)] if balance \
            else []
        return [*first, match_section(match, plots)]

    return publish(sections, html=html, preview_dir=preview_dir,
                   title=f"AutoMix: Mix (balance + match) — {name}", project=project,
                   before=before, after=after, data={"balance": balance, "match": match},
                   reference=reference, skip_missing=skip_missing, render=render)


def match_section(report: Mapping[str, Any], plots: MatchPlots | None = None) -> Section:
    """The section for one match report (``MatchReport.to_json()``); ``plots`` adds each
    engaged compressor's gain reduction over time on the stem's audio."""
    section = Section(TITLE)
    stems = list(report.get("stems", []))
    matched = [s for s in stems if s.get("status") == "matched"]
    level = ("took the reference's integrated loudness" if report.get("match_loudness")
             else "kept its integrated loudness (the reference gave balance and tone only)")
    section.add_text(
        f"The faders, pans, MultiEQ and OmniCompressor of {len(matched)} of {len(stems)} "
        f"stem(s) were fitted (fit: {report.get('fit')}, amount {_pct(report.get('amount'))}) "
        f"so that the mix takes on the style of {_name(str(report.get('reference', '')))}: its "
        "Bark spectrum, stereo width and imbalance and crest factor (Diff-MST's audio "
        f"features, Vanka et al., ISMIR 2024). The mix {level}. Undo restores everything in "
        "one step; the plug-ins stay editable.")
    if not report.get("written", True):
        section.add_text("Amount 0 %: nothing was changed.", "note")
    for warning in report.get("warnings", []):
        section.add_text(str(warning), "warning")
    section.add_table(
        ["stem", "fader (dB)", "move", "pan", "MultiEQ", "OmniCompressor"],
        [_stem_row(s) for s in stems], numeric=[False, True, True, False, False, False],
        caption="Fader before → after; MultiEQ bands that are switched on; compressor ratio "
        "and threshold (1:1 is off).")
    for stem in stems:
        if stem.get("status") != "matched":
            section.add_text(f"{stem.get('name')} was left untouched: "
                             f"{stem.get('reason') or stem.get('status')}.", "note")
    _mix_part(section.subsection("Mix and reference"), report)
    _fit_part(section.subsection("The fit"), report)
    rate = float(report.get("sample_rate") or (plots.sample_rate if plots else 0) or 48000)
    inputs = plots.compressor_input if plots else {}
    for stem in matched:
        _stem_part(section.subsection(str(stem.get("name"))), stem, rate,
                   inputs.get(str(stem.get("guid"))))
    return section


# ---------------------------------------------------------------------------------- mix
def _mix_part(section: Section, report: Mapping[str, Any]) -> None:
    features = report.get("features") or {}
    distances = report.get("distances") or {}
    present = [(key, label) for key, label in MIXES if key in features]
    if present:
        rate = float(report.get("sample_rate") or 48000)
        section.add_figure(
            band_levels_figure(bark_centres_hz(rate),
                               {label: features[key]["bark_mid_db"] for key, label in present},
                               "Bark spectrum of the mid signal (L+R), relative to each level",
                               unit="dB re level"),
            "The spectral balance the fit matches: each band's power relative to the signal's "
            "K-weighted level, so level does not move the curves.", alt="Bark spectra")
    loudness = {"before": report.get("before_lufs"), "after": report.get("after_lufs"),
                "reference": report.get("reference_lufs")}
    rows = [["integrated loudness (LUFS)", *(_num(loudness[k], 1) for k, _ in MIXES)],
            ["level (K-weighted RMS, dB)", *(_feature(features, k, "level_db", 1)
                                             for k, _ in MIXES)],
            ["crest factor L / R (dB)", *(_pair(features, k, "crest_db") for k, _ in MIXES)],
            ["stereo width (side / mid)", *(_feature(features, k, "width", 3) for k, _ in MIXES)],
            ["stereo imbalance (R−L)/(R+L)", *(_feature(features, k, "imbalance", 3)
                                               for k, _ in MIXES)]]
    section.add_table(["feature", *(label for _, label in MIXES)], rows,
                      numeric=[False, True, True, True],
                      caption="Measured over the analysis windows spread over the song; "
                      "loudness over the whole song (BS.1770-4).")
    if features:
        section.add_figure(paired_bars_figure(
            ["crest factor (dB)", "stereo width ×10", "imbalance ×10"],
            {label: [_mean(features.get(key, {}).get("crest_db")),
                     _scaled(features.get(key, {}).get("width"), 10.0),
                     _scaled(features.get(key, {}).get("imbalance"), 10.0)]
             for key, label in present}, "Dynamics and stereo image", unit="value"),
            "Crest factor (mean of L and R), stereo width and imbalance (both ×10 to share the "
            "axis) of the mix before, after, and the reference.", alt="crest, width, imbalance")
    if distances:
        before, after = distances.get("before", {}), distances.get("after", {})
        section.add_table(
            ["distance to the reference", "before", "after"],
            [[label, _num(before.get(key), 3), _num(after.get(key), 3)]
             for key, label in DISTANCES], numeric=[False, True, True],
            caption="RMS over Bark bands for the spectra, absolute differences otherwise; the "
            "AF loss is what the fit minimises (without its level term).")
        section.add_figure(paired_bars_figure(
            [label for _, label in DISTANCES],
            {"before": [before.get(k) for k, _ in DISTANCES],
             "after": [after.get(k) for k, _ in DISTANCES]},
            "Distance to the reference", unit="distance (each in its own unit)"),
            "Every feature distance before and after the fit (shorter is closer).",
            alt="feature distances")


# ---------------------------------------------------------------------------------- fit
def _fit_part(section: Section, report: Mapping[str, Any]) -> None:
    trace = list(report.get("trace") or [])
    budget = float(report.get("budget_s") or 0.0)
    seconds = report.get("seconds") or {}
    fitting = sum(float(seconds.get(k, 0.0)) for k in ("spectral", "dynamics"))
    steps = report.get("steps") or {}
    section.add_text(
        f"The fit used {fitting:.1f} s of its {budget:g} s budget "
        f"({_share(fitting, budget)}); {steps.get('spectral', 0)} L-BFGS evaluations on gains, "
        f"pans and EQ, {steps.get('dynamics', 0)} Adam steps on the compressors. It starts at "
        "equal loudness per stem, flat EQ and compressors off.")
    section.add_table(["phase", "seconds"],
                      [[name, _num(value, 2)] for name, value in seconds.items()],
                      numeric=[False, True], caption="Where the time went (render: the stems "
                      "headless; analysis: windows and cross-spectra; final: the matched mix).")
    if trace:
        section.add_figure(trace_figure(trace, budget),
                           "Every loss the optimisers evaluated, against the time since the fit "
                           "began. Spectral phases: the AF loss (plus a small pull towards the "
                           "start); compressor phase: its crest-factor loss. The dashed line is "
                           "the budget.", alt="loss trace")
    elif report.get("fit") == "start":
        section.add_text("Fit \"start\": nothing was optimised (equal loudness, a baseline).",
                         "note")


@report_style
def trace_figure(trace: Sequence[Mapping[str, Any]], budget_s: float) -> Figure:
    """Loss over time: one panel for the spectral phases, one for the compressors."""
    phases = list(dict.fromkeys(str(p["phase"]) for p in trace))
    spectral = [p for p in phases if p != "compressors"]
    panels = [spectral] + ([["compressors"]] if "compressors" in phases else [])
    figure = new_figure(3.0)
    grid = axes(figure, 1, len(panels))[0]
    for ax, names in zip(grid, panels):
        for name in names:
            points = [(float(p["seconds"]), float(p["loss"])) for p in trace
                      if p["phase"] == name and p.get("loss") is not None]
            if not points:
                continue
            times, losses = np.array(points).T
            ax.plot(times, np.maximum(losses, 1e-12), ".", markersize=2.5,
                    color=color(phases.index(name)), label=_PHASE_TEXT.get(name, name))
        if budget_s > 0:
            ax.axvline(budget_s, color="#444", linewidth=0.8, linestyle="--")
        ax.set_yscale("log")
        ax.set_xlabel("seconds since the fit began")
        ax.set_ylabel("loss")
        ax.set_title("compressors" if names == ["compressors"] else "gains, pans and EQ")
        ax.legend(loc="upper right", frameon=False)
        ax.grid(True, color="#e3e7eb", linewidth=0.6)
    return figure


# ------------------------------------------------------------------------------- per stem
def _stem_part(section: Section, stem: Mapping[str, Any], rate: float,
               compressor_input: np.ndarray | None) -> None:
    section.add_table(
        ["", "fader (dB)", "pan", "loudness pre-fader (LUFS)"],
        [["before", _num(stem.get("fader_before_db"), 1), _pan(stem.get("pan_before")),
          _num(stem.get("loudness_lufs"), 1)],
         ["after", _num(stem.get("fader_after_db"), 1), _pan(stem.get("pan_after")), ""]],
        numeric=[False, True, False, True],
        caption=f"fader {_signed(_move(stem))} dB, pan {_pan(stem.get('pan_before'))} → "
        f"{_pan(stem.get('pan_after'))}")
    bands = list(stem.get("eq", []))
    curves = {"after": eq_params(bands)}
    if stem.get("eq_before"):
        curves = {"before": eq_params(stem["eq_before"]), **curves}
    section.add_figure(multieq_figure(curves, rate, f"MultiEQ of {stem.get('name')}"),
                       "The magnitude response of the MultiEQ as written (and as it was, when "
                       "our plug-in was there before); dots mark the bands that are on.",
                       alt=f"MultiEQ of {stem.get('name')}")
    section.add_table(["band", "type", "on", "frequency", "Q", "gain (dB)"],
                      [[b.get("band"), b.get("kind"), "yes" if b.get("enabled") else "off",
                        hz_text(float(b.get("frequency_hz", 0.0))), _num(b.get("q"), 2),
                        _num(b.get("gain_db"), 1)] for b in bands],
                      numeric=[True, False, False, True, True, True])
    compressor = dict(stem.get("compressor") or {})
    engaged = float(compressor.get("ratio", 1.0)) > 1.0
    section.add_figure(
        compressor_figure(compressor, compressor_input if engaged else None,
                          rate if engaged else None, f"OmniCompressor of {stem.get('name')}"),
        "Static curve (input → output level, make-up included; dashed: 1:1)"
        + (", and the gain reduction over the song on this stem after its MultiEQ (deepest "
           "per display step, input peak in grey)" if engaged and compressor_input is not None
           else "") + ".", alt=f"OmniCompressor of {stem.get('name')}")
    if not engaged:
        section.add_text(f"{stem.get('name')}: the compressor stays at 1:1 (off): the "
                         "reference's crest factor did not ask for compression here.", "note")


def eq_params(bands: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """MultiEQ plain values from the report's bands (types from the console's band layout)."""
    types = {band.multieq_band: band.multieq_type for band in EQ_BANDS}
    params: dict[str, float] = {}
    for band in bands:
        b = int(band["band"]) - 1
        params.update({f"filterEnabled{b}": 1.0 if band.get("enabled") else 0.0,
                       f"filterFrequency{b}": float(band["frequency_hz"]),
                       f"filterQ{b}": float(band["q"]), f"filterGain{b}": float(band["gain_db"])})
        if b in types:
            params[f"filterType{b}"] = types[b]
    return params


# ------------------------------------------------------------------------------ numbers
def _stem_row(stem: Mapping[str, Any]) -> list[str]:
    before, after = stem.get("fader_before_db"), stem.get("fader_after_db")
    if stem.get("status") != "matched":
        return [str(stem.get("name")), _num(before, 1), "–", _pan(stem.get("pan_before")),
                f"untouched: {stem.get('status')}", ""]
    eq = ", ".join(f"{hz_text(float(b['frequency_hz']))} {float(b['gain_db']):+.1f}"
                   for b in stem.get("eq", []) if b.get("enabled")) or "flat"
    comp = stem.get("compressor") or {}
    text = (f"{float(comp['ratio']):.1f}:1 at {float(comp['threshold']):+.1f} dB"
            if float(comp.get("ratio", 1.0)) > 1.0 else "off (1:1)")
    return [str(stem.get("name")), f"{_num(before, 1)} → {_num(after, 1)}",
            _signed(_move(stem)), f"{_pan(stem.get('pan_before'))} → "
            f"{_pan(stem.get('pan_after'))}", eq, text]


def _move(stem: Mapping[str, Any]) -> float | None:
    before, after = stem.get("fader_before_db"), stem.get("fader_after_db")
    if before is None or after is None:
        return None
    return float(after) - float(before)


def _feature(features: Mapping[str, Any], mix: str, key: str, digits: int) -> str:
    value = (features.get(mix) or {}).get(key)
    return _num(_mean(value), digits)


def _pair(features: Mapping[str, Any], mix: str, key: str) -> str:
    value = (features.get(mix) or {}).get(key)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return _num(_mean(value), 1)
    return f"{_num(value[0], 1)} / {_num(value[1], 1)}"


def _mean(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        finite = [float(v) for v in value if v is not None]
        return float(np.mean(finite)) if finite else None
    return float(value)


def _scaled(value: Any, factor: float) -> float | None:
    mean = _mean(value)
    return None if mean is None else mean * factor


def _num(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value):.{digits}f}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f}"


def _pan(pan: Any) -> str:
    if pan is None:
        return "–"
    pan = float(pan)
    if abs(pan) < 0.005:
        return "C"
    return f"{abs(pan) * 100:.0f}{'L' if pan < 0 else 'R'}"


def _pct(amount: Any) -> str:
    return f"{float(amount if amount is not None else 1.0) * 100:g} %"


def _share(used: float, budget: float) -> str:
    return f"{100.0 * used / budget:.0f} %" if budget > 0 else "no budget given"


def _name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]

