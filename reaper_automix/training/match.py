"""Training MatchNet (``reaper-automix train match``): B.7 Method 1 on generated sessions.

**Data** (:func:`prepare`). Sessions come from the offline generator (``SessionSpec.draw``: GM
programs, keys, tempos, Hydrogen kits, grooves, PSOLA vocals) arranged from the Bach chorales of
the music21 corpus (:func:`training_piece`). Each session gives several *examples*; each example
draws, from its own seed:

* the stems: the session's folder submixes (Drums, Bass, Vocals, Other: what the product
  matches), each child at a random gain N(0, 3 dB), or a random subset of 2–8 single tracks;
  every stem is brought to the console's ``STEM_LUFS`` by its whole-session loudness;
* two non-overlapping 5.94 s windows: the network's stem window B and the reference window A;
* random console settings θ (:func:`random_settings`: gains N(0, 6 dB), each EQ band on with
  probability 0.5 at ±10 dB, compressors on with probability 0.5, pans spread), **gains
  included** (the original keeps track faders off in its references; level balance is the main
  job here);
* the reference: the console with θ on window A (after a run-in), one common gain bringing it
  to −16 LUFS, added to θ's gains (θ*); the target: the console with θ* on a 2.97 s loss
  segment inside window B.

Everything that costs a render is cached (float16 stem windows, the reference, the float32
target, θ*) in ``DIR/examples/<split>/``; the generator's renders live in ``DIR/generator``.

**Training** (:func:`train`). The network sees window B of the stems and the reference; its
prediction goes through the differentiable console on the loss segment and is compared with the
target by the AF + MRSTFT losses of B.7 (:mod:`.losses`), plus a parameter loss on the known θ*
(gain in dB, EQ magnitude response in dB, pan, compressor settings where the compressor is on),
with the weights of :class:`TrainConfig`. Adam, gradient clipping 10, checkpoints every
``checkpoint_every`` steps (``--resume`` continues), validation on held-out sessions.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..analysis.loudness import LoudnessMeter
from ..console import mixer
from ..console import params as P
from ..models import match_net as M
from .losses import af_loss, mrstft_loss

Say = Callable[[str], None]
DATA_VERSION = 1
LOSS_SAMPLES = 65536  # 1.49 s (B.7's code: 2.97 s; halved so a CPU can train)
RUN_IN = 16384  # samples of console run-in (filter and compressor state) before a segment
VALIDATION_SEED = 500_000  # validation sessions: seeds from here (training: from first_seed)
EVALUATION_SEED = 700_000  # held-out evaluation sessions (reaper-automix eval match)
MIN_STEM_LUFS = -60.0  # a stem quieter than this in window B is left out (B.2: training skips
# tracks that are silent in the segment)
EQ_FREQUENCIES = torch.logspace(math.log10(25.0), math.log10(18000.0), 32, dtype=torch.float64)


# ------------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class DataConfig:
    """What :func:`prepare` generates."""

    train_sessions: int = 100
    validation_sessions: int = 8
    examples_per_session: int = 8
    first_seed: int = 0
    session_length_s: float = 24.0  # two 5.94 s windows and run-in fit with room to move
    max_stems: int = 8

    def seeds(self, split: str) -> list[int]:
        if split == "train":
            return list(range(self.first_seed, self.first_seed + self.train_sessions))
        return list(range(VALIDATION_SEED, VALIDATION_SEED + self.validation_sessions))


@dataclass(frozen=True)
class TrainConfig:
    """How :func:`train` trains (loss weights: B.7's AF and MRSTFT, plus our parameter loss)."""

    steps: int = 3000
    batch: int = 6  # examples per step (parameter loss on all of them)
    console_examples: int = 1  # of which this many also go through the console (AF + MRSTFT)
    learning_rate: float = 3e-4
    weight_decay: float = 1e-4
    clip: float = 10.0
    af_weight: float = 1.0
    mrstft_weight: float = 1.0
    parameter_weight: float = 1.0
    checkpoint_every: int = 50
    validate_every: int = 200
    validation_examples: int = 16
    seed: int = 42
    model: M.MatchNetConfig = field(default_factory=M.MatchNetConfig)


# ------------------------------------------------------------------------------ random console
def random_settings(n_stems: int, rng: np.random.Generator) -> torch.Tensor:
    """Physical console parameters (S, 25) of a plausible random mix (our Method-1 prior)."""
    out = P.neutral(n_stems)
    for s in range(n_stems):
        out[s, P.GAIN] = float(np.clip(rng.normal(0.0, 6.0), -18.0, 18.0))
        for band, (g, f, q) in zip(P.EQ_BANDS, zip(P.EQ_GAINS, P.EQ_FREQS, P.EQ_QS)):
            out[s, f] = float(np.exp(rng.uniform(np.log(band.low_hz), np.log(band.high_hz))))
            out[s, q] = float(np.exp(rng.uniform(np.log(0.3), np.log(3.0))))
            out[s, g] = float(rng.uniform(-10.0, 10.0)) if rng.random() < 0.5 else 0.0
        if rng.random() < 0.5:
            out[s, P.THRESHOLD] = float(rng.uniform(-36.0, -12.0))
            out[s, P.RATIO] = float(np.exp(rng.uniform(np.log(1.5), np.log(8.0))))
            out[s, P.ATTACK] = float(np.exp(rng.uniform(np.log(5.0), np.log(80.0))))
            out[s, P.RELEASE] = float(np.exp(rng.uniform(np.log(30.0), np.log(250.0))))
            out[s, P.KNEE] = float(rng.uniform(3.0, 12.0))
        out[s, P.PAN] = 0.0 if rng.random() < 0.3 else float(rng.uniform(-0.8, 0.8))
    return out


def console_mix(stems: np.ndarray | torch.Tensor, physical: torch.Tensor) -> torch.Tensor:
    """The console's mix (2, n) of stems (S, 2, n) already at ``STEM_LUFS`` (input gain 0)."""
    tokens = torch.as_tensor(stems).to(torch.float64)
    zeros = torch.zeros(tokens.shape[0], dtype=torch.float64)
    return mixer.mix(tokens, physical, zeros, M.SAMPLE_RATE, plugin_rounding=False)


# ---------------------------------------------------------------------------------- examples
@dataclass
class Example:
    """One cached Method-1 example."""

    stem_mels: np.ndarray  # (S, 2, mels, frames) float16: window B at INPUT_STEM_LUFS
    reference_mels: np.ndarray  # (2, mels, frames) float16: window A at -16 LUFS
    segment: np.ndarray  # (S, 2, RUN_IN + LOSS_SAMPLES) float16: stems at STEM_LUFS
    target: np.ndarray  # (2, LOSS_SAMPLES) float32: θ* on the loss segment (after the run-in)
    settings: np.ndarray  # (S, 25) float32: normalised θ*
    info: dict[str, Any]

    @property
    def n_stems(self) -> int:
        return self.segment.shape[0]

    def save(self, path: Path) -> None:
        scratch = path.with_name(path.name + ".tmp")  # never matched by *.npz
        with open(scratch, "wb") as file:
            np.savez(file, stem_mels=self.stem_mels, reference_mels=self.reference_mels,
                     segment=self.segment, target=self.target, settings=self.settings,
                     info=np.array(json.dumps(self.info)))
        os.replace(scratch, path)

    @classmethod
    def load(cls, path: Path) -> Example:
        with np.load(path) as data:
            return cls(data["stem_mels"], data["reference_mels"], data["segment"],
                       data["target"], data["settings"], json.loads(str(data["info"])))


def _session_stems(session, rng: np.random.Generator, max_stems: int
                   ) -> tuple[list[str], list[np.ndarray]]:
    """Folder submixes (children at N(0, 3 dB)) or 2–max_stems single tracks."""
    tracks = {stem.name: stem.read() for stem in session.stems}
    folders: dict[str, list[str]] = {}
    for stem in session.stems:
        folders.setdefault(stem.folder, []).append(stem.name)
    if len(folders) >= 2 and rng.random() < 0.5:
        names, audio = [], []
        for folder, children in folders.items():
            gains = 10.0 ** (rng.normal(0.0, 3.0, len(children)) / 20.0)
            names.append(folder)
            audio.append(sum(tracks[c] * np.float32(g) for c, g in zip(children, gains)))
        return names, audio
    count = int(rng.integers(2, min(max_stems, len(tracks)) + 1))
    chosen = [list(tracks)[i] for i in sorted(rng.choice(len(tracks), count, replace=False))]
    return chosen, [tracks[name] for name in chosen]


def make_example(session, seed: int, max_stems: int = 8,
                 front_end: M.LogMel | None = None) -> Example | None:
    """One Method-1 example from a generated session (None when too few stems sound)."""
    front_end = front_end or M.LogMel(M.MatchNetConfig())
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x3A7C]))
    meter = LoudnessMeter(M.SAMPLE_RATE)
    names, audio = _session_stems(session, rng, max_stems)
    n = audio[0].shape[0]
    if n < 2 * M.WINDOW + RUN_IN:
        raise ValueError(f"session {session.spec.seed} is too short for two windows")
    a_start, b_start = _two_windows(n, rng)
    keep, scaled = [], []
    for name, stem in zip(names, audio):
        song = meter.integrated(stem)
        window = stem[b_start:b_start + M.WINDOW]
        if not math.isfinite(song) or not meter.integrated(window) > MIN_STEM_LUFS:
            continue
        keep.append(name)
        scaled.append((stem * np.float32(10.0 ** ((P.STEM_LUFS - song) / 20.0))).T)
    if len(keep) < 2:
        return None
    stems = np.stack(scaled)  # (S, 2, n) at STEM_LUFS
    offset = b_start + int(rng.integers(RUN_IN, M.WINDOW - LOSS_SAMPLES + 1))
    reference, target, settings, shift = render_pair(stems, random_settings(len(keep), rng),
                                                     a_start, offset)
    segment = stems[:, :, offset - RUN_IN:offset + LOSS_SAMPLES]
    scale = 10.0 ** ((M.INPUT_STEM_LUFS - P.STEM_LUFS) / 20.0)
    window = torch.from_numpy(stems[:, :, b_start:b_start + M.WINDOW] * np.float32(scale))
    with torch.no_grad():
        stem_mels = front_end(window).numpy()
        reference_mels = front_end(torch.from_numpy(reference.astype(np.float32))).numpy()
    info = {"session_seed": session.spec.seed, "example_seed": seed, "piece": session.spec.piece,
            "stems": keep, "reference_start": int(a_start), "window_start": int(b_start),
            "segment_start": int(offset), "shift_db": float(shift)}
    return Example(stem_mels.astype(np.float16), reference_mels.astype(np.float16),
                   segment.astype(np.float16), target.astype(np.float32),
                   P.to_normalised(settings).float().numpy(), info)


