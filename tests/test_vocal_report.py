"""The Mix lead vocal section of the decision report: CLI --report/--preview, the worker's
report, what the section shows, where the chain sits among the DiffVox presets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from reaper_automix.analysis.loudness import LoudnessMeter
from reaper_automix.decisions.vocal_chain import VocalChain, eq_response_db
from reaper_automix.decisions.vocal_prior import LEVEL_P90_LU, chain_in_prior, load_prior
from reaper_automix.hosts.rpp import open_project
from reaper_automix.iem import FDNREVERB, MULTIEQ, OMNICOMPRESSOR
from reaper_automix.jobs import vocal as vocal_job
from reaper_automix.reaper.vocal import VocalSettings, parse_settings
from reaper_automix.report.document import Image, Section, Table, Text, embedded_data
from reaper_automix.report.vocal import vocal_section

from .test_vocal_job import SR, _write_session

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[Path, dict]:
    """One CLI run with --report and --preview (default method), its --json output."""
    folder = tmp_path_factory.mktemp("vocal-report")
    project = _write_session(folder)
    out = folder / "out.json"
    with out.open("w") as stream:
        subprocess.run([sys.executable, "-m", "reaper_automix", "vocal", str(project),
                        "--dry-run", "--json", "--report", str(folder / "page.html"),
                        "--preview", str(folder / "ab")], check=True, stdout=stream,
                       cwd=REPO)
    return project, json.loads(out.read_text())


def _texts(section: Section) -> list[str]:
    out = []
    for part in section.parts:
        if isinstance(part, Text):
            out.append(part.text)
        elif isinstance(part, Section):
            out.extend(_texts(part))
    return out


def _count(section: Section, kind: type) -> int:
    return sum(_count(p, kind) if isinstance(p, Section) else isinstance(p, kind)
               for p in section.parts)


def _titles(section: Section) -> list[str]:
    return [p.title for p in section.parts if isinstance(p, Section)]


def test_cli_writes_the_page_and_loudness_matched_previews(published):
    project, data = published
    files = data.pop("files")
    page = Path(files["report"]).read_text(encoding="utf-8")
    assert embedded_data(page) == data  # the page carries the --json report unchanged
    assert page.count("data:image/png;base64,") == 5  # level, spectra, EQ, compressor, reverb
    assert "Against the DiffVox presets" in page and "Every parameter written" in page
    meter = LoudnessMeter(SR)
    levels = []
    for name in ("before", "after"):
        audio, rate = sf.read(Path(files["report"]).parent / "ab" / f"{name}.wav",
                              dtype="float32")
        assert rate == SR and audio.shape[1] == 2
        levels.append(meter.integrated(audio))
    assert levels[0] == pytest.approx(levels[1], abs=0.05)
    assert 'src="ab/before.wav"' in page
    assert open_project(project).track("Lead Vox").fx == []  # --dry-run wrote nothing


def test_section_from_the_json_alone(published):
    _, data = published
    data = {k: v for k, v in data.items() if k != "files"}
    section = vocal_section(data)
    assert _titles(section) == ["EQ (MultiEQ)", "Compression (OmniCompressor)",
                                "Reverb (FdnReverb)", "Every parameter written"]
    assert _count(section, Image) == 4  # level, EQ, compressor curve, reverb: no spectra
    written = next(p for p in section.parts if isinstance(p, Section)
                   and p.title == "Every parameter written")
    rows = [t for t in written.parts if isinstance(t, Table)]
    assert [len(t.rows) for t in rows] == [6, 10, 11]  # MultiEQ bands, every other parameter
    assert [r[0] for r in rows[1].rows] == [p.name for p in OMNICOMPRESSOR.params]
    assert any(data["vocal"] in text and "prior" in text for text in _texts(section))
    # the default lands inside MUSDB18's range: no advice about the level
    assert not any("released mixes do" in text for text in _texts(section))


def test_a_level_outside_what_mixes_do_is_pointed_out(published):
    _, data = published
    data = {k: v for k, v in data.items() if k != "files"}
    data.update(method="rules", level_after_lu=-1.77, level_target_lu=-1.77)
    texts = _texts(vocal_section(data))
    assert any("above what 80 % of released mixes do" in text for text in texts)
    data.update(level_after_lu=LEVEL_P90_LU - 0.1)
    assert not any("released mixes do" in text for text in _texts(vocal_section(data)))


def test_plot_data_and_the_diffvox_table(published):
    project, _ = published
    plots = vocal_job.VocalPlots()
    report = vocal_job.plan_vocal(open_project(project), method="prior", plots=plots)
    assert set(plots.spectra) == {"vocal before", "vocal after", "backing"}
    assert plots.compressor_input is not None and plots.compressor_input.shape[1] == 2
    section = vocal_section(report.to_json(), plots)
    assert _count(section, Image) == 5
    diffvox = next(p for p in section.parts if isinstance(p, Section)
                   and p.title == "Against the DiffVox presets")
    table = next(p for p in diffvox.parts if isinstance(p, Table))
    assert len(table.rows) == 15
    assert plots.diffvox["inside_share"] == pytest.approx(
        sum(r[-1] == "yes" for r in table.rows) / 15)


def test_chain_in_prior_scores_a_wild_chain_below_the_fitted_one(published):
    project, _ = published
    report = vocal_job.plan_vocal(open_project(project), method="prior")
    decision = report.decision["chain"]["plugins"]
    values = {name: {p["id"]: p["value"] for p in params} for name, params in decision.items()}
    chain = VocalChain(values[MULTIEQ.name], values[OMNICOMPRESSOR.name],
                       values[FDNREVERB.name], "insert", None)
    audio, _ = sf.read(project.parent / "media" / "vocal.wav", dtype="float32")
    vocal = np.repeat(audio[:, None], 2, axis=1) * np.float32(0.5)
    fitted = chain_in_prior(chain, vocal, SR)
    eq_1k = next(r for r in fitted["descriptors"] if r["name"] == "eq_1000hz_db")
    assert eq_1k["value"] == pytest.approx(
        float(eq_response_db(chain.multieq, np.array([1000.0]), SR)[0]), abs=1e-6)
    assert fitted["presets"] == load_prior().count == 455
    wild_eq = dict(chain.multieq, **{f"filterGain{b}": 15.0 for b in range(1, 5)},
                   **{f"filterType{b}": 1.0 for b in range(1, 5)})
    wild = chain_in_prior(VocalChain(wild_eq, dict(chain.omnicompressor, ratio=16.0),
                                     chain.fdnreverb, "insert", None), vocal, SR)
    assert fitted["inside_share"] > wild["inside_share"]
    assert fitted["log_likelihood"] > wild["log_likelihood"] + 10.0
    assert fitted["log_likelihood"] > fitted["preset_log_likelihood"] - 15.0


def test_worker_job_writes_the_report_it_is_asked_for(published, tmp_path):
    project, _ = published
    result = vocal_job.run({"project": str(project), "method": "rules", "job_dir": str(tmp_path),
                            "report": {"html": "report/page.html", "preview": None,
                                       "project": str(project)}},
                           lambda fraction, message: None, lambda: False)
    page = Path(result["files"]["report"])
    assert page == tmp_path / "report" / "page.html" and page.is_file()
    assert embedded_data(page.read_text(encoding="utf-8"))["method"] == "rules"
    assert result["files"]["previews"] is None
    assert "files" not in vocal_job.run({"project": str(project), "method": "rules"},
                                        lambda fraction, message: None, lambda: False)


def test_without_a_report_matplotlib_is_not_imported(published):
    project, _ = published
    code = ("import sys; from reaper_automix.cli import main; "
            f"main(['vocal', {str(project)!r}, '--method', 'rules', '--dry-run', '--json']); "
            "sys.exit(int('matplotlib' in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO,
                          capture_output=True).returncode == 0


def test_settings_dialog_answers():
    settings = parse_settings([" Rules ", "50 %", "yes", "no", "YES"])
    assert (settings.method, settings.amount) == ("rules", 50.0)
    assert (settings.report.write, settings.report.open_in_browser,
            settings.report.previews) == (True, False, True)
    assert settings.answers() == ["rules", "50", "yes", "no", "yes"]
    assert VocalSettings().answers() == ["prior", "100", "no", "no", "no"]
    for bad, message in ((["loud", "50", "no", "no", "no"], "method"),
                         (["prior", "120", "no", "no", "no"], "amount"),
                         (["prior", "50", "no", "perhaps", "no"], "open report")):
        with pytest.raises(ValueError, match=message):
            parse_settings(bad)
