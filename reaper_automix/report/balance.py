"""The Auto balance group section of the report, built from the job's JSON report.

Per folder: one figure with a row per child (its long-term spectrum and characteristic band on a
log-frequency axis, its CFB loudness at the fader before and after, its fader move), a table of
the numbers — with method ``role`` each child's role, where it came from and the offset it gives —
the reasons for children left alone, and the folder's outcome under the level rule (``keep``: its
loudness before and after and any make-up on the folder fader; ``peak``: what to do when the
+12 dB fader top lowered the whole folder).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..analysis.spectrum import Spectrum, SpectrumRecorder
from ..session import FADER_MAX_DB, Project
from . import Published, publish
from .document import Section
from .plots import (
    AFTER_COLOR,
    BEFORE_COLOR,
    axes,
    frequency_axis,
    hz_text,
    new_figure,
    report_style,
)

TITLE = "Auto balance group"
METHOD_TEXT = {
    "centroid": "its characteristic frequency band (spectral centroid ± half the spectral "
                "bandwidth, over the track's active frames)",
    "f0": "its characteristic frequency band (2·f0 to 4·f0, f0 from PESTO pitch tracking)",
    "lufs": "the full band (plain BS.1770-4 integrated loudness)",
    "role": "its characteristic frequency band (spectral centroid ± half the spectral "
            "bandwidth, over the track's active frames)",
}
LEVEL_TEXT = {
    "keep": "The folder keeps its level: the balanced children sum to the integrated loudness "
            "they had before at their faders (lowered only where that sum would peak above "
            "-0.1 dBFS), so the mix's level and the balance between folders stay yours.",
    "peak": "Level rule peak (the paper's): the balanced children's sum peaks at -0.1 dBFS.",
}
#: How the report names where a role came from (``role_source`` in the JSON).
SOURCE_TEXT = {"user": "engineer", "name": "track name", "audio": "audio classifier",
               "default": "default"}
_TOP_TOLERANCE_DB = 0.005


def publish_balance(
    report: Mapping[str, Any],
    spectra: SpectrumRecorder | None,
    *,
    html: str | Path | None,
    preview_dir: str | Path | None,
    project: str,
    before: Project | None,
    after: Project,
    skip_missing: bool = False,
    render: Mapping[str, Any] | None = None,
) -> Published:
    """Write the page and previews of one balance run (see :func:`reaper_automix.report.publish`)."""
    name = Path(project).name if project else "project"
    return publish(lambda: [balance_section(report, spectra.spectra if spectra else None)],
                   html=html, preview_dir=preview_dir, title=f"AutoMix: {TITLE} — {name}",
                   project=project, before=before, after=after, data=report,
                   skip_missing=skip_missing, render=render)


def balance_section(report: Mapping[str, Any],
                    spectra: Mapping[str, Spectrum] | None = None) -> Section:
    """The section for one balance report (``BalanceReport.to_json()``); ``spectra`` are the
    children's long-term spectra by track GUID (drawn behind their bands when given)."""
    section = Section(TITLE)
    method = str(report.get("method", ""))
    groups = list(report.get("groups", []))
    aim = ("come out at its role's offset from the folder's common level (a role's usual "
           "level in human mixes: hats under the kick, backing vocals under the lead vocal; the "
           "role comes from "
           "the engineer, else the track's name, else the audio classifier)"
           if method == "role" else "come out equal")
    level = str(report.get("level") or "peak")  # reports without a level came from the peak rule
    section.add_text(
        f"Each child track of a folder was measured in {METHOD_TEXT.get(method, method)}, "
        f"pre-fader, and its fader set so that this loudness would {aim} (Shi et al., AES "
        "2025); a child folder counts as one track. Faders are the only thing written (the "
        "children's, and the folder's where it makes up for lowering them): undo restores them "
        "in one step.")
    section.add_text(LEVEL_TEXT.get(level, f"Level rule {level}."))
    if method == "role":
        table = report.get("role_offsets") or "shipped"
        section.add_text(f"Role offsets: the {table} table" + (
            " (derived from human-set balances, see docs/balance.md)." if table == "shipped"
            else "."))
    for line in report.get("summary", []):
        section.add_text(str(line))
    for warning in report.get("warnings", []):
        section.add_text(str(warning), "warning")
    section.add_table(
        ["folder", "balanced", "left alone", "faders moved", "common level", "children before",
         "after", "level shift"],
        [_group_summary(g) for g in groups],
        numeric=[False, *[True] * 7],
        caption=f"{len(groups)} folder(s), method {method}, level {level}; children before/after: "
                "the integrated loudness of the folder's children summed at their faders (after: "
                "through the folder fader's make-up, if any)")
    for group in groups:
        _group_section(section.subsection(str(group.get("name"))), group, spectra or {})
    return section


