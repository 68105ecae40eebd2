"""The Match reference section of the decision report: what it shows comes from the job's JSON,
and the CLI and the worker write the page and the previews (before, after, reference)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from reaper_automix import open_project
from reaper_automix.analysis.loudness import LoudnessMeter
from reaper_automix.audio.io import read_audio, write_audio
from reaper_automix.cli import main
from reaper_automix.decisions.match import MatchOptions
from reaper_automix.jobs import run_job
from reaper_automix.jobs.match import MatchPlots, plan_match
from reaper_automix.report.document import Image, Section, Table, Text, embedded_data
from reaper_automix.report.match import eq_params, match_section
from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project

from .test_match_decision import mix_of, synthetic_stems

RATE = 44100
SECONDS = 6.0
QUICK = MatchOptions(budget_s=600.0, steps=6)  # a step cap: quick and machine-independent


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_match_song(tmp_path_factory.mktemp("match-report"))


def make_match_song(folder: Path) -> Path:
    """Three stems and a silent one, a reference of the same stems in another balance."""
    folder.mkdir(parents=True, exist_ok=True)
    stems = synthetic_stems(SECONDS, seed=5)
    for name, audio in zip(("kick", "bass", "lead", "hats"), stems):
        write_audio(folder / f"{name}.wav", audio, RATE)
    write_audio(folder / "silence.wav", np.zeros((int(SECONDS * RATE), 2), np.float32), RATE)
    write_audio(folder / "reference.wav", mix_of(stems, [0, -4, -8, -2], [0, 0.2, -0.3, 0.3]),
                RATE)
    item = lambda name: [ItemSpec(f"{name}.wav", 0.0, SECONDS)]  # noqa: E731
    tracks = [TrackSpec("Drums", children=[TrackSpec("Kick", items=item("kick")),
                                           TrackSpec("Hats", items=item("hats"))]),
              TrackSpec("Bass", volume=1.3, items=item("bass")),
              TrackSpec("Lead", volume=0.6, items=item("lead")),
              TrackSpec("Room", items=item("silence"))]
    return write_project(folder / "song.RPP", tracks, sample_rate=RATE, seed=4)


@pytest.fixture(scope="module")
def matched(song: Path) -> tuple[dict, MatchPlots]:
    plots = MatchPlots()
    report, _ = plan_match(open_project(song), song.with_name("reference.wav"), options=QUICK,
                           plots=plots)
    return report.to_json(), plots


def texts(section: Section) -> list[str]:
    return [p.text for p in section.parts if isinstance(p, Text)]


def tables(section: Section) -> list[Table]:
    return [p for p in section.parts if isinstance(p, Table)]


def figures(section: Section) -> list[Image]:
    return [p for p in section.parts if isinstance(p, Image)]


def subsections(section: Section) -> dict[str, Section]:
    return {p.title: p for p in section.parts if isinstance(p, Section)}


def test_the_section_shows_what_the_json_says(matched) -> None:
    data, plots = matched
    data = copy.deepcopy(data)
    lead = next(s for s in data["stems"] if s["name"] == "Lead")
    lead["fader_before_db"], lead["fader_after_db"] = -4.4, 3.3  # the page follows the JSON
    section = match_section(data, plots)
    summary = tables(section)[0]
    row = next(r for r in summary.rows if r[0] == "Lead")
    assert row[1] == "-4.4 → 3.3" and row[2] == "+7.7"
    room = next(r for r in summary.rows if r[0] == "Room")
    assert "untouched: silent" in room[4]
    assert "Room was left untouched: silent (below -70 LUFS)." in texts(section)
    parts = subsections(section)
    assert list(parts) == ["Mix and reference", "The fit", "Drums", "Bass", "Lead"]
    for name in ("Drums", "Bass", "Lead"):
        assert len(figures(parts[name])) == 2, "MultiEQ response and compressor curve"
        bands = tables(parts[name])[1].rows
        stem = next(s for s in data["stems"] if s["name"] == name)
        assert [float(b[5]) for b in bands] == pytest.approx(
            [round(b["gain_db"], 1) for b in stem["eq"]], abs=0.051)
    mix = parts["Mix and reference"]
    assert len(figures(mix)) == 3, "Bark spectra, dynamics and image, distances"
    loudness = tables(mix)[0].rows[0]
    assert list(loudness[1:]) == [f"{data[k]:.1f}" for k in ("before_lufs", "after_lufs",
                                                          "reference_lufs")]
    distances = tables(mix)[1].rows
    assert float(distances[0][2]) == pytest.approx(data["distances"]["after"]["bark_mid_db"],
                                                   abs=0.0006)
    fit = parts["The fit"]
    assert len(figures(fit)) == 1 and data["trace"], "the loss trace"
    assert f"of its {data['budget_s']:g} s budget" in texts(fit)[0]


def test_an_engaged_compressor_shows_its_gain_reduction_on_the_stems_audio(matched) -> None:
    data, plots = matched
    data = copy.deepcopy(data)
    bass = next(s for s in data["stems"] if s["name"] == "Bass")
    bass["compressor"].update(ratio=4.0, threshold=-30.0)
    audio = np.sin(np.linspace(0, 2000, RATE * 2)).astype(np.float32)
    with_audio = MatchPlots(RATE, {bass["guid"]: audio})
    caption = figures(subsections(match_section(data, with_audio))["Bass"])[1].caption
    assert "gain reduction over the song" in caption
    without = figures(subsections(match_section(data, None))["Bass"])[1].caption
    assert "gain reduction" not in without
    assert any("stays at 1:1" in t for t in texts(subsections(match_section(data))["Lead"]))


def test_eq_params_rebuild_the_written_multieq(matched) -> None:
    from reaper_automix.iem import MULTIEQ

    data, _ = matched
    stem = data["stems"][0]
    params = eq_params(stem["eq"])
    for band in stem["eq"]:
        b = band["band"] - 1
        assert params[f"filterFrequency{b}"] == band["frequency_hz"]
        assert params[f"filterGain{b}"] == band["gain_db"]
        assert MULTIEQ.param(f"filterType{b}").text(params[f"filterType{b}"]).lower().replace(
            "-", " ").startswith(band["kind"].split()[0])


def test_match_cli_writes_the_page_and_three_previews_at_one_loudness(song, tmp_path, capsys):
    page, previews = tmp_path / "page.html", tmp_path / "ab"
    code = main(["match", str(song), "--reference", str(song.with_name("reference.wav")),
                 "--budget", "600", "--steps", "6", "--dry-run", "--json",
                 "--report", str(page), "--preview", str(previews)])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    files = printed.pop("files")
    assert files["report"] == str(page)
    embedded = embedded_data(page.read_text(encoding="utf-8"))
    assert embedded == json.loads(json.dumps(printed))
    names = [f["name"] for f in files["previews"]["files"]]
    assert names == ["before", "after", "reference"]
    meter = LoudnessMeter(RATE)
    loudness = [meter.integrated(read_audio(previews / f"{n}.wav")[0]) for n in names]
    assert max(loudness) - min(loudness) < 0.05
    html = page.read_text(encoding="utf-8")
    assert "Match reference" in html and 'src="ab/reference.wav"' in html


def test_match_without_report_options_writes_no_report(song, tmp_path, capsys) -> None:
    code = main(["match", str(song), "--reference", str(song.with_name("reference.wav")),
                 "--budget", "600", "--steps", "2", "--dry-run", "--json"])
    assert code == 0
    assert "files" not in json.loads(capsys.readouterr().out)
    assert not list(song.parent.glob("*.html"))


def test_the_worker_jobs_write_the_report_they_are_asked_for(song, tmp_path) -> None:
    for job in ("match", "mix"):
        folder = tmp_path / job
        folder.mkdir()
        request = {"job": job, "project": str(song), "reference": str(song.with_name(
            "reference.wav")), "budget_s": 600, "steps": 4, "job_dir": str(folder),
            "report": {"html": "report/page.html", "preview": None, "project": str(song)}}
        result = run_job(request, lambda fraction, message: None, lambda: False)
        page = folder / "report" / "page.html"
        assert result["files"] == {"report": str(page), "previews": None}
        html = page.read_text(encoding="utf-8")
        assert "Match reference" in html
        assert ("Auto balance group" in html) == (job == "mix")
        data = embedded_data(html)
        assert (data["match"] if job == "mix" else data) == result["report"]


def test_mix_cli_writes_both_sections(song, tmp_path, capsys) -> None:
    page = tmp_path / "mix.html"
    code = main(["mix", str(song), "--reference", str(song.with_name("reference.wav")),
                 "--budget", "600", "--steps", "2", "--dry-run", "--json", "--report", str(page)])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["files"] == {"report": str(page), "previews": None}
    html = page.read_text(encoding="utf-8")
    assert html.index("Auto balance group") < html.index("Match reference")
    assert embedded_data(html) == {"balance": printed["balance"], "match": printed["match"]}
