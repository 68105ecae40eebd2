"""Benchmark the per-track analysis behind Auto balance group against a plain pyloudnorm pass.

    .venv/bin/python benchmarks/bench_analysis.py                       # 100 tracks × 180 s
    .venv/bin/python benchmarks/bench_analysis.py --tracks 10 --seconds 30
    .venv/bin/python benchmarks/bench_analysis.py --dir /path/to/wavs   # any folder of audio files

Without --dir it synthesises (once, cached under .cache/bench/) a musical session: folders of ten
tracks (kick, snare, hats, bass, pad, lead, vocal-like, pluck, sparse FX, quiet room), stereo
float32 WAV at 44.1 kHz. Every measurement runs in a fresh subprocess that reads the files
itself; the table gives wall time, its ratio to the baseline, CPU time (user + system, all
threads) and peak RSS of that process. Wall-time ratios are only meaningful on an idle machine:
compare the load average printed below the table.
The f0 error section compares the default capped PESTO frames with every 10 ms frame.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reaper_automix.analysis.cfb import CfbOptions  # noqa: E402
from reaper_automix.analysis.tracks import analyse_tracks  # noqa: E402

RATE = 44100
TRACKS_PER_FOLDER = 10
GENERATOR_VERSION = 1
KINDS = ("kick", "snare", "hats", "bass", "pad", "lead", "vocal", "pluck", "fx", "room")


# ------------------------------------------------------------------------------ the session

def _envelope_hits(n: int, period: float, offset: float, decay: float) -> np.ndarray:
    """exp(−t/decay) restarting every ``period`` seconds from ``offset``."""
    t = np.arange(n) / RATE
    since = (t - offset) % period
    return np.where(t >= offset, np.exp(-since / decay), 0.0)


def _notes(n: int, rng: np.random.Generator, choices: list[float], per_second: float) -> np.ndarray:
    count = int(np.ceil(n / RATE * per_second)) + 1
    return np.repeat(rng.choice(choices, size=count), int(RATE / per_second))[:n]


def _harmonics(freq: np.ndarray, partials: int, tilt: float) -> np.ndarray:
    phase = 2 * np.pi * np.cumsum(freq) / RATE
    return sum(np.sin(k * phase) / k**tilt for k in range(1, partials + 1))


def _noise(n: int, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[(freqs < lo) | (freqs > hi)] = 0.0
    noise = np.fft.irfft(spectrum, n)
    return noise / noise.std()


def synth_track(kind: str, seconds: float, seed: int) -> np.ndarray:
    """One stereo track of a given kind: vectorised additive/noise synthesis, float32."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    beat = 60.0 / rng.uniform(90, 130)
    if kind == "kick":
        env = _envelope_hits(n, beat, 0.0, 0.12)
        since = t % beat
        mono = 0.8 * env * np.sin(2 * np.pi * (45 * since + 60 * 0.03 * (1 - np.exp(-since / 0.03))))
    elif kind == "snare":
        env = _envelope_hits(n, 2 * beat, beat, 0.09)
        mono = 0.4 * env * (_noise(n, rng, 200, 9000) * 0.5 + np.sin(2 * np.pi * 190 * t))
    elif kind == "hats":
        mono = 0.15 * _envelope_hits(n, beat / 2, 0.0, 0.03) * _noise(n, rng, 6000, 18000)
    elif kind == "bass":
        freq = _notes(n, rng, [41.2, 49.0, 55.0, 61.7, 73.4, 82.4], 1 / beat)
        mono = 0.35 * _harmonics(freq, 8, 1.5) * (0.4 + 0.6 * _envelope_hits(n, beat, 0.0, 0.4))
    elif kind == "pad":
        root = _notes(n, rng, [130.8, 146.8, 174.6, 196.0], 1 / (4 * beat))
        mono = 0.12 * sum(_harmonics(root * ratio, 6, 1.2) for ratio in (1.0, 1.26, 1.5))
    elif kind == "lead":
        freq = _notes(n, rng, [523.3, 587.3, 659.3, 784.0, 880.0], 2 / beat)
        freq = freq * (1 + 0.006 * np.sin(2 * np.pi * 5.5 * t))
        mono = 0.2 * _harmonics(freq, 10, 1.0) * (t % (8 * beat) < 6 * beat)
    elif kind == "vocal":
        freq = _notes(n, rng, [196.0, 220.0, 246.9, 261.6, 293.7], 1 / beat)
        buzz = _harmonics(freq * (1 + 0.01 * np.sin(2 * np.pi * 5 * t)), 30, 1.0)
        spectrum = np.fft.rfft(buzz)
        freqs = np.fft.rfftfreq(n, 1 / RATE)
        formants = sum(np.exp(-0.5 * ((freqs - f) / 120) ** 2) for f in (700, 1200, 2600))
        mono = 0.25 * np.fft.irfft(spectrum * formants, n) * (t % (4 * beat) < 2.5 * beat)
    elif kind == "pluck":
        freq = _notes(n, rng, [196.0, 246.9, 293.7, 392.0], 2 / beat)
        mono = 0.3 * _harmonics(freq, 12, 1.3) * _envelope_hits(n, beat / 2, 0.0, 0.25)
    elif kind == "fx":
        swell = np.clip(np.sin(2 * np.pi * t / 23.0), 0, None) ** 8
        mono = 0.3 * swell * _noise(n, rng, 300, 5000)
    else:  # room: barely above silence, usually inactive
        mono = 10 ** (-62 / 20) * _noise(n, rng, 100, 8000)
    pan = rng.uniform(-0.6, 0.6)
    left, right = np.cos((pan + 1) * np.pi / 4), np.sin((pan + 1) * np.pi / 4)
    level = 10 ** (rng.uniform(-12, 0) / 20)
    return (level * np.sqrt(2) * np.stack([left * mono, right * mono], axis=1)).astype(np.float32)


