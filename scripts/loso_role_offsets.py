"""Leave-one-song-out check of the role table's LMMS stage (issue 17).

    nice -n 10 .venv/bin/python scripts/loso_role_offsets.py --json .cache/eval17/loso.json

For each allowed LMMS song: derive the role table without it (`scripts/derive_role_offsets.py
--cached-only --lmms --leave-out SONG`, so the sources' renders must be cached), balance that
song with the table (method ``role``; ``none`` and ``centroid`` beside it) from both start
conditions, and score it as ``reaper-automix eval balance`` does. Prints the summary over every
song, each scored by a table that never saw it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import derive_role_offsets  # noqa: E402

from reaper_automix.analysis.role_offsets import load_role_offsets  # noqa: E402
from reaper_automix.evaluation.balance import (  # noqa: E402
    CONDITIONS,
    START_PEAK_DBFS,
    _stable_seed,
    by_role,
    evaluate_song,
    lmms_songs,
    role_table,
    summarise,
    table,
)
from reaper_automix.generator.lmms import ALLOWED_SONGS  # noqa: E402

METHODS = ("none", "role", "centroid")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write every outcome, the summary and the tables")
    parser.add_argument("--start-peak", type=float, default=START_PEAK_DBFS, metavar="DBFS",
                        help=f"as eval balance --start-peak (default {START_PEAK_DBFS:g})")
    args = parser.parse_args(argv)
    outcomes, tables = [], {}
    with tempfile.TemporaryDirectory(prefix="automix-loso-") as scratch:
        for name in ALLOWED_SONGS:
            path = Path(scratch) / f"offsets-without-{name}.json"
            with contextlib.redirect_stdout(io.StringIO()):
                derive_role_offsets.main(["--cached-only", "--lmms", "--leave-out", name, "--output", str(path)])
            tables[name] = json.loads(path.read_text())["offsets_db"]
            offsets = load_role_offsets(path)
            for song in lmms_songs(Path(scratch), [name]):
                for condition in CONDITIONS:
                    for method in METHODS:
                        outcome = evaluate_song(song, method, condition, _stable_seed(name, 0), offsets,
                                                args.start_peak)
                        outcomes.append(outcome)
                        print(f"{name} {condition} {method}: {len(outcome.errors_db)} tracks scored, "
                              f"mix {outcome.loudness_change_lu:+.2f} LU", file=sys.stderr, flush=True)
    rows = summarise(outcomes)
    print(table(rows))
    for condition in CONDITIONS:
        print(f"\nmedian |error| dB by the role method's role, start {condition}:\n")
        print(role_table(by_role(outcomes, condition), list(METHODS)))
    if args.json:
        args.json.write_text(json.dumps({"summary": rows, "tables_without": tables,
                                         "outcomes": [asdict(o) for o in outcomes]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
