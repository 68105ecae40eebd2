"""The Mix lead vocal section of the report, built from the job's JSON report.

What was decided and by which method; the vocal's level against the backing before and after
with the target and what mixes do (MUSDB18's p10–p90); its loudness range before and after;
the vocal and backing spectra; what each plug-in does with the values written (MultiEQ's
response against the DiffVox presets' EQ, OmniCompressor's static curve and its gain reduction
on this vocal, FdnReverb's decay time); where the chain sits among the DiffVox presets; and
every parameter written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from ..decisions.vocal_prior import (
    DESCRIPTOR_CENTRES_HZ,
    LEVEL_MEDIAN_LU,
    LEVEL_P10_LU,
    LEVEL_P90_LU,
    load_prior,
)
from ..iem import fdnreverb, multieq
from ..session import Project
from . import Published, publish
from .document import Section
from .plots import (
    AFTER_COLOR,
    BEFORE_COLOR,
    axes,
    compressor_figure,
    compressor_summary,
    draw_multieq,
    draw_spectrum,
    frequency_axis,
    hz_text,
    new_figure,
    reverb_figure,
)
from .plots import color as series_color
from .plots import report_style

if TYPE_CHECKING:
    from ..jobs.vocal import VocalPlots

TITLE = "Mix lead vocal"
METHOD_TEXT = {
    "prior": "fitted to this song under the DiffVox prior (455 lead-vocal chains engineers "
             "used): the prior's mean chain mapped to the IEM plug-ins, then adjusted for "
             "masking against the backing, the vocal's loudness range and its level, with a "
             "penalty that keeps the settings likely under the prior",
    "rules": "Li & Lerch's rule-based baseline: masking-reduction EQ, the iterative "
             "compression search for a loudness range under 16.36 LU, a reverb time from the "
             "tempo, and a fixed level against the backing",
    "cnn": "Li & Lerch's four networks (level, compression, EQ, reverb), trained by us on "
           "generated songs (docs/vocal-cnn.md)",
}


def publish_vocal(
    report: Mapping[str, Any],
    plots: VocalPlots | None,
    *,
    html: str | Path | None,
    preview_dir: str | Path | None,
    project: str,
    before: Project | None,
    after: Project,
    skip_missing: bool = False,
    render: Mapping[str, Any] | None = None,
) -> Published:
    """Write the page and previews of one vocal run (see :func:`reaper_automix.report.publish`)."""
    name = Path(project).name if project else "project"
    return publish(lambda: [vocal_section(report, plots)], html=html, preview_dir=preview_dir,
                   title=f"AutoMix: {TITLE} — {name}", project=project, before=before,
                   after=after, data=report, skip_missing=skip_missing, render=render)


def vocal_section(report: Mapping[str, Any], plots: VocalPlots | None = None) -> Section:
    """The section for one vocal report (``VocalReport.to_json()``); ``plots`` adds the
    spectra, the compressor's gain reduction on the vocal and the DiffVox comparison."""
    section = Section(TITLE)
    method = str(report.get("method", ""))
    rate = float((report.get("decision") or {}).get("sample_rate") or 48000)
    params = plugin_values(report)
    amount = float(report.get("amount", 1.0))
    section.add_text(
        f"Lead vocal {report.get('vocal')} ({report.get('vocal_chosen_by')}), against "
        f"{', '.join(report.get('backing', [])) or 'the backing'}. Method {method}: "
        f"{METHOD_TEXT.get(method, method)}."
        + (f" Amount {amount * 100:.0f} %: every setting moved that far from transparent and "
           "the fader that far from where it was." if amount < 1.0 else "")
        + " Written: the tagged MultiEQ → OmniCompressor → FdnReverb"
        + (" (the reverb on a return track fed by a post-fader send)"
           if report.get("reverb") == "send" else " (the reverb as an insert with dry/wet)")
        + " and the vocal's fader; nothing else changes, and undo restores it in one step.")
    for warning in report.get("warnings", []):
        section.add_text(str(warning), "warning")
    _levels(section, report)
    if plots is not None and plots.spectra:
        section.add_figure(spectra_figure(plots.spectra),
                           "Long-term spectra (1/6-octave smoothing) as they reach the master: "
                           "the vocal before (grey) and after (blue), and the backing.",
                           alt="vocal and backing spectra")
    _eq(section.subsection("EQ (MultiEQ)"), params.get("MultiEQ"), rate)
    _compressor(section.subsection("Compression (OmniCompressor)"), report,
                params.get("OmniCompressor"), plots)
    _reverb(section.subsection("Reverb (FdnReverb)"), report, params.get("FdnReverb"), rate)
    if plots is not None and plots.diffvox:
        _diffvox(section.subsection("Against the DiffVox presets"), plots.diffvox)
    _written(section.subsection("Every parameter written"), report)
    for note in report.get("notes", []):
        section.add_text(str(note), "note")
    return section


