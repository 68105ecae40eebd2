"""The "Match reference" job: render the stems, fit the console to the reference, stage the result.

Stems are the top-level tracks and folders that reach the master (or the ones named), rendered
as they sound before their fader: post-FX, with the balance of their children (stage 1) already
in. Our own tagged MultiEQ and OmniCompressor are left out of that render, since their values
are what the fit decides. Everything else that reaches the master is rendered post-fader as a
fixed part of the mix. The decision is :func:`reaper_automix.decisions.match.match_reference`;
this module connects it to a session and stages faders, pans and the two plug-ins per stem.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.io import MediaError, read_audio, resample
from ..audio.playable import tracks_to_render, unplayable_reason, unplayable_tracks
from ..audio.render import MissingMediaError, Renderer
from ..console.params import EQ_BANDS, WrittenStem
from ..decisions.match import (
    DEFAULT_START,
    MatchCancelled,
    MatchDecision,
    MatchError,
    MatchOptions,
    match_reference,
)
from ..hosts.rpp import open_project
from ..iem import MULTIEQ, OMNICOMPRESSOR, fx_params, process
from ..jsonable import jsonable
from ..session import Project, Track
from ..report import ReportRequest, job_files
from . import Cancelled, JobCancelled, JobError, Progress
from .memory import release_freed_memory

TAG_MULTIEQ = "AutoMix Match EQ"
TAG_COMPRESSOR = "AutoMix Match Comp"
REFERENCE_SUFFIXES = (".wav", ".flac", ".mp3")
_EQ_KIND = {3.0: "low shelf", 1.0: "peak"}


@dataclass
class EqBandReport:
    band: int  # 1 … 6, as the plug-in shows them
    kind: str
    enabled: bool
    frequency_hz: float
    q: float
    gain_db: float


@dataclass
class StemReport:
    """One stem: what it held and what is written (``after`` equals ``before`` if untouched)."""

    name: str
    guid: str
    status: str  # "matched", "silent", "too loud", "missing media", "cannot be rendered"
    reason: str | None
    loudness_lufs: float | None
    fader_before_db: float
    fader_after_db: float
    pan_before: float
    pan_after: float
    eq: list[EqBandReport] = field(default_factory=list)
    compressor: dict[str, float] = field(default_factory=dict)
    eq_before: list[EqBandReport] = field(default_factory=list)  # empty: no MultiEQ of ours
    compressor_before: dict[str, float] = field(default_factory=dict)  # empty: none of ours

    @property
    def matched(self) -> bool:
        return self.status == "matched"


@dataclass
class MatchReport:
    reference: str
    reference_lufs: float
    before_lufs: float
    after_lufs: float
    target_lufs: float
    match_loudness: bool
    amount: float
    fit: str
    written: bool  # False with amount 0 (nothing to change)
    start: str = "neutral"  # where the fit started: "model" (MatchNet) or "neutral"
    stems: list[StemReport] = field(default_factory=list)
    distances: dict[str, dict[str, float]] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    budget_s: float = 0.0
    sample_rate: int = 0
    #: the mix's features before and after and the reference's ("reference", "before",
    #: "after"; see decisions.match.MatchDecision.features) and the fit's loss trace
    features: dict[str, dict[str, Any]] = field(default_factory=dict)
    trace: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return jsonable(asdict(self))


@dataclass
class MatchPlots:
    """What the report draws beyond the JSON, collected by :func:`plan_match` only when a
    report is asked for: per matched stem (by GUID) whose compressor is engaged, channel 0 of
    the stem after its MultiEQ (what keys OmniCompressor), for the gain reduction over time."""

    sample_rate: int = 0
    compressor_input: dict[str, np.ndarray] = field(default_factory=dict)


# ----------------------------------------------------------------------------------- inputs
def reaches_master(track: Track) -> bool:
    return track.parent is None and track.main_send and not track.mute


def stems_to_match(project: Project, names: list[str] | None = None) -> list[Track]:
    """The stems: top-level tracks and folders that reach the master, or the ones named (which
    must be such tracks). At least two are needed."""
    candidates = [t for t in project.top_level if reaches_master(t)]
    if names:
        chosen = []
        for name in names:
            track = project.track(name)
            if not reaches_master(track):
                why = ("is inside folder " + repr(track.parent.display_name)
                       if track.parent is not None else "does not reach the master (muted or "
                       "master send off)")
                raise JobError(f"stem {track.display_name!r} {why}: name top-level tracks or "
                               "folders that play into the master")
            chosen.append(track)
        candidates = list({id(t): t for t in chosen}.values())
    where = project.path.name if project.path else "the project"
    if len(candidates) < 2:
        found = f"only {candidates[0].display_name!r}" if candidates else "none"
        raise JobError(f"{where} has {found} as stem: Match reference balances two or more "
                       "top-level tracks or folders against each other (group the tracks into "
                       "folders such as drums, bass, vocals and other)")
    return candidates


def read_reference(path: str | Path, sample_rate: int) -> np.ndarray:
    """The reference file as stereo float32 at the project rate (resampled if needed)."""
    path = Path(path)
    if not path.exists():
        raise JobError(f"reference {path} not found: give the path of a WAV, FLAC or MP3 mix")
    if path.suffix.lower() not in REFERENCE_SUFFIXES:
        raise JobError(f"reference {path.name}: use a .wav, .flac or .mp3 file")
    try:
        audio, rate = read_audio(path)
    except MediaError as exc:
        raise JobError(f"reference {path} cannot be read ({exc}): export it again as WAV or "
                       "FLAC") from exc
    if audio.shape[1] != 2:
        raise JobError(f"reference {path.name} has {audio.shape[1]} channel(s): Match reference "
                       "needs a stereo mix (its width and balance are part of the style)")
    return np.ascontiguousarray(resample(audio, rate, sample_rate), dtype=np.float32)


@contextmanager
def _without_our_plugins(tracks: list[Track]) -> Iterator[None]:
    """Render the stems with our tagged instances bypassed (their values are being decided)."""
    ours = [fx for t in tracks for d in (t, *t.descendants()) for fx in d.fx
            if fx.custom_name in (TAG_MULTIEQ, TAG_COMPRESSOR) and fx.iem_plugin is not None]
    states = [fx.bypassed for fx in ours]
    try:
        for fx in ours:
            fx.bypassed = True
        yield
    finally:
        for fx, state in zip(ours, states):
            fx.bypassed = state


def _status(reason: str) -> str:
    """The status of a stem the decision left out, from its reason."""
    return "silent" if reason.startswith("silent") else "too loud"


def _unrenderable(renderer: Renderer, stem: Track) -> str | None:
    """Why the stem cannot be heard as REAPER plays it before its fader, or None."""
    ours = [fx for fx in stem.fx if fx.custom_name in (TAG_MULTIEQ, TAG_COMPRESSOR) and fx.active]
    if renderer.rendered_track_path(stem) is not None and ours:
        return ("REAPER rendered it with its AutoMix Match plug-ins, whose values are being "
                "decided; bypass them and run again")
    if not [t for t in tracks_to_render([stem]) if renderer.rendered_track_path(t) is None]:
        return None
    named = "; ".join(f"{t.display_name!r}: {unplayable_reason(t)}"
                      for t in unplayable_tracks([stem]))
    return (f"the headless renderer cannot play {named}; run AutoMix: Match reference inside "
            "REAPER (REAPER renders it)")


def _current(track: Track) -> WrittenStem:
    """The stem's fader, pan and our plug-ins' values (empty when absent)."""
    eq = track.find_fx(MULTIEQ.name, TAG_MULTIEQ)
    comp = track.find_fx(OMNICOMPRESSOR.name, TAG_COMPRESSOR)
    return WrittenStem(track.volume_db, track.pan, fx_params(eq) if eq else {},
                       fx_params(comp) if comp else {})


def _chain_warnings(track: Track) -> list[str]:
    """Where the track's chain will not play as the console computes."""
    warnings = []
    labels = [fx.custom_name for fx in track.fx]
    if TAG_COMPRESSOR in labels and TAG_MULTIEQ in labels and \
            labels.index(TAG_COMPRESSOR) < labels.index(TAG_MULTIEQ):
        warnings.append(f"track {track.display_name!r}: {TAG_COMPRESSOR!r} comes before "
                        f"{TAG_MULTIEQ!r}; move the EQ first to hear what the fit computed")
    ours = [i for i, label in enumerate(labels) if label in (TAG_MULTIEQ, TAG_COMPRESSOR)]
    if ours and any(fx.active for fx in track.fx[max(ours) + 1:]):
        warnings.append(f"track {track.display_name!r}: plug-ins after the AutoMix Match EQ and "
                        "compressor were analysed as if they came before them")
    for fx in track.fx:
        if fx.custom_name in (TAG_MULTIEQ, TAG_COMPRESSOR) and not fx.active:
            warnings.append(f"track {track.display_name!r}: {fx.custom_name!r} is bypassed or "
                            "offline; enable it to hear the match")
    if not track.fx_enabled:
        warnings.append(f"track {track.display_name!r}: its FX chain is bypassed; enable it to "
                        "hear the match")
    return warnings


