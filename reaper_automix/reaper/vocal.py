"""The actions "AutoMix: Mix lead vocal" and "AutoMix: Mix lead vocal (settings)".

The first mixes the selected track as the lead vocal against everything else in the worker job
``vocal`` and writes our tagged MultiEQ → OmniCompressor → FdnReverb and the fader as one undo
point (the values the CLI writes); the second asks for the method, the amount and the report
options shared by every action (:mod:`.report`) and keeps them in the project (project
ext-state). The reverb is written as an insert here: a return track with a send is the CLI's
``--reverb send``. Standard library only: this runs inside REAPER.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..session import Track
from . import action
from .api import UNDO_TRACK_CONFIG, ReaperApi
from .live import LiveHost
from .report import CAPTIONS as REPORT_CAPTIONS
from .report import ReportSettings, deliver

METHODS = ("prior", "rules", "cnn")
SECTION = "reaper-automix"
SETTINGS_TITLE = "AutoMix: Mix lead vocal (settings)"
CAPTIONS = ("Method (prior/rules/cnn)", "Amount (0-100 %)", *REPORT_CAPTIONS)


@dataclass
class VocalSettings:
    """The options of one project, stored in its ext-state (saved with the project)."""

    method: str = "prior"
    amount: float = 100.0  # percent
    report: ReportSettings = field(default_factory=ReportSettings)  # shared by every action

    @classmethod
    def load(cls, api: ReaperApi, proj: str) -> VocalSettings:
        def get(key: str) -> str:
            return api.project_ext_state(proj, SECTION, key).strip().lower()

        method, amount = get("vocal_method"), get("vocal_amount")
        try:
            percent = float(amount) if amount else cls.amount
        except ValueError:
            percent = cls.amount
        return cls(method=method if method in METHODS else cls.method,
                   amount=percent if 0.0 <= percent <= 100.0 else cls.amount,
                   report=ReportSettings.load(api, proj))

    def save(self, api: ReaperApi, proj: str) -> None:
        api.set_project_ext_state(proj, SECTION, "vocal_method", self.method)
        api.set_project_ext_state(proj, SECTION, "vocal_amount", f"{self.amount:g}")
        self.report.save(api, proj)

    def answers(self) -> list[str]:
        return [self.method, f"{self.amount:g}", *self.report.answers()]


def parse_settings(values: list[str]) -> VocalSettings:
    """The answers of the settings dialog, in :data:`CAPTIONS` order; ValueError names the
    bad one."""
    method, amount, *report = (v.strip().lower() for v in [*values, "", "", ""][:5])
    if method not in METHODS:
        raise ValueError(f"method {method!r}: type one of {', '.join(METHODS)}")
    try:
        percent = float(amount.rstrip("%").strip())
    except ValueError:
        raise ValueError(f"amount {amount!r}: type a number from 0 to 100") from None
    if not (math.isfinite(percent) and 0.0 <= percent <= 100.0):
        raise ValueError(f"amount {amount!r}: type a number from 0 to 100")
    return VocalSettings(method, percent, ReportSettings.parse(report))


# ------------------------------------------------------------------------------- actions
def configure(api: ReaperApi) -> bool:
    """The settings action: ask, check and store the options. False if cancelled or invalid."""
    proj, _ = api.current_project()
    current = VocalSettings.load(api, proj)
    settings = action.ask(api, SETTINGS_TITLE, CAPTIONS, current.answers(), parse_settings,
                          "Not saved")
    if settings is None:
        return False
    settings.save(api, proj)
    api.console(f"{SETTINGS_TITLE}: method {settings.method}, amount {settings.amount:g} %, "
                f"{settings.report.describe()}\n")
    return True


def run(api: ReaperApi) -> bool:
    """The vocal action: start the worker on the selected track. False if not started."""
    if action.running() is not None:
        action.offer_cancel(api)
        return False
    proj, project_file = api.current_project()
    host = LiveHost(api, proj)
    project = host.read(media=False)
    by_pointer = {host.pointer(t): t for t in project.tracks}
    selected = [by_pointer[p] for p in api.selected_tracks(proj) if p in by_pointer]
    if len(selected) != 1:
        api.message_box(
            ("Select the lead vocal track first." if not selected else
             f"{len(selected)} tracks are selected: select only the lead vocal track.")
            + "\n\nMix lead vocal sets the vocal's EQ, compression, reverb and level against "
            "everything else in the project.", action.TITLE)
        return False
    vocal = selected[0]
    settings = VocalSettings.load(api, proj)
    spec = action.JobSpec(
        job="vocal",
        label=f"mix lead vocal {vocal.display_name}",
        params={"vocal": vocal.guid, "method": settings.method, "tempo": project.tempo,
                "amount": settings.amount / 100.0, "reverb": "insert", "skip_missing": False,
                "skip_unplayable": True,  # heard as played headless, a warning each (no stems)
                **settings.report.job_params("vocal", project_file)},
        apply=lambda result: apply_result(api, proj, result, undo_description(vocal), settings),
    )
    return action.start(api, proj, spec)


def undo_description(vocal: Track) -> str:
    return f"AutoMix: mix lead vocal {vocal.display_name}"


# ------------------------------------------------------------------------------ applying
def apply_result(api: ReaperApi, proj: str, result: dict[str, Any], description: str,
                 settings: VocalSettings) -> str:
    """Write the worker's fader and plug-in values as one undo point; returns the summary."""
    host = LiveHost(api, proj)
    project = host.read(media=False, fx=True)
    for fader in result.get("faders", []):
        project.track(str(fader["guid"])).volume = float(fader["volume"])
    for write in result.get("plugins", []):
        project.track(str(write["track"])).stage_iem_params(
            str(write["plugin"]), {k: float(v) for k, v in write["params"].items()},
            str(write["tag"]))
    report = result.get("report", {})
    changed = host.apply(project, description, UNDO_TRACK_CONFIG)
    lines = [report_text(report)]
    for send in result.get("sends", []):
        lines.append(f"Not written (sends are set by hand here): the send from "
                     f"{send['source']} to {send['track']} should be {_db_of(send['volume'])}.")
    if changed:
        lines.append(f"Written as one undo point — undo with Ctrl+Z (\"{description}\").")
    lines.extend(deliver(api, result, settings.report, api.project_file(proj)))
    return "\n".join(lines)


