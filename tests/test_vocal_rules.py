"""Li & Lerch's vocal rules (algorithms.md C.3 [product]) and the analysis under them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import sosfilt, sosfreqz

from reaper_automix.analysis.bands import (
    OCTAVE_CENTRES_HZ,
    gate_by_vocal,
    octave_band_levels,
    octave_bandpass,
    usable_centres,
)
from reaper_automix.analysis.loudness import LoudnessMeter
from reaper_automix.analysis.tempo import estimate_tempo
from reaper_automix.decisions import vocal_rules
from reaper_automix.decisions.vocal_rules import (
    LRA_TARGET_LU,
    compression_search,
    masking_filters,
    tempo_reverb_time,
)

SR = 44100


def test_octave_bands_are_designed_in_hz_not_normalised():
    """The authors' defect put every band below 1 Hz; ours pass their centre at ~0 dB."""
    for fc in OCTAVE_CENTRES_HZ[:-1]:
        _, h = sosfreqz(octave_bandpass(fc, SR), worN=[fc, fc / 4, min(fc * 4, 0.49 * SR)],
                        fs=SR)
        gain = 20 * np.log10(np.abs(h))
        assert abs(gain[0]) < 0.5 and gain[1] < -20 and gain[2] < -20


def test_band_levels_equal_time_domain_filtering():
    x = np.random.default_rng(0).standard_normal(SR * 2)
    levels = octave_band_levels(x, SR)
    for fc, level in zip(OCTAVE_CENTRES_HZ, levels):
        y = sosfilt(octave_bandpass(fc, SR), x)
        expected = 20 * math.log10(math.sqrt(np.mean(y**2)) / (fc * (2**0.5 - 2**-0.5)))
        assert level == pytest.approx(expected, abs=0.05)  # the start transient


def test_upper_edge_clamped_and_bands_above_nyquist_dropped():
    assert usable_centres(44100) == OCTAVE_CENTRES_HZ
    assert 16000.0 not in usable_centres(22050)


def test_gate_keeps_blocks_where_the_vocal_is_above_minus_30_dbfs():
    vocal = np.concatenate([np.full(SR, 0.1), np.full(SR, 0.01)])  # −20 dBFS, then −40 dBFS
    backing = np.arange(2 * SR, dtype=float)
    gated = gate_by_vocal(vocal, backing, SR)
    assert gated.kept_blocks == 10 and gated.total_blocks == 20
    np.testing.assert_array_equal(gated.backing, backing[:SR])


def test_masking_filters_cut_backing_bands_and_boost_masked_vocal_bands():
    centres = OCTAVE_CENTRES_HZ
    e_v = np.array([-90, -80, -40, -35, -30, -32, -38, -45, -60], float)
    e_b = np.array([-30, -32, -40, -45, -50, -40, -45, -50, -70], float)
    chosen, analysis = masking_filters(e_v, e_b, centres)
    d = e_b - e_v
    d -= d.mean()
    assert analysis["backing_essential_hz"] == [63.0, 125.0]
    expected = {63.0: d[0], 125.0: d[1]}  # backing-only bands where the vocal is relatively loud
    for k in range(9):  # vocal-essential, backing-free bands where the backing is relatively loud
        if centres[k] in analysis["vocal_essential_hz"] and k > 1 and d[k] > 0:
            expected[centres[k]] = d[k]
    expected = {f: float(np.clip(g, -8, 8)) for f, g in expected.items() if f not in (63.0, 125.0)
                or g < 0}
    top = sorted(expected.items(), key=lambda fg: -abs(fg[1]))[:4]
    assert sorted(chosen) == sorted(top)
    assert all(abs(g) <= 8.0 for _, g in chosen) and len(chosen) <= 4


def test_tempo_reverb_table_and_clamp():
    for bpm, rt in ((60, 3.11), (90, 2.44), (120, 1.78), (150, 1.11), (180, 0.44)):
        assert tempo_reverb_time(bpm) == pytest.approx(rt, abs=0.005)
    assert tempo_reverb_time(240) == 0.1
    stage = vocal_rules.tempo_reverb(120)
    assert stage.params["revTime"] == pytest.approx(1.8, abs=1e-6)
    assert stage.params["delayLength"] == 15 and stage.params["dryWet"] == pytest.approx(0.16)


def test_tempo_estimate_of_a_click_track():
    rng = np.random.default_rng(3)
    for bpm in (84.0, 126.0):
        x = np.zeros(SR * 10)
        for k in range(int(10 * bpm / 60)):
            i = int(k * 60 / bpm * SR)
            x[i : i + 500] += rng.standard_normal(500) * np.exp(-np.arange(500) / 80)
        assert estimate_tempo(x, SR) == pytest.approx(bpm, rel=0.01)


def dynamic_vocal(seconds: float = 24.0, quiet_db: float = -19.0) -> np.ndarray:
    """Alternating loud and quiet 6 s phrases of a harmonic tone: LRA = −quiet_db LU."""
    t = np.arange(int(seconds * SR)) / SR
    tone = sum(np.sin(2 * np.pi * 220 * h * t) / h for h in range(1, 6))
    level = np.where((t // 6) % 2 == 0, 1.0, 10 ** (quiet_db / 20))
    return (0.2 * tone * level).astype(np.float32)[:, None]


def test_compression_search_follows_the_product_procedure():
    vocal = dynamic_vocal()
    stage = compression_search(vocal, SR)
    steps = stage.details["steps"]
    assert stage.details["lra_before_lu"] > LRA_TARGET_LU
    for k, step in enumerate(steps):
        assert step["threshold_db"] == -3 * k
        assert step["ratio"] == pytest.approx(round((3.0 + 0.1 * k) / 0.2) * 0.2, abs=0.21)
    assert all(step["lra_lu"] >= LRA_TARGET_LU for step in steps[:-1])
    assert steps[-1]["lra_lu"] < LRA_TARGET_LU or steps[-1]["threshold_db"] == -33
    offset = stage.details["normalise_gain_db"]
    assert stage.params["threshold"] == pytest.approx(steps[-1]["threshold_db"] - offset, abs=0.06)
    assert (stage.params["attack"], stage.params["release"], stage.params["knee"]) == (30, 150, 0)


def test_compression_threshold_follows_the_input_level():
    vocal = dynamic_vocal()
    a = compression_search(vocal, SR)
    b = compression_search(vocal * np.float32(10 ** (-6 / 20)), SR)
    assert b.params["ratio"] == a.params["ratio"]
    assert b.params["threshold"] == pytest.approx(a.params["threshold"] - 6.0, abs=0.11)


def test_no_compression_when_the_range_is_already_small():
    t = np.arange(SR * 8) / SR
    steady = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[:, None]
    assert LoudnessMeter(SR).loudness_range(steady) < LRA_TARGET_LU
    stage = compression_search(steady, SR)
    assert stage.params["ratio"] == 1.0 and stage.details["steps"] == []
