"""The actions "AutoMix: Auto balance group" and "AutoMix: Auto balance group (settings)".

The first balances the folders chosen by the selection (selected folder tracks, or the folder
around any selected track) in the worker job ``balance`` and writes the children's faders as one
undo point, using the roles set with "AutoMix: Set role of selected tracks"; children only
REAPER can play (MIDI, instruments, other plug-ins) are rendered by REAPER first (:mod:`.stems`).
The second asks for the method, recursion, report and render options (report and render options
are shared by every action, see :mod:`.report` and :mod:`.stems`) and keeps them in the project
(project ext-state). Standard library only: this runs inside REAPER.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..audio.playable import RENDER_MODES, analysed_children, tracks_to_render
from ..session import Project, Track
from . import action
from .api import UNDO_TRACK_CONFIG, ReaperApi
from .live import LiveHost
from .report import CAPTIONS as REPORT_CAPTIONS
from .report import YES, ReportSettings, deliver, parse_yes_no, preview_stems, yes_no
from .roles import project_roles
from .stems import StemRequest, load_render_mode, save_render_mode

METHODS = ("role", "centroid", "f0", "lufs")
SECTION = "reaper-automix"
SETTINGS_TITLE = "AutoMix: Auto balance group (settings)"
CAPTIONS = ("Method (role/centroid/f0/lufs)", "Recursive (yes/no)", *REPORT_CAPTIONS,
            "Render (auto/reaper/headless)")


@dataclass
class BalanceSettings:
    """The options of one project, stored in its ext-state (saved with the project)."""

    method: str = "role"
    recursive: bool = False
    report: ReportSettings = field(default_factory=ReportSettings)  # shared by every action
    render: str = RENDER_MODES[0]  # who renders what the headless renderer cannot play (all actions)

    @classmethod
    def load(cls, api: ReaperApi, proj: str) -> BalanceSettings:
        def get(key: str) -> str:
            return api.project_ext_state(proj, SECTION, key).strip().lower()

        method = get("balance_method")
        return cls(method=method if method in METHODS else cls.method,
                   recursive=get("balance_recursive") in YES,
                   report=ReportSettings.load(api, proj),
                   render=load_render_mode(api, proj))

    def save(self, api: ReaperApi, proj: str) -> None:
        api.set_project_ext_state(proj, SECTION, "balance_method", self.method)
        api.set_project_ext_state(proj, SECTION, "balance_recursive", yes_no(self.recursive))
        self.report.save(api, proj)
        save_render_mode(api, proj, self.render)

    def answers(self) -> list[str]:
        return [self.method, yes_no(self.recursive), *self.report.answers(), self.render]


def parse_settings(values: list[str]) -> BalanceSettings:
    """The answers of the settings dialog, in :data:`CAPTIONS` order (an empty render answer:
    auto); ValueError names the bad one."""
    method, recursive, *report, render = (v.strip().lower() for v in [*values, ""][:6])
    render = render or RENDER_MODES[0]
    if method not in METHODS:
        raise ValueError(f"method {method!r}: type one of {', '.join(METHODS)}")
    if render not in RENDER_MODES:
        raise ValueError(f"render {render!r}: type one of {', '.join(RENDER_MODES)}")
    return BalanceSettings(method, parse_yes_no("recursive", recursive),
                           ReportSettings.parse(report), render)


# ------------------------------------------------------------------------------- actions
def configure(api: ReaperApi) -> bool:
    """The settings action: ask, check and store the options. False if cancelled or invalid."""
    proj, _ = api.current_project()
    current = BalanceSettings.load(api, proj)
    settings = action.ask(api, SETTINGS_TITLE, CAPTIONS, current.answers(), parse_settings,
                          "Not saved")
    if settings is None:
        return False
    settings.save(api, proj)
    api.console(f"{SETTINGS_TITLE}: method {settings.method}, recursive "
                f"{yes_no(settings.recursive)}, {settings.report.describe()}, "
                f"render {settings.render}\n")
    return True


def run(api: ReaperApi) -> bool:
    """The balance action: start the worker on the selected folders. False if not started."""
    if action.running() is not None:
        action.offer_cancel(api)
        return False
    proj, project_file = api.current_project()
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
                "skip_unplayable": stems is None,  # headless, or nothing REAPER must render
                "roles": project_roles(api, proj) if settings.method == "role" else {},
                **settings.report.job_params("balance", project_file)},
        apply=lambda result: apply_result(api, proj, result, undo_description(names), settings),
        stems=stems,
    )
    return action.start(api, proj, spec)


def stem_request(host: LiveHost, project: Project, folders: list[Track],
                 settings: BalanceSettings) -> StemRequest | None:
    """The tracks REAPER renders for this balance: what the folders' analysis hears that the
    headless renderer cannot play (``render: auto``), or all of it (``reaper``), and for A/B
    previews the rest of the mix that only REAPER plays."""
    if settings.render == "headless" or project.length <= 0:
        return None
    balanced = [*folders, *(t for f in folders if settings.recursive for t in f.descendants()
                            if t.is_folder)]
    analysed = [c for f in balanced for c in analysed_children(f)]
    chosen = tracks_to_render(analysed, settings.render)
    if settings.report.wants_previews:  # the previews hear the whole mix
        extra = {id(t): t for t in preview_stems(project, analysed)}
        chosen = sorted({**extra, **{id(t): t for t in chosen}}.values(), key=lambda t: t.index)
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
    lines.extend(deliver(api, result, settings.report, api.project_file(proj)))
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
            if track.get("role"):
                note += f"  [{track['role']}, {track.get('role_source')}: {track.get('role_evidence')}]"
            note += f"  ({track['note']})" if track.get("note") else ""
            lines.append(f"  {track.get('name')}: {before} -> {after}{note}")
        lines.extend(f"  {line}" for line in group.get("summary", []))
    lines.extend(report.get("summary", []))
    lines.extend(f"warning: {w}" for w in report.get("warnings", []))
    return "\n".join(lines)


def nothing_to_change(report: dict[str, Any]) -> str:
    reasons = [f"{t.get('name')}: {t.get('reason') or 'already balanced'}"
               for g in report.get("groups", []) for t in g.get("tracks", [])]
    return ("Nothing to change: no fader was moved.\n\n" + "\n".join(reasons[:12]) +
            "\n\nAuto balance group needs audio in the folder's child tracks: check that their "
            "items play and that their media files are online.")


def _db(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isinf(value)):
        return "-inf dB"
    return f"{float(value):+.2f} dB"
