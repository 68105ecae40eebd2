"""Running a worker job from a REAPER action without blocking REAPER.

:func:`start` snapshots the project, writes the request and starts the worker; :func:`tick`
runs on every REAPER UI tick through ``RPR_defer`` (with the code string :data:`TICK_CODE`),
prints progress to the console and, once the worker succeeded and the project did not change
meanwhile, lets the action apply the result. Any failure leaves the project untouched and says
what to do. One job runs at a time; running an action again while it runs asks whether to cancel.

Standard library only: this runs inside REAPER's persistent interpreter, where this module (and
so the running job) stays loaded between action runs.
"""

from __future__ import annotations

import shutil
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..worker import protocol
from ..worker.client import WorkerProcess, WorkerStartError
from .api import ReaperApi
from .config import ConfigError, WorkerConfig, load_worker_config
from .snapshot import SnapshotError, take_snapshot
from .stems import StemRenderError, StemRequest

TITLE = "AutoMix"
#: What REAPER runs on each deferred tick: module state survives between ticks and actions.
TICK_CODE = "import reaper_automix.reaper.action as _automix_action; _automix_action.tick()"
#: After a cancel request, how long the worker gets to stop by itself before it is killed.
CANCEL_GRACE_S = 10.0


@dataclass
class JobSpec:
    """What an action asks of the worker and how it applies the answer.

    ``apply(result)`` runs only after the worker succeeded and the project is unchanged; it
    writes to the project (one undo point) and returns a summary for the console. ``stems``:
    tracks REAPER renders (pre-fader) before the worker starts; the request then carries them
    (:meth:`reaper_automix.reaper.stems.Stems.request_fields`).
    """

    job: str  # worker job type (reaper_automix.jobs)
    label: str  # what the user sees, e.g. "balance Drums, Bass"
    params: dict[str, Any]
    apply: Callable[[dict[str, Any]], str]
    stems: StemRequest | None = None


@dataclass
class RunningJob:
    api: ReaperApi
    proj: str
    spec: JobSpec
    job_dir: Path
    worker: WorkerProcess
    state_count: int
    deadline: float
    started: float = field(default_factory=time.monotonic)
    cancel_deadline: float | None = None
    progress: protocol.ProgressReader | None = None


_current: RunningJob | None = None
Answers = TypeVar("Answers")


def ask(api: ReaperApi, title: str, captions: Sequence[str], defaults: list[str],
        parse: Callable[[list[str]], Answers], refused: str) -> Answers | None:
    """REAPER's input dialog, its answers parsed: None when the user cancels or ``parse``
    refuses them (its reason shown in a message box after ``refused``, e.g. "Not saved")."""
    values = api.user_inputs(title, list(captions), defaults)
    if values is None:
        return None
    try:
        return parse(values)
    except ValueError as exc:
        api.message_box(f"{refused}: {exc}.", title)
        return None


def running() -> RunningJob | None:
    """The job in progress, if any."""
    return _current


def start(api: ReaperApi, proj: str, spec: JobSpec) -> bool:
    """Start ``spec`` on project ``proj``; False (after telling the user why) if it could not."""
    global _current
    if _current is not None:
        offer_cancel(api)
        return False
    try:
        config = load_worker_config(api.resource_path())
    except ConfigError as exc:
        return _refuse(api, str(exc))
    job_dir = protocol.new_job_dir()
    try:
        job = _launch(api, proj, spec, config, job_dir)
    except (SnapshotError, StemRenderError, WorkerStartError, OSError) as exc:
        shutil.rmtree(job_dir, ignore_errors=True)
        return _refuse(api, f"{exc}\n\nNothing was changed.")
    _current = job
    api.console(f"{TITLE}: {spec.label} — started (run the action again to cancel)\n")
    api.defer(TICK_CODE)
    return True


def _launch(api: ReaperApi, proj: str, spec: JobSpec, config: WorkerConfig,
            job_dir: Path) -> RunningJob:
    snapshot = take_snapshot(api, proj, job_dir)
    fields = {**snapshot.request_fields(), **spec.params}
    if spec.stems is not None:  # blocks REAPER while it renders; the user's settings come back
        fields.update(spec.stems.render(api, proj, job_dir / "stems").request_fields())
    state_count = api.state_change_count(proj)  # after the render, which is not a user's change
    protocol.write_request(job_dir, spec.job, fields)
    worker = WorkerProcess.start(config.python, job_dir)
    return RunningJob(api, proj, spec, job_dir, worker, state_count,
                      deadline=time.monotonic() + config.timeout_s,
                      progress=protocol.ProgressReader(job_dir))


