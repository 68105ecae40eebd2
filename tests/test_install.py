"""`reaper-automix install` into a temporary REAPER resource folder, and `--uninstall`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reaper_automix.cli import main
from reaper_automix.reaper.config import CONFIG_NAME, load_worker_config
from reaper_automix.reaper.install import (
    KB_NAME,
    REAPY_VERSION,
    InstallError,
    find_actions,
    find_iem_plugins,
    install,
    local_python_info,
    script_files,
    uninstall,
)

KB_LINES = [
    'ACT 0 0 "d0e1f2" "Custom: my macro" _RSabc 40001',
    'SCR 4 0 RSabc "Custom: mine.lua" "User Scripts/mine.lua"',
    "KEY 1 65 _RSabc 0",
]
_OUR_KB_LINE = re.compile(r'^SCR 4 0 RS[0-9a-f]{40} "Custom: AutoMix: [^"]+" "reaper-automix/[^"]+\.py"$')


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under ``folder``."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else None
            for p in sorted(folder.rglob("*"))}


@pytest.fixture
def resource(tmp_path: Path) -> Path:
    """A resource folder with settings and scripts of the user's own."""
    folder = tmp_path / "REAPER"
    (folder / "Scripts" / "User Scripts").mkdir(parents=True)
    (folder / "Scripts" / "User Scripts" / "mine.lua").write_bytes(b"reaper.ShowConsoleMsg('x')\n")
    (folder / "reaper.ini").write_bytes(b"[REAPER]\r\nreascript=1\r\n")
    return folder


def write_kb(resource: Path, newline: str, final_newline: bool) -> bytes:
    data = (newline.join(KB_LINES) + (newline if final_newline else "")).encode("utf-8")
    (resource / KB_NAME).write_bytes(data)
    return data


