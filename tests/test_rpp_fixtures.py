"""Every real REAPER file loads, has the folder tree SOURCES.md documents, and saves losslessly."""

from __future__ import annotations

import difflib
import math

import pytest

from reaper_automix import open_project
from reaper_automix.rpp.document import RppDocument

from .conftest import fixture_path

# (name, folder_depth, depth, parent index) per track, transcribed from SOURCES.md.
EXPECTED = {
    "spatlab-iem-template.rpp": [
        ("BinauralDecoder/MasterSend", 1, 0, None),
        ("AmbisonicBus", 1, 1, 0),
        ("Reverb", 0, 2, 1),
        ("Delay", 0, 2, 1),
        ("MixCompressor", 1, 2, 1),
        ("StereoEncoder", 0, 3, 4),
        ("RoomEncoder", -3, 3, 4),
    ],
    "icst-iem-fx.RTrackTemplate": [("FX_Bformat_o3(IEM)", 0, 0, None)],
    "perlence-vst.RPP": [
        ("5.50", 0, 0, None),
        ("Synth", 0, 0, None),
        ("|Beep Boop", 1, 0, None),
        ("Boop", -1, 1, 2),
        ("0123456789 abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_'{|}~", 0, 0, None),
        ('"hey', 0, 0, None),
        ('hey"', 0, 0, None),
        ("<", 0, 0, None),
        (">", 0, 0, None),
        ("<>", 0, 0, None),
    ],
    "audio-file-x4.RPP": [("kick", 0, 0, None)],
}
NAMES = sorted(EXPECTED)


@pytest.mark.parametrize("name", NAMES)
def test_folder_tree_matches_sources(name: str) -> None:
    project = open_project(fixture_path(name))
    got = [
        (t.name, t.folder_depth, t.depth, t.parent.index if t.parent else None)
        for t in project.tracks
    ]
    assert got == EXPECTED[name]
    for track in project.tracks:
        assert all(child.parent is track for child in track.children)


@pytest.mark.parametrize("name", NAMES)
def test_unchanged_save_is_byte_identical(name: str, tmp_path) -> None:
    source = fixture_path(name)
    out = tmp_path / name
    open_project(source).save(out)
    assert out.read_bytes() == source.read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_changing_one_fader_changes_exactly_one_line(name: str, tmp_path) -> None:
    source = fixture_path(name)
    project = open_project(source)
    track = project.tracks[-1]
    track.volume_db = -7.25
    out = tmp_path / name
    project.save(out)
    before = source.read_bytes().splitlines(keepends=True)
    after = out.read_bytes().splitlines(keepends=True)
    assert len(before) == len(after)
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(changed) == 1
    old, new = changed[0]
    assert old.split()[0] == b"VOLPAN" and new.endswith(b"\r\n")
    assert old.split()[2:] == new.split()[2:]  # pan, pan law and dual-pan fields untouched
    assert math.isclose(open_project(out).tracks[-1].volume_db, -7.25, abs_tol=1e-9)


def test_track_template_values(rpp_fixtures) -> None:
    project = open_project(rpp_fixtures / "icst-iem-fx.RTrackTemplate")
    assert project.is_template
    (track,) = project.tracks
    assert track.guid == "{C085DC5D-58DB-5B42-9E44-D6DBB6440F14}"
    assert track.volume_db == pytest.approx(-12.898, abs=1e-3)
    assert [fx.name for fx in track.fx] == [
        "VST: MultiEQ (IEM) (64ch)",
        "VST: FdnReverb (IEM) (64ch)",
        "VST: MultiBandCompressor (IEM) (64ch)",
    ]
    assert all(fx.bypassed for fx in track.fx)


def test_items_of_audio_file_x4(rpp_fixtures) -> None:
    project = open_project(rpp_fixtures / "audio-file-x4.RPP")
    items = project.tracks[0].items
    assert [i.position for i in items] == [0, 0.5, 1, 1.5]
    for item in items:
        take = item.active_take
        assert item.length == pytest.approx(0.10179138321995)
        assert take.source.kind == "WAVE"
        assert take.source.path == (rpp_fixtures / "media" / "909-kick.wav").resolve()
        assert take.play_rate == 1 and take.channel_mode == 0 and item.loop


def test_perlence_fx_kinds(rpp_fixtures) -> None:
    project = open_project(rpp_fixtures / "perlence-vst.RPP")
    assert [fx.kind for fx in project.tracks[0].fx] == ["VST"]
    assert project.tracks[3].fx[0].kind == "JS"
    assert project.tracks[0].items[0].active_take.source.kind == "MIDI"
    assert project.tracks[2].items[0].active_take.source.kind == "CLICK"


def test_diff_of_pan_edit_is_minimal(tmp_path, rpp_fixtures) -> None:
    source = rpp_fixtures / "spatlab-iem-template.rpp"
    project = open_project(source)
    project.track("Delay").pan = -0.5
    project.save(tmp_path / "out.rpp")
    diff = list(
        difflib.unified_diff(
            source.read_text().splitlines(), (tmp_path / "out.rpp").read_text().splitlines(), n=0
        )
    )
    assert [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")] == [
        "-    VOLPAN 1 0 -1 -1 1",
        "+    VOLPAN 1 -0.5 -1 -1 1",
    ]


def test_document_text_round_trip_for_every_fixture(rpp_fixtures) -> None:
    for path in sorted(rpp_fixtures.iterdir()):
        if path.suffix.lower() in (".rpp", ".rtracktemplate"):
            assert RppDocument.load(path).to_bytes() == path.read_bytes(), path.name
