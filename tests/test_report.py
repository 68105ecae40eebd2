"""The decision report: page and sections, the balance section, A/B previews, the CLI options,
the worker job and the REAPER side (see also test_report_browser.py and tests/live)."""

from __future__ import annotations

import io
import json
import re
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from rich.console import Console

from reaper_automix import open_project
from reaper_automix.analysis.loudness import LoudnessMeter, amplitude_to_db, sample_peak
from reaper_automix.analysis.spectrum import SpectrumRecorder, long_term_spectrum
from reaper_automix.audio.io import write_audio
from reaper_automix.cli import main
from reaper_automix.commands.balance import NAME_WIDTH, report_view
from reaper_automix.jobs import run_job
from reaper_automix.jobs.balance import BalanceReport, GroupBalance, TrackBalance, plan_balance
from reaper_automix.reaper.api import ReaperApi
from reaper_automix.reaper.report import ReportSettings, deliver, report_name
from reaper_automix.report.balance import balance_section, level_shift_advice
from reaper_automix.report.document import Image, Report, Section, Table, Text, embedded_data
from reaper_automix.report.previews import PEAK_CEILING_DBFS, write_matched, write_previews
from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project

SR = 44100
SECONDS = 3.0


def make_session(folder: Path) -> Path:
    """Two folders of short synthetic tracks: a hi-hat quiet enough to need more than the +12 dB
    fader top, a muted track, a track without items, and a child folder."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(SECONDS * SR)) / SR
    rng = np.random.default_rng(7)
    beat = np.exp(-(t % 0.5) * 30.0)
    sounds = {
        "kick.wav": 0.8 * np.sin(2 * np.pi * 55 * t) * beat,
        "hat.wav": 0.03 * rng.standard_normal(t.size) * np.exp(-(t % 0.25) * 60.0),
        "pad.wav": 0.2 * sum(np.sin(2 * np.pi * f * t) for f in (220, 277, 330)),
        "lead.wav": 0.3 * np.sign(np.sin(2 * np.pi * 440 * t)) * (t % 1.0 < 0.7),
    }
    for name, mono in sounds.items():
        write_audio(folder / name, np.stack([mono, mono], axis=1), SR)

    def item(name: str) -> list[ItemSpec]:
        return [ItemSpec(name, position=0.0, length=SECONDS)]

    tree = [
        TrackSpec("Drums", children=[
            TrackSpec("Kick", items=item("kick.wav")),
            TrackSpec("Hi-Hat <open> & \"closed\"", items=item("hat.wav")),
            TrackSpec("Muted Perc", items=item("kick.wav"), mute=True),
            TrackSpec("Empty", volume=0.5),
        ]),
        TrackSpec("Keys", children=[
            TrackSpec("Pad", items=item("pad.wav"), volume=0.7),
            TrackSpec("Lead Synth", items=item("lead.wav")),
        ]),
    ]
    return write_project(folder / "song.RPP", tree, sample_rate=SR)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_session(tmp_path_factory.mktemp("session"))


def loudness(path: Path) -> float:
    audio, rate = sf.read(str(path), always_2d=True)
    return LoudnessMeter(rate).integrated(audio)


# ------------------------------------------------------------------------------ terminal
def synthetic_report() -> BalanceReport:
    long_name = "Backing Vocal Tenor (stand-in for the real singer, take 14 comp)"
    tracks = [
        TrackBalance("Kick", "{1}", True, -32.74, -9.41, 2.13, -9.41, band_hz=(249.3, 2934.0)),
        TrackBalance(long_name, "{2}", True, -54.03, 12.0, 1.33, 12.0, band_hz=(7312.0, 11298.0)),
        TrackBalance("Ride", "{3}", False, None, None, -3.0, -3.0, "muted"),
        TrackBalance("Pad", "{4}", True, -37.2, 4.5, float("-inf"), 4.5,
                     "band collapsed (hi <= 1.05 lo): full-band loudness"),
        TrackBalance("Silence", "{5}", False, None, None, 0.0, 0.0,
                     "-61.2 LUFS is not above -50 LUFS"),
    ]
    group = GroupBalance("Drums and a folder with a very long name indeed", "{0}", -30.7, -11.3,
                         tracks)
    return BalanceReport("centroid", [group], ["track 'Kick': plug-in 'X' is skipped"])


def rendered_lines(report: BalanceReport, width: int) -> list[str]:
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(report_view(report).renderables[0])  # the table alone
    return console.export_text().splitlines()


def test_terminal_table_cells_never_wrap_at_80_columns() -> None:
    report = synthetic_report()
    lines = rendered_lines(report, 80)
    short = BalanceReport("centroid", [GroupBalance("G", "{0}", -1.0, 0.0, [
        TrackBalance(f"T{i}", "{x}", True, -1.0, 0.0, 0.0, 0.0) for i in range(5)])])
    assert len(lines) == len(rendered_lines(short, 200)), "a cell wrapped onto a second line"
    assert max(map(len, lines)) <= 80
    text = "\n".join(lines)
    for number in ("-32.7", "+2.1→-9.4", "-11.5", "-54.0", "+1.3→+12.0", "+10.7", "-inf→+4.5",
                   "249–2.9k", "7.3k–11.3k", "-42.0"):
        assert number in text, f"{number} is cut or missing"
    kick = next(line for line in lines if "Kick" in line)
    assert "+2.1→-9.4" in kick and "-11.5" in kick, "a row's numbers stay on its line"
    (long_row,) = [line for line in lines if "Backing Vocal Tenor" in line]
    assert "…" in long_row and "+1.3→+12.0" in long_row, "the name is shortened, not the numbers"
    assert len(long_row.split("…")[0].strip()) < NAME_WIDTH


def test_terminal_notes_give_reasons_and_the_fader_top_advice() -> None:
    console = Console(width=80, file=io.StringIO(), record=True, color_system=None)
    console.print(report_view(synthetic_report()))
    text = console.export_text()
    notes = re.findall(r"^\[(\d+)\]", text, re.MULTILINE)
    assert notes == [str(i) for i in range(1, len(notes) + 1)] and len(notes) == 4
    text = " ".join(text.split())  # the notes are prose: they may wrap
    assert "Ride: left alone: muted" in text
    assert "Silence: left alone: -61.2 LUFS is not above -50 LUFS" in text
    assert "Pad: band collapsed (hi <= 1.05 lo): full-band loudness" in text
    assert "raise the folder fader 11.3 dB" in text


# ------------------------------------------------------------------------------ page
def test_page_escapes_text_nests_sections_and_embeds_the_data(tmp_path: Path) -> None:
    section = Section("Auto balance group")
    section.add_text("<b>not bold</b>", "warning")
    section.add_table(["track", "gain"], [["Kick & <Snare>", "+1.0 dB"]], numeric=[False, True])
    child = section.subsection("Drums")
    child.add_figure(b"\x89PNG fake", "caption", alt="a picture")
    section.subsection("Drums")  # same title: a distinct anchor
    with pytest.raises(ValueError, match="every row needs 2 cells"):
        section.add_table(["a", "b"], [["only one"]])
    data = {"groups": [{"name": "</script><script>alert(1)</script>"}]}
    page = Report("Report <1>", [section], project="song.RPP", data=data).write(
        tmp_path / "sub" / "r.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page and "<b>not bold</b>" not in page
    assert "Kick &amp; &lt;Snare&gt;" in page and '<td class=num>+1.0 dB</td>' in page
    assert '<h2 id="auto-balance-group">' in page and '<h3 id="drums">' in page
    assert '<h3 id="drums-2">' in page
    assert page.count("<script") == 2, "the data cannot open a script element"
    assert embedded_data(page) == data
    assert [type(p) for p in section.parts] == [Text, Table, Section, Section]
    assert isinstance(child.parts[0], Image)


def test_page_links_previews_relative_to_itself(tmp_path: Path) -> None:
    mixes = {"before": 0.1 * np.ones((SR, 2), np.float32), "after": 0.2 * np.ones((SR, 2))}
    previews = write_matched(tmp_path / "A B previews", mixes, SR)
    page = Report("r", [Section("s")], previews=previews).html(base=tmp_path)
    assert 'src="A%20B%20previews/before.wav"' in page
    assert 'src="A%20B%20previews/after.wav"' in page
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert urls and all(u.startswith(("data:", "#", "A%20B")) for u in urls), urls


# ------------------------------------------------------------------------------ previews
def test_previews_share_one_loudness_and_never_clip(tmp_path: Path) -> None:
    t = np.arange(2 * SR) / SR
    rng = np.random.default_rng(3)
    quiet = 0.05 * np.stack([np.sin(2 * np.pi * 440 * t)] * 2, axis=1)
    spiky = 0.01 * rng.standard_normal((t.size, 2))
    spiky[SR] = 0.99  # the quietest, but it peaks near full scale
    loud = np.clip(0.9 * rng.standard_normal((t.size, 2)), -1.5, 1.5)  # over full scale
    mixes = {"before": quiet, "after": spiky, "reference": loud,
             "silent": np.zeros((t.size, 2))}
    previews = write_matched(tmp_path, mixes, SR)
    levels = {p.name: loudness(p.path) for p in previews.items if p.name != "silent"}
    assert max(levels.values()) - min(levels.values()) < 0.05
    assert previews.target_lufs < min(p.loudness_lufs for p in previews.items if p.loudness_lufs)
    for item in previews.items:
        audio, _ = sf.read(str(item.path), always_2d=True)
        assert sf.info(str(item.path)).subtype == "PCM_24" and audio.shape == (t.size, 2)
        assert amplitude_to_db(sample_peak(audio)) <= PEAK_CEILING_DBFS + 0.01
    spiky_item = next(p for p in previews.items if p.name == "after")
    assert spiky_item.peak_dbfs == pytest.approx(PEAK_CEILING_DBFS, abs=0.01), "the cap applied"
    assert "silent mix is silent" in " ".join(previews.warnings)
    assert next(p for p in previews.items if p.name == "silent").gain_db == 0.0


def test_previews_of_projects_and_a_reference(session: Path, tmp_path: Path) -> None:
    before = open_project(session)
    after = open_project(session)
    after.track("Lead Synth").volume_db = -20.0
    reference = tmp_path / "ref.wav"
    t = np.arange(4 * 48000) / 48000
    write_audio(reference, 0.3 * np.sin(2 * np.pi * 1000 * t), 48000)  # mono, another rate
    previews = write_previews(tmp_path / "p", before, after, reference=reference)
    assert [p.name for p in previews.items] == ["before", "after", "reference"]
    for item in previews.items:
        info = sf.info(str(item.path))
        assert (info.samplerate, info.channels) == (SR, 2)
        assert loudness(item.path) == pytest.approx(previews.target_lufs, abs=0.05)
    assert previews.items[0].loudness_lufs != pytest.approx(previews.items[1].loudness_lufs,
                                                            abs=0.5), "the mixes differ"


# ------------------------------------------------------------------------- balance section
def test_balance_section_per_folder(session: Path) -> None:
    project = open_project(session)
    spectra = SpectrumRecorder(project.sample_rate)
    report = plan_balance(project, method="centroid", spectra=spectra)
    data = report.to_json()
    kick = project.track("Kick").guid
    assert set(spectra.spectra) == {project.track(n).guid for n in (
        "Kick", "Hi-Hat <open> & \"closed\"", "Empty", "Pad", "Lead Synth")}
    assert spectra.spectra[kick].frequencies_hz[np.argmax(spectra.spectra[kick].level_db)] \
        == pytest.approx(55, rel=0.1)
    section = balance_section(data, spectra.spectra)
    folders = [p for p in section.parts if isinstance(p, Section)]
    assert [f.title for f in folders] == ["Drums", "Keys"]
    drums = folders[0]
    assert isinstance(drums.parts[0], Image) and drums.parts[0].png.startswith(b"\x89PNG")
    notes = [p.text for p in drums.parts if isinstance(p, Text)]
    assert "Muted Perc was left alone: muted." in notes
    assert any(n.startswith("Empty was left alone: no media items") for n in notes)
    drums_data = data["groups"][0]
    assert drums_data["level_shift_db"] < 0, "the session makes the hi-hat hit the fader top"
    assert level_shift_advice(drums_data) in notes
    assert "Hi-Hat <open> & \"closed\" now at the top" in level_shift_advice(drums_data)
    assert f"raise the Drums folder fader by {-drums_data['level_shift_db']:.1f} dB" in \
        level_shift_advice(drums_data)
    (table,) = [p for p in drums.parts if isinstance(p, Table)]
    kick_row = next(r for r in table.rows if r[0] == "Kick")
    kick_data = next(t for t in drums_data["tracks"] if t["name"] == "Kick")
    assert kick_row[4] == f"{kick_data['loudness_db'] + kick_data['volume_after_db']:+.1f} LUFS"
    assert level_shift_advice(data["groups"][1]) == ""


def test_balance_section_shows_roles_when_the_report_has_them() -> None:
    data = synthetic_report().to_json()
    data["groups"][0]["tracks"][0].update(role="kick", role_source="name")
    section = balance_section(data)
    (table,) = [p for p in section.parts[-1].parts if isinstance(p, Table)]
    assert table.columns[1] == "role" and table.rows[0][1] == "kick (name)"


def test_spectrum_of_a_sine_and_of_silence() -> None:
    t = np.arange(SR) / SR
    spectrum = long_term_spectrum(np.sin(2 * np.pi * 1000 * t), SR)
    assert spectrum.frequencies_hz[np.argmax(spectrum.level_db)] == pytest.approx(1000, rel=0.06)
    assert long_term_spectrum(np.zeros((100, 2)), SR).level_db.max() == -150.0


# -------------------------------------------------------------------------------- CLI
def test_cli_writes_report_and_previews_and_json_names_them(session: Path, tmp_path: Path,
                                                            capsys) -> None:
    original = session.read_bytes()
    page, folder = tmp_path / "report.html", tmp_path / "ab"
    assert main(["balance", str(session), "--dry-run", "--json", "--report", str(page),
                 "--preview", str(folder)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["files"]["report"] == str(page)
    assert [f["name"] for f in out["files"]["previews"]["files"]] == ["before", "after"]
    assert sorted(p.name for p in folder.iterdir()) == ["after.wav", "before.wav"]
    embedded = embedded_data(page.read_text(encoding="utf-8"))
    assert embedded == {k: v for k, v in out.items() if k != "files"}
    assert session.read_bytes() == original, "a dry run writes no project"


def test_cli_without_report_options_imports_no_plotting(session: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; from reaper_automix.cli import main; "
            f"main(['balance', {str(session)!r}, '--dry-run', '--json']); "
            "print('matplotlib' in sys.modules, file=sys.stderr)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert run.stderr.strip().splitlines()[-1] == "False"


# ------------------------------------------------------------------------ worker and REAPER
def test_worker_job_writes_the_report_into_its_folder(session: Path, tmp_path: Path) -> None:
    settings = ReportSettings(write=True, previews=True)
    request = {"job": "balance", "project": str(session), "groups": ["Keys"],
               "job_dir": str(tmp_path), **settings.job_params("balance", str(session))}
    result = run_job(request)
    name = report_name("balance", str(session))
    assert name == "song.automix-balance"
    assert result["files"]["report"] == str(tmp_path / "report" / f"{name}.html")
    assert Path(result["files"]["previews"]["directory"]) == tmp_path / "report" / f"{name}-preview"
    page = Path(result["files"]["report"]).read_text(encoding="utf-8")
    assert f"<dd>{session}</dd>" in page and embedded_data(page) == result["report"]
    assert "files" not in run_job({**request, "report": None})


class FakeApi:
    def __init__(self, opens: bool) -> None:
        self.opens, self.opened = opens, []

    def open_file(self, path: str) -> bool:
        self.opened.append(path)
        return self.opens


def test_deliver_moves_the_report_next_to_the_project_replacing_the_last(tmp_path: Path) -> None:
    job = tmp_path / "job" / "report"
    (job / "s.automix-balance-preview").mkdir(parents=True)
    (job / "s.automix-balance-preview" / "before.wav").write_bytes(b"new")
    (job / "s.automix-balance.html").write_text("new page")
    project = tmp_path / "song" / "s.RPP"
    (project.parent / "s.automix-balance-preview").mkdir(parents=True)
    (project.parent / "s.automix-balance-preview" / "old.wav").write_bytes(b"old")
    result = {"files": {"report": str(job / "s.automix-balance.html"),
                        "previews": {"directory": str(job / "s.automix-balance-preview")}}}
    api = FakeApi(opens=False)
    lines = deliver(api, result, ReportSettings(True, True, True), str(project))
    page = project.parent / "s.automix-balance.html"
    assert page.read_text() == "new page" and api.opened == [str(page)]
    assert [p.name for p in (project.parent / "s.automix-balance-preview").iterdir()] == [
        "before.wav"]
    assert lines == [f"Report written to {page}",
                     f"The report could not be opened: open {page} in a browser."]
    assert deliver(api, {"report": {}}, ReportSettings(True), str(project)) == []


def test_open_file_uses_sws_or_falls_back_to_the_webbrowser_module(monkeypatch,
                                                                    tmp_path: Path) -> None:
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    without_sws = types.SimpleNamespace(reascript_api=types.SimpleNamespace())
    assert ReaperApi(without_sws).open_file(str(tmp_path / "r.html"))
    assert opened == [(tmp_path / "r.html").as_uri()]
    calls = []
    with_sws = types.SimpleNamespace(reascript_api=types.SimpleNamespace(
        CF_ShellExecute=lambda path: calls.append(path) or True))
    assert ReaperApi(with_sws).open_file("/x/r.html") and calls == ["/x/r.html"]
    failing = types.SimpleNamespace(reascript_api=types.SimpleNamespace(
        CF_ShellExecute=lambda path: False))
    assert ReaperApi(failing).open_file("/x/r.html") and len(opened) == 2


def test_report_settings_off_ask_the_worker_for_nothing() -> None:
    assert ReportSettings().job_params("balance", "/p/s.RPP") == {}
    params = ReportSettings(write=True).job_params("vocal", "")
    assert params["report"] == {"html": "report/untitled.automix-vocal.html", "preview": None,
                                "project": ""}


# ---------------------------------------------------------------------- plot helpers
def test_plot_helpers_for_the_other_sections_draw_what_the_iem_layer_computes() -> None:
    from reaper_automix.iem import multieq, omnicompressor
    from reaper_automix.report import plots

    t = np.arange(2 * SR) / SR
    audio = (0.5 * np.sin(2 * np.pi * 220 * t) * (t > 0.5))[:, None].repeat(2, axis=1)
    eq = {"filterType2": 1, "filterFrequency2": 1000, "filterGain2": -9.0, "filterQ2": 2.0}
    comp = {"threshold": -24.0, "ratio": 4.0, "knee": 6.0, "attack": 5.0, "release": 50.0}
    figures = {
        "spectra": plots.spectra_figure({"mix": long_term_spectrum(audio, SR)}, "spectra"),
        "bands": plots.band_levels_figure([100, 400, 1600], {"mix": [-20, -25, -30]}, "Bark"),
        "bars": plots.paired_bars_figure(["RMS", "width"], {"before": [1.0, None],
                                                            "after": [0.5, 0.2]}, "distances"),
        "eq": plots.multieq_figure({"Vocal": eq}, SR),
        "compressor": plots.compressor_figure(comp, audio, SR, "Vocal"),
        "curve only": plots.compressor_figure(comp),
        "reverb": plots.reverb_figure({"revTime": 2.0, "highGain": -20.0}, SR),
    }
    section = Section("helpers")
    for name, figure in figures.items():
        section.add_figure(figure, name)
    assert all(p.png.startswith(b"\x89PNG") for p in section.parts)
    eq_line = figures["eq"].axes[0].lines[0]
    x, y = eq_line.get_data()
    np.testing.assert_allclose(y, multieq.frequency_response(eq, x, SR))
    assert y.min() == pytest.approx(-9.0, abs=0.1)
    curve_axes, reduction_axes = figures["compressor"].axes[:2]
    levels, out = curve_axes.lines[1].get_data()
    np.testing.assert_allclose(out, omnicompressor.static_curve(comp, levels))
    _, deepest = reduction_axes.lines[0].get_data()
    expected = omnicompressor.gain_reduction(comp, audio, SR).min()
    assert deepest.min() == pytest.approx(expected, abs=1e-6) and expected < -3.0
    assert len(figures["curve only"].axes) == 1
    _, t60 = figures["reverb"].axes[0].lines[0].get_data()
    # far from the shelves' corners: 60 / (60/RT − gain per second), +1 dB/s lows (default)
    assert t60[0] == pytest.approx(60 / (30 - 1), rel=0.01)
    assert t60[-1] == pytest.approx(60 / (30 + 20), rel=0.01)


def test_balance_section_uses_the_job_s_own_words_when_it_gives_them() -> None:
    data = synthetic_report().to_json()
    group = data["groups"][0]
    group["summary"] = ["level kept: children -20.0 LUFS before, -20.0 LUFS after"]
    group["tracks"][0]["note"] = "fader at its +12 dB top"
    texts = [p.text for p in balance_section(data).parts[-1].parts if isinstance(p, Text)]
    assert "level kept: children -20.0 LUFS before, -20.0 LUFS after" in texts
    assert "Kick: fader at its +12 dB top." in texts
    assert level_shift_advice(group) not in texts, "no second, contradicting advice"


def test_a_report_that_cannot_be_written_does_not_cost_the_result(session: Path,
                                                                   tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the report folder should be")
    request = {"job": "balance", "project": str(session), "groups": ["Keys"],
               "job_dir": str(blocked), **ReportSettings(write=True).job_params("balance", "")}
    result = run_job(request)
    assert result["faders"], "the balance itself is returned"
    assert result["files"]["report"] is None and "Error" in result["files"]["error"]
    (line,) = deliver(FakeApi(opens=True), result, ReportSettings(True, True), str(session))
    assert line.startswith("The report could not be written (")


@pytest.mark.parametrize("post_fader", [False, True])
def test_previews_play_reaper_s_renders_with_the_new_faders(tmp_path: Path,
                                                            post_fader: bool) -> None:
    """Tracks only REAPER plays come from its renders (pre-fader, or REAPER 6's post-fader ones
    made at the old fader): the after preview applies the new fader to them."""
    from .reaper_sim import add_midi

    t = np.arange(2 * SR) / SR
    guitar = np.stack([0.2 * np.sin(2 * np.pi * 330 * t)] * 2, axis=1).astype(np.float32)
    synth = np.stack([0.3 * np.sin(2 * np.pi * 440 * t)] * 2, axis=1).astype(np.float32)
    write_audio(tmp_path / "guitar.wav", guitar, SR)
    path = write_project(tmp_path / "p.RPP", [
        TrackSpec("Guitar", items=[ItemSpec("guitar.wav", 0.0, 2.0)]),
        TrackSpec("Synth", volume=0.5)], sample_rate=SR)
    add_midi(path, "Synth", [(0.0, 2.0)])
    before, after = open_project(path), open_project(path)
    after.track("Synth").volume = 0.25
    unrendered = write_previews(tmp_path / "headless", before, after)
    assert any("'Synth' (MIDI items" in w and "headless renderer" in w
               for w in unrendered.warnings)
    render_file = write_audio(tmp_path / "synth.wav", synth * (0.5 if post_fader else 1.0), SR)
    render = {"rendered": {before.track("Synth").guid: str(render_file)},
              "rendered_post_fader": post_fader}
    previews = write_previews(tmp_path / "ab", before, after, render=render)
    assert previews.warnings == ()
    for item, synth_gain in zip(previews.items, (0.5, 0.25)):
        audio, _ = sf.read(str(item.path), dtype="float32", always_2d=True)
        unmatched = audio / 10 ** (item.gain_db / 20)
        np.testing.assert_allclose(unmatched, guitar + synth_gain * synth, atol=2e-4)


def test_previews_say_when_a_render_holds_the_old_faders(session: Path, tmp_path: Path) -> None:
    before, after = open_project(session), open_project(session)
    after.track("Pad").volume_db = -9.0
    render = write_audio(tmp_path / "keys.wav", np.zeros((int(SECONDS * SR), 2)), SR)
    previews = write_previews(tmp_path / "ab", before, after,
                              render={"rendered": {before.track("Keys").guid: str(render)}})
    assert previews.warnings == ("track 'Keys' plays in the previews from REAPER's render, made "
                                 "with its children's faders as they were: the after preview "
                                 "does not hear their new faders",)
