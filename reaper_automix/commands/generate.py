"""``reaper-automix generate --out DIR [--count N] [--seed S] ...``: write generated sessions."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from ..generator import GeneratedSession, SessionSpec, generate_session
from ..generator.catalogue import FAMILIES
from . import SUMMARIES, seed_argument

PROJECT_NAME = "session.RPP"
MANIFEST = "manifest.json"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help=SUMMARIES["generate"],
        description="Arrange corpus pieces (music21) for drums (Hydrogen kits, one stem per "
        "piece), bass, lead, harmony parts (FluidR3 GM) and optional sung vocals (PSOLA "
        "syllables), render them offline and write DIR/session_SEED/ with session.RPP (folders "
        "Drums, Bass, Vocals, Other), stems/*.wav (32-bit float, 44.1 kHz) and session.json "
        "(spec, roles, notes, loudness), plus DIR/manifest.json. Renders are cached "
        "($REAPER_AUTOMIX_CACHE or ~/.cache/reaper-automix). See docs/generator.md.",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--count", type=_positive, default=1, help="sessions to write (1)")
    parser.add_argument("--seed", type=seed_argument, default=0,
                        help="seed of the first session; the others use the next seeds (0)")
    parser.add_argument("--length", type=float, default=30.0, metavar="SECONDS",
                        help="session length in seconds, 4–1200 (30); the piece loops to fill it")
    parser.add_argument("--vocal", action=argparse.BooleanOptionalAction, default=None,
                        help="force a sung lead vocal on or off (default: drawn per session)")
    parser.add_argument("--family", choices=sorted(FAMILIES),
                        help="draw pieces from one corpus family only")
    parser.add_argument("--gain-spread", type=float, default=6.0, metavar="DB",
                        help="random fader offsets in ±DB written to the projects, so a balance "
                        "has work to do (6; 0 leaves every fader at 0 dB)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="render cache folder (default: the shared cache)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite session folders that already exist in DIR")
    parser.set_defaults(run=run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("the count must be at least 1")
    return value


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    seeds = range(args.seed, args.seed + args.count)
    targets = {seed: args.out / f"session_{seed:05d}" for seed in seeds}
    existing = [str(path) for path in targets.values() if path.exists()]
    if existing and not args.force:
        raise FileExistsError(f"{existing[0]} already exists; pick another --out or add --force")
    entries, started = [], time.perf_counter()
    for seed, target in targets.items():
        began = time.perf_counter()
        spec = SessionSpec.draw(seed, length_s=args.length, vocal=args.vocal,
                                family=args.family)
        session = generate_session(spec, cache_dir=args.cache).copy_to(target)
        gains = _fader_offsets(session, args.gain_spread)
        project = session.write_project(target / PROJECT_NAME, gains_db=gains)
        entries.append(_entry(session, project, gains, args.out))
        console.log(f"{target.name}: {spec.piece} at {spec.tempo:g} BPM, "
                    f"{len(session.stems)} stems, {time.perf_counter() - began:.1f} s")
    manifest = args.out / MANIFEST
    manifest.write_text(json.dumps({"generator": "reaper-automix generate",
                                    "sessions": entries}, indent=1) + "\n", encoding="utf-8")
    console.print(f"wrote {len(entries)} session(s) and {manifest} in "
                  f"{time.perf_counter() - started:.1f} s")
    return 0


def _fader_offsets(session: GeneratedSession, spread_db: float) -> dict[str, float]:
    """Seeded fader offsets in ±spread dB per stem (none when the spread is 0)."""
    if spread_db <= 0:
        return {}
    rng = np.random.default_rng(np.random.SeedSequence([session.spec.seed, 3]))
    return {stem.name: round(float(rng.uniform(-spread_db, spread_db)), 2)
            for stem in session.stems}


def _entry(session: GeneratedSession, project: Path, gains: dict[str, float],
           root: Path) -> dict:
    spec = session.spec
    return {
        "seed": spec.seed, "folder": session.directory.relative_to(root).as_posix(),
        "project": project.relative_to(root).as_posix(), "piece": spec.piece,
        "tempo_bpm": spec.tempo, "transpose": spec.transpose, "key": session.key,
        "length_s": session.length_s, "vocal": spec.vocal, "soundfont": spec.soundfont,
        "drums": None if spec.drums is None else {"kit": spec.drums.kit,
                                                  "pattern": spec.drums.pattern},
        "stems": [{"name": s.name, "folder": s.folder, "role": s.role,
                   "file": s.path.relative_to(root).as_posix(), "lufs": s.lufs,
                   "fader_db": gains.get(s.name, 0.0), "source": s.source}
                  for s in session.stems],
    }
