"""End to end: the AutoMix actions in the simulated REAPER (the real python-reapy in inside
mode, see conftest.py) with the real worker process, compared with `reaper-automix balance`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reaper_automix.audio.io import write_audio
from reaper_automix.hosts.rpp import open_project
from reaper_automix.reaper import action
from reaper_automix.report.document import embedded_data
from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project

from ..conftest import fixture_path
from ..reaper_sim import (
    BALANCE_ACTION,
    SETTINGS_ACTION,
    YES,
    SimReaper,
    add_midi,
    fake_python,
    repo_python,
    write_worker_config,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def resource(tmp_path: Path) -> Path:
    folder = tmp_path / "REAPER"
    folder.mkdir()
    write_worker_config(folder, repo_python(folder))
    return folder


def run_balance(sim: SimReaper) -> int:
    """Run the action, then REAPER's UI ticks until no deferred code is left."""
    sim.run_script(BALANCE_ACTION)
    return sim.run_deferred()


def headless(project: Path, out: Path, *args: str) -> dict[str, float]:
    """Fader dB per track GUID after ``reaper-automix balance``."""
    subprocess.run([sys.executable, "-m", "reaper_automix", "balance", str(project), "-o",
                    str(out), *args], check=True, capture_output=True, cwd=REPO)
    return {t.guid: t.volume_db for t in open_project(out).tracks}


def headless_report(project: Path, *args: str) -> dict:
    """The JSON report of ``reaper-automix balance --dry-run --json``."""
    run = subprocess.run([sys.executable, "-m", "reaper_automix", "balance", str(project),
                          "--dry-run", "--json", *args], check=True, capture_output=True,
                         text=True, cwd=REPO)
    return json.loads(run.stdout[: run.stdout.rindex("}") + 1])


def faders_db(sim: SimReaper) -> dict[str, float]:
    return {t.guid: t.volume_db for t in sim.project.tracks}


def last_message(sim: SimReaper) -> str:
    assert sim.message_boxes, f"no message was shown; console:\n{sim.console_text}"
    return sim.message_boxes[-1][0]


# ------------------------------------------------------------------------- happy paths
def test_balance_action_writes_what_the_headless_balance_writes(demo, resource, tmp_path):
    sim = SimReaper(demo, resource)
    before = sim.volumes()
    sim.select("Kick", "Bass")  # a track inside Drums, and the Bass folder itself
    ticks = run_balance(sim)
    assert ticks > 1 and sim.message_boxes == []
    expected = headless(demo, tmp_path / "out.RPP", "--group", "Drums", "--group", "Bass")
    got = faders_db(sim)
    assert got.keys() == expected.keys()
    for guid, db in expected.items():
        assert got[guid] == pytest.approx(db, abs=0.01), sim.project.track(guid).name
    moved = {sim.project.track(g).name for g in got if sim.volumes()[g] != before[g]}
    assert moved == {"Kick", "Snare", "Hi-Hat", "Toms", "Crash", "Bass Guitar"}
    assert [(b.description, b.flags) for b in sim.undo_blocks] == [
        ("AutoMix: balance Drums, Bass", 1)]
    assert sim.loose_changes == [] and sim.refresh_depth == 0
    assert sim.writes_while_refreshing == len(moved)
    console = sim.console_text
    assert "balancing Drums" in console and "balancing Bass" in console and "done in" in console
    sim.undo()  # Ctrl+Z restores every fader
    assert sim.volumes() == before


def test_settings_are_kept_in_the_project_and_used(demo, resource, tmp_path):
    sim = SimReaper(demo, resource)
    sim.inputs.append(["lufs", "no", "yes", "yes", "yes"])
    sim.run_script(SETTINGS_ACTION)
    assert sim.project_ext == {("reaper-automix", "balance_method"): "lufs",
                               ("reaper-automix", "balance_recursive"): "no",
                               ("reaper-automix", "report"): "yes",
                               ("reaper-automix", "report_open"): "yes",
                               ("reaper-automix", "report_preview"): "yes",
                               ("reaper-automix", "render"): "auto"}  # left empty: auto
    sim.inputs.append(["loudest", "no", "yes", "yes", "yes"])  # invalid: kept, and said so
    sim.run_script(SETTINGS_ACTION)
    assert "Not saved: method 'loudest'" in last_message(sim)
    assert sim.input_dialogs[-1][2] == "lufs,no,yes,yes,yes,auto"  # the stored values
    sim.select("Other")
    run_balance(sim)
    expected = headless(demo, tmp_path / "out.RPP", "--group", "Other", "--method", "lufs")
    for guid, db in expected.items():
        assert faders_db(sim)[guid] == pytest.approx(db, abs=0.01)
    report = demo.with_name(demo.stem + ".automix-balance.html")
    previews = demo.with_name(demo.stem + ".automix-balance-preview")
    assert report.is_file(), sim.console_text
    page = report.read_text(encoding="utf-8")
    assert embedded_data(page)["method"] == "lufs"
    assert sorted(p.name for p in previews.iterdir()) == ["after.wav", "before.wav"]
    assert f'src="{previews.name}/before.wav"' in page  # linked next to the page
    assert f"Report written to {report}" in sim.console_text
    assert sim.opened == [str(report)]  # opened with SWS's CF_ShellExecute


