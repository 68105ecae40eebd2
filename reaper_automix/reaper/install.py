"""Installing the actions into REAPER's resource folder, and removing exactly that again.

``install`` copies the action scripts, the light modules they import and python-reapy (pure
Python, taken from the worker Python's environment, with its licence) into
``<resource>/Scripts/reaper-automix/``, registers the actions in ``reaper-kb.ini`` (atomic write,
backup, never twice), and records the worker Python plus the list of everything it added in
``<resource>/reaper-automix.json``. ``uninstall`` reads that list and removes what it names.
This module runs in a normal Python (the CLI), never inside REAPER.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..rpp.tokens import quote
from .config import DEFAULT_TIMEOUT_S, config_path, read_config_data

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
SCRIPTS_SUBDIR = "reaper-automix"
KB_NAME = "reaper-kb.ini"
KB_BACKUP_SUFFIX = ".automix-bak"

#: The modules of reaper_automix that the actions import inside REAPER (standard library only),
#: relative to the package. reaper_automix/__init__.py is replaced by :data:`PACKAGE_INIT`.
LIGHT_MODULES = (
    "session.py",
    "analysis/roles.py",
    "audio/__init__.py",
    "audio/playable.py",
    "iem/__init__.py",
    "iem/params.py",
    "iem/state.py",
    "reaper/__init__.py",
    "reaper/action.py",
    "reaper/api.py",
    "reaper/balance.py",
    "reaper/config.py",
    "reaper/live.py",
    "reaper/match.py",
    "reaper/report.py",
    "reaper/roles.py",
    "reaper/snapshot.py",
    "reaper/stems.py",
    "reaper/vocal.py",
    "rpp/__init__.py",
    "rpp/tokens.py",
    "worker/__init__.py",
    "worker/client.py",
    "worker/protocol.py",
)
#: Packages whose real ``__init__`` imports numerical code get this one inside REAPER.
LIGHT_PACKAGE_INITS = {
    "analysis/__init__.py": '"""reaper_automix.analysis: only the role vocabulary (roles.py) inside REAPER."""\n',
}
PACKAGE_INIT = (
    '"""reaper-automix: only the light modules that the REAPER actions import (copied by '
    "`reaper-automix install`; the full package lives in the worker Python).\"\"\"\n\n"
    f'__version__ = "{__version__}"\n'
)

#: Where VST plug-ins are usually installed, per platform (IEM ships VST2 and VST3 builds).
VST_DIRS = {
    "linux": ("/usr/lib/vst", "/usr/local/lib/vst", "~/.vst", "/usr/lib/vst3",
              "/usr/local/lib/vst3", "~/.vst3", "/usr/lib/x86_64-linux-gnu/iem-plugin-suite/vst",
              "/usr/lib/aarch64-linux-gnu/iem-plugin-suite/vst"),
    "darwin": ("/Library/Audio/Plug-Ins/VST", "~/Library/Audio/Plug-Ins/VST",
               "/Library/Audio/Plug-Ins/VST3", "~/Library/Audio/Plug-Ins/VST3"),
    "win32": (r"C:\Program Files\VSTPlugins", r"C:\Program Files\Steinberg\VSTPlugins",
              r"C:\Program Files\Common Files\VST2", r"C:\Program Files\Common Files\VST3"),
}
IEM_PLUGINS = ("MultiEQ", "OmniCompressor", "FdnReverb")
#: The python-reapy release the live host is written and tested against (docs/reaper.md).
REAPY_DISTRIBUTION, REAPY_VERSION = "python-reapy", "0.10.0"
_PLUGIN_SUFFIXES = (".so", ".dll", ".vst", ".vst3")


class InstallError(RuntimeError):
    """Installation cannot proceed; the message says what to do."""


@dataclass
class Action:
    """One action script: its file name and the name shown in REAPER's action list."""

    file: str
    title: str

    @property
    def relative_path(self) -> str:
        """Path relative to ``<resource>/Scripts``, as written in reaper-kb.ini."""
        return f"{SCRIPTS_SUBDIR}/{self.file}"

    @property
    def command_id(self) -> str:
        """``RS`` + 40 hex digits, stable for a given script path (keeps shortcuts on reinstall)."""
        return "RS" + hashlib.sha1(self.relative_path.encode("utf-8")).hexdigest()

    def kb_line(self) -> str:
        return f"SCR 4 0 {self.command_id} {quote('Custom: ' + self.title)} " \
               f"{quote(self.relative_path)}"


