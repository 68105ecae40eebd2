"""MatchNet: permutation equivariance, padding invariance, ranges, write-back (B.11 tests)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reaper_automix.console import params as P
from reaper_automix.iem.params import MULTIEQ, OMNICOMPRESSOR
from reaper_automix.models import match_net as M
from reaper_automix.session import FADER_MAX_DB, FADER_MIN_DB

SMALL = M.MatchNetConfig(channels=(4, 8, 8, 16), d_model=32, heads=2, layers=2,
                         feedforward=64)
SAMPLES = 16384  # short tokens: the network accepts any length


def _model(seed: int = 0) -> M.MatchNet:
    torch.manual_seed(seed)
    model = M.MatchNet(SMALL)
    with torch.no_grad():  # spread the head so outputs differ between stems
        model.head.weight.normal_(0.0, 0.5)
    return model.eval()


def _inputs(n_stems: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    levels = torch.logspace(-3, -1, n_stems)[:, None, None]
    stems = torch.randn(1, n_stems, 2, SAMPLES, generator=g) * levels
    reference = torch.randn(1, 2, SAMPLES, generator=g) * 0.1
    return stems, torch.ones(1, n_stems, dtype=torch.bool), reference


def test_default_size_within_budget() -> None:
    assert M.MatchNet().parameter_count() <= 5_000_000


def test_permutation_equivariance() -> None:
    model = _model()
    stems, mask, reference = _inputs(5)
    order = torch.tensor([3, 0, 4, 1, 2])
    with torch.no_grad():
        out = model(stems, mask, reference)[0]
        shuffled = model(stems[:, order], mask, reference)[0]
    assert torch.allclose(shuffled, out[order], atol=1e-5)
    assert float((out[0] - out[1]).abs().max()) > 1e-3  # stems do get different settings


def test_padding_invariance_and_batching() -> None:
    model = _model()
    stems, mask, reference = _inputs(3)
    with torch.no_grad():
        alone = model(stems, mask, reference)[0]
        garbage = torch.randn(1, 2, 2, SAMPLES)  # padded slots hold anything
        padded = model(torch.cat([stems, garbage], 1),
                       torch.tensor([[True, True, True, False, False]]), reference)[0]
        other, other_mask, other_reference = _inputs(5, seed=7)
        batch = model(torch.cat([torch.cat([stems, garbage], 1), other]),
                      torch.cat([torch.tensor([[True, True, True, False, False]]), other_mask]),
                      torch.cat([reference, other_reference]))
    assert torch.allclose(padded[:3], alone, atol=1e-5)
    assert torch.allclose(batch[0, :3], alone, atol=1e-5)


def test_stereo_stem_gives_one_setting_from_its_two_tokens() -> None:
    """Swapping a stem's L and R changes its tokens' roles (type embedding), not the pairing."""
    model = _model()
    stems, mask, reference = _inputs(2)
    with torch.no_grad():
        out = model(stems, mask, reference)[0]
    assert out.shape == (2, P.N_PARAMS)


@pytest.mark.parametrize("bias", [-30.0, 0.0, 30.0])
def test_outputs_in_unit_range_and_written_values_inside_plugin_ranges(bias: float) -> None:
    model = _model()
    with torch.no_grad():
        model.head.bias.fill_(bias)  # drive every output to 0, 0.5 or 1
    stems, mask, reference = _inputs(3)
    with torch.no_grad():
        out = model(stems, mask, reference)[0]
    assert bool(((out >= 0) & (out <= 1)).all())
    physical = P.to_physical(out.double())
    lows = torch.tensor([p.low for p in P.PARAMETERS], dtype=torch.float64)
    highs = torch.tensor([p.high for p in P.PARAMETERS], dtype=torch.float64)
    assert bool(((physical >= lows - 1e-9) & (physical <= highs + 1e-9)).all())
    for input_gain in (-30.0, 0.0, 25.0):
        for row in physical:
            written = P.to_written(row, input_gain)
            assert FADER_MIN_DB <= written.fader_db <= FADER_MAX_DB
            assert -1.0 <= written.pan <= 1.0
            for plugin, values in ((MULTIEQ, written.multieq),
                                   (OMNICOMPRESSOR, written.omnicompressor)):
                for name, value in values.items():
                    spec = plugin.param(name)
                    assert spec.start - 1e-9 <= value <= spec.end + 1e-9, (name, value)


def test_neutral_start_of_an_untrained_network() -> None:
    """The head's bias starts at the neutral console: 0 dB, flat EQ, ratio ~1:1, centred."""
    torch.manual_seed(0)
    model = M.MatchNet(SMALL).eval()
    stems, mask, reference = _inputs(2)
    with torch.no_grad():
        physical = P.to_physical(model(stems, mask, reference)[0].double())
    assert float(physical[:, P.GAIN].abs().max()) < 3.0
    assert float(physical[:, P.EQ_GAINS].abs().max()) < 1.5
    assert float(physical[:, P.RATIO].max()) < 1.2


