"""Behaviour of the three emulations from first principles (the golden tests compare them with
the real plug-ins; these run everywhere)."""

from __future__ import annotations

import numpy as np
import pytest

from reaper_automix.iem import process
from reaper_automix.iem.fdnreverb import delay_lengths
from reaper_automix.iem.multieq import sections
from reaper_automix.iem.omnicompressor import lookahead_delay

RATE = 48000
ALL_OFF = {f"filterEnabled{band}": 0 for band in range(6)}


def noise(seconds: float = 0.5, channels: int = 2, seed: int = 0, scale: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((int(seconds * RATE), channels)) * scale).astype(np.float32)


def response_db(params: dict, frequencies: list[float], rate: int = RATE) -> np.ndarray:
    """Magnitude response of the MultiEQ emulation at the given frequencies (from its IR)."""
    impulse = np.zeros((1 << 16, 1), np.float32)
    impulse[0] = 1.0
    spectrum = np.fft.rfft(process("MultiEQ", params, impulse, rate)[:, 0].astype(np.float64))
    bins = np.fft.rfftfreq(impulse.shape[0], 1 / rate)
    return 20 * np.log10(np.abs(np.interp(frequencies, bins, spectrum)))


# --------------------------------------------------------------------------------- MultiEQ
def test_multieq_all_bands_off_is_an_exact_identity() -> None:
    audio = noise()
    assert np.array_equal(process("MultiEQ", ALL_OFF, audio, RATE), audio)


def test_multieq_zero_db_bands_are_skipped_as_exact_identities() -> None:
    assert sections({}, RATE).shape == (1, 5)  # the default: only band 1's 20 Hz high-pass
    audio = noise()
    flat = {"filterEnabled0": 0}
    assert np.array_equal(process("MultiEQ", flat, audio, RATE), audio)


def test_multieq_default_is_not_transparent_below_40_hz() -> None:
    low, mid = response_db({}, [10.0, 1000.0])
    assert low < -6.0 and abs(mid) < 0.01


@pytest.mark.parametrize(("band_type", "gain_at", "expected_db"), [
    (0, 1000.0, -3.0103),  # first-order HP: −3 dB at the cut-off
    (1, 1000.0, 20 * np.log10(2.0)),  # second-order HP: |H(fc)| = Q
    (2, 1000.0, 40 * np.log10(2.0)),  # two identical sections with the user's Q
])
def test_multieq_high_pass_orders(band_type: int, gain_at: float, expected_db: float) -> None:
    params = {**ALL_OFF, "filterEnabled0": 1, "filterType0": band_type,
              "filterFrequency0": 1000, "filterQ0": 2.0}
    assert response_db(params, [gain_at])[0] == pytest.approx(expected_db, abs=0.02)


@pytest.mark.parametrize(("band_type", "probe", "expected_db"), [
    (0, 20.0, 9.0),  # low shelf: full gain at DC
    (1, 2000.0, 9.0),  # peak: full gain at the centre
    (2, 23990.0, 9.0),  # high shelf: full gain at Nyquist
])
def test_multieq_middle_band_types(band_type: int, probe: float, expected_db: float) -> None:
    params = {**ALL_OFF, "filterEnabled3": 1, "filterType3": band_type,
              "filterFrequency3": 2000, "filterQ3": 0.7, "filterGain3": 9.0}
    assert response_db(params, [probe])[0] == pytest.approx(expected_db, abs=0.05)
    if band_type != 1:  # shelves: half the dB gain at the corner frequency
        assert response_db(params, [2000.0])[0] == pytest.approx(4.5, abs=0.05)


def test_multieq_last_band_low_pass_and_channel_setting() -> None:
    params = {**ALL_OFF, "filterEnabled5": 1, "filterType5": 1, "filterFrequency5": 4000,
              "filterQ5": 0.7, "inputChannelsSetting": 1}
    assert response_db(params, [4000.0])[0] == pytest.approx(20 * np.log10(0.7), abs=0.02)
    audio = noise()
    out = process("MultiEQ", params, audio, RATE)
    assert np.array_equal(out[:, 1], audio[:, 1]) and not np.array_equal(out[:, 0], audio[:, 0])


@pytest.mark.parametrize("rate", [22050, 44100, 96000])
def test_multieq_frequencies_above_nyquist_are_clamped(rate: int) -> None:
    params = {"filterType0": 2, "filterFrequency0": 20000, "filterType5": 0,
              "filterFrequency5": 20000, "filterGain2": 15, "filterQ2": 8}
    out = process("MultiEQ", params, noise(0.2), rate)
    assert np.all(np.isfinite(out))