def report_text(report: dict[str, Any]) -> str:
    """A plain-text summary of the vocal report for REAPER's console."""
    def lu(key: str) -> str:
        value = report.get(key)
        return "–" if value is None else f"{float(value):+.2f} LU"

    lines = [
        f"{report.get('vocal')}: method {report.get('method')}, level against the backing "
        f"{lu('level_before_lu')} -> {lu('level_after_lu')} (target {lu('level_target_lu')}: "
        f"{report.get('level_target_source')})",
        f"  loudness range {_num(report.get('lra_before_lu'))} -> "
        f"{_num(report.get('lra_after_lu'))} LU; fader {_num(report.get('fader_before_db'))} -> "
        f"{_num(report.get('fader_after_db'))} dB",
    ]
    for plugin in report.get("plugins", []):
        shown = [f"{p['name']} {p['text']}{(' ' + p['unit']) if p['unit'] else ''}"
                 for p in plugin.get("params", []) if _worth_showing(plugin["plugin"], p)]
        lines.append(f"  {plugin['plugin']} \"{plugin['tag']}\": " + ", ".join(shown))
    lines.extend(f"  note: {note}" for note in report.get("notes", []))
    lines.extend(f"warning: {w}" for w in report.get("warnings", []))
    return "\n".join(lines)


_SHOWN = {"OmniCompressor": ("threshold", "ratio", "attack", "release", "outGain"),
          "FdnReverb": ("delayLength", "revTime", "dryWet", "fadeInTime")}


def _worth_showing(plugin: str, param: dict[str, Any]) -> bool:
    if plugin == "MultiEQ":
        return param["id"].startswith(("filterFrequency", "filterGain")) and not (
            param["id"].startswith("filterGain") and float(param["value"]) == 0.0)
    return param["id"] in _SHOWN.get(plugin, ())


def _db_of(volume: float) -> str:
    return "-inf dB" if volume <= 0 else f"{20 * math.log10(volume):+.1f} dB"


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isinf(value)):
        return "–"
    return f"{float(value):+.2f}"
