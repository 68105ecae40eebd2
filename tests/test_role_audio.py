"""Roles from audio: the features (analysis/role_features.py) and the shipped classifier."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from reaper_automix.analysis.role_classifier import WEIGHTS, RoleClassifier, expected_offset, shipped_classifier
from reaper_automix.analysis.role_features import FEATURE_NAMES, role_features
from reaper_automix.analysis.tracks import analyse_track

SR = 44100
REPO = Path(__file__).resolve().parents[1]


def drum_loop(seconds: float = 6.0) -> np.ndarray:
    rng = np.random.default_rng(2)
    out = np.zeros(int(seconds * SR))
    click = rng.standard_normal(2000) * np.exp(-np.arange(2000) / 200)
    for start in range(0, out.size - 2000, SR // 4):
        out[start : start + 2000] += click
    return np.stack([out, 0.8 * out], axis=1).astype(np.float32)


@pytest.mark.parametrize("sample_rate", [22050.0, 44100.0, 96000.0])
def test_per_frame_spectral_sums_are_the_numpy_definitions(sample_rate: float) -> None:
    """SpectralStats' one-frame-at-a-time kernel gives what whole-array NumPy gives: power in
    runs of bins as np.add.reduceat sums them, peakiness, and the strong local peaks."""
    from reaper_automix.analysis.role_features import _PEAK_DB, SpectralStats

    rng = np.random.default_rng(3)
    magnitude = (np.abs(rng.standard_normal((40, 1025))) * rng.uniform(0.1, 10.0, (40, 1))).astype(np.float32)
    magnitude[0] = 0.0  # a silent frame: no strong peak
    magnitude[1, 2:] = 0.0  # peaks only below bin 2 do not count
    stats = SpectralStats(sample_rate)
    stats.add(magnitude, np.ones(40), np.ones(40))

    power = magnitude.astype(np.float64) ** 2
    total = power.sum(axis=1) + 1e-30
    shares = np.add.reduceat(power, stats.band_starts, axis=1) / total[:, None]
    np.testing.assert_allclose(stats.frames("shares").reshape(40, -1), shares, rtol=1e-9, atol=1e-15)
    loudest = magnitude.max(axis=1, keepdims=True)
    peakiness = loudest[:, 0] / (magnitude.astype(np.float64).mean(axis=1) + 1e-20)
    np.testing.assert_allclose(stats.frames("peakiness"), peakiness, rtol=1e-9)
    strong = np.zeros(magnitude.shape, dtype=bool)
    strong[:, 2:-1] = ((magnitude[:, 2:-1] > magnitude[:, 1:-2]) & (magnitude[:, 2:-1] >= magnitude[:, 3:])
                       & (magnitude[:, 2:-1] >= loudest * np.float32(10.0 ** (-_PEAK_DB / 20.0))))
    np.testing.assert_array_equal(stats.frames("peaks"), strong.sum(axis=1))
    lowest = np.where(strong.any(axis=1), stats.freqs[np.argmax(strong, axis=1)], np.nan)
    np.testing.assert_array_equal(stats.frames("lowest"), lowest)
    log_bands = np.add.reduceat(power[:, : stats.log_end], stats.log_starts, axis=1) + 1e-9 * total[:, None]
    log_energy = np.log(log_bands)
    flatness = np.exp(log_energy.mean(axis=1)) / log_bands.mean(axis=1)
    np.testing.assert_allclose(stats.frames("flatness"), flatness, rtol=1e-9)
    cumulative = np.cumsum(log_bands, axis=1)
    rolloff = stats.log_centres[np.argmax(cumulative >= 0.85 * cumulative[:, -1:], axis=1)]
    np.testing.assert_array_equal(stats.frames("rolloff"), rolloff)
    previous = np.vstack([log_energy[:1], log_energy[:-1]])
    flux = np.maximum(log_energy - previous, 0.0).mean(axis=1) * (10.0 / np.log(10.0))
    np.testing.assert_allclose(stats.frames("flux"), flux, rtol=1e-9, atol=1e-12)
    stats.add(magnitude[2:3] * 3, np.ones(1), np.ones(1))  # a new chunk: its flux is against the last frame
    rise = np.maximum(log_energy[2] + np.log(9.0) - log_energy[-1], 0.0).mean() * (10.0 / np.log(10.0))
    assert rise > 0.1
    np.testing.assert_allclose(stats.frames("flux")[40], rise, rtol=1e-6)


def test_features_have_their_names_and_do_not_depend_on_level():
    audio = drum_loop()
    features = role_features(audio, SR)
    assert features.shape == (len(FEATURE_NAMES),) and np.isfinite(features).all()
    quieter = role_features((audio * 10 ** (-20 / 20)).astype(np.float32), SR)
    np.testing.assert_allclose(quieter, features, rtol=1e-2, atol=1e-2)
    assert role_features(np.zeros((SR, 2), np.float32), SR) is None


def test_the_analysis_collects_the_same_features_on_its_own_stft_pass():
    audio = drum_loop()
    analysis = analyse_track(audio, SR, "centroid", classify=True)
    np.testing.assert_allclose(analysis.features, role_features(audio, SR), rtol=1e-9)
    assert analyse_track(audio, SR, "centroid").features is None  # only when asked
    assert analyse_track(audio, SR, "lufs", classify=True).features is None


def test_the_shipped_classifier_loads_and_gives_probabilities():
    classifier = shipped_classifier()
    assert classifier is not None and WEIGHTS.stat().st_size < 64 * 1024
    card = json.loads(WEIGHTS.read_text())["card"]
    assert card["held_out"]["accuracy"] > 0.8 and card["command"].startswith("scripts/train_role_classifier.py")
    guess, probabilities = classifier.classify(role_features(drum_loop(), SR))
    assert guess.source == "audio" and 0 < guess.confidence <= 1
    assert sum(probabilities.values()) == pytest.approx(1.0) and set(probabilities) == set(classifier.roles)
    table = {role: float(i) for i, role in enumerate(classifier.roles)}
    assert expected_offset(probabilities, table) == pytest.approx(
        sum(p * table[r] for r, p in probabilities.items()))
    again = RoleClassifier.from_dict(json.loads(json.dumps(classifier.to_dict())))
    np.testing.assert_allclose(again.probabilities(np.zeros(len(FEATURE_NAMES))),
                               classifier.probabilities(np.zeros(len(FEATURE_NAMES))), atol=1e-9)


def test_weights_for_other_features_are_refused():
    data = shipped_classifier().to_dict()
    data["features"] = data["features"][:-1]
    with pytest.raises(ValueError, match="retrain"):
        RoleClassifier.from_dict(data)


def _renderer():
    """FluidSynth with FluidR3 (as the training data), or a skip saying what is missing."""
    pytest.importorskip("fluidsynth", reason="pyfluidsynth is not installed (the dev extra)")
    script = REPO / "scripts" / "derive_role_offsets.py"
    spec = importlib.util.spec_from_file_location("derive_role_offsets", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    if not module.SOUNDFONT.exists():
        pytest.skip(f"{module.SOUNDFONT} is missing (Debian fluid-soundfont-gm)")
    try:
        return module, module.FluidsynthRenderer()
    except OSError as exc:  # libfluidsynth3 missing
        pytest.skip(f"FluidSynth cannot start: {exc}")


@pytest.mark.slow
def test_new_soundfont_parts_are_classified_as_their_role():
    """Parts written for this test (not in the training data), rendered like the training data."""
    import mido

    module, renderer = _renderer()

    def part(channel, program, notes):
        events = [(0.0, mido.Message("program_change", channel=channel, program=program))] if program is not None else []
        for start, length, key, velocity in notes:
            events.append((start, mido.Message("note_on", channel=channel, note=key, velocity=velocity)))
            events.append((start + length, mido.Message("note_off", channel=channel, note=key, velocity=0)))
        events.sort(key=lambda e: e[0])
        return renderer.render(events, module.Part("test", "", channel, None, program))

    beat = 0.5
    parts = {
        "kick": part(9, None, [(i * beat, 0.1, 36, 100) for i in range(16)]),
        "snare": part(9, None, [(i * 2 * beat + beat, 0.1, 38, 100) for i in range(8)]),
        "hats_closed": part(9, None, [(i * beat / 2, 0.05, 42, 90) for i in range(32)]),
        "bass": part(0, 33, [(i * beat, 0.9 * beat, (40, 40, 43, 45)[i % 4], 100) for i in range(16)]),
        "strings": part(0, 48, [(i * 2.0, 2.0, key, 90) for i in range(4) for key in (60, 64, 67)]),
        "chords": part(0, 0, [(i * beat, 0.9 * beat, key, 90) for i in range(16) for key in (60, 64, 67)]),
    }
    classifier = shipped_classifier()
    for role, audio in parts.items():
        guess, _ = classifier.classify(role_features(audio, SR))
        assert guess.role == role, (role, guess)