# ------------------------------------------------------------------------------------ the job
def plan_match(
    project: Project,
    reference: str | Path,
    *,
    stems: list[str] | None = None,
    options: MatchOptions = MatchOptions(),
    rendered: Mapping[str, str] | None = None,
    rendered_start: float = 0.0,
    rendered_post_fader: bool = False,
    start: np.ndarray | None = None,
    plots: MatchPlots | None = None,
    progress: Progress = lambda fraction, message: None,
    cancelled: Cancelled = lambda: False,
) -> tuple[MatchReport, MatchDecision]:
    """Match the stems to ``reference`` and stage the result in the model (save to write it).

    Tracks the headless renderer cannot play come as REAPER's renders (``rendered``, see
    :class:`~reaper_automix.audio.render.Renderer`); a stem that needs one it does not get is
    left untouched and named. ``start``: physical console parameters (stems × 25, in the order
    of :func:`stems_to_match`) to start the fit from instead of equal loudness. ``plots``
    collects what the report draws beyond the JSON."""
    started = time.monotonic()
    tracks = stems_to_match(project, stems)
    audio_reference = read_reference(reference, project.sample_rate)
    progress(0.0, "rendering the stems")
    rendering = dict(rendered=rendered, rendered_start=rendered_start,
                     rendered_post_fader=rendered_post_fader)
    renderer = Renderer(project, cache_bytes=0, **rendering)
    rendered: list[np.ndarray] = []
    playable: list[Track] = []
    untouched: dict[int, tuple[str, str]] = {}
    with _without_our_plugins(tracks):
        for number, track in enumerate(tracks):
            if cancelled():
                raise JobCancelled("cancelled; nothing was changed")
            progress(0.1 * number / len(tracks), f"rendering {track.display_name}")
            reason = _unrenderable(renderer, track)
            if reason is not None:
                untouched[id(track)] = ("cannot be rendered", reason)
                continue
            try:
                audio = renderer.track(track, fader=False, pan=False)
            except MissingMediaError as exc:
                untouched[id(track)] = ("missing media", str(exc))
                continue
            rendered.append(audio)
            playable.append(track)
    if not playable:
        raise JobError("no stem can be rendered headless: " + "; ".join(
            reason for _, reason in untouched.values()))
    rest_renderer = Renderer(project, skip_missing=True, cache_bytes=0, **rendering)
    others = [t for t in project.top_level if reaches_master(t) and t not in tracks]
    rest = None
    for track in others:
        part = rest_renderer.track(track)
        rest = part if rest is None else rest + part
    rendered_s = time.monotonic() - started
    try:
        decision = match_reference(
            rendered, audio_reference, project.sample_rate,
            current=[_current(t) for t in playable], names=[t.display_name for t in playable],
            rest=rest, options=options,
            start=None if start is None else np.asarray(start)[[tracks.index(t)
                                                                for t in playable]],
            progress=lambda fraction, message: progress(0.1 + 0.85 * fraction, message),
            cancelled=cancelled,
        )
    except MatchCancelled as exc:
        raise JobCancelled("cancelled; nothing was changed") from exc
    except MatchError as exc:
        raise JobError(str(exc)) from exc
    if plots is not None:
        _collect_plots(plots, project.sample_rate, playable, rendered, decision)
    del rendered
    release_freed_memory()
    warnings = list(decision.warnings) + list(rest_renderer.warnings)
    by_track = dict(zip(map(id, playable), decision.stems))
    report = MatchReport(
        reference=str(reference), reference_lufs=decision.reference_lufs,
        before_lufs=decision.before_lufs, after_lufs=decision.after_lufs,
        target_lufs=decision.target_lufs, match_loudness=options.match_loudness,
        amount=options.amount, fit=options.fit, written=decision.changed, start=decision.start,
        distances=decision.distances, steps=decision.steps,
        seconds={"render": rendered_s, **decision.seconds}, budget_s=decision.budget_s,
        sample_rate=project.sample_rate,
        features=decision.features, trace=decision.trace,
    )
    for track in tracks:
        result = by_track.get(id(track))
        if result is None or not result.active:
            reason = result.reason if result else ""
            status, reason = untouched.get(id(track), (_status(reason), reason))
            report.stems.append(StemReport(track.display_name, track.guid, status, reason, None,
                                           track.volume_db, track.volume_db, track.pan,
                                           track.pan))
            if status != "silent":
                warnings.append(f"stem {track.display_name!r} left untouched: {reason}")
            continue
        after = result.after
        if decision.changed:
            track.volume_db = after.fader_db
            track.pan = after.pan
            track.stage_iem_params(MULTIEQ.name, after.multieq, TAG_MULTIEQ)
            track.stage_iem_params(OMNICOMPRESSOR.name, after.omnicompressor, TAG_COMPRESSOR)
            warnings.extend(_chain_warnings(track))
        report.stems.append(StemReport(
            track.display_name, track.guid, "matched", None, result.loudness_lufs,
            result.before.fader_db, after.fader_db, result.before.pan, after.pan,
            _eq_report(after.multieq), _compressor_report(after.omnicompressor),
            _eq_report(result.before.multieq) if result.before.multieq else [],
            _compressor_report(result.before.omnicompressor)
            if result.before.omnicompressor else {}))
    report.warnings = warnings
    progress(1.0, "done")
    return report, decision


