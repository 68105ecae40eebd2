"""Decision reports: one self-contained HTML page per action run, and A/B previews.

An action contributes a :class:`~reaper_automix.report.document.Section` built from its JSON
report (what ``--json`` prints) plus extra plot data its job collects only when a report is
asked for; :func:`publish` renders the loudness-matched previews and writes the page. The CLI
(``--report``, ``--preview``, see :mod:`reaper_automix.commands`) and the worker jobs started by
the REAPER actions both go through :func:`publish`.

Modules: ``document`` (page and sections), ``plots`` (matplotlib helpers, IEM plug-in plots),
``previews`` (loudness-matched before/after/reference WAVs), one module per action's section.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..session import Project

if TYPE_CHECKING:
    from .document import Section
    from .previews import Previews

#: A job request asks for a report with {"report": {"html": PATH, "preview": DIR, "project":
#: LABEL}}; relative paths are taken from the request's "job_dir" (the worker sets it).
REQUEST_KEY = "report"


@dataclass(frozen=True)
class Published:
    """What :func:`publish` wrote."""

    html: Path | None
    previews: Previews | None

    def to_json(self) -> dict[str, Any]:
        return {"report": str(self.html) if self.html else None,
                "previews": self.previews.to_json() if self.previews else None}


def publish(
    sections: Callable[[], Sequence[Section]],
    *,
    html: str | Path | None,
    preview_dir: str | Path | None,
    title: str,
    project: str,
    before: Project | None,
    after: Project,
    data: Mapping[str, Any] | None = None,
    reference: str | Path | None = None,
    skip_missing: bool = False,
    render: Mapping[str, Any] | None = None,
) -> Published:
    """Write the previews (if ``preview_dir``), then the page (if ``html``).

    ``sections`` is called only when a page is written (figures take time to draw); ``project``
    names the project on the page; ``before`` and ``after`` are the project as it was and as
    the action leaves it (the model, unsaved changes included); ``data`` is the action's JSON
    report, embedded in the page; ``reference`` adds a loudness-matched ``reference.wav``;
    ``render`` hands REAPER's renders to the previews' renderer (see ``write_previews``)."""
    from .document import Report
    from .previews import write_previews

    previews = None
    if preview_dir is not None:
        if before is None:
            raise ValueError("previews need the project as it was before the action")
        previews = write_previews(preview_dir, before, after, reference=reference,
                                  skip_missing=skip_missing, render=render)
    page = None
    if html is not None:
        page = Report(title, list(sections()), project=project, previews=previews,
                      data=data).write(html)
    return Published(page, previews)


@dataclass(frozen=True)
class ReportRequest:
    """The report a worker job was asked to write (nothing when both paths are None)."""

    html: Path | None = None
    preview_dir: Path | None = None
    project: str = ""

    @property
    def wanted(self) -> bool:
        return self.html is not None or self.preview_dir is not None

    @classmethod
    def from_request(cls, request: Mapping[str, Any]) -> ReportRequest:
        asked = request.get(REQUEST_KEY) or {}
        base = Path(str(request.get("job_dir") or "."))

        def resolve(value: Any) -> Path | None:
            return base / Path(str(value)) if value else None

        return cls(resolve(asked.get("html")), resolve(asked.get("preview")),
                   str(asked.get("project") or ""))


def job_files(asked: ReportRequest, publisher: Callable[..., Published],
              **arguments: Any) -> dict[str, Any]:
    """Call an action's publisher for a worker job's report request; returns the ``"files"``
    of the job's result. The report is a by-product: if writing it fails, the job's own result
    still stands, and ``"error"`` says why there is no report (the traceback goes to the log)."""
    try:
        return publisher(html=asked.html, preview_dir=asked.preview_dir, project=asked.project,
                         **arguments).to_json()
    except Exception as exc:  # noqa: BLE001 (any failure here must not cost the user the result)
        traceback.print_exc()
        return {"report": None, "previews": None, "error": f"{type(exc).__name__}: {exc}"}
