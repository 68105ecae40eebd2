"""Benchmark Auto balance group end to end (the real `reaper-automix balance` CLI) against a plain
pyloudnorm pass over the same files.

    .venv/bin/python benchmarks/bench_balance.py                        # 10 folders × 10 tracks × 180 s
    .venv/bin/python benchmarks/bench_balance.py --folders 4 --seconds 90 --pcm16   # 40 × 90 s, 16-bit
    .venv/bin/python benchmarks/bench_balance.py --folders 2 --seconds 30   # quick run
    .venv/bin/python benchmarks/bench_balance.py --methods centroid --repeats 3

The session reuses the synthetic tracks of bench_analysis.py (generated once, seeded, cached under
.cache/bench/: per folder a kick, snare, hats, bass, pad, lead, vocal-like, pluck, sparse FX and a
near-silent room track, stereo float32 WAV at 44.1 kHz) and writes a REAPER project next to them:
one folder per ten tracks, one item per track, seeded unbalanced faders.

Each measurement is a fresh process; its wall time (process start to exit, imports included), CPU
time (user + system, all threads) and peak RSS come from os.wait4. "cores" is CPU time / wall
time; "wait" is the share of the wall time during which some task of the machine waited for a CPU
(Linux PSI): well above zero, other processes were competing and the wall ratios are pessimistic.
--repeats N runs N rounds of every row (interleaved, so that the machine's speed drifting between
rows does not bias the ratios) and reports each row's fastest run (and its highest peak). Rows:
  baseline   read every file (float32) + pyloudnorm.Meter(rate).integrated_loudness, one core
  render     open the project and render every folder child as the balance job does (no analysis, one thread)
  role/lufs/centroid/f0   `reaper-automix balance PROJECT --method M --dry-run --json`
  role, unnamed   the same with every track named "Audio NN" (roles from the audio classifier)
Targets (issue 17): centroid ≤ 0.5× the baseline's wall time, role ≤ 0.6×, f0 ≤ 1.5×, every
balance run ≤ 2048 MiB peak.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analysis import KINDS, TRACKS_PER_FOLDER, session  # noqa: E402

from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project  # noqa: E402

WALL_TARGETS = {"centroid": 0.5, "role": 0.6, "role-unnamed": 0.6, "f0": 1.5}  # × the baseline's wall time
PEAK_TARGET_MB = 2048.0
FADER_SEED = 3


@dataclass(frozen=True)
class Measurement:
    seconds: float
    cpu_s: float
    peak_mb: float
    stdout: str
    cpu_wait: float  # share of the wall time some task of the machine waited for a CPU


# ------------------------------------------------------------------------------ the project

def track_name(folder: int, kind: int, unnamed: bool = False) -> str:
    if unnamed:
        return f"Audio {folder * TRACKS_PER_FOLDER + kind + 1:03d}"
    return f"G{folder + 1:02d} {KINDS[kind]}"


def build_session_project(folders: int, seconds: float, subtype: str = "FLOAT",
                          unnamed: bool = False) -> tuple[Path, list[Path]]:
    """The cached tracks plus a project over them (rewritten each run: seeded, so identical)."""
    paths = session(folders * TRACKS_PER_FOLDER, seconds, subtype)
    root = paths[0].parents[1]
    rng = np.random.default_rng(FADER_SEED)
    groups = []
    for folder in range(folders):
        children = []
        for kind in range(TRACKS_PER_FOLDER):
            path = paths[folder * TRACKS_PER_FOLDER + kind]
            item = ItemSpec(str(path.relative_to(root.parent)), position=0.0, length=seconds,
                            name=f"take {folder * TRACKS_PER_FOLDER + kind + 1}" if unnamed else None)
            volume = 10 ** (rng.uniform(-10.0, 2.0) / 20)
            children.append(TrackSpec(track_name(folder, kind, unnamed), volume=volume, items=[item]))
        groups.append(TrackSpec(f"Group {folder + 1:02d}", children=children))
    project = root.parent / f"{root.name}{'-unnamed' if unnamed else ''}.RPP"
    write_project(project, groups, sample_rate=44100, tempo=120.0, seed=FADER_SEED)
    return project, paths


# ---------------------------------------------------------------------------- measurements

def cpu_stall_us() -> float:
    """Microseconds some task waited for a CPU since boot (Linux PSI), NaN where unavailable."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return math.nan
    return float(line.rsplit("total=", 1)[1])