def _collect_plots(plots: MatchPlots, sample_rate: int, tracks: list[Track],
                   stems: list[np.ndarray], decision: MatchDecision) -> None:
    plots.sample_rate = sample_rate
    for track, stem, result in zip(tracks, stems, decision.stems):
        if result.active and OMNICOMPRESSOR.complete(result.after.omnicompressor)["ratio"] > 1.0:
            equalised = process(MULTIEQ, result.after.multieq, stem, sample_rate)
            plots.compressor_input[track.guid] = np.ascontiguousarray(equalised[:, 0])


def _eq_report(values: dict[str, float]) -> list[EqBandReport]:
    eq = MULTIEQ.complete(values)
    return [EqBandReport(band.multieq_band + 1,
                         "high shelf" if band.multieq_band == 5 else _EQ_KIND[band.multieq_type],
                         eq[f"filterEnabled{b}"] > 0.5, eq[f"filterFrequency{b}"],
                         eq[f"filterQ{b}"], eq[f"filterGain{b}"])
            for band in EQ_BANDS for b in (band.multieq_band,)]


def _compressor_report(values: dict[str, float]) -> dict[str, float]:
    comp = OMNICOMPRESSOR.complete(values)
    return {key: comp[key] for key in ("threshold", "ratio", "attack", "release", "knee",
                                       "outGain")}


