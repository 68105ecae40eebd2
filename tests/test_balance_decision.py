"""The pure balance decision (algorithms.md A.3) on synthetic folders."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reaper_automix.analysis.loudness import InvalidAudioError, LoudnessMeter
from reaper_automix.decisions.balance import (
    AUTHORS_PEAK_CEILING_DBFS,
    AUTHORS_TARGET_LUFS,
    PEAK_CEILING_DBFS,
    decide_balance,
)

RATE = 44100
SECONDS = 6.0


def folder(seed: int = 0) -> list[np.ndarray]:
    """Bass, pad, mono melody and drums: same length, stereo stem layout (the melody is mono)."""
    rng = np.random.default_rng(seed)
    n = int(SECONDS * RATE)
    t = np.arange(n) / RATE
    bass = 0.3 * sum(np.sin(2 * np.pi * 55 * k * t) / k**1.5 for k in range(1, 8))
    pad = np.fft.irfft(np.fft.rfft(rng.standard_normal((n, 2)), axis=0) * (np.fft.rfftfreq(n, 1 / RATE) < 4000)[:, None], n, axis=0)
    notes = np.repeat(rng.choice([262.0, 294.0, 330.0, 392.0], size=12), n // 12 + 1)[:n]
    melody = 0.2 * (t * 2 % 1 < 0.8) * sum(np.sin(2 * np.pi * np.cumsum(notes) * k / RATE) / k for k in range(1, 6))
    hits = np.zeros(n)
    hits[:: RATE // 4] = 1.0
    drum = np.convolve(hits, rng.standard_normal(int(0.08 * RATE)) * np.exp(-np.arange(int(0.08 * RATE)) / 400))[:n]
    tracks = [np.stack([bass, bass], axis=1), 0.05 * pad, melody[:, None], 0.3 * np.stack([drum, 0.7 * drum], axis=1)]
    return [track.astype(np.float32) for track in tracks]


def mixed_stem(tracks: list[np.ndarray], gains_db: list[float]) -> np.ndarray:
    """Independent float64 sum of the gained tracks on a stereo bus (mono = dual mono)."""
    stem = np.zeros((tracks[0].shape[0], 2))
    for track, gain in zip(tracks, gains_db):
        stem += 10 ** (gain / 20) * np.broadcast_to(track, (track.shape[0], 2))
    return stem


def peak_db(audio: np.ndarray) -> float:
    return 20 * math.log10(np.max(np.abs(audio)))


@pytest.fixture(scope="module")
def tracks() -> list[np.ndarray]:
    return folder()


@pytest.mark.parametrize("method", ["centroid", "lufs"])
@pytest.mark.parametrize("peak_scope", ["stem", "tracks"])
def test_scaling_a_track_changes_only_its_gain(tracks, method, peak_scope):
    base = decide_balance(tracks, RATE, method, level="peak", peak_scope=peak_scope).gains_db
    for x_db in (-9.0, 4.5):
        scaled = list(tracks)
        scaled[1] = (tracks[1] * 10 ** (x_db / 20)).astype(np.float32)
        gains = decide_balance(scaled, RATE, method, level="peak", peak_scope=peak_scope).gains_db
        np.testing.assert_allclose(gains[1], base[1] - x_db, atol=1e-3)
        np.testing.assert_allclose(np.delete(gains, 1), np.delete(base, 1), atol=1e-3)


@pytest.mark.parametrize("method", ["centroid", "lufs"])
def test_gains_do_not_depend_on_track_order(tracks, method):
    forward = decide_balance(tracks, RATE, method).gains_db
    order = [2, 0, 3, 1]
    shuffled = decide_balance([tracks[i] for i in order], RATE, method).gains_db
    np.testing.assert_allclose(shuffled, [forward[i] for i in order], atol=1e-5)  # float32 sum order


@pytest.mark.parametrize("seed", range(5))
def test_peak_level_puts_the_stem_peak_at_minus_0_1_dbfs_whatever_the_input_levels(seed):
    rng = np.random.default_rng(100 + seed)
    tracks = [(t * 10 ** (rng.uniform(-30, 6) / 20)).astype(np.float32) for t in folder(seed)]
    decision = decide_balance(tracks, RATE, "centroid", level="peak")
    assert decision.level == "peak"
    assert peak_db(mixed_stem(tracks, decision.gains_db)) == pytest.approx(PEAK_CEILING_DBFS, abs=0.01)
    assert decision.stem_peak_dbfs == pytest.approx(PEAK_CEILING_DBFS, abs=1e-9)
    assert decision.target_db == pytest.approx(PEAK_CEILING_DBFS - decision.provisional_peak_dbfs)


def test_relative_gains_equalise_cfb_loudness(tracks):
    decision = decide_balance(tracks, RATE, "centroid")
    balanced = [t.cfb.loudness_lufs + t.gain_db for t in decision.tracks]
    np.testing.assert_allclose(balanced, decision.target_db, atol=1e-9)


@pytest.mark.parametrize("method", ["centroid", "lufs", "f0"])
def test_balancing_balanced_tracks_is_idempotent(tracks, method):
    first = decide_balance(tracks, RATE, method)
    balanced = [(t * g.gain).astype(np.float32) for t, g in zip(tracks, first.tracks)]
    second = decide_balance(balanced, RATE, method)
    np.testing.assert_allclose(second.gains_db, 0.0, atol=0.1)


def test_target_offsets_shift_relative_levels_exactly(tracks):
    plain = np.array(decide_balance(tracks, RATE, "centroid", level="peak").gains_db)
    offsets = np.array([0.0, -6.0, 3.0, 1.5])
    shifted_decision = decide_balance(tracks, RATE, "centroid", offsets_db=offsets, level="peak")
    shifted = np.array(shifted_decision.gains_db)
    np.testing.assert_allclose((shifted - shifted[0]) - (plain - plain[0]), offsets - offsets[0], atol=1e-9)
    assert peak_db(mixed_stem(tracks, list(shifted))) == pytest.approx(PEAK_CEILING_DBFS, abs=0.01)
    assert [t.offset_db for t in shifted_decision.tracks] == list(offsets)


def test_tracks_peak_scope_puts_the_loudest_single_track_at_the_ceiling(tracks):
    decision = decide_balance(tracks, RATE, "centroid", level="peak", peak_scope="tracks")
    peaks = [peak_db(t) + g for t, g in zip(tracks, decision.gains_db)]
    assert max(peaks) == pytest.approx(PEAK_CEILING_DBFS, abs=1e-4)
    assert decision.stem_peak_dbfs == pytest.approx(peak_db(mixed_stem(tracks, decision.gains_db)), abs=1e-4)


def test_authors_target_caps_each_track(tracks):
    decision = decide_balance(tracks, RATE, "centroid", target="authors")
    for track, audio in zip(decision.tracks, tracks):
        expected = min(
            AUTHORS_TARGET_LUFS - track.cfb.loudness_lufs, AUTHORS_PEAK_CEILING_DBFS - peak_db(audio)
        )
        assert track.gain_db == pytest.approx(expected, abs=1e-4)
        assert peak_db(audio) + track.gain_db <= AUTHORS_PEAK_CEILING_DBFS + 1e-4
        assert track.cfb.loudness_lufs + track.gain_db <= AUTHORS_TARGET_LUFS + 1e-9
    assert decision.target_db == AUTHORS_TARGET_LUFS


def test_silent_and_quiet_tracks_are_inactive_and_keep_0_db(tracks):
    quiet = (tracks[0] * 10 ** (-45 / 20)).astype(np.float32)
    with_inactive = [*tracks, np.zeros_like(tracks[0]), quiet]
    decision = decide_balance(with_inactive, RATE, "centroid", level="peak")
    silent, too_quiet = decision.tracks[4], decision.tracks[5]
    assert not silent.active and silent.inactive_reason == "silent" and silent.gain_db == 0.0
    assert silent.reason == "silent" and silent.loudness_db is None and silent.band_hz is None
    bass = decision.tracks[0]
    assert bass.loudness_db == bass.cfb.loudness_lufs and bass.band_hz == bass.cfb.band_hz
    assert not too_quiet.active and "not above -50" in too_quiet.inactive_reason and too_quiet.gain_db == 0.0
    reference = decide_balance(tracks, RATE, "centroid", level="peak").gains_db
    np.testing.assert_allclose(decision.gains_db[:4], reference, atol=1e-9)


@pytest.mark.parametrize("method", ["centroid", "f0", "lufs"])
@pytest.mark.parametrize("peak_scope", ["stem", "tracks"])
def test_an_all_silent_folder_gives_finite_zero_gains(method, peak_scope):
    silence = [np.zeros((RATE * 2, 2), dtype=np.float32) for _ in range(3)]
    decision = decide_balance(silence, RATE, method, peak_scope=peak_scope)
    assert decision.gains_db == [0.0, 0.0, 0.0]
    assert decision.target_db is None and decision.stem_peak_dbfs is None
    assert all(not t.active for t in decision.tracks)


def test_cancelling_tracks_never_give_an_infinite_gain():
    track = folder()[2]
    decision = decide_balance([track, -track], RATE, "centroid")
    assert all(math.isfinite(g) for g in decision.gains_db)
    assert decision.notes and "cancel" in decision.notes[0]


def test_too_short_tracks_are_inactive():
    short = [np.full((int(0.3 * RATE), 2), 0.1, dtype=np.float32)] * 2
    decision = decide_balance(short, RATE, "lufs")
    assert all("400 ms" in t.inactive_reason for t in decision.tracks)
    assert decision.gains_db == [0.0, 0.0]


def test_nan_is_a_clear_error_naming_the_track(tracks):
    broken = tracks[3].copy()
    broken[10, 0] = np.nan
    with pytest.raises(InvalidAudioError, match="'Drums'.*NaN"):
        decide_balance([*tracks[:3], broken], RATE, "centroid", names=["Bass", "Pad", "Lead", "Drums"])


def test_mono_track_counts_as_dual_mono(tracks):
    as_mono = decide_balance(tracks, RATE, "centroid").gains_db
    dual = list(tracks)
    dual[2] = np.repeat(tracks[2], 2, axis=1)
    np.testing.assert_allclose(decide_balance(dual, RATE, "centroid").gains_db, as_mono, atol=1e-6)


def test_loader_callables_and_single_worker_give_the_same_gains(tracks):
    arrays = decide_balance(tracks, RATE, "centroid").gains_db
    loaders = [lambda track=track: track for track in tracks]
    np.testing.assert_allclose(decide_balance(loaders, RATE, "centroid", workers=1).gains_db, arrays, atol=1e-12)


def test_input_errors(tracks):
    with pytest.raises(ValueError, match="same time range"):
        decide_balance([tracks[0], tracks[1][:-10]], RATE, "lufs", names=["A", "B"])
    with pytest.raises(ValueError, match="3 target offsets given for 4 tracks"):
        decide_balance(tracks, RATE, "lufs", offsets_db=[0, 0, 0])
    with pytest.raises(ValueError, match="peak_scope"):
        decide_balance(tracks, RATE, "lufs", peak_scope="track")
    with pytest.raises(ValueError, match="target"):
        decide_balance(tracks, RATE, "lufs", target="paper")
    with pytest.raises(ValueError, match="unknown level 'loud'"):
        decide_balance(tracks, RATE, "lufs", level="loud")
    with pytest.raises(ValueError, match="2 current gains given for 4 tracks"):
        decide_balance(tracks, RATE, "lufs", current_gains_db=[0, 0])
    with pytest.raises(ValueError, match="unknown CFB method"):
        decide_balance(tracks, RATE, "rms")


# ------------------------------------------------------------- the group keeps its level
def loudness(audio: np.ndarray) -> float:
    """pyloudnorm with the exact BS.1770 filter: an independent meter (ours agrees to 1e-4 LU)."""
    import pyloudnorm

    return pyloudnorm.Meter(RATE, filter_class="DeMan").integrated_loudness(audio)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("method", ["centroid", "lufs"])
def test_keep_level_sums_to_the_loudness_before(seed, method):
    rng = np.random.default_rng(200 + seed)
    tracks = [(t * 10 ** (rng.uniform(-20, 0) / 20)).astype(np.float32) for t in folder(seed)]
    current = list(rng.uniform(-22, -7, size=len(tracks)))
    decision = decide_balance(tracks, RATE, method, current_gains_db=current)
    before, after = loudness(mixed_stem(tracks, current)), loudness(mixed_stem(tracks, decision.gains_db))
    assert decision.level == "keep" and decision.peak_limit_db == 0.0, "quiet enough not to clip"
    assert after == pytest.approx(before, abs=0.1)
    assert decision.loudness_before_lufs == pytest.approx(before, abs=0.01)
    assert decision.stem_loudness_lufs == pytest.approx(after, abs=0.01)
    assert decision.stem_peak_dbfs == pytest.approx(peak_db(mixed_stem(tracks, decision.gains_db)), abs=1e-3)
    balanced = [t.cfb.loudness_lufs + t.gain_db for t in decision.tracks]
    np.testing.assert_allclose(balanced, decision.target_db, atol=1e-9)


def test_keep_level_keeps_the_balance_of_the_peak_rule_and_only_moves_the_level(tracks):
    current = [-13.0, -8.0, -18.0, -9.5]
    keep = np.array(decide_balance(tracks, RATE, "centroid", current_gains_db=current).gains_db)
    peak = np.array(decide_balance(tracks, RATE, "centroid", level="peak").gains_db)
    np.testing.assert_allclose(keep - keep[0], peak - peak[0], atol=1e-9)
    louder = np.array(decide_balance(tracks, RATE, "centroid", current_gains_db=[g + 4 for g in current]).gains_db)
    np.testing.assert_allclose(louder - keep, 4.0, atol=0.01)


def test_keep_level_is_invariant_to_clip_gain_traded_against_the_fader(tracks):
    current = [-3.0, 2.0, -8.0, 0.5]
    base = decide_balance(tracks, RATE, "centroid", current_gains_db=current).gains_db
    for x_db in (-9.0, 4.5):
        scaled = list(tracks)
        scaled[1] = (tracks[1] * 10 ** (x_db / 20)).astype(np.float32)
        moved = list(current)
        moved[1] -= x_db  # the group sounds exactly as before
        gains = decide_balance(scaled, RATE, "centroid", current_gains_db=moved).gains_db
        np.testing.assert_allclose(gains[1], base[1] - x_db, atol=0.01)
        np.testing.assert_allclose(np.delete(gains, 1), np.delete(base, 1), atol=0.01)


def test_keep_level_is_idempotent_even_with_blocks_near_the_absolute_gate(tracks):
    sparse = [t.copy() for t in tracks]
    for track in sparse:  # long quiet stretches: blocks cross the −70 LUFS gate as gains change
        track[RATE : 4 * RATE] *= np.float32(10 ** (-45 / 20))
    for folder_tracks in (tracks, sparse):
        first = decide_balance(folder_tracks, RATE, "centroid", current_gains_db=[-26.0, -20.0, -17.0, -22.0])
        second = decide_balance(folder_tracks, RATE, "centroid", current_gains_db=first.gains_db)
        np.testing.assert_allclose(second.gains_db, first.gains_db, atol=1e-6)
        assert first.stem_loudness_lufs == pytest.approx(first.loudness_before_lufs, abs=1e-5)


def test_keep_level_lowers_a_stem_that_would_clip_and_says_so(tracks):
    hot = [(t * 4.0).astype(np.float32) for t in tracks]
    decision = decide_balance(hot, RATE, "centroid", current_gains_db=[6.0] * 4)
    stem = mixed_stem(hot, decision.gains_db)
    assert peak_db(stem) == pytest.approx(PEAK_CEILING_DBFS, abs=0.01)
    assert decision.peak_limit_db < -1.0
    assert loudness(stem) == pytest.approx(decision.loudness_before_lufs + decision.peak_limit_db, abs=0.1)
    assert any("peaks at -0.1 dBFS" in note for note in decision.notes)


def test_keep_level_counts_inactive_tracks_on_both_sides(tracks):
    quiet = (tracks[0] * 10 ** (-42 / 20)).astype(np.float32)
    with_quiet = [*tracks, quiet]
    current = [-13.0, -8.0, -18.0, -9.5, 6.0]
    decision = decide_balance(with_quiet, RATE, "lufs", current_gains_db=current)
    assert decision.peak_limit_db == 0.0
    assert not decision.tracks[4].active
    after = [*decision.gains_db[:4], current[4]]  # the inactive track keeps its fader
    assert loudness(mixed_stem(with_quiet, after)) == pytest.approx(loudness(mixed_stem(with_quiet, current)), abs=0.05)


def test_keep_level_of_a_folder_silent_at_its_faders_falls_back_to_the_peak_rule(tracks):
    decision = decide_balance(tracks, RATE, "centroid", current_gains_db=[-math.inf] * 4)
    assert decision.level == "peak" and "silent" in decision.notes[0]
    assert peak_db(mixed_stem(tracks, decision.gains_db)) == pytest.approx(PEAK_CEILING_DBFS, abs=0.01)
    assert all(math.isfinite(g) for g in decision.gains_db)
