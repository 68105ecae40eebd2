"""Scores from the music21 corpus as plain note lists on a song timeline (in quarter notes).

Note times are read from the score's offsets, so the tempo marks and instruments stored in the
corpus file never reach a renderer (they would override ours if the score went through music21's
MIDI writer, see data.md 2.1); tempo is applied later, in seconds. A pickup (anacrusis) is placed
at the end of a bar so that the score's bar lines fall on the timeline's bar lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from music21.stream import Part, Score


@dataclass(frozen=True)
class Note:
    """One note: start and length in quarter notes, MIDI pitch and velocity (1–127)."""

    start: float
    length: float
    pitch: int
    velocity: int = 90


@dataclass(frozen=True)
class Piece:
    """A multi-part score on the timeline, parts ordered top to bottom as in the score."""

    name: str
    parts: tuple[tuple[Note, ...], ...]
    part_names: tuple[str, ...]
    bar: float  # quarters per bar (first time signature)
    song_start: float  # timeline position of the score's first note
    end: float  # timeline position of the final bar line
    phrase_ends: tuple[float, ...]  # timeline positions of the top part's fermatas
    key: str  # from the first key signature, e.g. "f# minor"; "" when the score has none

    @property
    def pickup(self) -> float:
        """Length of the anacrusis in quarters (0 when the score starts on a bar line)."""
        return (self.bar - self.song_start % self.bar) % self.bar


def load_piece(name: str, *, count_in_bars: int = 0, min_parts: int = 1) -> Piece:
    """Parse corpus work ``name`` and place it after ``count_in_bars`` empty bars.

    With a pickup, the pickup sits at the end of the bar before the first full bar (a bar is
    added when ``count_in_bars`` is 0). The final notes of every part are held to the last bar
    line. Parts without notes are dropped; fewer than ``min_parts`` parts is a ValueError.
    """
    return _load_piece(name, count_in_bars, min_parts)


@lru_cache(maxsize=32)
def _load_piece(name: str, count_in_bars: int, min_parts: int) -> Piece:
    from music21 import meter

    score = parse_corpus(name)
    parts = [part for part in score.parts if part.recurse().notes]
    if len(parts) < min_parts:
        raise ValueError(f"{name}: needs at least {min_parts} parts with notes, has {len(parts)}")
    signatures = parts[0].recurse().getElementsByClass(meter.TimeSignature)
    bar = float(signatures[0].barDuration.quarterLength) if signatures else 4.0
    measures = parts[0].getElementsByClass("Measure")
    first_length = float(measures[0].duration.quarterLength) if measures else bar
    pickup = first_length % bar
    song_start = max(count_in_bars, 1 if pickup else 0) * bar - pickup
    score_length = max(float(part.highestTime) for part in parts)
    end = math.ceil((song_start + score_length) / bar - 1e-9) * bar
    return Piece(
        name=name,
        parts=tuple(tuple(_notes(part, song_start, end)) for part in parts),
        part_names=tuple(str(part.partName or f"part {i + 1}") for i, part in enumerate(parts)),
        bar=bar,
        song_start=song_start,
        end=end,
        phrase_ends=_fermatas(parts[0], song_start),
        key=_key_name(score),
    )


def parse_corpus(name: str) -> Score:
    """``music21.corpus.parse(name)`` with a LookupError naming the work when it is unknown."""
    from music21 import corpus

    try:
        return corpus.parse(name)
    except Exception as exc:  # music21 raises its own exception types for unknown works
        raise LookupError(f"music21 corpus has no work {name!r}: {exc}") from exc


def _notes(part: Part, song_start: float, end: float) -> list[Note]:
    """The part's notes (ties merged) on the timeline; the final notes are held to ``end``."""
    notes = []
    for element in part.stripTies().flatten().notes:
        length = float(element.quarterLength)
        if length <= 0:  # grace notes
            continue
        start = song_start + float(element.offset)
        notes.extend(Note(start, length, p.midi) for p in element.pitches)
    last = max(n.start for n in notes)
    return [Note(n.start, end - n.start, n.pitch) if n.start == last else n for n in notes]


def _fermatas(part: Part, song_start: float) -> tuple[float, ...]:
    from music21 import expressions

    return tuple(
        song_start + float(n.offset) + float(n.quarterLength)
        for n in part.stripTies().flatten().notes
        if any(isinstance(e, expressions.Fermata) for e in n.expressions)
    )


def _key_name(score: Score) -> str:
    from music21 import key

    signatures = score.recurse().getElementsByClass(key.KeySignature)
    if not signatures:
        return ""
    found = signatures[0]
    mode = found.mode if isinstance(found, key.Key) else "major"
    return str(found.asKey(mode)).replace("-", "b")
