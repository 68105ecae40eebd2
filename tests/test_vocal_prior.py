"""The DiffVox → IEM mapping and the shipped prior (read in place from ../shared)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from reaper_automix.decisions.vocal_chain import VocalChain, eq_response_db, mean_t60, reverb_path
from reaper_automix.decisions.vocal_prior import (
    FEATURES,
    PRIOR_FILE,
    derive_prior,
    eq_response_from_features,
    feature_vector,
    load_prior,
    map_preset,
)

from .conftest import SHARED

PRESETS = SHARED / "data" / "diffvox-presets"
SR = 44100


@pytest.fixture(scope="module")
def decoded() -> dict:
    path = PRESETS / "decoded_params.json"
    if not path.exists():
        pytest.skip(f"DiffVox presets not found at {PRESETS} (../shared is absent)")
    return json.loads(path.read_text(encoding="utf-8"))


def _preset(decoded: dict, group: str, index: int) -> dict[str, float]:
    return {key: float(values[index]) for key, values in decoded[group].items()}


def test_eq_maps_onto_multieq_band_types_and_the_same_response(decoded):
    preset = _preset(decoded, "internal", 3)
    mapped = map_preset(preset)
    eq = mapped["multieq"]
    assert [eq[f"filterType{b}"] for b in range(6)] == [1.0, 0.0, 1.0, 1.0, 2.0, 1.0]
    assert eq["filterFrequency2"] == round(preset["peq1_freq_hz"])
    assert eq["filterGain2"] == pytest.approx(preset["peq1_gain_db"], abs=0.051)
    assert eq["filterQ1"] == eq["filterQ4"] == pytest.approx(0.7)
    # the written MultiEQ and DiffVox's own filters (RBJ, unsnapped) answer alike
    x = np.log([preset["highpass_freq_hz"], preset["highpass_Q"], preset["lowshelf_freq_hz"]])
    features = np.array([x[0], x[1], x[2], preset["lowshelf_gain_db"],
                         math.log(preset["peq1_freq_hz"]), preset["peq1_gain_db"],
                         math.log(preset["peq1_Q"]), math.log(preset["peq2_freq_hz"]),
                         preset["peq2_gain_db"], math.log(preset["peq2_Q"]),
                         math.log(preset["highshelf_freq_hz"]), preset["highshelf_gain_db"],
                         math.log(preset["lowpass_freq_hz"]), math.log(preset["lowpass_Q"])])
    freqs = np.geomspace(40, 16000, 50)
    written = eq_response_db(eq, freqs, SR)
    diffvox = eq_response_from_features(features, freqs, SR)
    assert np.max(np.abs(written - diffvox)) < 0.5  # grid snapping of f, Q (0.05), gain (0.1)


def test_q_is_clamped_to_multieq(decoded):
    qs = decoded["internal"]["peq1_Q"]
    index = int(np.argmax(qs))
    assert qs[index] > 8
    assert map_preset(_preset(decoded, "internal", index))["multieq"]["filterQ2"] == 8.0


def test_reverb_matches_decay_time_and_reverb_to_direct(decoded):
    preset = _preset(decoded, "internal", 0)
    mapped = map_preset(preset)
    reverb = mapped["fdnreverb"]
    assert reverb["revTime"] == pytest.approx(preset["fdn_T60_s_mean_0.4-4kHz"], abs=0.051)
    assert mean_t60(reverb, SR) == pytest.approx(reverb["revTime"], rel=1e-6)
    reached = reverb_path(VocalChain({}, {}, reverb), SR).reverb_to_direct_db()
    assert reached == pytest.approx(mapped["reverb_to_direct_db"], abs=0.05)
    if preset["fdn_reverb_to_direct_db"] < reached + 1:  # reachable: matched to the dry/wet step
        assert reached == pytest.approx(preset["fdn_reverb_to_direct_db"], abs=1.0)


def test_threshold_stays_relative_to_minus_18_lufs(decoded):
    preset = _preset(decoded, "medleydb", 5)
    mapped = map_preset(preset)
    assert mapped["threshold_re18_db"] == pytest.approx(
        preset["comp_threshold_db_re_-18LUFS_input"])
    assert mapped["omnicompressor"]["ratio"] <= 15.8 and mapped["omnicompressor"]["lookAhead"] == 0


def test_shipped_prior_is_consistent():
    prior = load_prior()
    assert prior.count == 455 and prior.features.names == FEATURES
    assert np.all(np.linalg.eigvalsh(prior.features.cov) > 0)
    mean = prior.features.mean
    assert prior.features.mahalanobis2(mean) == pytest.approx(0.0, abs=1e-12)
    median = [prior.percentiles["features"][name][1] for name in FEATURES]
    assert prior.features.mahalanobis2(np.array(median)) < 21


def test_a_mapped_preset_is_likely_under_the_prior(decoded):
    mapped = map_preset(_preset(decoded, "internal", 10))
    x = feature_vector(mapped["multieq"], mapped["omnicompressor"], mapped["threshold_re18_db"],
                       mapped["t60_s"], mapped["reverb_to_direct_db"])
    assert load_prior().features.mahalanobis2(x) < 60


@pytest.mark.slow
def test_shipped_prior_is_what_derive_prior_makes(decoded):
    derived = derive_prior(PRESETS)
    shipped = json.loads(PRIOR_FILE.read_text(encoding="utf-8"))
    assert derived["count"] == shipped["count"] == 455
    for space in ("features", "descriptors"):
        np.testing.assert_allclose(derived[space]["mean"], shipped[space]["mean"], rtol=1e-6)
        np.testing.assert_allclose(derived[space]["cov"], shipped[space]["cov"], rtol=1e-6,
                                   atol=1e-9)
