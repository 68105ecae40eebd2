"""The project builder: REAPER's layout, quoting, folders, determinism and clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reaper_automix import open_project
from reaper_automix.rpp.builder import (
    ItemSpec,
    TrackSpec,
    build_project,
    flatten_tracks,
    write_project,
)
from reaper_automix.rpp.document import Block, Line, RppDocument
from reaper_automix.rpp.tokens import split_tokens

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FIXTURE = SHARED / "fixtures" / "rpp" / "audio-file-x4.RPP"


def _nested() -> list[TrackSpec]:
    """A(a1, B(b1, b2)), C, D(d1, E(e1))."""
    return [
        TrackSpec("A", children=[
            TrackSpec("a1"),
            TrackSpec("B", children=[TrackSpec("b1"), TrackSpec("b2")]),
        ]),
        TrackSpec("C"),
        TrackSpec("D", children=[TrackSpec("d1"), TrackSpec("E", children=[TrackSpec("e1")])]),
    ]


def _isbus(text: str) -> list[tuple[str, str]]:
    doc = RppDocument(text)
    return [(t.line("NAME").values[0], " ".join(t.line("ISBUS").values))
            for t in doc.track_blocks()]


def test_crlf_by_default_lf_on_request_and_every_block_balances() -> None:
    tracks = [TrackSpec("Vox", items=[ItemSpec("media/vox.wav", 1.5, 4.0)])]
    crlf = build_project(tracks, seed=3)
    lf = build_project(tracks, seed=3, line_ending="\n")
    assert crlf.count("\r\n") == crlf.count("\n") > 50
    assert "\r" not in lf
    assert crlf.replace("\r\n", "\n") == lf
    depth = 0
    for raw in lf.splitlines():
        stripped = raw.strip()
        assert raw == raw.rstrip() and stripped, f"blank or trailing space: {raw!r}"
        indent = len(raw) - len(raw.lstrip(" "))
        if stripped == ">":
            depth -= 1
            assert indent == 2 * depth
        else:
            assert indent == 2 * depth, raw
            assert split_tokens(stripped)
            depth += stripped.startswith("<")
    assert depth == 0
    doc = RppDocument(crlf)
    assert doc.project is not None and doc.to_bytes() == crlf.encode()


def test_nested_folders_get_reaper_isbus_values() -> None:
    text = build_project(_nested(), seed=1)
    assert _isbus(text) == [
        ("A", "1 1"), ("a1", "0 0"), ("B", "1 1"), ("b1", "0 0"), ("b2", "2 -2"),
        ("C", "0 0"),
        ("D", "1 1"), ("d1", "0 0"), ("E", "1 1"), ("e1", "2 -2"),
    ]
    assert [delta for _, delta in flatten_tracks(_nested())] == [1, 0, 1, 0, -2, 0, 1, 0, 1, -2]


def test_folder_tree_reads_back_through_the_project_reader(tmp_path: Path) -> None:
    project = open_project(write_project(tmp_path / "p.RPP", _nested(), seed=1))
    parents = {t.name: (t.parent.name if t.parent else None) for t in project.tracks}
    assert parents == {"A": None, "a1": "A", "B": "A", "b1": "B", "b2": "B", "C": None,
                       "D": None, "d1": "D", "E": "D", "e1": "E"}


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("Kick", "NAME Kick"),
        ("Lead Vocal", 'NAME "Lead Vocal"'),
        ("", 'NAME ""'),
        ('say "hi"', "NAME 'say \"hi\"'"),
        ("it's \"x\"", "NAME `it's \"x\"`"),
        ("'quoted", "NAME \"'quoted\""),
        ('tab\there', 'NAME "tab\there"'),
        ("5.50", "NAME 5.50"),
    ],
)
def test_names_are_quoted_as_reaper_does(name: str, written: str) -> None:
    text = build_project([TrackSpec(name)], seed=0, line_ending="\n")
    assert f"    {written}\n" in text
    doc = RppDocument(text)
    assert doc.track_blocks()[0].line("NAME").values == [name]


def test_name_with_all_three_quotes_gets_lossy_line_and_exact_block(tmp_path: Path) -> None:
    name = "a 'b\"c`d"
    text = build_project([TrackSpec(name), TrackSpec("x'y\"z`")], seed=0, line_ending="\n")
    assert "    NAME `a 'b\"c'd`\n    <NAME\n      |a 'b\"c`d\n    >\n" in text
    assert "    NAME x'y\"z`\n    PEAKCOL" in text  # needs no quotes, so nothing is lost
    path = tmp_path / "q.RPP"
    path.write_bytes(text.encode())
    assert [t.name for t in open_project(path).tracks] == [name, "x'y\"z`"]


def test_item_fields_read_back(tmp_path: Path) -> None:
    item = ItemSpec("media/my take.flac", position=2.25, length=3.5, source_offset=0.75,
                    play_rate=1.5, item_volume=0.5, take_volume=-2.0, take_pan=-0.25,
                    fade_in=0.1, fade_out=0.2, fade_in_shape=2, fade_out_shape=3, mute=True,
                    channel_mode=2, loop=True)
    tracks = [TrackSpec("Gtr", volume=0.25, pan=0.5, mute=True, solo=2, items=[item])]
    path = write_project(tmp_path / "i.RPP", tracks, seed=9)
    text = path.read_bytes().decode()
    assert '<SOURCE FLAC\r\n        FILE "media/my take.flac"\r\n' in text
    assert "VOLPAN 0.25 0.5 -1 -1 1\r\n" in text and "MUTESOLO 1 2 0\r\n" in text
    track = open_project(path).tracks[0]
    assert (track.volume, track.pan, track.mute) == (0.25, 0.5, True)
    read = track.items[0]
    take = read.takes[0]
    assert (read.position, read.length, read.volume, read.mute, read.loop) == (
        2.25, 3.5, 0.5, True, True)
    assert (read.fade_in.length, read.fade_in.shape) == (0.1, 2)
    assert (read.fade_out.length, read.fade_out.shape) == (0.2, 3)
    assert (take.volume, take.pan, take.source_offset, take.play_rate, take.channel_mode) == (
        -2.0, -0.25, 0.75, 1.5, 2)
    assert take.name == "my take.flac"
    assert take.source.kind == "FLAC" and take.source.path == tmp_path / "media" / "my take.flac"


@pytest.mark.parametrize(("file", "kind"), [("a.WAV", "WAVE"), ("b.aiff", "WAVE"),
                                            ("c.mp3", "MP3"), ("d.ogg", "VORBIS"),
                                            ("e.flac", "FLAC")])
def test_source_type_follows_the_extension(file: str, kind: str) -> None:
    text = build_project([TrackSpec("t", items=[ItemSpec(file, 0, 1)])], seed=0)
    assert f"<SOURCE {kind}\r\n" in text


def test_same_seed_same_bytes_other_seed_other_guids() -> None:
    first = build_project(_nested(), seed=42)
    assert first == build_project(_nested(), seed=42)
    other = build_project(_nested(), seed=43)
    guid = re.compile(r"\{[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}\}")
    ids = guid.findall(first)
    assert ids and set(ids).isdisjoint(guid.findall(other))
    track_guids = [t.values[0] for t in RppDocument(first).track_blocks()]
    assert len(set(track_guids)) == len(track_guids) == 10


def test_unseeded_projects_differ() -> None:
    assert build_project([TrackSpec("x")]) != build_project([TrackSpec("x")])


@pytest.mark.parametrize(
    ("tracks", "message"),
    [
        ([TrackSpec("Empty", children=[])], "'Empty' has no children"),
        ([TrackSpec("Bad", items=[ItemSpec("x.mid", 0, 1)])], "unsupported media type .mid"),
        ([TrackSpec("Neg", items=[ItemSpec("x.wav", 0, -1)])], "'Neg', item 'x.wav'"),
        ([TrackSpec("Loud", volume=float("nan"))], "'Loud': volume"),
        ([TrackSpec("Odd", nchan=3)], "'Odd': nchan"),
        ([TrackSpec("two\nlines")], "line break"),
    ],
)
def test_bad_specs_raise_naming_the_track(tracks: list[TrackSpec], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build_project(tracks, seed=0)


def _keys(block: Block) -> list[str]:
    return [c.key if isinstance(c, Line) else "<" + c.tag for c in block.children]


def test_layout_matches_a_real_reaper_file() -> None:
    """Item lines come in exactly REAPER's order; the real (REAPER 6.13) track lines are a
    subsequence of ours, except FREEMODE, which REAPER 7 replaced by FIXEDLANES."""
    if not FIXTURE.exists():
        pytest.skip(f"shared fixtures not found at {FIXTURE} (run inside the project workspace)")
    real_track = RppDocument.load(FIXTURE).track_blocks()[0]
    ours = RppDocument(build_project([TrackSpec("t", items=[ItemSpec("m.wav", 0, 1)])], seed=0))
    our_track = ours.track_blocks()[0]
    assert _keys(our_track.blocks("ITEM")[0]) == _keys(real_track.blocks("ITEM")[0])
    remaining = iter(_keys(our_track))
    assert all(key in remaining for key in _keys(real_track)
               if key not in ("<ITEM", "FREEMODE"))
