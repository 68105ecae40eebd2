"""The actions "AutoMix: Auto balance group" and "AutoMix: Auto balance group (settings)".

The first balances the folders chosen by the selection (selected folder tracks, or the folder
around any selected track) in the worker job ``balance`` and writes the children's faders as one
undo point; children only REAPER can play (MIDI, instruments, other plug-ins) are rendered by
REAPER first (:mod:`.stems`). The second asks for the method, recursion, report and render
options and keeps them in the project (project ext-state). Standard library only: this runs
inside REAPER.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..audio.playable import RENDER_MODES, analysed_children, tracks_to_render
from ..session import Project, Track
from . import action
from .api import UNDO_TRACK_CONFIG, ReaperApi
from .live import LiveHost
from .stems import StemRequest, load_render_mode, save_render_mode

METHODS = ("centroid", "f0", "lufs")
SECTION = "reaper-automix"
SETTINGS_TITLE = "AutoMix: Auto balance group (settings)"
_YES, _NO = ("yes", "y", "1", "true", "on"), ("no", "n", "0", "false", "off")


@dataclass
class BalanceSettings:
    """The options of one project, stored in its ext-state (saved with the project)."""

    method: str = "centroid"
    recursive: bool = False
    write_report: bool = False
    render: str = RENDER_MODES[0]  # who renders what the headless renderer cannot play (all actions)

    @classmethod
    def load(cls, api: ReaperApi, proj: str) -> BalanceSettings:
        def get(key: str) -> str:
            return api.project_ext_state(proj, SECTION, key).strip().lower()

        method = get("balance_method")
        return cls(method=method if method in METHODS else cls.method,
                   recursive=get("balance_recursive") in _YES,
                   write_report=get("balance_report") in _YES,
                   render=load_render_mode(api, proj))

    def save(self, api: ReaperApi, proj: str) -> None:
        api.set_project_ext_state(proj, SECTION, "balance_method", self.method)
        api.set_project_ext_state(proj, SECTION, "balance_recursive", _yes_no(self.recursive))
        api.set_project_ext_state(proj, SECTION, "balance_report", _yes_no(self.write_report))
        save_render_mode(api, proj, self.render)


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def parse_settings(values: list[str]) -> BalanceSettings:
    """The four answers of the settings dialog (an empty render answer: auto); ValueError names
    the bad one."""
    method, recursive, report, render = (v.strip().lower() for v in [*values, ""][:4])
    render = render or RENDER_MODES[0]
    if method not in METHODS:
        raise ValueError(f"method {method!r}: type one of {', '.join(METHODS)}")
    if render not in RENDER_MODES:
        raise ValueError(f"render {render!r}: type one of {', '.join(RENDER_MODES)}")
    return BalanceSettings(method, _parse_yes_no("recursive", recursive),
                           _parse_yes_no("write report", report), render)


def _parse_yes_no(what: str, text: str) -> bool:
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValueError(f"{what} {text!r}: type yes or no")


# ------------------------------------------------------------------------------- actions
def configure(api: ReaperApi) -> bool:
    """The settings action: ask, check and store the options. False if cancelled or invalid."""
    proj, _ = api.current_project()
    current = BalanceSettings.load(api, proj)
    values = api.user_inputs(
        SETTINGS_TITLE,
        ["Method (centroid/f0/lufs)", "Recursive (yes/no)", "Write report (yes/no)",
         "Render (auto/reaper/headless)"],
        [current.method, _yes_no(current.recursive), _yes_no(current.write_report),
         current.render],
    )
    if values is None:
        return False
    try:
        settings = parse_settings(values)
    except ValueError as exc:
        api.message_box(f"Not saved: {exc}.", SETTINGS_TITLE)
        return False
    settings.save(api, proj)
    api.console(f"{SETTINGS_TITLE}: method {settings.method}, recursive "
                f"{_yes_no(settings.recursive)}, write report {_yes_no(settings.write_report)}, "
                f"render {settings.render}\n")
    return True


def run(api: ReaperApi) -> bool:
    """The balance action: start the worker on the selected folders. False if not started."""
    if action.running() is not None:
        action.offer_cancel(api)
        return False
    proj, _ = api.current_project()
    settings = BalanceSettings.load(api, proj)
    host = LiveHost(api, proj)
    project = host.read(media=settings.render != "headless")  # items and FX: who plays what
    by_pointer = {host.pointer(t): t for t in project.tracks}
    selected = [by_pointer[p] for p in api.selected_tracks(proj) if p in by_pointer]
    folders = folders_for_selection(selected)
    if not folders:
        api.message_box(
            "Select a folder track (or any track inside a folder) first.\n\nAuto balance group "
            "sets the faders of a folder's child tracks so that they sound equally loud.",
            action.TITLE)
        return False
    names = [f.display_name for f in folders]
    stems = stem_request(host, project, folders, settings)
    spec = action.JobSpec(
        job="balance",
        label="balance " + ", ".join(names),
        params={"groups": [f.guid for f in folders], "method": settings.method,
                "recursive": settings.recursive, "skip_missing": False,
                "skip_unplayable": stems is None},  # headless, or nothing REAPER must render
        apply=lambda result: apply_result(api, proj, result, undo_description(names), settings),
        stems=stems,
    )
    return action.start(api, proj, spec)


def stem_request(host: LiveHost, project: Project, folders: list[Track],
                 settings: BalanceSettings) -> StemRequest | None:
    """The tracks REAPER renders for this balance: what the folders' analysis hears that the
    headless renderer cannot play (``render: auto``), or all of it (``reaper``)."""
    if settings.render == "headless" or project.length <= 0:
        return None
    balanced = [*folders, *(t for f in folders if settings.recursive for t in f.descendants()
                            if t.is_folder)]
    chosen = tracks_to_render([c for f in balanced for c in analysed_children(f)],
                              settings.render)
    if not chosen:
        return None
    return StemRequest([(host.pointer(t), t) for t in chosen], 0.0, project.length,
                       project.sample_rate)


def folders_for_selection(selected: list[Track]) -> list[Track]:
    """Selected folder tracks, and the folder around each other selected track, in project
    order, without duplicates. Tracks outside any folder are ignored."""
    chosen: dict[int, Track] = {}
    for track in selected:
        folder = track if track.is_folder else track.parent
        if folder is not None:
            chosen[id(folder)] = folder
    return sorted(chosen.values(), key=lambda t: t.index)


def undo_description(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"AutoMix: balance {shown}{more}"


# ------------------------------------------------------------------------------ applying
def apply_result(api: ReaperApi, proj: str, result: dict[str, Any], description: str,
                 settings: BalanceSettings) -> str:
    """Write the worker's faders as one undo point; returns the console summary."""
    host = LiveHost(api, proj)
    project = host.read(media=False)
    for fader in result.get("faders", []):
        project.track(str(fader["guid"])).volume = float(fader["volume"])
    report = result.get("report", {})
    changed = host.apply(project, description, UNDO_TRACK_CONFIG)
    lines = [report_text(report)]
    if changed == 0:
        api.message_box(nothing_to_change(report), action.TITLE)
        lines.append("Nothing to change: no fader was moved.")
    else:
        lines.append(f"{changed} fader(s) moved — undo with Ctrl+Z (\"{description}\").")
    if settings.write_report:
        lines.append(f"Report written to {write_report(project, report)}")
    return "\n".join(lines)