# --------------------------------------------------------------------------------- OmniCompressor
def static_gain_db(level_db: float, threshold: float, ratio: float, knee: float,
                   makeup: float) -> float:
    slope = -1.0 if ratio > 15.9 else 1.0 / ratio - 1.0
    over = level_db - threshold
    if over <= -knee / 2:
        reduction = 0.0
    elif over <= knee / 2:
        reduction = slope * (over + knee / 2) ** 2 / (2 * knee)
    else:
        reduction = slope * over
    return reduction + makeup


@pytest.mark.parametrize(("level", "threshold", "ratio", "knee", "makeup"), [
    (-6.0, -20.0, 4.0, 0.0, 0.0),
    (-6.0, -20.0, 16.0, 0.0, 3.0),
    (-18.0, -20.0, 2.0, 10.0, 0.0),
    (-25.0, -20.0, 8.0, 6.0, 0.0),
    (-30.0, -20.0, 8.0, 6.0, 1.5),
])
def test_compressor_reaches_its_static_curve(level, threshold, ratio, knee, makeup) -> None:
    amplitude = 10 ** (level / 20)
    audio = np.full((RATE, 2), amplitude, np.float32)
    params = {"threshold": threshold, "ratio": ratio, "knee": knee, "outGain": makeup,
              "attack": 1.0, "release": 1.0}
    out = process("OmniCompressor", params, audio, RATE)
    gain_db = 20 * np.log10(out[-1] / amplitude)
    expected = static_gain_db(level, threshold, round(ratio / 0.2) * 0.2, knee, makeup)
    assert gain_db == pytest.approx([expected, expected], abs=0.01)


