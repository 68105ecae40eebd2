"""Drum grooves on the song's bar grid: patterns, fills, crashes and optional percussion.

Hits are placed in quarter notes from the song start; a groove starts at the first full bar (a
pickup bar gets a fill on its pickup beats), fills lead into phrase ends and every
``fill_every`` bars, a crash marks each section start and the final bar line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Grooves, each a function of (beat, beats per bar, rng) giving (piece, offset, velocity).
PATTERNS = ("rock", "rock16", "four_on_floor", "halftime", "shuffle", "jazz", "one_drop",
            "ballad", "breakbeat")
#: Percussion a session may add on top of the kit (each becomes its own stem).
EXTRAS = ("clap", "shaker", "tambourine", "cowbell", "bongos", "snaps")
FILL_PIECES = ("tom_high", "tom_mid", "tom_low")

Step = tuple[str, float, float]  # piece, offset within the beat (quarters), velocity 0–1


@dataclass(frozen=True)
class DrumHit:
    piece: str
    time_q: float  # quarters from the song start
    velocity: float  # 0–1


def _backbeat(beat: int, beats: int) -> bool:
    if beats == 3:
        return beat in (1, 2)
    return beats > 1 and beat % 2 == 1


def _hats(piece: str, offsets: tuple[float, ...], accent: float, soft: float) -> list[Step]:
    return [(piece, off, accent if off == 0 else soft) for off in offsets]


def _rock(beat: int, beats: int, rng: np.random.Generator) -> list[Step]:
    steps = _hats("hats_closed", (0.0, 0.5), 0.75, 0.55)
    if beat == 0 or (beats % 2 == 0 and beat == beats // 2):
        steps.append(("kick", 0.0, 0.9))
    if beats >= 4 and beat == beats // 2 - 1 and rng.random() < 0.35:
        steps.append(("kick", 0.5, 0.7))
    if _backbeat(beat, beats):
        steps.append(("snare", 0.0, 0.85 if beats != 3 else 0.6))
    elif rng.random() < 0.1:
        steps.append(("snare", 0.75, 0.25))
    if beat == beats - 1 and rng.random() < 0.3:
        steps[1] = ("hats_open", 0.5, 0.6)
    return steps


def _rock16(beat: int, beats: int, rng: np.random.Generator) -> list[Step]:
    steps = _hats("hats_closed", (0.0, 0.25, 0.5, 0.75), 0.7, 0.4)
    if beat == 0 or (beats % 2 == 0 and beat == beats // 2):
        steps.append(("kick", 0.0, 0.9))
    if beat == 1 and rng.random() < 0.5:
        steps.append(("kick", 0.75, 0.65))
    if _backbeat(beat, beats):
        steps.append(("snare", 0.0, 0.85))
    return steps


def _four_on_floor(beat: int, beats: int, rng: np.random.Generator) -> list[Step]:
    steps: list[Step] = [("kick", 0.0, 0.95), ("hats_open", 0.5, 0.55),
                         ("hats_closed", 0.25, 0.3), ("hats_closed", 0.75, 0.3)]
    if _backbeat(beat, beats):
        steps.append(("snare", 0.0, 0.6))
    return steps


def _halftime(beat: int, beats: int, rng: np.random.Generator) -> list[Step]:
    steps = _hats("hats_closed", (0.0, 0.5), 0.7, 0.5)
    if beat == 0 or (beat == 1 and rng.random() < 0.5 and beats >= 3):
        steps.append(("kick", 0.0 if beat == 0 else 0.5, 0.9))
    if beat == beats // 2 and beats >= 2:
        steps.append(("snare", 0.0, 0.9))
    return steps


def _shuffle(beat: int, beats: int, rng: np.random.Generator) -> list[Step]:
    steps = _hats("hats_closed", (0.0, 2 / 3), 0.75, 0.5)
    if beat == 0 or (beats % 2 == 0 and beat == beats // 2):
        steps.append(("kick", 0.0, 0.9))
    if beat == 1 and beats >= 4 and rng.random() < 0.3:
        steps.append(("kick", 2 / 3, 0.6))
    if _backbeat(beat, beats):
        steps.append(("snare", 0.0, 0.85))
    return steps


def _jazz(beat: int, beats: int, rng: np.random.Generator) -> list[Step]:
    steps: list[Step] = [("ride", 0.0, 0.7), ("kick", 0.0, 0.25)]
    if _backbeat(beat, beats):
        steps += [("ride", 2 / 3, 0.5), ("hats_pedal", 0.0, 0.6)]
    if rng.random() < 0.2:
        steps.append(("snare", 2 / 3, 0.3))
    return steps


def _one_drop(beat: int, beats: int, rng: np.random.Generator) -> list[Step]:
    steps = _hats("hats_closed", (0.0, 0.5), 0.6, 0.5)
    if beat == beats // 2 and beats >= 2:
        steps += [("kick", 0.0, 0.9), ("snare", 0.0, 0.8)]
    if beat == beats - 1 and rng.random() < 0.25:
        steps[1] = ("hats_open", 0.5, 0.5)
    return steps


def _ballad(beat: int, beats: int, rng: np.random.Generator) -> list[Step]:
    steps = _hats("ride", (0.0, 0.5), 0.55, 0.4)
    if beat == 0:
        steps.append(("kick", 0.0, 0.75))
    if beats >= 4 and beat == beats // 2 - 1 and rng.random() < 0.5:
        steps.append(("kick", 0.5, 0.55))
    if _backbeat(beat, beats):
        steps += [("snare", 0.0, 0.6), ("hats_pedal", 0.0, 0.45)]
    return steps


def _breakbeat(beat: int, beats: int, rng: np.random.Generator) -> list[Step]:
    if beats != 4:
        return _rock16(beat, beats, rng)
    steps = _hats("hats_closed", (0.0, 0.5), 0.7, 0.5)
    kicks = {0: (0.0, 0.25), 1: (0.5,), 2: (0.5,), 3: ()}[beat]
    steps += [("kick", off, 0.9) for off in kicks]
    if beat in (1, 3):
        steps.append(("snare", 0.0, 0.9))
    if beat == 2 and rng.random() < 0.6:
        steps.append(("snare", 0.75, 0.5))
    return steps


_GROOVES: dict[str, Callable[[int, int, np.random.Generator], list[Step]]] = {
    "rock": _rock, "rock16": _rock16, "four_on_floor": _four_on_floor, "halftime": _halftime,
    "shuffle": _shuffle, "jazz": _jazz, "one_drop": _one_drop, "ballad": _ballad,
    "breakbeat": _breakbeat,
}


def _extra(name: str, beat: int, beats: int, rng: np.random.Generator) -> list[Step]:
    if name == "clap":
        return [("clap", 0.0, 0.8)] if _backbeat(beat, beats) else []
    if name == "snaps":
        return [("snaps", 0.0, 0.7)] if _backbeat(beat, beats) else []
    if name == "shaker":
        return [("shaker", off, 0.6 if off in (0.0, 0.5) else 0.4)
                for off in (0.0, 0.25, 0.5, 0.75)]
    if name == "tambourine":
        return [("tambourine", 0.0, 0.7)] if _backbeat(beat, beats) else [
            ("tambourine", 0.5, 0.4)]
    if name == "cowbell":
        return [("cowbell", 0.0, 0.6)] if beat == 0 or rng.random() < 0.3 else []
    if name == "bongos":
        return [("bongo_low", 0.0, 0.7)] if beat % 2 == 0 else [
            ("bongo_high", 0.5, 0.6), ("bongo_high", 0.75, 0.45)]
    raise ValueError(f"unknown percussion extra {name!r}; choose one of {', '.join(EXTRAS)}")


@dataclass(frozen=True)
class Grid:
    """Where the drums play: bar length, the first full bar, the end, fill positions."""

    bar_q: float
    first_bar_q: float  # the first full bar line
    end_q: float  # the final bar line: a crash rings there
    fill_bars_q: tuple[float, ...]  # bar lines that a fill leads into


def groove(grid: Grid, pattern: str, extras: tuple[str, ...], has_toms: bool,
           rng: np.random.Generator) -> list[DrumHit]:
    """Every hit of the drum part, sorted by time (quarters), before humanisation."""
    if pattern not in _GROOVES:
        raise ValueError(f"unknown drum pattern {pattern!r}; choose one of {', '.join(PATTERNS)}")
    beats = max(1, round(grid.bar_q))
    beat_q = grid.bar_q / beats
    fill_starts = {round(bar - beat_q, 6) for bar in grid.fill_bars_q}
    if grid.first_bar_q > 0:  # pickup bar: a fill on its last beat leads into bar 1
        fill_starts.add(round(grid.first_bar_q - beat_q, 6))
    hits: list[DrumHit] = []
    for beat_start in np.arange(0.0, grid.end_q - 1e-9, beat_q):
        beat_start = round(float(beat_start), 6)
        beat = round((beat_start % grid.bar_q) / beat_q)
        if beat_start in fill_starts:
            hits += _fill(beat_start, beat_q, has_toms)
            continue
        if beat_start < grid.first_bar_q:
            continue
        steps = _GROOVES[pattern](beat, beats, rng)
        for name in extras:
            steps += _extra(name, beat, beats, rng)
        hits += [DrumHit(piece, beat_start + off * beat_q, vel) for piece, off, vel in steps]
    for crash in sorted({grid.first_bar_q, *grid.fill_bars_q, grid.end_q}):
        if crash <= grid.end_q:
            hits += [DrumHit("crash", crash, 0.9), DrumHit("kick", crash, 0.9)]
    hits = [h for h in hits if h.time_q <= grid.end_q + 1e-9]
    return sorted(_unique(hits), key=lambda h: (h.time_q, h.piece))


def _fill(start: float, beat_q: float, has_toms: bool) -> list[DrumHit]:
    """One beat of sixteenths, high to low on the toms (on the snare without toms)."""
    pieces = (*FILL_PIECES, "tom_low") if has_toms else ("snare",) * 4
    return [DrumHit(piece, start + 0.25 * i * beat_q, 0.7 + 0.07 * i)
            for i, piece in enumerate(pieces)]


def _unique(hits: list[DrumHit]) -> list[DrumHit]:
    """One hit per piece and time (the louder one)."""
    best: dict[tuple[str, float], DrumHit] = {}
    for hit in hits:
        key = (hit.piece, round(hit.time_q, 6))
        if key not in best or hit.velocity > best[key].velocity:
            best[key] = hit
    return list(best.values())
