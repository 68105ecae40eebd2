"""The "Auto balance group" job: render each folder's children, decide fader gains, write them.

Folders are balanced bottom-up, so a child folder counts as one track (its rendered sum with its
own, already balanced, children) of its parent. The decision itself is the pure rule of
:mod:`reaper_automix.decisions.balance`; this module connects it to a session.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ..analysis.cfb import METHODS
from ..analysis.spectrum import SpectrumRecorder
from ..audio.playable import (
    UnplayableTracksError,
    analysed_children,
    describe_unplayable,
    tracks_to_render,
    unplayable_tracks,
    unplayable_warning,
)
from ..audio.render import Renderer
from ..decisions.balance import decide_balance
from ..hosts.rpp import open_project
from ..report import ReportRequest, job_files
from ..session import FADER_MAX_DB, FADER_MIN_DB, Project, Track
from . import Cancelled, JobCancelled, JobError, Progress

@dataclass
class TrackBalance:
    name: str
    guid: str
    active: bool
    loudness_db: float | None
    gain_db: float | None
    volume_before_db: float
    volume_after_db: float
    reason: str | None = None
    band_hz: tuple[float, float] | None = None


@dataclass
class GroupBalance:
    """One folder's decision. ``level_shift_db`` (≤ 0) lowers every child equally when the
    rule's gains would pass REAPER's +12 dB fader top: the balance stays exact, the summed group
    peaks ``-level_shift_db`` dB below -0.1 dBFS (raise the folder fader to restore it)."""

    name: str
    guid: str
    target_db: float | None
    level_shift_db: float = 0.0
    tracks: list[TrackBalance] = field(default_factory=list)


@dataclass
class BalanceReport:
    method: str
    groups: list[GroupBalance] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return _finite(asdict(self))


def _finite(value: Any) -> Any:
    """JSON has no infinities: -inf dB becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def groups_to_balance(project: Project, keys: list[str] | None, recursive: bool) -> list[Track]:
    """The folders to balance, deepest first. No keys: every folder of the project."""
    if not keys:
        chosen = list(project.folders)
    else:
        chosen = []
        for key in keys:
            track = project.track(key)
            folder = track if track.is_folder else track.parent
            if folder is None:
                raise JobError(
                    f"track {track.display_name!r} is neither a folder nor inside one; "
                    "select a folder track (or a track inside a folder)"
                )
            chosen.append(folder)
            if recursive:
                chosen.extend(t for t in folder.descendants() if t.is_folder)
    if not chosen:
        raise JobError(
            f"{project.path.name if project.path else 'the project'} has no folder tracks; "
            "group tracks into folders (subgroups) first"
        )
    unique = list({id(t): t for t in chosen}.values())
    return sorted(unique, key=lambda t: -t.depth)


def plan_balance(
    project: Project,
    groups: list[str] | None = None,
    *,
    method: str = "centroid",
    recursive: bool = False,
    skip_missing: bool = False,
    skip_unplayable: bool = False,
    rendered: Mapping[str, str] | None = None,
    rendered_start: float = 0.0,
    rendered_post_fader: bool = False,
    offsets_db: Mapping[str, float] | None = None,
    spectra: SpectrumRecorder | None = None,
    progress: Progress = lambda fraction, message: None,
    cancelled: Cancelled = lambda: False,
) -> BalanceReport:
    """Balance the chosen folders, setting the children's faders in the model (not saved).

    ``offsets_db`` maps a track GUID to its target relative to the group's common CFB loudness
    (e.g. −6 for a hi-hat kept under the kick); tracks not named get 0 dB. Tracks the headless
    renderer cannot play must come as REAPER's renders (``rendered``, see
    :class:`~reaper_automix.audio.render.Renderer`), else they are refused, or analysed as it
    plays them with ``skip_unplayable`` (a warning each). ``spectra``, when given (for the
    report), records each analysed child's long-term spectrum by GUID.
    """
    if method not in METHODS:
        raise JobError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    folders = groups_to_balance(project, groups, recursive)
    renderer = Renderer(project, skip_missing=skip_missing, cache_bytes=0,  # one read per source
                        rendered=rendered, rendered_start=rendered_start,
                        rendered_post_fader=rendered_post_fader)
    roots = [child for folder in folders for child in analysed_children(folder)]
    missing = [t for t in tracks_to_render(roots) if renderer.rendered_track_path(t) is None]
    unplayable = unplayable_tracks(roots) if missing else []
    if unplayable and not skip_unplayable:
        raise UnplayableTracksError(describe_unplayable(
            unplayable, "Run AutoMix: Auto balance group inside REAPER (REAPER renders them)"))
    report = BalanceReport(method=method)
    before = {id(t): t.volume for t in project.tracks}
    for number, folder in enumerate(folders):
        if cancelled():
            raise JobCancelled("cancelled; no fader was changed")
        progress(number / len(folders), f"balancing {folder.display_name}")
        report.groups.append(_balance_folder(renderer, folder, method, offsets_db or {}, spectra))
        release_freed_memory()
    report.warnings = [*map(unplayable_warning, unplayable), *renderer.warnings]
    report.warnings += [  # a REAPER render holds the children's faders as they were
        f"folder {t.display_name!r} was rendered by REAPER with its children's faders as they "
        f"were before this balance; run the action again to balance {t.parent.display_name!r} "
        "with the new ones" for f in folders for t in analysed_children(f)
        if renderer.rendered_track_path(t) is not None
        and any(d.volume != before[id(d)] for d in t.descendants())]
    progress(1.0, "done")
    return report


