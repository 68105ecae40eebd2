"""Speed of the session generator: seconds per generated session, cold and warm.

    .venv/bin/python benchmarks/bench_generator.py                    # 6 sessions of 30 s
    .venv/bin/python benchmarks/bench_generator.py --count 3 --length 120 --vocal

Renders into a fresh temporary cache (nothing is reused), one session after another in this
process: the first session also pays the one-off costs (soundfont load, syllable analysis,
numba compilation), which are timed separately. Then reads one session back from the cache.
Figures depend on machine load; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reaper_automix.generator import SessionSpec, generate_session  # noqa: E402
from reaper_automix.generator import sources  # noqa: E402
from reaper_automix.generator.vocals import syllables  # noqa: E402
from reaper_automix.music.synth import GMSynth  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=6)
    parser.add_argument("--length", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--vocal", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    one_off = {}
    start = time.perf_counter()
    GMSynth.shared(sources.soundfont_path("FluidR3_GM"), gain_db=-6.0)
    one_off["FluidR3 load"] = time.perf_counter() - start
    start = time.perf_counter()
    syllables()
    one_off["syllable analysis"] = time.perf_counter() - start
    print("one-off: " + ", ".join(f"{k} {v:.2f} s" for k, v in one_off.items()))
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-generator-") as cache:
        for seed in range(args.seed, args.seed + args.count):
            spec = SessionSpec.draw(seed, length_s=args.length, vocal=args.vocal)
            start = time.perf_counter()
            session = generate_session(spec, cache_dir=cache)
            seconds = time.perf_counter() - start
            rows.append((seed, spec, len(session.stems), seconds))
        start = time.perf_counter()
        generate_session(rows[0][1], cache_dir=cache)
        cached = time.perf_counter() - start
    print(f"\n| seed | piece | tempo | vocal | stems | render s | s per stem-minute |")
    print("|---|---|---|---|---|---|---|")
    for seed, spec, stems, seconds in rows:
        per = seconds / (stems * args.length / 60.0)
        print(f"| {seed} | {spec.piece} | {spec.tempo:g} | {spec.vocal} | {stems} | "
              f"{seconds:.2f} | {per:.2f} |")
    warm = [r[3] for r in rows[1:]] or [rows[0][3]]
    stems = sum(r[2] for r in rows) / len(rows)
    print(f"\nmean of sessions 2–{len(rows)}: {sum(warm) / len(warm):.2f} s per "
          f"{args.length:g} s session ({stems:.1f} stems on average); first session "
          f"{rows[0][3]:.2f} s; read from cache {cached * 1000:.0f} ms")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
