"""A music21 corpus chorale as four named voices on the song timeline (in quarter notes).

Parsing, pickup alignment and tempo stripping live in :mod:`reaper_automix.music.score`; this
module names the four voices and places the chorale after a one-bar count-in.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..music.score import Note, load_piece

__all__ = ["Chorale", "Note", "load_chorale", "DEFAULT_CHORALE", "VOICES"]

DEFAULT_CHORALE = "bach/bwv66.6"
VOICES = ("soprano", "alto", "tenor", "bass")


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
    piece = load_piece(name, count_in_bars=1)
    if len(piece.parts) != len(VOICES):
        raise ValueError(f"{name}: expected 4 parts (SATB), found {len(piece.parts)}")
    return Chorale(name, {voice: list(notes) for voice, notes in zip(VOICES, piece.parts)},
                   piece.bar, piece.song_start, piece.end, piece.phrase_ends)