def test_prediction_is_level_invariant_and_gains_are_written_back() -> None:
    """B.10.9: a stem 10 dB louder gets a 10 dB lower input gain, the same console settings,
    a fader 10 dB lower and a written threshold 10 dB higher."""
    rng = np.random.default_rng(3)
    n = M.WINDOW + 4410
    stems = [rng.standard_normal((n, 2)).astype(np.float32) * a for a in (0.05, 0.02, 0.1)]
    reference = rng.standard_normal((n, 2)).astype(np.float32) * 0.2
    from reaper_automix.analysis.loudness import LoudnessMeter

    meter = LoudnessMeter(M.SAMPLE_RATE)

    def gains(audio: list[np.ndarray]) -> list[float]:
        return [P.STEM_LUFS - meter.integrated(s) for s in audio]

    model = _model()
    first = M.predict(stems, gains(stems), reference, M.SAMPLE_RATE, model)
    louder = [stems[0] * np.float32(10 ** 0.5), stems[1], stems[2]]
    gains_louder = gains(louder)
    second = M.predict(louder, gains_louder, reference, M.SAMPLE_RATE, model)
    assert torch.allclose(first, second, atol=1e-4)
    with torch.no_grad():
        first[0, P.RATIO] = second[0, P.RATIO] = 4.0
    a = P.to_written(first[0], gains(stems)[0])
    b = P.to_written(second[0], gains_louder[0])
    assert b.fader_db + b.omnicompressor["outGain"] == pytest.approx(
        a.fader_db + a.omnicompressor["outGain"] - 10.0, abs=0.06)
    assert b.omnicompressor["threshold"] == pytest.approx(a.omnicompressor["threshold"] + 10.0,
                                                          abs=0.06)


def test_prepare_inputs_normalises_stems_and_reference() -> None:
    from reaper_automix.analysis.loudness import LoudnessMeter

    meter = LoudnessMeter(M.SAMPLE_RATE)
    rng = np.random.default_rng(4)
    n = M.WINDOW * 2
    quiet = rng.standard_normal((n, 2)).astype(np.float32) * 0.01
    loud_part = quiet.copy()
    loud_part[M.WINDOW // 2:M.WINDOW // 2 + M.WINDOW] *= 10  # the loudest window is here
    gain = P.STEM_LUFS - meter.integrated(loud_part)
    stems, reference = M.prepare_inputs([loud_part], [gain], loud_part * 3, M.SAMPLE_RATE)
    assert stems.shape == (1, 1, 2, M.WINDOW) and reference.shape == (1, 2, M.WINDOW)
    window_lufs = meter.integrated(stems[0, 0].numpy().T)
    expected = meter.integrated(loud_part[M.WINDOW // 2:M.WINDOW // 2 + M.WINDOW]) + gain \
        + M.INPUT_STEM_LUFS - P.STEM_LUFS
    assert window_lufs == pytest.approx(expected, abs=0.1)
    assert meter.integrated(reference[0].numpy().T) == pytest.approx(M.INPUT_REFERENCE_LUFS,
                                                                     abs=0.05)
    at_48k, _ = M.prepare_inputs([loud_part], [gain], loud_part, 48000)  # resampled windows
    assert at_48k.shape == (1, 1, 2, M.WINDOW)


def test_save_load_round_trip(tmp_path) -> None:
    model = _model()
    path = M.save(model, tmp_path / "net.pt", {"steps": 3})
    loaded = M.load(path)
    stored = torch.load(path, weights_only=True)["state_dict"]
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    assert all(p.dtype == torch.float32 for p in loaded.parameters())  # computes in float32
    stems, mask, reference = _inputs(2)
    with torch.no_grad():
        full, half = model(stems, mask, reference), loaded(stems, mask, reference)
    assert not torch.equal(full, half)  # the weights really were rounded ...
    assert float((full - half).abs().max()) < 1e-3  # ... and predict the same to 1e-3
    assert M.card(path)["steps"] == 3
    with pytest.raises(M.ModelUnavailableError, match="--start neutral"):
        M.load(tmp_path / "missing.pt")
