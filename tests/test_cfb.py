"""CFB loudness (algorithms.md A.2): bands, fallbacks, pre-filter and channel layouts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import sosfilt

from reaper_automix.analysis.cfb import (
    F0_FALLBACK_BAND_HZ,
    CfbOptions,
    active_audio,
    active_frames,
    cfb_loudness,
    clamp_band,
    first_order_band_sos,
    mono_frames,
    pitch_step_ms,
    spectral_centroid_bandwidth,
)
from reaper_automix.analysis.loudness import InvalidAudioError, LoudnessMeter, stem_channel_weights
from reaper_automix.analysis.tracks import analyse_track


def harmonic(freq: float, rate: int, seconds: float = 4.0, partials: int = 6) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.2 * sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, partials + 1))).astype(np.float32)


def sine(freq: float, rate: int, seconds: float = 4.0, amplitude: float = 0.3) -> np.ndarray:
    """A sine with 10 ms fades: an abrupt start would add broadband edge frames."""
    signal = amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)
    fade = np.linspace(0.0, 1.0, int(0.01 * rate))
    signal[: fade.size] *= fade
    signal[-fade.size :] *= fade[::-1]
    return signal.astype(np.float32)


def band_noise(lo: float, hi: float, rate: int, seconds: float = 6.0, seed: int = 0) -> np.ndarray:
    """Noise with a flat magnitude spectrum between lo and hi, RMS 0.1."""
    n = int(seconds * rate)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    spectrum[(freqs < lo) | (freqs > hi)] = 0.0
    noise = np.fft.irfft(spectrum, n)
    return (0.1 * noise / noise.std()).astype(np.float32)


def stereo(mono: np.ndarray) -> np.ndarray:
    return np.stack([mono, mono], axis=1)


# ------------------------------------------------------------------------------- pre-filter

@pytest.mark.parametrize(("lo", "hi"), [(440.0, 880.0), (80.0, 12000.0), (3000.0, 3300.0)])
def test_prefilter_matches_pedalboard_first_order_filters(lo, hi):
    pedalboard = pytest.importorskip("pedalboard")
    rate = 44100
    noise = np.random.default_rng(1).standard_normal(rate).astype(np.float32) * 0.1
    board = pedalboard.Pedalboard(
        [pedalboard.HighpassFilter(cutoff_frequency_hz=lo), pedalboard.LowpassFilter(cutoff_frequency_hz=hi)]
    )
    theirs = board(noise[None, :], rate)[0]
    ours = sosfilt(first_order_band_sos(lo, hi, rate), noise.astype(np.float64))
    np.testing.assert_allclose(ours, theirs, atol=2e-5)


def test_prefilter_is_3_db_down_at_each_cutoff_alone():
    rate = 48000
    sos = first_order_band_sos(1.0, 2000.0, rate)  # low-pass at 2 kHz, high-pass far below
    n = np.arange(rate)
    gains = []
    for freq in (2000.0, 20000.0):
        tone = np.sin(2 * np.pi * freq * n / rate)
        out = sosfilt(sos, tone)[rate // 2 :]
        gains.append(20 * np.log10(np.sqrt(2) * out.std()))
    assert gains[0] == pytest.approx(-3.01, abs=0.05)
    assert gains[1] < -10.0


# ------------------------------------------------------------------------------ centroid band

def test_pure_sine_collapses_to_full_band_loudness():
    rate = 44100
    audio = stereo(sine(1000.0, rate, 10.0))
    result = cfb_loudness(audio, rate, "centroid")
    assert result.centroid_hz == pytest.approx(1000.0, abs=2.0)
    assert result.bandwidth_hz < 40.0  # the Hann window's own spread: about 33 Hz
    assert result.band_hz is None and "collapsed" in result.fallback
    assert result.loudness_lufs == result.full_band_lufs == LoudnessMeter(rate).integrated(audio)


@pytest.mark.parametrize(("lo", "hi"), [(1000.0, 3000.0), (2000.0, 8000.0), (4000.0, 12000.0)])
def test_noise_band_has_the_centroid_and_spread_of_a_flat_spectrum(lo, hi):
    rate = 44100
    centroid, bandwidth, frames = spectral_centroid_bandwidth(mono_frames(band_noise(lo, hi, rate)), rate)
    assert frames > 0
    assert centroid == pytest.approx((lo + hi) / 2, rel=0.02)
    assert bandwidth == pytest.approx((hi - lo) / math.sqrt(12), rel=0.06)


def test_white_noise_centroid_is_a_quarter_of_the_rate():
    rate = 48000
    noise = np.random.default_rng(3).standard_normal(rate * 4).astype(np.float32) * 0.1
    centroid, bandwidth, _ = spectral_centroid_bandwidth(mono_frames(noise), rate)
    assert centroid == pytest.approx(rate / 4, rel=0.01)
    assert bandwidth == pytest.approx(rate / 2 / math.sqrt(12), rel=0.01)


def test_centroid_and_bandwidth_are_librosas_over_the_selected_frames():
    """librosa's defaults, written out in float64: 2048-sample periodic Hann frames every 512
    samples, centred with zero padding, magnitude spectrum, p = 2, silent frames 0 Hz; averaged
    over the selected frames."""
    rate = 44100
    rng = np.random.default_rng(8)
    signal = (rng.standard_normal(rate * 3) * np.linspace(0.01, 1.0, rate * 3)).astype(np.float32)
    signal[rate : rate + 20000] = 0.0
    mono = mono_frames(signal)
    selected = rng.random(mono.n_frames) < 0.7
    padded = np.pad(signal.astype(np.float64), 1024)
    frames = np.lib.stride_tricks.sliding_window_view(padded, 2048)[::512]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(2048) / 2048)
    magnitude = np.abs(np.fft.rfft(frames * window, axis=1))
    freqs = np.arange(1025) * rate / 2048
    total = magnitude.sum(axis=1)
    silent = total == 0
    assert silent.sum() > 10 and frames.shape[0] == mono.n_frames
    centroid = (magnitude @ freqs) / np.where(silent, 1.0, total)
    bandwidth = np.sqrt((magnitude * (freqs - centroid[:, None]) ** 2).sum(axis=1) / np.where(silent, 1.0, total))
    mean_centroid, mean_bandwidth, used = spectral_centroid_bandwidth(mono, rate, selected)
    assert used == selected.sum()
    assert mean_centroid == pytest.approx(centroid[selected].mean(), rel=1e-5)
    assert mean_bandwidth == pytest.approx(bandwidth[selected].mean(), rel=1e-5)


def test_centroid_band_loudness_measures_the_prefiltered_track():
    rate = 44100
    audio = stereo(band_noise(1000.0, 3000.0, rate))
    result = cfb_loudness(audio, rate, "centroid")
    lo, hi = result.band_hz
    assert lo == pytest.approx(result.centroid_hz - result.bandwidth_hz / 2)
    assert hi == pytest.approx(result.centroid_hz + result.bandwidth_hz / 2)
    expected = LoudnessMeter(rate).integrated(audio, prefilter=first_order_band_sos(lo, hi, rate))
    assert result.loudness_lufs == pytest.approx(expected, abs=1e-6)  # band filter after K: same LTI chain
    assert result.loudness_lufs < result.full_band_lufs == LoudnessMeter(rate).integrated(audio)
    assert result.fallback is None


def test_silent_frames_do_not_drag_the_centroid_down():
    rate = 44100
    burst = band_noise(1000.0, 3000.0, rate, seconds=5.0)
    audio = np.concatenate([burst, np.zeros(15 * rate, dtype=np.float32)])
    active = cfb_loudness(audio, rate, "centroid")
    authors = cfb_loudness(audio, rate, "centroid", options=CfbOptions(centroid_frames="all"))
    assert active.centroid_hz == pytest.approx(2000.0, rel=0.02)
    assert authors.centroid_hz == pytest.approx(2000.0 * 5 / 20, rel=0.05)


def test_activity_gate_uses_the_peak_relative_floor_and_the_50_db_range():
    rate = 44100
    loud = sine(1000.0, rate, 2.0, amplitude=0.5)
    within = sine(1000.0, rate, 2.0, amplitude=0.5 * 10 ** (-40 / 20))
    below_range = sine(1000.0, rate, 2.0, amplitude=0.5 * 10 ** (-55 / 20))
    frames = active_frames(mono_frames(np.concatenate([loud, within, below_range])))
    third = frames.size // 3
    assert frames[10 : third - 10].all()
    assert frames[third + 10 : 2 * third - 10].all()
    assert not frames[2 * third + 10 : -10].any()
    # a burst with a 0 dBFS click: frames under peak - 60 dB are out even within the 50 dB range
    burst = np.concatenate([sine(1000.0, rate, 1.0, amplitude=10 ** (-15 / 20)),
                            sine(1000.0, rate, 1.0, amplitude=10 ** (-60 / 20))])
    burst[rate // 2] = 1.0
    gated = active_frames(mono_frames(burst))
    half = gated.size // 2
    assert gated[10 : half - 10].all() and not gated[half + 10 : -10].any()


def test_activity_gate_does_not_depend_on_the_input_gain():
    rate = 44100
    rng = np.random.default_rng(3)
    hits = rng.standard_normal(3 * rate) * np.exp(-np.arange(3 * rate) % (rate // 2) / 2000.0)
    reference = active_frames(mono_frames(0.5 * hits))
    for gain_db in (-40.0, -12.0, 6.0):
        assert np.array_equal(active_frames(mono_frames(0.5 * 10 ** (gain_db / 20) * hits)),
                              reference)


def test_band_limits():
    assert clamp_band(-50.0, 300.0, 44100) == (1.0, 300.0)
    assert clamp_band(10_000.0, 30_000.0, 44100) == (10_000.0, 0.45 * 44100)
    assert clamp_band(10_000.0, 30_000.0, 96000) == (10_000.0, 22_000.0)
    assert clamp_band(1000.0, 1049.0, 44100) is None
    assert clamp_band(21_000.0, 30_000.0, 44100) is None


def test_band_loudness_under_the_gate_falls_back_to_full_band():
    rate = 44100
    rumble = stereo(sine(5.0, rate, 6.0, amplitude=0.01))  # loud frames, inaudible to K-weighting
    result = cfb_loudness(rumble, rate, "centroid")
    assert result.band_hz is None and "below the -70 LUFS gate" in result.fallback
    assert result.loudness_lufs == LoudnessMeter(rate).integrated(rumble)


# ----------------------------------------------------------------------------------- f0 band

def test_220_hz_harmonic_tone_gives_the_octave_above_as_band():
    rate = 44100
    result = cfb_loudness(stereo(harmonic(220.0, rate)), rate, "f0")
    assert result.f0_hz == pytest.approx(220.0, rel=0.02)
    lo, hi = result.band_hz
    assert lo == pytest.approx(440.0, rel=0.02) and hi == pytest.approx(880.0, rel=0.02)
    assert result.fallback is None and result.pitch_frames >= 10


def test_unpitched_noise_uses_the_documented_fallback_band():
    rate = 44100
    noise = np.random.default_rng(5).standard_normal((rate * 4, 2)).astype(np.float32) * 0.1
    result = cfb_loudness(noise, rate, "f0")
    assert result.f0_hz is None
    assert result.band_hz == F0_FALLBACK_BAND_HZ
    assert "fallback band 50-10000 Hz" in result.fallback
    expected = LoudnessMeter(rate).integrated(noise, prefilter=first_order_band_sos(50.0, 10_000.0, rate))
    assert result.loudness_lufs == pytest.approx(expected, abs=1e-6)


def test_pitch_step_doubles_until_the_frame_cap_holds():
    options = CfbOptions(f0_step_ms=10.0, f0_max_frames=100)
    assert pitch_step_ms(0.9, options) == 10.0
    assert pitch_step_ms(1.5, options) == 20.0
    assert pitch_step_ms(180.0, options) == 2560.0
    assert pitch_step_ms(180.0, CfbOptions(f0_max_frames=None)) == 10.0


def test_f0_ignores_silence_between_notes():
    rate = 44100
    gap = np.zeros(rate * 3, dtype=np.float32)
    audio = np.concatenate([gap, harmonic(330.0, rate, 2.0), gap, harmonic(330.0, rate, 2.0), gap])
    result = cfb_loudness(audio, rate, "f0")
    assert result.f0_hz == pytest.approx(330.0, rel=0.02)
    mono = mono_frames(audio)
    excerpt = active_audio(mono, active_frames(mono))
    assert 3.9 * rate < excerpt.size < 4.2 * rate


def test_f0_of_a_track_active_for_a_few_milliseconds_falls_back_instead_of_failing():
    """Found on an LMMS song: 1,280 active samples made PESTO's CQT padding fail."""
    rate = 44100
    audio = np.zeros(rate * 3, dtype=np.float32)
    audio[rate : rate + 1280] = harmonic(330.0, rate, 1280 / rate)[:1280]
    result = cfb_loudness(audio, rate, "f0")
    assert result.f0_hz is None and result.pitch_frames == 0
    assert "fallback band 50-10000 Hz" in result.fallback


