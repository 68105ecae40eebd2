"""Turn a corpus piece into the notes of each tonal or sung part (quarter notes, MIDI pitch).

The piece is looped to fill the session and cut at the last bar line before the release tail.
Parts read the score by position: the top part is the melody, the bottom part the bass line,
the parts between are the inner voices whose notes (with the bass an octave up) make the harmony.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from ..music.score import Note, Piece
from .gm import program_range
from .spec import VOCAL, PartSpec

VOCAL_CENTRE = 62  # PSOLA sings best near the klettres speaker's f0 (about A3) plus a few
BASS_CENTRE = 45


@dataclass(frozen=True)
class Timeline:
    """The piece looped over the session: parts top to bottom, bar grid, the end bar line."""

    parts: tuple[tuple[Note, ...], ...]
    bar_q: float
    first_bar_q: float  # the first full bar line (after a pickup)
    end_q: float  # music stops at this bar line
    phrase_ends_q: tuple[float, ...]
    lowest: tuple[Note, ...]  # the lowest sounding note at any time (the bass line)

    @property
    def top(self) -> tuple[Note, ...]:
        return self.parts[0]

    @property
    def bottom(self) -> tuple[Note, ...]:
        """The bass line: the lowest sounding voice, so that a bottom part that rests or
        enters late (madrigals, Palestrina) leaves no hole."""
        return self.lowest

    @property
    def inner(self) -> tuple[tuple[Note, ...], ...]:
        return self.parts[1:-1]

    def source(self, name: str) -> list[Note]:
        """Notes of ``top``, ``bottom``, ``inner`` (all inner parts) or ``inner:N``."""
        if name == "top":
            return list(self.top)
        if name == "bottom":
            return list(self.bottom)
        if name == "inner":
            return sorted((n for part in self.inner for n in part), key=lambda n: n.start)
        if name.startswith("inner:"):
            index = int(name.split(":", 1)[1])
            return list(self.inner[min(index, len(self.inner) - 1)])
        raise ValueError(f"unknown score source {name!r} (top, bottom, inner, inner:N)")


def in_short_bars(piece: Piece, max_bar_q: float = 4.0) -> Piece:
    """``piece`` with every time halved until a bar is at most ``max_bar_q`` quarters: alla
    breve works (Palestrina's 4/2) are read with the half note as the beat."""
    if piece.bar <= max_bar_q:
        return piece
    half = Piece(piece.name,
                 tuple(tuple(Note(n.start / 2, n.length / 2, n.pitch, n.velocity) for n in part)
                       for part in piece.parts),
                 piece.part_names, piece.bar / 2, piece.song_start / 2, piece.end / 2,
                 tuple(t / 2 for t in piece.phrase_ends), piece.key)
    return in_short_bars(half, max_bar_q)


def timeline(piece: Piece, end_q: float, transpose: int) -> Timeline:
    """``piece`` repeated until ``end_q`` (quarters) and transposed."""
    if len(piece.parts) < 3:
        raise ValueError(f"{piece.name}: needs a top, an inner and a bottom part")
    first_bar = piece.song_start + piece.pickup
    period = piece.end - first_bar
    copies = max(1, math.ceil((end_q - first_bar) / period))
    parts = []
    for notes in piece.parts:
        looped: list[Note] = []
        for copy in range(copies):
            cut = first_bar + (copy + 1) * period - piece.pickup  # the next copy's pickup
            for n in notes:
                start = n.start + copy * period
                end = min(start + n.length, end_q, cut if copy < copies - 1 else end_q)
                if start < end_q and end > start:
                    looped.append(Note(start, end - start, _clamp(n.pitch + transpose)))
        parts.append(tuple(looped))
    phrases = tuple(p + c * period for c in range(copies) for p in piece.phrase_ends
                    if p + c * period < end_q)
    return Timeline(tuple(parts), piece.bar, first_bar, end_q, phrases, lowest_line(parts))


def lowest_line(parts: list[tuple[Note, ...]]) -> tuple[Note, ...]:
    """At every moment the lowest sounding note of all parts, as one monophonic line: a note
    starts wherever the lowest note changes or is struck again."""
    notes = sorted((n for part in parts for n in part), key=lambda n: n.start)
    times = sorted({t for n in notes for t in (n.start, n.start + n.length)})
    line: list[Note] = []
    active: list[Note] = []
    current, following = None, 0
    for start, end in zip(times, times[1:]):
        while following < len(notes) and notes[following].start <= start:
            active.append(notes[following])
            following += 1
        active = [n for n in active if n.start + n.length > start]
        lowest = min(active, key=lambda n: (n.pitch, n.start)) if active else None
        if lowest is not None and lowest is current:
            last = line[-1]
            line[-1] = Note(last.start, end - last.start, last.pitch, last.velocity)
        elif lowest is not None:
            line.append(Note(start, end - start, lowest.pitch, lowest.velocity))
        current = lowest
    return tuple(line)


def _clamp(pitch: int) -> int:
    return int(min(max(pitch, 0), 127))


def part_notes(line: Timeline, part: PartSpec, tempo: float,
               rng: np.random.Generator) -> list[Note]:
    """The notes ``part`` plays, before timing humanisation."""
    builders = {
        "melody": _legato, "counter": _legato, "sustain": _legato, "lead_vocal": _legato,
        "backing_vocal": _legato, "bass": _bass, "chords": _chords, "arpeggio": _arpeggio,
        "strum": _strum, "fx": _fx,
    }
    notes = builders[part.texture](line, line.source(part.score_part), part, tempo)
    centre = _centre(part)
    shift = 12 * round((centre - _median_pitch(notes)) / 12) if notes else 0
    return [Note(n.start, n.length, _clamp(n.pitch + shift),
                 _velocity(part.velocity + n.velocity - 90, rng)) for n in notes]


def _centre(part: PartSpec) -> float:
    if part.program == VOCAL:
        return VOCAL_CENTRE
    if part.texture == "bass":
        return BASS_CENTRE
    low, high = program_range(part.program)
    return (low + high) / 2


def _median_pitch(notes: list[Note]) -> float:
    return float(np.median([n.pitch for n in notes]))


def _velocity(value: float, rng: np.random.Generator) -> int:
    return int(np.clip(round(value + rng.normal(0.0, 6.0)), 1, 127))


def _legato(line: Timeline, notes: list[Note], part: PartSpec, tempo: float) -> list[Note]:
    return [Note(n.start, max(n.length - 0.05, 0.05), n.pitch) for n in notes]


def _bass(line: Timeline, notes: list[Note], part: PartSpec, tempo: float) -> list[Note]:
    if part.rhythm == "held":
        return _legato(line, notes, part, tempo)
    step = 1.0 if part.rhythm == "quarters" else 0.5
    out = []
    for note in notes:
        offset = 0.0
        while offset < note.length - 1e-9:
            chunk = min(step, note.length - offset)
            accent = 8 if (note.start + offset) % line.bar_q == 0 else 0
            out.append(Note(note.start + offset, chunk * 0.85, note.pitch, 90 + accent))
            offset += chunk
    return out


class _Harmony:
    """Pitches sounding at a time: the inner parts plus the bass an octave up."""

    def __init__(self, line: Timeline) -> None:
        self.parts = [*line.inner, tuple(Note(n.start, n.length, n.pitch + 12)
                                         for n in line.bottom)]
        self.starts = [[n.start for n in part] for part in self.parts]

    def at(self, time: float) -> list[int]:
        pitches = set()
        for part, starts in zip(self.parts, self.starts):
            index = bisect.bisect_right(starts, time + 1e-9) - 1
            while index >= 0 and part[index].start > time - 8.0:
                note = part[index]
                if note.start <= time < note.start + note.length:
                    pitches.add(note.pitch)
                index -= 1
        return sorted(pitches)


def _grid(line: Timeline, step: float, offset: float = 0.0) -> np.ndarray:
    return np.arange(line.first_bar_q + offset, line.end_q - 1e-9, step)


def _chords(line: Timeline, notes: list[Note], part: PartSpec, tempo: float) -> list[Note]:
    step, offset, length = {"beats": (1.0, 0.0, 0.9), "halves": (2.0, 0.0, 1.8),
                            "bars": (line.bar_q, 0.0, line.bar_q * 0.95),
                            "offbeats": (1.0, 0.5, 0.35), "eighths": (0.5, 0.0, 0.4)}[part.rhythm]
    harmony, out = _Harmony(line), []
    for time in _grid(line, step, offset):
        accent = 10 if time % line.bar_q == 0 else 0
        out += [Note(float(time), min(length, line.end_q - time), p, 90 + accent)
                for p in harmony.at(float(time))]
    return out


def _arpeggio(line: Timeline, notes: list[Note], part: PartSpec, tempo: float) -> list[Note]:
    step = 0.25 if part.rhythm == "up16" else 0.5
    harmony, out = _Harmony(line), []
    for index, time in enumerate(_grid(line, step)):
        chord = harmony.at(float(time))
        if not chord:
            continue
        cycle = chord if part.rhythm != "updown8" else chord + chord[-2:0:-1]
        pitch = cycle[index % len(cycle)]
        out.append(Note(float(time), min(step * 1.5, line.end_q - time), pitch,
                        95 if time % 1.0 == 0 else 82))
    return out


def _strum(line: Timeline, notes: list[Note], part: PartSpec, tempo: float) -> list[Note]:
    """Guitar strums: strings 12 ms apart, down on the beats (and up on the off-beats)."""
    spread_q = 0.012 * tempo / 60.0
    step = 1.0 if part.rhythm == "down_beats" else 0.5
    harmony, out = _Harmony(line), []
    for time in _grid(line, step):
        chord = harmony.at(float(time))
        up = (time % 1.0) != 0
        order = chord[::-1] if up else chord
        length = min(step * 0.9, line.end_q - time)
        out += [Note(float(time) + i * spread_q, max(length - i * spread_q, 0.05), p,
                     78 if up else 92) for i, p in enumerate(order)]
    return out


def _fx(line: Timeline, notes: list[Note], part: PartSpec, tempo: float) -> list[Note]:
    """Sparse effects: one long note every 4 or 8 bars, on the bass note two octaves up."""
    every = (4 if part.rhythm == "every4" else 8) * line.bar_q
    out = []
    for time in np.arange(line.first_bar_q, line.end_q - 1e-9, every):
        bass = [n.pitch for n in line.bottom if n.start <= time < n.start + n.length]
        out.append(Note(float(time), min(2 * line.bar_q, line.end_q - time),
                        (bass[0] + 24) if bass else 60))
    return out


def humanise(notes: list[Note], spread_q: float, rng: np.random.Generator) -> list[Note]:
    """Seeded timing spread; then same-pitch notes are shortened so none overlaps the next (a
    note-off must never cut a later note-on of the same key)."""
    shifted = sorted((Note(max(0.0, n.start + rng.normal(0.0, spread_q)), n.length, n.pitch,
                           n.velocity) for n in notes), key=lambda n: (n.pitch, n.start))
    out = []
    for note, following in zip(shifted, [*shifted[1:], None]):
        length = note.length
        if following is not None and following.pitch == note.pitch:
            length = min(length, max(following.start - note.start - 0.01, 0.01))
        out.append(Note(note.start, length, note.pitch, note.velocity))
    return sorted(out, key=lambda n: (n.start, n.pitch))
