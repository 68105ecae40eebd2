"""IEM plug-in values written live (LiveHost.apply) against the simulated REAPER, compared with
what the .RPP host writes for the same staging. Each test runs in a child process where the real
python-reapy is in inside mode (conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reaper_automix.hosts.rpp import RppHost, open_project
from reaper_automix.iem.params import FDNREVERB, MULTIEQ, OMNICOMPRESSOR
from reaper_automix.iem.state import payload_params
from reaper_automix.reaper.api import ReaperApi
from reaper_automix.reaper.live import FxWriteError, LiveHost
from reaper_automix.rpp.builder import TrackSpec, write_project
from reaper_automix.session import Project

from ..reaper_sim import SimReaper

EQ, COMP, VERB = "AutoMix EQ", "AutoMix Comp", "AutoMix Verb"


def _base(folder: Path) -> Path:
    """A session whose Vocal track already holds our tagged MultiEQ and FdnReverb (written by
    the .RPP host, as a previous run would have left them) and an untagged OmniCompressor."""
    tree = [TrackSpec("Band", children=[TrackSpec("Vocal", volume=0.7), TrackSpec("Keys"),
                                        TrackSpec("Bass")])]
    path = write_project(folder / "base.RPP", tree, sample_rate=48000, seed=5)
    project = open_project(path)
    vocal = project.track("Vocal")
    vocal.stage_iem_params("MultiEQ", {"filterGain2": -3.0}, EQ)
    vocal.stage_iem_params("OmniCompressor", {"ratio": 2.0}, "")
    vocal.stage_iem_params("FdnReverb", {"revTime": 2.3, "dryWet": 0.2}, VERB)
    project.save()
    return path


def _stage(project: Project) -> None:
    """What an action stages: changes to our tagged instances, new ones elsewhere."""
    vocal, keys, bass = project.track("Vocal"), project.track("Keys"), project.track("Bass")
    vocal.volume_db = -4.5
    vocal.stage_iem_params("MultiEQ", {"filterGain2": 2.5, "filterFrequency2": 2345.6,
                                       "filterQ2": 0.707}, EQ)
    vocal.stage_iem_params("FdnReverb", {"revTime": 1.6, "dryWet": 0.33}, VERB)
    keys.stage_iem_params("MultiEQ", {"filterType1": 2.0, "filterGain1": -6.0}, EQ)
    keys.stage_iem_params("OmniCompressor", {"threshold": -23.4, "ratio": 15.9, "attack": 4.0},
                          COMP)
    bass.stage_iem_params("MultiEQ", {"filterEnabled0": 1.0, "filterType0": 1.0,
                                      "filterFrequency0": 35.0}, EQ)  # band 1 as given
    bass.stage_iem_params("FdnReverb", {"dryWet": 0.1}, VERB)  # revTime 5.0 by default


def _plugins(project: Project) -> dict[str, list[tuple[str, str, dict[str, float]]]]:
    """Per track: every IEM instance's plug-in, custom name and parameters as loaded."""
    return {t.name: [(fx.iem_plugin.name, fx.custom_name, payload_params(fx.payload,
                                                                         fx.iem_plugin))
                     for fx in t.fx if fx.iem_plugin is not None] for t in project.tracks}


def _live(sim: SimReaper) -> tuple[ReaperApi, LiveHost]:
    api = ReaperApi.load(sim.defer)
    proj, _ = api.current_project()
    return api, LiveHost(api, proj)


def _chunks(sim: SimReaper) -> list[str]:
    return [sim.chunk(t) for t in sim.project.tracks]


def _state(sim: SimReaper) -> list[str]:
    """The chunks, except that an FX chain emptied again is as good as none."""
    empty = "<FXCHAIN\nSHOW 0\nLASTSEL 0\nDOCKED 0\n>\n"
    return [chunk.replace(empty, "") for chunk in _chunks(sim)]


