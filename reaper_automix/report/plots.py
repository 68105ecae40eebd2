"""Plotting helpers for report sections (matplotlib, Agg canvas, no pyplot).

Two levels: ``draw_*`` functions draw onto a given matplotlib ``Axes`` (to compose a figure of
several panels), ``*_figure`` functions return a finished ``Figure`` for
:meth:`Section.add_figure <reaper_automix.report.document.Section.add_figure>`.

The IEM helpers take the plug-ins' plain parameter values (as written to the project, missing
ones at their defaults) and draw what the plug-in does with them, computed by the IEM layer:
MultiEQ's magnitude response (:func:`reaper_automix.iem.multieq.frequency_response`),
OmniCompressor's static curve and its gain reduction on actual audio
(:func:`~reaper_automix.iem.omnicompressor.static_curve`,
:func:`~reaper_automix.iem.omnicompressor.gain_reduction`) and FdnReverb's T60 against
frequency (:func:`~reaper_automix.iem.fdnreverb.decay_time`, iem.md 8.3).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from ..analysis.spectrum import Spectrum
from ..iem import fdnreverb, multieq, omnicompressor
from ..iem.params import FDNREVERB, MULTIEQ, OMNICOMPRESSOR

WIDTH_IN = 10.0
COLORS = ("#2462a8", "#d9822b", "#3a9a5b", "#b8403a", "#7d5ab5", "#8c6d46", "#c95fa8",
          "#6b7b8c", "#a8a832", "#2ba6b5")
BEFORE_COLOR = "#9aa5b1"
AFTER_COLOR = "#2462a8"
FREQUENCY_RANGE_HZ = (20.0, 20_000.0)
_RC = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
       "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False,
       "axes.spines.right": False}


def report_style(build: Callable[..., Figure]) -> Callable[..., Figure]:
    """Decorator for functions that build a figure: everything they create gets the report's
    style (font sizes, no top/right spines)."""
    @functools.wraps(build)
    def styled_build(*args: Any, **kwargs: Any) -> Figure:
        with matplotlib.rc_context(_RC):
            return build(*args, **kwargs)

    return styled_build


def new_figure(height_in: float, width_in: float = WIDTH_IN) -> Figure:
    """An empty white figure (constrained layout); build it inside :func:`report_style`."""
    return Figure(figsize=(width_in, height_in), layout="constrained", facecolor="white")


def axes(figure: Figure, rows: int = 1, cols: int = 1, **kwargs: Any) -> np.ndarray:
    """``figure.subplots`` as a 2-D array of axes."""
    return figure.subplots(rows, cols, squeeze=False, **kwargs)


def color(index: int) -> str:
    return COLORS[index % len(COLORS)]


# --------------------------------------------------------------------------- frequency axes
def frequency_axis(ax: Axes, low_hz: float = FREQUENCY_RANGE_HZ[0],
                   high_hz: float = FREQUENCY_RANGE_HZ[1]) -> None:
    """A log-frequency x axis labelled 20, 50, 100, … 10k, 20k."""
    ax.set_xscale("log")
    ax.set_xlim(low_hz, high_hz)
    ticks = [t for t in (20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000)
             if low_hz <= t <= high_hz]
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: hz_text(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("frequency (Hz)")
    ax.grid(True, which="major", color="#e3e7eb", linewidth=0.6)


def hz_text(value: float) -> str:
    """20, 500, 1k, 2.5k, 12k."""
    if value >= 1000:
        text = f"{value / 1000:.1f}".rstrip("0").rstrip(".")
        return f"{text}k"
    return f"{value:.0f}"


def draw_spectrum(ax: Axes, spectrum: Spectrum, label: str, *, index: int = 0,
                  normalise: bool = False, **line: Any) -> None:
    """One long-term spectrum (dB) on a log-frequency axis; ``normalise`` puts its maximum
    at 0 dB (to compare shapes, not levels)."""
    level = spectrum.level_db - (spectrum.level_db.max() if normalise else 0.0)
    ax.plot(spectrum.frequencies_hz, level, label=label, color=line.pop("color", color(index)),
            linewidth=line.pop("linewidth", 1.3), **line)


@report_style
def spectra_figure(spectra: Mapping[str, Spectrum], title: str, *, normalise: bool = False,
                   range_db: float = 70.0) -> Figure:
    """Several spectra on one log-frequency axis (e.g. mix and reference, vocal and backing)."""
    figure = new_figure(3.4)
    ax = axes(figure)[0, 0]
    top = -np.inf
    for index, (label, spectrum) in enumerate(spectra.items()):
        draw_spectrum(ax, spectrum, label, index=index, normalise=normalise)
        top = max(top, 0.0 if normalise else float(spectrum.level_db.max()))
    frequency_axis(ax)
    if np.isfinite(top):
        ax.set_ylim(top - range_db, top + 5.0)
    ax.set_ylabel("level (dB, relative)" if normalise else "level (dBFS)")
    ax.set_title(title)
    ax.legend(loc="lower left", frameon=False)
    return figure


@report_style
def band_levels_figure(centres_hz: Sequence[float], levels: Mapping[str, Sequence[float]],
                       title: str, *, unit: str = "dB") -> Figure:
    """Levels per frequency band (e.g. Bark bands) for several signals, as stepped lines."""
    figure = new_figure(3.4)
    ax = axes(figure)[0, 0]
    centres = np.asarray(centres_hz, np.float64)
    for index, (label, values) in enumerate(levels.items()):
        ax.plot(centres, np.asarray(values, np.float64), drawstyle="steps-mid", label=label,
                color=color(index), linewidth=1.3)
    frequency_axis(ax, min(FREQUENCY_RANGE_HZ[0], centres.min()),
                   max(FREQUENCY_RANGE_HZ[1], centres.max()))
    ax.set_ylabel(unit)
    ax.set_title(title)
    ax.legend(loc="lower left", frameon=False)
    return figure


# ---------------------------------------------------------------------------------- bars
@report_style
def paired_bars_figure(labels: Sequence[str], series: Mapping[str, Sequence[float | None]],
                       title: str, *, unit: str = "dB") -> Figure:
    """Grouped horizontal bars: one group per label, one bar per series (e.g. "before" and
    "after" feature distances, or mix vs reference loudness, crest factor, width). None values
    are left out."""
    count = len(series)
    figure = new_figure(0.9 + 0.28 * len(labels) * max(count, 1))
    ax = axes(figure)[0, 0]
    height = 0.8 / max(count, 1)
    rows = np.arange(len(labels))
    for index, (name, values) in enumerate(series.items()):
        widths = np.array([np.nan if v is None else float(v) for v in values])
        y = rows - 0.4 + height * (index + 0.5)
        fill = BEFORE_COLOR if name.lower() == "before" else color(index)
        ax.barh(y, np.nan_to_num(widths), height=height * 0.9, color=fill, label=name)
        for row, value in zip(y, widths):
            if np.isfinite(value):
                ax.annotate(f"{value:.2f}", (value, row), xytext=(3 if value >= 0 else -3, 0),
                            textcoords="offset points", va="center", fontsize=7,
                            ha="left" if value >= 0 else "right")
    ax.set_yticks(rows, labels)
    ax.invert_yaxis()
    ax.axvline(0.0, color="#444", linewidth=0.8)
    ax.set_xlabel(unit)
    ax.set_title(title)
    ax.margins(x=0.15)
    ax.legend(loc="best", frameon=False)
    return figure


# ---------------------------------------------------------------------------- IEM MultiEQ
def draw_multieq(ax: Axes, params: Mapping[str, float], sample_rate: float, label: str = "",
                 *, index: int = 0) -> None:
    """MultiEQ's magnitude response with a dot at each enabled band's frequency."""
    frequencies = np.geomspace(*FREQUENCY_RANGE_HZ, 400)
    response = multieq.frequency_response(params, frequencies, sample_rate)
    ax.plot(frequencies, response, color=color(index), linewidth=1.4, label=label or None)
    values = MULTIEQ.complete(params)
    dots = [values[f"filterFrequency{b}"] for b in range(6) if values[f"filterEnabled{b}"] > 0.5]
    if dots:
        at = multieq.frequency_response(params, np.asarray(dots, np.float64), sample_rate)
        ax.plot(dots, at, "o", color=color(index), markersize=3.5)
    ax.axhline(0.0, color="#444", linewidth=0.6)


@report_style
def multieq_figure(curves: Mapping[str, Mapping[str, float]], sample_rate: float,
                   title: str = "MultiEQ magnitude response") -> Figure:
    """One MultiEQ response per entry (label → parameters), on one axis."""
    figure = new_figure(3.2)
    ax = axes(figure)[0, 0]
    lowest, highest = -6.0, 6.0
    for index, (label, params) in enumerate(curves.items()):
        draw_multieq(ax, params, sample_rate, label, index=index)
        response = multieq.frequency_response(params, np.geomspace(40, 16_000, 200), sample_rate)
        lowest, highest = min(lowest, response.min()), max(highest, response.max())
    frequency_axis(ax)
    ax.set_ylim(max(lowest - 3.0, -40.0), min(highest + 3.0, 20.0))
    ax.set_ylabel("gain (dB)")
    ax.set_title(title)
    if len(curves) > 1 or any(curves):
        ax.legend(loc="lower right", frameon=False)
    return figure


# ---------------------------------------------------------------------- IEM OmniCompressor
def draw_compressor_curve(ax: Axes, params: Mapping[str, float], label: str = "",
                          *, index: int = 0, low_db: float = -60.0) -> None:
    """Input level → output level (dB) of OmniCompressor's static curve, with make-up, the
    1:1 line and the threshold."""
    levels = np.linspace(low_db, 0.0, 241)
    ax.plot(levels, levels, color="#9aa5b1", linewidth=0.8, linestyle="--")
    ax.plot(levels, omnicompressor.static_curve(params, levels), color=color(index),
            linewidth=1.5, label=label or None)
    values = OMNICOMPRESSOR.complete(params)
    ax.axvline(values["threshold"], color=color(index), linewidth=0.6, linestyle=":")
    ax.set_xlim(low_db, 0.0)
    ax.set_ylim(low_db, max(0.0, values["outGain"]) + 3.0)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("input level (dBFS, channel 0)")
    ax.set_ylabel("output level (dBFS)")
    ax.grid(True, color="#e3e7eb", linewidth=0.6)


def draw_gain_reduction(ax: Axes, params: Mapping[str, float], audio: np.ndarray,
                        sample_rate: float, *, index: int = 0, points: int = 1200) -> None:
    """OmniCompressor's gain reduction (dB) over time on ``audio``, computed by the emulation,
    with the input level (peak per display step) on a second axis."""
    signal = np.asarray(audio, np.float32).reshape(len(audio), -1)
    reduction = omnicompressor.gain_reduction(params, signal, sample_rate)
    step = max(1, reduction.size // points)
    usable = reduction.size // step * step
    deepest = reduction[:usable].reshape(-1, step).min(axis=1)
    peak = np.abs(signal[:usable, 0]).reshape(-1, step).max(axis=1)
    times = (np.arange(deepest.size) + 0.5) * step / sample_rate
    level = ax.twinx()
    with np.errstate(divide="ignore"):
        level.fill_between(times, np.maximum(20 * np.log10(peak), -60.0), -60.0,
                           color="#d5dae0", linewidth=0)
    level.set_ylim(-60.0, 0.0)
    level.set_ylabel("input peak (dBFS)", color="#7b8590")
    level.spines["right"].set_visible(True)
    ax.set_zorder(level.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot(times, deepest, color=color(index), linewidth=1.0)
    ax.set_ylim(min(float(deepest.min()) - 1.0, -3.0), 0.5)
    ax.set_xlim(0.0, max(float(times[-1]) if times.size else 1.0, 1e-3))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("gain reduction (dB)")
    ax.grid(True, color="#e3e7eb", linewidth=0.6)


@report_style
def compressor_figure(params: Mapping[str, float], audio: np.ndarray | None = None,
                      sample_rate: float | None = None,
                      title: str = "OmniCompressor") -> Figure:
    """The static curve and, given the audio the compressor sees, its gain reduction over
    time (deepest reduction per display step)."""
    with_audio = audio is not None and sample_rate is not None and len(audio) > 0
    figure = new_figure(3.2)
    panels = axes(figure, 1, 2 if with_audio else 1,
                  width_ratios=[1, 2.6] if with_audio else None)[0]
    draw_compressor_curve(panels[0], params)
    panels[0].set_title("static curve")
    if with_audio:
        draw_gain_reduction(panels[1], params, audio, float(sample_rate))
        panels[1].set_title("gain reduction on this track")
    figure.suptitle(f"{title}: {compressor_summary(params)}", fontsize=10)
    return figure


def compressor_summary(params: Mapping[str, float]) -> str:
    values = OMNICOMPRESSOR.complete(params)
    ratio = "∞" if values["ratio"] > 15.9 else f"{values['ratio']:.1f}"
    return (f"threshold {values['threshold']:.1f} dB, ratio {ratio}:1, knee "
            f"{values['knee']:.1f} dB, attack {values['attack']:.1f} ms, release "
            f"{values['release']:.1f} ms, make-up {values['outGain']:+.1f} dB")


# ------------------------------------------------------------------------ IEM FdnReverb
def draw_reverb_decay(ax: Axes, params: Mapping[str, float], sample_rate: float,
                      label: str = "", *, index: int = 0, fresh_instance: bool = True) -> None:
    """FdnReverb's T60 against frequency, as the plug-in computes it (iem.md 8.3)."""
    frequencies = np.geomspace(*FREQUENCY_RANGE_HZ, 300)
    t60 = fdnreverb.decay_time(params, frequencies, sample_rate, fresh_instance=fresh_instance)
    ax.plot(frequencies, np.where(np.isfinite(t60), t60, np.nan), color=color(index),
            linewidth=1.5, label=label or None)
    frequency_axis(ax)
    ax.set_ylim(0.0, max(1.0, float(np.nanmax(np.where(np.isfinite(t60), t60, np.nan))) * 1.15))
    ax.set_ylabel("T60 (s)")


@report_style
def reverb_figure(params: Mapping[str, float], sample_rate: float,
                  title: str = "FdnReverb decay time", *, fresh_instance: bool = True) -> Figure:
    figure = new_figure(3.0)
    ax = axes(figure)[0, 0]
    draw_reverb_decay(ax, params, sample_rate, fresh_instance=fresh_instance)
    values = FDNREVERB.complete(params)
    t60 = fdnreverb.effective_t60(values["revTime"], fresh_instance=fresh_instance)
    ax.set_title(f"{title}: reverberation time {t60:.1f} s, room size "
                 f"{values['delayLength']:.0f}, dry/wet {values['dryWet']:.2f}")
    return figure