@dataclass
class PythonInfo:
    """What ``--python`` is: its version, whether it has reaper-automix and python-reapy, and
    its libpython."""

    executable: str
    version: str
    automix_version: str | None
    ldlibrary: str | None
    libdir: str | None
    shared_library: str | None  # full path when it exists
    reapy_dir: str | None = None  # the reapy package folder
    reapy_version: str | None = None
    reapy_license: str | None = None  # its LICENSE file


@dataclass
class InstallReport:
    scripts_dir: Path
    actions: list[Action]
    kb_path: Path
    kb_backup: Path | None
    python: PythonInfo
    iem_plugins: dict[str, list[Path]] = field(default_factory=dict)


# ------------------------------------------------------------------------------ locations
def default_resource_path(platform: str = sys.platform, environ: dict[str, str] | None = None,
                          home: Path | None = None) -> Path:
    """REAPER's default resource folder on ``platform``."""
    environ = dict(os.environ) if environ is None else environ
    home = Path.home() if home is None else home
    if platform.startswith("win"):
        appdata = environ.get("APPDATA")
        if not appdata:
            raise InstallError("%APPDATA% is not set; pass --resource-path")
        return Path(appdata) / "REAPER"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "REAPER"
    config = environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    return Path(config) / "REAPER"


def actions_dir() -> Path:
    """The action scripts: shipped inside the package, or the ``actions/`` folder of a source
    checkout (editable install)."""
    for candidate in (PACKAGE_ROOT / "actions", PACKAGE_ROOT.parent / "actions"):
        if any(candidate.glob("*.py")):
            return candidate
    raise InstallError(f"the action scripts are missing (looked in {PACKAGE_ROOT / 'actions'} "
                       f"and {PACKAGE_ROOT.parent / 'actions'}); reinstall reaper-automix")


def read_header(path: Path) -> dict[str, list[str]]:
    """The ReaPack metadata header (``# @tag value`` lines, continuation lines indented)."""
    tags: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        body = line[1:]
        if body.lstrip().startswith("@"):
            tag, _, value = body.strip()[1:].partition(" ")
            current = tags.setdefault(tag, [])
            if value.strip():
                current.append(value.strip())
        elif current is not None and body.strip():
            current.append(body.strip())
    return tags


def find_actions(directory: Path | None = None) -> list[Action]:
    """Every action script, titled by its ``@description``."""
    directory = actions_dir() if directory is None else directory
    actions = []
    for path in sorted(directory.glob("*.py")):
        title = (read_header(path).get("description") or [path.stem])[0]
        actions.append(Action(path.name, title))
    return sorted(actions, key=lambda a: a.title)


def light_files(directory: Path | None = None) -> dict[str, bytes]:
    """Relative path inside ``Scripts/reaper-automix`` → content: the action scripts and the
    light modules of reaper_automix."""
    directory = actions_dir() if directory is None else directory
    files = {a.file: (directory / a.file).read_bytes() for a in find_actions(directory)}
    files["reaper_automix/__init__.py"] = PACKAGE_INIT.encode("utf-8")
    for module, text in LIGHT_PACKAGE_INITS.items():
        files[f"reaper_automix/{module}"] = text.encode("utf-8")
    for module in LIGHT_MODULES:
        files[f"reaper_automix/{module}"] = (PACKAGE_ROOT / module).read_bytes()
    return files


def reapy_files(package_dir: str | Path, license_file: str | Path) -> dict[str, bytes]:
    """python-reapy for REAPER's Python: every ``.py`` of the package (no stale bytecode, no
    stubs) under ``reapy/``, and its MIT licence as ``reapy/LICENSE.txt``."""
    package_dir = Path(package_dir)
    files = {f"reapy/{path.relative_to(package_dir).as_posix()}": path.read_bytes()
             for path in sorted(package_dir.rglob("*.py")) if "__pycache__" not in path.parts}
    if "reapy/__init__.py" not in files:
        raise InstallError(f"{package_dir} is not the python-reapy package (no __init__.py)")
    files["reapy/LICENSE.txt"] = Path(license_file).read_bytes()
    return files


def script_files(info: PythonInfo) -> dict[str, bytes]:
    """Every file installed into ``Scripts/reaper-automix``, reapy taken from ``info``'s Python."""
    if info.reapy_version != REAPY_VERSION or not info.reapy_dir or not info.reapy_license:
        found = f"version {info.reapy_version}" if info.reapy_version else "nothing"
        raise InstallError(
            f"the AutoMix actions talk to REAPER through {REAPY_DISTRIBUTION} {REAPY_VERSION}, "
            f"but {info.executable} has {found}: run `{info.executable} -m pip install "
            f"{REAPY_DISTRIBUTION}=={REAPY_VERSION}` and install again"
        )
    return {**light_files(), **reapy_files(info.reapy_dir, info.reapy_license)}


