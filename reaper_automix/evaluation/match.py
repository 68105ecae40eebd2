"""Evaluation of Match reference (issue 14): the same-song and the cross-song protocol.

Songs are REAPER projects whose top-level folders are the groups, at the balance their author
chose (the LMMS composer's faders, a generated session's, the demo's). For each song and each
condition — *none* (no processing), *start* (equal loudness per group, not fitted), *faders*
(fit with faders only), *full* (gain, pan, EQ and compressor) — the job runs as the CLI does
(:func:`reaper_automix.jobs.match.plan_match`) and the result is rendered headless:

* **Same song.** The group faders are scrambled by U(−9, +9) dB (seeded per song) and the song's
  own mix (the unscrambled project, rendered) is the reference. Error = each group's integrated
  loudness after matching (its folder rendered post-fader) minus its loudness in the song's own
  mix, centred per song (the overall level is free); RMS per song, median over songs. Target
  ≤ 1.0 dB for the full fit.
* **Cross song.** The reference is the next song's own mix (songs in a ring), the project is the
  song at its own balance. Distance = the 1/3-octave spectral shape of the mix against the
  reference: Welch power in 24 third-octave bands with edges 50·2^(k/3) Hz (50 Hz–12.8 kHz),
  dB, each curve minus its mean (level-normalised), RMS over bands. Target: full fit ≤ 0.5× the
  distance equal group loudness gives.

Song sources: ``demo`` (the demo session, always available), ``lmms`` (the five LMMS songs that
data.md §3.4 allows, through :mod:`reaper_automix.generator.lmms`), ``generated:N`` (N sessions of
:mod:`reaper_automix.generator`, seeds 700000 … 700000 + N − 1: held out from MatchNet's
training, which uses seeds from 0 and validation seeds from 500000), ``heldout:N`` (the same
seeds arranged by MatchNet's training recipe: the generator's draw on a Bach chorale).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import welch

from ..analysis.loudness import LoudnessMeter
from ..audio.io import write_audio
from ..audio.render import Renderer
from ..decisions.match import DEFAULT_BUDGET_S, MatchOptions
from ..hosts.rpp import open_project
from ..jobs.match import plan_match, reaches_master
from ..session import Project

CONDITIONS = ("none", "start", "faders", "full")
CONDITION_TITLES = {"none": "no processing", "start": "equal loudness",
                    "faders": "fit, faders only", "full": "full fit", "model": "network alone"}
LEARNED_BUDGETS_S = (2.0, 5.0, 15.0)


def learned_conditions(budgets: tuple[float, ...] = LEARNED_BUDGETS_S) -> tuple[str, ...]:
    """Issue 15's comparison: equal loudness, the network alone, and the full fit from the
    neutral and from the network's start at each wall-time budget ("neutral@2", "model@2" …)."""
    return ("start", "model") + tuple(f"{start}@{budget:g}" for budget in budgets
                                      for start in ("neutral", "model"))


def condition_options(condition: str, budget_s: float) -> MatchOptions | None:
    """The options a condition runs with (None: no processing). Issue 14's conditions start
    from neutral; "model" is MatchNet alone; "START@B" is the full fit from START in B s."""
    if condition == "none":
        return None
    if condition in CONDITIONS:
        return MatchOptions(fit=condition, budget_s=budget_s, start="neutral")
    if condition == "model":
        return MatchOptions(fit="start", budget_s=0.0, start="model")
    start, _, budget = condition.partition("@")
    return MatchOptions(fit="full", budget_s=float(budget), start=start)


def condition_title(condition: str) -> str:
    if "@" in condition:
        start, _, budget = condition.partition("@")
        return f"{'network' if start == 'model' else 'neutral'} start + fit, {budget} s"
    return CONDITION_TITLES[condition]
SCRAMBLE_DB = 9.0
SAME_SONG_TARGET_DB = 1.0
CROSS_SONG_TARGET = 0.5
THIRD_OCTAVE_EDGES_HZ = 50.0 * 2.0 ** (np.arange(25) / 3.0)
SOURCES = ("demo", "lmms", "generated", "heldout")


# --------------------------------------------------------------------------------- metrics
def spectral_shape_db(audio: np.ndarray, sample_rate: float) -> np.ndarray:
    """Level-normalised 1/3-octave spectrum (dB, mean removed) of a stereo (n, 2) signal: Welch
    power of L + R channels' mean spectrum in the bands of :data:`THIRD_OCTAVE_EDGES_HZ`."""
    frequencies, power = welch(np.asarray(audio, np.float64), fs=sample_rate, nperseg=8192,
                               axis=0)
    total = power.sum(axis=1)
    bands = np.array([total[(frequencies >= lo) & (frequencies < hi)].mean()
                      for lo, hi in zip(THIRD_OCTAVE_EDGES_HZ[:-1], THIRD_OCTAVE_EDGES_HZ[1:])])
    db = 10.0 * np.log10(bands + 1e-30)
    return db - db.mean()