def render_pair(stems: np.ndarray, settings: torch.Tensor, reference_start: int,
                segment_start: int) -> tuple[np.ndarray, np.ndarray, torch.Tensor, float]:
    """Method 1's reference and target from stems (S, 2, n) at ``STEM_LUFS``: the console with
    ``settings`` on the window at ``reference_start`` (after RUN_IN samples of run-in), one
    common gain bringing it to −16 LUFS, added to the settings' gains (θ*); and θ* on the loss
    segment at ``segment_start``. Returns (reference (2, WINDOW), target (2, LOSS_SAMPLES),
    θ* physical, the common gain in dB)."""
    meter = LoudnessMeter(M.SAMPLE_RATE)
    settings = settings.clone()
    with torch.no_grad():
        window = stems[:, :, reference_start - RUN_IN:reference_start + M.WINDOW]
        reference = console_mix(window, settings)[:, RUN_IN:].numpy()
        shift = M.INPUT_REFERENCE_LUFS - meter.integrated(reference.T)
        clamped = torch.clamp(settings[:, P.GAIN] + shift, -40.0, 40.0)
        if bool((clamped != settings[:, P.GAIN] + shift).any()):  # keep θ* and the audio equal
            settings[:, P.GAIN] = clamped
            reference = console_mix(window, settings)[:, RUN_IN:].numpy()
        else:
            settings[:, P.GAIN] = clamped
            reference = reference * 10.0 ** (shift / 20.0)
        segment = stems[:, :, segment_start - RUN_IN:segment_start + LOSS_SAMPLES]
        target = console_mix(segment, settings)[:, RUN_IN:].numpy()
    return reference, target, settings, float(shift)