def run_measured(command: list[str]) -> Measurement:
    """Run a command in a fresh process: wall time, CPU time and peak RSS of that process alone."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        stall = cpu_stall_us()
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        cpu_wait = (cpu_stall_us() - stall) / 1e6 / seconds
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{err.read()}")
        cpu_s = usage.ru_utime + usage.ru_stime
        return Measurement(seconds, cpu_s, usage.ru_maxrss / 1024, out.read(), cpu_wait)


def best_of(runs: list[Measurement]) -> Measurement:
    """The fastest of a row's runs, with the highest peak memory seen."""
    fastest = min(runs, key=lambda run: run.seconds)
    return Measurement(fastest.seconds, fastest.cpu_s, max(run.peak_mb for run in runs), fastest.stdout,
                       fastest.cpu_wait)


def baseline_pass(paths: list[Path]) -> None:
    """Child process body: plain pyloudnorm integrated loudness of every file, printed as JSON."""
    import pyloudnorm

    loudness = {}
    for path in paths:
        audio, rate = sf.read(str(path), dtype="float32")
        loudness[str(path)] = pyloudnorm.Meter(rate).integrated_loudness(audio)
    print(json.dumps(loudness))


def render_pass(project_path: Path) -> None:
    """Child process body: read the project and render each folder child with the balance job's
    renderer settings (no source cache), one child at a time on one thread (the job renders on
    its two analysis threads)."""
    from reaper_automix.audio.render import Renderer
    from reaper_automix.hosts.rpp import open_project

    project = open_project(project_path)
    renderer = Renderer(project, cache_bytes=0)
    for folder in project.folders:
        for child in folder.children:
            if child.main_send and not child.mute:
                renderer.track(child, fader=False)


def balance_command(project: Path, method: str) -> list[str]:
    cli = Path(sys.executable).with_name("reaper-automix")
    prefix = [str(cli)] if cli.exists() else [sys.executable, "-m", "reaper_automix"]
    return [*prefix, "balance", str(project), "--method", method, "--dry-run", "--json"]


# ------------------------------------------------------------------------------- checks

def check_report(report: dict, folders: int, method: str) -> tuple[int, int]:
    """The report covers every folder and child; returns (active, total) children."""
    if report["method"] != method or len(report["groups"]) != folders:
        raise SystemExit(f"balance --method {method}: {len(report['groups'])} groups, expected {folders}")
    tracks = [t for g in report["groups"] for t in g["tracks"]]
    if len(tracks) != folders * TRACKS_PER_FOLDER:
        raise SystemExit(f"balance --method {method} reported {len(tracks)} tracks")
    return sum(t["active"] for t in tracks), len(tracks)


def lufs_agreement(report: dict, baseline: dict[str, float], paths: list[Path]) -> float:
    """Largest |balance --method lufs loudness − pyloudnorm| over the active tracks, in LU."""
    by_name = {track_name(*divmod(i, TRACKS_PER_FOLDER)): baseline[str(p)] for i, p in enumerate(paths)}
    errors = [abs(t["loudness_db"] - by_name[t["name"]])
              for g in report["groups"] for t in g["tracks"] if t["active"]]
    return max(errors) if errors else math.nan


# -------------------------------------------------------------------------------- report

def verdict(label: str, record: Measurement, baseline: Measurement) -> str:
    checks = []
    if label in WALL_TARGETS:
        checks.append(record.seconds / baseline.seconds <= WALL_TARGETS[label])
    if label in ("lufs", "centroid", "f0", "role", "role-unnamed"):
        checks.append(record.peak_mb <= PEAK_TARGET_MB)
    if not checks:
        return "-"
    return "pass" if all(checks) else "FAIL"


def print_table(records: dict[str, Measurement], titles: dict[str, str]) -> None:
    baseline = records["baseline"]
    header = f"{'pass':<44}{'wall s':>8}{'x base':>8}{'CPU s':>8}{'cores':>7}{'wait':>6}{'peak MiB':>10}"
    print(f"\n{header}  target")
    for label, record in records.items():
        target = ""
        if label in WALL_TARGETS:
            target = f"≤ {WALL_TARGETS[label]:.1f}x, ≤ {PEAK_TARGET_MB:.0f} MiB"
        elif label == "lufs":
            target = f"≤ {PEAK_TARGET_MB:.0f} MiB"
        print(
            f"{titles[label]:<44}{record.seconds:>8.1f}{record.seconds / baseline.seconds:>8.2f}"
            f"{record.cpu_s:>8.1f}{record.cpu_s / record.seconds:>7.2f}{record.cpu_wait:>6.0%}"
            f"{record.peak_mb:>10.0f}"
            f"  {verdict(label, record, baseline)} {target}".rstrip()
        )


