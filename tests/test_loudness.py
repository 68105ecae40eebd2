"""BS.1770-4 / EBU Tech 3341 / Tech 3342 compliance of reaper_automix.analysis.loudness.

Every synthesisable case of algorithms.md D.4 is generated at 44.1 and 48 kHz. The real EBU
Loudness Test Set is checked only when REAPER_AUTOMIX_EBU_TEST_SET points at an unpacked copy.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from scipy.signal import sosfilt, sosfreqz

from reaper_automix.analysis.loudness import (
    InvalidAudioError,
    LoudnessMeter,
    TooShortError,
    amplitude_to_db,
    energy_profiles,
    k_weighting_sos,
    sample_peak,
    stem_channel_weights,
    true_peak,
)
from reaper_automix.audio.io import MediaError
from reaper_automix.commands import analyze

RATES = (44100, 48000)
TOLERANCE_LU = 0.1


def tone(segments: list[tuple[float, float]], rate: int, channels: int = 2, freq: float = 1000.0) -> np.ndarray:
    """A continuous-phase sine whose peak level (dBFS) steps through (level, seconds) segments."""
    counts = [int(round(seconds * rate)) for _, seconds in segments]
    amplitude = np.concatenate([np.full(n, 10.0 ** (level / 20.0)) for (level, _), n in zip(segments, counts)])
    signal = amplitude * np.sin(2.0 * np.pi * freq * np.arange(amplitude.size) / rate)
    return np.repeat(signal[:, None], channels, axis=1)


def faded_sine(rate: int, fraction: float, amplitude: float, phase_deg: float, seconds: float = 1.0) -> np.ndarray:
    """Mono sine at fraction·fs with 20 ms raised-cosine fades (a band-limited steady tone)."""
    n = np.arange(int(seconds * rate))
    signal = amplitude * np.sin(2.0 * np.pi * fraction * n + math.radians(phase_deg))
    fade = int(0.02 * rate)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
    signal[:fade] *= ramp
    signal[-fade:] *= ramp[::-1]
    return signal


# ----------------------------------------------------------------------------------- K-weighting

def test_k_weighting_matches_the_bs1770_table_at_48k():
    table = np.array([
        [1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0, -1.69065929318241, 0.73248077421585],
        [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621],
    ])
    np.testing.assert_allclose(k_weighting_sos(48000), table, atol=1e-12)


def test_k_weighting_response_at_48k():
    freqs = np.array([25.0, 100.0, 1000.0, 2000.0, 10000.0])
    _, response = sosfreqz(k_weighting_sos(48000), worN=freqs, fs=48000)
    np.testing.assert_allclose(20 * np.log10(np.abs(response)), [-10.4, -1.13, 0.70, 3.07, 4.04], atol=0.01)


@pytest.mark.parametrize("rate", [22050, 32000, 44100, 88200, 96000, 192000])
def test_k_weighting_at_other_rates_follows_the_analog_prototype(rate):
    freqs = np.geomspace(20.0, min(0.2 * rate, 16000.0), 40)
    _, here = sosfreqz(k_weighting_sos(rate), worN=freqs, fs=rate)
    _, reference = sosfreqz(k_weighting_sos(48000), worN=freqs, fs=48000)
    np.testing.assert_allclose(20 * np.log10(np.abs(here)), 20 * np.log10(np.abs(reference)), atol=0.1)


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 32000, 88200, 96000, 192000])
def test_odd_sample_rates_read_a_23_dbfs_sine_as_23_lufs(rate):
    assert LoudnessMeter(rate).integrated(tone([(-23.0, 10.0)], rate)) == pytest.approx(-23.0, abs=TOLERANCE_LU)


# ------------------------------------------------------------------------------ EBU Tech 3341

@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("level", [-23.0, -33.0])
def test_3341_1_and_2_steady_tone(rate, level):
    audio = tone([(level, 20.0)], rate)
    meter = LoudnessMeter(rate)
    assert meter.integrated(audio) == pytest.approx(level, abs=TOLERANCE_LU)
    np.testing.assert_allclose(meter.momentary(audio), level, atol=TOLERANCE_LU)
    np.testing.assert_allclose(meter.short_term(audio), level, atol=TOLERANCE_LU)


GATING_CASES = {
    "3341-3": [(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)],
    "3341-4": [(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)],
    "3341-5": [(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)],
}


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("case", sorted(GATING_CASES))
def test_3341_3_to_5_gating(rate, case):
    assert LoudnessMeter(rate).integrated(tone(GATING_CASES[case], rate)) == pytest.approx(-23.0, abs=TOLERANCE_LU)


@pytest.mark.parametrize("rate", RATES)
def test_3341_6_five_channels_with_surround_weights(rate):
    levels = [-28.0, -28.0, -24.0, -30.0, -30.0]
    audio = np.concatenate([tone([(level, 20.0)], rate, channels=1) for level in levels], axis=1)
    assert LoudnessMeter(rate).integrated(audio) == pytest.approx(-23.0, abs=TOLERANCE_LU)


def test_lfe_is_excluded_in_six_channels():
    rate = 48000
    levels = [-28.0, -28.0, -24.0, -3.0, -30.0, -30.0]  # a loud LFE channel at index 3
    audio = np.concatenate([tone([(level, 20.0)], rate, channels=1) for level in levels], axis=1)
    assert LoudnessMeter(rate).integrated(audio) == pytest.approx(-23.0, abs=TOLERANCE_LU)


@pytest.mark.parametrize("rate", RATES)
def test_3341_9_short_term_is_constant_once_the_window_is_full(rate):
    audio = tone([(-20.0, 1.34), (-30.0, 1.66)] * 5, rate)
    short_term = LoudnessMeter(rate).short_term(audio)
    assert short_term.size >= 100
    np.testing.assert_allclose(short_term, -23.0, atol=TOLERANCE_LU)


@pytest.mark.parametrize("rate", RATES)
def test_3341_12_momentary_is_constant_once_the_window_is_full(rate):
    audio = tone([(-20.0, 0.18), (-30.0, 0.22)] * 25, rate)
    momentary = LoudnessMeter(rate).momentary(audio)
    assert momentary.size >= 90
    np.testing.assert_allclose(momentary, -23.0, atol=TOLERANCE_LU)


TRUE_PEAK_CASES = {
    "3341-15": (1 / 4, 0.5, 0.0, -6.0),
    "3341-16": (1 / 4, 0.5, 45.0, -6.0),
    "3341-17": (1 / 6, 0.5, 60.0, -6.0),
    "3341-18": (1 / 8, 0.5, 67.5, -6.0),
    "3341-19": (1 / 4, 1.41, 45.0, 3.0),
}


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("case", sorted(TRUE_PEAK_CASES))
def test_3341_15_to_19_true_peak(rate, case):
    fraction, amplitude, phase, expected = TRUE_PEAK_CASES[case]
    signal = faded_sine(rate, fraction, amplitude, phase)
    reading = amplitude_to_db(true_peak(signal, rate))
    assert expected - 0.4 <= reading <= expected + 0.2
    stereo = np.stack([signal, signal], axis=1)
    assert amplitude_to_db(true_peak(stereo, rate)) == pytest.approx(reading, abs=1e-9)


def test_true_peak_is_not_clamped_and_exceeds_the_sample_peak():
    signal = faded_sine(48000, 1 / 4, 1.41, 45.0)
    assert amplitude_to_db(sample_peak(signal)) < 0.05
    assert amplitude_to_db(true_peak(signal, 48000)) > 2.8


# ------------------------------------------------------------------------------ EBU Tech 3342

LRA_CASES = {
    "3342-1": ([(-20.0, 20.0), (-30.0, 20.0)], 10.0),
    "3342-2": ([(-20.0, 20.0), (-15.0, 20.0)], 5.0),
    "3342-3": ([(-40.0, 20.0), (-20.0, 20.0)], 20.0),
    "3342-4": ([(-50.0, 20.0), (-35.0, 20.0), (-20.0, 20.0), (-35.0, 20.0), (-50.0, 20.0)], 15.0),
}


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("case", sorted(LRA_CASES))
def test_3342_loudness_range(rate, case):
    segments, expected = LRA_CASES[case]
    assert LoudnessMeter(rate).loudness_range(tone(segments, rate)) == pytest.approx(expected, abs=1.0)


# ------------------------------------------------------------------- layouts and edge cases

def test_mono_reads_3_01_db_below_dual_mono():
    rate = 48000
    mono = tone([(-23.0, 10.0)], rate, channels=1)
    stereo = np.repeat(mono, 2, axis=1)
    mono_lufs = LoudnessMeter(rate).integrated(mono)
    assert mono_lufs == pytest.approx(-26.0, abs=TOLERANCE_LU)
    assert LoudnessMeter(rate).integrated(stereo) == pytest.approx(mono_lufs + 10 * math.log10(2), abs=1e-9)
    dual_mono = LoudnessMeter(rate, stem_channel_weights(1, 2)).integrated(mono)
    assert dual_mono == pytest.approx(LoudnessMeter(rate).integrated(stereo), abs=1e-9)


def test_one_dimensional_input_is_mono():
    rate = 44100
    mono = tone([(-23.0, 5.0)], rate, channels=1)
    assert LoudnessMeter(rate).integrated(mono[:, 0]) == LoudnessMeter(rate).integrated(mono)


def test_stem_channel_weights():
    np.testing.assert_array_equal(stem_channel_weights(2, 2), [1.0, 1.0])
    np.testing.assert_array_equal(stem_channel_weights(1, 2), [2.0])
    np.testing.assert_array_equal(stem_channel_weights(1, 1), [1.0])
    np.testing.assert_array_equal(stem_channel_weights(2, 6), [1.0, 1.0])
    with pytest.raises(InvalidAudioError, match="6-channel track"):
        stem_channel_weights(6, 2)


def test_silence_is_minus_infinity():
    meter = LoudnessMeter(48000)
    silence = np.zeros((48000 * 2, 2))
    assert meter.integrated(silence) == -math.inf
    assert np.all(meter.momentary(silence) == -math.inf)
    assert meter.loudness_range(silence) == 0.0
    report = meter.measure(silence)
    assert report.integrated_lufs == -math.inf and report.true_peak_dbtp == -math.inf
    assert any("silent" in note for note in report.notes)


def test_too_short_input_is_an_explicit_error():
    meter = LoudnessMeter(48000)
    short = np.ones((int(0.399 * 48000), 2)) * 0.1
    with pytest.raises(TooShortError, match="shorter than one 400 ms"):
        meter.integrated(short)
    assert meter.momentary(short).size == 0
    report = meter.measure(short)
    assert report.integrated_lufs is None and report.momentary_max_lufs is None
    assert meter.integrated(np.ones((int(0.4 * 48000), 2)) * 0.1) > -70


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_samples_are_a_clear_error(bad):
    audio = np.zeros((48000, 2))
    audio[100, 1] = bad
    with pytest.raises(InvalidAudioError, match="NaN or infinite"):
        LoudnessMeter(48000).integrated(audio)


def test_shape_and_dtype_errors():
    meter = LoudnessMeter(48000)
    with pytest.raises(InvalidAudioError, match="transpose"):
        meter.integrated(np.zeros((2, 48000)))
    with pytest.raises(InvalidAudioError, match="float"):
        meter.integrated(np.zeros((48000, 2), dtype=np.int16))
    with pytest.raises(InvalidAudioError, match="channel weights"):
        LoudnessMeter(48000, [1.0]).integrated(np.zeros((48000, 2)))


def test_measure_reports_every_reading():
    rate = 48000
    audio = tone([(-20.0, 20.0), (-30.0, 20.0)], rate)
    report = LoudnessMeter(rate).measure(audio)
    assert report.duration_s == pytest.approx(40.0)
    assert report.loudness_range_lu == pytest.approx(10.0, abs=1.0)
    assert report.momentary_max_lufs == pytest.approx(-20.0, abs=TOLERANCE_LU)
    assert report.short_term_max_lufs == pytest.approx(-20.0, abs=TOLERANCE_LU)
    assert report.sample_peak_dbfs == pytest.approx(-20.0, abs=0.01)
    assert report.true_peak_dbtp == pytest.approx(-20.0, abs=0.05)
    assert any("not stable" in note for note in report.notes)


# ------------------------------------------------------------------- agreement with pyloudnorm

def music_like(rate: int, seconds: float, seed: int) -> dict[str, np.ndarray]:
    """Pink-ish noise, a melody with rests, drum hits and a mix of them (stereo)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    white = rng.standard_normal((n, 2))
    spectrum = np.fft.rfft(white, axis=0)
    spectrum /= np.sqrt(np.maximum(np.fft.rfftfreq(n, 1 / rate), 20.0))[:, None]
    pink = np.fft.irfft(spectrum, n, axis=0)
    pink *= 0.1 / np.std(pink)
    notes = rng.choice([196.0, 220.0, 247.0, 262.0, 294.0, 330.0], size=int(seconds * 4))
    freq = np.repeat(notes, int(np.ceil(n / notes.size)))[:n]
    gate = (np.floor(t * 4) % 5 != 4) * np.exp(-3.0 * (t * 4 % 1))
    phase = 2 * np.pi * np.cumsum(freq) / rate
    melody = 0.3 * gate * sum(np.sin(k * phase) / k for k in range(1, 8))
    hits = np.zeros(n)
    hits[:: rate // 2] = 1.0
    kernel_t = np.arange(int(0.2 * rate)) / rate
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-30 * kernel_t)) * kernel_t) * np.exp(-15 * kernel_t)
    drums = 0.6 * np.convolve(hits, kick)[:n] + 0.05 * rng.standard_normal(n) * (t * 4 % 1 < 0.05)
    parts = {
        "pink": pink,
        "melody": np.stack([melody, 0.8 * melody], axis=1),
        "drums": np.stack([drums, drums], axis=1),
    }
    parts["mix"] = parts["pink"] * 0.3 + parts["melody"] + parts["drums"]
    return parts