def _two_windows(n: int, rng: np.random.Generator) -> tuple[int, int]:
    """Starts of two non-overlapping windows (each after RUN_IN samples of run-in)."""
    span = n - RUN_IN - 2 * M.WINDOW
    first, gap = sorted(rng.integers(0, span + 1, 2))
    a, b = RUN_IN + first, RUN_IN + gap + M.WINDOW
    return (a, b) if rng.random() < 0.5 else (b, a)


@lru_cache(maxsize=1)
def _chorales() -> tuple[str, ...]:
    from music21 import corpus

    root = Path(corpus.__file__).parent
    names = {str(p.relative_to(root).with_suffix("")) for p in corpus.getComposer("bach")}
    return tuple(sorted(n for n in names if re.fullmatch(r"bach/bwv\d+\.\d+", n)))


def training_piece(seed: int) -> str:
    """The corpus piece of a training or validation session: one of the Bach chorales of the
    installed music21 corpus (``bach/bwvN.M``), drawn from the seed. Everything else about the
    session (programs, key, tempo, kit, groove, vocals, levels) is the generator's own draw."""
    pieces = _chorales()
    if not pieces:
        raise FileNotFoundError("the music21 corpus has no Bach chorales: reinstall music21")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xC40]))
    return pieces[int(rng.integers(len(pieces)))]