# ------------------------------------------------------------------- layouts, rates, edge cases

def test_mono_track_is_measured_as_dual_mono_on_a_stereo_stem():
    rate = 44100
    mono = band_noise(500.0, 2000.0, rate)[:, None]
    as_mono = cfb_loudness(mono, rate, "centroid")
    on_stereo_bus = cfb_loudness(mono, rate, "centroid", channel_weights=stem_channel_weights(1, 2))
    duplicated = cfb_loudness(stereo(mono[:, 0]), rate, "centroid")
    assert on_stereo_bus.band_hz == as_mono.band_hz == duplicated.band_hz
    assert on_stereo_bus.loudness_lufs == pytest.approx(as_mono.loudness_lufs + 10 * math.log10(2), abs=1e-9)
    assert on_stereo_bus.loudness_lufs == pytest.approx(duplicated.loudness_lufs, abs=1e-6)


def test_stereo_band_comes_from_the_channel_average():
    rate = 44100
    left, right = band_noise(1000.0, 2000.0, rate, seed=1), band_noise(3000.0, 4000.0, rate, seed=2)
    result = cfb_loudness(np.stack([left, right], axis=1), rate, "centroid")
    assert result.centroid_hz == pytest.approx(2500.0, rel=0.03)


def test_six_channel_track_excludes_the_lfe():
    rate = 48000
    content = band_noise(1000.0, 3000.0, rate)
    silent = np.zeros_like(content)
    with_lfe = np.stack([content, content, silent, sine(60.0, rate, 6.0, 0.9), silent, silent], axis=1)
    without = with_lfe.copy()
    without[:, 3] = 0.0
    assert cfb_loudness(with_lfe, rate, "lufs").loudness_lufs == pytest.approx(
        cfb_loudness(without, rate, "lufs").loudness_lufs, abs=1e-9
    )


