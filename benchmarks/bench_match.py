"""Benchmark Match reference end to end (the real `reaper-automix match` CLI): 8 stereo stems of
3 min and a 3-min reference, on 2 cores. Target (issue 14): ≤ 30 s wall, ≤ 2 GB peak memory.

    .venv/bin/python benchmarks/bench_match.py                   # 8 stems × 180 s, default budget
    .venv/bin/python benchmarks/bench_match.py --seconds 60 --repeats 2
    .venv/bin/python benchmarks/bench_match.py --fits full,faders --budget 12
    .venv/bin/python benchmarks/bench_match.py --compressed-reference   # compressor phase at work

Stems are eight of bench_analysis.py's cached synthetic tracks (kick, snare, hats, bass, pad,
lead, vocal-like, pluck; stereo float32 WAV at 44.1 kHz, generated once under .cache/bench/), one
top-level track each with seeded faders; the reference is a mix of eight *other* tracks of the
same kinds (other seeds) with its own balance, a gentle high-frequency roll-off and a wider
image, written once next to them. Each row is a fresh process running
`reaper-automix match PROJECT --reference REF -o OUT.RPP --json` (project read, render, analysis,
fit, final render, write); wall time (process start to exit, imports included), CPU time and
peak RSS come from os.wait4 (bench_balance.run_measured). The JSON report gives where the time
went inside the job and the fit's step counts, hence the time per fitting step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, sosfilt

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analysis import KINDS, RATE, TRACKS_PER_FOLDER, session  # noqa: E402
from bench_balance import best_of  # noqa: E402

from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project  # noqa: E402

N_STEMS = 8
WALL_TARGET_S = 30.0
PEAK_TARGET_MB = 2048.0
SEED = 14
COMPRESSOR = {"threshold": -36.0, "ratio": 8.0, "attack": 0.0, "release": 60.0, "knee": 6.0,
              "outGain": 10.0}


def build(seconds: float, compressed: bool) -> tuple[Path, Path]:
    """The project over the first folder's eight stems and the reference from the second's
    (``compressed``: the project's own stems, each through an instant OmniCompressor first, so that
    the reference's crest factor is lower than any balance of the stems gives and the fit's
    compressor phase has work to do)."""
    paths = session(2 * TRACKS_PER_FOLDER, seconds)
    stems, others = paths[:N_STEMS], paths[TRACKS_PER_FOLDER:TRACKS_PER_FOLDER + N_STEMS]
    root = paths[0].parents[1]
    kind = "-compressed" if compressed else ""
    reference = root / f"match-reference{kind}-{seconds:g}s.wav"
    if not reference.exists():
        from reaper_automix.iem import process

        rng = np.random.default_rng(SEED)
        mix = np.zeros((int(seconds * RATE), 2))
        for path in stems if compressed else others:
            audio = sf.read(str(path), dtype="float64")[0]
            if compressed:
                audio = process("OmniCompressor", COMPRESSOR, audio.astype(np.float32), RATE)
                audio = audio.astype(np.float64)
            mid, side = audio.sum(axis=1) / 2, (audio[:, 0] - audio[:, 1]) / 2
            audio = np.stack([mid + 1.5 * side, mid - 1.5 * side], axis=1)  # wider
            mix += audio * 10 ** (rng.uniform(-6, 3) / 20)
        mix = sosfilt(butter(1, 8000, fs=RATE, output="sos"), mix, axis=0)
        mix *= 10 ** (-1 / 20) / np.abs(mix).max()
        sf.write(str(reference), mix.astype(np.float32), RATE, subtype="FLOAT")
    rng = np.random.default_rng(SEED + 1)
    tracks = [TrackSpec(KINDS[i].capitalize(), volume=10 ** (rng.uniform(-9, 3) / 20),
                        items=[ItemSpec(str(p.relative_to(root.parent)), 0.0, seconds)])
              for i, p in enumerate(stems)]
    project = root.parent / f"{root.name}-match.RPP"
    write_project(project, tracks, sample_rate=RATE, seed=SEED)
    return project, reference


def step_timing(project: Path, reference: Path, repeats: int = 20) -> None:
    """Child process body: CPU time of one step of each fitting phase on this session, measured
    directly (a spectral-phase evaluation with EQ, loss and gradient; a compressor-phase step at
    4:1 on every stem, which the fit itself may not reach when compression does not pay)."""
    import time

    import torch

    import reaper_automix.decisions.match as M
    from reaper_automix.hosts.rpp import open_project
    from reaper_automix.jobs.match import plan_match

    captured = {}

    def grab(problem, physical, budget):  # noqa: ANN001, ANN202
        captured.update(problem=problem, physical=physical)
        return physical, 0

    M._dynamics_phase = grab
    with M.torch_threads(1):
        plan_match(open_project(project), reference, options=M.MatchOptions(budget_s=10))
        problem, physical = captured["problem"], captured["physical"].clone()
        zero = torch.zeros(physical.shape[0], dtype=torch.float64)

        def spectral() -> None:
            trial = physical.clone().requires_grad_(True)
            loss = M.feature_loss(M._spectral_features(problem, trial, zero), problem.reference,
                                  problem.level_target_db) + M._regulariser(trial, physical)
            loss.backward()

        segments = M._segments(problem, physical)
        reference_crest = M._crest(torch.from_numpy(np.stack(problem.reference_segments)))
        physical[:, M.P.RATIO], physical[:, M.P.THRESHOLD] = 4.0, -24.0

        def dynamics() -> None:
            trial = physical.clone().requires_grad_(True)
            gain, reduction, power_db = M._compressed(problem, segments, trial)
            crest = M._crest(M._segment_mix(segments, gain, trial))
            ((crest.double() - reference_crest) ** 2).mean().add(-reduction.mean()).backward()

        for name, step in (("spectral evaluation", spectral), ("compressor step", dynamics)):
            step()
            start = time.process_time()
            for _ in range(repeats):
                step()
            print(f"{name}: {1000 * (time.process_time() - start) / repeats:.1f} ms CPU")


def command(project: Path, reference: Path, fit: str, budget: float | None) -> list[str]:
    cli = Path(sys.executable).with_name("reaper-automix")
    prefix = [str(cli)] if cli.exists() else [sys.executable, "-m", "reaper_automix"]
    out = project.with_name(project.stem + f"-{fit}.RPP")
    extra = ["--budget", f"{budget:g}"] if budget is not None else []
    return [*prefix, "match", str(project), "--reference", str(reference), "--fit", fit,
            "-o", str(out), "--json", *extra]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=180.0, help="stem length (default 180)")
    parser.add_argument("--fits", default="full", help="comma-separated --fit values (full)")
    parser.add_argument("--budget", type=float, help="--budget for the CLI (default: its own)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per row; the fastest counts")
    parser.add_argument("--child", choices=("steps",), help=argparse.SUPPRESS)
    parser.add_argument("--compressed-reference", action="store_true",
                        help="the reference's stems went through OmniCompressor (so the fit's "
                        "compressor phase runs, and its time per step is measured)")
    args = parser.parse_args()

    project, reference = build(args.seconds, args.compressed_reference)
    if args.child == "steps":
        step_timing(project, reference)
        return 0
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()}")
    print(f"project {project.relative_to(REPO)}: {N_STEMS} stereo stems × {args.seconds:g} s, "
          f"reference {reference.relative_to(REPO)}")
    for path in [*project.parent.rglob("*.wav")]:  # page cache warm
        if args.seconds and f"{args.seconds:g}s" in str(path):
            path.read_bytes()
    header = (f"{'fit':<8}{'wall s':>8}{'CPU s':>8}{'cores':>7}{'wait':>6}{'peak MiB':>10}"
              f"  {'render':>6} {'analys':>6} {'spectr':>6} {'dynam':>6} {'final':>6}"
              f"  {'steps':>9} {'ms/step':>13}  verdict")
    rows = []
    for fit in args.fits.split(","):
        record = best_of(command(project, reference, fit, args.budget), args.repeats)
        report = json.loads(record.stdout)
        seconds, steps = report["seconds"], report["steps"]
        per_step = "/".join(f"{1000 * seconds[k] / steps[k]:.0f}" if steps[k] else "-"
                            for k in ("spectral", "dynamics"))
        verdict = "pass" if (record.seconds <= WALL_TARGET_S and
                             record.peak_mb <= PEAK_TARGET_MB) else "FAIL"
        rows.append(
            f"{fit:<8}{record.seconds:>8.1f}{record.cpu_s:>8.1f}"
            f"{record.cpu_s / record.seconds:>7.2f}"
            f"{record.cpu_wait:>6.0%}{record.peak_mb:>10.0f}"
            f"  {seconds['render']:>6.1f} {seconds['analysis']:>6.1f} {seconds['spectral']:>6.1f}"
            f" {seconds['dynamics']:>6.1f} {seconds['final']:>6.1f}"
            f"  {steps['spectral']:>4}/{steps['dynamics']:<4} {per_step:>13}  {verdict}")
        distances = report["distances"]
        rows.append(f"{'':<8}AF loss {distances['before']['af_loss']:.3f} → "
                    f"{distances['after']['af_loss']:.3f}, Bark mid "
                    f"{distances['before']['bark_mid_db']:.2f} → "
                    f"{distances['after']['bark_mid_db']:.2f} dB RMS")
    print(f"\n{header}")
    print("\n".join(rows))
    timing = best_of([sys.executable, __file__, "--child", "steps", "--seconds",
                      f"{args.seconds:g}"] + (["--compressed-reference"]
                                              if args.compressed_reference else []), 1)
    print("time per fitting step, measured directly:", timing.stdout.strip().replace("\n", "; "))
    print(f"targets: wall ≤ {WALL_TARGET_S:g} s, peak ≤ {PEAK_TARGET_MB:g} MiB; steps = spectral "
          "evaluations / dynamics steps; ms/step likewise")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