def plugin_values(report: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Plug-in name → {parameter id: plain value} as written."""
    return {str(p["plugin"]): {str(q["id"]): float(q["value"]) for q in p.get("params", [])}
            for p in report.get("plugins", [])}


# --------------------------------------------------------------------------------- levels
def _levels(section: Section, report: Mapping[str, Any]) -> None:
    before, after = report.get("level_before_lu"), report.get("level_after_lu")
    target = report.get("level_target_lu")
    section.add_figure(level_figure(report),
                       "Left: the vocal's loudness minus the backing's (BS.1770-4 integrated), "
                       "before and after, the method's target (line) and what released mixes "
                       f"do (shaded: MUSDB18 p10–p90, {LEVEL_P10_LU:+.1f} to "
                       f"{LEVEL_P90_LU:+.1f} LU; median {LEVEL_MEDIAN_LU:+.1f} LU). Right: the "
                       "vocal's loudness range (EBU Tech 3342) before and after.",
                       alt="vocal level against the backing")
    section.add_table(
        ["", "before", "after", "target"],
        [["vocal − backing", _lu(before), _lu(after), _lu(target)],
         ["loudness range", _lu(report.get("lra_before_lu"), signed=False),
          _lu(report.get("lra_after_lu"), signed=False), ""],
         ["vocal fader", _db(report.get("fader_before_db")), _db(report.get("fader_after_db")),
          ""]],
        numeric=[False, True, True, True],
        caption=f"Level target: {report.get('level_target_source')}.")
    if after is not None and not LEVEL_P10_LU <= float(after) <= LEVEL_P90_LU:
        side = "above" if float(after) > LEVEL_P90_LU else "below"
        section.add_text(
            f"The vocal now sits {side} what 80 % of released mixes do ({LEVEL_P10_LU:+.1f} "
            f"to {LEVEL_P90_LU:+.1f} LU against the backing). That is the {report.get('method')} "
            "method's choice; the prior method (the default) lands inside that range, or move "
            "the vocal's fader.", "note")


@report_style
def level_figure(report: Mapping[str, Any]) -> Figure:
    """Vocal minus backing before/after with target and MUSDB18 range; LRA before/after."""
    figure = new_figure(2.2)
    level, lra = axes(figure, 1, 2, width_ratios=[2.2, 1.0])[0]
    rows = ("before", "after")
    values = [_finite(report.get("level_before_lu")), _finite(report.get("level_after_lu"))]
    level.axvspan(LEVEL_P10_LU, LEVEL_P90_LU, color="#e7ecf2", zorder=0,
                  label="MUSDB18 p10–p90")
    level.axvline(LEVEL_MEDIAN_LU, color="#9aa5b1", linewidth=0.8, linestyle=":")
    shown = [v for v in values if v is not None] + [LEVEL_P10_LU, LEVEL_P90_LU]
    target = _finite(report.get("level_target_lu"))
    if target is not None:
        level.axvline(target, color="#b8403a", linewidth=1.2, label=f"target {target:+.1f} LU")
        shown.append(target)
    for row, value, colour in zip(range(2), values, (BEFORE_COLOR, AFTER_COLOR)):
        if value is not None:
            level.plot([value], [row], "o", color=colour, markersize=8)
            level.annotate(f"{value:+.1f} LU", (value, row), xytext=(8, -3),
                           textcoords="offset points", fontsize=8)
    level.set_xlim(min(shown) - 2.0, max(shown) + 2.5)
    level.set_yticks(range(2), rows)
    level.set_ylim(1.6, -0.6)
    level.set_xlabel("vocal − backing (LU)")
    level.legend(loc="lower right", frameon=False, fontsize=7)
    level.set_title("level against the backing")
    spans = [_finite(report.get("lra_before_lu")), _finite(report.get("lra_after_lu"))]
    lra.barh(range(2), [v or 0.0 for v in spans], color=[BEFORE_COLOR, AFTER_COLOR],
             height=0.55)
    for row, value in enumerate(spans):
        if value is not None:
            lra.annotate(f"{value:.1f} LU", (value, row), xytext=(4, -3),
                         textcoords="offset points", fontsize=8)
    lra.set_yticks(range(2), rows)
    lra.set_ylim(1.6, -0.6)
    lra.set_xlim(0.0, max([v or 0.0 for v in spans] + [1.0]) * 1.35)
    lra.set_xlabel("loudness range (LU)")
    lra.set_title("loudness range")
    return figure


@report_style
def spectra_figure(spectra: Mapping[str, Any], range_db: float = 70.0) -> Figure:
    """The vocal before/after and the backing, at the levels they reach the master."""
    figure = new_figure(3.2)
    ax = axes(figure)[0, 0]
    colours = {"vocal before": BEFORE_COLOR, "vocal after": AFTER_COLOR,
               "backing": series_color(1)}
    top = -np.inf
    for index, (label, spectrum) in enumerate(spectra.items()):
        draw_spectrum(ax, spectrum, label, index=index, color=colours.get(label),
                      linewidth=1.6 if label == "vocal after" else 1.2)
        top = max(top, float(spectrum.level_db.max()))
    frequency_axis(ax)
    if np.isfinite(top):
        ax.set_ylim(top - range_db, top + 5.0)
    ax.set_ylabel("level (dBFS)")
    ax.set_title("vocal and backing")
    ax.legend(loc="best", frameon=True, framealpha=0.9, edgecolor="none")
    return figure


# ------------------------------------------------------------------------------- plug-ins
def _eq(section: Section, params: Mapping[str, float] | None, rate: float) -> None:
    if params is None:
        section.add_text("No MultiEQ was written.", "note")
        return
    section.add_figure(eq_figure(params, rate),
                       "MultiEQ's magnitude response from the values written (dots: the "
                       "enabled bands), over the DiffVox presets' EQ gain at the octave "
                       "centres (bars: p10–p90 of the 455 presets, tick: median).",
                       alt="MultiEQ response")
    bands = [f"{hz_text(params[f'filterFrequency{b}'])} Hz {params[f'filterGain{b}']:+.1f} dB"
             for b in range(1, 5) if params.get(f"filterEnabled{b}", 0.0) > 0.5
             and abs(params.get(f"filterGain{b}", 0.0)) >= 0.05]
    if bands:
        section.add_text("Bands 2–5: " + ", ".join(bands) + ".")


@report_style
def eq_figure(params: Mapping[str, float], rate: float) -> Figure:
    figure = new_figure(3.2)
    ax = axes(figure)[0, 0]
    ranges = load_prior().percentiles["descriptors"]
    centres = [fc for fc in DESCRIPTOR_CENTRES_HZ if fc < 0.45 * rate]
    low = [ranges[f"eq_{fc:g}hz_db"][0] for fc in centres]
    mid = [ranges[f"eq_{fc:g}hz_db"][1] for fc in centres]
    high = [ranges[f"eq_{fc:g}hz_db"][2] for fc in centres]
    ax.vlines(centres, low, high, color="#c7cfd8", linewidth=6, label="DiffVox presets p10–p90")
    ax.plot(centres, mid, "_", color="#7b8590", markersize=10)
    draw_multieq(ax, params, rate, "MultiEQ as written")
    frequency_axis(ax)
    written = multieq.frequency_response(params, np.geomspace(40, 16_000, 200), rate)
    shown = [*low, *high, float(written.min()), float(written.max()), -6.0, 6.0]
    ax.set_ylim(max(min(shown) - 3.0, -40.0), min(max(shown) + 3.0, 20.0))
    ax.set_ylabel("gain (dB)")
    ax.set_title("MultiEQ magnitude response")
    ax.legend(loc="lower right", frameon=False)
    return figure


def _compressor(section: Section, report: Mapping[str, Any], params: Mapping[str, float] | None,
                plots: VocalPlots | None) -> None:
    if params is None:
        section.add_text("No OmniCompressor was written.", "note")
        return
    audio = plots.compressor_input if plots is not None else None
    section.add_figure(
        compressor_figure(params, audio, plots.sample_rate if plots is not None else None,
                          title="OmniCompressor"),
        "Left: the static curve (input level → output level, make-up included; dashed: 1:1, "
        "dotted: the threshold)."
        + (" Right: the gain reduction on this vocal after the EQ, computed by the emulation "
           "(deepest reduction per display step; grey: the input's peak level)."
           if audio is not None else ""),
        alt="OmniCompressor static curve and gain reduction")
    section.add_text(f"Loudness range {_lu(report.get('lra_before_lu'), signed=False)} → "
                     f"{_lu(report.get('lra_after_lu'), signed=False)} with "
                     f"{compressor_summary(params)}.")


def _reverb(section: Section, report: Mapping[str, Any], params: Mapping[str, float] | None,
            rate: float) -> None:
    if params is None:
        section.add_text("No FdnReverb was written.", "note")
        return
    section.add_figure(reverb_figure(params, rate),
                       "FdnReverb's decay time (T60) against frequency, as the plug-in's own "
                       "display computes it from the values written.", alt="FdnReverb decay")
    t60 = fdnreverb.decay_time(params, np.array([500.0, 1000.0, 2000.0]), rate)
    send = report.get("send") or {}
    tempo = report.get("tempo_bpm")
    where = (f"on the return track {send.get('track')}, fed by a post-fader send at "
             f"{_db(send.get('volume_db'))}" if report.get("reverb") == "send" and send
             else f"as an insert, dry/wet {params.get('dryWet', 0.0):.2f}")
    section.add_text(
        f"Reverberation time {_seconds(t60[1])} at 1 kHz ({_seconds(t60[0])} at 500 Hz, "
        f"{_seconds(t60[2])} at 2 kHz), {where}."
        + (f" Tempo {tempo:.0f} BPM ({report.get('tempo_source')})." if tempo else ""))


# -------------------------------------------------------------------------------- DiffVox
DESCRIPTOR_TEXT = {
    "threshold_re18_db": ("threshold re −18 LUFS input", "dB", lambda v: v),
    "log_ratio": ("ratio", ":1", math.exp),
    "log_attack_ms": ("attack", "ms", math.exp),
    "log_release_ms": ("release", "ms", math.exp),
    "log_t60_s": ("T60 400 Hz–4 kHz", "s", math.exp),
    "reverb_to_direct_db": ("reverb to direct", "dB", lambda v: v),
}


def _diffvox(section: Section, diffvox: Mapping[str, Any]) -> None:
    rows = []
    for row in diffvox.get("descriptors", []):
        name, unit, convert = _descriptor(str(row["name"]))
        rows.append([name, *(f"{convert(float(row[k])):.3g} {unit}".strip()
                              for k in ("value", "p10", "p50", "p90")),
                     "yes" if row["inside"] else "no"])
    share = float(diffvox.get("inside_share", 0.0))
    section.add_text(
        f"{share * 100:.0f} % of the chain's layout-free descriptors lie inside the 10–90 % "
        f"range of the {diffvox.get('presets')} DiffVox presets; its log-likelihood under the "
        f"presets' Gaussian is {float(diffvox.get('log_likelihood', 0.0)):.1f} (a typical "
        f"preset scores {float(diffvox.get('preset_log_likelihood', 0.0)):.1f}; lower is less "
        "like what engineers use). The mapping from DiffVox's chain to the IEM plug-ins and "
        "what it cannot carry over is in docs/vocal.md.")
    section.add_table(["descriptor", "this chain", "p10", "median", "p90", "inside"], rows,
                      numeric=[False, True, True, True, True, False],
                      caption="EQ: the MultiEQ response at the octave centres; compressor "
                      "threshold relative to the vocal normalised to −18 LUFS, as DiffVox "
                      "normalises its input.")


def _descriptor(name: str) -> tuple[str, str, Any]:
    if name.startswith("eq_"):
        return f"EQ at {hz_text(float(name[3:].split('hz')[0]))} Hz", "dB", lambda v: v
    return DESCRIPTOR_TEXT.get(name, (name, "", lambda v: v))


# -------------------------------------------------------------------------------- written
def _written(section: Section, report: Mapping[str, Any]) -> None:
    for plugin in report.get("plugins", []):
        values = list(plugin.get("params", []))
        caption = (f"{plugin.get('plugin')} \"{plugin.get('tag')}\" on "
                   f"{plugin.get('track')}")
        if plugin.get("plugin") == "MultiEQ":
            by_id = {p["id"]: p for p in values}
            rows = [[str(b + 1), *(_text(by_id.get(f"{key}{b}"))
                                   for key in ("filterEnabled", "filterType", "filterFrequency",
                                               "filterQ", "filterGain"))] for b in range(6)]
            section.add_table(["band", "on", "type", "frequency", "Q", "gain"], rows,
                              numeric=[False, False, False, True, True, True], caption=caption)
            continue
        section.add_table(["parameter", "value"], [[p["name"], _text(p)] for p in values],
                          numeric=[False, True], caption=caption)
    send = report.get("send")
    if send:
        section.add_text(f"Send {report.get('vocal')} → {send.get('track')}: "
                         f"{_db(send.get('volume_db'))} "
                         f"({send.get('mode') or send.get('note')}).")


def _text(param: Mapping[str, Any] | None) -> str:
    if param is None:
        return "–"
    return f"{param.get('text')} {param.get('unit') or ''}".strip()


# ------------------------------------------------------------------------------- numbers
def _finite(value: Any) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


def _lu(value: Any, *, signed: bool = True) -> str:
    value = _finite(value)
    if value is None:
        return "–"
    return f"{value:+.1f} LU" if signed else f"{value:.1f} LU"


def _db(value: Any) -> str:
    if value is None:
        return "-inf dB"  # the JSON writes -inf (a fader or send turned off) as null
    return f"{float(value):+.1f} dB"


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if math.isfinite(value) else "infinite"

