"""The Match reference and Mix actions in the simulated REAPER (the real python-reapy in inside
mode, the real worker process), compared with the CLI on the same project."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reaper_automix.audio.io import write_audio
from reaper_automix.hosts.rpp import open_project
from reaper_automix.iem.state import payload_params
from reaper_automix.jobs.match import TAG_COMPRESSOR, TAG_MULTIEQ

from ..reaper_sim import (
    MATCH_ACTION,
    MIX_ACTION,
    SimReaper,
    add_midi,
    repo_python,
    synth_instrument,
    write_worker_config,
)
from .test_fx import _as_read_by_the_rpp_host

REPO = Path(__file__).resolve().parents[2]
SECTION = "reaper-automix"
STEPS = "25"  # a step cap and an unreachable budget: the fit does not depend on timing


@pytest.fixture
def resource(tmp_path: Path) -> Path:
    folder = tmp_path / "REAPER"
    folder.mkdir()
    write_worker_config(folder, repo_python(folder))
    return folder


SYNTH_SPANS = [(0.0, 2.5), (3.0, 5.5)]


@pytest.fixture
def song(tmp_path: Path) -> Path:
    """A short session: two folders and two tracks of synthetic stems, a reference beside it."""
    return _song(tmp_path)


def _song(tmp_path: Path, synth: str | None = None) -> Path:
    """The session; ``synth`` "midi" or "audio" adds a top-level Synth track, played by an
    instrument from MIDI items, or given as the audio that instrument plays."""
    from scipy.signal import butter, sosfilt

    from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project

    from ..test_match_decision import mix_of, synthetic_stems

    stems = synthetic_stems(6.0, seed=4)
    for name, audio in zip(("kick", "bass", "lead", "hats"), stems):
        write_audio(tmp_path / f"{name}.wav", audio, 44100)
    darker = [sosfilt(butter(1, 2500, fs=44100, output="sos"), s, axis=0) for s in stems]
    write_audio(tmp_path / "reference.wav", mix_of(darker, [0, -3, -6, -2], [0, 0, -0.3, 0.3]),
                44100)
    item = lambda name: [ItemSpec(f"{name}.wav", 0.0, 6.0)]  # noqa: E731
    tree = [TrackSpec("Drums", children=[TrackSpec("Kick", volume=0.5, items=item("kick")),
                                         TrackSpec("Hats", items=item("hats"))]),
            TrackSpec("Bass", children=[TrackSpec("DI", items=item("bass"))]),
            TrackSpec("Lead", volume=1.5, items=item("lead")),
            TrackSpec("Pad", items=item("hats"))]
    if synth == "audio":
        write_audio(tmp_path / "synth.wav",
                    synth_instrument("Synth", SYNTH_SPANS, 44100, 6 * 44100), 44100)
    if synth is not None:
        tree.append(TrackSpec("Synth", volume=0.7, items=item("synth") if synth == "audio"
                              else []))
    path = write_project(tmp_path / (f"song-{synth}.RPP" if synth else "song.RPP"), tree,
                         sample_rate=44100, seed=2, line_ending="\n")
    if synth == "midi":
        add_midi(path, "Synth", SYNTH_SPANS)
    return path


def _reproducible(sim: SimReaper) -> None:
    sim.project_ext[(SECTION, "match_budget_s")] = "600"
    sim.project_ext[(SECTION, "match_steps")] = STEPS


def _cli(command: str, project: Path, out: Path, reference: Path, *extra: str) -> None:
    subprocess.run([sys.executable, "-m", "reaper_automix", command, str(project), "--reference",
                    str(reference), "-o", str(out), "--budget", "600", "--steps", STEPS, *extra],
                   check=True, capture_output=True, cwd=REPO)


def _ours(project) -> dict[str, dict[str, dict[str, float]]]:
    """Per track: our tagged instances' parameters as loaded."""
    return {t.guid: {fx.custom_name: payload_params(fx.payload, fx.iem_plugin) for fx in t.fx
                     if fx.custom_name in (TAG_MULTIEQ, TAG_COMPRESSOR)}
            for t in project.tracks}


def _compare(sim: SimReaper, expected_path: Path, folder: Path) -> None:
    expected = open_project(expected_path)
    live = _as_read_by_the_rpp_host(sim, folder)
    for want, got in zip(expected.tracks, live.tracks):
        assert got.volume_db == pytest.approx(want.volume_db, abs=0.01), want.name
        assert got.pan == pytest.approx(want.pan, abs=1e-9), want.name
    assert _ours(live) == _ours(expected)
    matched = [t for t in expected.top_level if t.find_fx("MultiEQ", TAG_MULTIEQ)]
    assert len(matched) == 4, "every group got its EQ and compressor"
    assert any(v["filterEnabled1"] or v["filterEnabled2"] for t in _ours(live).values()
               for k, v in t.items() if k == TAG_MULTIEQ), "the EQ is used: a real comparison"