@pytest.mark.parametrize("rate", RATES)
def test_agrees_with_pyloudnorm_on_music_like_signals(rate):
    """To 0.01 LU with pyloudnorm's exact BS.1770 K-weighting ("DeMan", the coefficients we
    use), and within its documented 0.03-0.05 LU offset with its default rounded filter."""
    for name, audio in music_like(rate, 20.0, seed=rate).items():
        ours = LoudnessMeter(rate).integrated(audio)
        exact = pyloudnorm.Meter(rate, filter_class="DeMan").integrated_loudness(audio)
        rounded = pyloudnorm.Meter(rate).integrated_loudness(audio)
        assert abs(ours - exact) <= 0.01, (name, ours, exact)
        assert 0.02 <= ours - rounded <= 0.06, (name, ours, rounded)


@pytest.mark.parametrize("channels", [1, 2, 3, 5, 6])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_energy_profiles_equal_scipy_filters_channel_by_channel(channels, dtype):
    """The fused pass over channel pairs (an odd one out, a zero weight) gives, per 100 ms
    segment, Σ weight·(K-weighted)² and Σ weight·(band(K-weighted))² as scipy computes them."""
    rate = 44100
    rng = np.random.default_rng(channels)
    audio = (0.3 * rng.standard_normal((int(1.25 * rate), channels))).astype(dtype)
    weights = rng.uniform(0.5, 1.5, channels)
    weights[-1] = 0.0 if channels == 6 else weights[-1]
    band = np.array([[0.2, 0.1, -0.1, 1.0, -0.6, 0.1]])
    full, banded = energy_profiles(audio, rate, weights, band)
    weighted = sosfilt(k_weighting_sos(rate), audio.astype(np.float64), axis=0)
    for profile, signal in ((full, weighted), (banded, sosfilt(band, weighted, axis=0))):
        bounds = profile.boundaries
        expected = [np.sum(weights * np.sum(signal[a:b] ** 2, axis=0)) for a, b in zip(bounds[:-1], bounds[1:])]
        assert len(expected) == 12
        np.testing.assert_allclose(profile.segment_energy, expected, rtol=1e-9)
    assert energy_profiles(audio, rate, weights)[1] is None