def session(n_tracks: int, seconds: float, subtype: str = "FLOAT") -> list[Path]:
    """Generate (or reuse) the cached synthetic session and return its files in order
    (``subtype``: soundfile's WAV sample format, FLOAT or PCM_16)."""
    suffix = "" if subtype == "FLOAT" else f"-{subtype.lower()}"
    root = REPO / ".cache" / "bench" / f"session-v{GENERATOR_VERSION}-{n_tracks}x{seconds:g}s{suffix}"
    paths = []
    for index in range(n_tracks):
        folder, kind = divmod(index, TRACKS_PER_FOLDER)
        path = root / f"folder{folder:02d}" / f"{kind:02d}-{KINDS[kind]}.wav"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(path), synth_track(KINDS[kind], seconds, seed=index), RATE, subtype=subtype)
            print(f"  generated {path.relative_to(REPO)}", file=sys.stderr)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------- measurements

def _loader(path: Path):
    return lambda: sf.read(str(path), dtype="float32", always_2d=True)[0]


def run_child(task: str, paths: list[Path], f0_max_frames: int) -> dict:
    """Body of one measurement subprocess: time the task, report wall time and peak RSS."""
    rate = sf.info(str(paths[0])).samplerate
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    if task == "pyloudnorm":
        import pyloudnorm

        loudness = [pyloudnorm.Meter(rate).integrated_loudness(sf.read(str(p), dtype="float32")[0]) for p in paths]
        result = [{"loudness": value} for value in loudness]
    else:
        cap = None if task == "f0-reference" else f0_max_frames
        method, options = task.removesuffix("-reference"), CfbOptions(f0_max_frames=cap)
        analyses = analyse_tracks([_loader(p) for p in paths], rate, method, options=options)
        result = [a.cfb and {"band": a.cfb.band_hz, "loudness": a.cfb.loudness_lufs} for a in analyses]
    seconds = time.perf_counter() - start
    done = resource.getrusage(resource.RUSAGE_SELF)
    cpu = done.ru_utime + done.ru_stime - usage.ru_utime - usage.ru_stime
    return {"task": task, "seconds": seconds, "cpu_s": cpu, "peak_mb": _peak_rss_mb(), "result": result}


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would include the parent's fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(task: str, paths: list[Path], f0_max_frames: int) -> dict:
    command = [sys.executable, __file__, "--child", task, "--f0-max-frames", str(f0_max_frames), *map(str, paths)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def f0_error(
    paths: list[Path], capped: dict[Path, dict | None], f0_max_frames: int
) -> list[tuple[str, str, str, str]]:
    """Band-edge error (cents) and CFB loudness error (dB) of the capped PESTO frames."""
    reference = measure("f0-reference", paths, f0_max_frames)
    rows = []
    for path, full in zip(paths, reference["result"]):
        fast = capped[path]
        if fast is None or full is None or fast["band"] is None or full["band"] is None:
            rows.append((path.parent.name + "/" + path.stem, "inactive or full band", "", ""))
            continue
        cents = 1200 * np.log2(fast["band"][0] / full["band"][0])
        rows.append((
            path.parent.name + "/" + path.stem,
            f"[{full['band'][0]:.0f}, {full['band'][1]:.0f}] Hz",
            f"{cents:+.1f} cents",
            f"{fast['loudness'] - full['loudness']:+.3f} dB",
        ))
    rows.append(("every-10-ms reference time", f"{reference['seconds']:.1f} s", "", ""))
    return rows


def audio_files(folder: Path) -> list[Path]:
    """The audio files under a folder; they must share one sample rate (one analyse_tracks call)."""
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".wav", ".flac", ".aif", ".aiff"})
    if not paths:
        raise SystemExit(f"no .wav/.flac/.aif(f) files under {folder}")
    rates = {sf.info(str(p)).samplerate for p in paths}
    if len(rates) > 1:
        raise SystemExit(f"the files under {folder} mix sample rates {sorted(rates)}: use one rate")
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=100, help="number of synthetic tracks (default 100)")
    parser.add_argument("--seconds", type=float, default=180.0, help="length of each synthetic track")
    parser.add_argument("--dir", type=Path, help="benchmark the audio files of this folder instead")
    parser.add_argument("--methods", default="lufs,centroid,f0", help="comma-separated CFB methods")
    parser.add_argument("--f0-error-tracks", type=int, default=10, help="tracks for the f0 error check (0 = skip)")
    parser.add_argument(
        "--f0-max-frames", type=int, default=CfbOptions().f0_max_frames, help="PESTO frame cap per track"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.paths, args.f0_max_frames)))
        return 0
    paths = audio_files(args.dir) if args.dir else session(args.tracks, args.seconds)
    audio_seconds = sum(sf.info(str(p)).duration for p in paths)
    print(f"{len(paths)} tracks, {audio_seconds / 60:.1f} min of audio")
    for path in paths:  # warm the page cache so that every pass reads from memory
        sf.read(str(path), frames=1)
        path.read_bytes()
    baseline = measure("pyloudnorm", paths, args.f0_max_frames)
    records = {method: measure(method, paths, args.f0_max_frames) for method in args.methods.split(",")}
    print(f"\n{'pass':<34}{'wall s':>9}{'x baseline':>12}{'CPU s':>9}{'peak MB':>10}")
    for label, record in [("pyloudnorm integrated (baseline)", baseline)] + [
        (f"analyse_tracks {method}", record) for method, record in records.items()
    ]:
        ratio = record["seconds"] / baseline["seconds"]
        print(
            f"{label:<34}{record['seconds']:>9.1f}{ratio:>12.2f}{record['cpu_s']:>9.1f}{record['peak_mb']:>10.0f}"
        )
    print(f"load average (1, 5, 15 min) after the passes: {os.getloadavg()}: other processes share the cores")
    if args.f0_error_tracks and "f0" in records:
        capped = dict(zip(paths, records["f0"]["result"]))
        pitched = [p for p in paths if p.stem.split("-")[-1] in {"bass", "pad", "lead", "vocal", "pluck"}]
        print(f"\nf0: at most {args.f0_max_frames} PESTO frames per track vs every 10 ms frame")
        print(f"  {'track':<24}{'reference band':>20}{'lo edge error':>16}{'loudness error':>16}")
        for name, band, cents, loudness in f0_error(
            pitched[: args.f0_error_tracks] or paths[: args.f0_error_tracks], capped, args.f0_max_frames
        ):
            print(f"  {name:<24}{band:>20}{cents:>16}{loudness:>16}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
