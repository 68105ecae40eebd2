"""The differentiable console: it plays what REAPER plays (the IEM emulations, -40 dB bar on
music and corner settings), gradients reach every continuous parameter, and the parameter
mapping writes exactly what the console computed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reaper_automix import console as C
from reaper_automix.audio.io import read_audio
from reaper_automix.audio.render import pan_gains
from reaper_automix.console import params as P
from reaper_automix.console.compressor import gain_reduction
from reaper_automix.console.filters import cascade, section_coefficients
from reaper_automix.iem import MULTIEQ, OMNICOMPRESSOR, process

RATE = 44100


def relative_error_db(actual: np.ndarray, expected: np.ndarray) -> float:
    error = np.sum((actual - expected) ** 2) / np.sum(expected ** 2)
    return 10 * math.log10(max(error, 1e-30))


def emulated(stem: np.ndarray, written: C.WrittenStem) -> np.ndarray:
    """What REAPER plays for the written values: MultiEQ → OmniCompressor → fader → pan."""
    out = process("MultiEQ", written.multieq, stem, RATE)
    out = process("OmniCompressor", written.omnicompressor, out, RATE).astype(np.float64)
    return out * 10 ** (written.fader_db / 20) * np.asarray(pan_gains(written.pan))


def console_output(stem: np.ndarray, written: C.WrittenStem, input_gain_db: float) -> np.ndarray:
    physical = C.from_written(written, input_gain_db)[None]
    mix = C.mix(C.stem_tokens([stem]), physical, torch.tensor([input_gain_db]), RATE)
    return mix.numpy().T


def settings(**values: float) -> torch.Tensor:
    row = C.neutral(1)[0]
    for name, value in values.items():
        row[P.INDEX[name]] = value
    return row


@pytest.fixture(scope="module")
def music(demo_session) -> dict[str, np.ndarray]:
    """Four seconds of three demo stems, as stereo stems (drums, bass, vocal)."""
    media = demo_session.project.parent / "media"
    out = {}
    for name in ("kick.wav", "bass.wav", "lead_vocal_standin.wav"):
        audio, rate = read_audio(media / name)
        assert rate == RATE
        start = int(8.0 * RATE)
        mono = audio[start:start + 4 * RATE, 0]
        out[name] = np.stack([mono, 0.7 * mono], axis=1).astype(np.float32)
    return out


MUSIC_SETTINGS = {
    "moderate": settings(eq1_gain_db=3.0, eq1_freq_hz=120.0, eq2_gain_db=-4.0, eq2_freq_hz=400.0,
                         eq2_q=2.0, eq3_gain_db=2.5, eq6_gain_db=-3.0, comp_threshold_db=-24.0,
                         comp_ratio=4.0, comp_attack_ms=10.0, comp_release_ms=120.0,
                         gain_db=-3.0, pan=0.3),
    "heavy": settings(eq1_gain_db=-12.0, eq1_freq_hz=2000.0, eq1_q=5.0, eq4_gain_db=12.0,
                      eq5_gain_db=-12.0, eq5_q=5.0, comp_threshold_db=-40.0, comp_ratio=10.0,
                      comp_attack_ms=5.0, comp_release_ms=250.0, comp_knee_db=12.0, pan=-1.0),
}


@pytest.mark.parametrize("stem_name", ["kick.wav", "bass.wav", "lead_vocal_standin.wav"])
@pytest.mark.parametrize("setting", sorted(MUSIC_SETTINGS))
def test_console_plays_what_reaper_plays_on_music(music, stem_name: str, setting: str) -> None:
    stem = music[stem_name]
    written = C.to_written(MUSIC_SETTINGS[setting], input_gain_db=6.0)
    expected = emulated(stem, written)
    assert relative_error_db(console_output(stem, written, 6.0), expected) < -40.0


def _band(band: int, frequency: float, q: float, gain: float) -> dict[str, float]:
    flat = {f"filterEnabled{b}": 0.0 for b in range(6)}
    kind = P.EQ_BANDS[band].multieq_type
    return {**flat, f"filterEnabled{band}": 1.0, f"filterType{band}": kind,
            f"filterFrequency{band}": frequency, f"filterQ{band}": q, f"filterGain{band}": gain}


# every band at the ends of the plug-in's frequency range, highest Q and largest gains
EQ_CORNERS = [
    _band(band, frequency, q, gain)
    for band in range(6) for frequency in (20.0, 20000.0) for q in (0.05, 8.0)
    for gain in (-12.0, 15.0)
]
OFF = {"ratio": 1.0, "threshold": 10.0}
COMPRESSOR_CORNERS = [
    {"threshold": -50.0, "ratio": 16.0, "attack": 0.0, "release": 0.0, "knee": 0.0},  # ∞:1
    {"threshold": -30.0, "ratio": 15.8, "attack": 0.1, "release": 500.0, "knee": 30.0},
    {"threshold": -20.0, "ratio": 2.0, "attack": 100.0, "release": 500.0, "knee": 6.0,
     "outGain": 20.0},
    {"threshold": 10.0, "ratio": 4.0, "attack": 5.0, "release": 10.0, "knee": 0.0},
]


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    rng = np.random.default_rng(3)
    envelope = np.repeat(rng.uniform(0.01, 1.0, 20), RATE // 10)[:, None]  # level steps
    return (rng.standard_normal((2 * RATE, 2)) * 0.2 * envelope).astype(np.float32)


@pytest.mark.parametrize("eq", EQ_CORNERS, ids=lambda e: "-".join(
    f"{v:g}" for k, v in e.items() if k.startswith(("filterFrequency", "filterQ", "filterGain"))
    and e[f"filterEnabled{k[-1]}"]))
def test_console_eq_matches_multieq_at_corner_settings(noise, eq: dict) -> None:
    written = C.WrittenStem(0.0, 0.0, eq, OFF)
    assert relative_error_db(console_output(noise, written, 0.0), emulated(noise, written)) < -40


@pytest.mark.parametrize("comp", COMPRESSOR_CORNERS, ids=lambda c: f"T{c['threshold']:g}-"
                         f"R{c['ratio']:g}-A{c['attack']:g}-R{c['release']:g}")
def test_console_compressor_matches_omnicompressor_at_corner_settings(noise, comp: dict) -> None:
    written = C.WrittenStem(-2.0, 0.5, {"filterEnabled0": 0.0}, comp)
    for input_gain in (0.0, 12.0):  # the console domain differs, the written values do not
        out = console_output(noise, written, input_gain)
        assert relative_error_db(out, emulated(noise, written)) < -40


def test_release_is_honoured() -> None:
    burst = np.zeros((RATE, 2), np.float32)
    burst[: RATE // 4] = 0.9
    burst[RATE // 4:] = 0.02  # quiet tail below the threshold: the reduction recovers
    tails = []
    for release in (20.0, 400.0):
        comp = {"threshold": -30.0, "ratio": 8.0, "attack": 1.0, "release": release, "knee": 0.0}
        written = C.WrittenStem(0.0, 0.0, {"filterEnabled0": 0.0}, comp)
        out = console_output(burst, written, 0.0)
        assert relative_error_db(out, emulated(burst, written)) < -40
        tails.append(out[RATE // 4 + RATE // 10, 0])  # 100 ms into the tail
    fast, slow = tails
    assert fast > 0.018 and slow < 0.01, "a longer release keeps the gain down longer"


def test_a_click_at_t0_comes_out_at_t0() -> None:
    click = np.zeros((RATE // 2, 2), np.float32)
    t0 = 10000
    click[t0] = 0.8
    setting = settings(comp_threshold_db=-30.0, comp_ratio=8.0, comp_attack_ms=5.0)
    written = C.to_written(setting, 0.0)
    assert written.omnicompressor["lookAhead"] == 0.0, "no look-ahead: no latency to compensate"
    for out in (console_output(click, written, 0.0), emulated(click, written)):
        assert int(np.argmax(np.abs(out[:, 0]))) == t0


# --------------------------------------------------------------------------------- gradients
def test_cascade_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((2, 48)), dtype=torch.float64, requires_grad=True)
    f = torch.tensor([300.0, 2000.0], dtype=torch.float64)
    q = torch.tensor([2.0, 0.7], dtype=torch.float64)
    g = torch.tensor([6.0, -4.0], dtype=torch.float64)
    rows = [section_coefficients(kind, f, q, g, 8000.0) for kind in (P.PEAK, P.LOW_SHELF)]
    first_order = section_coefficients(0, f, q, g, 8000.0)  # HP1: b2 = a2 = 0
    coeffs = torch.stack(rows + [first_order], dim=1).detach().requires_grad_(True)
    assert torch.autograd.gradcheck(cascade, (x, coeffs), atol=1e-7, rtol=1e-5)


def test_compressor_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(1)
    level = torch.tensor(rng.uniform(-40, 0, (3, 60)), dtype=torch.float64, requires_grad=True)

    def run(level, threshold, ratio, knee, attack, release):
        return gain_reduction(level, threshold, ratio, knee, attack, release)

    args = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (
        [-20.0, -25.0, -12.0], [4.0, 2.5, 8.0], [6.0, 3.0, 12.0], [0.3, 0.05, 0.5],
        [0.02, 0.1, 0.01])]
    assert torch.autograd.gradcheck(run, (level, *args), atol=1e-7, rtol=1e-5)


def test_console_gradients_reach_every_parameter_and_match_finite_differences() -> None:
    rng = np.random.default_rng(2)
    tokens = torch.tensor(rng.standard_normal((1, 2, 96)) * 0.5, dtype=torch.float64)
    start = settings(eq1_gain_db=3.0, eq2_gain_db=-4.0, eq3_gain_db=2.0, eq4_gain_db=5.0,
                     eq5_gain_db=-3.0, eq6_gain_db=4.0, eq2_freq_hz=1000.0, eq3_freq_hz=4000.0,
                     comp_threshold_db=-20.0, comp_ratio=4.0, comp_attack_ms=0.05,
                     comp_release_ms=0.2, pan=0.2, gain_db=-2.0)

    def mix(physical: torch.Tensor) -> torch.Tensor:
        return C.mix(tokens, physical[None], torch.tensor([3.0]), RATE, plugin_rounding=False)

    physical = start.clone().requires_grad_(True)
    (mix(physical) ** 2).sum().backward()
    assert bool((physical.grad.abs() > 0).all()), f"no gradient: {physical.grad}"
    assert torch.autograd.gradcheck(mix, (start.clone().requires_grad_(True),), atol=1e-6,
                                    rtol=1e-4)


# ---------------------------------------------------------------------------------- mapping
def test_normalised_and_physical_values_map_both_ways() -> None:
    p = torch.rand(5, C.N_PARAMS, dtype=torch.float64)
    physical = C.to_physical(p)
    lows = torch.tensor([x.low for x in C.PARAMETERS], dtype=torch.float64)
    highs = torch.tensor([x.high for x in C.PARAMETERS], dtype=torch.float64)
    assert bool(((physical >= lows) & (physical <= highs)).all())
    assert torch.allclose(C.to_normalised(physical), p)
    middle = C.to_physical(torch.full((C.N_PARAMS,), 0.5, dtype=torch.float64))
    assert middle[P.INDEX["eq1_freq_hz"]] == pytest.approx(200.0)  # logarithmic: √(20·2000)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        C.to_physical(torch.full((C.N_PARAMS,), 1.5, dtype=torch.float64))


def test_written_values_lie_on_the_plugin_grids_and_read_back_exactly() -> None:
    rng = np.random.default_rng(4)
    for _ in range(20):
        physical = C.to_physical(torch.tensor(rng.uniform(0, 1, C.N_PARAMS)))
        input_gain = float(rng.uniform(-10, 20))
        written = C.to_written(physical, input_gain)
        for key, value in written.multieq.items():
            assert MULTIEQ.param(key).snap(value) == value
        for key, value in written.omnicompressor.items():
            assert OMNICOMPRESSOR.param(key).snap(value) == value
        again = C.to_written(C.from_written(written, input_gain), input_gain)
        assert again == written


def test_gain_and_threshold_are_written_relative_to_the_input_gain() -> None:
    physical = settings(gain_db=15.0, comp_ratio=3.0, comp_threshold_db=-10.0)
    written = C.to_written(physical, input_gain_db=4.0)
    assert written.fader_db + written.omnicompressor["outGain"] == pytest.approx(19.0, abs=1e-6)
    assert written.fader_db <= 12.0 and written.omnicompressor["outGain"] == pytest.approx(7.0)
    assert written.omnicompressor["threshold"] == pytest.approx(-14.0)
    assert C.to_written(settings(gain_db=-6.0), 4.0).omnicompressor["outGain"] == 0.0


def test_neutral_settings_write_transparent_plugins(noise) -> None:
    written = C.to_written(C.neutral(1, pans=np.array([0.4]))[0], input_gain_db=-7.0)
    assert written.multieq["filterType0"] == 3.0, "band 1 set explicitly, never the 20 Hz HP"
    assert all(written.multieq[f"filterEnabled{b}"] == 0.0 for b in range(6))
    assert written.omnicompressor["ratio"] == 1.0 and written.omnicompressor["threshold"] == 10.0
    assert written.fader_db == pytest.approx(-7.0) and written.pan == pytest.approx(0.4)
    chain = process("OmniCompressor", written.omnicompressor,
                    process("MultiEQ", written.multieq, noise, RATE), RATE)
    assert np.array_equal(chain, noise)


def test_mono_stems_play_as_dual_mono_and_stereo_stems_split_into_two_tokens() -> None:
    mono = np.arange(5, dtype=np.float32)
    stereo = np.stack([mono, -mono], axis=1)
    tokens = C.stem_tokens([mono, stereo])
    assert tokens.shape == (2, 2, 5)
    assert torch.equal(tokens[0, 0], tokens[0, 1])
    assert torch.equal(tokens[1, 1], -tokens[1, 0])
    with pytest.raises(ValueError, match="one length"):
        C.stem_tokens([mono, mono[:3]])
