"""Training MatchNet: B.7 losses, Method-1 examples, a tiny training run that checkpoints and
resumes (tiny configurations only: no real training in CI)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from reaper_automix.analysis.loudness import LoudnessMeter
from reaper_automix.console import params as P
from reaper_automix.models import match_net as M
from reaper_automix.training import match as T
from reaper_automix.training.losses import af_loss, audio_features, mrstft_loss

RATE = M.SAMPLE_RATE


def _mix(seed: int, n: int = 32768, pan: float = 0.3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mono = torch.randn(n, generator=g, dtype=torch.float64) * 0.1
    return torch.stack([mono * (1 - pan), mono * (1 + pan)])


def test_af_features_follow_their_definitions() -> None:
    x = _mix(0)
    f = audio_features(x, RATE)
    energy = (x ** 2).mean(dim=-1)
    assert torch.allclose(f["rms"][0], torch.sqrt(energy), rtol=1e-6)
    assert float(f["imbalance"][0]) == pytest.approx(float((energy[1] - energy[0]) / energy.sum()))
    side, mid = x[0] - x[1], x[0] + x[1]
    assert float(f["width"][0]) == pytest.approx(float((side ** 2).mean() / (mid ** 2).mean()))
    assert f["bark"].shape == (1, 48)


def test_losses_vanish_on_equal_mixes_and_grow_with_differences() -> None:
    a, b = _mix(0), _mix(0, pan=-0.3)
    assert float(af_loss(a, a, RATE)) == pytest.approx(0.0, abs=1e-12)
    assert float(mrstft_loss(a, a)) == pytest.approx(0.0, abs=1e-9)
    assert float(af_loss(a, b, RATE)) > 0.01
    assert float(mrstft_loss(a, a * 2)) > float(mrstft_loss(a, a * 1.1)) > 0


def test_centred_mono_mix_has_a_finite_side_spectrum_loss() -> None:
    """The side floor: a hair of pan must not move the loss by hundreds."""
    a = _mix(1, pan=0.0)
    b = _mix(1, pan=0.001)
    assert float(af_loss(a, b, RATE)) < 1.0


def test_random_settings_lie_inside_the_console_ranges() -> None:
    rng = np.random.default_rng(0)
    settings = T.random_settings(64, rng)
    normalised = P.to_normalised(settings)
    assert bool(((normalised >= 0) & (normalised <= 1)).all())
    assert 0.2 < float((settings[:, P.RATIO] > 1).double().mean()) < 0.8
    assert float(settings[:, P.GAIN].std()) > 3.0


def test_parameter_loss_is_zero_at_the_target_and_ignores_unused_compressor_settings() -> None:
    settings = T.random_settings(3, np.random.default_rng(1))
    target = P.to_normalised(settings).float()
    assert float(T.parameter_loss(target, target)) == pytest.approx(0.0, abs=1e-9)
    off = settings.clone()
    off[:, P.RATIO] = 1.0
    off_target = P.to_normalised(off).float()
    moved = off_target.clone()
    moved[:, P.THRESHOLD] = 0.9  # a threshold of a 1:1 compressor is not heard
    assert float(T.parameter_loss(moved, off_target)) == pytest.approx(0.0, abs=1e-9)
    louder = target.clone()
    louder[:, P.GAIN] += 0.05
    assert float(T.parameter_loss(louder, target)) > 0.0


# ------------------------------------------------------------------------ a fake generated session
@dataclass(frozen=True)
class _Spec:
    seed: int
    piece: str = "synthetic"


@dataclass(frozen=True)
class _Stem:
    name: str
    folder: str
    audio: np.ndarray

    def read(self) -> np.ndarray:
        return self.audio


@dataclass(frozen=True)
class _Session:
    spec: _Spec
    stems: tuple[_Stem, ...]


def _session(seed: int = 0, seconds: float = 13.0) -> _Session:
    """Noise bursts, a tone and a low drone: four tracks in three folders."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    burst = (rng.standard_normal(n) * (np.sin(2 * np.pi * 2 * t) > 0.6)).astype(np.float32)
    tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    drone = (0.3 * np.sin(2 * np.pi * 55 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.3 * t)))
    hiss = rng.standard_normal(n).astype(np.float32) * 0.02
    stereo = lambda x, pan=0.0: np.stack([x * (1 - pan), x * (1 + pan)], 1).astype(np.float32)  # noqa: E731
    stems = (_Stem("Drums", "Drums", stereo(burst * 0.3)), _Stem("Bass", "Bass", stereo(drone)),
             _Stem("Keys", "Other", stereo(tone, 0.2)), _Stem("Hiss", "Other", stereo(hiss)))
    return _Session(_Spec(seed), stems)