# ------------------------------------------------------------- the real EBU loudness test set

EBU_TEST_SET = os.environ.get("REAPER_AUTOMIX_EBU_TEST_SET")


def ebu_file(pattern: str) -> Path:
    """One file of the test set; v05 spells some names with a doubled .wav.wav."""
    if not EBU_TEST_SET:
        pytest.skip("set REAPER_AUTOMIX_EBU_TEST_SET to an unpacked EBU Loudness Test Set v05")
    matches = sorted(Path(EBU_TEST_SET).glob(pattern + ".wav")) + sorted(Path(EBU_TEST_SET).glob(pattern + ".wav.wav"))
    if not matches:
        pytest.fail(f"no file matching {pattern}.wav in {EBU_TEST_SET}")
    return matches[0]


def read(path: Path) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(str(path), dtype="float64", always_2d=True)
    return audio, rate


@pytest.mark.parametrize(
    ("pattern", "integrated", "lra"),
    [("seq-3341-7_seq-3342-5-24bit", -23.0, 5.0), ("seq-3341-2011-8_seq-3342-6-24bit-v02", -23.0, 15.0)],
)
def test_ebu_set_programme_material(pattern, integrated, lra):
    audio, rate = read(ebu_file(pattern))
    meter = LoudnessMeter(rate)
    assert meter.integrated(audio) == pytest.approx(integrated, abs=TOLERANCE_LU)
    assert meter.loudness_range(audio) == pytest.approx(lra, abs=1.0)


