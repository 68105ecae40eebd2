"""Match reference, the pure fit: known-gain recovery, amount, loudness, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfilt

from reaper_automix.analysis.loudness import LoudnessMeter
from reaper_automix.audio.render import pan_gains
from reaper_automix.console import STEM_LUFS, WrittenStem
from reaper_automix.console import params as P
from reaper_automix.decisions.match import MatchError, MatchOptions, match_reference

RATE = 44100


def synthetic_stems(seconds: float = 8.0, seed: int = 0) -> list[np.ndarray]:
    """Four stereo stems with distinct spectra and rhythms: kick, bass, lead, hats + pad."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    beat = np.zeros(n)
    beat[:: RATE // 2] = 1.0
    kick_env = np.convolve(beat, np.exp(-np.arange(RATE // 5) / (0.04 * RATE)))[:n]
    kick = np.sin(2 * np.pi * 55 * t * (1 + 0.5 * np.exp(-t % 0.5 / 0.02))) * kick_env
    bass = 0.3 * np.sign(np.sin(2 * np.pi * 82.4 * t)) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.25 * t))
    bass = sosfilt(butter(4, 400, fs=RATE, output="sos"), bass)
    vibrato = np.sin(2 * np.pi * (440 * t + 3 * np.sin(2 * np.pi * 5 * t)))
    lead = sum(0.2 / k * np.sin(k * np.arcsin(vibrato)) for k in range(1, 6)) * (t % 2 < 1.5)
    hats = sosfilt(butter(4, 6000, "highpass", fs=RATE, output="sos"), rng.standard_normal(n))
    hats *= np.convolve(np.roll(beat, RATE // 4), np.exp(-np.arange(RATE // 20) / 400.0))[:n]
    pad = sosfilt(butter(2, [300, 3000], "bandpass", fs=RATE, output="sos"),
                  rng.standard_normal((n, 2)), axis=0) * 0.05
    mono = [kick, bass, lead]
    stems = [np.stack([x, x], axis=1) for x in mono]
    stems.append(np.stack([hats, 0.8 * hats], axis=1) * 0.3 + pad)
    return [s.astype(np.float32) for s in stems]


def mix_of(stems: list[np.ndarray], gains_db, pans) -> np.ndarray:
    out = sum(s.astype(np.float64) * 10 ** (g / 20) * np.asarray(pan_gains(p))
              for s, g, p in zip(stems, gains_db, pans))
    return out.astype(np.float32)


@pytest.fixture(scope="module")
def stems() -> list[np.ndarray]:
    return synthetic_stems()


@pytest.fixture(scope="module")
def demo_stems(demo_session) -> list[np.ndarray]:
    from reaper_automix import open_project
    from reaper_automix.audio.render import Renderer

    project = open_project(demo_session.project)
    renderer = Renderer(project)
    return [renderer.track(t, fader=False, pan=False) for t in project.top_level]


def scrambled(stems, seed: int, **options):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(-6, 6, len(stems))
    pans = rng.uniform(-0.5, 0.5, len(stems))
    reference = mix_of(stems, truth, pans)
    start = truth + rng.choice([-1, 1], len(stems)) * rng.uniform(3, 9, len(stems))
    current = [WrittenStem(float(g), float(p)) for g, p in zip(start, pans)]
    decision = match_reference(stems, reference, RATE, current=current,
                               options=MatchOptions(match_loudness=True, **options))
    return decision, truth, pans


def written_gain(stem) -> float:
    return stem.after.fader_db + stem.after.omnicompressor.get("outGain", 0.0)


@pytest.mark.parametrize("fit", ["faders", "full"])
def test_scrambled_faders_come_back_within_half_a_db(stems, fit: str) -> None:
    decision, truth, pans = scrambled(stems, seed=1, fit=fit, budget_s=30.0)
    errors = [written_gain(s) - g for s, g in zip(decision.stems, truth)]
    assert max(map(abs, errors)) < 0.5, errors
    for stem, pan in zip(decision.stems, pans):
        assert stem.after.pan == pytest.approx(pan, abs=0.05)
        assert all(abs(stem.after.multieq[f"filterGain{b}"]) <= 0.5 for b in range(6)), \
            "EQ must not absorb what the faders explain"
        assert stem.after.omnicompressor["ratio"] == 1.0
    assert decision.distances["after"]["bark_mid_db"] < 0.1


def test_scrambled_group_faders_of_the_demo_come_back(demo_stems) -> None:
    decision, truth, _ = scrambled(demo_stems, seed=2, fit="full", budget_s=30.0)
    errors = [written_gain(s) - g for s, g in zip(decision.stems, truth)]
    assert max(map(abs, errors)) < 0.5, errors


def test_amount_zero_changes_nothing(stems) -> None:
    current = [WrittenStem(-3.0, 0.2), WrittenStem(1.0, -0.4),
               WrittenStem(0.0, 0.0, {"filterGain2": 4.0}, {"ratio": 3.0, "threshold": -20.0}),
               WrittenStem(-8.0, 0.0)]
    reference = mix_of(stems, [0, -6, 3, 2], [0, 0, 0, 0])
    decision = match_reference(stems, reference, RATE, current=current,
                               options=MatchOptions(amount=0.0, budget_s=2.0))
    assert not decision.changed and decision.level_shift_db == 0.0
    assert [s.after for s in decision.stems] == current
    assert decision.distances["after"] == decision.distances["before"]


def test_amount_scales_every_move(stems) -> None:
    current = [WrittenStem(-3.0, 0.2), WrittenStem(1.0, -0.4), WrittenStem(0.0, 0.0),
               WrittenStem(-8.0, 0.0)]
    reference = mix_of(stems, [0, -6, 3, 2], [0.3, 0, -0.3, 0])
    start = P.neutral(4).numpy()  # a fit result, given as the start: deterministic
    start[:, P.GAIN] = [2.0, -4.0, 0.0, 1.0]
    start[:, P.PAN] = [0.5, 0.0, -0.2, 0.1]
    start[:, P.EQ_GAINS[1]] = [4.0, -6.0, 2.0, 0.0]
    start[:, P.RATIO], start[:, P.THRESHOLD] = 5.0, -30.0
    runs = [match_reference(stems, reference, RATE, current=current, start=start,
                            options=MatchOptions(amount=amount, fit="start"))
            for amount in (1.0, 0.5)]
    for f, h, c in zip(*(run.stems for run in runs), current):
        assert written_gain(h) == pytest.approx(c.fader_db + 0.5 * (written_gain(f) - c.fader_db),
                                                abs=1e-6)
        assert h.after.pan == pytest.approx(c.pan + 0.5 * (f.after.pan - c.pan), abs=1e-9)
        for b in range(6):
            assert h.after.multieq[f"filterGain{b}"] == pytest.approx(
                0.5 * f.after.multieq[f"filterGain{b}"], abs=0.051)
        assert h.after.omnicompressor["ratio"] == pytest.approx(3.0, abs=0.11)  # towards 1:1
        full_threshold = f.after.omnicompressor["threshold"]
        assert h.after.omnicompressor["threshold"] == pytest.approx(
            10.0 + 0.5 * (full_threshold - 10.0), abs=0.051)  # towards off (+10 dB)


@pytest.mark.parametrize("match_loudness", [False, True])
def test_the_mix_keeps_its_level_unless_asked(stems, match_loudness: bool) -> None:
    current = [WrittenStem(g, 0.0) for g in (-10.0, -12.0, -9.0, -11.0)]
    reference = mix_of(stems, [0, -3, 2, 1], [0, 0, 0, 0]) * 2.0
    decision = match_reference(stems, reference, RATE, current=current,
                               options=MatchOptions(budget_s=2.0, fit="faders",
                                                    match_loudness=match_loudness))
    meter = LoudnessMeter(RATE)
    target = meter.integrated(reference) if match_loudness else decision.before_lufs
    assert decision.after_lufs == pytest.approx(target, abs=0.05)
    assert meter.integrated(decision.prediction) == pytest.approx(target, abs=0.05)


def test_a_fixed_rest_is_part_of_the_mix(stems) -> None:
    truth = [2.0, -4.0, 0.0]
    rest = stems[3] * 10 ** (-3 / 20)
    reference = (mix_of(stems[:3], truth, [0, 0, 0]) + rest).astype(np.float32)
    current = [WrittenStem(g, 0.0) for g in (8.0, 3.0, -7.0)]
    decision = match_reference(stems[:3], reference, RATE, current=current, rest=rest,
                               options=MatchOptions(fit="faders", budget_s=30.0,
                                                    match_loudness=True))
    errors = [written_gain(s) - g for s, g in zip(decision.stems, truth)]
    assert max(map(abs, errors)) < 0.5, errors


def test_start_is_an_explicit_argument(stems) -> None:
    reference = mix_of(stems, [0, -6, 3, 2], [0, 0, 0, 0])
    current = [WrittenStem(0.0, 0.0)] * 4
    start = P.neutral(4).numpy()
    start[:, P.EQ_GAINS[2]] = 5.0  # a learned model's prediction, say
    decision = match_reference(stems, reference, RATE, current=current, start=start,
                               options=MatchOptions(fit="start"))
    assert all(s.after.multieq["filterGain2"] == 5.0 for s in decision.stems)
    assert decision.steps == {"spectral": 0, "dynamics": 0}


def test_silent_stems_are_left_untouched_and_named(stems) -> None:
    silent = np.zeros_like(stems[0])
    current = [WrittenStem(-3.0, 0.1)] * 3
    decision = match_reference([stems[0], silent, stems[1]], mix_of(stems[:2], [0, 0], [0, 0]),
                               RATE, current=current, names=["kick", "empty", "bass"],
                               options=MatchOptions(fit="faders", budget_s=1.0))
    empty = decision.stems[1]
    assert not empty.active and "silent" in empty.reason and empty.after == current[1]
    assert decision.stems[0].active and decision.stems[2].active


def test_a_stem_too_loud_for_the_plugins_is_left_untouched_and_named(stems) -> None:
    """A broken stem (a float file at +50 LUFS) cannot be written: named, not a crash."""
    broken = stems[1] * np.float32(10 ** (70 / 20))
    current = [WrittenStem(0.0, 0.0)] * 3
    decision = match_reference([stems[0], broken, stems[2]], mix_of(stems[:3], [0] * 3, [0] * 3),
                               RATE, current=current, names=["kick", "broken", "keys"],
                               options=MatchOptions(budget_s=1.0, steps=3))
    loud = decision.stems[1]
    assert not loud.active and "too loud" in loud.reason and loud.after == current[1]
    assert decision.stems[0].active and decision.stems[2].active
    with pytest.raises(MatchError, match="no stem can be matched: broken is far too loud"):
        match_reference([broken, np.zeros_like(broken)], mix_of(stems[:2], [0, 0], [0, 0]),
                        RATE, current=current[:2], names=["broken", "empty"])


@pytest.mark.parametrize(("reference", "message"), [
    (np.zeros((RATE * 6, 2), np.float32), "silent"),
    (np.ones((RATE * 6,), np.float32) * 0.1, "channel"),
    (np.random.default_rng(0).standard_normal((RATE * 3, 2)).astype(np.float32) * 0.1,
     "at least 5 s"),
])
def test_unusable_references_are_refused(stems, reference: np.ndarray, message: str) -> None:
    with pytest.raises(MatchError, match=message):
        match_reference(stems, reference, RATE, current=[WrittenStem(0.0, 0.0)] * 4)


def test_all_silent_stems_are_refused(stems) -> None:
    silent = [np.zeros_like(s) for s in stems]
    with pytest.raises(MatchError, match="every stem is silent"):
        match_reference(silent, mix_of(stems, [0] * 4, [0] * 4), RATE,
                        current=[WrittenStem(0.0, 0.0)] * 4)


def test_stems_enter_the_console_at_the_stem_loudness(stems) -> None:
    decision = match_reference(stems, mix_of(stems, [0] * 4, [0] * 4), RATE,
                               current=[WrittenStem(0.0, 0.0)] * 4,
                               options=MatchOptions(fit="start"))
    for stem in decision.stems:
        assert stem.loudness_lufs + stem.input_gain_db == pytest.approx(STEM_LUFS)


def test_compressors_engage_when_the_references_dynamics_ask(stems) -> None:
    from reaper_automix.iem import process

    compressor = {"threshold": -30.0, "ratio": 6.0, "attack": 10.0, "release": 80.0, "knee": 6.0}
    kick = process("OmniCompressor", compressor, stems[0], RATE)
    kick *= np.sqrt(np.mean(stems[0].astype(float) ** 2) / np.mean(kick.astype(float) ** 2))
    reference = mix_of([kick, *stems[1:]], [0, -3, -2, -4], [0, 0, 0, 0])
    decision = match_reference(stems, reference, RATE,
                               current=[WrittenStem(g, 0.0) for g in (0, -3, -2, -4)],
                               options=MatchOptions(budget_s=120.0, steps=80))
    assert decision.steps["dynamics"] > 1
    assert decision.stems[0].after.omnicompressor["ratio"] > 1.0
    assert decision.distances["before"]["crest_db"] > 3.0
    assert decision.distances["after"]["crest_db"] < 1.0


def test_windows_pooled_two_at_a_time_equal_the_sequential_sum() -> None:
    import torch

    from reaper_automix.analysis.style import SpectralGrid, cross_spectra
    from reaper_automix.decisions.match import _pooled_cross

    grid = SpectralGrid.create(RATE)
    rng = np.random.default_rng(1)
    windows = [torch.from_numpy(rng.standard_normal((4, 8192))) for _ in range(5)]
    pooled = _pooled_cross(iter(windows), grid)
    sequential = cross_spectra(windows[0], [(0, 8192)], grid)
    for window in windows[1:]:
        sequential = sequential + cross_spectra(window, [(0, 8192)], grid)
    for name in ("ll", "rr", "lr"):
        assert torch.equal(getattr(pooled, name), getattr(sequential, name))
    assert pooled.frames == sequential.frames
