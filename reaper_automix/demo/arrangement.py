"""Turn a chorale into a band arrangement: one note list per stem, grouped in four folders.

Drums: each piece is its own stem (kick, snare, hi-hat, toms, crash) on the GM drum kit; the
groove follows the bar lines of the chorale (pickup aligned), with tom fills before and crashes
on the phrase ends (the soprano fermatas). Bass: the bass line one octave down, re-struck on every
beat. Vocals: GM voice patches standing in for singers (no real singing voice is installable from
PyPI). Other: piano, guitar, strings and organ parts drawn from the chorale's harmony.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .score import Chorale, Note

DRUM_KIT = -1  # program value for the GM drum kit (bank 128, preset 0)
KICK, SNARE, CLOSED_HAT, OPEN_HAT, CRASH = 36, 38, 42, 46, 49
TOM_FILLS = ((50, 48, 47, 45), (48, 47, 45, 43), (47, 45, 43, 41), (50, 47, 45, 41))


@dataclass(frozen=True)
class StemPart:
    """One stem of the session: where it goes, what plays it and what it plays."""

    track: str  # track name in the project
    folder: str  # Drums, Bass, Vocals or Other
    file: str  # media file name
    program: int  # 0-based GM program, or DRUM_KIT
    instrument: str  # what the stem really is (stand-ins are labelled as such)
    notes: list[Note]


def arrange(chorale: Chorale, tempo: float, rng: np.random.Generator) -> list[StemPart]:
    """All stems, in project order, with seeded humanisation (velocity and timing)."""
    voices = chorale.voices
    drums = _drum_parts(chorale, rng)
    parts = [
        StemPart("Kick", "Drums", "kick.wav", DRUM_KIT, "GM kit: kick (36)", drums["kick"]),
        StemPart("Snare", "Drums", "snare.wav", DRUM_KIT, "GM kit: snare (38)", drums["snare"]),
        StemPart("Hi-Hat", "Drums", "hihat.wav", DRUM_KIT, "GM kit: closed/open hi-hat (42/46)",
                 drums["hihat"]),
        StemPart("Toms", "Drums", "toms.wav", DRUM_KIT, "GM kit: toms (41–50)", drums["toms"]),
        StemPart("Crash", "Drums", "crash.wav", DRUM_KIT, "GM kit: crash cymbal (49)",
                 drums["crash"]),
        StemPart("Bass Guitar", "Bass", "bass.wav", 33, "GM 33 Fingered Bass: bass line -12 st",
                 _restruck(_transpose(voices["bass"], -12), 95, rng)),
        StemPart("Lead Vocal (stand-in)", "Vocals", "lead_vocal_standin.wav", 53,
                 "VOCAL STAND-IN: GM 53 Voice Oohs playing the soprano line",
                 _legato(voices["soprano"], 100, rng)),
        StemPart("Backing Vocal Alto (stand-in)", "Vocals", "bv_alto_standin.wav", 52,
                 "VOCAL STAND-IN: GM 52 Choir Aahs playing the alto line",
                 _legato(voices["alto"], 80, rng)),
        StemPart("Backing Vocal Tenor (stand-in)", "Vocals", "bv_tenor_standin.wav", 52,
                 "VOCAL STAND-IN: GM 52 Choir Aahs playing the tenor line",
                 _legato(voices["tenor"], 80, rng)),
        StemPart("Piano", "Other", "piano.wav", 0, "GM 0 Piano: alto/tenor/bass chords per beat",
                 _on_grid(chorale, 1.0, _piano_chord, rng)),
        StemPart("Guitar", "Other", "guitar.wav", 25, "GM 25 Steel Guitar: eighth arpeggios",
                 _on_grid(chorale, 0.5, _guitar_note, rng)),
        StemPart("Strings", "Other", "strings.wav", 48, "GM 48 Strings: alto and tenor, legato",
                 _legato(voices["alto"] + voices["tenor"], 72, rng)),
        StemPart("Organ", "Other", "organ.wav", 19, "GM 19 Church Organ: four-part chords",
                 _legato([n for v in voices.values() for n in v], 55, rng)),
    ]
    spread = {DRUM_KIT: 0.003}  # timing spread in seconds: tight drums, looser players
    return [
        StemPart(p.track, p.folder, p.file, p.program, p.instrument,
                 _humanise(p.notes, spread.get(p.program, 0.008) * tempo / 60.0, rng))
        for p in parts
    ]


def _transpose(notes: list[Note], semitones: int) -> list[Note]:
    return [Note(n.start, n.length, n.pitch + semitones, n.velocity) for n in notes]


def _velocity(base: int, rng: np.random.Generator, spread: float = 6.0) -> int:
    return int(np.clip(round(base + rng.normal(0.0, spread)), 1, 127))


def _legato(notes: list[Note], velocity: int, rng: np.random.Generator) -> list[Note]:
    """Sustained lines, with a short breath before a repeated note."""
    return [Note(n.start, max(n.length - 0.05, 0.05), n.pitch, _velocity(velocity, rng))
            for n in notes]


def _restruck(notes: list[Note], velocity: int, rng: np.random.Generator) -> list[Note]:
    """Each note re-struck on every beat it spans, slightly detached."""
    out = []
    for note in notes:
        offset = 0.0
        while offset < note.length - 1e-9:
            chunk = min(1.0, note.length - offset)
            accent = 8 if (note.start + offset) % 2 == 0 else 0
            out.append(Note(note.start + offset, chunk * 0.85, note.pitch,
                            _velocity(velocity + accent, rng)))
            offset += chunk
    return out


def _harmony(chorale: Chorale, time: float) -> list[int]:
    """Alto, tenor and (an octave up) bass pitches sounding at ``time``, low to high."""
    pitches = []
    for voice, shift in (("bass", 12), ("tenor", 0), ("alto", 0)):
        note = chorale.sounding(voice, time)
        if note is not None:
            pitches.append(note.pitch + shift)
    return sorted(set(pitches))


NotesAt = Callable[[Chorale, float, int, np.random.Generator], list[Note]]


def _on_grid(chorale: Chorale, step: float, notes_at: NotesAt,
             rng: np.random.Generator) -> list[Note]:
    """Call ``notes_at`` on a grid from the first full bar to the final chord."""
    last = max(n.start for n in chorale.voices["soprano"])
    out = []
    for index, time in enumerate(np.arange(chorale.bar, last + 1e-9, step)):
        out.extend(notes_at(chorale, float(time), index, rng))
    final = [Note(last, chorale.end - last, p) for p in _harmony(chorale, last)]
    return out + [Note(n.start + 0.02 * i, n.length, n.pitch, _velocity(85, rng))
                  for i, n in enumerate(final)]


def _piano_chord(chorale: Chorale, time: float, index: int,
                 rng: np.random.Generator) -> list[Note]:
    accent = 12 if time % chorale.bar == 0 else 0
    return [Note(time, 0.9, p, _velocity(70 + accent, rng)) for p in _harmony(chorale, time)]


def _guitar_note(chorale: Chorale, time: float, index: int,
                 rng: np.random.Generator) -> list[Note]:
    chord = _harmony(chorale, time)
    if not chord:
        return []
    order = (0, len(chord) - 1, len(chord) // 2, len(chord) - 1)
    return [Note(time, 0.9, chord[order[index % 4]], _velocity(78, rng))]


def _drum_parts(chorale: Chorale, rng: np.random.Generator) -> dict[str, list[Note]]:
    """The groove, split by piece: count-in bar, backbeat, fills into phrase ends, crashes."""
    parts: dict[str, list[Note]] = {k: [] for k in ("kick", "snare", "hihat", "toms", "crash")}
    hit = _Hitter(parts, rng)
    bar, last = chorale.bar, max(n.start for n in chorale.voices["soprano"])
    fills = [end - 1.0 for end in chorale.phrase_ends if bar <= end - 1.0 < last]
    for beat in np.arange(0.0, bar - 1.0 + 1e-9, 1.0):  # count-in: hi-hat clicks
        hit("hihat", CLOSED_HAT, float(beat), 75)
    _fill(hit, bar - 1.0, rng)
    hit("crash", CRASH, bar, 110)
    for time in np.arange(bar, last, 0.5):
        time = float(time)
        if any(start <= time < start + 1.0 for start in fills):
            continue
        _groove_step(hit, time, time % bar, bar, rng)
    for start in fills:
        _fill(hit, start, rng)
        if start + 1.0 < last:
            hit("crash", CRASH, start + 1.0, 105)
    hit("crash", CRASH, last, 115)
    hit("kick", KICK, last, 110)
    return parts


class _Hitter:
    """Adds one drum hit with a seeded velocity to the right piece's note list."""

    def __init__(self, parts: dict[str, list[Note]], rng: np.random.Generator) -> None:
        self.parts, self.rng = parts, rng

    def __call__(self, piece: str, pitch: int, time: float, velocity: int) -> None:
        self.parts[piece].append(Note(time, 0.25, pitch, _velocity(velocity, self.rng, 5.0)))