def prepare(data: Path, config: DataConfig = DataConfig(), say: Say = print) -> dict[str, int]:
    """Generate the sessions and cache every example under ``data`` (resumable: finished
    sessions and examples are skipped). Returns the example count per split."""
    from ..generator import SessionSpec, generate_session

    counts = {}
    front_end = M.LogMel(M.MatchNetConfig())
    for split in ("train", "validation"):
        folder = data / "examples" / split
        folder.mkdir(parents=True, exist_ok=True)
        seeds = config.seeds(split)
        started = time.monotonic()
        for number, seed in enumerate(seeds):
            paths = [folder / f"{seed:06d}-{k}.npz" for k in range(config.examples_per_session)]
            if all(p.exists() or p.with_suffix(".none").exists() for p in paths):
                continue
            spec = SessionSpec.draw(seed, piece=training_piece(seed),
                                    length_s=config.session_length_s)
            try:
                session = generate_session(spec, cache_dir=data / "generator")
            except ValueError as exc:  # a piece the generator cannot arrange at this length
                say(f"{split}: seed {seed} skipped: {exc}")
                for path in paths:
                    path.with_suffix(".none").touch()
                continue
            for k, path in enumerate(paths):
                if path.exists() or path.with_suffix(".none").exists():
                    continue
                example = make_example(session, seed * 100 + k, config.max_stems, front_end)
                if example is None:
                    path.with_suffix(".none").touch()
                else:
                    example.save(path)
            elapsed = time.monotonic() - started
            say(f"{split}: session {number + 1}/{len(seeds)} (seed {seed}, {spec.piece}, "
                f"{len(session.stems)} tracks) {elapsed:.0f} s")
        counts[split] = len(list(folder.glob("*.npz")))
    (data / "examples" / "data.json").write_text(json.dumps(
        {"version": DATA_VERSION, "config": asdict(config), "counts": counts}, indent=1) + "\n")
    return counts


