"""The live host, the reapy adapter and the snapshot, against the simulated REAPER.

Each test runs in a child process where the real python-reapy is in inside mode (conftest.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from reaper_automix.hosts.rpp import open_project
from reaper_automix.reaper.api import ReaperApi, is_null
from reaper_automix.reaper.live import LiveHost
from reaper_automix.reaper.snapshot import SnapshotError, take_snapshot
from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project
from reaper_automix.session import Project, Track

from ..conftest import FIXTURES, fixture_path
from ..reaper_sim import SimCrash, SimReaper

FIXTURE_NAMES = ["spatlab-iem-template.rpp", "perlence-vst.RPP", "audio-file-x4.RPP",
                 "icst-iem-fx.RTrackTemplate"]


def _session(folder: Path, sample_rate: int = 48000) -> Path:
    """Folders, items with fades/offsets/rates/pans, a muted item, a looped item."""
    tree = [
        TrackSpec("Drums", volume=0.8, children=[
            TrackSpec("Kick", volume=0.5, pan=-0.25, items=[
                ItemSpec("media/kick.wav", 0.0, 2.0, fade_in=0.1, fade_out=0.2, fade_out_shape=2),
                ItemSpec("media/kick.wav", 3.0, 1.0, source_offset=0.5, play_rate=1.5,
                         item_volume=0.7, take_volume=-0.9, take_pan=0.3, mute=True),
            ]),
            TrackSpec("Snare", mute=True, items=[ItemSpec("media/snare.wav", 1.0, 4.0,
                                                          loop=True, channel_mode=3)]),
        ]),
        TrackSpec("Bass", children=[TrackSpec("Bass DI", solo=1, nchan=4, items=[
            ItemSpec("/elsewhere/bass.wav", 0.5, 3.0)])]),
        TrackSpec("Click"),
    ]
    return write_project(folder / "session.RPP", tree, sample_rate=sample_rate, seed=3)


def _api(sim: SimReaper) -> tuple[ReaperApi, str]:
    api = ReaperApi.load(sim.defer)
    proj, _ = api.current_project()
    return api, proj


def _comparable(project: Project) -> list[dict]:
    """Everything the model holds, except the source text (REAPER gives resolved paths) and the
    receives (the live host does not read sends; the workers render from the state-chunk
    snapshot, which has them)."""
    out = []
    for track in project.tracks:
        data = {f.name: getattr(track, f.name) for f in dataclasses.fields(Track)
                if f.name not in ("parent", "children", "items", "fx", "receives")}
        data["parent"] = track.parent.index if track.parent else None
        data["children"] = [c.index for c in track.children]
        data["items"] = [_item(i) for i in track.items]
        data["fx"] = [(f.name, f.kind, f.identity, f.custom_name, f.bypassed, f.offline)
                      for f in track.fx]
        out.append(data)
    return out


def _item(item) -> dict:
    data = dataclasses.asdict(item)
    for take in data["takes"]:
        if take["source"] is not None:
            take["source"].pop("path_text")
    return data


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_live_model_of_real_fixtures_equals_the_rpp_model(name: str, tmp_path: Path) -> None:
    path = fixture_path(name)
    sim = SimReaper(path, tmp_path)
    api, proj = _api(sim)
    live = LiveHost(api, proj).read()
    assert _comparable(live) == _comparable(open_project(path))
    assert live.path == path and live.tempo == open_project(path).tempo


def test_live_model_of_a_session_with_items_equals_the_rpp_model(tmp_path: Path) -> None:
    path = _session(tmp_path)
    sim = SimReaper(path, tmp_path)
    api, proj = _api(sim)
    live = LiveHost(api, proj).read()
    expected = open_project(path)
    assert _comparable(live) == _comparable(expected)
    assert live.sample_rate == 48000
    assert [f.name for f in live.folders] == ["Drums", "Bass"]
    assert live.track("Kick").items[1].takes[0].volume == pytest.approx(-0.9)
    assert live.track("Kick").items[0].takes[0].source.path == tmp_path / "media" / "kick.wav"


def test_read_without_media_skips_items_and_fx(tmp_path: Path) -> None:
    sim = SimReaper(fixture_path("spatlab-iem-template.rpp"), tmp_path)
    api, proj = _api(sim)
    live = LiveHost(api, proj).read(media=False)
    assert all(not t.items and not t.fx for t in live.tracks)
    assert [t.depth for t in live.tracks] == [0, 1, 2, 2, 2, 3, 3]
    assert not any(c in sim.calls for c in ("CountTrackMediaItems", "TrackFX_GetCount"))


def test_apply_writes_changed_faders_and_pans_as_one_undo_point(tmp_path: Path) -> None:
    sim = SimReaper(_session(tmp_path), tmp_path)
    api, proj = _api(sim)
    host = LiveHost(api, proj)
    project = host.read(media=False)
    project.track("Kick").volume_db = -3.0
    project.track("Snare").volume = 0.25
    project.track("Bass DI").pan = 0.5
    assert host.apply(project, "AutoMix: test", 1) == 3
    assert len(sim.undo_blocks) == 1
    block = sim.undo_blocks[0]
    assert (block.description, block.flags) == ("AutoMix: test", 1)
    assert [(sim.project.track(g).name, k) for g, k, _, _ in block.changes] == [
        ("Kick", "D_VOL"), ("Snare", "D_VOL"), ("Bass DI", "D_PAN")]
    assert sim.loose_changes == [] and sim.refresh_depth == 0
    assert sim.writes_while_refreshing == 3
    assert sim.track("Kick").volume_db == pytest.approx(-3.0)
    assert sim.calls.index("PreventUIRefresh") < sim.calls.index("Undo_BeginBlock2")
    assert host.apply(project, "AutoMix: again") == 0  # nothing changed since: no undo point
    assert len(sim.undo_blocks) == 1
    sim.undo()
    assert sim.track("Kick").volume == 0.5 and sim.track("Bass DI").pan == 0.0


def test_apply_checks_every_track_before_writing(tmp_path: Path) -> None:
    sim = SimReaper(_session(tmp_path), tmp_path)
    api, proj = _api(sim)
    host = LiveHost(api, proj)
    project = host.read(media=False)
    project.track("Kick").volume = 0.1
    project.track("Snare").volume = 0.1
    sim.delete_track("Snare")
    with pytest.raises(LookupError, match="'Snare' no longer exists"):
        host.apply(project, "AutoMix: test")
    assert sim.undo_blocks == [] and sim.track("Kick").volume == 0.5


def test_host_interface(tmp_path: Path) -> None:
    sim = SimReaper(_session(tmp_path), tmp_path)
    api, proj = _api(sim)
    host = LiveHost(api, proj)
    project = host.read()
    assert str(tmp_path / "session.RPP") in host.describe()
    with pytest.raises(ValueError, match="saved by REAPER"):
        project.save(tmp_path / "copy.RPP")
    project.track("Kick").volume = 1.0
    assert project.save() is None
    assert sim.undo_blocks[0].description == "AutoMix: edit faders"
    foreign = Project(path=None, tracks=[Track(0, "x", "{X}")])
    with pytest.raises(LookupError, match="not read from this REAPER project"):
        host.apply(foreign, "AutoMix: test")


# ------------------------------------------------------------------------------ snapshot
def test_snapshot_is_the_project_as_rpp_text_with_unsaved_edits(tmp_path: Path) -> None:
    path = _session(tmp_path)
    sim = SimReaper(path, tmp_path)
    sim.user_edit("Kick", 0.125)  # moved in REAPER, not saved
    api, proj = _api(sim)
    job = tmp_path / "job"
    job.mkdir()
    snapshot = take_snapshot(api, proj, job)
    assert snapshot.project_dir == tmp_path and snapshot.sample_rate == 48000
    assert snapshot.n_tracks == 6
    assert snapshot.request_fields() == {"project": str(job / "snapshot.RTrackTemplate"),
                                         "project_dir": str(tmp_path), "sample_rate": 48000}
    template = open_project(snapshot.template, media_dir=snapshot.project_dir)
    expected = open_project(path)
    expected.track("Kick").volume = 0.125
    assert template.is_template
    assert _comparable(template) == _comparable(expected)
    assert template.length == expected.length


def test_snapshot_of_a_track_beyond_the_chunk_limit_names_it(tmp_path: Path) -> None:
    sim = SimReaper(_session(tmp_path), tmp_path)
    sim.chunk_limit = 1000  # stands in for 4 MiB: Kick, with two items, does not fit
    api, proj = _api(sim)
    with pytest.raises(SnapshotError, match=r"track 2 \('Kick'\).*reaper-automix balance"):
        take_snapshot(api, proj, tmp_path)


def test_snapshot_of_an_empty_project_is_refused(tmp_path: Path) -> None:
    path = write_project(tmp_path / "empty.RPP", [])
    sim = SimReaper(path, tmp_path)
    api, proj = _api(sim)
    with pytest.raises(SnapshotError, match="no tracks"):
        take_snapshot(api, proj, tmp_path)


# ----------------------------------------------------------------------------- adapter
def test_null_pointers() -> None:
    assert is_null("(MediaTrack*)0x0000000000000000") and is_null(None) and is_null(0)
    assert not is_null("(MediaTrack*)0x00000000110A1AD0")


def test_adapter_unpacks_reaper_tuples(tmp_path: Path) -> None:
    sim = SimReaper(fixture_path("perlence-vst.RPP"), tmp_path)
    api, proj = _api(sim)
    tracks = api.tracks(proj)
    assert tracks[0].startswith("(MediaTrack*)0x") and len(tracks) == 10
    assert api.track_string(tracks[4], "P_NAME") == sim.project.tracks[4].name
    assert api.fx_name(tracks[3], 0) == "loser/3BandEQ"
    assert api.fx_config(tracks[3], 0, "no_such_key") is None
    assert api.project_file(proj) == str(FIXTURES / "perlence-vst.RPP")
    assert api.project_file("(ReaProject*)0x0000000000000001") == ""
    sim.inputs.append(["lufs"])
    assert api.user_inputs("t", ["a", "b"], ["x", "y"]) == ["lufs", ""]
    assert api.user_inputs("t", ["a"], ["x"]) is None  # cancelled
    with pytest.raises(RuntimeError, match="RPR_defer"):
        ReaperApi.load().defer("pass")


# -------------------------------------------------------------------------- python-reapy
def test_the_real_reapy_runs_in_inside_mode_against_the_simulator(tmp_path: Path) -> None:
    sim = SimReaper(fixture_path("perlence-vst.RPP"), tmp_path)
    api, proj = _api(sim)
    reapy = api.reapy
    assert reapy.is_inside_reaper() and reapy.__version__ == "0.10.0"
    assert Path(reapy.__file__).parent.parent.name == "site-packages"  # not a fake
    assert api.rpr.GetTrack is sim.module.RPR_GetTrack  # REAPER's functions, re-exported
    assert sim.module.rpr_packp.__module__ == "reapy.additional_api"  # replaced on import
    assert not reapy.dist_api_is_enabled()  # no client, no server: the distant API is off
    names = [t.name for t in reapy.Project().tracks]
    assert names == [t.name or f"Track {t.index + 1}" for t in sim.project.tracks]
    assert proj == reapy.Project().id and api.project_is_open(proj)
    reapy.print("hello", "REAPER")
    assert sim.console_text == "hello REAPER\n"


def test_reapy_calls_the_adapter_avoids_are_wrong_inside_reaper(tmp_path: Path) -> None:
    """Why api.py makes raw calls for GUIDs, undo flags and the .rpp path."""
    sim = SimReaper(_session(tmp_path), tmp_path)
    api, proj = _api(sim)
    kick = api.reapy.Project().tracks[1]
    assert kick.GUID.startswith("(GUID*)0x")  # GetTrackGUID gives a pointer, not "{…}"
    assert api.track_string(kick.id, "GUID") == sim.track("Kick").guid
    assert api.reapy.Project().path == str(tmp_path)  # the media folder, not the .rpp file
    api.reapy.Project().begin_undo_block()
    api.reapy.Project().end_undo_block("reapy's own")
    assert sim.undo_blocks[-1].flags == 0  # no way to say "track configuration"


def test_reapy_fx_param_normalized_setter_is_broken(tmp_path: Path) -> None:
    sim = SimReaper(fixture_path("spatlab-iem-template.rpp"), tmp_path)
    api, _ = _api(sim)
    compressor = api.reapy.Project().tracks["MixCompressor"].fxs[0]
    assert "OmniCompressor" in compressor.name and compressor.n_params > 0
    with pytest.raises(AttributeError, match="'FX' object has no attribute 'id'"):
        compressor.params[0].normalized = 0.5


def test_a_deleted_track_is_caught_before_reapy_passes_its_address_on(tmp_path: Path) -> None:
    """reapy's rpr_packp does not validate: an unchecked stale pointer would crash REAPER."""
    sim = SimReaper(_session(tmp_path), tmp_path)
    api, proj = _api(sim)
    snare = api.tracks(proj)[2]
    assert api.track_is_valid(snare)  # reapy's own ValidatePtr2 (through ctypes, sim's _ft)
    sim.delete_track("Snare")
    assert not api.track_is_valid(snare)
    with pytest.raises(SimCrash):
        api.set_track_value(snare, "D_VOL", 0.5)