def _group_summary(group: Mapping[str, Any]) -> list[str]:
    tracks = group.get("tracks", [])
    moved = sum(1 for t in tracks if _move(t) not in (None, 0.0))
    active = sum(1 for t in tracks if t.get("active"))
    return [str(group.get("name")), str(active), str(len(tracks) - active), str(moved),
            _db(_common_level(group), " LUFS"), _db(group.get("loudness_before_lufs"), " LUFS"),
            _db(_after(group), " LUFS"),
            _db(group.get("level_shift_db") or 0.0, " dB")]


def _group_section(section: Section, group: Mapping[str, Any],
                   spectra: Mapping[str, Spectrum]) -> None:
    tracks = list(group.get("tracks", []))
    if not tracks:
        section.add_text("This folder has no child tracks.", "note")
        return
    section.add_figure(group_figure(group, spectra),
                       "Left: each child's long-term spectrum (normalised to its peak) with its "
                       "characteristic band shaded. Middle: the band loudness at the fader, "
                       "before (grey) and after (blue). Right: how far each fader moved.",
                       alt=f"balance of {group.get('name')}")
    has_role = any(t.get("role") for t in tracks)
    role_columns = ["role", "from", "offset"] if has_role else []
    columns = ["track", *role_columns, "band (Hz)", "CFB loudness",
               "at fader: before", "after", "fader: before", "after", "move"]
    rows = [[t.get("name"), *(_role_cells(t) if has_role else []),
             _band(t.get("band_hz")) if t.get("active") else "–",
             _db(t.get("loudness_db"), " LUFS"), _db(_at_fader(t, "volume_before_db"), " LUFS"),
             _db(_at_fader(t, "volume_after_db"), " LUFS"), _db(t.get("volume_before_db"), " dB"),
             _db(t.get("volume_after_db"), " dB"), _db(_move(t), " dB")] for t in tracks]
    section.add_table(columns, rows, numeric=[False, *([False, False, True] if has_role else []),
                                              False] + [True] * 6,
                      caption="CFB loudness is measured pre-fader; at the fader it is the CFB "
                      "loudness plus the fader." + (" Offset: the target relative to the "
                      "folder's common level that the role gives (for the audio classifier, "
                      "the mean over its roles weighted by their probabilities)."
                      if has_role else ""))
    for track in tracks:
        if not track.get("active"):
            section.add_text(f"{track.get('name')} was left alone: "
                             f"{track.get('reason') or 'not measured'}.", "note")
        else:
            for remark in (track.get("reason"), track.get("note")):
                if remark:
                    section.add_text(f"{track.get('name')}: {remark}.", "note")
    if group.get("level") == "keep" and group.get("summary"):
        for line in group["summary"]:  # the job says in words what the folder's outcome means
            section.add_text(str(line), "note")
        return
    for line in group.get("notes") or []:  # peak rule (or a report without a level)
        section.add_text(str(line), "note")
    if advice := level_shift_advice(group):
        section.add_text(advice, "warning")


