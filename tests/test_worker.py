"""Worker protocol v1 and the worker process (python -m reaper_automix.worker)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project
from reaper_automix.worker import protocol
from reaper_automix.worker.client import WorkerProcess, WorkerStartError
from reaper_automix.worker.main import run_worker

REPO = Path(__file__).resolve().parents[1]


def _silent_project(folder: Path) -> Path:
    """A folder with two children whose media is missing."""
    tree = [TrackSpec("Drums", children=[
        TrackSpec("Kick", items=[ItemSpec("media/kick.wav", 0.0, 1.0)]),
        TrackSpec("Snare", items=[ItemSpec("media/snare.wav", 0.0, 1.0)]),
    ])]
    path = folder / "p.RPP"
    write_project(path, tree)
    return path


# ------------------------------------------------------------------------------ protocol
def test_request_round_trip_and_version_check(tmp_path: Path) -> None:
    written = protocol.write_request(tmp_path, "balance", {"method": "f0"})
    assert written == {"protocol": 1, "job": "balance", "method": "f0"}
    assert protocol.read_request(tmp_path) == written
    (tmp_path / protocol.REQUEST).write_text(json.dumps({"protocol": 2, "job": "balance"}))
    with pytest.raises(protocol.ProtocolError, match="protocol version 2"):
        protocol.read_request(tmp_path)


def test_progress_reader_returns_only_whole_new_lines(tmp_path: Path) -> None:
    reader = protocol.ProgressReader(tmp_path)
    assert reader.read_new() == []
    protocol.append_progress(tmp_path, 0.25, "balancing Drums")
    with open(tmp_path / protocol.PROGRESS, "a", encoding="utf-8") as handle:
        handle.write('{"fraction": 0.5, "mess')  # a line being written
    assert reader.read_new() == [(0.25, "balancing Drums")]
    with open(tmp_path / protocol.PROGRESS, "a", encoding="utf-8") as handle:
        handle.write('age": "Bass"}\nnot json\n')
    assert reader.read_new() == [(0.5, "Bass")]
    assert reader.read_new() == []


def test_outcomes(tmp_path: Path) -> None:
    assert protocol.read_outcome(tmp_path) is None
    protocol.write_error(tmp_path, "cancelled", "stopped")
    outcome = protocol.read_outcome(tmp_path)
    assert outcome is not None and not outcome.ok
    assert (outcome.kind, outcome.message) == ("cancelled", "stopped")
    protocol.write_result(tmp_path, "balance", {"faders": []})
    assert protocol.read_outcome(tmp_path).result == {"faders": []}
    with pytest.raises(ValueError, match="unknown error kind"):
        protocol.write_error(tmp_path, "oops", "x")


def test_outcome_from_another_protocol_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / protocol.RESULT).write_text(json.dumps({"protocol": 7, "result": {}}))
    with pytest.raises(protocol.ProtocolError, match="protocol 7"):
        protocol.read_outcome(tmp_path)


def test_atomic_write_leaves_no_temp_file(tmp_path: Path) -> None:
    protocol.write_json_atomic(tmp_path / "x.json", {"a": 1})
    with pytest.raises(ValueError):
        protocol.write_json_atomic(tmp_path / "x.json", {"a": float("nan")})
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 1}


# ---------------------------------------------------------------------------- run_worker
def test_unknown_job_type_is_a_user_error(tmp_path: Path) -> None:
    protocol.write_request(tmp_path, "mix_lead_vocal", {})
    assert run_worker(tmp_path) == 1
    outcome = protocol.read_outcome(tmp_path)
    assert outcome.kind == "error" and "unknown job type 'mix_lead_vocal'" in outcome.message


def test_wrong_protocol_is_reported_in_error_json(tmp_path: Path) -> None:
    (tmp_path / protocol.REQUEST).write_text(json.dumps({"protocol": 0, "job": "balance"}))
    assert run_worker(tmp_path) == 1
    assert "protocol version 0" in protocol.read_outcome(tmp_path).message


def test_missing_media_is_a_user_error(tmp_path: Path) -> None:
    project = _silent_project(tmp_path)
    job = tmp_path / "job"
    job.mkdir()
    protocol.write_request(job, "balance", {"project": str(project), "groups": [],
                                            "method": "centroid"})
    assert run_worker(job) == 1
    outcome = protocol.read_outcome(job)
    assert outcome.kind == "error"
    assert "kick.wav" in outcome.message


def test_cancel_file_stops_the_job(tmp_path: Path) -> None:
    project = _silent_project(tmp_path)
    job = tmp_path / "job"
    job.mkdir()
    protocol.write_request(job, "balance", {"project": str(project), "skip_missing": True})
    protocol.request_cancel(job)
    assert run_worker(job) == 1
    assert protocol.read_outcome(job).kind == "cancelled"


def test_unexpected_exception_is_a_crash_with_traceback(tmp_path: Path, monkeypatch) -> None:
    import reaper_automix.jobs as jobs

    def broken(request, progress, cancelled):
        progress(0.5, "half way")
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(jobs, "run_job", broken)
    protocol.write_request(tmp_path, "balance", {})
    assert run_worker(tmp_path) == 1
    outcome = protocol.read_outcome(tmp_path)
    assert outcome.kind == "crash" and outcome.message == "ZeroDivisionError: bug"
    assert "ZeroDivisionError" in outcome.traceback
    assert protocol.ProgressReader(tmp_path).read_new() == [(0.5, "half way")]


# ------------------------------------------------------------------------------ process
def test_worker_process_end_to_end(tmp_path: Path) -> None:
    """The real entry point, started as the actions start it, on a silent session."""
    project = _silent_project(tmp_path)
    job = tmp_path / "job"
    job.mkdir()
    protocol.write_request(job, "balance", {"project": str(project), "skip_missing": True,
                                            "groups": ["Drums"]})
    worker = WorkerProcess.start(sys.executable, job)
    deadline = time.monotonic() + 120
    while worker.exit_code() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worker.exit_code() == 0, protocol.log_tail(job)
    result = protocol.read_outcome(job).result
    assert result["faders"] == []  # silence: nothing to change
    assert [g["name"] for g in result["report"]["groups"]] == ["Drums"]
    assert protocol.ProgressReader(job).read_new()[-1] == (1.0, "done")


def test_worker_start_refuses_a_missing_interpreter(tmp_path: Path) -> None:
    with pytest.raises(WorkerStartError, match="does not exist"):
        WorkerProcess.start(str(tmp_path / "no-python"), tmp_path)


def test_module_and_cli_entry_points_check_their_argument(tmp_path: Path) -> None:
    module = subprocess.run([sys.executable, "-m", "reaper_automix.worker", str(tmp_path / "x")],
                            capture_output=True, text=True, cwd=REPO)
    assert module.returncode == 2 and "usage" in module.stderr
    protocol.write_request(tmp_path, "nope", {})
    cli = subprocess.run([sys.executable, "-m", "reaper_automix", "worker", str(tmp_path)],
                         capture_output=True, text=True, cwd=REPO)
    assert cli.returncode == 1
    assert protocol.read_outcome(tmp_path).kind == "error"
