"""Evaluation of Auto balance group (issue 17): how close each method comes to human balances.

Songs are REAPER projects whose folders are the groups. For each song, each start condition and
each method, the balance job runs as the CLI does (:func:`reaper_automix.jobs.balance.plan_balance`,
default level rule) and its faders are compared with the target balance:

* **error** per track = its fader after balancing minus its target fader, both centred per folder
  (a folder's overall level is not the method's to choose): the median |error| over every track of
  a folder of two or more active tracks, per method. ``none`` leaves the start faders alone.
* **mix loudness change** = integrated loudness of the whole mix (every top-level track summed,
  rendered headless) after balancing minus before (at the start faders); target |change| ≤ 1.0 LU.
* **clips** = samples of that mix over full scale after balancing where the mix had none before.

Start conditions: ``unity`` (every child at 0 dB: the stems as rendered) and ``scrambled``
(every child at U(−9, +9) dB, seeded per song). In both, every item is first turned down by one
common gain so that the start mix peaks at ``--start-peak`` (default −6 dBFS, the headroom a mix
usually leaves for mastering): LMMS stems with the composer's gains divided out sum far over full
scale, and a start that clips would make the peak caps, not the balance, move the mix loudness.
One gain for the whole song changes no balance and no error.

Song sources:

* ``lmms``: the five LMMS songs data.md §3.4 allows (:mod:`reaper_automix.generator.lmms`), the
  target being the composer's faders. The role offsets and the classifier were not fitted on them.
* ``generated:N``: N sessions of :mod:`reaper_automix.generator` (seeds 10000 … 10000+N−1, never
  used in training: the role classifier trains on seeds from 0) set to a known
  balance: each stem at the level the shipped role table asks in CFB terms, plus a seeded
  deviation of U(−2, +2) dB (people do not follow a table). This checks role detection and the
  level rule end to end (names kept, or hidden with ``--hide-names`` so the audio classifier
  decides), not the table itself; the LMMS figures check the table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.role_offsets import RoleOffsets, load_role_offsets
from ..session import Project

CONDITIONS = ("unity", "scrambled")
SCRAMBLE_DB = 9.0
DEVIATION_DB = 2.0
ERROR_TARGET_DB = 3.0
LOUDNESS_TARGET_LU = 1.0
START_PEAK_DBFS = -6.0
DEFAULT_METHODS = ("none", "role", "centroid", "lufs")
GENERATED_SEED_BASE = 10_000


@dataclass(frozen=True)
class Song:
    """A project to balance and the balance it should end at (dB by track name)."""

    source: str  # lmms, generated
    name: str
    project: Path
    target_db: dict[str, float]
    folders: dict[str, list[str]]  # folder name -> its children's names
    roles: dict[str, str] = field(default_factory=dict)  # the song's own role labels


@dataclass
class Outcome:
    source: str
    song: str
    condition: str
    method: str
    errors_db: dict[str, float]  # track -> centred fader error
    loudness_change_lu: float
    clipped_before: int
    clipped_after: int
    roles: dict[str, str] = field(default_factory=dict)  # track -> role the method used
    capped_folders: int = 0  # folders lowered to a -0.1 dBFS peak (they would have clipped)

    @property
    def new_clip(self) -> bool:
        return self.clipped_after > 0 and self.clipped_before == 0


# ----------------------------------------------------------------------------- songs
def lmms_songs(workdir: Path, names: list[str] | None = None) -> Iterator[Song]:
    """The allowed LMMS songs (``names``: some of them) as projects with one folder per group."""
    from ..generator.lmms import ALLOWED_SONGS, GROUP_FOLDERS, check_song_name, load_song
    from ..rpp.builder import ItemSpec, TrackSpec, write_project

    for name in names or ALLOWED_SONGS:
        check_song_name(name)
        song = load_song(name)
        for reason in song.skipped:  # silent tracks, and stems LMMS renders silenced
            print(f"{name}: left out {reason}", file=sys.stderr)
        tracks = song.tracks  # without broken stems (generator.lmms.BROKEN_LUFS)
        tree = []
        for group, folder in GROUP_FOLDERS.items():
            children = [TrackSpec(t.name, pan=t.pan, items=[ItemSpec(str(t.path.resolve()), 0.0, song.length_s)])
                        for t in tracks if t.group == group]
            if children:
                tree.append(TrackSpec(folder, children=children))
        path = workdir / name / f"{name}.RPP"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_project(path, tree, sample_rate=song.sample_rate, tempo=song.tempo, seed=0)
        folders = {spec.name: [c.name for c in spec.children] for spec in tree}
        yield Song("lmms", name, path, {t.name: t.composer_gain_db for t in tracks}, folders,
                   {t.name: t.role for t in tracks})


def generated_songs(workdir: Path, count: int, hide_names: bool) -> Iterator[Song]:
    from ..analysis.role_offsets import shipped_role_offsets
    from ..analysis.tracks import analyse_track
    from ..generator import SessionSpec, generate_session
    from ..hosts.rpp import open_project

    table = shipped_role_offsets()
    for seed in range(GENERATED_SEED_BASE, GENERATED_SEED_BASE + count):
        session = generate_session(SessionSpec.draw(seed))
        rng = np.random.default_rng(seed)
        target = {}
        for stem in session.stems:
            analysis = analyse_track(stem.read(), session.sample_rate, "centroid")
            if analysis.active:  # the level at which this stem's CFB loudness sits on the table
                target[stem.name] = (table[stem.role] - analysis.cfb.loudness_lufs
                                     + rng.uniform(-DEVIATION_DB, DEVIATION_DB))
        path = session.write_project(workdir / f"session-{seed}" / "session.RPP", target)
        names = {s.name: s.name for s in session.stems}
        if hide_names:
            path, names = _hide_names(path)
        project = open_project(path)
        folders = {f.name: [c.name for c in f.children] for f in project.folders}
        yield Song("generated-unnamed" if hide_names else "generated", f"generated-{seed}", path,
                   {names[k]: v for k, v in target.items()}, folders,
                   {names[s.name]: s.role for s in session.stems})


def _hide_names(path: Path) -> tuple[Path, dict[str, str]]:
    """The same project with every non-folder track named "Audio NN" and its items "Audio NN.wav"
    (REAPER's names for fresh recordings), so that no name tells the role; and the renaming."""
    from ..rpp.document import RppDocument

    document = RppDocument.load(path)
    number, renamed = 0, {}
    for block in document.track_blocks():
        if block.line("ISBUS") is not None and block.line("ISBUS").values[:1] == ["1"]:
            continue  # a folder keeps its name
        number += 1
        renamed[block.line("NAME").values[0]] = f"Audio {number:02d}"
        for line in [block.line("NAME"), *(item.line("NAME") for item in block.blocks("ITEM"))]:
            if line is not None:
                label = f"Audio {number:02d}" + ("" if line.parent is block else ".wav")
                line.text = f'{line.indent}NAME "{label}"'
    hidden = path.with_name(path.stem + "-hidden.RPP")
    document.save(hidden, backup=False)
    return hidden, renamed


# --------------------------------------------------------------------------- running
def start_faders(song: Song, condition: str, seed: int) -> dict[str, float]:
    names = [n for children in song.folders.values() for n in children]
    if condition == "unity":
        return {n: 0.0 for n in names}
    rng = np.random.default_rng(seed)
    return {n: float(rng.uniform(-SCRAMBLE_DB, SCRAMBLE_DB)) for n in names}


def evaluate_song(song: Song, method: str, condition: str, seed: int,
                  role_offsets: RoleOffsets | None = None,
                  start_peak_dbfs: float = START_PEAK_DBFS) -> Outcome:
    from ..analysis.loudness import LoudnessMeter
    from ..hosts.rpp import open_project
    from ..jobs.balance import plan_balance

    project = open_project(song.project)
    for name, db in start_faders(song, condition, seed).items():
        project.track(name).volume_db = db
    before = _start_at_peak(project, mix(project), start_peak_dbfs)
    roles: dict[str, str] = {}
    capped = 0
    if method != "none":
        report = plan_balance(project, method=method, role_offsets=role_offsets)
        roles = {t.name: t.role for g in report.groups for t in g.tracks if t.role}
        capped = sum(g.peak_limit_db < -0.05 for g in report.groups)
    after = mix(project)
    errors = {}
    for children in song.folders.values():
        scored = [n for n in children if n in song.target_db and math.isfinite(song.target_db[n])
                  and project.track(n).volume_db > -100.0]
        if len(scored) < 2:
            continue
        got = np.array([project.track(n).volume_db for n in scored])
        want = np.array([song.target_db[n] for n in scored])
        errors.update(zip(scored, ((got - got.mean()) - (want - want.mean())).tolist()))
    meter = LoudnessMeter(project.sample_rate)
    return Outcome(song.source, song.name, condition, method, errors,
                   meter.integrated(after) - meter.integrated(before),
                   int(np.sum(np.abs(before) > 1.0)), int(np.sum(np.abs(after) > 1.0)), roles, capped)


def _start_at_peak(project: Project, start_mix: np.ndarray, peak_dbfs: float) -> np.ndarray:
    """Turn every item down by one gain so that the start mix peaks at ``peak_dbfs`` (never up);
    returns the start mix as it then renders."""
    peak = float(np.max(np.abs(start_mix))) if start_mix.size else 0.0
    gain = 10.0 ** (peak_dbfs / 20.0) / peak if peak > 0.0 else 1.0
    if gain >= 1.0:
        return start_mix
    for track in project.tracks:
        for item in track.items:
            item.volume *= gain
    return mix(project)


def mix(project: Project) -> np.ndarray:
    from ..audio.render import Renderer

    renderer = Renderer(project, cache_bytes=0)
    out = np.zeros((renderer.n_samples(), 2), np.float64)
    for top in project.top_level:
        if top.main_send and not top.mute:
            out += renderer.track(top)
    return out


def summarise(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """One row per (source, condition, method): median |error|, worst loudness change, clips."""
    rows = []
    keys = list(dict.fromkeys((o.source, o.condition, o.method) for o in outcomes))
    for source, condition, method in keys:
        chosen = [o for o in outcomes if (o.source, o.condition, o.method) == (source, condition, method)]
        errors = np.abs([e for o in chosen for e in o.errors_db.values()])
        per_song = {o.song: round(float(np.median(np.abs(list(o.errors_db.values())))), 2)
                    for o in chosen if o.errors_db}
        changes = [o.loudness_change_lu for o in chosen]
        free = [o.loudness_change_lu for o in chosen if o.capped_folders == 0]
        rows.append({"source": source, "condition": condition, "method": method,
                     "median_abs_error_db": round(float(np.median(errors)), 2) if errors.size else None,
                     "per_song_db": per_song, "tracks": int(errors.size),
                     "max_abs_loudness_change_lu": round(float(np.max(np.abs(changes))), 2),
                     "max_abs_loudness_change_uncapped_lu": round(float(np.max(np.abs(free))), 2) if free else None,
                     "songs_capped": sum(o.capped_folders > 0 for o in chosen),
                     "new_clips": sum(o.new_clip for o in chosen)})
    return rows


def by_role(outcomes: list[Outcome], condition: str) -> list[dict[str, Any]]:
    """Median |error| per method over the tracks of each role (the role method ``role`` gave the
    track; tracks it did not run on are left out), for one start condition."""
    roles = {(o.song, name): role for o in outcomes
             if o.method == "role" and o.condition == condition for name, role in o.roles.items()}
    errors: dict[str, dict[str, list[float]]] = {}
    for o in outcomes:
        if o.condition != condition:
            continue
        for name, error in o.errors_db.items():
            if (o.song, name) in roles:
                errors.setdefault(roles[o.song, name], {}).setdefault(o.method, []).append(abs(error))
    return [{"role": role, "tracks": max(map(len, by_method.values())),
             "median_abs_error_db": {method: round(float(np.median(values)), 1)
                                     for method, values in by_method.items()}}
            for role, by_method in sorted(errors.items())]


def role_table(rows: list[dict[str, Any]], methods: list[str]) -> str:
    lines = ["| role | tracks | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
    for r in rows:
        medians = r["median_abs_error_db"]
        lines.append(f"| {r['role']} | {r['tracks']} | " + " | ".join(str(medians.get(m, "–")) for m in methods) + " |")
    return "\n".join(lines)


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| source | start | method | median abs error dB | tracks | max mix loudness change LU "
             "(songs without a peak cap) | songs with a folder lowered by the peak cap | songs with a new clip |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['source']} | {r['condition']} | {r['method']} | {r['median_abs_error_db']} | "
                     f"{r['tracks']} | {r['max_abs_loudness_change_lu']} ({r['max_abs_loudness_change_uncapped_lu']}) | "
                     f"{r['songs_capped']} | {r['new_clips']} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[0] + " Slow (minutes per song); not part of the tests."
    parser.add_argument("--songs", default="lmms",
                        help="comma-separated sources: lmms (all five), lmms:NAME (one), generated:N")
    parser.add_argument("--offsets", type=Path, metavar="FILE",
                        help="method role: this role table instead of the shipped one (as "
                        "`balance --offsets`), e.g. one derived without the song evaluated")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help="comma-separated: none (leave the faders) or a method of "
                        "`reaper-automix balance --method`")
    parser.add_argument("--conditions", default=",".join(CONDITIONS), help="unity, scrambled")
    parser.add_argument("--hide-names", action="store_true",
                        help="generated songs: name every track 'Audio NN' (roles from the audio)")
    parser.add_argument("--seed", type=int, default=0, help="of the scrambled faders")
    parser.add_argument("--start-peak", type=float, default=START_PEAK_DBFS, metavar="DBFS",
                        help="turn each song down so that its start mix peaks here (default "
                        f"{START_PEAK_DBFS:g}; never up)")
    parser.add_argument("--json", type=Path, help="also write every outcome and the summary here")


def main(args: argparse.Namespace) -> int:
    from ..jobs.balance import METHODS

    methods = args.methods.split(",")
    role_offsets = load_role_offsets(args.offsets) if args.offsets else None
    unknown = [m for m in methods if m != "none" and m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}: choose from none, {', '.join(METHODS)}")
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="automix-eval-balance-") as scratch:
        for song in _songs(args.songs, Path(scratch), args.hide_names):
            for condition in args.conditions.split(","):
                for method in methods:
                    outcome = evaluate_song(song, method, condition, _stable_seed(song.name, args.seed),
                                            role_offsets, args.start_peak)
                    outcomes.append(outcome)
                    errors = list(outcome.errors_db.values())
                    print(f"{song.name} {condition} {method}: median |error| "
                          f"{np.median(np.abs(errors)) if errors else float('nan'):.2f} dB, mix "
                          f"{outcome.loudness_change_lu:+.2f} LU ({outcome.capped_folders} folders "
                          f"peak-capped), clipped samples {outcome.clipped_before} -> "
                          f"{outcome.clipped_after}", file=sys.stderr, flush=True)
    rows = summarise(outcomes)
    print(table(rows))
    roles = {condition: by_role(outcomes, condition) for condition in args.conditions.split(",")}
    for condition, role_rows in roles.items():
        if role_rows:
            print(f"\nmedian |error| dB by the role method's role, start {condition}:\n")
            print(role_table(role_rows, methods))
    if args.json:
        args.json.write_text(json.dumps({"summary": rows, "by_role": roles,
                                         "outcomes": [asdict(o) for o in outcomes]},
                                        indent=1), encoding="utf-8")
    return 0


def _stable_seed(name: str, seed: int) -> int:
    return seed * 100_003 + sum(ord(c) * (i + 1) for i, c in enumerate(name)) % 100_003


def _songs(spec: str, workdir: Path, hide_names: bool) -> Iterator[Song]:
    for source in spec.split(","):
        name, _, count = source.partition(":")
        if name == "lmms":
            yield from lmms_songs(workdir, [count] if count else None)
        elif name == "generated":
            yield from generated_songs(workdir, int(count or 10), hide_names)
        else:
            raise ValueError(f"unknown song source {source!r}: lmms or generated:N")
