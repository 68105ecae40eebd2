"""Benchmark MatchNet's forward pass (issue 15 target: ≤ 1 s for 8 stem tokens + the reference
on 2 CPU cores; ≤ 5 M parameters; weights ≤ 50 MB).

    .venv/bin/python benchmarks/bench_match_net.py              # shipped weights, 1 and 2 threads
    .venv/bin/python benchmarks/bench_match_net.py --stems 4 8  # 8 and 16 stem tokens

Inputs are seeded noise windows of 5.94 s (the network does not care what they hold): S stereo
stems (2·S tokens) + a stereo reference (2 tokens), through the front end, the encoder and the
controller, without gradients, in eval mode. Times are the median of --repeats runs after one
warm-up run; "predict" adds what the action does around it (loudest windows, normalisation) on
3-minute stems.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime, timezone

import numpy as np
import torch

from reaper_automix.models import match_net as M


def _median_seconds(call, repeats: int) -> float:
    call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stems", nargs="+", type=int, default=[4], help="stereo stems (4 = 8 "
                        "tokens)")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    model = M.load() if M.WEIGHTS_FILE.exists() else M.MatchNet().eval()
    source = "shipped weights" if M.WEIGHTS_FILE.exists() else "random weights (none shipped)"
    size = M.WEIGHTS_FILE.stat().st_size / 2 ** 20 if M.WEIGHTS_FILE.exists() else float("nan")
    print(f"MatchNet ({source}): {model.parameter_count():,} parameters (target ≤ 5,000,000), "
          f"weights file {size:.1f} MiB (target ≤ 50); "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, torch {torch.__version__}")
    rng = np.random.default_rng(0)
    print(f"{'stems':>5} {'tokens':>6} {'threads':>7} {'forward s':>10} {'predict s':>10}")
    for stems in args.stems:
        audio = torch.from_numpy(rng.standard_normal((1, stems, 2, M.WINDOW)).astype(np.float32)
                                 * 0.003)
        reference = torch.from_numpy(rng.standard_normal((1, 2, M.WINDOW)).astype(np.float32)
                                     * 0.1)
        mask = torch.ones(1, stems, dtype=torch.bool)
        song = [rng.standard_normal((180 * M.SAMPLE_RATE, 2)).astype(np.float32) * 0.05
                for _ in range(stems)]
        song_reference = rng.standard_normal((180 * M.SAMPLE_RATE, 2)).astype(np.float32) * 0.1
        for threads in args.threads:
            torch.set_num_threads(threads)
            with torch.no_grad():
                forward = _median_seconds(lambda: model(audio, mask, reference), args.repeats)
            predict = _median_seconds(
                lambda: M.predict(song, [0.0] * stems, song_reference, M.SAMPLE_RATE, model),
                max(1, args.repeats // 2))
            print(f"{stems:>5} {2 * stems + 2:>6} {threads:>7} {forward:>10.3f} {predict:>10.3f}")


if __name__ == "__main__":
    main()