def local_python_info() -> PythonInfo:
    """:class:`PythonInfo` of the Python running this code."""
    return probe_python(sys.executable)


# -------------------------------------------------------------------------------- checks
_PROBE = """
import importlib.metadata, importlib.util, json, os, sys, sysconfig
try:
    import reaper_automix
    version = reaper_automix.__version__
except Exception:
    version = None
ld, libdir = sysconfig.get_config_var("LDLIBRARY"), sysconfig.get_config_var("LIBDIR")
if sys.platform == "win32":
    ld = "python%d%d.dll" % sys.version_info[:2]
    libdir = sys.base_prefix
full = os.path.join(libdir, ld) if ld and libdir else None
spec = importlib.util.find_spec("reapy")  # located, never imported: outside REAPER it connects
try:
    dist = importlib.metadata.distribution("@REAPY@")
    reapy_version = dist.version
    licenses = [str(dist.locate_file(f)) for f in dist.files or () if f.name.startswith("LICENSE")]
except importlib.metadata.PackageNotFoundError:
    reapy_version, licenses = None, []
print(json.dumps({"version": sys.version.split()[0], "automix": version, "ldlibrary": ld,
                  "libdir": libdir, "shared": full if full and os.path.exists(full) else None,
                  "reapy_dir": os.path.dirname(spec.origin) if spec and spec.origin else None,
                  "reapy_version": reapy_version, "reapy_license": (licenses or [None])[0]}))
""".replace("@REAPY@", REAPY_DISTRIBUTION)