# ------------------------------------------------------------------- install, uninstall
@pytest.mark.parametrize("final_newline", [True, False])
@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_install_then_uninstall_leaves_the_folder_byte_for_byte(resource, newline, final_newline):
    original = write_kb(resource, newline, final_newline)
    before = snapshot(resource)
    report = install(resource, sys.executable)

    kb = (resource / KB_NAME).read_bytes()
    assert kb.startswith(original)  # the user's lines are kept as they were
    added = kb[len(original):].decode("utf-8")
    if not final_newline:
        assert added.startswith(newline)
    assert added.endswith(newline)
    assert not re.search(r"[\r\n]", added.replace(newline, ""))  # the file's line endings
    ours = [line for line in added.split(newline) if line]
    assert len(ours) == len(find_actions()) == 7
    assert all(_OUR_KB_LINE.match(line) for line in ours), ours

    scripts = report.scripts_dir
    assert scripts == resource / "Scripts" / "reaper-automix"
    for relative, data in script_files(local_python_info()).items():
        assert (scripts / relative).read_bytes() == data
    assert (scripts / "reapy" / "core" / "fx" / "fx.py").is_file()
    assert b"MIT License" in (scripts / "reapy" / "LICENSE.txt").read_bytes()
    assert not list(scripts.rglob("*.pyc")) and not list(scripts.rglob("*.pyi"))
    assert load_worker_config(resource).python == sys.executable
    recorded = json.loads((resource / CONFIG_NAME).read_text())["installed"]
    assert len(recorded["files"]) == len(list(p for p in scripts.rglob("*") if p.is_file()))

    for package in ("reaper_automix", "reapy"):  # what REAPER's Python leaves behind
        (scripts / package / "__pycache__").mkdir()
        (scripts / package / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\0")
    assert uninstall(resource) == []
    assert snapshot(resource) == before


def test_install_creates_and_uninstall_removes_reaper_kb(resource):
    before = snapshot(resource)
    install(resource, sys.executable)
    text = (resource / KB_NAME).read_text(encoding="utf-8")
    assert all(_OUR_KB_LINE.match(line) for line in text.splitlines())
    uninstall(resource)
    assert snapshot(resource) == before


def test_reinstall_registers_each_action_once_and_uninstall_still_restores(resource):
    write_kb(resource, "\r\n", True)
    before = snapshot(resource)
    install(resource, sys.executable)
    install(resource, sys.executable)
    kb = (resource / KB_NAME).read_text(encoding="utf-8")
    for action in find_actions():
        assert kb.count(action.command_id) == 1
    uninstall(resource)
    assert snapshot(resource) == before


def test_files_the_user_put_in_our_folder_are_kept(resource):
    report = install(resource, sys.executable)
    note_file = report.scripts_dir / "my notes.txt"
    note_file.write_text("keep me")
    notes = uninstall(resource)
    assert note_file.read_text() == "keep me"
    assert any("holds files reaper-automix did not install" in n for n in notes)
    assert not (report.scripts_dir / "reapy").exists()


def test_a_foreign_file_in_the_way_stops_the_install_and_changes_nothing(resource):
    write_kb(resource, "\n", True)
    clash = resource / "Scripts" / "reaper-automix" / "reapy" / "__init__.py"
    clash.parent.mkdir(parents=True)
    clash.write_text("# someone else's reapy\n")
    before = snapshot(resource)
    with pytest.raises(InstallError, match="already exists and was not installed"):
        install(resource, sys.executable)
    assert snapshot(resource) == before


def test_worker_only_records_the_python_and_nothing_else(resource):
    before = snapshot(resource)
    report = install(resource, sys.executable, actions=False)
    assert report.actions == [] and load_worker_config(resource).python == sys.executable
    assert set(snapshot(resource)) - set(before) == {CONFIG_NAME}
    uninstall(resource)
    assert snapshot(resource) == before


def test_refusals_say_what_to_do(resource, tmp_path):
    with pytest.raises(InstallError, match="does not exist: start REAPER once"):
        install(tmp_path / "no-such-folder", sys.executable)
    with pytest.raises(InstallError, match="nothing to uninstall"):
        uninstall(resource)
    info = local_python_info()
    info.reapy_version = None
    with pytest.raises(InstallError, match=rf"pip install python-reapy=={REAPY_VERSION}"):
        script_files(info)


def test_iem_plugins_are_found_in_vst_folders(tmp_path):
    vst2, vst3 = tmp_path / "vst", tmp_path / "vst3"
    (vst2 / "iem").mkdir(parents=True)
    (vst2 / "iem" / "libMultiEQ.so").write_bytes(b"")
    (vst2 / "OmniCompressor.txt").write_bytes(b"")  # not a plug-in
    (vst3 / "OmniCompressor.vst3" / "Contents").mkdir(parents=True)  # a VST3 bundle
    found = find_iem_plugins([vst2, vst3])
    assert found == {"MultiEQ": [vst2 / "iem" / "libMultiEQ.so"],
                     "OmniCompressor": [vst3 / "OmniCompressor.vst3"], "FdnReverb": []}


# --------------------------------------------------------------------------------- CLI
def test_cli_install_reports_and_uninstall_restores(resource, capsys):
    before = snapshot(resource)
    assert main(["install", "--resource-path", str(resource)]) == 0
    out = capsys.readouterr().out
    assert "AutoMix: Auto balance group" in out and "Worker Python" in out
    assert f"python-reapy {REAPY_VERSION} copied" in out
    assert "LDLIBRARY" in out and "LIBDIR" in out and "IEM plug-ins" in out
    assert main(["install", "--resource-path", str(resource), "--uninstall"]) == 0
    assert snapshot(resource) == before


# ------------------------------------------------------------------ installed scripts
_BARE_REAPER = textwrap.dedent("""
    import json, os, sys, sysconfig, types
    for name in ("numpy", "scipy", "torch", "soundfile", "numba", "psutil"):
        sys.modules[name] = None  # importing any of them now raises ImportError
    script, resource = sys.argv[1], sys.argv[2]
    shown = []
    main = types.ModuleType("__main__")
    main.obj = object()  # what python-reapy takes as the sign of running inside REAPER
    main.RPR_defer = main.RPR_atexit = lambda code: None
    sys.modules["__main__"] = main
    rpr = types.ModuleType("reaper_python")
    PROJ, NULL = "(ReaProject*)0x0000000000001000", "(ReaProject*)0x0000000000000000"
    rpr.rpr_packp = lambda ctype, value: 0
    rpr.RPR_EnumProjects = lambda i, b, s: (PROJ if i in (-1, 0) else NULL, i, "", s)
    rpr.RPR_CountTracks = lambda p: 0
    rpr.RPR_CountSelectedTracks2 = lambda p, master: 0
    rpr.RPR_GetSetProjectInfo = lambda p, k, v, s: 44100.0
    rpr.RPR_GetProjectTimeSignature2 = lambda p, bpm, bpi: (p, 120.0, 4.0)
    rpr.RPR_GetResourcePath = lambda: resource
    rpr.RPR_GetProjExtState = lambda p, s, k, b, n: (0, p, s, k, "", n)
    rpr.RPR_GetUserInputs = lambda t, n, c, d, s: (False, t, n, c, d, s)
    rpr.RPR_GetUserFileNameForRead = lambda f, t, e: (False, f, t, e)
    rpr.RPR_ShowMessageBox = lambda m, t, k: shown.append(m) or 1
    sys.modules["reaper_python"] = rpr
    sys.path.insert(0, os.path.dirname(script))  # REAPER puts the script's folder first
    exec(compile(open(script, encoding="utf-8").read(), script, "exec"), main.__dict__)
    loaded = {name: m.__file__ for name, m in sys.modules.items()
              if m is not None and getattr(m, "__file__", None)}
    print(json.dumps({"shown": shown, "loaded": loaded,
                      "stdlib": sysconfig.get_paths()["stdlib"]}))
""")


@pytest.mark.parametrize("script", ["AutoMix_Auto balance group.py",
                                    "AutoMix_Auto balance group (settings).py",
                                    "AutoMix_Set role of selected tracks.py",
                                    "AutoMix_Match reference.py",
                                    "AutoMix_Mix (balance + match).py"])
def test_installed_actions_import_only_the_installed_copy_and_the_stdlib(script, resource,
                                                                         tmp_path):
    """In a bare Python (-I -S: no site-packages, no .pth files, no repository on the path)
    where numpy, scipy, torch, soundfile, numba and psutil cannot be imported, the installed
    actions run from their own folder, python-reapy included, in inside mode."""
    report = install(resource, sys.executable)
    run = subprocess.run([sys.executable, "-I", "-S", "-c", _BARE_REAPER,
                          str(report.scripts_dir / script), str(resource)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout.splitlines()[-1])
    ours = {name for name in data["loaded"] if name.split(".")[0] in ("reaper_automix", "reapy")}
    assert {"reapy", "reapy.core.fx.fx", "reaper_automix.reaper.api"} <= ours
    if "role" not in script:  # the role action writes no FX
        assert {"reaper_automix.iem.params", "reaper_automix.iem.state"} <= ours  # live FX writes
    for name, path in data["loaded"].items():
        inside = Path(path).is_relative_to(report.scripts_dir)
        assert inside if name in ours else Path(path).is_relative_to(data["stdlib"]), (name, path)
    if "role" in script:
        assert data["shown"] and data["shown"][0].startswith("Select the tracks")
        assert "reaper_automix.analysis.roles" in ours  # the vocabulary, without numpy
    elif script != "AutoMix_Auto balance group.py":
        assert data["shown"] == []  # the dialog was cancelled: nothing to say
    else:
        assert data["shown"] and data["shown"][0].startswith("Select a folder track")
        assert "reaper_automix.reaper.action" in ours
