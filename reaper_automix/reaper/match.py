"""The actions "AutoMix: Match reference" and "AutoMix: Mix (balance + match)".

Both ask for the reference mix with REAPER's file dialog and for the amount, loudness and fit
options (kept in the project's ext-state, so the dialogs show the last answers), run the worker
job ``match`` or ``mix`` on a snapshot of the project, and write what it decided — faders, pans
and the parameters of one tagged MultiEQ and one tagged OmniCompressor per stem (added or
updated through the raw API, with the IEM layer's normalised values) — as one undo point. The
worker's answer is the one the CLI writes for the same project. Standard library only: this
runs inside REAPER.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..audio.playable import analysed_children, tracks_to_render
from ..session import Project, Track
from . import action
from .api import UNDO_TRACK_CONFIG, ReaperApi
from .balance import SECTION, BalanceSettings
from .live import LiveHost
from .report import CAPTIONS as REPORT_CAPTIONS
from .report import ReportSettings, deliver, parse_yes_no, yes_no
from .stems import StemRequest

FITS = ("full", "faders")
CAPTIONS = ("Amount (0-100 %)", "Match loudness (yes/no)", "Fit (full/faders)", *REPORT_CAPTIONS)
STARTS = ("model", "neutral")  # decisions.match.STARTS (this module stays standard library)
REFERENCE_TYPES = ("wav", "flac", "mp3")
OPTIONS_TITLE = "AutoMix: Match reference"


@dataclass
class MatchSettings:
    """The options of one project, stored in its ext-state (saved with the project)."""

    reference: str = ""
    amount: float = 100.0  # %
    match_loudness: bool = False
    fit: str = "full"
    budget_s: float = 0.0  # 0: the worker's default (not asked; ext-state key match_budget_s)
    steps: int = 0  # 0: no cap (not asked; ext-state key match_steps)
    report: ReportSettings = field(default_factory=ReportSettings)  # shared by every action
    start: str = ""  # "": the worker's default, DEFAULT_START (ext-state key match_start)

    @classmethod
    def load(cls, api: ReaperApi, proj: str) -> MatchSettings:
        def get(key: str) -> str:
            return api.project_ext_state(proj, SECTION, key).strip()

        settings = cls(reference=get("match_reference"), report=ReportSettings.load(api, proj))
        try:
            settings.amount = min(100.0, max(0.0, float(get("match_amount") or 100.0)))
            settings.budget_s = max(0.0, float(get("match_budget_s") or 0.0))
            settings.steps = max(0, int(get("match_steps") or 0))
        except ValueError:
            pass
        settings.match_loudness = get("match_loudness").lower() in ("yes", "y", "1", "true", "on")
        fit = get("match_fit").lower()
        settings.fit = fit if fit in FITS else cls.fit
        start = get("match_start").lower()
        settings.start = start if start in STARTS else ""
        return settings

    def save(self, api: ReaperApi, proj: str) -> None:
        api.set_project_ext_state(proj, SECTION, "match_reference", self.reference)
        api.set_project_ext_state(proj, SECTION, "match_amount", f"{self.amount:g}")
        api.set_project_ext_state(proj, SECTION, "match_loudness", yes_no(self.match_loudness))
        api.set_project_ext_state(proj, SECTION, "match_fit", self.fit)
        self.report.save(api, proj)

    def answers(self) -> list[str]:
        """The options as the dialog shows them, in :data:`CAPTIONS` order."""
        return [f"{self.amount:g}", yes_no(self.match_loudness), self.fit,
                *self.report.answers()]

    def params(self) -> dict[str, Any]:
        """The worker request's fields."""
        out: dict[str, Any] = {"reference": self.reference, "amount": self.amount / 100.0,
                               "match_loudness": self.match_loudness, "fit": self.fit}
        if self.budget_s > 0:
            out["budget_s"] = self.budget_s
        if self.steps > 0:
            out["steps"] = self.steps
        if self.start:
            out["start"] = self.start
        return out


