"""The speed work on Mix lead vocal (issue 16) keeps every result: the faster paths against the
straightforward ones they replace (bit for bit where the arithmetic is the same, to float32
rounding where the order of the sums changed)."""

from __future__ import annotations

import math
from concurrent.futures import Future

import numpy as np
import pytest
from scipy.fft import irfft, next_fast_len, rfft

from reaper_automix import iem
from reaper_automix.analysis import bands
from reaper_automix.decisions import vocal_chain, vocal_cnn, vocal_prior, vocal_rules
from reaper_automix.decisions.vocal import VocalContext, decide_vocal
from reaper_automix.decisions.vocal_chain import (
    apply_compressor,
    apply_eq,
    complete,
    convolve,
    measure,
    reverb_impulse_responses,
)
from reaper_automix.evaluation.synthetic import synthetic_song

from .test_vocal_rules import dynamic_vocal

SR = 44100


@pytest.fixture(scope="module")
def song():
    return synthetic_song(10.0, tempo=100.0, seed=7)


# ------------------------------------------------------------------------- analysis
def test_mono_downmix_is_the_mean_bit_for_bit():
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        x = (rng.standard_normal((10001, 2)) * rng.uniform(1e-30, 10, (10001, 1))).astype(dtype)
        expected = np.asarray(x, dtype=np.float64).mean(axis=1)
        assert np.array_equal(bands.mono(x), expected)
        assert np.array_equal(bands.mono(x[::3]), np.asarray(x[::3], np.float64).mean(axis=1))
    three = rng.standard_normal((100, 3))
    assert np.array_equal(bands.mono(three), three.mean(axis=1))
    assert bands.mono(np.ones(5, np.float32)).dtype == np.float64


def test_octave_band_levels_share_the_prewarped_grid_bit_for_bit(song):
    x = bands.mono(song.vocal)
    power = bands.band_power_spectrum(x)
    freqs = np.fft.rfftfreq(x.size, 1.0 / SR)
    expected = []
    for fc in bands.OCTAVE_CENTRES_HZ:  # one prewarp per band, as before
        mean_square = float(np.sum(power * bands.bandpass_power_response(fc, SR, freqs)))
        bandwidth = fc * (math.sqrt(2.0) - 1.0 / math.sqrt(2.0))
        expected.append(20.0 * math.log10(math.sqrt(mean_square) / bandwidth))
    assert np.array_equal(bands.octave_band_levels(x, SR), np.array(expected))


# ---------------------------------------------------------------------------- reverb
def test_overlap_save_equals_one_long_fft():
    rng = np.random.default_rng(1)
    n, m = 400_000, 20_000  # blocks of 65 536 samples: several blocks and a partial last one
    inputs = [rng.standard_normal(n).astype(np.float32) for _ in range(2)]
    h = (rng.standard_normal((2, m, 2)) * np.exp(-np.arange(m) / 3000.0)[None, :, None])
    size = next_fast_len(n + m - 1, real=True)
    expected = np.stack([sum(irfft(rfft(inputs[i], size) * rfft(h[i, :, o].astype(np.float32),
                                                                  size), size)[:n]
                             for i in range(2)) for o in range(2)], axis=1)
    got = convolve(inputs, h)
    assert got.shape == (n, 2) and got.dtype == np.float32
    error = np.sqrt(np.mean((got - expected) ** 2) / np.mean(expected**2))
    assert 20 * np.log10(error) < -110
    short = convolve([inputs[0][:1000]], h[:1, :500])  # shorter than a block: one FFT
    direct = np.convolve(inputs[0][:1000].astype(np.float64), h[0, :500, 1])[:1000]
    assert np.allclose(short[:, 1], direct, atol=1e-4)


@pytest.mark.parametrize("params", [
    {"revTime": 1.3, "delayLength": 15, "dryWet": 0.37, "lowGain": 0.0, "highGain": 0.0},
    {"revTime": 0.6, "delayLength": 7, "dryWet": 0.11, "highGain": -6.0},
    {"revTime": 0.6, "delayLength": 7, "dryWet": 1.0, "fadeInTime": 0.05},
])
def test_reverb_responses_are_the_emulations_bit_for_bit(params):
    values = complete(iem.FDNREVERB, params)
    length = vocal_chain.ir_length(values, SR)
    for centred, impulses in ((True, [[1.0, 1.0]]), (False, [[1.0, 0.0], [0.0, 1.0]])):
        expected = []
        for gains in impulses:
            impulse = np.zeros((length, 2), np.float32)
            impulse[0] = gains
            expected.append(iem.process("FdnReverb", values, impulse, SR))
        assert np.array_equal(reverb_impulse_responses(values, SR, centred=centred),
                              np.stack(expected))