def spectral_shape_distance(mix: np.ndarray, reference: np.ndarray, sample_rate: float) -> float:
    """RMS dB difference of the two level-normalised 1/3-octave spectra."""
    difference = spectral_shape_db(mix, sample_rate) - spectral_shape_db(reference, sample_rate)
    return float(np.sqrt(np.mean(difference ** 2)))


def centred_rms(errors: list[float]) -> float:
    values = np.asarray(errors)
    return float(np.sqrt(np.mean((values - values.mean()) ** 2)))


# ---------------------------------------------------------------------------------- songs
@dataclass(frozen=True)
class Song:
    name: str
    project: Path  # the song at its author's balance, groups as top-level folders


def demo_songs(workdir: Path) -> list[Song]:
    from ..demo import build_demo

    return [Song("demo", build_demo(workdir / "demo").project)]


def lmms_songs(workdir: Path) -> list[Song]:
    """The five allowed LMMS songs (rendered once into the generator's cache)."""
    from ..generator import lmms

    songs = []
    for name in lmms.ALLOWED_SONGS:
        song = lmms.load_song(name)
        for reason in song.skipped:  # silent tracks, and stems LMMS renders silenced
            print(f"{name}: left out {reason}", file=sys.stderr)
        songs.append(Song(name, song.write_project(workdir / name / f"{name}.RPP")))
    return songs


def generated_songs(workdir: Path, count: int, recipe: str = "generated") -> list[Song]:
    """``count`` generated sessions from seed 700000 on (never MatchNet's training seeds):
    the generator's own draw ("generated") or MatchNet's training recipe ("heldout": the same
    draw on a Bach chorale, :func:`reaper_automix.training.match.training_piece`)."""
    from ..generator import SessionSpec, generate_session
    from ..training.match import EVALUATION_SEED, training_piece

    songs = []
    for seed in range(EVALUATION_SEED, EVALUATION_SEED + count):
        piece = training_piece(seed) if recipe == "heldout" else None
        session = generate_session(SessionSpec.draw(seed, piece=piece))
        name = f"{recipe}-{seed}"
        songs.append(Song(name, session.write_project(workdir / name / f"{name}.RPP")))
    return songs


def load_songs(sources: list[str], workdir: Path) -> list[Song]:
    songs: list[Song] = []
    for source in sources:
        kind, _, count = source.partition(":")
        if kind == "demo":
            songs += demo_songs(workdir)
        elif kind == "lmms":
            songs += lmms_songs(workdir)
        elif kind in ("generated", "heldout"):
            songs += generated_songs(workdir, int(count or 8), kind)
        else:
            raise ValueError(f"unknown song source {source!r}; use demo, lmms, generated:N or "
                             "heldout:N")
    return songs


# ------------------------------------------------------------------------------ protocols
@dataclass
class ConditionResult:
    condition: str
    seconds: float
    group_errors_db: dict[str, float] = field(default_factory=dict)  # same song, centred
    rms_error_db: float | None = None  # same song
    distance_db: float | None = None  # cross song


@dataclass
class SongResult:
    song: str
    groups: list[str]
    scramble_db: dict[str, float]
    same_song: list[ConditionResult] = field(default_factory=list)
    cross_song: list[ConditionResult] = field(default_factory=list)
    cross_reference: str = ""


def _groups(project: Project) -> list:
    return [t for t in project.top_level if reaches_master(t)]


def _render_mix(project: Project) -> np.ndarray:
    renderer = Renderer(project, cache_bytes=0)
    mix = np.zeros((renderer.n_samples(), 2), np.float32)
    for track in _groups(project):
        mix += renderer.track(track)
    return mix


def _group_loudness(project: Project) -> dict[str, float]:
    renderer = Renderer(project, cache_bytes=0)
    meter = LoudnessMeter(project.sample_rate)
    return {t.display_name: float(meter.integrated(renderer.track(t))) for t in _groups(project)}


def _run(project_path: Path, reference: Path, condition: str, budget_s: float
         ) -> tuple[Project, float]:
    project = open_project(project_path)
    started = time.monotonic()
    options = condition_options(condition, budget_s)
    if options is not None:
        plan_match(project, reference, options=options)
    return project, time.monotonic() - started


