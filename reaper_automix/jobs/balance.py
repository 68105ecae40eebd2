"""The "Auto balance group" job: render each folder's children, decide fader gains, write them.

Folders are balanced bottom-up, so a child folder counts as one track (its rendered sum with its
own, already balanced, children) of its parent. The decision itself is the pure rule of
:mod:`reaper_automix.decisions.balance`; this module connects it to a session.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.cfb import METHODS as CFB_METHODS
from ..analysis.tracks import DEFAULT_WORKERS
from ..analysis.role_offsets import RoleOffsets, shipped_role_offsets
from ..analysis.roles import EXT_KEY, RoleGuess, parse_role, role_from_name
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
from ..decisions.balance import LEVELS, decide_balance
from ..hosts.rpp import open_project
from ..jsonable import jsonable
from ..report import ReportRequest, job_files
from ..session import FADER_MAX_DB, FADER_MIN_DB, Project, Track
from . import Cancelled, JobCancelled, JobError, Progress
from .headroom import HeadroomOutcome, MixHeadroom
from .memory import release_freed_memory

#: ``role``: centroid band loudness plus each track's role offset; the others equalise loudness.
METHODS = ("role", *CFB_METHODS)

#: Folders balanced at the same time: one's level decision overlaps the next one's analysis, and
#: both analyse their tracks on the job's one pool of DEFAULT_WORKERS threads. One at a time for
#: f0, whose PESTO runs hold enough memory that two folders' sums on top would pass 2 GB.
FOLDERS_AT_ONCE = {"f0": 1}
FOLDERS_AT_ONCE_DEFAULT = 2

#: With the default level rule, children's faders stay this far under the fader top: where the
#: balance needs more, every child moves down and the folder fader up by as much (the mix is
#: unchanged), so quiet tracks are not boosted into the top.
FADER_ROOM_DB = 6.0

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
    note: str | None = None  # e.g. the fader reached its top
    role: str | None = None  # method "role": the role, where it came from, how sure, and why
    role_source: str | None = None
    role_confidence: float | None = None
    role_evidence: str | None = None
    offset_db: float | None = None  # the target offset the role gives


@dataclass
class GroupBalance:
    """One folder's decision.

    ``level_shift_db`` (≤ 0) lowers every child equally when the rule's gains would pass the
    fader limit: REAPER's +12 dB top with ``level="peak"`` (the summed group then peaks
    ``-level_shift_db`` dB below -0.1 dBFS: raise the folder fader to restore it), or
    +12 - FADER_ROOM_DB with ``level="keep"``, where the folder fader rises by
    ``folder_shift_db`` to make up for it (by all of it unless the folder fader reaches its top).
    ``loudness_before_lufs`` / ``loudness_after_lufs`` are the children's sum (pre folder fader).
    """

    name: str
    guid: str
    target_db: float | None
    level_shift_db: float = 0.0
    tracks: list[TrackBalance] = field(default_factory=list)
    level: str = "keep"
    loudness_before_lufs: float | None = None
    loudness_after_lufs: float | None = None
    peak_limit_db: float = 0.0
    folder_volume_before_db: float | None = None
    folder_volume_after_db: float | None = None
    folder_shift_db: float = 0.0
    notes: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)  # what the report shows, in words

    def summarise(self) -> list[str]:
        """The group's outcome in words (shown by the CLI and in REAPER's console)."""
        lines = []
        if self.level == "keep" and self.loudness_before_lufs is not None:
            after = self.loudness_after_lufs + self.folder_shift_db  # through the folder fader
            lines.append(f"level kept: children {self.loudness_before_lufs:.1f} LUFS before, "
                         f"{after:.1f} LUFS after"
                         + (f" (their faders {self.level_shift_db:+.1f} dB, the folder fader "
                            f"{self.folder_shift_db:+.1f} dB)" if self.folder_shift_db else ""))
        elif self.level == "peak" and self.target_db is not None:
            lines.append(f"peak rule: the children peak at -0.1 dBFS (target {self.target_db:+.1f} dB)")
        lines.extend(self.notes)
        if self.level_shift_db < 0 and self.level == "keep":
            lines.append(f"every child {self.level_shift_db:+.1f} dB and the folder fader "
                         f"{self.folder_shift_db:+.1f} dB, to keep the children's faders under "
                         f"{FADER_MAX_DB - FADER_ROOM_DB:+.0f} dB where the folder fader allows")
        elif self.level_shift_db < 0:
            lines.append(f"every child {self.level_shift_db:+.1f} dB to fit the {FADER_MAX_DB:+.0f} dB "
                         f"fader top: raise the folder fader {-self.level_shift_db:.1f} dB for a "
                         "-0.1 dBFS peak")
        return lines


@dataclass
class BalanceReport:
    method: str
    groups: list[GroupBalance] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    level: str = "keep"
    role_offsets: str | None = None  # "shipped" or the user's table (method "role")
    headroom: HeadroomOutcome | None = None  # the whole mix's peak (level "keep")
    summary: list[str] = field(default_factory=list)  # the whole mix's outcome, in words

    def to_json(self) -> dict[str, Any]:
        return jsonable(asdict(self))


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
    method: str = "role",
    recursive: bool = False,
    skip_missing: bool = False,
    skip_unplayable: bool = False,
    rendered: Mapping[str, str] | None = None,
    rendered_start: float = 0.0,
    rendered_post_fader: bool = False,
    offsets_db: Mapping[str, float] | None = None,
    level: str = "keep",
    roles: Mapping[str, str] | None = None,
    role_offsets: RoleOffsets | None = None,
    spectra: SpectrumRecorder | None = None,
    progress: Progress = lambda fraction, message: None,
    cancelled: Cancelled = lambda: False,
) -> BalanceReport:
    """Balance the chosen folders, setting the children's faders in the model (not saved).

    ``offsets_db`` maps a track GUID to its target relative to the group's common CFB loudness
    (e.g. −6 for a hi-hat kept under the kick); tracks not named get 0 dB. ``level``: "keep"
    (each folder's children keep their summed loudness) or "peak" (the summed children peak at
    -0.1 dBFS), algorithms.md A.3. Tracks the headless renderer cannot play must come as
    REAPER's renders (``rendered``, see :class:`~reaper_automix.audio.render.Renderer`), else
    they are refused, or analysed as it plays them with ``skip_unplayable`` (a warning each).

    Method ``role``: each child's offset is its role's in ``role_offsets`` (default: the shipped
    table). ``roles`` maps a track name or GUID to the role the engineer chose; otherwise a role
    saved in the project (track ext-state ``automix_role``), then the track's (or its takes')
    name decide, then the audio role classifier. ``spectra``, when given (for the report), records
    each analysed child's long-term spectrum by GUID.
    """
    if method not in METHODS:
        raise JobError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if level not in LEVELS:
        raise JobError(f"unknown level {level!r}; choose one of {', '.join(LEVELS)}")
    folders = groups_to_balance(project, groups, recursive)
    chosen = _chosen_roles(project, roles or {}) if method == "role" else {}
    if method == "role":
        role_offsets = role_offsets or shipped_role_offsets()
    renderer = Renderer(project, skip_missing=skip_missing, cache_bytes=0,  # one read per source
                        rendered=rendered, rendered_start=rendered_start,
                        rendered_post_fader=rendered_post_fader)
    roots = [child for folder in folders for child in analysed_children(folder)]
    missing = [t for t in tracks_to_render(roots) if renderer.rendered_track_path(t) is None]
    unplayable = unplayable_tracks(roots) if missing else []
    if unplayable and not skip_unplayable:
        raise UnplayableTracksError(describe_unplayable(
            unplayable, "Run AutoMix: Auto balance group inside REAPER (REAPER renders them)"))
    report = BalanceReport(method=method, level=level,
                           role_offsets=role_offsets.origin if method == "role" else None)
    before = {id(t): t.volume for t in project.tracks}

    headroom = MixHeadroom(project, renderer, before) if level == "keep" else None

    def balance(folder: Track, waits_for: list[Future]) -> GroupBalance:
        for child_folder in waits_for:  # its child folders' new faders change its render
            child_folder.result()
        if cancelled():
            raise JobCancelled("cancelled; no fader was changed")
        return _balance_folder(renderer, folder, method, offsets_db or {}, level, chosen,
                               role_offsets, spectra, headroom, analysis)

    progress(0.0, f"balancing {folders[0].display_name}")
    at_once = FOLDERS_AT_ONCE.get(method, FOLDERS_AT_ONCE_DEFAULT)
    with ThreadPoolExecutor(at_once, thread_name_prefix="folder") as pool, \
            ThreadPoolExecutor(DEFAULT_WORKERS, thread_name_prefix="analyse") as analysis:
        started: dict[int, Future] = {}
        for folder in folders:  # deepest first: a folder's child folders were submitted before it
            waits_for = [started[id(d)] for d in folder.descendants() if id(d) in started]
            started[id(folder)] = pool.submit(balance, folder, waits_for)
        try:
            for number, folder in enumerate(folders, start=1):
                report.groups.append(started[id(folder)].result())
                release_freed_memory()
                if number < len(folders):
                    progress(number / len(folders), f"balancing {folders[number].display_name}")
        finally:
            for future in started.values():
                future.cancel()
    if headroom is not None:
        progress(1.0, "checking the whole mix for clipping")
        report.headroom = headroom.apply()
        report.summary = [line for line in [report.headroom.describe()] if line]
        if report.headroom.left_out:
            renderer.warnings.append("the check that the whole mix does not clip left out "
                                     + ", ".join(report.headroom.left_out))
    report.warnings = [*(role_offsets.notes if method == "role" else ()),
                       *map(unplayable_warning, unplayable), *renderer.warnings]
    report.warnings += [  # a REAPER render holds the children's faders as they were
        f"folder {t.display_name!r} was rendered by REAPER with its children's faders as they "
        f"were before this balance; run the action again to balance {t.parent.display_name!r} "
        "with the new ones" for f in folders for t in analysed_children(f)
        if renderer.rendered_track_path(t) is not None
        and any(d.volume != before[id(d)] for d in t.descendants())]
    progress(1.0, "done")
    return report


def _balance_folder(
    renderer: Renderer, folder: Track, method: str, offsets_db: Mapping[str, float], level: str,
    chosen: Mapping[str, RoleGuess], role_offsets: RoleOffsets | None,
    spectra: SpectrumRecorder | None = None, headroom: MixHeadroom | None = None,
    analysis: Executor | None = None,
) -> GroupBalance:
    candidates = analysed_children(folder)
    loaders = [partial(renderer.track, child, fader=False) for child in candidates]
    if spectra is not None:
        loaders = [spectra.recording(c.guid, load) for c, load in zip(candidates, loaders)]
    if method == "role":
        targets = {"roles": [known_role(c, chosen) for c in candidates],
                   "role_offsets": role_offsets.offsets_db}
    else:
        targets = {"offsets_db": [offsets_db.get(child.guid, 0.0) for child in candidates]}
    sums: list[np.ndarray] = []
    wanted = headroom is not None and headroom.summed(folder)
    decision = decide_balance(  # renders each child on the analysis threads, one at a time
        loaders, renderer.sample_rate, method="centroid" if method == "role" else method,
        level=level, current_gains_db=[child.volume_db for child in candidates],
        names=[child.display_name for child in candidates],
        stems=(lambda *both: sums.extend(both)) if wanted else None,
        executor=analysis, **targets,
    )
    group = GroupBalance(
        folder.display_name, folder.guid, decision.target_db, level=decision.level,
        loudness_before_lufs=decision.loudness_before_lufs,
        loudness_after_lufs=decision.stem_loudness_lufs, peak_limit_db=decision.peak_limit_db,
        notes=list(decision.notes),
    )
    gains = [r.gain_db for r in decision.tracks if r.active and r.gain_db is not None]
    _fit_fader_range(group, folder, max(gains) if gains else None)
    if group.loudness_after_lufs is not None:
        group.loudness_after_lufs += group.level_shift_db
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
        if result.role is not None:
            entry.role, entry.role_source = result.role.role, result.role.source
            entry.role_confidence, entry.role_evidence = result.role.confidence, result.role.evidence
            entry.offset_db = result.offset_db
        if result.active and result.gain_db is not None:
            fader_db = max(result.gain_db + group.level_shift_db, FADER_MIN_DB)
            child.volume_db = entry.volume_after_db = fader_db
            if fader_db >= FADER_MAX_DB - 1e-9:
                entry.note = f"at the {FADER_MAX_DB:+.0f} dB fader top"
        group.tracks.append(entry)
    group.summary = group.summarise()
    if sums:  # the children's sum after, with their common shift (the folder's is its fader's)
        headroom.add(folder, sums[0], sums[1], after_gain=10.0 ** (group.level_shift_db / 20.0))
    return group


def _fit_fader_range(group: GroupBalance, folder: Track, top_gain_db: float | None) -> None:
    """Set the group's common shift (and, keeping the level, the folder fader's make-up) so that
    no child's fader passes its limit; see GroupBalance.

    Keeping the level, children prefer to stay FADER_ROOM_DB under the fader top: they move down
    and the folder fader up by as much, as far as the folder fader can go (+12 dB); past that the
    children use their room, and only past their own top does the folder lose level."""
    group.folder_volume_before_db = group.folder_volume_after_db = folder.volume_db
    if top_gain_db is None:
        return
    if group.level != "keep":
        group.level_shift_db = min(0.0, FADER_MAX_DB - top_gain_db)
        return
    wanted = max(0.0, top_gain_db - (FADER_MAX_DB - FADER_ROOM_DB))
    if wanted == 0.0:
        return
    make_up = 0.0 if folder.volume_db == -math.inf else min(wanted, max(0.0, FADER_MAX_DB - folder.volume_db))
    needed = max(0.0, top_gain_db - FADER_MAX_DB)  # what the children must move at least
    group.level_shift_db = -max(make_up, needed)
    if make_up > 0.0:
        folder.volume_db = group.folder_volume_after_db = folder.volume_db + make_up
        group.folder_shift_db = make_up
    if needed > make_up + 0.05:
        group.notes.append(f"the folder fader is at its {FADER_MAX_DB:+.0f} dB top: the folder "
                           f"plays {needed - make_up:.1f} dB quieter than before")


def known_role(track: Track, chosen: Mapping[str, RoleGuess]) -> RoleGuess | None:
    """The role of a folder child as far as it is known without its audio: the engineer's
    choice (``chosen`` by GUID, then the project's ext-state), the track's name, its takes'
    names; a child folder whose name says nothing counts as ``other``."""
    if track.guid in chosen:
        return chosen[track.guid]
    stored = track.ext.get(EXT_KEY, "").strip()
    if stored:
        try:
            return RoleGuess(parse_role(stored), "user", 1.0, "saved in the project")
        except ValueError:
            pass  # an unknown role saved by another version: decide as if none were saved
    guess = role_from_name(track.name)
    if guess is not None:
        return guess
    for name in dict.fromkeys(take.name for item in track.items for take in item.takes if take.name):
        guess = role_from_name(name)
        if guess is not None:
            return RoleGuess(guess.role, "name", round(0.9 * guess.confidence, 2),
                             f"take {name!r}: {guess.evidence}")
    if track.is_folder:
        return RoleGuess("other", "default", 0.0, "a folder (a submix of several parts)")
    return None


def _chosen_roles(project: Project, roles: Mapping[str, str]) -> dict[str, RoleGuess]:
    """``--role`` choices by track GUID; every key must name a track (name or GUID)."""
    chosen: dict[str, RoleGuess] = {}
    for key, value in roles.items():
        try:
            role = parse_role(value)
        except ValueError as exc:
            raise JobError(f"role for {key!r}: {exc}") from None
        matches = [t for t in project.tracks if key in (t.guid, t.name) or t.name.casefold() == key.casefold()]
        if not matches:
            names = ", ".join(repr(t.display_name) for t in project.tracks) or "none"
            raise JobError(f"--role {key!r}: no track has that name or GUID (tracks: {names})")
        for track in matches:
            chosen[track.guid] = RoleGuess(role, "user", 1.0, f"chosen for {key!r}")
    return chosen


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
            method=request.get("method", "role"),
            level=request.get("level", "keep"),
            roles=request.get("roles") or None,
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
