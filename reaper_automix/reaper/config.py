"""The worker configuration that ``reaper-automix install`` records in REAPER's resource folder.

``<resource>/reaper-automix.json`` holds the worker interpreter (never ``sys.executable``, which
is REAPER itself inside REAPER), the job timeout and, under ``"installed"``, the list of what the
installer added, so that ``--uninstall`` removes exactly that. Standard library only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_NAME = "reaper-automix.json"
DEFAULT_TIMEOUT_S = 1800.0
_SETUP_HINT = ("In a terminal, run `reaper-automix install` with the Python environment where "
               "reaper-automix is installed (see docs/reaper.md, \"Install\").")


class ConfigError(RuntimeError):
    """No usable worker configuration; the message says what to do."""


@dataclass(frozen=True)
class WorkerConfig:
    python: str
    timeout_s: float = DEFAULT_TIMEOUT_S


def config_path(resource_path: str | Path) -> Path:
    return Path(resource_path) / CONFIG_NAME


def read_config_data(resource_path: str | Path) -> dict[str, Any] | None:
    """The raw JSON object, or None when there is no config file."""
    path = config_path(resource_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} cannot be read ({exc}). {_SETUP_HINT}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a JSON object. {_SETUP_HINT}")
    return data


def load_worker_config(resource_path: str | Path) -> WorkerConfig:
    """The worker to start; :class:`ConfigError` if it is not set up or its Python is gone."""
    data = read_config_data(resource_path)
    path = config_path(resource_path)
    if data is None:
        raise ConfigError(f"AutoMix is not set up: {path} does not exist. {_SETUP_HINT}")
    python = str(data.get("python") or "")
    if not python or not Path(python).is_file():
        raise ConfigError(
            f"The worker Python {python or '(none)'} recorded in {path} does not exist (was its "
            "virtual environment moved or deleted?). Run `reaper-automix install --python "
            "/path/to/python` again with the Python that has reaper-automix installed."
        )
    try:
        timeout = float(data.get("timeout_s", DEFAULT_TIMEOUT_S))
    except (TypeError, ValueError):
        timeout = DEFAULT_TIMEOUT_S
    return WorkerConfig(python=python, timeout_s=timeout if timeout > 0 else DEFAULT_TIMEOUT_S)