@pytest.mark.parametrize("rate", [22050, 32000, 96000])
def test_odd_sample_rates_give_the_same_bands(rate):
    centroid = cfb_loudness(stereo(band_noise(1000.0, 3000.0, rate)), rate, "centroid")
    assert centroid.centroid_hz == pytest.approx(2000.0, rel=0.02)
    f0 = cfb_loudness(stereo(harmonic(220.0, rate)), rate, "f0")
    assert f0.band_hz[0] == pytest.approx(440.0, rel=0.02)


def test_silent_track_is_inactive_not_an_error():
    rate = 44100
    for method in ("centroid", "f0", "lufs"):
        analysis = analyse_track(np.zeros((rate * 3, 2), dtype=np.float32), rate, method, name="Pad")
        assert not analysis.active and analysis.inactive_reason == "silent"
    result = cfb_loudness(np.zeros((rate * 3, 2), dtype=np.float32), rate, "centroid")
    assert result.loudness_lufs == -math.inf and "no active frame" in result.fallback


def test_nan_track_is_a_clear_error_naming_the_track():
    audio = np.zeros((44100 * 3, 2), dtype=np.float32)
    audio[5, 0] = np.nan
    with pytest.raises(InvalidAudioError, match="'Kick'.*NaN"):
        analyse_track(audio, 44100, "centroid", name="Kick")


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="unknown CFB method"):
        cfb_loudness(np.zeros((44100, 2)), 44100, "rms")