def probe_python(executable: str) -> PythonInfo:
    """Ask ``executable`` about itself (it must be able to import reaper_automix)."""
    if not Path(executable).is_file():
        raise InstallError(f"--python {executable}: no such file")
    try:
        out = subprocess.run([executable, "-c", _PROBE], capture_output=True, text=True,
                             timeout=120, check=True).stdout
        data = json.loads(out.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        raise InstallError(f"cannot run {executable}: {exc}") from exc
    return PythonInfo(executable, data["version"], data["automix"], data["ldlibrary"],
                      data["libdir"], data["shared"], data["reapy_dir"], data["reapy_version"],
                      data["reapy_license"])


def find_iem_plugins(directories: list[Path] | None = None, platform: str = sys.platform,
                     max_depth: int = 3) -> dict[str, list[Path]]:
    """IEM MultiEQ, OmniCompressor and FdnReverb binaries found in the usual VST folders."""
    if directories is None:
        key = "win32" if platform.startswith("win") else platform if platform == "darwin" \
            else "linux"
        directories = [Path(os.path.expanduser(d)) for d in VST_DIRS[key]]
    found: dict[str, list[Path]] = {name: [] for name in IEM_PLUGINS}
    for directory in directories:
        for path in _walk(directory, max_depth):
            name = path.stem[3:] if path.stem.startswith("lib") else path.stem
            if name in found and path.suffix.lower() in _PLUGIN_SUFFIXES:
                if path.resolve() not in {p.resolve() for p in found[name]}:
                    found[name].append(path)
    return found


def _walk(directory: Path, depth: int) -> list[Path]:
    """Files and bundles (``.vst``/``.vst3`` folders) under ``directory``, ``depth`` levels."""
    try:
        entries = list(directory.iterdir())
    except OSError:
        return []
    out = []
    for entry in entries:
        if entry.suffix.lower() in _PLUGIN_SUFFIXES:
            out.append(entry)
        elif entry.is_dir() and depth > 0:
            out.extend(_walk(entry, depth - 1))
    return out


# ------------------------------------------------------------------------------- install
def install(resource: Path, python: str, *, timeout_s: float = DEFAULT_TIMEOUT_S,
            actions: bool = True) -> InstallReport:
    """Install (or reinstall) into ``resource``; ``actions=False`` only records the worker."""
    resource = Path(resource)
    if not resource.is_dir():
        raise InstallError(f"REAPER's resource folder {resource} does not exist: start REAPER "
                           "once, or pass --resource-path (REAPER: Options > Show REAPER "
                           "resource path)")
    info = probe_python(python)
    if info.automix_version is None:
        raise InstallError(f"{python} cannot import reaper_automix: install reaper-automix into "
                           "that environment, or pass the --python that has it")
    if info.automix_version != __version__:
        raise InstallError(f"{python} has reaper-automix {info.automix_version}, these actions "
                           f"are {__version__}: install the same version in both")
    files = script_files(info) if actions else {}
    if read_config_data(resource) is not None:
        uninstall(resource)
    record: dict[str, Any] = {"files": [], "dirs": [], "kb_lines": []}
    found = [] if not actions else find_actions()
    scripts_dir = resource / "Scripts" / SCRIPTS_SUBDIR
    kb_path = resource / KB_NAME
    backup = None
    try:
        if actions:
            _copy_scripts(resource, scripts_dir, files, record)
            backup = _register(kb_path, found, record)
    except BaseException:
        _remove(resource, record)
        raise
    config = {"python": info.executable, "timeout_s": timeout_s, "version": __version__,
              "installed": record}
    _atomic_write(config_path(resource), json.dumps(config, indent=2).encode("utf-8") + b"\n")
    return InstallReport(scripts_dir, found, kb_path, backup, info, find_iem_plugins())


def _copy_scripts(resource: Path, scripts_dir: Path, files: dict[str, bytes],
                  record: dict[str, Any]) -> None:
    clashes = [scripts_dir / rel for rel in files if (scripts_dir / rel).exists()]
    if clashes:
        raise InstallError(f"{clashes[0]} already exists and was not installed by "
                           "reaper-automix; move it away and install again")
    for relative, data in files.items():
        target = scripts_dir / relative
        _make_dirs(resource, target.parent, record)
        target.write_bytes(data)
        record["files"].append(target.relative_to(resource).as_posix())


def _make_dirs(resource: Path, directory: Path, record: dict[str, Any]) -> None:
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        path.mkdir()
        record["dirs"].append(path.relative_to(resource).as_posix())


def _register(kb_path: Path, actions: list[Action], record: dict[str, Any]) -> Path | None:
    """Append one SCR line per action not yet registered; back the file up first."""
    existed = kb_path.exists()
    data = kb_path.read_bytes() if existed else b""
    text = data.decode("utf-8", "surrogateescape")
    newline = "\r\n" if "\r\n" in text or (not text and sys.platform == "win32") else "\n"
    present = text.splitlines()
    new = [a.kb_line() for a in actions
           if not any(a.command_id in line or a.relative_path in line for line in present)]
    if not new:
        return None
    record.update(kb_created=not existed, kb_newline_added=bool(text) and not text.endswith("\n"))
    backup = None
    if existed:
        backup = kb_path.with_name(KB_NAME + KB_BACKUP_SUFFIX)
        if backup.exists():
            raise InstallError(f"{backup} already exists; move it away and install again")
        shutil.copy2(kb_path, backup)
        record["kb_backup"] = backup.name
    prefix = newline if record["kb_newline_added"] else ""
    added = prefix + "".join(line + newline for line in new)
    _atomic_write(kb_path, data + added.encode("utf-8"))
    record["kb_lines"] = new
    return backup


# ----------------------------------------------------------------------------- uninstall
def uninstall(resource: Path) -> list[str]:
    """Remove what the recorded installation added; returns notes for the user."""
    resource = Path(resource)
    config = read_config_data(resource)
    if config is None:
        raise InstallError(f"nothing to uninstall: {config_path(resource)} does not exist")
    notes = _remove(resource, config.get("installed") or {})
    config_path(resource).unlink()
    return notes


def _remove(resource: Path, record: dict[str, Any]) -> list[str]:
    notes = _unregister(resource / KB_NAME, record)
    for relative in record.get("files", []):
        (resource / relative).unlink(missing_ok=True)
    for relative in sorted(record.get("dirs", []), key=lambda p: -p.count("/")):
        directory = resource / relative
        shutil.rmtree(directory / "__pycache__", ignore_errors=True)  # REAPER's Python wrote it
        try:
            directory.rmdir()
        except FileNotFoundError:
            pass
        except OSError:
            notes.append(f"{directory} was kept: it holds files reaper-automix did not install")
    return notes


def _unregister(kb_path: Path, record: dict[str, Any]) -> list[str]:
    lines = record.get("kb_lines") or []
    notes: list[str] = []
    if lines and kb_path.exists():
        text = kb_path.read_bytes().decode("utf-8", "surrogateescape")
        kept = [line for line in text.splitlines(keepends=True)
                if line.rstrip("\r\n") not in lines]
        remaining = "".join(kept)
        if record.get("kb_newline_added") and remaining.endswith(("\r\n", "\n")):
            remaining = remaining[: -2 if remaining.endswith("\r\n") else -1]
        if any(a in remaining for a in (line.split()[3] for line in lines)):
            notes.append(f"{kb_path} still binds keys or menus to the removed AutoMix actions")
        if record.get("kb_created") and not remaining:
            kb_path.unlink()
        else:
            _atomic_write(kb_path, remaining.encode("utf-8", "surrogateescape"))
    if record.get("kb_backup"):
        (kb_path.parent / record["kb_backup"]).unlink(missing_ok=True)
    return notes


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

