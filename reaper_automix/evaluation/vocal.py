"""``reaper-automix eval vocal``: Mix lead vocal's methods on held-out generated songs.

Protocol (docs/vocal.md, "Evaluation"). Each held-out song is a dry generated vocal ``v`` over
its backing. From the song's seed we draw what a good mix would be and scramble the vocal:

* truth: a level (vocal minus backing) from MUSDB18's distribution (−3.6 ± 1.3 LU); a compressor
  from the DiffVox prior, whose result on ``v`` gives the true loudness range; an FdnReverb
  setting (the training distribution of the reverb network); a flat EQ;
* input: ``v`` through a random EQ (4 of the 9 octave bands, ±15 dB, Q 1) at a random level
  (−10 … +6 LU against the backing), dry.

Every method mixes the input; we compare its result with the truth in the paper's MAE table:
level (its vocal minus backing vs the true level), LRA (the loudness range its EQ and compressor
leave vs the true one), EQ (its MultiEQ response at the 9 octave centres vs the inverse of the
scrambling EQ there, dB), and the 10 reverb parameters. "mean" predicts the training mean of
every label (EQ 0 dB). The labels of level and compression carry no information the audio can
reveal beyond what the draws put in, as in the paper's own table (C.6): report where each method
stands, not a winner.

For every method also: its settings against the DiffVox presets (share of the 15 layout-free
descriptors inside the presets' 10–90 % ranges; log-likelihood under the descriptor Gaussian)
and its vocal-minus-backing against MUSDB18's p10–p90 (−5.0 … −2.1 LU).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.bands import OCTAVE_CENTRES_HZ
from ..analysis.loudness import LoudnessMeter
from ..decisions.vocal import VocalInputError, decide_vocal
from ..decisions.vocal_chain import (
    apply_compressor,
    apply_eq,
    eq_response_db,
    mean_t60,
    reverb_path,
)
from ..decisions.vocal_cnn import LEVEL_RANGE, REVERB_PARAMS
from ..decisions.vocal_prior import (
    DESCRIPTORS,
    DIFFVOX_LUFS,
    LEVEL_MEDIAN_LU,
    LEVEL_P10_LU,
    LEVEL_P90_LU,
    LEVEL_SD_LU,
    descriptor_vector,
    load_prior,
)
from ..training.vocal import (
    Song,
    generator_songs,
    random_compressor,
    random_eq,
    random_reverb,
    synthetic_songs,
)

FIRST_EVAL_SEED = 100_000
METHODS = ("mean", "rules", "prior", "cnn")
REVERB_COLUMNS = {"dryWet": ("DW (%)", 100.0), "revTime": ("RT (s)", 1.0),
                  "fadeInTime": ("FT (s)", 1.0), "delayLength": ("RS", 1.0),
                  "lowCutoff": ("LCF (Hz)", 1.0), "lowGain": ("LCG", 1.0),
                  "lowQ": ("LCQ", 1.0), "highCutoff": ("HCF (Hz)", 1.0),
                  "highGain": ("HCG", 1.0), "highQ": ("HCQ", 1.0)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``reaper-automix eval vocal`` (the protocol: this module's docstring)."""
    parser.add_argument("--data", choices=("generator", "synthetic"), default="generator")
    parser.add_argument("--songs", type=int, default=20, help="held-out songs (default 20)")
    parser.add_argument("--first-seed", type=int, default=FIRST_EVAL_SEED,
                        help=f"first song seed (default {FIRST_EVAL_SEED}; training uses 0…)")
    parser.add_argument("--length", type=float, default=None, help="song length (s)")
    parser.add_argument("--family", default=None,
                        help="generated sessions: only pieces of this catalogue family")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated subset of {','.join(METHODS)}")
    parser.add_argument("--json", type=Path, help="also write the full results here")


