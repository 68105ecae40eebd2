"""Mix lead vocal end to end on .RPP files: CLI, what is written, re-runs, sends, bad input."""

from __future__ import annotations

import json
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from reaper_automix.analysis.loudness import LoudnessMeter
from reaper_automix.audio.render import Renderer
from reaper_automix.cli import main
from reaper_automix.hosts.rpp import open_project
from reaper_automix.jobs import JobError
from reaper_automix.jobs.vocal import RETURN_TRACK_NAME, TAGS, plan_vocal
from reaper_automix.evaluation.synthetic import synthetic_song
from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project

SR = 44100


def _write_session(folder: Path, *, vocal_name: str = "Lead Vox", vocal_seconds: float = 8.0,
                   extra: list[TrackSpec] | None = None) -> Path:
    song = synthetic_song(8.0, tempo=100.0, seed=7)
    media = folder / "media"
    media.mkdir(parents=True, exist_ok=True)
    sf.write(media / "vocal.wav", song.vocal[:, 0], SR, subtype="FLOAT")  # a mono item
    sf.write(media / "backing.wav", song.backing, SR, subtype="FLOAT")
    tracks = [
        TrackSpec("Band", volume=0.8, children=[
            TrackSpec("Backing", items=[ItemSpec("media/backing.wav", 0.0, 8.0)])]),
        TrackSpec("Vocals", volume=1.2, children=[
            TrackSpec(vocal_name, volume=0.5,
                      items=[ItemSpec("media/vocal.wav", 0.0, vocal_seconds)]),
            *(extra or [])]),
    ]
    return write_project(folder / "song.RPP", tracks, sample_rate=SR, tempo=100.0, seed=1)


def _vocal_minus_backing(path: Path, vocal: str = "Lead Vox") -> float:
    """Render the saved project with the real renderer (every plug-in through the exact
    emulations): the vocal as it reaches the master against everything else."""
    project = open_project(path)
    renderer = Renderer(project)
    track = project.track(vocal)
    mix = lambda: sum(renderer.track(t) for t in project.top_level)  # noqa: E731
    with_vocal = mix()
    track.mute = True
    backing = mix()
    meter = LoudnessMeter(SR)
    return meter.integrated(with_vocal - backing) - meter.integrated(backing)


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    return _write_session(tmp_path_factory.mktemp("vocal"))