def level_shift_advice(group: Mapping[str, Any]) -> str:
    """What the common shift under the +12 dB fader top means and what to do ("" if none)."""
    shift = float(group.get("level_shift_db") or 0.0)
    if shift >= 0.0:
        return ""
    at_top = [str(t.get("name")) for t in group.get("tracks", []) if _at_top(t)]
    return (f"The rule asked for more than REAPER's +{FADER_MAX_DB:.0f} dB fader top"
            + (f" ({', '.join(at_top)} now at the top)" if at_top else "")
            + f", so every fader in {group.get('name')} sits {-shift:.1f} dB lower than the rule "
            "asks. The balance between the children is exact; only the folder's level is lower. "
            f"To restore it, raise the {group.get('name')} folder fader by {-shift:.1f} dB, or "
            f"raise the quietest children's item (clip) gain by {-shift:.1f} dB and run Auto "
            "balance group again.")


@report_style
def group_figure(group: Mapping[str, Any], spectra: Mapping[str, Spectrum]) -> Figure:
    """Three panels sharing one row per child: band on the spectrum, loudness, fader move."""
    tracks = list(group.get("tracks", []))
    figure = new_figure(1.1 + 0.42 * len(tracks))
    bands, loudness, moves = axes(figure, 1, 3, sharey=True, width_ratios=[2.4, 1.3, 1.3])[0]
    rows = np.arange(len(tracks))
    _draw_bands(bands, tracks, spectra)
    _draw_loudness(loudness, group, tracks)
    _draw_moves(moves, tracks)
    bands.set_yticks(rows, [_short(str(t.get("name")), 22) for t in tracks])
    bands.set_ylim(len(tracks) - 0.5, -0.5)
    figure.suptitle(f"{group.get('name')}: "
                    + (f"common band loudness {_db(_common_level(group), ' LUFS')}"
                       + (" (plus each role's offset)" if any(t.get("offset_db") for t in tracks)
                          else "")
                       if _common_level(group) is not None else "nothing to balance"),
                    fontsize=10)
    return figure


def _draw_bands(ax: Any, tracks: Sequence[Mapping[str, Any]],
                spectra: Mapping[str, Spectrum]) -> None:
    frequency_axis(ax)
    ax.set_title("characteristic band")
    for row, track in enumerate(tracks):
        active = bool(track.get("active"))
        spectrum = spectra.get(str(track.get("guid")))
        if spectrum is not None and spectrum.level_db.max() > -140.0:
            shape = np.clip((spectrum.level_db - spectrum.level_db.max() + 60.0) / 60.0, 0, 1)
            ax.fill_between(spectrum.frequencies_hz, row + 0.4, row + 0.4 - 0.8 * shape,
                            color=AFTER_COLOR if active else BEFORE_COLOR, alpha=0.25,
                            linewidth=0)
        band = track.get("band_hz")
        if active and band:
            lo, hi = float(band[0]), float(band[1])
            ax.fill_betweenx([row - 0.42, row + 0.42], lo, hi, color=AFTER_COLOR, alpha=0.35,
                             linewidth=0)
            ax.plot([lo, lo], [row - 0.42, row + 0.42], color=AFTER_COLOR, linewidth=1.0)
            ax.plot([hi, hi], [row - 0.42, row + 0.42], color=AFTER_COLOR, linewidth=1.0)
            ax.annotate(f"{hz_text(lo)}–{hz_text(hi)}", (hi, row), xytext=(3, 0),
                        textcoords="offset points", va="center", fontsize=7)
        elif active:
            ax.annotate("full band", (1000.0, row), va="center", ha="center", fontsize=7,
                        color="#444")
        else:
            ax.annotate(f"left alone: {_short(str(track.get('reason') or ''), 40)}",
                        (25.0, row), va="center", fontsize=7, color="#7b8590")


def _draw_loudness(ax: Any, group: Mapping[str, Any],
                   tracks: Sequence[Mapping[str, Any]]) -> None:
    ax.set_title("band loudness at the fader")
    values = []
    for row, track in enumerate(tracks):
        before, after = _at_fader(track, "volume_before_db"), _at_fader(track, "volume_after_db")
        if before is None or after is None:
            continue
        values += [before, after]
        ax.annotate("", (after, row), (before, row),
                    arrowprops={"arrowstyle": "->", "color": "#7b8590", "linewidth": 0.8})
        ax.plot([before], [row], "o", color=BEFORE_COLOR, markersize=5)
        ax.plot([after], [row], "o", color=AFTER_COLOR, markersize=5)
    common = _common_level(group)
    if common is not None:
        ax.axvline(common, color=AFTER_COLOR, linewidth=0.8, linestyle="--")
    if values:
        ax.set_xlim(min(values) - 3.0, max(values) + 3.0)
    ax.set_xlabel("LUFS (in band)")
    ax.grid(True, axis="x", color="#e3e7eb", linewidth=0.6)


