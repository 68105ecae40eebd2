"""Throughput of the IEM plug-in emulations on one core, as multiples of real time.

    .venv/bin/python benchmarks/bench_iem.py                 # 180 s stereo at 44.1 kHz
    .venv/bin/python benchmarks/bench_iem.py --seconds 30 --repeats 5

The signal is a synthetic stereo mix (noise bursts, a bass line, hats, a 20 s silent tail so the
filters' decay into silence is measured too). Numba functions are compiled (or loaded from the
cache) before timing; the process is pinned to one CPU and every thread pool is limited to one
thread. Targets: MultiEQ and OmniCompressor ≥ 100× real time, FdnReverb ≥ 30×.
"""

from __future__ import annotations

import os

for _name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reaper_automix.iem import process  # noqa: E402

RATE = 44100
BUSY_EQ = {
    "filterType0": 2, "filterFrequency0": 40, "filterGain1": 3, "filterGain2": -4,
    "filterGain3": 2, "filterGain4": -3, "filterType5": 2, "filterFrequency5": 15000,
}
CASES = [
    ("MultiEQ", "default (band 1 HP only)", {}, 100.0),
    ("MultiEQ", "6 bands, 24 dB HP + LP (8 sections)", BUSY_EQ, 100.0),
    ("OmniCompressor", "default", {}, 100.0),
    ("OmniCompressor", "look-ahead, 512-sample blocks", {"lookAhead": 1, "threshold": -20}, 100.0),
    ("FdnReverb", "default (64 lines)", {}, 30.0),
    ("FdnReverb", "fade-in 0.05 s (two networks)", {"fadeInTime": 0.05, "dryWet": 1}, 30.0),
    ("FdnReverb", "16 lines", {"fdnSize": 0}, 30.0),
]


def test_signal(seconds: float, seed: int = 1) -> np.ndarray:
    """Stereo float32: a bass line, noise hits, hats, then 20 s (at most a ninth) of silence."""
    n = int(seconds * RATE)
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    bass = 0.3 * np.sin(2 * np.pi * 55 * t * (1 + (np.floor(t * 2) % 4) / 4))
    hits = rng.standard_normal(n) * np.exp(-((t % 0.5) / 0.05)) * 0.4
    hats = np.diff(rng.standard_normal(n + 1)) * np.exp(-((t % 0.125) / 0.01)) * 0.1
    audio = np.stack([bass + hits + hats, bass + 0.8 * hits - hats], axis=1).astype(np.float32)
    audio[n - min(int(20 * RATE), n // 9) :] = 0.0
    return audio


def measure(plugin: str, params: dict, audio: np.ndarray, repeats: int) -> float:
    """Median wall time of ``repeats`` runs after one warm-up run."""
    process(plugin, params, audio[: RATE // 10], RATE)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        process(plugin, params, audio, RATE)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    audio = test_signal(args.seconds)
    print(f"{args.seconds:g} s stereo at {RATE} Hz, one core, median of {args.repeats}")
    print(f"{'plug-in':<15} {'configuration':<38} {'time (s)':>9} {'× real time':>12} "
          f"{'target':>7}")
    failed = False
    for plugin, label, params, target in CASES:
        seconds = measure(plugin, params, audio, args.repeats)
        speed = args.seconds / seconds
        ok = speed >= target
        failed |= not ok
        print(f"{plugin:<15} {label:<38} {seconds:>9.3f} {speed:>11.0f}× {target:>6.0f}×"
              f"{'' if ok else '  BELOW TARGET'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