def plan_commands(
    project: Path, paths: list[Path], methods: list[str], render_row: bool,
    unnamed: Path | None = None,
) -> dict[str, tuple[str, list[str]]]:
    """Row label → (title, command) in the order they run."""
    rows = {"baseline": ("pyloudnorm integrated, all files (baseline)",
                         [sys.executable, __file__, "--child", "baseline", *map(str, paths)])}
    if render_row:
        rows["render"] = ("project read + render children (no analysis)",
                          [sys.executable, __file__, "--child", "render", str(project)])
    for method in methods:
        rows[method] = (f"balance --method {method} --dry-run", balance_command(project, method))
        if method == "role" and unnamed is not None:
            rows["role-unnamed"] = ("balance --method role, unnamed tracks", balance_command(unnamed, "role"))
    return rows


def print_checks(records: dict[str, Measurement], methods: list[str], paths: list[Path], folders: int) -> None:
    """Sanity of each balance report; the lufs loudness against the pyloudnorm baseline."""
    baseline = json.loads(records["baseline"].stdout)
    for label in [m for m in records if m in methods or m == "role-unnamed"]:
        method = label.split("-")[0]
        report = json.loads(records[label].stdout)
        active, total = check_report(report, folders, method)
        line = f"{label}: {active}/{total} children active"
        if method == "role":
            sources = [t["role_source"] for g in report["groups"] for t in g["tracks"] if t["role"]]
            line += ", roles from " + ", ".join(f"{s} {sources.count(s)}" for s in sorted(set(sources)))
        if method == "lufs":
            line += (f", |loudness - pyloudnorm (rounded K filter)| <= "
                     f"{lufs_agreement(report, baseline, paths):.4f} LU (its documented offset)")
        print(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folders", type=int, default=10, help="folders of ten tracks (default 10)")
    parser.add_argument("--seconds", type=float, default=180.0, help="length of each track (default 180)")
    parser.add_argument("--methods", default="role,lufs,centroid,f0", help="comma-separated balance methods")
    parser.add_argument("--pcm16", action="store_true", help="16-bit WAV files instead of 32-bit float")
    parser.add_argument("--no-unnamed-row", action="store_true", help="skip the role row with unnamed tracks")
    parser.add_argument("--repeats", type=int, default=1, help="runs per row; the fastest is reported")
    parser.add_argument("--no-render-row", action="store_true", help="skip the render-only row")
    parser.add_argument("--child", choices=("baseline", "render"), help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "baseline":
        baseline_pass(args.paths)
        return 0
    if args.child == "render":
        render_pass(args.paths[0])
        return 0

    methods = args.methods.split(",")
    subtype = "PCM_16" if args.pcm16 else "FLOAT"
    project, paths = build_session_project(args.folders, args.seconds, subtype)
    unnamed = None
    if "role" in methods and not args.no_unnamed_row:
        unnamed, _ = build_session_project(args.folders, args.seconds, subtype, unnamed=True)
    audio_seconds = sum(sf.info(str(p)).duration for p in paths)
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()}")
    print(f"project {project.relative_to(REPO)}: {len(paths)} tracks in {args.folders} folders, "
          f"{audio_seconds / 60:.0f} min of audio")
    for path in paths:  # page cache warm: every pass reads from memory
        path.read_bytes()
    rows = plan_commands(project, paths, methods, not args.no_render_row, unnamed)
    for title, command in rows.values():
        shown = " ".join(command) if len(command) <= 8 else " ".join(command[:6]) + " …"
        print(f"  {title}: {shown}", file=sys.stderr)
    runs: dict[str, list[Measurement]] = {label: [] for label in rows}
    for _ in range(args.repeats):  # rounds of every row: a drift in the machine's speed reaches all rows
        for label, (_, command) in rows.items():
            runs[label].append(run_measured(command))
    records = {label: best_of(measured) for label, measured in runs.items()}
    print_table(records, {label: title for label, (title, _) in rows.items()})
    print(f"load average (1, 5, 15 min) after the passes: {os.getloadavg()}")
    print_checks(records, methods, paths, args.folders)
    return 0


if __name__ == "__main__":
    sys.exit(main())
