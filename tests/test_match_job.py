"""Match reference on .RPP projects: the job, the CLI, what is written and bad input."""

from __future__ import annotations

import difflib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from scipy.signal import butter, sosfilt

from reaper_automix import open_project
from reaper_automix.audio.io import write_audio
from reaper_automix.audio.render import render_project_track
from reaper_automix.cli import main
from reaper_automix.commands.match import report_tables
from reaper_automix.decisions.match import MatchOptions
from reaper_automix.jobs import JobError, run_job
from reaper_automix.jobs.match import TAG_COMPRESSOR, TAG_MULTIEQ, plan_match
from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project

from .test_match_decision import mix_of, synthetic_stems

RATE = 44100
SECONDS = 8.0
FAST = MatchOptions(budget_s=3.0)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stems as WAV files and a reference mix of them (other balance, darker, wider)."""
    folder = tmp_path_factory.mktemp("match-media")
    stems = synthetic_stems(SECONDS)
    for name, audio in zip(("kick", "bass", "lead", "hats"), stems):
        write_audio(folder / f"{name}.wav", audio, RATE)
    darker = [sosfilt(butter(1, 3000, fs=RATE, output="sos"), s, axis=0) for s in stems]
    write_audio(folder / "reference.wav", mix_of(darker, [0, -2, -6, -3], [0, 0, -0.3, 0.4]),
                RATE)
    return folder


def item(name: str) -> list[ItemSpec]:
    return [ItemSpec(f"media/{name}.wav", 0.0, SECONDS)]


@pytest.fixture
def project(tmp_path: Path, media: Path) -> Path:
    (tmp_path / "media").symlink_to(media)
    tracks = [
        TrackSpec("Drums", volume=0.8, children=[TrackSpec("Kick", items=item("kick")),
                                                  TrackSpec("Hats", volume=0.5,
                                                            items=item("hats"))]),
        TrackSpec("Bass", children=[TrackSpec("Bass DI", items=item("bass"))]),
        TrackSpec("Lead", volume=1.4, pan=0.1, items=item("lead")),
    ]
    return write_project(tmp_path / "song.RPP", tracks, sample_rate=RATE, seed=3)


def relative_error_db(actual: np.ndarray, expected: np.ndarray) -> float:
    error = np.sum((actual.astype(np.float64) - expected) ** 2) / np.sum(expected ** 2.0)
    return 10 * math.log10(max(error, 1e-30))


# ------------------------------------------------------------------------------ what is written
def test_the_written_project_renders_what_the_fit_predicted(project: Path, media: Path) -> None:
    model = open_project(project)
    report, decision = plan_match(model, media / "reference.wav", options=FAST)
    assert [s.status for s in report.stems] == ["matched"] * 3
    model.save(project.with_name("out.RPP"))
    rendered, rate, warnings = render_project_track(project.with_name("out.RPP"))
    assert rate == RATE and not warnings
    assert relative_error_db(rendered, decision.prediction) < -40.0
    reopened = open_project(project.with_name("out.RPP"))
    for track in (reopened.track("Drums"), reopened.track("Bass"), reopened.track("Lead")):
        labels = [fx.custom_name for fx in track.fx]
        assert labels == [TAG_MULTIEQ, TAG_COMPRESSOR], "one EQ, then one compressor"


def test_a_second_run_updates_our_plugins_and_nothing_else(project: Path, media: Path) -> None:
    args = ["match", str(project), "--reference", str(media / "reference.wav"), "--budget", "2"]
    assert main(args) == 0
    first = project.read_text(encoding="utf-8").splitlines()
    assert main(args + ["--amount", "50"]) == 0
    second = project.read_text(encoding="utf-8").splitlines()
    model = open_project(project)
    for name in ("Drums", "Bass", "Lead"):
        tags = [fx.custom_name for fx in model.track(name).fx]
        assert tags.count(TAG_MULTIEQ) == 1 and tags.count(TAG_COMPRESSOR) == 1
    changed = [line for line in difflib.unified_diff(first, second, lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed and all(line[1:].strip().startswith("VOLPAN") or _is_state_line(line[1:])
                           for line in changed), changed
    assert project.with_name("song.RPP.automix-bak").exists()


def _is_state_line(text: str) -> bool:
    """A base64 line of a plug-in state (the only other lines a second run may change)."""
    token = text.strip()
    return bool(token) and all(c.isalnum() or c in "+/=" for c in token)


def test_amount_zero_writes_nothing(project: Path, media: Path) -> None:
    before = project.read_bytes()
    assert main(["match", str(project), "--reference", str(media / "reference.wav"),
                 "--amount", "0", "--budget", "1"]) == 0
    assert project.read_bytes() == before
    assert not project.with_name("song.RPP.automix-bak").exists()


def test_dry_run_json_reports_every_setting(project: Path, media: Path, capsys) -> None:
    before = project.read_bytes()
    assert main(["match", str(project), "--reference", str(media / "reference.wav"), "--json",
                 "--dry-run", "--budget", "2", "--fit", "faders"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert project.read_bytes() == before
    assert {s["name"] for s in report["stems"]} == {"Drums", "Bass", "Lead"}
    stem = report["stems"][0]
    assert len(stem["eq"]) == 6 and {"threshold", "ratio", "attack", "release", "knee"} <= set(
        stem["compressor"])
    assert set(report["distances"]) == {"before", "start", "after"}
    assert report["distances"]["after"]["af_loss"] < report["distances"]["before"]["af_loss"]


def test_the_report_reads_at_80_columns(project: Path, media: Path) -> None:
    report, _ = plan_match(open_project(project), media / "reference.wav", options=FAST)
    console = Console(width=80, record=True, file=open("/dev/null", "w"))
    console.print(report_tables(report))
    lines = console.export_text().splitlines()
    assert max(map(len, lines)) <= 80
    assert any("Drums" in line for line in lines)


def test_a_reference_at_another_rate_is_resampled(project: Path, media: Path,
                                                  tmp_path: Path) -> None:
    from reaper_automix.audio.io import read_audio, resample

    audio, _ = read_audio(media / "reference.wav")
    write_audio(tmp_path / "ref48.flac", resample(audio, RATE, 48000), 48000, subtype="PCM_24")
    report, _ = plan_match(open_project(project), tmp_path / "ref48.flac",
                           options=MatchOptions(budget_s=1.0, fit="faders"))
    assert all(s.status == "matched" for s in report.stems)


def test_a_stem_with_missing_media_is_left_untouched_and_named(project: Path, media: Path,
                                                               tmp_path: Path) -> None:
    text = project.read_text(encoding="utf-8").replace("media/bass.wav", "media/gone.wav")
    project.write_text(text, encoding="utf-8")
    model = open_project(project)
    volume = model.track("Bass").volume
    report, _ = plan_match(model, media / "reference.wav",
                           options=MatchOptions(budget_s=1.0, fit="faders"))
    bass = next(s for s in report.stems if s.name == "Bass")
    assert bass.status == "missing media" and "gone.wav" in bass.reason
    assert model.track("Bass").volume == volume and not model.track("Bass").fx
    assert any("Bass" in w and "untouched" in w for w in report.warnings)


# --------------------------------------------------------------------------------- bad input
def _write(path: Path, audio: np.ndarray) -> Path:
    return write_audio(path, audio, RATE)


def _text(path: Path, content: str) -> Path:
    path.write_text(content)
    return path


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "nowhere.wav", "not found"),
    (lambda d: _text(d / "text.wav", "not audio"), "cannot be read"),
    (lambda d: _write(d / "silent.wav", np.zeros((RATE * 6, 2), np.float32)), "silent"),
    (lambda d: _write(d / "short.wav", np.full((RATE * 3, 2), 0.1, np.float32)), "at least 5 s"),
    (lambda d: _write(d / "mono.wav", np.full((RATE * 6, 1), 0.1, np.float32)), "channel"),
    (lambda d: _text(d / "ref.ogg", ""), "wav, .flac or .mp3"),
])
def test_bad_references_are_refused_and_nothing_is_written(project: Path, tmp_path: Path, capsys,
                                                           make, message: str) -> None:
    reference = make(tmp_path)
    before = project.read_bytes()
    assert main(["match", str(project), "--reference", str(reference)]) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert project.read_bytes() == before


def test_a_project_with_one_stem_is_refused(tmp_path: Path, media: Path) -> None:
    (tmp_path / "media").symlink_to(media)
    path = write_project(tmp_path / "one.RPP", [
        TrackSpec("All", children=[TrackSpec("Kick", items=item("kick"))])], sample_rate=RATE)
    with pytest.raises(JobError, match="only 'All' as stem"):
        plan_match(open_project(path), media / "reference.wav")


def test_all_silent_stems_are_refused(tmp_path: Path, media: Path) -> None:
    _write(tmp_path / "quiet.wav", np.zeros((int(RATE * SECONDS), 2), np.float32))
    quiet = [ItemSpec("quiet.wav", 0.0, SECONDS)]
    path = write_project(tmp_path / "quiet.RPP", [TrackSpec("A", items=quiet),
                                                  TrackSpec("B", items=quiet)], sample_rate=RATE)
    with pytest.raises(JobError, match="every stem is silent"):
        plan_match(open_project(path), media / "reference.wav")


def test_stems_must_reach_the_master(project: Path, media: Path) -> None:
    with pytest.raises(JobError, match="inside folder 'Drums'"):
        plan_match(open_project(project), media / "reference.wav", stems=["Kick", "Bass"])


# ------------------------------------------------------------------------------ other fronts
def test_mix_balances_the_folders_then_matches_the_stems(project: Path, media: Path,
                                                          capsys) -> None:
    assert main(["mix", str(project), "--reference", str(media / "reference.wav"), "--json",
                 "--budget", "2", "--fit", "faders"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {g["name"] for g in data["balance"]["groups"]} == {"Drums", "Bass"}
    assert {s["status"] for s in data["match"]["stems"]} == {"matched"}
    model = open_project(project)
    assert model.track("Hats").volume != 0.5, "stage 1 moved the children"
    assert model.track("Drums").find_fx("MultiEQ", TAG_MULTIEQ) is not None


def test_the_worker_job_returns_faders_and_plugin_values(project: Path, media: Path) -> None:
    result = run_job({"job": "match", "project": str(project),
                      "reference": str(media / "reference.wav"), "budget_s": 1.0,
                      "fit": "faders"})
    assert {f["name"] for f in result["faders"]} <= {"Drums", "Bass", "Lead"}
    plugins = {(p["name"], p["plugin"]) for p in result["plugins"]}
    assert plugins == {(n, p) for n in ("Drums", "Bass", "Lead")
                       for p in ("MultiEQ", "OmniCompressor")}
    assert all(p["tag"] in (TAG_MULTIEQ, TAG_COMPRESSOR) for p in result["plugins"])
    assert all(len(p["params"]) in (31, 10) for p in result["plugins"])


def test_stems_the_headless_renderer_cannot_play_are_left_untouched_unless_rendered(
        project: Path, media: Path, tmp_path: Path) -> None:
    from reaper_automix.audio.render import Renderer
    from reaper_automix.session import FxInstance

    options = MatchOptions(budget_s=1.0, fit="faders")
    clean = open_project(project)
    stem = Renderer(clean).track(clean.track("Lead"), fader=False, pan=False)
    reaper_render = write_audio(tmp_path / "lead-by-reaper.wav", stem, RATE)
    for rendered in (None, {clean.track("Lead").guid: str(reaper_render)}):
        model = open_project(project)
        model.track("Lead").fx.append(FxInstance(name="JS: utility/volume", kind="JS"))
        report, _ = plan_match(model, media / "reference.wav", options=options,
                               rendered=rendered)
        lead = next(s for s in report.stems if s.name == "Lead")
        if rendered is None:
            assert lead.status == "cannot be rendered" and "JS: utility/volume" in lead.reason
            assert not model.track("Lead").find_fx("MultiEQ", TAG_MULTIEQ)
        else:
            assert lead.status == "matched", "REAPER's render plays in place of the track"


def test_compressed_and_equalised_stems_render_as_predicted(project: Path, media: Path) -> None:
    from reaper_automix.console import params as P

    start = P.neutral(3).numpy()
    start[:, P.EQ_GAINS[0]], start[:, P.EQ_FREQS[0]] = [6.0, -4.0, 3.0], 150.0
    start[:, P.EQ_GAINS[2]], start[:, P.EQ_QS[2]] = [-3.0, 5.0, -8.0], 4.0
    start[:, P.RATIO], start[:, P.THRESHOLD] = [4.0, 8.0, 2.5], [-30.0, -26.0, -35.0]
    start[:, P.ATTACK], start[:, P.RELEASE] = [5.0, 20.0, 60.0], [40.0, 250.0, 120.0]
    model = open_project(project)
    _, decision = plan_match(model, media / "reference.wav", start=start,
                             options=MatchOptions(fit="start"))
    assert all(s.after.omnicompressor["ratio"] > 1 for s in decision.stems)
    model.save(project.with_name("out.RPP"))
    rendered, _, _ = render_project_track(project.with_name("out.RPP"))
    assert relative_error_db(rendered, decision.prediction) < -40.0
