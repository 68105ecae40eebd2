"""The vocal decision's interface: chain, level last on the processed vocal, bad input, amount,
reverb wiring; the rules and prior methods end to end on a synthetic song."""

from __future__ import annotations

import numpy as np
import pytest

from reaper_automix import iem
from reaper_automix.analysis.loudness import LoudnessMeter
from reaper_automix.decisions.vocal import VocalInputError, decide_vocal
from reaper_automix.decisions.vocal_chain import (
    VocalChain,
    apply_reverb,
    render,
    reverb_path,
    to_send,
)
from reaper_automix.decisions.vocal_prior import LEVEL_P10_LU, LEVEL_P90_LU
from reaper_automix.evaluation.synthetic import synthetic_song

SR = 44100


@pytest.fixture(scope="module")
def song():
    return synthetic_song(8.0, tempo=96.0, seed=4)


@pytest.fixture(scope="module")
def rules(song):
    return decide_vocal(song.vocal, song.backing, SR, method="rules", tempo=song.tempo,
                        fader_db=-3.0)


@pytest.fixture(scope="module")
def prior(song):
    return decide_vocal(song.vocal, song.backing, SR, method="prior", tempo=song.tempo)


def _level(vocal, backing, fader_db=0.0):
    meter = LoudnessMeter(SR)
    return meter.integrated(vocal) + fader_db - meter.integrated(backing)


def test_level_is_measured_last_on_the_processed_vocal(song, rules):
    processed = render(song.vocal, SR, rules.chain)
    assert _level(processed, song.backing, rules.fader_db) == pytest.approx(-1.77, abs=0.01)
    assert rules.level_after_lu == pytest.approx(-1.77, abs=0.01)
    assert rules.level_before_lu == pytest.approx(_level(song.vocal, song.backing, -3.0),
                                                  abs=0.01)
    assert rules.level_target_lu == -1.77 and "1.77" in rules.level_target_source


def test_fader_follows_the_vocal_level(song, rules):
    louder = decide_vocal(song.vocal * np.float32(2.0), song.backing, SR, method="rules",
                          tempo=song.tempo, fader_db=-3.0)
    assert louder.fader_db == pytest.approx(rules.fader_db - 20 * np.log10(2.0), abs=0.05)


def test_rules_reverb_from_tempo_and_code_values(rules):
    assert rules.chain.fdnreverb["revTime"] == pytest.approx(2.3, abs=1e-6)  # 96 BPM → 2.31 s
    assert rules.tempo_bpm == 96.0


def test_prior_level_lands_inside_what_mixes_do(song, prior):
    assert LEVEL_P10_LU <= prior.level_target_lu <= LEVEL_P90_LU
    assert prior.level_after_lu == pytest.approx(prior.level_target_lu, abs=0.01)
    assert "MUSDB18" in prior.level_target_source


def test_prior_fit_reduces_masking_and_stays_likely(prior):
    eq = prior.details["eq"]
    assert eq["masking_cost_fitted"] <= eq["masking_cost_start"]
    assert prior.details["level"]["prior_mahalanobis2"] < 21.0  # the χ²₂₁ mean


def test_prior_eq_uses_multieq_band_types(prior):
    eq = prior.chain.multieq
    assert [eq[f"filterType{b}"] for b in range(6)] == [1.0, 0.0, 1.0, 1.0, 2.0, 1.0]
    assert all(0.05 <= eq[f"filterQ{b}"] <= 8.0 for b in range(6))


def test_decisions_are_deterministic(song, prior):
    again = decide_vocal(song.vocal, song.backing, SR, method="prior", tempo=song.tempo)
    assert again.chain.params() == prior.chain.params() and again.fader_db == prior.fader_db


