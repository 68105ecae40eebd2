"""REAPER renders the tracks the headless renderer cannot play (issue 18), end to end in the
simulated REAPER (the real python-reapy in inside mode, see conftest.py) with the real worker:
a folder of MIDI tracks played by an instrument is balanced from REAPER's renders."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from reaper_automix.audio.io import write_audio
from reaper_automix.hosts.rpp import open_project
from reaper_automix.reaper import action
from reaper_automix.reaper.stems import FLOAT_WAV, PATTERN, RENDER_ACTION
from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project

from ..reaper_sim import (
    BALANCE_ACTION,
    SETTINGS_ACTION,
    YES,
    SimReaper,
    add_midi,
    repo_python,
    synth_instrument,
    write_worker_config,
)

REPO = Path(__file__).resolve().parents[2]
RATE, LENGTH = 48000, 3.0
#: MIDI tracks of the Keys folder: fader, pan, note spans (seconds).
SYNTHS = {"Pad": (0.5, -0.3, [(0.0, 3.0)]), "Lead": (1.4, 0.2, [(0.5, 2.5)]),
          "Bells": (0.25, 0.0, [(0.0, 1.0), (1.5, 2.8)])}
#: What a user has set up: none of it may change.
USERS_RENDER = {"RENDER_SETTINGS": 0.0, "RENDER_BOUNDSFLAG": 2.0, "RENDER_STARTPOS": 12.0,
                "RENDER_ENDPOS": 34.0, "RENDER_SRATE": 96000.0, "RENDER_CHANNELS": 1.0,
                "RENDER_TAILFLAG": 4.0, "RENDER_TAILMS": 1500.0, "RENDER_ADDTOPROJ": 0.0,
                "RENDER_DITHER": 5.0, "RENDER_NORMALIZE": 1.0, "RENDER_FADEIN": 0.25,
                "RENDER_FADEOUT": 0.5, "RENDER_FILE": "/home/user/renders",
                "RENDER_PATTERN": "$project-final", "RENDER_FORMAT": "bDNwbSAAAAA=",
                "RENDER_FORMAT2": "Y2FsZhgAAAA="}


@pytest.fixture(autouse=True)
def private_temp(tmp_path: Path):
    """Job folders go to a folder of this test's own, to see that none is left behind."""
    folder = tmp_path / "temp"
    folder.mkdir()
    tempfile.tempdir = str(folder)
    yield folder
    tempfile.tempdir = None


@pytest.fixture
def resource(tmp_path: Path) -> Path:
    folder = tmp_path / "REAPER"
    folder.mkdir()
    write_worker_config(folder, repo_python(folder))
    return folder


def _tree(items: dict[str, list[ItemSpec]]) -> list[TrackSpec]:
    children = [TrackSpec(name, volume=volume, pan=pan, items=items.get(name, []))
                for name, (volume, pan, _) in SYNTHS.items()]
    piano = TrackSpec("Piano", volume=0.8, items=[ItemSpec("media/piano.wav", 0.0, LENGTH)])
    return [TrackSpec("Keys", volume=0.9, children=[*children, piano])]


def _piano(folder: Path) -> None:
    t = np.arange(int(LENGTH * RATE)) / RATE
    write_audio(folder / "media" / "piano.wav", 0.2 * np.sin(2 * np.pi * 261.6 * t), RATE)


def midi_project(folder: Path) -> Path:
    """Keys: three MIDI tracks played by an instrument, and a recorded piano."""
    _piano(folder)
    path = write_project(folder / "midi.RPP", _tree({}), sample_rate=RATE, seed=11,
                         line_ending="\n")
    for name, (_, _, spans) in SYNTHS.items():
        add_midi(path, name, spans)
    return path


