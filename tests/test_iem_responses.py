"""What the report plots for the IEM plug-ins agrees with what the emulations do to audio:
MultiEQ's magnitude response, OmniCompressor's static curve and gain reduction, FdnReverb's
T60 against frequency (iem.md 6, 7.2, 8.3)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfilt

from reaper_automix.iem import fdnreverb, multieq, omnicompressor, process

SR = 48000

EQ_CASES = {
    "default": {},
    "every type": {
        "filterType0": 2, "filterFrequency0": 45, "filterQ0": 0.9,  # 24 dB/oct high-pass
        "filterType1": 0, "filterFrequency1": 150, "filterGain1": 4.0, "filterQ1": 0.8,
        "filterType2": 1, "filterFrequency2": 900, "filterGain2": -9.0, "filterQ2": 4.0,
        "filterType3": 1, "filterFrequency3": 3000, "filterGain3": 6.0, "filterQ3": 0.5,
        "filterType4": 2, "filterFrequency4": 9000, "filterGain4": -3.0,
        "filterType5": 1, "filterFrequency5": 16000, "filterQ5": 1.2,  # 12 dB/oct low-pass
    },
    "first order, band 4 off": {"filterType0": 0, "filterFrequency0": 100, "filterType5": 0,
                                "filterFrequency5": 5000, "filterEnabled3": 0,
                                "filterGain3": 12.0},
}


@pytest.mark.parametrize("case", EQ_CASES)
def test_multieq_response_is_the_emulation_s_transfer_function(case: str) -> None:
    params = EQ_CASES[case]
    impulse = np.zeros((1 << 17, 1), np.float32)
    impulse[0] = 1.0
    measured_spectrum = np.fft.rfft(multieq.process(params, impulse, SR)[:, 0].astype(np.float64))
    frequencies = np.fft.rfftfreq(impulse.shape[0], 1.0 / SR)
    band = (frequencies >= 30.0) & (frequencies <= 18_000.0)
    with np.errstate(divide="ignore"):
        measured = 20 * np.log10(np.abs(measured_spectrum[band]))
    predicted = multieq.frequency_response(params, frequencies[band], SR)
    above = predicted > -60.0  # float32 noise decides the stop band
    # the float32 filter states round most near the 20-45 Hz high-pass poles: 0.03 dB at 30 Hz
    assert np.max(np.abs(measured[above] - predicted[above])) < 0.05


def test_multieq_response_at_the_documented_points() -> None:
    peak = {"filterType2": 1, "filterFrequency2": 1000, "filterGain2": -9.0, "filterQ2": 2.0}
    assert multieq.frequency_response(peak, np.array([1000.0]), SR)[0] == pytest.approx(
        -9.0, abs=0.05)
    shelf = {"filterType1": 0, "filterFrequency1": 200, "filterGain1": 6.0}
    at = multieq.frequency_response(shelf, np.array([200.0, 21.0]), SR)
    assert at[0] == pytest.approx(3.0, abs=0.1)  # half the dB gain at the corner
    assert at[1] == pytest.approx(6.0 + multieq.frequency_response({}, [21.0], SR)[0], abs=0.3)


COMPRESSORS = [
    {"threshold": -20.0, "ratio": 4.0, "knee": 0.0, "outGain": 3.0},
    {"threshold": -30.0, "ratio": 16.0, "knee": 12.0, "outGain": 0.0},  # ∞:1, soft knee
    {"threshold": -10.0, "ratio": 2.0, "knee": 30.0, "outGain": -5.0},
]


@pytest.mark.parametrize("params", COMPRESSORS)
def test_compressor_static_curve_is_the_emulation_s_steady_state(params: dict) -> None:
    """A constant input level (DC, so the per-sample detector reads one level) settles where
    the curve says."""
    levels = np.array([-60.0, -36.0, -31.0, -25.0, -20.0, -16.0, -4.0, 0.0])
    settings = {**params, "attack": 1.0, "release": 1.0}
    for level in levels:
        dc = np.full((SR // 5, 2), 10 ** (level / 20), np.float32)
        out = process("OmniCompressor", settings, dc, SR)
        settled = 20 * np.log10(abs(float(out[-1, 0])))
        assert settled == pytest.approx(omnicompressor.static_curve(params, [level])[0], abs=0.01)


def test_gain_reduction_is_what_process_applies() -> None:
    rng = np.random.default_rng(2)
    audio = (0.3 * rng.standard_normal((SR, 2)) * np.linspace(0, 1, SR)[:, None]).astype(np.float32)
    for look_ahead in (0, 1):
        params = {"threshold": -25.0, "ratio": 6.0, "attack": 5.0, "release": 80.0,
                  "outGain": 2.0, "lookAhead": look_ahead}
        reduction = omnicompressor.gain_reduction(params, audio, SR)
        assert reduction.shape == (SR,) and reduction.max() <= 0.0 and reduction.min() < -6.0
        delay = omnicompressor.lookahead_delay(SR) if look_ahead else 0
        delayed = np.concatenate([np.zeros((delay, 2), np.float32), audio])[:SR]
        expected = delayed * 10 ** ((reduction[:, None] + 2.0) / 20)
        np.testing.assert_allclose(process("OmniCompressor", params, audio, SR), expected,
                                   atol=1e-6)


def test_reverb_decay_time_matches_the_plug_in_display() -> None:
    """iem.md 8.3: the defaults (RT 5 s, +1 dB/s lows, −10 dB/s highs) read about 5.45 s low and
    2.73 s high; a fresh instance runs the default at 3 s (the revTime quirk)."""
    ends = np.array([20.0, 20_000.0])
    low, high = fdnreverb.decay_time({}, ends, SR, fresh_instance=False)
    assert low == pytest.approx(5.45, abs=0.03) and high == pytest.approx(2.73, abs=0.03)
    fresh = fdnreverb.decay_time({}, ends, SR)
    assert fresh[0] == pytest.approx(60 / (60 / 3.0 - 1.0), rel=0.01)
    flat = fdnreverb.decay_time({"revTime": 2.0, "lowGain": 0.0, "highGain": 0.0},
                                np.geomspace(20, 20_000, 9), SR)
    np.testing.assert_allclose(flat, 2.0, rtol=1e-3)


def test_reverb_decay_time_matches_the_emulation_s_decay() -> None:
    """The slope of the emulation's impulse-response energy (Schroeder integral, −5 to −35 dB)
    in an octave band gives the T60 the plot shows, within 10 %, where the shelves make lows
    and highs decay differently."""
    params = {"revTime": 1.2, "lowGain": 0.0, "highGain": -30.0, "highCutoff": 2000,
              "dryWet": 1.0, "fadeInTime": 0.02}
    impulse = np.zeros((int(1.6 * SR), 1), np.float32)
    impulse[0] = 1.0
    response = process("FdnReverb", params, impulse, SR)[:, 0].astype(np.float64)
    centres = np.array([250.0, 8000.0])
    predicted = fdnreverb.decay_time(params, centres, SR)
    assert predicted[1] < 0.7 * predicted[0]
    for centre, expected in zip(centres, predicted):
        octave = butter(4, [centre / np.sqrt(2), centre * np.sqrt(2)], "bandpass", fs=SR,
                        output="sos")
        energy = sosfilt(octave, response) ** 2
        decay = 10 * np.log10(np.cumsum(energy[::-1])[::-1] / energy.sum() + 1e-30)
        start, stop = np.argmax(decay < -5.0), np.argmax(decay < -35.0)
        measured = 60.0 / ((decay[start] - decay[stop]) / ((stop - start) / SR))
        assert measured == pytest.approx(expected, rel=0.10), centre
