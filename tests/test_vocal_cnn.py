"""The cnn vocal method (C.4): features, networks, losses, a tiny training run, the evaluation
plumbing. Real training never runs here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reaper_automix.decisions import vocal_cnn
from reaper_automix.decisions.vocal import decide_vocal
from reaper_automix.evaluation.synthetic import synthetic_song
from reaper_automix.evaluation.vocal import evaluate, format_results
from reaper_automix.training.vocal import loss_function, synthetic_songs, train_vocal

SR = 44100


def test_htk_mel_filterbank():
    bank = vocal_cnn.mel_filterbank()
    assert bank.shape == (1025, 128) and bank.min() == 0.0
    freqs = np.linspace(0, SR / 2, 1025)
    centres = freqs[bank.argmax(axis=0)]
    assert np.all(np.diff(centres) >= 0)
    mel = 2595 * np.log10(1 + centres[[20, 60, 100]] / 700)  # equally spaced in HTK mel
    step = 2595 * np.log10(1 + SR / 2 / 700) / 129
    assert np.allclose(np.diff(mel), 40 * step, rtol=0.05)


def test_feature_blocks_gate_and_normalise():
    song = synthetic_song(12.0, seed=2)
    blocks = vocal_cnn.feature_blocks(song.vocal, song.backing, SR)
    assert blocks.shape[1:] == (2, 128, 64) and blocks.shape[0] >= 2
    assert np.allclose(blocks.max(axis=(2, 3)), 1.0)
    quiet = song.vocal.copy()
    quiet[len(quiet) // 2 :] = 0.0  # the second half is gated out
    assert vocal_cnn.feature_blocks(quiet, song.backing, SR).shape[0] < blocks.shape[0]


def test_networks_have_the_papers_size():
    for outputs, params in ((1, 25465), (9, 31617), (10, 32386)):
        net = vocal_cnn.build_network(outputs)
        assert sum(p.numel() for p in net.parameters()) == params
        assert net(torch.zeros(2, 2, 128, 64)).shape == (2, outputs)


def test_label_normalisation():
    values = np.array([30, 4.5, 500, 0.5, -10, 5000, 0.5, -20, 0.2, 0.3])
    norm = vocal_cnn.normalise_labels("reverb", values)
    assert np.all((0 <= norm) & (norm <= 1))
    assert np.allclose(vocal_cnn.denormalise_labels("reverb", norm), values)
    assert vocal_cnn.denormalise_labels("level", np.array([1.7]))[0] == 6.0  # clamped


def test_eq_loss_masks_come_from_the_db_labels():
    db = torch.tensor([[0.0, 6.0, 0.0, -3.0, 0, 0, 0, 0, 0]])
    target = torch.from_numpy(vocal_cnn.normalise_labels("eq", db.numpy())).float()
    loss = loss_function("eq", db)
    off = target.clone()
    off[0, 0] += 0.1  # an unchanged band (0 dB → 0.5) is weighted 0.1
    on = target.clone()
    on[0, 1] += 0.1
    assert loss(off, target, db).item() == pytest.approx(0.1 * 0.01 / 7, rel=1e-4)
    assert loss(on, target, db).item() == pytest.approx(0.01 / 2, rel=1e-4)


def test_tiny_training_run_feeds_the_cnn_method(tmp_path, monkeypatch):
    songs = list(synthetic_songs(2, seconds=10.0))
    out = tmp_path / "weights.pt"
    card = train_vocal(songs, versions=dict.fromkeys(vocal_cnn.MODELS, 3),
                       epochs=dict.fromkeys(vocal_cnn.MODELS, 1), cache=tmp_path / "cache",
                       out=out, valid_fraction=0.5, data_description="test")
    assert set(card["models"]) == set(vocal_cnn.MODELS)
    assert all(math.isfinite(m["mae_mean"]) for m in card["models"].values())
    networks = vocal_cnn.load_networks(out)
    assert networks.card["data"] == "test"
    monkeypatch.setattr(vocal_cnn, "load_networks", lambda path=None: networks)
    song = synthetic_song(8.0, seed=5)
    decision = decide_vocal(song.vocal, song.backing, SR, method="cnn", tempo=100.0)
    assert decision.level_after_lu == pytest.approx(decision.level_target_lu, abs=0.01)
    assert vocal_cnn.LEVEL_RANGE[0] <= decision.level_target_lu <= vocal_cnn.LEVEL_RANGE[1]


def test_missing_weights_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="train vocal"):
        vocal_cnn.load_networks(tmp_path / "none.pt")


def test_evaluation_plumbing():
    songs = list(synthetic_songs(1, first_seed=100000, seconds=8.0))
    results = evaluate(songs, [100000], ["mean", "rules"], mean_songs=1)
    assert set(results["mae"]) == {"mean", "rules"}
    assert results["level_vs_musdb18"]["rules"]["mean_lu"] == pytest.approx(-1.77, abs=0.01)
    assert results["mae"]["mean"]["EQ gain (dB)"] > 0
    assert 0 <= results["settings_vs_diffvox"]["rules"]["inside_p10_p90"] <= 1


def test_evaluation_leaves_out_songs_a_method_refuses():
    from dataclasses import replace

    loud, quiet = synthetic_songs(2, first_seed=100000, seconds=8.0)
    quiet = replace(quiet, vocal=quiet.vocal * np.float32(0.01),  # -40 dB: under the cnn gate
                    backing=quiet.backing * np.float32(0.01))
    results = evaluate([loud, quiet], [100000, 100001], ["mean", "cnn"], mean_songs=1)
    assert results["songs"] == [loud.name]
    assert len(results["refused"]["cnn"]) == 1 and quiet.name in results["refused"]["cnn"][0]
    assert "cnn refused 1 song(s)" in format_results(results)