def test_compressor_attack_is_a_one_pole_on_the_reduction() -> None:
    audio = np.full((RATE // 2, 1), 1.0, np.float32)  # 0 dBFS, 20 dB over a −20 dB threshold
    out = process("OmniCompressor", {"threshold": -20, "ratio": 16, "attack": 10.0}, audio, RATE)
    alpha = 1 - np.exp(-1 / (RATE * 0.01))
    n = np.arange(1, 2001)
    expected = -20.0 * (1 - (1 - alpha) ** n)
    assert 20 * np.log10(out[:2000, 0]) == pytest.approx(expected, abs=1e-3)


def test_compressor_keys_on_the_left_channel_only() -> None:
    audio = np.zeros((RATE // 4, 2), np.float32)
    audio[:, 1] = 0.9
    out = process("OmniCompressor", {"threshold": -30, "ratio": 10}, audio, RATE)
    assert np.array_equal(out, audio)


def test_compressor_channel_layouts() -> None:
    audio = noise(0.5, scale=0.5)
    params = {"threshold": -30, "ratio": 8, "attack": 0.0}
    wide = process("OmniCompressor", params, audio, RATE)
    narrow = process("OmniCompressor", params, audio, RATE, host_channels=2)
    assert np.array_equal(wide[:, 0], narrow[:, 0])
    assert np.array_equal(narrow[:, 1], audio[:, 1])
    gain = wide[:, 0] / audio[:, 0]
    assert np.allclose(wide[:, 1], audio[:, 1] * gain, rtol=1e-5, atol=1e-9)
    only_first = process("OmniCompressor", {**params, "orderSetting": 1}, audio, RATE)
    assert np.array_equal(only_first[:, 1], audio[:, 1])


@pytest.mark.parametrize(("rate", "delay"), [(44100, 220), (48000, 239), (88200, 440),
                                             (96000, 479), (192000, 959)])
def test_lookahead_delay(rate: int, delay: int) -> None:
    assert lookahead_delay(rate) == delay


def test_lookahead_delays_all_channels_and_ramps_before_onsets() -> None:
    audio = np.zeros((RATE // 2, 2), np.float32)
    audio[RATE // 4 :, 0] = 1.0
    audio[:, 1] = 0.01
    delay = lookahead_delay(RATE)
    params = {"lookAhead": 1, "threshold": -20, "ratio": 16, "attack": 0.0}
    out = process("OmniCompressor", params, audio, RATE, block_size=512, host_channels=2)
    assert np.array_equal(out[delay:, 1], audio[:-delay, 1]) and not out[:delay].any()
    gain_db = 20 * np.log10(np.maximum(out[:, 0], 1e-12))
    onset = RATE // 4 + delay
    assert gain_db[onset] == pytest.approx(-20.0, abs=1e-3)  # full reduction already at onset
    quiet = process("OmniCompressor", {"lookAhead": 1, "threshold": 10}, audio, RATE)
    assert np.array_equal(quiet[delay:], audio[:-delay])


# --------------------------------------------------------------------------------- FdnReverb
@pytest.mark.parametrize(("rate", "room", "lines", "first", "last"), [
    (48000, 1, 64, [24, 33, 52, 62, 81], 1521),
    (48000, 20, 64, [33, 62, 110, 177, 225], 25252),
    (48000, 30, 64, [52, 91, 177, 254, 350], 39979),
    (48000, 20, 16, [33, 81, 148, 254, 398], 4862),
    (44100, 20, 64, [30, 57, 101, 163, 207], 23201),
])
def test_fdn_delay_lengths(rate, room, lines, first, last) -> None:
    lengths = delay_lengths(room, lines, rate)
    assert list(lengths[:5]) == first and lengths[-1] == last and len(lengths) == lines


def test_fdn_dry_only_is_an_exact_identity() -> None:
    audio = noise(0.3)
    assert np.array_equal(process("FdnReverb", {"dryWet": 0}, audio, RATE), audio)


def test_fdn_fresh_instance_plays_default_rev_time_at_three_seconds() -> None:
    audio = noise(0.3)
    fresh = process("FdnReverb", {"revTime": 5.0}, audio, RATE)
    assert np.array_equal(fresh, process("FdnReverb", {"revTime": 3.0}, audio, RATE))
    applied = process("FdnReverb", {"revTime": 5.0}, audio, RATE, fresh_instance=False)
    assert not np.array_equal(applied, fresh)


@pytest.mark.parametrize("rev_time", [0.5, 1.0, 2.0])
def test_fdn_decays_by_60_db_in_rev_time(rev_time: float) -> None:
    impulse = np.zeros((int(RATE * 1.5 * rev_time), 2), np.float32)
    impulse[0] = 1.0
    params = {"revTime": rev_time, "lowGain": 0, "highGain": 0, "dryWet": 1, "delayLength": 10}
    tail = process("FdnReverb", params, impulse, RATE).astype(np.float64)
    energy = np.convolve((tail**2).sum(1), np.ones(2048) / 2048, mode="valid")
    t = np.arange(energy.size) / RATE
    window = (t > 0.2 * rev_time) & (t < 1.2 * rev_time)
    slope = np.polyfit(t[window], 10 * np.log10(energy[window]), 1)[0]
    assert slope == pytest.approx(-60.0 / rev_time, rel=0.03)


def test_fdn_fade_in_removes_the_direct_sound() -> None:
    impulse = np.zeros((RATE // 2, 2), np.float32)
    impulse[100, 0] = 1.0
    plain = process("FdnReverb", {"dryWet": 1}, impulse, RATE)
    faded = process("FdnReverb", {"dryWet": 1, "fadeInTime": 0.02}, impulse, RATE)
    assert plain[100, 0] > 0.99 and abs(faded[100, 0]) < 1e-6
    assert np.abs(faded[RATE // 4 :]).max() > 0.1 * np.abs(plain[RATE // 4 :]).max()


def test_fdn_channels_beyond_the_lines_are_silent() -> None:
    audio = noise(0.1, channels=20)
    out = process("FdnReverb", {"fdnSize": 0}, audio, RATE)
    assert not out[:, 16:].any() and out[:, :16].any()
    with pytest.raises(ValueError, match="64 channels"):
        process("FdnReverb", {}, noise(0.01, channels=65), RATE)


# --------------------------------------------------------------------------------- entry point
@pytest.mark.parametrize("plugin", ["MultiEQ", "OmniCompressor", "FdnReverb"])
def test_process_is_stateless_and_keeps_the_shape(plugin: str) -> None:
    mono = noise(0.2, channels=1)[:, 0].astype(np.float64)
    first = process(plugin, {}, mono, RATE)
    assert first.shape == mono.shape and first.dtype == np.float32
    assert np.array_equal(first, process(plugin, {}, mono, RATE))
    assert process(plugin, {}, np.zeros((0, 2)), RATE).shape == (0, 2)


def test_process_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="NaN"):
        process("MultiEQ", {}, np.full((10, 2), np.nan), RATE)
    with pytest.raises(ValueError, match="shape"):
        process("MultiEQ", {}, np.zeros((2, 3, 4)), RATE)
    with pytest.raises(KeyError, match="threshold"):
        process("FdnReverb", {"threshold": 1.0}, noise(0.01), RATE)
    with pytest.raises(ValueError, match="not one of the supported"):
        process("ReaComp", {}, noise(0.01), RATE)
    with pytest.raises(TypeError):
        process("MultiEQ", {}, noise(0.01), RATE, block_size=64)
