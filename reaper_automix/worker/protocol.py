"""Worker protocol v1: versioned JSON files in one job directory.

The action writes ``request.json`` and starts the worker on the directory. The worker appends
``progress.jsonl`` lines, polls for a ``cancel`` file, and ends by writing exactly one of
``result.json`` or ``error.json`` (each written atomically: temp file + rename). Its stdout and
stderr go to ``worker.log``. Standard library only: this module runs inside REAPER too.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROTOCOL_VERSION = 1

REQUEST = "request.json"
PROGRESS = "progress.jsonl"
RESULT = "result.json"
ERROR = "error.json"
CANCEL = "cancel"
LOG = "worker.log"

#: error.json "kind": the job refused with a message for the user, the user cancelled, or an
#: unexpected exception (a bug; the traceback is in the file and in worker.log).
ERROR_KINDS = ("error", "cancelled", "crash")


class ProtocolError(ValueError):
    """A job file is missing, unreadable or speaks another protocol version."""


@dataclass(frozen=True)
class Outcome:
    """How a job ended: ``result`` on success, else ``kind`` and ``message`` from error.json."""

    result: dict[str, Any] | None = None
    kind: str = ""
    message: str = ""
    traceback: str = ""

    @property
    def ok(self) -> bool:
        return self.result is not None


def new_job_dir(prefix: str = "automix-job-") -> Path:
    """A fresh, private temporary directory for one job."""
    return Path(tempfile.mkdtemp(prefix=prefix))


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON so that a reader sees either nothing or the whole file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, allow_nan=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_request(job_dir: Path, job: str, params: dict[str, Any]) -> dict[str, Any]:
    """Write ``request.json`` for a job of type ``job``; returns the request."""
    request = {"protocol": PROTOCOL_VERSION, "job": job, **params}
    write_json_atomic(job_dir / REQUEST, request)
    return request


def read_request(job_dir: Path) -> dict[str, Any]:
    """Read and check ``request.json``."""
    request = _read_json(job_dir / REQUEST)
    version = request.get("protocol")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"{job_dir / REQUEST}: protocol version {version!r}, but this worker speaks "
            f"version {PROTOCOL_VERSION}; install the same reaper-automix version in REAPER "
            "(reaper-automix install) and in the worker Python"
        )
    return request


def append_progress(job_dir: Path, fraction: float, message: str) -> None:
    """Append one progress line (written with a single call, so readers see whole lines)."""
    line = json.dumps({"fraction": round(float(fraction), 4), "message": message},
                      ensure_ascii=False)
    with open(job_dir / PROGRESS, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


class ProgressReader:
    """Reads the progress lines added since the last call; a partial last line waits."""

    def __init__(self, job_dir: Path) -> None:
        self.path = job_dir / PROGRESS
        self.offset = 0

    def read_new(self) -> list[tuple[float, str]]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        entries = []
        for raw in complete.splitlines():
            try:
                entry = json.loads(raw)
                entries.append((float(entry["fraction"]), str(entry["message"])))
            except (ValueError, KeyError, TypeError):
                continue  # a line from another version: progress is informative only
        return entries


def request_cancel(job_dir: Path) -> None:
    (job_dir / CANCEL).touch()


def cancel_requested(job_dir: Path) -> bool:
    return (job_dir / CANCEL).exists()


def write_result(job_dir: Path, job: str, result: dict[str, Any]) -> None:
    write_json_atomic(job_dir / RESULT, {"protocol": PROTOCOL_VERSION, "job": job, "result": result})


def write_error(job_dir: Path, kind: str, message: str, traceback: str = "") -> None:
    if kind not in ERROR_KINDS:
        raise ValueError(f"unknown error kind {kind!r}")
    write_json_atomic(job_dir / ERROR, {"protocol": PROTOCOL_VERSION, "kind": kind,
                                        "message": message, "traceback": traceback})


def read_outcome(job_dir: Path) -> Outcome | None:
    """The job's outcome, or None while neither result.json nor error.json exists."""
    if (job_dir / RESULT).exists():
        data = _read_json(job_dir / RESULT)
        _check_version(data, job_dir / RESULT)
        result = data.get("result")
        if not isinstance(result, dict):
            raise ProtocolError(f"{job_dir / RESULT}: no result object")
        return Outcome(result=result)
    if (job_dir / ERROR).exists():
        data = _read_json(job_dir / ERROR)
        _check_version(data, job_dir / ERROR)
        return Outcome(kind=str(data.get("kind", "crash")), message=str(data.get("message", "")),
                       traceback=str(data.get("traceback", "")))
    return None


def log_tail(job_dir: Path, lines: int = 12) -> str:
    """The last lines of the worker's stdout/stderr, for error messages."""
    try:
        text = (job_dir / LOG).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProtocolError(f"{path} is missing") from exc
    except (OSError, ValueError) as exc:
        raise ProtocolError(f"{path} cannot be read as JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProtocolError(f"{path}: expected a JSON object")
    return data


def _check_version(data: dict[str, Any], path: Path) -> None:
    if data.get("protocol") != PROTOCOL_VERSION:
        raise ProtocolError(
            f"{path}: written by a worker speaking protocol {data.get('protocol')!r}, expected "
            f"{PROTOCOL_VERSION}; reinstall reaper-automix so that REAPER and the worker match"
        )