def _groove_step(hit: _Hitter, time: float, in_bar: float, bar: float,
                 rng: np.random.Generator) -> None:
    """One eighth of the backbeat groove: kick on 1 and 3, snare on 2 and 4, eighth hats."""
    on_beat = in_bar % 1.0 == 0
    if in_bar in (0.0, bar / 2) or (in_bar == bar / 2 - 0.5 and rng.random() < 0.4):
        hit("kick", KICK, time, 100 if on_beat else 85)
    if on_beat and int(in_bar) % 2 == 1:
        hit("snare", SNARE, time, 100)
    elif not on_beat and rng.random() < 0.15:
        hit("snare", SNARE, time + 0.25, 35)  # ghost note on the following sixteenth
    if in_bar == bar - 0.5 and rng.random() < 0.3:
        hit("hihat", OPEN_HAT, time, 80)
    else:
        hit("hihat", CLOSED_HAT, time, 85 if on_beat else 65)


def _fill(hit: _Hitter, start: float, rng: np.random.Generator) -> None:
    """One beat of sixteenth tom hits, high to low."""
    toms = TOM_FILLS[int(rng.integers(len(TOM_FILLS)))]
    for step, pitch in enumerate(toms):
        hit("toms", pitch, start + 0.25 * step, 90 + 5 * step)


def _humanise(notes: list[Note], spread_quarters: float,
              rng: np.random.Generator) -> list[Note]:
    """Seeded timing spread; same-pitch notes are then shortened so that none overlaps the next
    one (a note-off must never cut a later note-on of the same key)."""
    shifted = sorted(
        (Note(max(0.0, n.start + rng.normal(0.0, spread_quarters)), n.length, n.pitch,
              n.velocity) for n in notes),
        key=lambda n: (n.pitch, n.start),
    )
    out = []
    for note, following in zip(shifted, shifted[1:] + [None]):
        length = note.length
        if following is not None and following.pitch == note.pitch:
            length = min(length, max(following.start - note.start - 0.01, 0.01))
        out.append(Note(note.start, length, note.pitch, note.velocity))
    return sorted(out, key=lambda n: (n.start, n.pitch))