def evaluate_song(song: Song, cross_reference: tuple[str, Path], workdir: Path, seed: int,
                  budget_s: float, conditions: tuple[str, ...] = CONDITIONS,
                  progress: Callable[[str], None] = lambda message: None) -> SongResult:
    """Both protocols on one song; ``cross_reference`` is (name, wav) of another song's mix."""
    folder = workdir / song.name
    folder.mkdir(parents=True, exist_ok=True)
    own = open_project(song.project)
    reference = write_audio(folder / "own-mix.wav", _render_mix(own), own.sample_rate)
    truth = _group_loudness(own)
    rng = np.random.default_rng(seed)
    scramble = {t.display_name: float(rng.uniform(-SCRAMBLE_DB, SCRAMBLE_DB))
                for t in _groups(own)}
    for track in _groups(own):
        track.volume_db = track.volume_db + scramble[track.display_name]
    scrambled = folder / "scrambled.RPP"
    own.save(scrambled)
    result = SongResult(song.name, list(truth), scramble, cross_reference=cross_reference[0])
    for condition in conditions:
        progress(f"{song.name}: same song, {condition_title(condition)}")
        project, seconds = _run(scrambled, reference, condition, budget_s)
        loudness = _group_loudness(project)
        errors = {name: loudness[name] - truth[name] for name in truth}
        mean = float(np.mean(list(errors.values())))
        result.same_song.append(ConditionResult(
            condition, seconds, {k: v - mean for k, v in errors.items()},
            centred_rms(list(errors.values()))))
    other = np.asarray(_read(cross_reference[1]))
    for condition in conditions:
        progress(f"{song.name}: cross song ({cross_reference[0]}), "
                 f"{condition_title(condition)}")
        project, seconds = _run(song.project, cross_reference[1], condition, budget_s)
        distance = spectral_shape_distance(_render_mix(project), other, project.sample_rate)
        result.cross_song.append(ConditionResult(condition, seconds, distance_db=distance))
    return result


def _read(path: Path) -> np.ndarray:
    from ..audio.io import read_audio

    return read_audio(path)[0]


@dataclass
class EvalReport:
    sources: list[str]
    budget_s: float
    songs: list[SongResult]
    summary: dict[str, dict[str, float]]  # condition → figures

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def summarise(songs: list[SongResult]) -> dict[str, dict[str, float]]:
    """Per condition: median same-song RMS error, median cross-song distance, the median of the
    per-song ratio to equal loudness, and the mean time."""
    out: dict[str, dict[str, float]] = {}
    conditions = [c.condition for c in songs[0].same_song] if songs else []
    for condition in conditions:
        same = [next(c for c in s.same_song if c.condition == condition) for s in songs]
        cross = [next(c for c in s.cross_song if c.condition == condition) for s in songs]
        figures = {
            "same_song_median_rms_db": float(np.median([c.rms_error_db for c in same])),
            "cross_song_median_distance_db": float(np.median([c.distance_db for c in cross])),
            "mean_seconds": float(np.mean([c.seconds for c in same + cross])),
        }
        if "start" in conditions:
            ratios = [c.distance_db / next(x for x in s.cross_song
                                           if x.condition == "start").distance_db
                      for s, c in zip(songs, cross)]
            figures["cross_song_median_ratio_to_equal_loudness"] = float(np.median(ratios))
        out[condition] = figures
    return out


def run_evaluation(sources: list[str], *, budget_s: float = DEFAULT_BUDGET_S,
                   conditions: tuple[str, ...] = CONDITIONS, workdir: Path | None = None,
                   progress: Callable[[str], None] = lambda message: None) -> EvalReport:
    """Both protocols on every song of ``sources``."""
    with _workdir(workdir) as folder:
        songs = load_songs(sources, folder)
        results = evaluate(songs, folder, budget_s=budget_s, conditions=conditions,
                           progress=progress)
    return EvalReport(sources, budget_s, results, summarise(results))