def _as_read_by_the_rpp_host(sim: SimReaper, folder: Path) -> Project:
    """The project REAPER would save now: its tracks' state chunks, read by the .RPP host."""
    template = folder / "live.RTrackTemplate"
    template.write_text("".join(_chunks(sim)), encoding="utf-8")
    return open_project(template)


def test_values_written_live_equal_what_the_rpp_host_writes(tmp_path: Path) -> None:
    base = _base(tmp_path)
    headless = open_project(base)
    _stage(headless)
    headless.save(tmp_path / "headless.RPP")
    expected = _plugins(open_project(tmp_path / "headless.RPP"))

    sim = SimReaper(base, tmp_path)
    api, host = _live(sim)
    project = host.read(media=False, fx=True)
    _stage(project)
    assert host.apply(project, "AutoMix: test") == 3
    got = _plugins(_as_read_by_the_rpp_host(sim, tmp_path))
    assert got == expected
    assert [name for name, _, _ in got["Keys"]] == ["MultiEQ", "OmniCompressor"]
    assert got["Bass"][0][2]["filterType0"] == 1.0 and got["Bass"][0][2]["filterFrequency0"] == 35
    assert got["Keys"][0][2]["filterType0"] == 3.0  # band 1 of a new MultiEQ: 0 dB low shelf
    assert got["Bass"][1][2]["revTime"] == FDNREVERB.param("revTime").snap(5.1)

    # what REAPER reports through the API is the same, and so is the fader
    for track in project.tracks:
        pointer = host.pointer(track)
        for index, fx in enumerate(track.fx):
            spec = fx.iem_plugin
            if spec is None:
                continue
            values = dict(zip(spec.ids, (spec.params[p].from_normalized(
                api.fx_param(pointer, index, p)) for p in range(len(spec.params)))))
            assert values == sim.fx_values(sim.project.tracks[track.index], sim.project.tracks[
                track.index].fx[index])
            assert api.fx_name(pointer, index) == fx.label
    assert sim.track("Vocal").volume_db == pytest.approx(-4.5)
    assert not any(fx.changes or fx.is_new for t in project.tracks for fx in t.fx)


def test_one_undo_point_with_track_and_fx_flags(tmp_path: Path) -> None:
    sim = SimReaper(_base(tmp_path), tmp_path)
    _, host = _live(sim)
    project = host.read(media=False, fx=True)
    _stage(project)
    host.apply(project, "AutoMix: mix vocal", 1)
    assert [(b.description, b.flags) for b in sim.undo_blocks] == [("AutoMix: mix vocal", 3)]
    assert sim.loose_changes == [] and sim.refresh_depth == 0
    assert sim.writes_while_refreshing == len(sim.undo_blocks[0].changes) > 15
    assert host.apply(project, "AutoMix: again") == 0 and len(sim.undo_blocks) == 1
    # the instances it added are found by their tags next time: staged again, nothing is added
    project = host.read(media=False, fx=True)
    project.track("Keys").stage_iem_params("OmniCompressor", {"ratio": 3.0}, COMP)
    host.apply(project, "AutoMix: once more")
    assert [len(t.fx) for t in sim.project.tracks] == [0, 3, 2, 2]
    assert sim.undo_blocks[-1].flags == 1 | 2


def test_rev_time_is_set_through_a_neighbouring_value_so_the_reverb_applies_it(tmp_path):
    """FdnReverb ignores a revTime equal to its current value; a fresh instance and one REAPER
    restored without the change callback play 3 s until revTime really changes."""
    sim = SimReaper(_base(tmp_path), tmp_path)
    sim.loaded_rev_time_applies = False  # iem.md 12.6: the worst case
    _, host = _live(sim)
    project = host.read(media=False, fx=True)
    project.track("Vocal").stage_iem_params("FdnReverb", {"revTime": 2.3}, VERB)  # unchanged
    project.track("Bass").stage_iem_params("FdnReverb", {"dryWet": 0.5}, VERB)  # new
    host.apply(project, "AutoMix: reverb")
    rev_time = FDNREVERB.param("revTime")
    for name, target in (("Vocal", 2.3), ("Bass", 5.1)):
        track = sim.track(name)
        fx = next(f for f in track.fx if f.custom_name == VERB)
        sent = [v for t, label, p, v in sim.param_log if t == name and p == "revTime"]
        assert [rev_time.from_normalized(v) for v in sent] == [
            rev_time.snap(target - 0.1), rev_time.snap(target)]
        assert sim.rev_time_applied(track, fx) == rev_time.snap(target)