def _balance_folder(
    renderer: Renderer, folder: Track, method: str, offsets_db: Mapping[str, float],
    spectra: SpectrumRecorder | None = None,
) -> GroupBalance:
    candidates = analysed_children(folder)
    loaders = [partial(renderer.track, child, fader=False) for child in candidates]
    if spectra is not None:
        loaders = [spectra.recording(c.guid, load) for c, load in zip(candidates, loaders)]
    decision = decide_balance(  # renders each child on the analysis threads, one at a time
        loaders, renderer.sample_rate, method=method,
        offsets_db=[offsets_db.get(child.guid, 0.0) for child in candidates],
        names=[child.display_name for child in candidates],
    )
    group = GroupBalance(folder.display_name, folder.guid, decision.target_db)
    gains = [r.gain_db for r in decision.tracks if r.active and r.gain_db is not None]
    group.level_shift_db = min(0.0, FADER_MAX_DB - max(gains)) if gains else 0.0
    by_child = dict(zip(map(id, candidates), decision.tracks))
    for child in folder.children:
        result = by_child.get(id(child))
        if result is None:
            reason = "muted" if child.mute else "not sent to its folder (MAINSEND off)"
            group.tracks.append(TrackBalance(child.display_name, child.guid, False, None, None,
                                             child.volume_db, child.volume_db, reason))
            continue
        entry = TrackBalance(
            child.display_name, child.guid, result.active, result.loudness_db,
            result.gain_db if result.active else None, child.volume_db, child.volume_db,
            result.reason if _has_items(child) else "no media items to measure",
            band_hz=result.band_hz,
        )
        if result.active and result.gain_db is not None:
            fader_db = max(result.gain_db + group.level_shift_db, FADER_MIN_DB)
            child.volume_db = entry.volume_after_db = fader_db
        group.tracks.append(entry)
    return group


def release_freed_memory() -> None:
    """Hand memory the analysis threads freed back to the system (glibc keeps it in per-thread
    arenas otherwise, and the process's footprint grows folder after folder)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _has_items(track: Track) -> bool:
    return any(item.takes for t in (track, *track.descendants()) for item in t.items)


def run(request: dict[str, Any], progress: Progress, cancelled: Cancelled) -> dict[str, Any]:
    """Worker entry point: balance a project snapshot and return the new fader values (and
    write the report and previews the request asks for, see :mod:`reaper_automix.report`)."""
    asked = ReportRequest.from_request(request)
    try:
        project = _open_snapshot(request)
        before = {id(t): t.volume for t in project.tracks}
        spectra = SpectrumRecorder(project.sample_rate) if asked.html else None
        report = plan_balance(
            project,
            request.get("groups") or None,
            method=request.get("method", "centroid"),
            recursive=bool(request.get("recursive", False)),
            skip_missing=bool(request.get("skip_missing", False)),
            skip_unplayable=bool(request.get("skip_unplayable", False)),
            rendered=request.get("rendered") or None,
            rendered_start=float(request.get("rendered_start", 0.0)),
            rendered_post_fader=bool(request.get("rendered_post_fader", False)),
            spectra=spectra,
            progress=progress,
            cancelled=cancelled,
        )
        files = _publish(asked, request, report, spectra, project) if asked.wanted else None
    except (OSError, ValueError, LookupError) as exc:  # missing media, bad project, no track
        raise JobError(str(exc)) from exc
    faders = [
        {"guid": t.guid, "name": t.display_name, "volume": t.volume}
        for t in project.tracks
        if t.volume != before[id(t)]
    ]
    result = {"faders": faders, "report": report.to_json()}
    return result if files is None else {**result, "files": files}


def _publish(asked: ReportRequest, request: dict[str, Any], report: BalanceReport,
             spectra: SpectrumRecorder | None, project: Project) -> dict[str, Any]:
    from ..report.balance import publish_balance  # matplotlib: imported only for a report

    before = _open_snapshot(request) if asked.preview_dir else None
    render = {"rendered": request.get("rendered") or None,
              "rendered_start": float(request.get("rendered_start", 0.0)),
              "rendered_post_fader": bool(request.get("rendered_post_fader", False))}
    return job_files(asked, partial(publish_balance, report.to_json(), spectra), before=before,
                     after=project, skip_missing=bool(request.get("skip_missing", False)),
                     render=render)


def _open_snapshot(request: dict[str, Any]) -> Project:
    project = open_project(Path(request["project"]), media_dir=request.get("project_dir"))
    if request.get("sample_rate"):
        project.sample_rate = int(request["sample_rate"])
    return project