def evaluate(songs: list[Song], workdir: Path, *, budget_s: float = DEFAULT_BUDGET_S,
             conditions: tuple[str, ...] = CONDITIONS,
             progress: Callable[[str], None] = lambda message: None) -> list[SongResult]:
    """Both protocols on ``songs`` (two or more: each song's reference in the cross-song
    protocol is the next song's own mix)."""
    if len(songs) < 2:
        raise ValueError("the cross-song protocol needs two songs or more: add a source "
                         "(lmms, generated:N)")
    mixes = {}
    for song in songs:
        project = open_project(song.project)
        mixes[song.name] = write_audio(workdir / f"{song.name}-mix.wav", _render_mix(project),
                                       project.sample_rate)
    results = []
    for index, song in enumerate(songs):
        other = songs[(index + 1) % len(songs)]
        results.append(evaluate_song(song, (other.name, mixes[other.name]), workdir,
                                     seed=index, budget_s=budget_s, conditions=conditions,
                                     progress=progress))
    return results


@contextmanager
def _workdir(path: Path | None) -> Iterator[Path]:
    """``path`` (kept), or a temporary folder removed afterwards."""
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    folder = Path(tempfile.mkdtemp(prefix="automix-eval-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------------------ command line
def add_arguments(parser) -> None:  # noqa: ANN001 (argparse parser)
    """Options of ``reaper-automix eval match``."""
    parser.add_argument("--sources", nargs="+", default=["lmms", "generated:8"],
                        metavar="SOURCE", help="songs: demo, lmms (the five allowed LMMS songs), "
                        "generated:N (N generated sessions), heldout:N (N held-out sessions made "
                        "like MatchNet's training data); default: lmms generated:8")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S, metavar="SECONDS",
                        help=f"fit budget per run (default {DEFAULT_BUDGET_S:g} s)")
    parser.add_argument("--conditions", nargs="+", choices=CONDITIONS, default=list(CONDITIONS),
                        help="conditions to run (default: all four)")
    parser.add_argument("--learned", action="store_true",
                        help="instead: equal loudness, the network alone, and the full fit from "
                        "the neutral and the network's start at each of --budgets (issue 15)")
    parser.add_argument("--budgets", nargs="+", type=float, default=list(LEARNED_BUDGETS_S),
                        metavar="SECONDS", help="wall-time budgets of --learned (default "
                        f"{' '.join(f'{b:g}' for b in LEARNED_BUDGETS_S)})")
    parser.add_argument("--json", metavar="PATH", help="also write the full report here")
    parser.add_argument("--workdir", metavar="DIR",
                        help="keep the projects and renders here (default: a temporary folder)")


def main(args) -> int:  # noqa: ANN001 (argparse namespace)
    from rich.console import Console

    console = Console(stderr=True)
    conditions = (learned_conditions(tuple(args.budgets)) if args.learned
                  else tuple(args.conditions))
    report = run_evaluation(args.sources, budget_s=args.budget, conditions=conditions,
                            workdir=Path(args.workdir) if args.workdir else None,
                            progress=lambda message: console.print(f"[dim]{message}[/dim]"))
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), indent=2) + "\n",
                                   encoding="utf-8")
    print(format_report(report))
    return 0


def format_report(report: EvalReport) -> str:
    """Per-song and summary tables as plain text (what docs/match.md quotes)."""
    conditions = list(report.summary)
    width = max(len(s.song) for s in report.songs) + 2
    lines = [f"Match reference evaluation — sources {' '.join(report.sources)}, budget "
             f"{report.budget_s:g} s", "",
             "Same song: centred RMS error of group loudness (dB), scramble ±9 dB"]
    header = f"{'song':<{width}}" + "".join(f"{c:>11}" for c in conditions)
    lines += [header]
    for song in report.songs:
        values = {c.condition: c.rms_error_db for c in song.same_song}
        lines.append(f"{song.song:<{width}}" + "".join(f"{values[c]:>11.2f}" for c in conditions))
    lines += ["", "Cross song: 1/3-octave spectral shape distance to the next song's mix (dB)",
              header]
    for song in report.songs:
        values = {c.condition: c.distance_db for c in song.cross_song}
        lines.append(f"{song.song:<{width}}" + "".join(f"{values[c]:>11.2f}" for c in conditions))
    lines += ["", f"{'summary':<{width}}" + "".join(f"{c:>11}" for c in conditions)]
    rows = (("same_song_median_rms_db", "same-song median RMS dB (target <= 1.0, full)"),
            ("cross_song_median_distance_db", "cross-song median distance dB"),
            ("cross_song_median_ratio_to_equal_loudness",
             "cross-song median ratio to equal loudness (target <= 0.5, full)"),
            ("mean_seconds", "mean time per run s"))
    for key, title in rows:
        if all(key in report.summary[c] for c in conditions):
            lines.append(f"{'':<{width}}" + "".join(f"{report.summary[c][key]:>11.2f}"
                                                     for c in conditions) + f"  {title}")
    return "\n".join(lines)