def test_a_failing_write_leaves_nothing_half_done(tmp_path: Path) -> None:
    sim = SimReaper(_base(tmp_path), tmp_path)
    sim.uninstalled = {"FdnReverb"}
    before, volumes = _state(sim), sim.volumes()
    _, host = _live(sim)
    project = host.read(media=False, fx=True)
    _stage(project)  # Vocal's changes and Keys' new plug-ins come before Bass's new reverb
    with pytest.raises(FxWriteError, match="cannot add IEM FdnReverb .* track 'Bass'"):
        host.apply(project, "AutoMix: test")
    assert _state(sim) == before and sim.volumes() == volumes
    assert any(p == "filterGain2" for _, _, p, _ in sim.param_log)  # it had written, then undone
    assert [b.description for b in sim.undo_blocks] == ["AutoMix: test (failed: nothing changed)"]
    assert sim.refresh_depth == 0


def test_checks_come_before_any_write(tmp_path: Path) -> None:
    sim = SimReaper(_base(tmp_path), tmp_path)
    api, host = _live(sim)
    project = host.read(media=False, fx=True)
    _stage(project)
    pointer = host.pointer(project.track("Vocal"))
    api.delete_fx(pointer, 2)  # the user removes our reverb meanwhile
    before = _chunks(sim)
    with pytest.raises(LookupError, match="'AutoMix Verb' on track 'Vocal' was removed"):
        host.apply(project, "AutoMix: test")
    assert _chunks(sim) == before and sim.undo_blocks == []
    unread = host.read(media=False)  # plug-ins not read: tagged instances cannot be found
    unread.track("Keys").stage_iem_params("MultiEQ", {"filterGain1": 1.0}, EQ)
    with pytest.raises(LookupError, match="read the project with fx=True"):
        host.apply(unread, "AutoMix: test")


def test_reordered_chain_is_followed_by_guid(tmp_path: Path) -> None:
    sim = SimReaper(_base(tmp_path), tmp_path)
    _, host = _live(sim)
    project = host.read(media=False, fx=True)
    vocal = sim.track("Vocal")
    vocal.fx.reverse()  # the user dragged the plug-ins into another order
    chain = sim._block(vocal).block("FXCHAIN")
    project.track("Vocal").stage_iem_params("MultiEQ", {"filterGain2": 4.0}, EQ)
    host.apply(project, "AutoMix: test")
    eq = next(f for f in vocal.fx if f.custom_name == EQ)
    assert sim.fx_values(vocal, eq)["filterGain2"] == MULTIEQ.param("filterGain2").snap(4.0)
    assert chain is sim._block(vocal).block("FXCHAIN")


def test_read_knows_custom_names_identities_and_guids(tmp_path: Path) -> None:
    base = _base(tmp_path)
    sim = SimReaper(base, tmp_path)
    _, host = _live(sim)
    live = host.read(media=False, fx=True)
    saved = RppHost(base).read()
    assert [(f.name, f.custom_name, f.identity, f.guid) for f in live.track("Vocal").fx] == [
        (f.name, f.custom_name, f.identity, f.guid) for f in saved.track("Vocal").fx]
    assert [f.custom_name for f in live.track("Vocal").fx] == [EQ, "", VERB]
    assert live.track("Vocal").find_fx(OMNICOMPRESSOR.name).custom_name == ""