# -------------------------------------------------------------------------------------- batches
@dataclass
class Batch:
    stem_mels: torch.Tensor  # (B, S, 2, mels, frames) float32, padded
    mask: torch.Tensor  # (B, S)
    reference_mels: torch.Tensor  # (B, 2, mels, frames)
    examples: list[Example]

    def to(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (self.stem_mels.to(device), self.mask.to(device),
                self.reference_mels.to(device))


def collate(examples: list[Example]) -> Batch:
    width = max(e.n_stems for e in examples)
    shape = examples[0].stem_mels.shape[1:]
    stems = np.zeros((len(examples), width, *shape), np.float32)
    mask = np.zeros((len(examples), width), bool)
    for b, example in enumerate(examples):
        stems[b, :example.n_stems] = example.stem_mels
        mask[b, :example.n_stems] = True
    reference = np.stack([e.reference_mels.astype(np.float32) for e in examples])
    return Batch(torch.from_numpy(stems), torch.from_numpy(mask), torch.from_numpy(reference),
                 examples)


# ------------------------------------------------------------------------------------- losses
def parameter_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Distance between normalised settings (S, 25) in what is heard: gain in dB (/12; the
    balance between stems counts fully, the common level a tenth: the action sets it), the EQ
    magnitude response in dB on 32 log-spaced frequencies (/12), pan, and where the target's
    compressor is on, threshold and ratio (normalised) plus attack and release (half weight)."""
    p, t = P.to_physical(predicted.double()), P.to_physical(target.double())
    error = (p[:, P.GAIN] - t[:, P.GAIN]) / 12.0
    gain = torch.mean((error - error.mean()) ** 2) + 0.1 * error.mean() ** 2
    def response(x: torch.Tensor) -> torch.Tensor:
        h = mixer.eq_response(x, EQ_FREQUENCIES, M.SAMPLE_RATE, plugin_rounding=False)
        return 20.0 * torch.log10(torch.abs(h) + 1e-9)
    eq = torch.mean(((response(p) - response(t)) / 12.0) ** 2)
    pan = torch.mean((p[:, P.PAN] - t[:, P.PAN]) ** 2)
    on = (t[:, P.RATIO] > 1.05).double()
    diff = (predicted.double() - target.double()) ** 2
    compressor = torch.mean(diff[:, P.RATIO]) + torch.sum(
        on * (diff[:, P.THRESHOLD] + 0.5 * diff[:, P.ATTACK] + 0.5 * diff[:, P.RELEASE])
    ) / max(1.0, float(on.sum()))
    return gain + eq + pan + compressor


def example_losses(predicted: torch.Tensor, example: Example) -> dict[str, torch.Tensor]:
    """AF, MRSTFT (through the console on the loss segment) and parameter losses of one
    example's prediction (S, 25) normalised."""
    physical = P.to_physical(predicted.double().cpu().clamp(0.0, 1.0))
    mix = console_mix(example.segment.astype(np.float64), physical)[:, RUN_IN:].float()
    target = torch.from_numpy(example.target)  # losses in float32: half the cost
    settings = torch.from_numpy(example.settings)
    return {"af": af_loss(mix, target, M.SAMPLE_RATE), "mrstft": mrstft_loss(mix, target),
            "parameter": parameter_loss(predicted.cpu(), settings)}


def neutral_prediction(example: Example) -> torch.Tensor:
    """The neutral console (equal loudness, flat) as normalised settings: the baseline."""
    return P.to_normalised(P.neutral(example.n_stems)).float()


# ------------------------------------------------------------------------------------ training
def _split(data: Path, split: str) -> list[Path]:
    paths = sorted((data / "examples" / split).glob("*.npz"))
    if not paths:
        raise FileNotFoundError(f"no {split} examples under {data / 'examples' / split}: run "
                                f"`reaper-automix train match --data {data}` to prepare them")
    return paths


def evaluate(model: M.MatchNet, paths: list[Path], device: torch.device,
             baseline: bool = False) -> dict[str, float]:
    """Mean losses over ``paths`` (eval mode); ``baseline`` scores the neutral console."""
    totals: dict[str, float] = {}
    model.eval()
    with torch.no_grad():
        for path in paths:
            example = Example.load(path)
            if baseline:
                predicted = neutral_prediction(example)
            else:
                predicted = model.forward_mels(*collate([example]).to(device))[0].cpu()
            for key, value in example_losses(predicted, example).items():
                totals[key] = totals.get(key, 0.0) + float(value) / len(paths)
    model.train()
    return totals


def _total(losses: dict[str, torch.Tensor | float], config: TrainConfig) -> Any:
    return (config.af_weight * losses["af"] + config.mrstft_weight * losses["mrstft"]
            + config.parameter_weight * losses["parameter"])


def train(data: Path, out: Path, config: TrainConfig = TrainConfig(), resume: bool = False,
          say: Say = print, command: str = "") -> dict[str, Any]:
    """Train on the cached examples under ``data``; checkpoints and the final weights (with
    their model card dict) go to ``out``. Returns the card."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_paths = _split(data, "train")
    validation = _split(data, "validation")[:config.validation_examples]
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / "checkpoint.pt"
    torch.manual_seed(config.seed)
    model = M.MatchNet(config.model).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    history: dict[str, Any] = {"train": [], "validation": [], "seconds": 0.0}
    step = 0
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        step, history = state["step"], state["history"]
        say(f"resumed at step {step}")
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / 100) * (0.1 if s >= 0.85 * config.steps else 1.0),
        last_epoch=step - 1)
    if not history["validation"]:
        neutral = evaluate(model, validation, device, baseline=True)
        history["neutral_validation"] = neutral
        say(f"validation, neutral console: {_format(neutral, config)}")
    rng = np.random.default_rng([config.seed, step])
    model.train()
    started, running = time.monotonic(), {}
    while step < config.steps:
        chosen = [train_paths[i] for i in rng.choice(len(train_paths), config.batch,
                                                        replace=False)]
        examples = [Example.load(p) for p in chosen]
        batch = collate(examples)
        predicted = model.forward_mels(*batch.to(device))
        through = examples[:config.console_examples]
        losses = [example_losses(predicted[b, :e.n_stems], e) for b, e in enumerate(through)]
        mean = {k: sum(l[k] for l in losses) / len(losses) for k in ("af", "mrstft")}
        mean["parameter"] = sum(
            parameter_loss(predicted[b, :e.n_stems].cpu(), torch.from_numpy(e.settings))
            for b, e in enumerate(examples)) / len(examples)
        loss = _total(mean, config)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        optimiser.step()
        schedule.step()
        step += 1
        for key, value in mean.items():
            running[key] = running.get(key, 0.0) + float(value.detach())
        if step % config.checkpoint_every == 0 or step == config.steps:
            averaged = {k: v / config.checkpoint_every for k, v in running.items()}
            history["seconds"] += time.monotonic() - started
            started, running = time.monotonic(), {}
            history["train"].append({"step": step, **averaged})
            say(f"step {step}: train {_format(averaged, config)} "
                f"({history['seconds'] / 60:.1f} min)")
            if step % config.validate_every == 0 or step == config.steps:
                train_paths = _split(data, "train")  # examples still being prepared join here
                scores = evaluate(model, validation, device)
                history["validation"].append({"step": step, **scores})
                say(f"step {step}: validation {_format(scores, config)} "
                    f"({len(train_paths)} training examples)")
            _save_checkpoint(checkpoint, model, optimiser, step, history)
    card = {
        "command": command, "steps": step, "train_config": _plain(asdict(config)),
        "data": _data_record(data),
        "history": history, "wall_seconds": history["seconds"], "device": str(device),
        "parameters": model.parameter_count(), "torch": str(torch.__version__),
    }
    M.save(model.cpu(), out / M.WEIGHTS_FILE.name, card)
    (out / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    return card


def _data_record(data: Path) -> dict[str, Any]:
    """What the examples under ``data`` are now: per split the example count and the session
    seeds they come from (data.json keeps only the last prepare run's settings)."""
    record: dict[str, Any] = {}
    for split in ("train", "validation"):
        paths = sorted((data / "examples" / split).glob("*.npz"))
        seeds = sorted({int(p.stem.split("-")[0]) for p in paths})
        record[split] = {"examples": len(paths), "sessions": len(seeds),
                         "seeds": f"{seeds[0]}-{seeds[-1]}" if seeds else ""}
    settings = data / "examples" / "data.json"
    if settings.exists():
        record["last_prepare"] = json.loads(settings.read_text())
    return record


def _format(losses: dict[str, float], config: TrainConfig) -> str:
    total = _total(losses, config)
    return (f"total {total:.4f} = af {losses['af']:.4f} + mrstft {losses['mrstft']:.4f} + "
            f"parameter {losses['parameter']:.4f}")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _save_checkpoint(path: Path, model: M.MatchNet, optimiser: torch.optim.Optimizer,
                     step: int, history: dict[str, Any]) -> None:
    scratch = path.with_name(path.name + ".tmp")
    torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "step": step,
                "history": history}, scratch)
    os.replace(scratch, path)


def tiny(config: TrainConfig) -> TrainConfig:
    """A configuration small enough for tests (a few seconds of CPU)."""
    model = M.MatchNetConfig(channels=(4, 8, 8, 8), d_model=16, heads=2, layers=1,
                             feedforward=32)
    return replace(config, model=model, batch=1, checkpoint_every=1, validate_every=2,
                   validation_examples=1)