# ------------------------------------------------------------------------------ the worker
def options_from(request: dict[str, Any]) -> MatchOptions:
    try:
        return MatchOptions(
            budget_s=float(request.get("budget_s", MatchOptions.budget_s)),
            amount=float(request.get("amount", 1.0)),
            match_loudness=bool(request.get("match_loudness", False)),
            fit=str(request.get("fit", "full")),
            steps=int(request["steps"]) if request.get("steps") else None,
            start=str(request.get("start", DEFAULT_START)),
        )
    except MatchError as exc:
        raise JobError(str(exc)) from exc


def rendered_from(request: dict[str, Any]) -> dict[str, Any]:
    """The REAPER renders a worker request hands over (reaper.stems.Stems.request_fields)."""
    return {"rendered": request.get("rendered") or None,
            "rendered_start": float(request.get("rendered_start", 0.0)),
            "rendered_post_fader": bool(request.get("rendered_post_fader", False))}


def changes(project: Project, before: dict[int, tuple[float, float]]) -> dict[str, Any]:
    """What a host must apply: faders/pans that moved, and every staged IEM plug-in."""
    faders = [{"guid": t.guid, "name": t.display_name, "volume": t.volume, "pan": t.pan}
              for t in project.tracks if (t.volume, t.pan) != before[id(t)]]
    plugins = [{"guid": t.guid, "name": t.display_name, "plugin": fx.iem_plugin.name,
                "tag": fx.custom_name, "params": fx_params(fx)}
               for t in project.tracks for fx in t.fx
               if (fx.is_new or fx.changes) and fx.iem_plugin is not None]
    return {"faders": faders, "plugins": plugins}


def run(request: dict[str, Any], progress: Progress, cancelled: Cancelled) -> dict[str, Any]:
    """Worker entry point: match a project snapshot; return the faders, pans and plug-in values
    to write (plain values of every parameter of our instances), and write the report and
    previews the request asks for (:mod:`reaper_automix.report`)."""
    asked = ReportRequest.from_request(request)
    try:
        project = open_snapshot(request)
        before = {id(t): (t.volume, t.pan) for t in project.tracks}
        plots = MatchPlots() if asked.html else None
        report, _ = plan_match(project, request["reference"], stems=request.get("stems") or None,
                               options=options_from(request), **rendered_from(request),
                               plots=plots, progress=progress, cancelled=cancelled)
    except (OSError, ValueError, LookupError) as exc:
        raise JobError(str(exc)) from exc
    result = {**changes(project, before), "report": report.to_json()}
    if not asked.wanted:
        return result
    from ..report.match import publish_match  # matplotlib: imported only for a report

    files = job_files(asked, partial(publish_match, result["report"], plots,
                                     reference=request["reference"]),
                      before=open_snapshot(request) if asked.preview_dir else None,
                      after=project, render=rendered_from(request))
    return {**result, "files": files}


def open_snapshot(request: dict[str, Any]) -> Project:
    """The project snapshot a worker request names, at REAPER's sample rate."""
    project = open_project(Path(request["project"]), media_dir=request.get("project_dir"))
    if request.get("sample_rate"):
        project.sample_rate = int(request["sample_rate"])
    return project
