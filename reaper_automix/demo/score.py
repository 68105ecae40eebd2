"""A music21 corpus chorale as plain note lists on the song timeline (in quarter notes).

Note times are read from the score's offsets, so the tempo marks and instruments stored in the
corpus file never reach the renderer (they would override ours if the score went through
music21's MIDI writer, see data.md 2.1); tempo is applied later, in seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from music21.stream import Part

DEFAULT_CHORALE = "bach/bwv66.6"
VOICES = ("soprano", "alto", "tenor", "bass")


@dataclass(frozen=True)
class Note:
    """One note: start and length in quarter notes, MIDI pitch and velocity (1–127)."""

    start: float
    length: float
    pitch: int
    velocity: int = 90


@dataclass(frozen=True)
class Chorale:
    """Four voices aligned so that bar lines fall on multiples of ``bar`` quarters.

    The score starts after a count-in bar; a pickup (anacrusis) sits at the end of that bar.
    """

    name: str
    voices: dict[str, list[Note]]
    bar: float  # quarters per bar
    song_start: float  # timeline position of the score's first note (count-in bar before)
    end: float  # timeline position of the final bar line
    phrase_ends: tuple[float, ...]  # timeline positions of the soprano fermatas

    @property
    def bars(self) -> int:
        return round(self.end / self.bar)

    def sounding(self, voice: str, time: float) -> Note | None:
        """The note of ``voice`` that sounds at ``time`` (quarters), if any."""
        for note in self.voices[voice]:
            if note.start <= time < note.start + note.length:
                return note
        return None


def load_chorale(name: str = DEFAULT_CHORALE) -> Chorale:
    """Parse a four-part corpus chorale and place it after a one-bar count-in."""
    from music21 import corpus, expressions, meter

    try:
        score = corpus.parse(name)
    except Exception as exc:  # music21 raises its own exception types for unknown works
        raise LookupError(f"music21 corpus has no work {name!r}: {exc}") from exc
    parts = list(score.parts)
    if len(parts) != len(VOICES):
        raise ValueError(f"{name}: expected 4 parts (SATB), found {len(parts)}")
    signatures = parts[0].recurse().getElementsByClass(meter.TimeSignature)
    bar = float(signatures[0].barDuration.quarterLength) if signatures else 4.0
    first_measure = parts[0].getElementsByClass("Measure")[0]
    pickup = float(first_measure.duration.quarterLength) % bar
    song_start = bar - pickup if pickup else bar
    score_length = max(float(part.highestTime) for part in parts)
    end = math.ceil((song_start + score_length) / bar - 1e-9) * bar
    voices = {voice: _notes(part, song_start, end) for voice, part in zip(VOICES, parts)}
    fermatas = [
        song_start + float(n.offset) + float(n.quarterLength)
        for n in parts[0].stripTies().flatten().notes
        if any(isinstance(e, expressions.Fermata) for e in n.expressions)
    ]
    return Chorale(name, voices, bar, song_start, end, tuple(fermatas))


def _notes(part: Part, song_start: float, end: float) -> list[Note]:
    """The part's notes (ties merged) on the timeline; the final note is held to ``end``."""
    notes = []
    for element in part.stripTies().flatten().notes:
        length = float(element.quarterLength)
        if length <= 0:  # grace notes
            continue
        start = song_start + float(element.offset)
        notes.extend(Note(start, length, p.midi) for p in element.pitches)
    if not notes:
        raise ValueError(f"part {part.partName!r} has no notes")
    last = max(n.start for n in notes)
    return [Note(n.start, end - n.start, n.pitch) if n.start == last else n for n in notes]