def test_method_one_example_is_consistent() -> None:
    session = _session()
    example = None
    for seed in range(10):
        example = T.make_example(session, seed)
        if example is not None:
            break
    assert example is not None
    s = example.n_stems
    assert example.stem_mels.shape[:2] == (s, 2) and example.settings.shape == (s, P.N_PARAMS)
    assert example.segment.shape == (s, 2, T.RUN_IN + T.LOSS_SAMPLES)
    assert example.target.shape == (2, T.LOSS_SAMPLES)
    # the target is θ* on the segment: the settings reproduce it (float16 storage aside)
    mix = T.console_mix(example.segment.astype(np.float64),
                        P.to_physical(torch.from_numpy(example.settings).double()))
    error = mix[:, T.RUN_IN:].numpy() - example.target
    assert np.sqrt(np.mean(error ** 2) / np.mean(example.target ** 2)) < 1e-2
    info = example.info
    assert abs(info["reference_start"] - info["window_start"]) >= M.WINDOW  # other segment
    losses = T.example_losses(torch.from_numpy(example.settings), example)
    assert float(losses["parameter"]) == pytest.approx(0.0, abs=1e-6)
    assert float(losses["af"]) < 1e-3


def test_reference_is_theta_star_at_minus_16_lufs_on_another_window() -> None:
    session = _session(2)
    stems = np.stack([s.audio.T for s in session.stems])
    settings = T.random_settings(4, np.random.default_rng(5))
    a, b = T.RUN_IN, T.RUN_IN + M.WINDOW + 1000
    reference, target, star, shift = T.render_pair(stems, settings, a, b)
    assert LoudnessMeter(RATE).integrated(reference.T) == pytest.approx(-16.0, abs=0.05)
    assert torch.allclose(star[:, P.GAIN], settings[:, P.GAIN] + shift)
    again = T.console_mix(stems[:, :, a - T.RUN_IN:a + M.WINDOW], star)[:, T.RUN_IN:].numpy()
    assert np.allclose(again, reference, atol=1e-6)
    assert target.shape == (2, T.LOSS_SAMPLES)


def test_tiny_training_checkpoints_and_resumes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    session = _session(0)
    for split, count in (("train", 2), ("validation", 1)):
        folder = data / "examples" / split
        folder.mkdir(parents=True)
        seed = 0
        while len(list(folder.glob("*.npz"))) < count:
            example = T.make_example(session, seed + (100 if split == "train" else 0))
            if example is not None:
                example.save(folder / f"{seed:06d}.npz")
            seed += 1
    config = replace(T.tiny(T.TrainConfig()), steps=2, batch=2)
    out = tmp_path / "out"
    messages: list[str] = []
    card = T.train(data, out, config, say=messages.append)
    assert card["steps"] == 2 and (out / "checkpoint.pt").exists()
    assert [h["step"] for h in card["history"]["train"]] == [1, 2]
    assert card["history"]["validation"] and "neutral_validation" in card["history"]
    assert card["data"]["train"]["examples"] == 2 and card["data"]["validation"]["examples"] == 1
    model = M.load(out / "match_net.pt")
    assert model.config == config.model
    resumed = T.train(data, out, replace(config, steps=3), resume=True, say=messages.append)
    assert resumed["steps"] == 3 and any("resumed at step 2" in m for m in messages)
    assert [h["step"] for h in resumed["history"]["train"]] == [1, 2, 3]
