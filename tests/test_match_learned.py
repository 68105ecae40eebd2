"""Match reference from MatchNet's start: --start model|neutral, --budget 0, the report, and the
shipped weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reaper_automix.console import WrittenStem
from reaper_automix.console import params as P
from reaper_automix.decisions.match import DEFAULT_START, MatchError, MatchOptions, match_reference
from reaper_automix.models import match_net as M

from .test_match_decision import mix_of, synthetic_stems

RATE = 44100


@pytest.fixture(scope="module")
def stems() -> list[np.ndarray]:
    return synthetic_stems(seconds=7.0)


@pytest.fixture
def tiny_model(monkeypatch: pytest.MonkeyPatch) -> M.MatchNet:
    """A small untrained network standing in for the shipped one (what is tested here is the
    plumbing, not the weights)."""
    torch.manual_seed(0)
    model = M.MatchNet(M.MatchNetConfig(channels=(4, 8, 8, 16), d_model=32, heads=2, layers=1,
                                        feedforward=64)).eval()
    with torch.no_grad():
        model.head.weight.normal_(0.0, 0.3)
    monkeypatch.setattr(M, "_shipped", lambda path: model)
    return model


def _run(stems, options: MatchOptions):
    reference = mix_of(stems, [0.0, -3.0, 2.0, -6.0], [0.0, -0.2, 0.3, 0.0])
    current = [WrittenStem(0.0, 0.0) for _ in stems]
    return match_reference(stems, reference, RATE, current=current, options=options), reference


def test_budget_zero_writes_the_networks_answer(stems, tiny_model) -> None:
    decision, reference = _run(stems, MatchOptions(start="model", budget_s=0.0))
    assert decision.start == "model"
    assert decision.steps == {"spectral": 0, "dynamics": 0}
    gains = [s.input_gain_db for s in decision.stems]
    predicted = M.predict(stems, gains, reference, RATE, tiny_model)
    after = torch.tensor([s.console for s in decision.stems], dtype=torch.float64)
    # the same settings up to the plug-ins' grids and one common level shift
    shift = decision.level_shift_db
    assert torch.allclose(after[:, P.GAIN], predicted[:, P.GAIN] + shift, atol=0.11)
    assert torch.allclose(after[:, P.PAN], predicted[:, P.PAN], atol=0.01)
    for band in P.EQ_GAINS:
        assert torch.allclose(after[:, band], predicted[:, band], atol=0.06)


def test_neutral_start_and_budget_zero_is_equal_loudness(stems) -> None:
    decision, _ = _run(stems, MatchOptions(start="neutral", budget_s=0.0))
    assert decision.start == "neutral"
    baseline, _ = _run(stems, MatchOptions(start="neutral", fit="start"))
    assert [s.after for s in decision.stems] == [s.after for s in baseline.stems]


def test_model_start_then_fit_reports_the_start(stems, tiny_model) -> None:
    decision, _ = _run(stems, MatchOptions(start="model", budget_s=3.0, fit="faders"))
    assert decision.start == "model" and decision.steps["spectral"] > 0
    assert "model" in decision.seconds
    after = torch.tensor([s.console for s in decision.stems], dtype=torch.float64)
    assert float(after[:, P.EQ_GAINS].abs().max()) == 0.0  # faders only: the EQ stays flat
    assert float(after[:, P.RATIO].max()) == 1.0


def test_bad_start_and_budget_are_refused() -> None:
    with pytest.raises(MatchError, match="start must be one of"):
        MatchOptions(start="learned")
    with pytest.raises(MatchError, match="0 s or more"):
        MatchOptions(budget_s=-1.0)


def test_missing_weights_say_what_to_do(stems, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(M, "WEIGHTS_FILE", tmp_path / "absent.pt")
    M._shipped.cache_clear()
    with pytest.raises(M.ModelUnavailableError, match="--start neutral"):
        _run(stems, MatchOptions(start="model", budget_s=0.0))


def test_cli_start_option_and_report(demo_session, tiny_model) -> None:
    """In process, so the tiny model stands in for the shipped one."""
    import contextlib
    import io
    import json

    from reaper_automix import cli

    common = ["match", str(demo_session.project), "--reference", str(demo_session.reference),
              "--budget", "0", "--json", "--dry-run"]
    assert cli.build_parser().parse_args(common).start == DEFAULT_START
    args = cli.build_parser().parse_args(common + ["--start", "model"])
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert args.run(args) == 0
    report = json.loads(buffer.getvalue())
    assert report["start"] == "model" and report["steps"] == {"spectral": 0, "dynamics": 0}
    assert set(report["distances"]) == {"before", "start", "after"}
    assert "crest_db" not in report["distances"]["start"]  # the start's figures are spectral
    assert report["distances"]["start"]["af_loss"] >= 0.0 and "model" in report["seconds"]
    args = cli.build_parser().parse_args(common + ["--start", "neutral"])
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert args.run(args) == 0
    assert json.loads(buffer.getvalue())["start"] == "neutral"
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(common + ["--start", "learned"])


def test_the_fit_starts_from_the_networks_prediction(stems, tiny_model, monkeypatch) -> None:
    """The spectral phase receives the network's prediction (within the fit's bounds, the
    compressors from off) as its start point, and the report gives that start's distances."""
    from reaper_automix.decisions import match as D

    seen = []
    original = D._spectral_phase

    def spy(problem, start, *args, **kwargs):
        seen.append(start.clone())
        return original(problem, start, *args, **kwargs)

    monkeypatch.setattr(D, "_spectral_phase", spy)
    decision, reference = _run(stems, MatchOptions(start="model", budget_s=30.0, steps=2))
    gains = [s.input_gain_db for s in decision.stems]
    predicted = M.predict(stems, gains, reference, RATE, tiny_model)
    assert len(seen) == 1 and decision.start == "model"
    for column in [P.GAIN, P.PAN] + P.EQ_GAINS + P.EQ_FREQS:
        assert torch.allclose(seen[0][:, column], predicted[:, column], atol=1e-6), column
    assert float(seen[0][:, P.RATIO].max()) == 1.0
    neutral, _ = _run(stems, MatchOptions(start="neutral", budget_s=30.0, steps=2))
    assert neutral.start == "neutral"
    assert decision.distances["start"] != neutral.distances["start"]