def test_ebu_set_window_alignment():
    for index in range(1, 21):
        audio, rate = read(ebu_file(f"seq-3341-10-{index}-24bit"))
        assert LoudnessMeter(rate).short_term(audio).max() == pytest.approx(-23.0, abs=TOLERANCE_LU), index
        audio, rate = read(ebu_file(f"seq-3341-13-{index}-24bit"))
        assert LoudnessMeter(rate).momentary(audio).max() == pytest.approx(-23.0, abs=TOLERANCE_LU), index


@pytest.mark.parametrize("case", [20, 21, 22, 23])
def test_ebu_set_true_peak(case):
    audio, rate = read(ebu_file(f"seq-3341-{case}-24bit"))
    assert -0.4 <= amplitude_to_db(true_peak(audio, rate)) <= 0.2


# ------------------------------------------------------------------- the analyze subcommand

def run_analyze(argv: list[str], capsys) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    analyze.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["analyze", *argv])
    code = args.run(args)
    return code, capsys.readouterr().out


def test_analyze_prints_json_with_stable_keys(tmp_path, capsys):
    rate = 48000
    path = tmp_path / "tone.wav"
    sf.write(str(path), tone([(-23.0, 10.0)], rate).astype(np.float32), rate, subtype="FLOAT")
    code, out = run_analyze([str(path), "--method", "all", "--json"], capsys)
    assert code == 0
    record = json.loads(out)
    assert set(record) == {"path", "sample_rate", "channels", "duration_s", "loudness", "cfb"}
    assert record["loudness"]["integrated_lufs"] == pytest.approx(-23.0, abs=TOLERANCE_LU)
    assert record["loudness"]["true_peak_dbtp"] == pytest.approx(-23.0, abs=0.05)
    assert set(record["cfb"]) == {"centroid", "f0", "lufs"}
    keys = {frozenset(entry) for entry in record["cfb"].values()}
    assert len(keys) == 1  # every method reports the same keys
    assert "collapsed" in record["cfb"]["centroid"]["fallback"]
    assert record["cfb"]["f0"]["f0_hz"] == pytest.approx(1000.0, rel=0.02)


def test_analyze_tables_and_silence(tmp_path, capsys):
    path = tmp_path / "silence.wav"
    sf.write(str(path), np.zeros((48000, 2), dtype=np.float32), 48000)
    code, out = run_analyze([str(path)], capsys)
    assert code == 0 and "integrated loudness" in out and "silent" in out


def test_analyze_missing_file_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(MediaError, match="not found"):
        run_analyze([str(tmp_path / "absent.wav")], capsys)