def offer_cancel(api: ReaperApi) -> None:
    """Ask whether to cancel the running job; if yes, ask the worker to stop."""
    job = _current
    if job is None:
        return
    elapsed = time.monotonic() - job.started
    answer = api.message_box(
        f"AutoMix is still working: {job.spec.label} (started {elapsed:.0f} s ago).\n\n"
        "Cancel it? Nothing will be changed.", TITLE, "yes-no")
    if answer == "yes" and job.cancel_deadline is None:
        protocol.request_cancel(job.job_dir)
        job.cancel_deadline = time.monotonic() + CANCEL_GRACE_S
        api.console(f"{TITLE}: cancelling {job.spec.label}…\n")


def tick() -> None:
    """One poll of the running job (called by REAPER through ``RPR_defer``)."""
    global _current
    job = _current
    if job is None:
        return
    try:
        if _poll(job):
            job.api.defer(TICK_CODE)
            return
    except protocol.ProtocolError as exc:
        job.worker.kill()
        _fail(job, f"{exc}\n\nNothing was changed.", keep=True)
    except Exception as exc:  # never leave a dead job registered, nor the worker running
        job.worker.kill()
        job.api.console(traceback.format_exc())
        _fail(job, f"AutoMix stopped because of an internal error: {type(exc).__name__}: {exc}"
              f"\n\nThe project may be partly changed: undo the last \"AutoMix\" step if so.",
              keep=True)
    _current = None


def _poll(job: RunningJob) -> bool:
    """True while the job is still running."""
    _print_progress(job)
    outcome = protocol.read_outcome(job.job_dir)
    if outcome is None:
        exit_code = job.worker.exit_code()
        if exit_code is not None:
            outcome = protocol.read_outcome(job.job_dir)  # it may have finished just now
            if outcome is None:
                _crashed(job, exit_code)
                return False
        elif job.cancel_deadline is not None and time.monotonic() > job.cancel_deadline:
            job.worker.kill()
            _finish_cancelled(job)
            return False
        elif time.monotonic() > job.deadline:
            job.worker.kill()
            _fail(job, f"The worker did not finish within the time limit ({_minutes(job)}), so "
                  "it was stopped. Nothing was changed. Balance fewer folders at once, or raise "
                  f"\"timeout_s\" in {Path(job.api.resource_path()) / 'reaper-automix.json'}.",
                  keep=True)
            return False
        else:
            return True
    _print_progress(job)
    _finish(job, outcome)
    return False


def _finish(job: RunningJob, outcome: protocol.Outcome) -> None:
    if outcome.ok:
        _apply(job, outcome.result or {})
    elif outcome.kind == "cancelled":
        _finish_cancelled(job)
    elif outcome.kind == "error":
        _fail(job, f"{outcome.message}\n\nNothing was changed.", keep=False)
    else:
        _fail(job, f"The worker failed with an internal error: {outcome.message}\n\nNothing was "
              "changed. Please report this with the worker log "
              f"{job.job_dir / protocol.LOG}.", keep=True)


def _apply(job: RunningJob, result: dict[str, Any]) -> None:
    api = job.api
    if not api.project_is_open(job.proj):
        _fail(job, "The project was closed while AutoMix was working; nothing was applied.",
              keep=False)
        return
    if api.state_change_count(job.proj) != job.state_count:
        _fail(job, "The project changed while AutoMix was working, so the result was not "
              "applied (it was computed for the project as it was). Nothing was changed; run "
              "the action again.", keep=False)
        return
    summary = job.spec.apply(result)
    api.console(f"{TITLE}: {job.spec.label} — done in {time.monotonic() - job.started:.1f} s\n"
                f"{summary}\n")
    shutil.rmtree(job.job_dir, ignore_errors=True)


def _finish_cancelled(job: RunningJob) -> None:
    job.api.console(f"{TITLE}: {job.spec.label} — cancelled; nothing was changed.\n")
    shutil.rmtree(job.job_dir, ignore_errors=True)


def _crashed(job: RunningJob, exit_code: int) -> None:
    tail = protocol.log_tail(job.job_dir)
    _fail(job, f"The worker stopped unexpectedly (exit code {exit_code}). Nothing was changed.\n\n"
          f"Last lines of {job.job_dir / protocol.LOG}:\n{tail or '(empty)'}\n\nIf it says "
          "\"No module named reaper_automix\", run `reaper-automix install --python PATH` with "
          "the Python that has reaper-automix installed.", keep=True)


def _fail(job: RunningJob, message: str, *, keep: bool) -> None:
    """Tell the user; keep the job folder (with its log) when it helps to report a problem."""
    job.api.console(f"{TITLE}: {job.spec.label} — failed\n")
    job.api.message_box(message, TITLE)
    if not keep:
        shutil.rmtree(job.job_dir, ignore_errors=True)


def _refuse(api: ReaperApi, message: str) -> bool:
    api.message_box(message, TITLE)
    return False


def _print_progress(job: RunningJob) -> None:
    if job.progress is None:
        return
    for fraction, message in job.progress.read_new():
        job.api.console(f"{TITLE}: {fraction * 100:3.0f}% {message}\n")


def _minutes(job: RunningJob) -> str:
    return f"{(job.deadline - job.started) / 60:.0f} min"