def audio_project(folder: Path) -> Path:
    """The same session with what the instruments play given as audio items."""
    _piano(folder)
    n = int(LENGTH * RATE)
    for name, (_, _, spans) in SYNTHS.items():
        write_audio(folder / "media" / f"{name}.wav", synth_instrument(name, spans, RATE, n), RATE)
    items = {name: [ItemSpec(f"media/{name}.wav", 0.0, LENGTH)] for name in SYNTHS}
    return write_project(folder / "audio.RPP", _tree(items), sample_rate=RATE, seed=11)


def headless_faders(project: Path, *args: str) -> dict[str, float]:
    out = project.with_name("balanced.RPP")
    subprocess.run([sys.executable, "-m", "reaper_automix", "balance", str(project), "-o",
                    str(out), *args], check=True, capture_output=True, cwd=REPO)
    return {t.name: t.volume_db for t in open_project(out).tracks}


def users_state(sim: SimReaper) -> dict:
    return {"render": dict(sim.render_settings), "selected": sorted(sim.selected),
            "ranges": dict(sim.ranges), "cursor": sim.cursor, "play": sim.play_state,
            "position": sim.play_position}


def set_up_user(sim: SimReaper, play_state: int = 1) -> None:
    """The user's render settings, ranges, cursor, playback (1 playing, 2 paused)."""
    sim.render_settings.update(USERS_RENDER)
    sim.ranges = {"time selection": (1.0, 2.0), "loop": (0.5, 2.5)}
    sim.cursor, sim.play_state, sim.play_position = 0.75, play_state, 1.25
    sim.select("Keys")


def run_balance(sim: SimReaper) -> None:
    sim.run_script(BALANCE_ACTION)
    sim.run_deferred()


def job_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).iterdir())


def files(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if "__pycache__" not in path.parts}


def last_message(sim: SimReaper) -> str:
    assert sim.message_boxes, f"no message was shown; console:\n{sim.console_text}"
    return sim.message_boxes[-1][0]


# ------------------------------------------------------------------------------ happy path
def test_midi_folder_is_balanced_from_reapers_renders_like_the_same_audio(resource, tmp_path):
    (tmp_path / "live").mkdir()
    (tmp_path / "cli").mkdir()
    sim = SimReaper(midi_project(tmp_path / "live"), resource)
    set_up_user(sim)
    before, project_files = users_state(sim), files(tmp_path / "live")
    run_balance(sim)
    expected = headless_faders(audio_project(tmp_path / "cli"))
    got = {t.name: t.volume_db for t in sim.project.tracks}
    for name in [*SYNTHS, "Piano"]:
        assert got[name] == pytest.approx(expected[name], abs=0.01), name
    assert got["Pad"] != pytest.approx(20 * np.log10(0.5), abs=0.1)  # the faders did move
    # REAPER rendered exactly the MIDI tracks, pre-fader, as documented, once
    render, = sim.renders
    assert sorted(render["selected"]) == sorted(SYNTHS)
    assert sim.actions == [RENDER_ACTION]
    settings = render["settings"]
    assert settings["RENDER_SETTINGS"] == 3 | 8192 and settings["RENDER_BOUNDSFLAG"] == 0
    assert (settings["RENDER_STARTPOS"], settings["RENDER_ENDPOS"]) == (0.0, LENGTH)
    assert (settings["RENDER_SRATE"], settings["RENDER_CHANNELS"]) == (RATE, 2)
    assert settings["RENDER_TAILFLAG"] == settings["RENDER_ADDTOPROJ"] == 0
    assert settings["RENDER_NORMALIZE"] == settings["RENDER_DITHER"] == 0
    assert (settings["RENDER_FORMAT"], settings["RENDER_FORMAT2"]) == (FLOAT_WAV, "")
    assert settings["RENDER_PATTERN"] == PATTERN
    assert render["play_state"] == 0 and render["undo_depth"] == 0  # stopped, no undo point
    # nothing of the user's changed, nothing was added, nothing is left behind
    assert users_state(sim) == before
    assert [b.flags for b in sim.undo_blocks] == [1] and len(sim.project.tracks) == 5
    job_dir = Path(settings["RENDER_FILE"]).parent
    assert all(path.parent == job_dir / "stems" for path in render["files"])
    assert job_dir.parent == Path(tempfile.gettempdir()) and job_dirs() == set()
    assert files(tmp_path / "live") == project_files
    console = sim.console_text
    assert re.search(r"REAPER renders 3 track\(s\) .*\(Pad, Lead, Bells\) before their faders, "
                     r"3\.0 s of the project; REAPER is busy until it is done: up to 3\.0 s",
                     console), console
    assert "REAPER rendered 3 track(s)" in console


