"""The "Mix lead vocal" job: render the vocal and its backing, decide the vocal chain and fader
(:mod:`reaper_automix.decisions.vocal`), stage them on the session.

* The vocal is the track named by ``--vocal`` (name or GUID), or the one track whose name reads
  as a lead vocal (:func:`reaper_automix.analysis.roles.role_from_name`).
* The backing is everything that reaches the master except the vocal (and the vocal's own
  reverb return), or the sum of the tracks and folders named with ``--backing``.
* The vocal is rendered as it enters our plug-ins: its items (folder: its children) through its
  FX chain without our tagged instances; the fader and pan stay out, and any folder faders above
  it are counted into the level (the decision sees the vocal as it reaches the master).
* Written: our tagged MultiEQ → OmniCompressor → FdnReverb (added at the end of the chain or
  updated in place) and the fader; with ``reverb="send"`` the FdnReverb sits on a return track
  "Vocal Reverb (AutoMix)" fed by a post-fader send. Nothing else on the track changes.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..analysis.roles import role_from_name
from ..audio.playable import (
    UnplayableTracksError,
    describe_unplayable,
    unplayable_reason,
    unplayable_tracks,
)
from ..audio.render import Renderer, pan_gains
from ..decisions.vocal import (
    DEFAULT_METHOD,
    METHODS,
    MIN_DURATION_S,
    VocalDecision,
    VocalInputError,
    decide_vocal,
)
from ..decisions.vocal_chain import REVERB_MODES, apply_eq, render
from ..hosts.rpp import open_project
from ..iem import FDNREVERB, MULTIEQ, OMNICOMPRESSOR
from ..jsonable import jsonable
from ..report import ReportRequest, job_files
from ..session import Project, Receive, Track
from . import Cancelled, JobCancelled, JobError, Progress
from .memory import freed_memory_reused

if TYPE_CHECKING:
    from ..analysis.spectrum import Spectrum

#: Custom names of our plug-in instances (how a second run finds and updates them).
TAGS = {MULTIEQ.name: "AutoMix Vocal EQ", OMNICOMPRESSOR.name: "AutoMix Vocal Compressor",
        FDNREVERB.name: "AutoMix Vocal Reverb"}
RETURN_TRACK_NAME = "Vocal Reverb (AutoMix)"
RENDER_THREADS = 2


@dataclass
class WrittenPlugin:
    """One plug-in instance the action writes, with every parameter it holds."""

    plugin: str
    tag: str
    track: str
    params: list[dict[str, Any]]


@dataclass
class VocalPlots:
    """What the report draws beyond the JSON report, collected by :func:`plan_vocal` only when
    a report is asked for: long-term spectra of the vocal as it reaches the master before and
    after (its fader and the folder faders above it included) and of the backing, the vocal
    as OmniCompressor sees it (after the EQ; for its gain reduction over time), and where the
    chain sits among the DiffVox presets (:func:`~reaper_automix.decisions.vocal_prior.chain_in_prior`)."""

    sample_rate: int = 0
    spectra: dict[str, Spectrum] = field(default_factory=dict)
    compressor_input: np.ndarray | None = None
    diffvox: dict[str, Any] = field(default_factory=dict)

    def collect(self, vocal: np.ndarray, played: np.ndarray | None, backing: np.ndarray,
                decision: VocalDecision, sample_rate: int) -> None:
        """``vocal``: the input of our chain (pre-fader, panned); ``played``: the vocal as it
        plays now if different (an earlier AutoMix chain); ``backing`` as it reaches the master."""
        from ..analysis.spectrum import long_term_spectrum
        from ..decisions.vocal_prior import chain_in_prior

        def at_fader(audio: np.ndarray, fader_db: float) -> np.ndarray:
            return audio * np.float32(10.0 ** (fader_db / 20.0))

        chain = decision.chain
        self.sample_rate = sample_rate
        before = vocal if played is None else played
        self.spectra = {
            "vocal before": long_term_spectrum(at_fader(before, decision.fader_before_db),
                                               sample_rate),
            "vocal after": long_term_spectrum(
                at_fader(render(vocal, sample_rate, chain), decision.fader_db), sample_rate),
            "backing": long_term_spectrum(backing, sample_rate),
        }
        self.compressor_input = apply_eq(vocal, sample_rate, chain.multieq).astype(np.float32)
        self.diffvox = chain_in_prior(chain, vocal, sample_rate)


@dataclass
class VocalReport:
    project: str
    vocal: str
    vocal_guid: str
    vocal_chosen_by: str
    backing: list[str]
    method: str
    reverb: str
    amount: float
    fader_before_db: float
    fader_after_db: float
    level_before_lu: float
    level_after_lu: float
    level_target_lu: float
    level_target_source: str
    lra_before_lu: float
    lra_after_lu: float
    tempo_bpm: float | None
    tempo_source: str
    plugins: list[WrittenPlugin] = field(default_factory=list)
    send: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    decision: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return jsonable(asdict(self))


# ------------------------------------------------------------------------------- choosing
def choose_vocal(project: Project, key: str | None) -> tuple[Track, str]:
    """The vocal track and how it was chosen."""
    if key:
        return project.track(key), "named with --vocal"
    guesses = []
    for track in project.tracks:
        guess = role_from_name(track.name) if track.name else None
        if guess is not None and guess.role == "lead_vocal" and not track.is_folder:
            guesses.append((guess.confidence, track, guess.evidence))
    if not guesses:
        names = ", ".join(repr(t.display_name) for t in project.tracks) or "none"
        raise JobError(f"no track is named like a lead vocal (tracks: {names}); "
                       "name it with --vocal NAME|GUID")
    best = max(confidence for confidence, _, _ in guesses)
    top = [(track, evidence) for confidence, track, evidence in guesses if confidence == best]
    if len(top) > 1:
        names = ", ".join(repr(t.display_name) for t, _ in top)
        raise JobError(f"{len(top)} tracks look like the lead vocal ({names}); "
                       "choose one with --vocal NAME|GUID")
    track, evidence = top[0]
    return track, f"its name reads as a lead vocal ({evidence!r})"


def backing_tracks(project: Project, vocal: Track, keys: list[str] | None) -> list[Track]:
    """The tracks whose post-fader sum is the backing; None/empty: the top-level tracks that
    reach the master (with the vocal muted while rendering)."""
    if not keys:
        return [t for t in project.top_level if t.main_send and not t.mute
                and not _is_our_return(t, vocal)]
    chosen = []
    for key in keys:
        track = project.track(key)
        if track is vocal:
            raise JobError(f"--backing {key!r} is the vocal itself; name the other tracks")
        chosen.append(track)
    unique = list({id(t): t for t in chosen}.values())
    return [t for t in unique if not any(a in unique for a in _ancestors(t))]


def _ancestors(track: Track) -> list[Track]:
    out, parent = [], track.parent
    while parent is not None:
        out.append(parent)
        parent = parent.parent
    return out


def _is_our_return(track: Track, vocal: Track) -> bool:
    return (track.find_fx(FDNREVERB.name, TAGS[FDNREVERB.name]) is not None
            and any(r.source is vocal for r in track.receives))


def our_return_track(project: Project, vocal: Track) -> Track | None:
    return next((t for t in project.tracks if t is not vocal and _is_our_return(t, vocal)), None)


# ------------------------------------------------------------------------------- planning
def plan_vocal(
    project: Project,
    vocal: str | None = None,
    backing: list[str] | None = None,
    *,
    method: str = DEFAULT_METHOD,
    amount: float = 1.0,
    reverb: str = "insert",
    skip_missing: bool = False,
    skip_unplayable: bool = False,
    plots: VocalPlots | None = None,
    progress: Progress = lambda fraction, message: None,
    cancelled: Cancelled = lambda: False,
) -> VocalReport:
    """Decide and stage the vocal chain and fader in the model (not saved); fill ``plots``
    (for the report) when given. Tracks the headless renderer cannot play (MIDI, instruments,
    other plug-ins) in the vocal or the backing are refused, or heard as it plays them with
    ``skip_unplayable`` (a warning each)."""
    if method not in METHODS:
        raise JobError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if reverb not in REVERB_MODES:
        raise JobError(f"--reverb must be one of {', '.join(REVERB_MODES)}, not {reverb!r}")
    if not 0.0 <= amount <= 1.0:
        raise JobError(f"--amount must lie in 0…100 %, not {amount * 100:g} %")
    with freed_memory_reused(), _one_blas_thread():
        return _plan_vocal(project, vocal, backing, method, amount, reverb, skip_missing,
                           skip_unplayable, plots, progress, cancelled)


def _plan_vocal(project: Project, vocal: str | None, backing: list[str] | None, method: str,
                amount: float, reverb: str, skip_missing: bool, skip_unplayable: bool,
                plots: VocalPlots | None, progress: Progress,
                cancelled: Cancelled) -> VocalReport:
    track, chosen_by = choose_vocal(project, vocal)
    _check_vocal_items(track)
    sources = backing_tracks(project, track, backing)
    if not sources:
        raise JobError(f"nothing but {track.display_name!r} reaches the master: there is no "
                       "backing to mix the vocal against (name tracks with --backing)")
    unplayable = unplayable_tracks([track, *sources])
    if unplayable and not skip_unplayable:
        raise UnplayableTracksError(describe_unplayable(
            unplayable, "Freeze them in REAPER (Track > Freeze tracks) so that they play as audio"))
    renderer = Renderer(project, skip_missing=skip_missing, cache_bytes=0)  # a source is read
    # once (the vocal's twice when it has our chain): no cache keeping every decoded source
    progress(0.02, f"rendering {track.display_name}")
    dry, played = _render_vocal(renderer, track)
    path_db, path_warnings = _path_gain_db(track)
    gains = pan_gains(track.pan)
    if cancelled():
        raise JobCancelled("cancelled; nothing was changed")
    progress(0.05, f"rendering the backing ({len(sources)} track(s)), measuring the vocal")

    def step(fraction: float, message: str) -> None:
        if cancelled():
            raise JobCancelled("cancelled; nothing was changed")
        progress(0.2 + 0.75 * fraction, message)

    # The backing renders on its own thread while the decision measures the vocal (the
    # vocal's render is done: rendering the backing mutes the vocal track for a while).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="backing") as pool:
        rendering = pool.submit(_render_backing, renderer, project, track, sources)
        try:
            decision = decide_vocal(
                _panned(dry, gains), rendering, project.sample_rate, method=method,
                tempo=project.tempo, tempo_source="project tempo", reverb=reverb,
                fader_db=track.volume_db + path_db, amount=amount,
                played=_panned(played, gains) if played is not None else None,
                names=(f"vocal track {track.display_name!r}", "backing"), progress=step,
            )
        except VocalInputError as exc:
            raise JobError(str(exc)) from exc
        mix = rendering.result()
    if plots is not None:
        progress(0.96, "collecting the report's figures")
        plots.collect(_panned(dry, gains), _panned(played, gains) if played is not None
                      else None, mix, decision, project.sample_rate)
    report = _stage(project, track, decision, path_db)
    report.vocal_chosen_by = chosen_by
    report.backing = [t.display_name for t in sources]
    report.warnings = [*map(_unplayable_warning, unplayable), *renderer.warnings,
                       *path_warnings]
    progress(1.0, "done")
    return report


def _one_blas_thread() -> AbstractContextManager:
    """BLAS (OpenBLAS's matrix products: the cnn's networks and mel filters) on one thread while
    the vocal is decided: the decision already keeps both cores busy with threads of its own,
    and a second BLAS thread per call only competes with them (it spins while it waits: the
    cnn's products took 1.5–2.7× the CPU time for at best 20 % less wall time)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # an install without it: BLAS keeps its threads
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _unplayable_warning(track: Track) -> str:
    return (f"track {track.display_name!r} ({unplayable_reason(track)}) is heard as the headless "
            "renderer plays it (MIDI silent, other plug-ins skipped); freeze it in REAPER to "
            "have it heard as REAPER plays it")


def _check_vocal_items(track: Track) -> None:
    spans = sorted((item.position, item.end) for t in (track, *track.descendants())
                   for item in t.items if not item.mute and item.takes)
    covered, end = 0.0, -math.inf
    for start, stop in spans:
        covered += max(0.0, stop - max(start, end))
        end = max(end, stop)
    if covered < MIN_DURATION_S:
        raise JobError(f"vocal track {track.display_name!r} has {covered:.1f} s of items; "
                       f"Mix lead vocal needs at least {MIN_DURATION_S:g} s of singing")


def _render_backing(renderer: Renderer, project: Project, vocal: Track,
                    sources: list[Track]) -> np.ndarray:
    """The sum of ``sources`` post-fader with the vocal muted, rendered on two threads (the
    renderer is thread-safe and NumPy releases the GIL)."""
    mix = np.zeros((renderer.n_samples(), 2), np.float32)
    was_muted = vocal.mute
    vocal.mute = True  # also silences it inside its folder and in any send it feeds
    try:
        with ThreadPoolExecutor(max_workers=RENDER_THREADS) as pool:
            for part in pool.map(renderer.track, sources):  # two renders in flight at most
                mix += part
    finally:
        vocal.mute = was_muted
    return mix


def _render_vocal(renderer: Renderer, vocal: Track) -> tuple[np.ndarray, np.ndarray | None]:
    """The vocal pre-fader without our plug-ins, and (if it has some now) as it plays now."""
    ours = [fx for fx in vocal.fx if fx.custom_name in TAGS.values() and fx.iem_plugin]
    playing = renderer.track(vocal, fader=False, pan=False) if ours else None
    kept = vocal.fx
    vocal.fx = [fx for fx in kept if fx not in ours]
    try:
        dry = renderer.track(vocal, fader=False, pan=False)
    finally:
        vocal.fx = kept
    return dry, playing


def _panned(audio: np.ndarray, gains: tuple[float, float]) -> np.ndarray:
    return audio if gains == (1.0, 1.0) else audio * np.asarray(gains, np.float32)


def _path_gain_db(track: Track) -> tuple[float, list[str]]:
    """The folder faders between the vocal and the master (their FX are not counted)."""
    total, warnings = 0.0, []
    for folder in _ancestors(track):
        total += folder.volume_db
        if any(fx.active for fx in folder.fx) and folder.fx_enabled:
            warnings.append(f"folder {folder.display_name!r} has plug-ins; the vocal's level "
                            "against the backing is measured without them")
    return total, warnings


# -------------------------------------------------------------------------------- staging
def _stage(project: Project, track: Track, decision: VocalDecision, path_db: float) -> VocalReport:
    chain = decision.chain
    described = decision.to_json()["chain"]["plugins"]
    plugins: list[WrittenPlugin] = []

    def write(target: Track, plugin: str, params: dict[str, float]) -> None:
        target.stage_iem_params(plugin, params, TAGS[plugin])
        plugins.append(WrittenPlugin(plugin, TAGS[plugin], target.display_name, described[plugin]))

    write(track, MULTIEQ.name, chain.multieq)
    write(track, OMNICOMPRESSOR.name, chain.omnicompressor)
    send_info = None
    old_return = our_return_track(project, track)
    if chain.reverb_mode == "insert":
        write(track, FDNREVERB.name, chain.fdnreverb)
        if old_return is not None:  # silence the earlier send instead of doubling the reverb
            for receive in old_return.receives:
                if receive.source is track:
                    receive.volume = 0.0
            send_info = {"track": old_return.display_name, "volume_db": -math.inf,
                         "note": "the earlier reverb send is turned down (reverb is now an insert)"}
    else:
        insert = track.find_fx(FDNREVERB.name, TAGS[FDNREVERB.name])
        if insert is not None:  # dry/wet 0 is exactly transparent
            track.stage_iem_params(FDNREVERB.name, {"dryWet": 0.0}, TAGS[FDNREVERB.name])
        target = old_return or project.add_track(RETURN_TRACK_NAME)
        write(target, FDNREVERB.name, chain.fdnreverb)
        receive = next((r for r in target.receives if r.source is track), None)
        if receive is None:
            receive = Receive(track, mode=0, is_new=True)
            target.receives.append(receive)
        receive.mode, receive.mute = 0, False
        receive.volume = 10.0 ** (chain.send_gain_db / 20.0) if chain.send_gain_db is not None \
            and math.isfinite(chain.send_gain_db) else 0.0
        send_info = {"track": target.display_name, "volume_db": chain.send_gain_db,
                     "mode": "post-fader", "new_track": target.is_new}
    before = track.volume_db
    track.volume_db = decision.fader_db - path_db
    d = decision
    return VocalReport(
        project=str(project.path) if project.path else "", vocal=track.display_name,
        vocal_guid=track.guid, vocal_chosen_by="", backing=[], method=d.method,
        reverb=chain.reverb_mode, amount=d.amount, fader_before_db=before,
        fader_after_db=track.volume_db, level_before_lu=d.level_before_lu,
        level_after_lu=d.level_after_lu, level_target_lu=d.level_target_lu,
        level_target_source=d.level_target_source, lra_before_lu=d.lra_before_lu,
        lra_after_lu=d.lra_after_lu, tempo_bpm=d.tempo_bpm, tempo_source=d.tempo_source,
        plugins=plugins, send=send_info, notes=list(d.notes), decision=d.to_json(),
    )


# --------------------------------------------------------------------------------- worker
def run(request: dict[str, Any], progress: Progress, cancelled: Cancelled) -> dict[str, Any]:
    """Worker entry point: mix the vocal of a project snapshot; returns what to write (and
    writes the report and previews the request asks for, see :mod:`reaper_automix.report`)."""
    asked = ReportRequest.from_request(request)
    try:
        project = _open_snapshot(request)
        volumes = {id(t): t.volume for t in project.tracks}
        sends = {id(r): r.volume for t in project.tracks for r in t.receives}
        plots = VocalPlots() if asked.html else None
        report = plan_vocal(
            project, request.get("vocal") or None, request.get("backing") or None,
            method=request.get("method", DEFAULT_METHOD),
            amount=float(request.get("amount", 1.0)), reverb=request.get("reverb", "insert"),
            skip_missing=bool(request.get("skip_missing", False)),
            skip_unplayable=bool(request.get("skip_unplayable", False)), plots=plots,
            progress=progress, cancelled=cancelled,
        )
        files = _publish(asked, request, report, plots, project) if asked.wanted else None
    except (OSError, ValueError, LookupError) as exc:
        raise JobError(str(exc)) from exc
    result = {"report": report.to_json(), **staged_writes(project, volumes, sends)}
    return result if files is None else {**result, "files": files}


def _publish(asked: ReportRequest, request: dict[str, Any], report: VocalReport,
             plots: VocalPlots | None, project: Project) -> dict[str, Any]:
    from ..report.vocal import publish_vocal  # matplotlib: imported only for a report

    before = _open_snapshot(request) if asked.preview_dir else None
    return job_files(asked, partial(publish_vocal, report.to_json(), plots), before=before,
                     after=project, skip_missing=bool(request.get("skip_missing", False)))


def _open_snapshot(request: dict[str, Any]) -> Project:
    project = open_project(Path(request["project"]), media_dir=request.get("project_dir"))
    if request.get("sample_rate"):
        project.sample_rate = int(request["sample_rate"])
    if request.get("tempo"):  # a track-template snapshot has no tempo of its own
        project.tempo = float(request["tempo"])
    return project


def staged_writes(project: Project, volumes: dict[int, float],
                  sends: dict[int, float]) -> dict[str, list[dict[str, Any]]]:
    """What the live host must write: changed faders, our staged plug-ins (complete values),
    and changed or new sends (the live host writes no sends; the action says so). ``volumes``
    and ``sends`` hold the values before planning, by ``id`` of track and receive."""
    faders = [{"guid": t.guid, "name": t.display_name, "volume": t.volume}
              for t in project.tracks if id(t) in volumes and t.volume != volumes[id(t)]]
    plugins = [{"track": t.guid, "plugin": fx.iem_plugin.name, "tag": fx.custom_name,
                "params": dict(fx.changes)}
               for t in project.tracks for fx in t.fx
               if fx.custom_name in TAGS.values() and fx.iem_plugin and (fx.is_new or fx.changes)]
    changed = [{"track": t.display_name, "source": r.source.display_name, "volume": r.volume}
               for t in project.tracks for r in t.receives
               if id(r) not in sends or r.volume != sends[id(r)]]
    return {"faders": faders, "plugins": plugins, "sends": changed}
