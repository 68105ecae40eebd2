"""Receives (AUXRECV) and new tracks in the .RPP host and the renderer."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from reaper_automix.audio.render import Renderer
from reaper_automix.hosts.rpp import open_project
from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project
from reaper_automix.session import Receive

from .conftest import fixture_path

SR = 44100


def test_receives_are_read_and_edited_in_place(tmp_path):
    path = tmp_path / "sends.RPP"
    shutil.copy(fixture_path("perlence-vst.RPP"), path)
    original = path.read_bytes()
    project = open_project(path)
    synth = project.track("Synth")
    assert [(r.source.index, r.mode, r.volume) for r in synth.receives] == [(4, 0, 1.0)]
    synth.receives[0].volume = 0.5
    project.save()
    before, after = original.splitlines(), path.read_bytes().splitlines()
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(before) == len(after) and len(changed) == 1
    assert changed[0][1].strip() == b"AUXRECV 4 0 0.5 0 0 0 0 0 0 -1:U 0 -1 ''"
    assert open_project(path).track("Synth").receives[0].volume == 0.5


def _session(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    sf.write(folder / "a.wav", (rng.standard_normal((SR, 2)) * 0.1).astype(np.float32), SR,
             subtype="FLOAT")
    tracks = [TrackSpec("Group", children=[
        TrackSpec("Source", volume=0.5, items=[ItemSpec("a.wav", 0.0, 1.0)])])]
    path = write_project(folder / "p.RPP", tracks, sample_rate=SR, seed=3)
    # as some writers leave it: the last track does not close its folder (end of file does)
    path.write_bytes(path.read_bytes().replace(b"ISBUS 2 -1", b"ISBUS 0 0"))
    return path


def test_new_return_track_closes_folders_and_plays_the_send(tmp_path):
    path = _session(tmp_path)
    project = open_project(path)
    source = project.track("Source")
    assert source.parent is project.track("Group")
    ret = project.add_track("Return")
    ret.receives.append(Receive(source, volume=0.25, is_new=True))
    assert ret.parent is None and source.folder_depth == -1
    project.save()
    text = path.read_bytes()
    assert b"ISBUS 2 -1" in text and b"AUXRECV 1 0 0.25 0 0 0 0 0 0 -1:U 0 -1 ''" in text
    again = open_project(path)
    ret = again.track("Return")
    assert ret.parent is None and ret.guid and again.track("Source").parent is not None
    renderer = Renderer(again)
    expected = renderer.track(again.track("Source")) * np.float32(0.25)
    np.testing.assert_allclose(renderer.track(ret), expected, atol=1e-7)


@pytest.mark.parametrize("mode, fader", [(0, True), (3, False)])
def test_send_modes(tmp_path, mode, fader):
    project = open_project(_session(tmp_path))
    source = project.track("Source")
    ret = project.add_track("Return")
    ret.receives.append(Receive(source, mode=mode, volume=1.0, is_new=True))
    renderer = Renderer(project)
    expected = renderer.track(source, fader=fader, pan=fader)
    np.testing.assert_allclose(renderer.track(ret), expected, atol=1e-7)


def test_routing_loop_is_an_error(tmp_path):
    project = open_project(_session(tmp_path))
    a = project.track("Source")
    b = project.add_track("B")
    b.receives.append(Receive(a))
    a.receives.append(Receive(b))
    with pytest.raises(ValueError, match="routing loop"):
        Renderer(project).track(b)