def test_shipped_weights_load_and_fit_the_budget() -> None:
    if not M.WEIGHTS_FILE.exists():
        pytest.fail(f"the trained MatchNet weights are missing at {M.WEIGHTS_FILE}")
    assert M.WEIGHTS_FILE.stat().st_size <= 50 * 2 ** 20
    assert M.WEIGHTS_FILE.stat().st_size <= 10 * 2 ** 20  # float16 (docs/match-model.md)
    model = M.load()
    assert model.parameter_count() <= 5_000_000
    card = M.card()
    assert card["steps"] > 0 and card["history"]["validation"]
    final = card["history"]["validation"][-1]
    neutral = card["history"]["neutral_validation"]
    assert final["mrstft"] < neutral["mrstft"]  # trained: better than the neutral console


def test_shipped_weights_predict_settings_inside_the_ranges(stems) -> None:
    if not M.WEIGHTS_FILE.exists():
        pytest.fail(f"the trained MatchNet weights are missing at {M.WEIGHTS_FILE}")
    M._shipped.cache_clear()
    reference = mix_of(stems, [0.0, -3.0, 2.0, -6.0], [0.0, -0.2, 0.3, 0.0])
    predicted = M.predict(stems, [0.0] * len(stems), reference, RATE)
    assert predicted.shape == (len(stems), P.N_PARAMS) and torch.isfinite(predicted).all()
    for parameter, column in zip(P.PARAMETERS, predicted.T):
        assert float(column.min()) >= parameter.low - 1e-9, parameter.name
        assert float(column.max()) <= parameter.high + 1e-9, parameter.name
    # the network listens: a different reference gives different settings
    other = mix_of(stems, [-9.0, 3.0, -4.0, 6.0], [0.5, 0.0, -0.5, 0.2])
    assert not torch.allclose(predicted, M.predict(stems, [0.0] * len(stems), other, RATE))


def test_reaper_action_passes_the_stored_start_to_the_worker() -> None:
    """The action's settings: no ext-state key leaves the worker's default (DEFAULT_START);
    match_start = neutral or model asks for that start, anything else is ignored."""
    from reaper_automix.jobs.match import options_from
    from reaper_automix.reaper.balance import SECTION
    from reaper_automix.reaper.match import MatchSettings

    class Api:
        def __init__(self, values: dict[str, str]) -> None:
            self.values = values

        def project_ext_state(self, proj: str, section: str, key: str) -> str:
            assert section == SECTION
            return self.values.get(key, "")

    default = MatchSettings.load(Api({}), "proj").params()
    assert "start" not in default and options_from(default).start == DEFAULT_START
    neutral = MatchSettings.load(Api({"match_start": "Neutral"}), "proj").params()
    assert neutral["start"] == "neutral" and options_from(neutral).start == "neutral"
    model = MatchSettings.load(Api({"match_start": "model"}), "proj").params()
    assert model["start"] == "model" and options_from(model).start == "model"
    assert "start" not in MatchSettings.load(Api({"match_start": "learned"}), "proj").params()


def test_learned_evaluation_conditions() -> None:
    from reaper_automix.evaluation.match import condition_options, learned_conditions

    conditions = learned_conditions((2.0, 5.0))
    assert conditions == ("start", "model", "neutral@2", "model@2", "neutral@5", "model@5")
    alone = condition_options("model", 12.0)
    assert (alone.start, alone.fit, alone.budget_s) == ("model", "start", 0.0)
    fit = condition_options("model@5", 12.0)
    assert (fit.start, fit.fit, fit.budget_s) == ("model", "full", 5.0)
    assert condition_options("neutral@2", 12.0).start == "neutral"
    assert condition_options("full", 12.0).start == "neutral"  # issue 14's protocol as it was
    assert condition_options("none", 12.0) is None


def test_learned_evaluation_runs_on_two_songs(tmp_path, tiny_model) -> None:
    from reaper_automix.evaluation.match import evaluate, format_report, summarise, EvalReport

    from .test_match_eval import _song

    songs = [_song(tmp_path / "a", "a", 0, [0.0, -4.0, -8.0]),
             _song(tmp_path / "b", "b", 1, [-6.0, 2.0, 0.0])]
    results = evaluate(songs, tmp_path, conditions=("start", "model", "model@1"))
    for result in results:
        assert [c.condition for c in result.same_song] == ["start", "model", "model@1"]
        assert all(c.seconds > 0 for c in result.same_song + result.cross_song)
    text = format_report(EvalReport(["test"], 12.0, results, summarise(results)))
    assert "model@1" in text