def test_older_reaper_renders_post_fader_and_the_faders_are_divided_out(resource, tmp_path):
    (tmp_path / "live").mkdir()
    (tmp_path / "cli").mkdir()
    sim = SimReaper(midi_project(tmp_path / "live"), resource)
    sim.app_version = "6.83/linux-x86_64"
    sim.select("Keys")
    run_balance(sim)
    assert sim.renders[0]["settings"]["RENDER_SETTINGS"] == 3
    expected = headless_faders(audio_project(tmp_path / "cli"))
    for name in SYNTHS:
        assert sim.track(name).volume_db == pytest.approx(expected[name], abs=0.01), name
    assert "after their faders" in sim.console_text


@pytest.mark.parametrize("mode", ["reaper", "headless"])
def test_render_setting_forces_either_way(mode, resource, tmp_path):
    sim = SimReaper(midi_project(tmp_path), resource)
    sim.inputs.append(["centroid", "no", "no", "no", "no", mode])
    sim.run_script(SETTINGS_ACTION)
    assert sim.project_ext[("reaper-automix", "render")] == mode
    sim.select("Keys")
    run_balance(sim)
    if mode == "reaper":  # the recorded piano too
        assert sorted(sim.renders[0]["selected"]) == sorted([*SYNTHS, "Piano"])
    else:  # nothing rendered: the MIDI tracks are silent to the analysis, and it says so
        assert sim.renders == []
        assert "track 'Pad' (MIDI items, instrument VSTi: ReaSynth (Cockos)) is analysed as " \
               "the headless renderer plays it" in sim.console_text


# ---------------------------------------------------------------------------- failures
@pytest.mark.parametrize("outcome, play_state", [("fail", 1), ("cancel", 2)])
def test_failed_or_cancelled_render_changes_nothing(outcome, play_state, resource, tmp_path):
    sim = SimReaper(midi_project(tmp_path), resource)
    set_up_user(sim, play_state)
    sim.render_outcome = outcome
    before, volumes = users_state(sim), sim.volumes()
    run_balance(sim)
    assert "cancelled or failed" in last_message(sim) and "Nothing was changed" in last_message(sim)
    assert users_state(sim) == before and sim.volumes() == volumes
    assert sim.undo_blocks == [] and action.running() is None and job_dirs() == set()


def test_cancelling_the_job_after_the_render_changes_nothing(resource, tmp_path):
    sim = SimReaper(midi_project(tmp_path), resource)
    set_up_user(sim)
    before, volumes = users_state(sim), sim.volumes()
    sim.run_script(BALANCE_ACTION)
    assert sim.renders and users_state(sim) == before  # rendered, and already restored
    sim.answers.append(YES)
    sim.run_script(BALANCE_ACTION)  # running it again offers to cancel
    sim.run_deferred()
    assert "cancelled; nothing was changed" in sim.console_text
    assert users_state(sim) == before and sim.volumes() == volumes and sim.undo_blocks == []
    assert job_dirs() == set()


def test_recording_is_never_interrupted(resource, tmp_path):
    sim = SimReaper(midi_project(tmp_path), resource)
    sim.select("Keys")
    sim.play_state = 5  # recording
    run_balance(sim)
    assert "REAPER is recording" in last_message(sim)
    assert sim.renders == [] and sim.play_state == 5 and sim.undo_blocks == []