def test_report_previews_hear_what_only_reaper_plays(resource, tmp_path):
    """With A/B previews on, REAPER also renders the tracks of the mix only it plays (a MIDI
    synth outside the balanced folder), so that the previews hear the whole mix."""
    song = tmp_path / "song"
    (song / "media").mkdir(parents=True)
    t = np.arange(2 * 48000) / 48000
    for name, frequency in (("a", 220.0), ("b", 330.0)):
        write_audio(song / "media" / f"{name}.wav", 0.2 * np.sin(2 * np.pi * frequency * t), 48000)
    path = write_project(song / "s.RPP", [
        TrackSpec("Keys", children=[TrackSpec("A", items=[ItemSpec("media/a.wav", 0.0, 2.0)]),
                                    TrackSpec("B", items=[ItemSpec("media/b.wav", 0.0, 2.0)])]),
        TrackSpec("Synth")], sample_rate=48000)
    add_midi(path, "Synth", [(0.0, 2.0)])
    sim = SimReaper(path, resource)
    sim.project_ext.update({("reaper-automix", "report"): "yes",
                            ("reaper-automix", "report_preview"): "yes"})
    sim.select("Keys")
    run_balance(sim)
    (render,) = sim.renders
    assert render["selected"] == ["Synth"], "the analysis needs no render; the previews do"
    page = (song / "s.automix-balance.html").read_text(encoding="utf-8")
    assert "headless renderer" not in page, "no track of the previews was left unheard"
    assert sorted(p.name for p in (song / "s.automix-balance-preview").iterdir()) == [
        "after.wav", "before.wav"]
    assert sim.undo_blocks and sim.opened == []  # report on, opening it off


def test_running_again_and_answering_no_keeps_the_job(demo, resource):
    sim = SimReaper(demo, resource)
    sim.select("Vocals")
    sim.run_script(BALANCE_ACTION)
    sim.run_script(BALANCE_ACTION)  # the default answer is "No"
    assert "Cancel it?" in last_message(sim)
    sim.run_deferred()
    assert [b.description for b in sim.undo_blocks] == ["AutoMix: balance Vocals"]


# --------------------------------------------------------------------- real fixtures
@pytest.mark.parametrize("name, selected", [
    ("perlence-vst.RPP", "Boop"),
    ("spatlab-iem-template.rpp", "RoomEncoder"),
    ("spatlab-iem-template.rpp", "AmbisonicBus"),
])
def test_real_fixtures_give_what_the_headless_balance_gives(name, selected, resource):
    """Their folders hold no audio: the action changes nothing, as the CLI, and says why. Their
    plug-ins (JS, IEM plug-ins other than our three) are REAPER's to play: the action has REAPER
    render those tracks, the CLI skips them when told to."""
    path = fixture_path(name)
    sim = SimReaper(path, resource)
    before = sim.volumes()
    sim.select(selected)
    run_balance(sim)
    report = headless_report(path, "--group", sim.track(selected).guid, "--skip-unplayable")
    assert bool(sim.renders) == (sim.project.length > 0)  # a template has nothing to render
    assert sim.volumes() == before and sim.undo_blocks == []
    message = last_message(sim)
    assert message.startswith("Nothing to change") and "needs audio" in message
    for group in report["groups"]:
        for track in group["tracks"]:
            assert track["volume_after_db"] == track["volume_before_db"]
            assert f"{track['name']}: {track['reason']}" in message


@pytest.mark.parametrize("selected", [(), ("kick",)])
def test_selection_outside_any_folder_is_refused(selected, resource):
    sim = SimReaper(fixture_path("audio-file-x4.RPP"), resource)
    sim.select(*selected)
    run_balance(sim)
    assert last_message(sim).startswith("Select a folder track")
    assert action.running() is None and not sim.deferred