def parse_options(values: list[str], reference: str,
                  report: ReportSettings | None = None) -> MatchSettings:
    """The answers of the options dialog in :data:`CAPTIONS` order (without the report's
    answers, ``report`` stays as it is); ValueError names the bad one."""
    amount_text, loudness, fit = (v.strip().lower() for v in values[:3])
    try:
        amount = float(amount_text.rstrip("%").strip())
    except ValueError:
        raise ValueError(f"amount {amount_text!r}: type a number from 0 to 100") from None
    if not 0.0 <= amount <= 100.0:
        raise ValueError(f"amount {amount:g}: type a number from 0 to 100")
    if fit not in FITS:
        raise ValueError(f"fit {fit!r}: type {' or '.join(FITS)}")
    if len(values) >= len(CAPTIONS):
        report = ReportSettings.parse(list(values[3:len(CAPTIONS)]))
    return MatchSettings(reference, amount, parse_yes_no("match loudness", loudness), fit,
                         report=report or ReportSettings())


def ask(api: ReaperApi, proj: str, title: str) -> MatchSettings | None:
    """The reference (REAPER's file dialog), then the options; None if cancelled or invalid."""
    stored = MatchSettings.load(api, proj)
    reference = api.user_file_for_read(f"{title}: choose the reference mix (WAV, FLAC, MP3)",
                                       REFERENCE_TYPES[0], stored.reference)
    if not reference:
        return None
    if Path(reference).suffix.lower().lstrip(".") not in REFERENCE_TYPES:
        api.message_box(f"{Path(reference).name}: choose a WAV, FLAC or MP3 file (a stereo "
                        "mix, at least 5 s long).", title)
        return None
    settings = action.ask(api, title, CAPTIONS, stored.answers(),
                          lambda values: parse_options(values, reference, stored.report),
                          "Not started")
    if settings is None:
        return None
    settings.budget_s, settings.steps, settings.start = stored.budget_s, stored.steps, stored.start
    settings.save(api, proj)
    return settings


# ------------------------------------------------------------------------------- actions
def run(api: ReaperApi) -> bool:
    """Match reference: the top-level tracks and folders to the chosen reference."""
    return _start(api, "match", "Match reference")


def run_mix(api: ReaperApi) -> bool:
    """Mix: Auto balance group on every folder, then Match reference, one undo point."""
    return _start(api, "mix", "Mix (balance + match)")


def _start(api: ReaperApi, job: str, name: str) -> bool:
    if action.running() is not None:
        action.offer_cancel(api)
        return False
    proj, project_file = api.current_project()
    settings = ask(api, proj, f"AutoMix: {name}")
    if settings is None:
        return False
    balance = BalanceSettings.load(api, proj)  # the method, and who renders what (all actions)
    host = LiveHost(api, proj)
    project = host.read(media=balance.render != "headless")  # items and FX: who plays what
    stems = stem_request(host, project, balance.render, with_folders=job == "mix")
    reference = Path(settings.reference).name
    params = settings.params()
    if job == "mix":
        params.update(method=balance.method, skip_unplayable=stems is None)
    params.update(settings.report.job_params(job, project_file))
    verb = "match" if job == "match" else "mix (balance + match)"
    description = f"AutoMix: {verb} to {reference}"
    spec = action.JobSpec(
        job=job, label=f"{verb} to {reference}", params=params,
        apply=lambda result: apply_result(api, proj, result, description, settings.report),
        stems=stems)
    return action.start(api, proj, spec)


def stem_request(host: LiveHost, project: Project, mode: str, *,
                 with_folders: bool) -> StemRequest | None:
    """The tracks REAPER renders first: what the top-level tracks and folders (and, for Mix,
    every folder's children) hold that the headless renderer cannot play (``auto``), or all of
    them (``reaper``); None for ``headless`` or when nothing is needed."""
    if mode == "headless" or project.length <= 0:
        return None
    roots: list[Track] = [t for t in project.tracks
                          if t.parent is None and t.main_send and not t.mute]
    if with_folders:
        roots += [c for f in project.folders for c in analysed_children(f)]
    chosen = tracks_to_render(roots, mode)
    if not chosen:
        return None
    return StemRequest([(host.pointer(t), t) for t in chosen], 0.0, project.length,
                       project.sample_rate)


