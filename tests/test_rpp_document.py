"""The byte-preserving RPP editor on hand-written edge cases, plus property tests of edits."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reaper_automix import open_project
from reaper_automix.rpp.document import BACKUP_SUFFIX, RppDocument, RppFormatError
from reaper_automix.rpp.tokens import format_number, quote, split_tokens

EDGE = (
    '<REAPER_PROJECT 0.1 "7.0/linux-x86_64" 1700000000\n'
    "  SAMPLERATE 48000 0 0\n"
    "  TEMPO 96 4 4\n"
    "\n"
    "  <NOTES 0 2\n"
    "    |  free text with <angle> and \"quotes\" and trailing spaces   \n"
    "    |>\n"
    "  >\n"
    "  <TRACK\n"
    "    NAME `a'b\"c'd`\n"
    "    <NAME\n"
    "      |a'b\"c`d\n"
    "    >\n"
    "    ISBUS 1 1\n"
    "  >\n"
    "  <TRACK {11111111-2222-3333-4444-555555555555}\n"
    "    NAME 'child \"one\"'\n"
    "    VOLPAN 0.5\t0.25  -1 -1 1\n"
    "    <FXCHAIN\n"
    "      BYPASS 0 0 0\n"
    '      <JS utility/volume ""\n'
    "        -6.000000 0.000000 - - - \n"
    "      >\n"
    "      FXID {AAAAAAAA-2222-3333-4444-555555555555}\n"
    "    >\n"
    "  >\n"
    ">"
)


def write(tmp_path: Path, text: str, name: str = "p.rpp") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_lf_file_with_empty_lines_raw_lines_and_no_final_newline(tmp_path) -> None:
    path = write(tmp_path, EDGE)
    doc = RppDocument.load(path)
    assert doc.newline == "\n" and doc.to_bytes() == path.read_bytes()
    project = open_project(path)
    assert project.sample_rate == 48000 and project.tempo == 96
    parent, child = project.tracks
    assert parent.name == "a'b\"c`d"  # the <NAME block holds the exact name
    assert parent.guid == "" and child.parent is parent and child.depth == 1
    assert child.name == 'child "one"'
    assert child.volume == 0.5 and child.pan == 0.25
    assert child.fx[0].kind == "JS" and child.fx[0].identity == "utility/volume"


def test_end_of_file_closes_open_folders(tmp_path) -> None:
    project = open_project(write(tmp_path, EDGE))
    assert project.tracks[0].is_folder and project.tracks[0].children == [project.tracks[1]]


def test_edit_keeps_separators_and_other_lines(tmp_path) -> None:
    path = write(tmp_path, EDGE)
    project = open_project(path)
    project.tracks[1].volume_db = 0.0
    project.save()
    text = path.read_text()
    assert "    VOLPAN 1\t0.25  -1 -1 1\n" in text
    assert text.replace("VOLPAN 1\t", "VOLPAN 0.5\t") == EDGE
    assert (tmp_path / ("p.rpp" + BACKUP_SUFFIX)).read_text() == EDGE


def test_missing_volpan_is_inserted_after_name(tmp_path) -> None:
    path = write(tmp_path, EDGE)
    project = open_project(path)
    project.tracks[0].volume_db = -6.0
    project.save()
    lines = path.read_text().split("\n")
    assert lines[lines.index("    NAME `a'b\"c'd`") + 1] == "    VOLPAN 0.50118723362727 0 -1 -1 1"
    assert open_project(path).tracks[0].volume_db == pytest.approx(-6.0, abs=1e-9)


@pytest.mark.parametrize(
    "text, message",
    [
        ("<REAPER_PROJECT 0.1\n  <TRACK\n  >\n", "never closed"),
        ("<REAPER_PROJECT 0.1\n>\n>\n", "never opened"),
        ("<REAPER_PROJECT 0.1\n>\n<REAPER_PROJECT 0.1\n>\n", "2 projects"),
        ("VOLPAN 1 0\n", "outside any block"),
        ("<SOMETHING\n>\n", "neither"),
    ],
)
def test_files_reaper_cannot_have_written_are_refused(tmp_path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RppFormatError, match=message) as info:
        open_project(path)
    assert str(path) in str(info.value)


def test_missing_project_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.rpp"):
        open_project(tmp_path / "nope.rpp")


def test_crash_during_save_leaves_the_project_untouched(tmp_path, monkeypatch) -> None:
    path = write(tmp_path, EDGE)
    project = open_project(path)
    project.tracks[1].volume_db = -3.0

    def explode(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", explode)
    with pytest.raises(OSError, match="disk full"):
        project.save()
    assert path.read_text() == EDGE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.rpp", "p.rpp" + BACKUP_SUFFIX]


def test_invalid_values_are_refused() -> None:
    from reaper_automix.session import Track

    track = Track(index=0, name="Kick", guid="")
    with pytest.raises(ValueError, match="Kick"):
        track.pan = 1.5
    with pytest.raises(ValueError, match="Kick"):
        track.volume_db = math.nan


@pytest.mark.parametrize(
    "value, written",
    [("Drums", "Drums"), ("Lead Vox", '"Lead Vox"'), ('say "hi"', "'say \"hi\"'"),
     ("it's \"x\"", "`it's \"x\"`"), ("", '""'), ("'q", "\"'q\"")],
)
def test_quoting_follows_reaper(value: str, written: str) -> None:
    assert quote(value) == written
    assert split_tokens(f"NAME {written}") == ["NAME", value]


@settings(max_examples=60, deadline=None)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, 6),
            st.floats(-150, 12, allow_nan=False),
            st.floats(-1, 1, allow_nan=False),
        ),
        min_size=1,
        max_size=10,
    )
)
def test_random_volume_and_pan_edits_round_trip(edits, tmp_path_factory) -> None:
    from .conftest import fixture_path

    source = fixture_path("spatlab-iem-template.rpp")
    out = tmp_path_factory.mktemp("rt") / "out.rpp"
    project = open_project(source)
    expected = {}
    for index, db, pan in edits:
        project.tracks[index].volume_db = db
        project.tracks[index].pan = pan
        expected[index] = (db, pan)
    project.save(out)
    reread = open_project(out)
    for index, (db, pan) in expected.items():
        track = reread.tracks[index]
        # REAPER writes 14 significant digits, or 14 decimals for tiny values (format_number), so
        # the gain comes back within either rounding: 1e-6 dB down to about -140 dB, less below
        # (-149.5 dB read -149.5000010)
        gain = 10 ** (db / 20)
        assert abs(track.volume - gain) <= max(5.1e-15, 5.1e-14 * gain)
        if db > -140.0:
            assert track.volume_db == pytest.approx(db, abs=1e-6)
        assert track.pan == pytest.approx(pan, abs=1e-12)
    untouched = set(range(7)) - set(expected)
    src_lines = source.read_bytes().splitlines(keepends=True)
    out_lines = out.read_bytes().splitlines(keepends=True)
    changed = {i for i, (a, b) in enumerate(zip(src_lines, out_lines)) if a != b}
    assert len(src_lines) == len(out_lines) and len(changed) <= len(expected)
    assert all(b"VOLPAN" in out_lines[i] for i in changed)
    assert all(reread.tracks[i].volume_db == 0.0 for i in untouched)


@pytest.mark.parametrize("value", [1.0, 0.5, 0.22653103614921, 1e-9, 3.9810717055349722, -0.25])
def test_number_format_round_trips(value: float) -> None:
    assert float(format_number(value)) == pytest.approx(value, rel=1e-13)


def test_save_keeps_permissions_follows_symlinks_and_new_files_get_umask_mode(tmp_path) -> None:
    path = write(tmp_path, EDGE)
    os.chmod(path, 0o640)
    link = tmp_path / "link.rpp"
    link.symlink_to(path)
    project = open_project(link)
    project.tracks[1].volume_db = -3.0
    project.save()
    assert link.is_symlink() and path.stat().st_mode & 0o777 == 0o640
    assert open_project(path).tracks[1].volume_db == pytest.approx(-3.0)
    mask = os.umask(0o022)
    try:
        project.save(tmp_path / "new.rpp")
    finally:
        os.umask(mask)
    assert (tmp_path / "new.rpp").stat().st_mode & 0o777 == 0o644