# =============================================================================== the truth
def scramble(song: Song, seed: int) -> dict[str, Any]:
    """The song's truth and scrambled input (see the module docstring), from ``seed``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 16]))
    sr = song.sample_rate
    meter = LoudnessMeter(sr)
    backing_lufs = meter.integrated(song.backing)
    first = meter.integrated(song.vocal[:, :1])
    compressor = random_compressor(rng, first)
    true_lra = meter.loudness_range(apply_compressor(song.vocal, sr, compressor))
    reverb = random_reverb(rng)
    level = float(np.clip(rng.normal(LEVEL_MEDIAN_LU, LEVEL_SD_LU), *LEVEL_RANGE))
    eq, _ = random_eq(rng)
    scrambled = apply_eq(song.vocal, sr, eq)
    offset = rng.uniform(*LEVEL_RANGE)
    current = meter.integrated(scrambled) - backing_lufs
    scrambled = scrambled * np.float32(10 ** ((offset - current) / 20))
    freqs = np.array(OCTAVE_CENTRES_HZ)
    return {"input": scrambled, "level_lu": level, "lra_lu": true_lra, "reverb": reverb,
            "eq_correction_db": (-eq_response_db(eq, freqs, sr)).tolist(),
            "input_level_lu": offset, "compressor": compressor}


def training_means(count: int = 8, seed: int = 0) -> dict[str, Any]:
    """What "mean" predicts: the training labels' means (level and reverb from their draw
    distributions, LRA from reference compressors on synthetic songs, EQ 0 dB)."""
    rng = np.random.default_rng(seed)
    reverbs = [random_reverb(rng) for _ in range(2000)]
    levels = np.clip(rng.normal(LEVEL_MEDIAN_LU, LEVEL_SD_LU, 20000), *LEVEL_RANGE)
    lras = []
    for song in synthetic_songs(count, seed, seconds=20.0):
        meter = LoudnessMeter(song.sample_rate)
        first = meter.integrated(song.vocal[:, :1])
        params = random_compressor(rng, first)
        lras.append(meter.loudness_range(apply_compressor(song.vocal, song.sample_rate, params)))
    return {"level_lu": float(levels.mean()), "lra_lu": float(np.mean(lras)),
            "reverb": {k: float(np.mean([r[k] for r in reverbs])) for k in REVERB_PARAMS},
            "eq_db": [0.0] * len(OCTAVE_CENTRES_HZ)}


# =============================================================================== scoring
def score_decision(song: Song, truth: dict[str, Any], decision) -> dict[str, Any]:
    sr = song.sample_rate
    chain = decision.chain
    meter = LoudnessMeter(sr)
    after_comp = apply_compressor(apply_eq(truth["input"], sr, chain.multieq), sr,
                                  chain.omnicompressor)
    lra = meter.loudness_range(after_comp)
    response = eq_response_db(chain.multieq, np.array(OCTAVE_CENTRES_HZ), sr)
    first = meter.integrated(truth["input"][:, :1])
    threshold_re18 = chain.omnicompressor["threshold"] - (first - DIFFVOX_LUFS)
    t60 = mean_t60(chain.fdnreverb, sr)
    r2d = reverb_path(chain, sr).reverb_to_direct_db()
    descriptors = descriptor_vector(chain.multieq, chain.omnicompressor, threshold_re18,
                                    max(t60, 1e-3), max(r2d, -60.0), sr)
    return {
        "level_lu": decision.level_after_lu, "lra_lu": lra, "eq_db": response.tolist(),
        "reverb": {k: chain.fdnreverb[k] for k in REVERB_PARAMS},
        "descriptors": descriptors.tolist(), "level_target_lu": decision.level_target_lu,
    }


def errors(result: dict[str, Any], truth: dict[str, Any]) -> dict[str, float]:
    out = {"Level (dB)": abs(result["level_lu"] - truth["level_lu"]),
           "LRA (dB)": abs(result["lra_lu"] - truth["lra_lu"]),
           "EQ gain (dB)": float(np.mean(np.abs(np.array(result["eq_db"])
                                               - np.array(truth["eq_correction_db"]))))}
    for key, (column, scale) in REVERB_COLUMNS.items():
        out[column] = abs(result["reverb"][key] - truth["reverb"][key]) * scale
    return out


def settings_against_presets(descriptors: list[list[float]]) -> dict[str, float]:
    prior = load_prior()
    ranges = prior.percentiles["descriptors"]
    x = np.array(descriptors)
    inside = np.array([[ranges[name][0] <= row[i] <= ranges[name][2]
                        for i, name in enumerate(DESCRIPTORS)] for row in x])
    likelihood = [prior.descriptors.log_likelihood(row) for row in x]
    return {"inside_p10_p90": float(inside.mean()),
            "inside_by_descriptor": dict(zip(DESCRIPTORS, inside.mean(axis=0).tolist())),
            "log_likelihood_mean": float(np.mean(likelihood))}


# =============================================================================== running
def evaluate(songs: list[Song], seeds: list[int], methods: list[str],
             say=lambda message: None, mean_songs: int = 8) -> dict[str, Any]:
    means = training_means(mean_songs)
    rows: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
    settings: dict[str, list] = {m: [] for m in methods if m != "mean"}
    levels: dict[str, list[float]] = {m: [] for m in methods}
    seconds: dict[str, float] = {m: 0.0 for m in methods}
    refused: dict[str, list[str]] = {m: [] for m in methods}
    calls: dict[str, int] = {m: 0 for m in methods}
    scored: list[str] = []
    for song, seed in zip(songs, seeds):
        truth = scramble(song, seed)
        results: dict[str, dict[str, Any]] = {}
        for method in methods:
            if method == "mean":
                results[method] = {"level_lu": means["level_lu"], "lra_lu": means["lra_lu"],
                                   "eq_db": means["eq_db"], "reverb": means["reverb"]}
                continue
            start = time.perf_counter()
            try:
                decision = decide_vocal(truth["input"], song.backing, song.sample_rate,
                                        method=method, tempo=song.tempo)
            except VocalInputError as exc:  # the method refuses this input: said, not scored
                refused[method].append(f"{song.name}: {exc}")
                continue
            seconds[method] += time.perf_counter() - start
            calls[method] += 1
            results[method] = score_decision(song, truth, decision)
        if len(results) < len(methods):  # every method is scored on the same songs
            say(f"{song.name}: not scored (refused by "
                f"{', '.join(m for m in methods if m not in results)})")
            continue
        for method, result in results.items():
            rows[method].append(errors(result, truth))
            levels[method].append(result["level_lu"])
            if method != "mean":
                settings[method].append(result["descriptors"])
        scored.append(song.name)
        say(f"{song.name}: done")
    if not scored:
        raise ValueError("no song was scored by every method")
    table = {m: {column: float(np.mean([r[column] for r in rows[m]])) for column in rows[m][0]}
             for m in methods}
    return {
        "songs": scored, "refused": {m: v for m, v in refused.items() if v},
        "training_means": means, "mae": table,
        "settings_vs_diffvox": {m: settings_against_presets(v) for m, v in settings.items()},
        "level_vs_musdb18": {m: {
            "mean_lu": float(np.mean(v)), "inside_p10_p90": float(np.mean(
                [LEVEL_P10_LU <= x <= LEVEL_P90_LU for x in v]))} for m, v in levels.items()},
        "seconds_per_song": {m: s / calls[m] for m, s in seconds.items() if calls[m]},
    }


def main(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console(stderr=True)
    say = lambda message: console.print(message, highlight=False)  # noqa: E731
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
    if args.data == "generator":
        songs = list(generator_songs(args.songs, args.first_seed, args.length, say, args.family))
    else:
        songs = list(synthetic_songs(args.songs, args.first_seed))
    seeds = [args.first_seed + i for i in range(len(songs))]
    results = evaluate(songs, seeds, methods, say)
    results["data"] = args.data
    print(format_results(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


def format_results(results: dict[str, Any]) -> str:
    """Markdown tables (as docs/vocal.md quotes them)."""
    mae = results["mae"]
    methods = list(mae)
    columns = list(next(iter(mae.values())))
    lines = [f"MAE on {len(results['songs'])} held-out {results.get('data', '')} songs",
             "", "| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(_fmt(mae[m][c]) for c in columns) + " |")
    lines += ["", "| method | settings inside DiffVox p10–p90 | mean log-likelihood | "
              "vocal − backing (mean LU) | inside MUSDB18 p10–p90 |", "|---|---|---|---|---|"]
    for m in methods:
        s = results["settings_vs_diffvox"].get(m)
        level = results["level_vs_musdb18"][m]
        preset = (f"{_pct(s['inside_p10_p90'])} | {s['log_likelihood_mean']:.1f}" if s
                  else "– | –")
        lines.append(f"| {m} | {preset} | {level['mean_lu']:+.2f} | "
                     f"{_pct(level['inside_p10_p90'])} |")
    for method, reasons in results.get("refused", {}).items():
        lines += ["", f"{method} refused {len(reasons)} song(s), left out for every method: "
                  + "; ".join(reasons)]
    return "\n".join(lines)


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def _pct(value: float) -> str:
    return f"{100 * value:.0f} %"