# ----------------------------------------------------------------------- compression
def test_compression_search_two_at_a_time_is_the_sequential_search(monkeypatch):
    vocal = dynamic_vocal(quiet_db=-17.0)
    together = vocal_rules.compression_search(vocal, SR, target_lu=9.0)
    monkeypatch.setattr(vocal_rules, "SEARCH_PARALLEL", 1)
    alone = vocal_rules.compression_search(vocal, SR, target_lu=9.0)
    assert len(alone.details["steps"]) >= 3
    assert together.details == alone.details and together.params == alone.params
    assert together.notes == alone.notes


def test_prior_compressor_hands_over_the_chain_output_and_walks_in_order(monkeypatch):
    monkeypatch.setattr(vocal_prior, "LRA_TARGET_LU", 4.0)  # a range to walk down to
    method = vocal_prior.PriorMethod()
    vocal = np.repeat(dynamic_vocal(quiet_db=-17.0), 2, axis=1)
    backing = synthetic_song(24.0, tempo=100.0, seed=7).backing[: vocal.shape[0]]
    lufs, lra = measure(vocal, SR)
    ctx = VocalContext(vocal, backing, SR, measure(backing, SR)[0], lufs, lra)
    eq = method.eq(ctx)
    after_eq = apply_eq(vocal, SR, eq.params)
    stage = method.compressor(ctx, after_eq)
    assert np.array_equal(stage.output, apply_compressor(after_eq, SR, stage.params))
    steps = stage.details["steps"]
    assert len(steps) >= 2 and steps[0]["lra_lu"] > vocal_prior.LRA_TARGET_LU
    costs = [step["cost"] for step in steps]
    assert all(a > b for a, b in zip(costs[:-2], costs[1:-1]))  # improving until the last
    chosen = min(range(len(steps)), key=lambda k: costs[k])
    assert stage.params["threshold"] == steps[chosen]["threshold_db"]
    thresholds = [step["threshold_re18_db"] for step in steps]
    assert np.allclose(np.diff(thresholds), thresholds[1] - thresholds[0])


# -------------------------------------------------------------------------- decision
def test_decision_on_a_backing_still_rendering_is_the_same(song):
    pending: Future = Future()
    pending.set_result(song.backing)
    for method in ("prior", "rules"):
        direct = decide_vocal(song.vocal, song.backing, SR, method=method, tempo=song.tempo)
        later = decide_vocal(song.vocal, pending, SR, method=method, tempo=song.tempo)
        assert later.to_json() == direct.to_json()


def test_a_failing_backing_render_surfaces_its_error(song):
    failed: Future = Future()
    failed.set_exception(OSError("media file not found: drums.wav"))
    with pytest.raises(OSError, match="drums.wav"):
        decide_vocal(song.vocal, failed, SR, method="rules", tempo=song.tempo)


# ------------------------------------------------------------------------------ cnn
def test_cnn_features_bit_for_bit(song):
    v = vocal_cnn.to_feature_rate(song.vocal, SR)
    assert np.array_equal(v, np.asarray(song.vocal, np.float32).mean(axis=1))
    frames = vocal_cnn._frames(v)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))  # every frame in float64
    with np.errstate(divide="ignore"):
        assert np.array_equal(vocal_cnn.frame_rms_dbfs(v), 20 * np.log10(rms))
    window = np.hanning(vocal_cnn.N_FFT + 1)[:-1].astype(np.float32)
    whole = ((np.abs(np.fft.rfft(frames * window, axis=1)) ** 2) @ vocal_cnn.mel_filterbank()
             ).astype(np.float32)
    assert np.array_equal(vocal_cnn.mel_spectrogram(v), whole)
    rows = vocal_cnn.used_frames(v)
    assert np.array_equal(vocal_cnn.mel_spectrogram(v, rows), whole[rows])
    b = vocal_cnn.to_feature_rate(song.backing, SR)
    assert np.array_equal(
        vocal_cnn.feature_blocks(song.vocal, song.backing, SR),
        vocal_cnn.feature_blocks(song.vocal, song.backing, SR,
                                 backing_mel=vocal_cnn.mel_spectrogram(b)))


def test_numpy_networks_are_torchs_networks():
    torch = pytest.importorskip("torch")
    nets = vocal_cnn.load_networks()
    saved = torch.load(vocal_cnn.WEIGHTS_FILE, map_location="cpu", weights_only=True)
    read = vocal_cnn.read_weights(vocal_cnn.WEIGHTS_FILE)
    assert read["card"] == saved["card"]
    rng = np.random.default_rng(2)
    blocks = rng.random((40, 2, 128, 64)).astype(np.float32) ** 4
    for name, outputs in vocal_cnn.MODELS.items():
        state = saved["state_dicts"][name]
        assert set(read["state_dicts"][name]) == set(state)
        for key, tensor in state.items():
            assert np.array_equal(read["state_dicts"][name][key], tensor.numpy())
        net = vocal_cnn.build_network(outputs)
        net.load_state_dict(state)
        net.eval()
        with torch.no_grad():
            expected = net(torch.from_numpy(blocks)).numpy()
        got = nets.networks[name](blocks)
        assert got.shape == (40, outputs) and got.dtype == np.float32
        assert np.allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