def test_lti_reverb_matches_the_emulation():
    rng = np.random.default_rng(1)
    x = np.zeros((SR // 2, 2), np.float32)
    x[1000:3000] = rng.standard_normal((2000, 2)) * 0.2
    chain = VocalChain({}, {}, {"revTime": 0.4, "delayLength": 7, "dryWet": 0.3,
                                "fadeInTime": 0.05, "highGain": -6.0})
    exact = iem.process("FdnReverb", chain.fdnreverb, x, SR)
    fast = apply_reverb(x, SR, chain)
    error = np.sqrt(np.mean((exact - fast) ** 2)) / np.sqrt(np.mean(exact**2))
    assert 20 * np.log10(error) < -90


def test_send_return_has_the_insert_reverb_to_direct_ratio():
    insert = {"revTime": 1.5, "delayLength": 15, "dryWet": 0.3, "fadeInTime": 0.0}
    ratio = reverb_path(VocalChain({}, {}, insert), SR).reverb_to_direct_db()
    send, gain_db = to_send(insert, SR)
    assert send["dryWet"] == 1.0 and send["fadeInTime"] > 0  # wet holds no direct sound
    send_ratio = reverb_path(VocalChain({}, {}, send, "send", gain_db), SR).reverb_to_direct_db()
    assert send_ratio == pytest.approx(ratio, abs=0.2)


def test_send_mode_decision(song):
    decision = decide_vocal(song.vocal, song.backing, SR, method="rules", tempo=song.tempo,
                            reverb="send")
    assert decision.chain.reverb_mode == "send" and decision.chain.send_gain_db < 0
    assert decision.level_after_lu == pytest.approx(-1.77, abs=0.01)


def test_amount_zero_is_transparent_and_keeps_the_fader(song):
    decision = decide_vocal(song.vocal, song.backing, SR, method="prior", tempo=song.tempo,
                            fader_db=-4.0, amount=0.0)
    out = render(song.vocal, SR, decision.chain)
    np.testing.assert_allclose(out, song.vocal, atol=1e-6)
    assert decision.fader_db == -4.0


def test_mono_vocal_counts_as_dual_mono(song, rules):
    mono = decide_vocal(song.vocal[:, 0], song.backing, SR, method="rules", tempo=song.tempo,
                        fader_db=-3.0)
    assert mono.fader_db == pytest.approx(rules.fader_db, abs=1e-6)


@pytest.mark.parametrize("case, message", [
    ("short", "at least 5 s"), ("silent", "silent"), ("silent_backing", "silent"),
    ("channels", "mono or stereo"), ("nan", "NaN"), ("rate", "sample rate"),
    ("length", "same length"), ("int", "float"),
])
def test_bad_input_is_refused_with_a_clear_message(song, case, message):
    vocal, backing, rate = song.vocal, song.backing, SR
    if case == "short":
        vocal, backing = vocal[: 4 * SR], backing[: 4 * SR]
    elif case == "silent":
        vocal = np.zeros_like(vocal)
    elif case == "silent_backing":
        backing = np.zeros_like(backing)
    elif case == "channels":
        vocal = np.repeat(vocal[:, :1], 3, axis=1)
    elif case == "nan":
        vocal = vocal.copy()
        vocal[100] = np.nan
    elif case == "rate":
        rate = 8000
    elif case == "length":
        backing = backing[:-100]
    elif case == "int":
        vocal = (vocal * 1000).astype(np.int16)
    with pytest.raises(VocalInputError, match=message):
        decide_vocal(vocal, backing, rate, method="rules", tempo=100.0)


def test_unknown_method_and_reverb_mode(song):
    with pytest.raises(ValueError, match="method"):
        decide_vocal(song.vocal, song.backing, SR, method="magic")
    with pytest.raises(ValueError, match="reverb"):
        decide_vocal(song.vocal, song.backing, SR, reverb="parallel")


@pytest.mark.parametrize("rate", [48000, 96000])
def test_other_sample_rates(rate):
    song = synthetic_song(6.0, tempo=110.0, seed=8, sample_rate=rate)
    decision = decide_vocal(song.vocal, song.backing, rate, method="prior", tempo=song.tempo)
    assert decision.level_after_lu == pytest.approx(decision.level_target_lu, abs=0.01)
    assert _level_at(render(song.vocal, rate, decision.chain), song.backing, rate,
                     decision.fader_db) == pytest.approx(decision.level_target_lu, abs=0.01)


def _level_at(vocal, backing, rate, fader_db):
    meter = LoudnessMeter(rate)
    return meter.integrated(vocal) + fader_db - meter.integrated(backing)