# ------------------------------------------------------------------------------ applying
def apply_result(api: ReaperApi, proj: str, result: dict[str, Any], description: str,
                 report_settings: ReportSettings | None = None) -> str:
    """Write the worker's faders, pans and plug-in values as one undo point, then move the
    report it wrote next to the project (:func:`.report.deliver`); the console summary."""
    host = LiveHost(api, proj)
    project = host.read(media=False, fx=True)
    for fader in result.get("faders", []):
        track = project.track(str(fader["guid"]))
        track.volume = float(fader["volume"])
        track.pan = float(fader["pan"])
    for plugin in result.get("plugins", []):
        track = project.track(str(plugin["guid"]))
        track.stage_iem_params(str(plugin["plugin"]), plugin["params"], str(plugin["tag"]))
    changed = host.apply(project, description, UNDO_TRACK_CONFIG)
    lines = []
    if result.get("balance"):
        from .balance import report_text as balance_text

        lines.append(balance_text(result["balance"]))
    report = result.get("report", {})
    lines.append(report_text(report))
    if changed == 0:
        lines.append("Nothing to change: nothing was written.")
    else:
        lines.append(f"{changed} track(s) changed — undo with Ctrl+Z (\"{description}\").")
    if report_settings is not None:
        lines.extend(deliver(api, result, report_settings, api.project_file(proj)))
    return "\n".join(lines)


def report_text(report: dict[str, Any]) -> str:
    """A plain-text report of the match for REAPER's console."""
    lines = [f"Reference {Path(str(report.get('reference', ''))).name}: "
             f"{_number(report.get('reference_lufs'))} LUFS; mix "
             f"{_number(report.get('before_lufs'))} -> {_number(report.get('after_lufs'))} LUFS; "
             f"fit from the {report.get('start', 'neutral')} start"]
    for stem in report.get("stems", []):
        if stem.get("status") != "matched":
            lines.append(f"  {stem.get('name')}: untouched ({stem.get('status')}"
                         + (f": {stem.get('reason')}" if stem.get("reason") else "") + ")")
            continue
        eq = ", ".join(f"{b['kind']} {b['frequency_hz']:.0f} Hz {b['gain_db']:+.1f} dB"
                       for b in stem.get("eq", []) if b.get("enabled")) or "flat"
        comp = stem.get("compressor", {})
        compressor = "off" if comp.get("ratio", 1.0) <= 1.0 else (
            f"{comp['ratio']:.1f}:1 at {comp['threshold']:+.1f} dB, {comp['attack']:.0f}/"
            f"{comp['release']:.0f} ms")
        lines.append(f"  {stem.get('name')}: fader {_number(stem.get('fader_before_db'))} -> "
                     f"{_number(stem.get('fader_after_db'))} dB, pan {_pan(stem.get('pan_after'))}"
                     f"; EQ {eq}; compressor {compressor}")
    before = report.get("distances", {}).get("before", {})
    after = report.get("distances", {}).get("after", {})
    if before and after:
        start = report.get("distances", {}).get("start", {})
        at_start = (f" (start {start['af_loss']:.3f}, spectrum {start['bark_mid_db']:.2f} dB)"
                    if "af_loss" in start and "bark_mid_db" in start else "")
        lines.append(f"  distance to the reference (AF loss): {before.get('af_loss', 0):.3f} -> "
                     f"{after.get('af_loss', 0):.3f}; spectrum {before.get('bark_mid_db', 0):.2f}"
                     f" -> {after.get('bark_mid_db', 0):.2f} dB RMS{at_start}")
    lines.extend(f"warning: {w}" for w in report.get("warnings", []))
    return "\n".join(lines)


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-inf"
    return f"{float(value):+.1f}"


def _pan(value: Any) -> str:
    pan = float(value or 0.0)
    return "C" if abs(pan) < 0.005 else f"{abs(pan) * 100:.0f}%{'L' if pan < 0 else 'R'}"
