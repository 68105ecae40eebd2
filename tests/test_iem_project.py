"""IEM parameters written into real project files: existing instances updated in place, our tagged
instances added, everything else byte-identical, and the renderer playing what was staged."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import numpy as np
import pytest

from reaper_automix import iem, open_project
from reaper_automix.audio.render import Renderer
from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project
from reaper_automix.audio.io import write_audio

from .conftest import fixture_path

EDITS = [
    ("spatlab-iem-template.rpp", "MixCompressor", "OmniCompressor",
     {"threshold": -23.5, "ratio": 6.0, "attack": 12.0}),
    ("icst-iem-fx.RTrackTemplate", "FX_Bformat_o3(IEM)", "MultiEQ",
     {"filterGain3": -4.5, "filterFrequency3": 2500.0, "filterEnabled5": 0.0}),
    ("icst-iem-fx.RTrackTemplate", "FX_Bformat_o3(IEM)", "FdnReverb",
     {"revTime": 1.8, "dryWet": 0.25}),
]


def track_named(project, name: str):
    return next(t for t in project.tracks if t.name == name)


def changed_lines(before: bytes, after: bytes) -> list[str]:
    old, new = before.decode("latin-1").splitlines(True), after.decode("latin-1").splitlines(True)
    return [line for line in difflib.ndiff(old, new) if line[:2] in ("- ", "+ ")]


def vst_payload_span(text: str, plugin: str) -> tuple[int, int]:
    """Line numbers (start, end) of the payload of the first <VST block naming ``plugin``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("<VST") and plugin in line)
    end = next(i for i in range(start, len(lines)) if lines[i].strip() == ">")
    return start + 1, end


@pytest.mark.parametrize("fixture, track_name, plugin, edits", EDITS)
def test_existing_instance_is_updated_in_place(fixture, track_name, plugin, edits, tmp_path) -> None:
    source = fixture_path(fixture)
    project = open_project(source)
    fx = track_named(project, track_name).find_fx(plugin)
    before = iem.fx_params(fx)
    fx.changes.update(edits)
    out = tmp_path / source.name
    project.save(out)

    reread = iem.fx_params(track_named(open_project(out), track_name).find_fx(plugin))
    spec = iem.get_plugin(plugin)
    assert reread == {**before, **spec.to_grid(edits)}
    old_text, new_text = source.read_bytes(), out.read_bytes()
    start, end = vst_payload_span(old_text.decode("latin-1"), plugin)
    old_lines, new_lines = old_text.splitlines(True), new_text.splitlines(True)
    assert old_lines[:start] == new_lines[:start]
    tail = len(old_lines) - end
    assert old_lines[-tail:] == new_lines[-tail:]


def test_untouched_instances_keep_their_bytes(tmp_path) -> None:
    source = fixture_path("icst-iem-fx.RTrackTemplate")
    project = open_project(source)
    track_named(project, "FX_Bformat_o3(IEM)").find_fx("FdnReverb").changes["dryWet"] = 0.5
    out = tmp_path / source.name
    project.save(out)
    text = out.read_text("latin-1")
    for plugin in ("MultiEQ", "MultiBandCompressor"):
        start, end = vst_payload_span(source.read_text("latin-1"), plugin)
        s2, e2 = vst_payload_span(text, plugin)
        assert source.read_text("latin-1").splitlines()[start:end] == text.splitlines()[s2:e2]


