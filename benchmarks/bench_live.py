"""Auto balance group inside (simulated) REAPER against `reaper-automix balance` on the demo.

    .venv/bin/python benchmarks/bench_live.py                  # the demo, every folder
    .venv/bin/python benchmarks/bench_live.py --project X.RPP  # any project with audio
    .venv/bin/python benchmarks/bench_live.py --render reaper  # REAPER renders every child

Runs the action script in the simulated REAPER of tests/reaper_sim (the real python-reapy in
inside mode, the real worker process), then the CLI on the same project, and prints: the largest
fader difference between the two, the action's wall time and number of UI ticks, how long the
longest call blocked REAPER's UI thread (the action start, one poll, or the apply), and the CLI's
wall time. With REAPER renders (``--render reaper``, or MIDI/plug-in tracks with ``auto``) it also
prints how long AutoMix's own part of the render took (saving and restoring the settings and
selection, the target check, the WAV checks: the start's UI block without the simulated REAPER's
own render), and the size of the stems on disk.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.reaper_sim import (  # noqa: E402  (after the path, before reapy)
    BALANCE_ACTION,
    SimReaper,
    enter_reaper,
    repo_python,
    write_worker_config,
)

MAIN = enter_reaper()
RENDER_CALLS: list[float] = []  # wall time of each render_stems call, the REAPER render included


def _timed_render_stems() -> None:
    from reaper_automix.reaper import stems

    inner = stems.render_stems

    def timed(*args, **kwargs):
        began = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            RENDER_CALLS.append(time.perf_counter() - began)

    stems.render_stems = timed


def run_action(project: Path, resource: Path, render: str
               ) -> tuple[SimReaper, float, float, int, float]:
    """(simulator after the action, wall s, longest UI block s, UI ticks, start's UI block s)."""
    sim = SimReaper(project, resource)
    sim.project_ext[("reaper-automix", "render")] = render
    sim.select(*(t.name for t in sim.project.folders))
    started = time.perf_counter()
    sim.run_script(BALANCE_ACTION)
    start = longest = time.perf_counter() - started
    ticks = 0
    while sim.deferred:
        tick = time.perf_counter()
        exec(sim.deferred.popleft(), MAIN.__dict__)
        longest, ticks = max(longest, time.perf_counter() - tick), ticks + 1
        time.sleep(0.03)  # REAPER runs deferred code about 30 times a second
    return sim, time.perf_counter() - started, longest, ticks, start


def run_cli(project: Path, out: Path) -> tuple[dict[str, float], float]:
    from reaper_automix.hosts.rpp import open_project

    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "reaper_automix", "balance", str(project), "-o",
                    str(out)], check=True, capture_output=True, cwd=REPO)
    elapsed = time.perf_counter() - started
    return {t.guid: t.volume_db for t in open_project(out).tracks}, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="default: the demo project (built once)")
    parser.add_argument("--render", choices=("auto", "reaper", "headless"), default="auto",
                        help="the actions' render setting (default auto)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-live-"))
    project = args.project
    if project is None:
        from reaper_automix.demo import build_demo

        project = build_demo(work / "demo").project
    resource = work / "REAPER"
    resource.mkdir()
    write_worker_config(resource, repo_python(resource), timeout_s=3600)
    _timed_render_stems()
    sim, wall, longest, ticks, start = run_action(project, resource, args.render)
    if sim.message_boxes:
        raise SystemExit(f"the action stopped: {sim.message_boxes[-1][0]}")
    expected, cli_wall = run_cli(project, work / "cli.RPP")
    live = {t.guid: t.volume_db for t in sim.project.tracks}
    common = sorted(expected.keys() & live.keys())
    diff = max(abs(live[g] - expected[g]) for g in common)
    changed = sum(1 for b in sim.undo_blocks for _ in b.changes)
    print(f"project            {project}")
    print(f"folders            {len(sim.project.folders)}, faders moved {changed}, "
          f"undo blocks {len(sim.undo_blocks)}")
    print(f"max |live - CLI|   {diff:.6f} dB over {len(common)} tracks")
    print(f"action wall time   {wall:.2f} s in {ticks} UI ticks")
    print(f"longest UI block   {longest * 1000:.1f} ms")
    print(f"CLI wall time      {cli_wall:.2f} s")
    for render, call in zip(sim.renders, RENDER_CALLS):
        settings = render["settings"]
        seconds = settings["RENDER_ENDPOS"] - settings["RENDER_STARTPOS"]
        print(f"REAPER renders     {len(render['files'])} tracks x {seconds:.1f} s, "
              f"{render['bytes'] / 1e6:.1f} MB of stems")
        print(f"start's UI block   {start * 1000:.0f} ms, of which the simulated REAPER's render "
              f"{render['seconds'] * 1000:.0f} ms")
        print(f"render bookkeeping {(call - render['seconds']) * 1000:.1f} ms (settings, selection, "
              "ranges and transport saved, set and restored, targets and WAVs checked)")


if __name__ == "__main__":
    main()
