"""Benchmark Mix lead vocal end to end (the real `reaper-automix vocal` CLI) on a 3-minute song.

    .venv/bin/python benchmarks/bench_vocal.py                     # 180 s, every method
    .venv/bin/python benchmarks/bench_vocal.py --seconds 60 --methods rules --repeats 3

The song: the ten synthetic backing tracks of bench_analysis.py (one folder, cached under
.cache/bench/) plus a synthetic lead vocal (harmonic syllables with sibilance, seeded, cached) in
a "Vocals" folder, stereo float32 WAV at 44.1 kHz. Each row is a fresh process of
`reaper-automix vocal PROJECT --vocal "Lead Vocal" --method M [--reverb R] --dry-run --json`:
wall time (process start to exit, imports included), CPU time (user + system, all threads), peak
RSS, and "wait", the share of the wall time during which some task of the machine waited for a
CPU (Linux PSI; well above zero means other processes competed and the times are pessimistic).
Target: every method ≤ 10 s on 2 cores for a 3-minute song.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analysis import TRACKS_PER_FOLDER, session  # noqa: E402
from bench_balance import best_of  # noqa: E402

from reaper_automix.evaluation.synthetic import synthetic_song  # noqa: E402
from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project  # noqa: E402

TARGET_S = 10.0


def build_project(seconds: float) -> Path:
    paths = session(TRACKS_PER_FOLDER, seconds)
    root = paths[0].parents[1]
    vocal = root / "vocal" / "lead-vocal.wav"
    if not vocal.exists():
        vocal.parent.mkdir(parents=True, exist_ok=True)
        song = synthetic_song(seconds, tempo=120.0, seed=11)
        sf.write(str(vocal), song.vocal[:, 0], song.sample_rate, subtype="FLOAT")
    band = [TrackSpec(p.stem, items=[ItemSpec(str(p.relative_to(root.parent)), 0.0, seconds)])
            for p in paths]
    tracks = [TrackSpec("Band", children=band),
              TrackSpec("Vocals", children=[TrackSpec("Lead Vocal", items=[
                  ItemSpec(str(vocal.relative_to(root.parent)), 0.0, seconds)])])]
    project = root.parent / f"{root.name}-vocal.RPP"
    write_project(project, tracks, sample_rate=44100, tempo=120.0, seed=5)
    return project


def command(project: Path, method: str, reverb: str) -> list[str]:
    cli = Path(sys.executable).with_name("reaper-automix")
    prefix = [str(cli)] if cli.exists() else [sys.executable, "-m", "reaper_automix"]
    return [*prefix, "vocal", str(project), "--vocal", "Lead Vocal", "--method", method,
            "--reverb", reverb, "--dry-run", "--json"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=180.0, help="song length (default 180)")
    parser.add_argument("--methods", default="prior,rules,cnn", help="comma-separated methods")
    parser.add_argument("--reverb", default="insert,send", help="comma-separated reverb modes")
    parser.add_argument("--repeats", type=int, default=1, help="runs per row; fastest reported")
    args = parser.parse_args()
    project = build_project(args.seconds)
    print(f"song: {args.seconds:g} s, {TRACKS_PER_FOLDER} backing tracks + lead vocal; "
          f"load average {os.getloadavg()[0]:.2f} before")
    header = f"{'vocal run':<34}{'wall s':>8}{'CPU s':>8}{'cores':>7}{'wait':>6}{'peak MiB':>10}"
    print(f"\n{header}  level after / target  target ≤ {TARGET_S:g} s")
    failed = False
    for method in args.methods.split(","):
        for reverb in args.reverb.split(","):
            record = best_of(command(project, method, reverb), args.repeats)
            report = json.loads(record.stdout)
            ok = record.seconds <= TARGET_S
            failed |= not ok
            print(f"{f'--method {method} --reverb {reverb}':<34}{record.seconds:>8.1f}"
                  f"{record.cpu_s:>8.1f}{record.cpu_s / record.seconds:>7.2f}"
                  f"{record.cpu_wait:>6.0%}{record.peak_mb:>10.0f}  "
                  f"{report['level_after_lu']:+.2f} / {report['level_target_lu']:+.2f} LU  "
                  f"{'pass' if ok else 'FAIL'}")
    print(f"load average {os.getloadavg()[0]:.2f} after")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