def test_new_tagged_instance_is_added_then_updated_in_place(tmp_path) -> None:
    source = fixture_path("spatlab-iem-template.rpp")
    project = open_project(source)
    track = track_named(project, "StereoEncoder")
    n_fx = len(track.fx)
    track.stage_iem_params("MultiEQ", {"filterGain2": 3.0, "filterFrequency2": 800.0}, "AutoMix EQ")
    out = tmp_path / "first.rpp"
    project.save(out)
    diff = changed_lines(source.read_bytes(), out.read_bytes())
    assert all(line.startswith("+ ") for line in diff), "adding an instance only inserts lines"
    added = "".join(line[2:] for line in diff)
    assert "<VST \"VST: MultiEQ (IEM) (64ch)\" MultiEQ.dll 0 \"AutoMix EQ\"" in added
    assert re.search(r"FXID \{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}", added)
    assert added.endswith("\r\n") == source.read_bytes().endswith(b"\r\n")

    second = open_project(out)
    ours = track_named(second, "StereoEncoder").find_fx("MultiEQ", "AutoMix EQ")
    assert len(track_named(second, "StereoEncoder").fx) == n_fx + 1
    params = iem.fx_params(ours)
    assert params["filterGain2"] == pytest.approx(3.0) and params["filterFrequency2"] == 800.0
    assert params["filterType0"] == 3.0 and params["filterGain0"] == 0.0  # transparent band 1

    again = track_named(second, "StereoEncoder").stage_iem_params("MultiEQ", {"filterGain2": -2.0},
                                                                  "AutoMix EQ")
    assert again is ours
    second.save(tmp_path / "second.rpp")
    third = track_named(open_project(tmp_path / "second.rpp"), "StereoEncoder")
    assert len(third.fx) == n_fx + 1
    assert iem.fx_params(third.find_fx("MultiEQ", "AutoMix EQ"))["filterGain2"] == pytest.approx(-2.0)
    assert iem.fx_params(third.find_fx("MultiEQ", "AutoMix EQ"))["filterFrequency2"] == 800.0


def test_new_instance_on_a_track_without_fx_chain_gets_one(tmp_path) -> None:
    source = fixture_path("spatlab-iem-template.rpp")
    project = open_project(source)
    bare = next(t for t in project.tracks if not t.fx)
    bare.stage_iem_params("FdnReverb", {"revTime": 5.0}, "AutoMix Reverb")
    project.save(tmp_path / "out.rpp")
    reread = next(t for t in open_project(tmp_path / "out.rpp").tracks if t.guid == bare.guid)
    assert [fx.custom_name for fx in reread.fx] == ["AutoMix Reverb"]
    # revTime 5.0 is the one value a fresh FdnReverb ignores (it plays 3 s); we write 5.1
    assert iem.fx_params(reread.fx[0])["revTime"] == pytest.approx(5.1)


def test_unknown_parameter_is_refused_when_staged() -> None:
    project = open_project(fixture_path("spatlab-iem-template.rpp"))
    with pytest.raises(KeyError, match="thresh"):
        project.tracks[0].stage_iem_params("OmniCompressor", {"thresh": -10.0}, "AutoMix Comp")
    assert all(not fx.is_new for t in project.tracks for fx in t.fx)


def test_renderer_plays_staged_params_as_the_saved_project(tmp_path) -> None:
    sr = 44100
    t = np.arange(sr) / sr
    tone = 0.5 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 1.3 * t)
    write_audio(tmp_path / "tone.wav", np.stack([tone, 0.5 * tone], 1), sr)
    path = tmp_path / "song.RPP"
    write_project(path, [TrackSpec("Keys", items=[ItemSpec("tone.wav", position=0.0, length=1.0)])],
                  sample_rate=sr)
    project = open_project(path)
    keys = project.tracks[0]
    params = {"threshold": -30.0, "ratio": 8.0, "attack": 5.0, "release": 50.0}
    keys.stage_iem_params("OmniCompressor", params, "AutoMix Comp")
    staged = Renderer(project).track(keys, fader=False, pan=False, fx=True)
    project.save()
    saved = open_project(path)
    after = Renderer(saved).track(saved.tracks[0], fader=False, pan=False, fx=True)
    np.testing.assert_array_equal(staged, after)
    dry = Renderer(saved).track(saved.tracks[0], fader=False, pan=False, fx=False)
    expected = iem.process("OmniCompressor", iem.writable_params("OmniCompressor", params), dry, sr)
    np.testing.assert_array_equal(after, expected)
    assert np.max(np.abs(after)) < 0.9 * np.max(np.abs(dry))  # it compresses


def test_file_name_follows_the_projects_platform(tmp_path) -> None:
    project = open_project(fixture_path("icst-iem-fx.RTrackTemplate"))  # saved on macOS (.vst)
    project.tracks[0].stage_iem_params("OmniCompressor", {}, "AutoMix Comp")
    project.save(tmp_path / "t.RTrackTemplate")
    assert 'OmniCompressor.vst 0 "AutoMix Comp"' in (tmp_path / "t.RTrackTemplate").read_text("latin-1")
