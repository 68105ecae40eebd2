"""The "Mix" job: the two-stage system in one go — Auto balance group on every folder (stage 1),
then Match reference on the top-level stems (stage 2), on the same in-memory project."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from ..analysis.spectrum import SpectrumRecorder
from ..decisions.match import MatchDecision, MatchOptions
from ..report import ReportRequest, job_files
from ..session import Project
from . import Cancelled, JobError, Progress
from .balance import BalanceReport, plan_balance
from .match import (
    MatchPlots,
    MatchReport,
    changes,
    open_snapshot,
    options_from,
    plan_match,
    rendered_from,
)

BALANCE_SHARE = 0.3  # of the progress bar


def plan_mix(
    project: Project,
    reference: str | Path,
    *,
    method: str = "role",
    stems: list[str] | None = None,
    options: MatchOptions | None = None,
    skip_unplayable: bool = False,
    rendered: Mapping[str, str] | None = None,
    rendered_start: float = 0.0,
    rendered_post_fader: bool = False,
    spectra: SpectrumRecorder | None = None,
    plots: MatchPlots | None = None,
    progress: Progress = lambda fraction, message: None,
    cancelled: Cancelled = lambda: False,
) -> tuple[BalanceReport | None, MatchReport, MatchDecision]:
    """Balance every folder (deepest first), then match the stems; both staged in the model.
    A project without folders skips stage 1 (the balance report is then None). Tracks the
    headless renderer cannot play come as REAPER's renders (``rendered``); without them stage
    1 refuses them as ``balance`` does (or, with ``skip_unplayable``, analyses them as the
    renderer plays them) and stage 2 leaves their stems untouched. ``spectra`` and ``plots``
    collect the report's plot data of each stage (see plan_balance and plan_match)."""
    rendering = dict(rendered=rendered, rendered_start=rendered_start,
                     rendered_post_fader=rendered_post_fader)
    balance = None
    if project.folders:
        balance = plan_balance(
            project, None, method=method, skip_unplayable=skip_unplayable, **rendering,
            spectra=spectra, progress=lambda f, m: progress(BALANCE_SHARE * f, m),
            cancelled=cancelled)
    report, decision = plan_match(
        project, reference, stems=stems, options=options or MatchOptions(), **rendering,
        plots=plots, progress=lambda f, m: progress(BALANCE_SHARE + (1 - BALANCE_SHARE) * f, m),
        cancelled=cancelled)
    if balance is None:
        report.warnings.insert(0, "the project has no folders: stage 1 (Auto balance group) "
                                  "was skipped")
    return balance, report, decision


def run(request: dict[str, Any], progress: Progress, cancelled: Cancelled) -> dict[str, Any]:
    """Worker entry point: balance and match a project snapshot (and write the report and
    previews the request asks for)."""
    asked = ReportRequest.from_request(request)
    try:
        project = open_snapshot(request)
        before = {id(t): (t.volume, t.pan) for t in project.tracks}
        spectra = SpectrumRecorder(project.sample_rate) if asked.html else None
        plots = MatchPlots() if asked.html else None
        balance, report, _ = plan_mix(
            project, request["reference"], method=request.get("method", "role"),
            stems=request.get("stems") or None, options=options_from(request),
            skip_unplayable=bool(request.get("skip_unplayable", False)),
            **rendered_from(request), spectra=spectra, plots=plots, progress=progress,
            cancelled=cancelled)
    except (OSError, ValueError, LookupError) as exc:
        raise JobError(str(exc)) from exc
    result = {**changes(project, before), "balance": balance.to_json() if balance else None,
              "report": report.to_json()}
    if not asked.wanted:
        return result
    from ..report.match import publish_mix  # matplotlib: imported only for a report

    files = job_files(asked, partial(publish_mix, result["balance"], spectra, result["report"],
                                     plots, reference=request["reference"]),
                      before=open_snapshot(request) if asked.preview_dir else None,
                      after=project, render=rendered_from(request))
    return {**result, "files": files}