def test_match_action_writes_what_the_cli_writes(song, resource, tmp_path):
    reference = song.with_name("reference.wav")
    sim = SimReaper(song, resource)
    _reproducible(sim)
    before = sim.volumes()
    sim.files.append(str(reference))
    sim.inputs.append(["100", "no", "full", "no", "no", "no"])
    sim.run_script(MATCH_ACTION)
    assert sim.run_deferred() > 1 and sim.message_boxes == [], sim.console_text
    _cli("match", song, tmp_path / "cli.RPP", reference)
    _compare(sim, tmp_path / "cli.RPP", tmp_path)
    assert [(b.description, b.flags) for b in sim.undo_blocks] == [
        ("AutoMix: match to reference.wav", 3)]
    assert sim.loose_changes == [] and sim.refresh_depth == 0
    assert "Drums: fader" in sim.console_text and "done in" in sim.console_text
    assert sim.project_ext[(SECTION, "match_reference")] == str(reference)
    assert sim.volumes() != before  # (the simulator cannot undo plug-in changes)


def test_mix_action_balances_and_matches_in_one_undo_point(song, resource, tmp_path):
    reference = song.with_name("reference.wav")
    sim = SimReaper(song, resource)
    _reproducible(sim)
    sim.files.append(str(reference))
    sim.inputs.append(["100", "no", "full", "no", "no", "no"])
    sim.run_script(MIX_ACTION)
    assert sim.run_deferred() > 1 and sim.message_boxes == [], sim.console_text
    _cli("mix", song, tmp_path / "cli.RPP", reference)
    _compare(sim, tmp_path / "cli.RPP", tmp_path)
    assert [b.description for b in sim.undo_blocks] == [
        "AutoMix: mix (balance + match) to reference.wav"]
    assert "Hats" in sim.console_text  # stage 1's report


def test_a_midi_stem_is_matched_from_reapers_render_like_the_same_audio(resource, tmp_path):
    (tmp_path / "live").mkdir()
    (tmp_path / "cli").mkdir()
    midi, audio = _song(tmp_path / "live", "midi"), _song(tmp_path / "cli", "audio")
    sim = SimReaper(midi, resource)
    _reproducible(sim)
    sim.files.append(str(midi.with_name("reference.wav")))
    sim.inputs.append(["100", "no", "faders", "no", "no", "no"])
    sim.run_script(MATCH_ACTION)
    assert sim.run_deferred() > 1 and sim.message_boxes == [], sim.console_text
    assert "Synth: fader" in sim.console_text, "REAPER rendered it, so it was matched"
    _cli("match", audio, tmp_path / "cli.RPP", audio.with_name("reference.wav"), "--fit",
         "faders")
    expected = {t.name: t.volume_db for t in open_project(tmp_path / "cli.RPP").tracks}
    for track in _as_read_by_the_rpp_host(sim, tmp_path).tracks:
        assert track.volume_db == pytest.approx(expected[track.name], abs=0.01), track.name


def test_cancelling_a_dialog_starts_nothing(song, resource):
    sim = SimReaper(song, resource)
    sim.run_script(MATCH_ACTION)  # the file dialog is cancelled
    sim.files.append(str(song.with_name("reference.wav")))
    sim.run_script(MATCH_ACTION)  # the options dialog is cancelled
    assert sim.run_deferred() == 0 and sim.undo_blocks == [] and sim.message_boxes == []
    assert len(sim.file_dialogs) == 2 and len(sim.input_dialogs) == 1


def test_bad_options_and_bad_references_change_nothing(song, resource, tmp_path):
    sim = SimReaper(song, resource)
    before = sim.volumes()
    sim.files.append(str(song.with_name("reference.wav")))
    sim.inputs.append(["150", "no", "full", "no", "no", "no"])
    sim.run_script(MATCH_ACTION)
    assert "amount 150" in sim.message_boxes[-1][0]
    short = tmp_path / "short.wav"
    write_audio(short, np.full((44100, 2), 0.1, np.float32), 44100)
    sim.files.append(str(short))
    sim.inputs.append(["100", "no", "faders", "no", "no", "no"])
    sim.run_script(MATCH_ACTION)
    sim.run_deferred()
    assert "at least 5 s" in sim.message_boxes[-1][0] and "Nothing was changed" in \
        sim.message_boxes[-1][0]
    assert sim.volumes() == before and sim.undo_blocks == []


def test_the_match_action_writes_its_report_next_to_the_project(song, resource):
    from reaper_automix.report.document import embedded_data

    sim = SimReaper(song, resource)
    _reproducible(sim)
    sim.files.append(str(song.with_name("reference.wav")))
    sim.inputs.append(["100", "no", "faders", "yes", "yes", "yes"])
    sim.run_script(MATCH_ACTION)
    assert sim.run_deferred() > 1 and sim.message_boxes == [], sim.console_text
    assert [sim.project_ext[(SECTION, key)] for key in ("report", "report_open",
                                                         "report_preview")] == ["yes"] * 3
    page = song.with_name(song.stem + ".automix-match.html")
    previews = song.with_name(song.stem + ".automix-match-preview")
    assert page.is_file(), sim.console_text
    html = page.read_text(encoding="utf-8")
    assert [s["name"] for s in embedded_data(html)["stems"]] == ["Drums", "Bass", "Lead", "Pad"]
    assert sorted(p.name for p in previews.iterdir()) == ["after.wav", "before.wav",
                                                         "reference.wav"]
    assert f'src="{previews.name}/reference.wav"' in html
    assert f"Report written to {page}" in sim.console_text and sim.opened == [str(page)]
    title, captions, shown = sim.input_dialogs[-1]
    assert "Write report" in captions and shown == "100,no,full,no,no,no"  # the stored answers
    assert sim.project_ext[(SECTION, "match_fit")] == "faders"