def report_text(report: dict[str, Any]) -> str:
    """A plain-text table of the balance report for REAPER's console."""
    lines = []
    for group in report.get("groups", []):
        target = group.get("target_db")
        lines.append(f"{group.get('name')}" + (f" (target {target:+.1f} dB)" if target is not None
                                               else ""))
        for track in group.get("tracks", []):
            before, after = _db(track.get("volume_before_db")), _db(track.get("volume_after_db"))
            note = "" if track.get("active") else f"  unchanged: {track.get('reason') or ''}"
            lines.append(f"  {track.get('name')}: {before} -> {after}{note}")
        shift = group.get("level_shift_db") or 0.0
        if shift < 0:
            lines.append(f"  every fader above is {-shift:.1f} dB lower than the rule asks, to "
                         "stay under REAPER's +12 dB fader top: raise the folder fader by as "
                         "much to restore the level")
    lines.extend(f"warning: {w}" for w in report.get("warnings", []))
    return "\n".join(lines)


def nothing_to_change(report: dict[str, Any]) -> str:
    reasons = [f"{t.get('name')}: {t.get('reason') or 'already balanced'}"
               for g in report.get("groups", []) for t in g.get("tracks", [])]
    return ("Nothing to change: no fader was moved.\n\n" + "\n".join(reasons[:12]) +
            "\n\nAuto balance group needs audio in the folder's child tracks: check that their "
            "items play and that their media files are online.")


def write_report(project: Project, report: dict[str, Any]) -> Path:
    """Write the JSON report next to the project file (the temp folder if never saved)."""
    if project.path is not None:
        path = project.path.with_name(project.path.stem + ".automix-balance.json")
    else:
        path = Path(tempfile.gettempdir()) / "automix-balance.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def _db(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isinf(value)):
        return "-inf dB"
    return f"{float(value):+.2f} dB"
