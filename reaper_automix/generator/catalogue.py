"""The corpus works a session can be arranged from, shipped as ``catalogue.json``.

Built once by parsing candidate works of the music21 corpus (``python
scripts/build_generator_catalogue.py``, minutes) and kept in the package, so drawing a piece
needs no parsing. A work qualifies with 4–6 parts that have notes and at least 8 bars (alla
breve works are read in half notes, see :func:`.arrange.in_short_bars`); at most the first
``MAX_PIECES_PER_FAMILY`` files of a family (by name) are tried, and files over 60 kB are left
out because music21 takes minutes to parse them (a Beethoven quartet movement took 10 min on the
loaded 2-core VM), which would stall generation.
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np

CATALOGUE = Path(__file__).with_name("catalogue.json")
#: Families and the share of sessions drawn from each.
FAMILIES: dict[str, float] = {"chorales": 0.55, "quartets": 0.15, "madrigals": 0.15,
                              "palestrina": 0.15}
_COMPOSERS = {"chorales": ("bach",), "quartets": ("haydn", "mozart", "beethoven"),
              "madrigals": ("monteverdi",), "palestrina": ("palestrina",)}
_SUFFIXES = (".mxl", ".xml", ".krn", ".musicxml")
MIN_BARS = 8
MAX_PIECES_PER_FAMILY = 420  # every chorale; Palestrina: the first 420 files by name
MAX_FILE_BYTES = 60_000


@lru_cache(maxsize=1)
def entries() -> dict[str, list[dict]]:
    """The shipped catalogue: family -> entries (``piece``, ``parts``, ``bar_q``, ``bars``)."""
    return json.loads(CATALOGUE.read_text(encoding="utf-8"))["families"]


def draw_piece(rng: np.random.Generator, family: str | None = None) -> str:
    """A corpus path drawn from ``family`` (or from the families by :data:`FAMILIES` share)."""
    if family is None:
        names = list(FAMILIES)
        family = names[int(rng.choice(len(names), p=list(FAMILIES.values())))]
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    pieces = entries()[family]
    return pieces[int(rng.integers(len(pieces)))]["piece"]


def build(limit: int = MAX_PIECES_PER_FAMILY) -> dict:
    """Parse candidate works and keep those that qualify (slow: minutes)."""
    from music21 import corpus

    from ..music.score import load_piece
    from .arrange import in_short_bars

    root = Path(corpus.__file__).parent
    families: dict[str, list[dict]] = {}
    for family, composers in _COMPOSERS.items():
        paths = sorted({p for c in composers for p in corpus.getComposer(c)
                        if p.suffix in _SUFFIXES and p.stat().st_size <= MAX_FILE_BYTES})
        kept: list[dict] = []
        for path in paths[:limit]:
            name = str(path.relative_to(root).with_suffix(""))
            try:
                piece = in_short_bars(load_piece(name))
            except Exception as exc:  # a corpus file music21 cannot read is skipped
                print(f"skip {name}: {exc}", file=sys.stderr)
                continue
            bars = round((piece.end - piece.song_start - piece.pickup) / piece.bar)
            if 4 <= len(piece.parts) <= 6 and bars >= MIN_BARS:
                kept.append({"piece": name, "parts": len(piece.parts), "bar_q": piece.bar,
                             "bars": bars})
        families[family] = kept
        print(f"{family}: {len(kept)} of {len(paths)}", file=sys.stderr)
    return {"music21": _music21_version(), "families": families}


def _music21_version() -> str:
    import music21

    return str(music21.__version__)


def write() -> Path:
    """Rebuild :data:`CATALOGUE` (after a music21 upgrade)."""
    CATALOGUE.write_text(json.dumps(build(), indent=1) + "\n", encoding="utf-8")
    entries.cache_clear()
    return CATALOGUE
