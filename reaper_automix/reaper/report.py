"""Reports from the REAPER actions: the options every action shares, and delivering the page.

The options are kept per project in its ext-state (one set for all AutoMix actions): write the
HTML report, open it in the browser, add loudness-matched A/B previews. The worker writes the
page and previews into its job folder (``report/`` there); once the action has applied its
result, :func:`deliver` moves them next to the project (``<project>.automix-<action>.html`` and
the ``…-preview/`` folder beside it, replacing the previous run's) and opens the page. A run whose
result is not applied leaves no report behind. Standard library only: this runs inside REAPER.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..audio.playable import tracks_to_render
from ..session import Project, Track
from .api import ReaperApi

SECTION = "reaper-automix"
KEYS = ("report", "report_open", "report_preview")
CAPTIONS = ("Write report (yes/no)", "Open report in browser (yes/no)",
            "A/B previews with report (yes/no)")
JOB_FOLDER = "report"
YES, NO = ("yes", "y", "1", "true", "on"), ("no", "n", "0", "false", "off")


@dataclass(frozen=True)
class ReportSettings:
    """Whether the actions write an HTML report, open it, and render A/B previews for it."""

    write: bool = False
    open_in_browser: bool = False
    previews: bool = False

    @classmethod
    def load(cls, api: ReaperApi, proj: str) -> ReportSettings:
        values = [api.project_ext_state(proj, SECTION, key).strip().lower() in YES
                  for key in KEYS]
        return cls(*values)

    def save(self, api: ReaperApi, proj: str) -> None:
        for key, value in zip(KEYS, self.answers()):
            api.set_project_ext_state(proj, SECTION, key, value)

    def answers(self) -> list[str]:
        """The settings as the dialog shows them (one "yes"/"no" per caption)."""
        return [yes_no(self.write), yes_no(self.open_in_browser), yes_no(self.previews)]

    def describe(self) -> str:
        """The settings as the console line of a settings action says them."""
        return (f"write report {yes_no(self.write)}, open it {yes_no(self.open_in_browser)}, "
                f"A/B previews {yes_no(self.previews)}")

    @classmethod
    def parse(cls, values: list[str]) -> ReportSettings:
        """The dialog's answers for :data:`CAPTIONS`; ValueError names the bad one."""
        return cls(*(parse_yes_no(caption.split(" (")[0].lower(), value)
                     for caption, value in zip(CAPTIONS, values)))

    @property
    def wants_previews(self) -> bool:
        return self.write and self.previews

    def job_params(self, action: str, project_file: str) -> dict[str, Any]:
        """What the worker request needs to write the report (nothing when it is off)."""
        if not self.write:
            return {}
        name = report_name(action, project_file)
        return {"report": {"html": f"{JOB_FOLDER}/{name}.html",
                           "preview": f"{JOB_FOLDER}/{name}-preview" if self.wants_previews
                           else None,
                           "project": project_file}}


def preview_stems(project: Project, analysed: list[Track]) -> list[Track]:
    """What else REAPER must render for the previews to hear the whole mix as it plays: the
    tracks reaching the master that only REAPER plays (see ``tracks_to_render``), except those
    holding an analysed track (a render of them would keep its old fader)."""
    inside = {id(t) for t in analysed}
    mix = [t for t in project.top_level if t.main_send and not t.mute]
    return [t for t in tracks_to_render(mix)
            if not any(id(d) in inside for d in (t, *t.descendants()))]


def report_name(action: str, project_file: str) -> str:
    """``<project stem>.automix-<action>`` (``untitled`` for a project never saved)."""
    stem = Path(project_file).stem if project_file else "untitled"
    return f"{stem}.automix-{action}"


def deliver(api: ReaperApi, result: dict[str, Any], settings: ReportSettings,
            project_file: str) -> list[str]:
    """Move the report the worker wrote next to the project (the temp folder if it was never
    saved), open it if asked; returns lines for the console."""
    files = result.get("files") or {}
    if files.get("error"):
        return [f"The report could not be written ({files['error']}); the worker log has "
                "the details. Run the action again, or use --report on the command line."]
    page, previews = files.get("report"), (files.get("previews") or {}).get("directory")
    if not page:
        return []
    folder = Path(project_file).parent if project_file else Path(tempfile.gettempdir())
    if previews:
        _replace(Path(previews), folder / Path(previews).name)
    target = _replace(Path(page), folder / Path(page).name)
    lines = [f"Report written to {target}"]
    if settings.open_in_browser:
        if api.open_file(str(target)):
            lines.append("Report opened in the browser.")
        else:
            lines.append(f"The report could not be opened: open {target} in a browser.")
    return lines


def _replace(source: Path, target: Path) -> Path:
    """Move ``source`` (file or folder) to ``target``, replacing what is there."""
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()
    shutil.move(str(source), str(target))
    return target


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def parse_yes_no(what: str, text: str) -> bool:
    text = text.strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValueError(f"{what} {text!r}: type yes or no")