def test_missing_media_is_reported_and_nothing_changes(resource, tmp_path):
    tree = [TrackSpec("Drums", children=[
        TrackSpec("Kick", items=[ItemSpec("media/kick.wav", 0.0, 1.0)]),
        TrackSpec("Snare", items=[ItemSpec("media/snare.wav", 0.0, 1.0)])])]
    sim = SimReaper(write_project(tmp_path / "m.RPP", tree, seed=1), resource)
    before = sim.volumes()
    sim.select("Drums")
    run_balance(sim)
    message = last_message(sim)
    assert "kick.wav" in message and "Nothing was changed" in message
    assert sim.volumes() == before and sim.undo_blocks == []


# ------------------------------------------------------------------------------ failures
def test_cancel_leaves_the_project_unchanged(demo, resource):
    sim = SimReaper(demo, resource)
    before = sim.volumes()
    sim.select("Drums", "Bass", "Vocals", "Other")
    sim.run_script(BALANCE_ACTION)
    job_dir = action.running().job_dir
    sim.answers.append(YES)
    sim.run_script(BALANCE_ACTION)  # running it again offers to cancel
    sim.run_deferred()
    assert "cancelling" in sim.console_text
    assert "cancelled; nothing was changed" in sim.console_text
    assert sim.volumes() == before and sim.undo_blocks == []
    assert not job_dir.exists()


def test_worker_crash_leaves_the_project_unchanged(demo, resource):
    write_worker_config(resource, fake_python(resource, 'echo "Segmentation fault: boom" >&2\n'
                                                       "exit 139"))
    sim = SimReaper(demo, resource)
    before = sim.volumes()
    sim.select("Drums")
    run_balance(sim)
    message = last_message(sim)
    assert "stopped unexpectedly (exit code 139)" in message and "boom" in message
    assert sim.volumes() == before and sim.undo_blocks == []


@pytest.mark.parametrize("config", ["none", "gone"])
def test_missing_interpreter_leaves_the_project_unchanged(config, demo, resource):
    if config == "none":
        (resource / "reaper-automix.json").unlink()
    else:
        write_worker_config(resource, str(resource / "venv" / "bin" / "python"))
    sim = SimReaper(demo, resource)
    before = sim.volumes()
    sim.select("Drums")
    run_balance(sim)
    message = last_message(sim)
    assert "reaper-automix install" in message
    assert ("not set up" if config == "none" else "does not exist") in message
    assert action.running() is None and not sim.deferred
    assert sim.volumes() == before and sim.undo_blocks == []


def test_timeout_stops_the_worker(demo, resource):
    write_worker_config(resource, fake_python(resource, "sleep 60"), timeout_s=0.5)
    sim = SimReaper(demo, resource)
    before = sim.volumes()
    sim.select("Drums")
    sim.run_script(BALANCE_ACTION)
    worker = action.running().worker
    sim.run_deferred(timeout=20)
    assert "time limit" in last_message(sim)
    assert worker.exit_code() is not None  # killed
    assert sim.volumes() == before and sim.undo_blocks == []


def test_project_changed_meanwhile_is_not_overwritten(demo, resource, tmp_path):
    folder = tmp_path / "song"  # a copy, so that no report of another test is next to it
    folder.mkdir()
    project = folder / demo.name
    project.write_bytes(demo.read_bytes())
    (folder / "media").symlink_to(demo.parent / "media")
    sim = SimReaper(project, resource)
    sim.project_ext[("reaper-automix", "report")] = "yes"
    sim.select("Drums")
    sim.run_script(BALANCE_ACTION)
    job_dir = action.running().job_dir
    sim.user_edit("Kick", 0.5)
    expected = sim.volumes()
    sim.run_deferred()
    assert "The project changed while AutoMix was working" in last_message(sim)
    assert sim.volumes() == expected and sim.undo_blocks == []
    assert sorted(p.name for p in folder.iterdir()) == sorted([project.name, "media"]), \
        "no report of a result that was not applied"
    assert not job_dir.exists() and sim.opened == []


def test_project_closed_meanwhile(demo, resource):
    sim = SimReaper(demo, resource)
    before = sim.volumes()
    sim.select("Drums")
    sim.run_script(BALANCE_ACTION)
    sim.close_project()
    sim.run_deferred()
    assert "closed" in last_message(sim)
    assert sim.volumes() == before and sim.undo_blocks == []