def test_cli_writes_the_chain_and_the_level_it_reports(session, capsys):
    out = session.with_name("cli.RPP")
    assert main(["vocal", str(session), "--method", "rules", "--json", "-o", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["vocal"] == "Lead Vox" and "lead vocal" in report["vocal_chosen_by"]
    assert report["backing"] == ["Band", "Vocals"]
    assert report["level_after_lu"] == pytest.approx(-1.77, abs=0.01)
    assert [len(p["params"]) for p in report["plugins"]] == [31, 10, 11]
    vocal = open_project(out).track("Lead Vox")
    assert [fx.custom_name for fx in vocal.fx] == list(TAGS.values())
    assert vocal.volume_db == pytest.approx(report["fader_after_db"], abs=1e-6)
    # the saved project plays the vocal at the reported level (exact emulations, folder faders)
    assert _vocal_minus_backing(out) == pytest.approx(-1.77, abs=0.05)


def test_only_the_vocal_fader_and_chain_change(session):
    out = session.with_name("diff.RPP")
    assert main(["vocal", str(session), "--method", "rules", "-o", str(out)]) == 0
    before = session.read_bytes().split(b"\r\n")
    after = out.read_bytes().split(b"\r\n")
    changes = [op for op in SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
               if op[0] != "equal"]
    replaced = [before[i1:i2] for tag, i1, i2, _, _ in changes if tag != "insert"]
    assert replaced == [[line] for line in before if line.strip().startswith(b"VOLPAN 0.5 ")]
    inserted = b"\n".join(b"\n".join(after[j1:j2]) for tag, _, _, j1, j2 in changes)
    assert inserted.count(b"<VST ") == 3 and b"<FXCHAIN" in inserted


def test_second_run_updates_in_place(session):
    first, second = session.with_name("first.RPP"), session.with_name("second.RPP")
    assert main(["vocal", str(session), "--method", "rules", "-o", str(first)]) == 0
    assert main(["vocal", str(first), "--method", "rules", "-o", str(second)]) == 0
    a, b = open_project(first).track("Lead Vox"), open_project(second).track("Lead Vox")
    assert [fx.label for fx in b.fx] == [fx.label for fx in a.fx]
    assert b.volume_db == pytest.approx(a.volume_db, abs=0.01)
    assert [fx.payload for fx in b.fx] == [fx.payload for fx in a.fx]


def test_send_mode_adds_one_return_track_and_keeps_the_level(session):
    first, second = session.with_name("send.RPP"), session.with_name("send2.RPP")
    assert main(["vocal", str(session), "--method", "rules", "--reverb", "send",
                 "-o", str(first)]) == 0
    project = open_project(first)
    ret = project.track(RETURN_TRACK_NAME)
    assert ret.parent is None and [r.source.name for r in ret.receives] == ["Lead Vox"]
    reverb = ret.find_fx("FdnReverb", TAGS["FdnReverb"])
    assert reverb is not None and project.track("Lead Vox").find_fx("FdnReverb") is None
    assert _vocal_minus_backing(first) == pytest.approx(-1.77, abs=0.05)
    assert main(["vocal", str(first), "--method", "rules", "--reverb", "send",
                 "-o", str(second)]) == 0
    assert [t.name for t in open_project(second).tracks].count(RETURN_TRACK_NAME) == 1


def test_amount_moves_the_fader_part_way(session):
    none = plan_vocal(open_project(session), method="rules", amount=0.0)
    half = plan_vocal(open_project(session), method="rules", amount=0.5)
    assert none.fader_after_db == pytest.approx(none.fader_before_db, abs=1e-9)
    assert all(p["value"] == 0.0 for p in none.plugins[0].params if p["id"].startswith("filterG"))
    low, high = sorted((half.level_before_lu, half.level_target_lu))
    assert low < half.level_after_lu < high
    assert half.decision["chain"]["plugins"]["FdnReverb"][8]["value"] == pytest.approx(0.08)


def test_report_fits_80_columns(session, capsys):
    assert main(["vocal", str(session), "--method", "rules", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and max(len(line) for line in lines) <= 80
    assert any("Threshold" in line for line in lines)


def test_vocal_chosen_by_name_or_asked_for(tmp_path):
    ambiguous = _write_session(tmp_path / "a", extra=[TrackSpec("Lead Vocal 2", items=[
        ItemSpec("media/vocal.wav", 0.0, 8.0)])])
    with pytest.raises(JobError, match="--vocal"):
        plan_vocal(open_project(ambiguous), method="rules")
    unnamed = _write_session(tmp_path / "b", vocal_name="Audio 3")
    with pytest.raises(JobError, match="--vocal"):
        plan_vocal(open_project(unnamed), method="rules")
    report = plan_vocal(open_project(unnamed), "Audio 3", method="rules")
    assert report.vocal_chosen_by == "named with --vocal"


@pytest.mark.parametrize("case", ["short", "no_backing", "silent"])
def test_bad_input_leaves_the_project_untouched(tmp_path, case, capsys):
    path = _write_session(tmp_path, vocal_seconds=3.0 if case == "short" else 8.0)
    args = ["vocal", str(path), "--method", "rules"]
    if case == "no_backing":
        args += ["--backing", "Lead Vox"]
    if case == "silent":
        sf.write(tmp_path / "media" / "vocal.wav", np.zeros(8 * SR, np.float32), SR)
    original = path.read_bytes()
    assert main(args) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert {"short": "at least 5 s", "no_backing": "vocal itself",
            "silent": "silent"}[case] in message
    assert path.read_bytes() == original
    assert not list(tmp_path.glob("*.automix-bak"))


def test_tracks_only_reaper_plays_are_named_or_heard_with_a_warning(tmp_path, capsys):
    from .reaper_sim import add_midi

    path = _write_session(tmp_path, extra=[TrackSpec("Synth")])
    add_midi(path, "Synth", [(0.0, 4.0)])
    original = path.read_bytes()
    assert main(["vocal", str(path), "--method", "rules"]) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert "'Synth' (MIDI items" in message and "--skip-unplayable" in message, message
    assert path.read_bytes() == original
    report = plan_vocal(open_project(path), method="rules", skip_unplayable=True)
    assert any("'Synth'" in w and "headless renderer plays it" in w for w in report.warnings)