def _draw_moves(ax: Any, tracks: Sequence[Mapping[str, Any]]) -> None:
    ax.set_title("fader move")
    moves = [_move(t) for t in tracks]
    for row, (track, move) in enumerate(zip(tracks, moves)):
        if move is None:
            continue
        ax.barh(row, move, height=0.6, color="#b8403a" if move < 0 else "#3a9a5b")
        after = track.get("volume_after_db")
        text = f"{move:+.1f} dB, to {after:+.1f}" + (" (top)" if _at_top(track) else "")
        ax.annotate(text, (max(move, 0.0), row), xytext=(3, 0), textcoords="offset points",
                    va="center", ha="left", fontsize=7)  # right of the bar or of zero
    finite = [m for m in moves if m is not None] or [0.0]
    span = max(6.0, max(abs(m) for m in finite) * 1.1)
    ax.set_xlim(-span if min(finite) < 0 else -1.0, max(max(finite), 0.0) + span * 1.3)
    ax.axvline(0.0, color="#444", linewidth=0.8)
    ax.set_xlabel("dB")
    ax.grid(True, axis="x", color="#e3e7eb", linewidth=0.6)


# ------------------------------------------------------------------------------ numbers
def _at_fader(track: Mapping[str, Any], fader_key: str) -> float | None:
    loudness, fader = track.get("loudness_db"), track.get(fader_key)
    if loudness is None or fader is None or not track.get("active"):
        return None
    return float(loudness) + float(fader)


def _move(track: Mapping[str, Any]) -> float | None:
    """The fader move of a balanced child; None for children left alone."""
    before, after = track.get("volume_before_db"), track.get("volume_after_db")
    if before is None or after is None or not track.get("active"):
        return None
    return float(after) - float(before)


def _at_top(track: Mapping[str, Any]) -> bool:
    after = track.get("volume_after_db")
    return (bool(track.get("active")) and after is not None
            and float(after) >= FADER_MAX_DB - _TOP_TOLERANCE_DB)


def _common_level(group: Mapping[str, Any]) -> float | None:
    """The band loudness the balanced children share at their faders once their target offsets
    are taken off (median over the active ones)."""
    levels = [v - float(t.get("offset_db") or 0.0) for t in group.get("tracks", [])
              if (v := _at_fader(t, "volume_after_db")) is not None]
    return float(np.median(levels)) if levels else None


def _after(group: Mapping[str, Any]) -> float | None:
    """The children's summed loudness after balancing, through the folder fader's make-up."""
    after = group.get("loudness_after_lufs")
    return None if after is None else float(after) + float(group.get("folder_shift_db") or 0.0)


def _role_cells(track: Mapping[str, Any]) -> list[str]:
    """Role, where it came from (with the confidence and evidence), offset."""
    role = track.get("role")
    if not role:
        return ["–", "–", "–"]
    source = str(track.get("role_source") or "")
    origin = SOURCE_TEXT.get(source, source)
    confidence = track.get("role_confidence")
    if source in ("name", "audio") and confidence is not None:
        origin += f" {float(confidence):.0%}"
    if track.get("role_evidence"):
        origin += f": {track['role_evidence']}"
    return [str(role).replace("_", " "), origin, _db(track.get("offset_db"), " dB")]


def _band(band: Sequence[float] | None) -> str:
    return f"{hz_text(band[0])}–{hz_text(band[1])}" if band else "full band"


def _db(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return ("-inf" if value < 0 else "+inf") + unit
    return f"{value:+.1f}{unit}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
