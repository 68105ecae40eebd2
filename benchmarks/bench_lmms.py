"""The five LMMS evaluation songs: render times, the stem-volume finding, composer mix vs render.

    .venv/bin/python benchmarks/bench_lmms.py                       # all five songs
    .venv/bin/python benchmarks/bench_lmms.py --songs Greshz-CoolSnip --no-check

1. Re-measures whether ``lmms rendertracks`` stems already hold the track's volume, pan and the
   master volume (renders of Greshz-CoolSnip with one setting changed, see lmms.py).
2. Renders each song's tracks into a fresh cache (``--cache`` to reuse one) and times it.
3. Compares the composer mix (stems at the composer's gains) with ``lmms render`` of the song:
   integrated loudness of both, the lag between them, the residual energy relative to the
   render (after that lag; drumsynth and zynaddsubfx voices are noisy or free-running, so
   waveforms need not null), and the short-term loudness difference over the song (3 s
   windows where the render is above -40 LUFS: median and 95th percentile of |difference|).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.signal import correlate

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reaper_automix.analysis.loudness import LoudnessMeter  # noqa: E402
from reaper_automix.audio.io import read_audio  # noqa: E402
from reaper_automix.generator.lmms import (ALLOWED_SONGS, load_song,  # noqa: E402
                                           stems_include_track_gain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", nargs="+", default=list(ALLOWED_SONGS))
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--check", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    if args.check:
        print("\nstem level change after one change in the project (Greshz-CoolSnip, last track):")
        for label, value in stems_include_track_gain().items():
            print(f"  {label}: {value:+.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-lmms-") as scratch:
        cache = args.cache or Path(scratch)
        print("\n| song | tracks | length s | rendertracks s | render s | composer mix LUFS | "
              "render LUFS | lag samples | residual dB | short-term |Δ| LU (median, 95 %) |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        meter = LoudnessMeter(44100)
        for name in args.songs:
            song = load_song(name, cache_dir=cache)
            start = time.perf_counter()
            whole = read_audio(song.render_whole_song())[0]
            render_s = time.perf_counter() - start
            mix = song.composer_mix()
            lag = _lag(mix, whole)
            shifted = np.roll(mix, lag, axis=0)
            residual = 10 * np.log10(np.sum((shifted.astype(np.float64) - whole) ** 2)
                                     / np.sum(whole.astype(np.float64) ** 2))
            short_mix, short_whole = meter.short_term(shifted), meter.short_term(whole)
            loud = short_whole > -40.0
            gaps = np.abs(short_mix[loud] - short_whole[loud])
            print(f"| {name} | {len(song.tracks)} | {song.length_s:.1f} | {song.render_s:.1f} | "
                  f"{render_s:.1f} | {meter.integrated(mix):.2f} | {meter.integrated(whole):.2f} | "
                  f"{lag} | {residual:.1f} | {np.median(gaps):.2f}, "
                  f"{np.percentile(gaps, 95):.2f} |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


def _lag(mix: np.ndarray, whole: np.ndarray, seconds: float = 20.0) -> int:
    """Samples by which ``mix`` must move to line up with ``whole``."""
    n = min(len(mix), len(whole), int(seconds * 44100))
    corr = correlate(whole[:n, 0].astype(np.float64), mix[:n, 0].astype(np.float64),
                     mode="full", method="fft")
    return int(np.argmax(corr)) - (n - 1)


if __name__ == "__main__":
    main()
