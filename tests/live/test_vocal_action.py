"""End to end: "AutoMix: Mix lead vocal" in the simulated REAPER (real python-reapy in inside
mode, real worker process) writes what `reaper-automix vocal` writes for the same project."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reaper_automix.hosts.rpp import open_project
from reaper_automix.iem.state import payload_params
from reaper_automix.jobs.vocal import TAGS
from reaper_automix.report.document import embedded_data

from ..reaper_sim import (
    VOCAL_ACTION,
    VOCAL_SETTINGS_ACTION,
    SimReaper,
    fake_python,
    write_worker_config,
)

REPO = Path(__file__).resolve().parents[2]
VOCAL = "Lead Vocal (stand-in)"


@pytest.fixture
def resource(tmp_path: Path) -> Path:
    """REAPER's resource folder, its worker Python importing this checkout (the worker drops
    PYTHONPATH: in a worktree the venv's installed package may be another checkout)."""
    folder = tmp_path / "REAPER"
    folder.mkdir()
    python = fake_python(folder, f'PYTHONPATH="{REPO}" exec "{sys.executable}" "$@"')
    write_worker_config(folder, python)
    return folder


def headless(project: Path, name: str, *args: str) -> Path:
    out = project.with_name(name)
    subprocess.run([sys.executable, "-m", "reaper_automix", "vocal", str(project), "-o",
                    str(out), *args], check=True, capture_output=True, cwd=REPO)
    return out


def plugins_by_tag(project) -> dict[str, tuple[str, dict[str, float]]]:
    track = project.track(VOCAL)
    return {fx.custom_name: (fx.iem_plugin.name, payload_params(fx.payload, fx.iem_plugin))
            for fx in track.fx if fx.iem_plugin is not None}


def live_state(sim: SimReaper, folder: Path):
    """What REAPER would save now: the tracks' state chunks, read by the .RPP host."""
    template = folder / "live.RTrackTemplate"
    template.write_text("".join(sim.chunk(t) for t in sim.project.tracks), encoding="utf-8")
    return open_project(template)


def test_vocal_action_writes_what_the_cli_writes(demo, resource, tmp_path):
    sim = SimReaper(demo, resource)
    sim.inputs.append(["rules", "100", "no", "no", "no"])
    sim.run_script(VOCAL_SETTINGS_ACTION)
    sim.select(VOCAL)
    sim.run_script(VOCAL_ACTION)
    assert sim.run_deferred() > 1
    assert sim.message_boxes == [], sim.console_text
    expected = open_project(headless(demo, "vocal-cli.RPP", "--vocal", VOCAL,
                                     "--method", "rules"))
    got = live_state(sim, tmp_path)
    assert got.track(VOCAL).volume_db == pytest.approx(expected.track(VOCAL).volume_db, abs=1e-6)
    assert plugins_by_tag(got) == plugins_by_tag(expected)
    assert set(plugins_by_tag(got)) == set(TAGS.values())
    assert [b.description for b in sim.undo_blocks] == [f"AutoMix: mix lead vocal {VOCAL}"]
    assert "level against the backing" in sim.console_text
    # every other track is untouched
    before = open_project(demo)
    for track in got.tracks:
        if track.name != VOCAL:
            assert track.volume == before.track(track.guid).volume
            assert [fx.payload for fx in track.fx] == [fx.payload for fx in
                                                       before.track(track.guid).fx]


def test_vocal_action_asks_for_one_selected_track(demo, resource):
    sim = SimReaper(demo, resource)
    sim.run_script(VOCAL_ACTION)
    assert "Select the lead vocal track first" in sim.message_boxes[-1][0]
    sim.select(VOCAL, "Piano")
    sim.run_script(VOCAL_ACTION)
    assert "2 tracks are selected" in sim.message_boxes[-1][0]
    assert sim.undo_blocks == []


def test_vocal_settings_are_checked(demo, resource):
    sim = SimReaper(demo, resource)
    sim.inputs.append(["prior", "150", "no", "no", "no"])
    sim.run_script(VOCAL_SETTINGS_ACTION)
    assert "amount '150'" in sim.message_boxes[-1][0]
    assert ("reaper-automix", "vocal_amount") not in sim.project_ext
    sim.inputs.append(["prior", "50", "yes", "maybe", "no"])
    sim.run_script(VOCAL_SETTINGS_ACTION)
    assert "open report in browser 'maybe'" in sim.message_boxes[-1][0]
    assert ("reaper-automix", "report") not in sim.project_ext


def test_vocal_action_writes_the_report_next_to_the_project(demo, resource):
    sim = SimReaper(demo, resource)
    sim.inputs.append(["rules", "100", "yes", "no", "yes"])
    sim.run_script(VOCAL_SETTINGS_ACTION)
    assert sim.project_ext[("reaper-automix", "report_preview")] == "yes"
    assert sim.input_dialogs[-1][2] == "prior,100,no,no,no"  # the defaults were offered
    sim.select(VOCAL)
    sim.run_script(VOCAL_ACTION)
    assert sim.run_deferred() > 1
    assert sim.message_boxes == [], sim.console_text
    page = demo.with_name(demo.stem + ".automix-vocal.html")
    previews = demo.with_name(demo.stem + ".automix-vocal-preview")
    assert page.is_file(), sim.console_text
    html = page.read_text(encoding="utf-8")
    assert embedded_data(html)["method"] == "rules"
    assert embedded_data(html)["vocal"] == VOCAL
    assert "Mix lead vocal" in html and "Against the DiffVox presets" in html
    assert sorted(p.name for p in previews.iterdir()) == ["after.wav", "before.wav"]
    assert f"Report written to {page}" in sim.console_text
    assert sim.opened == []  # opening it is off
