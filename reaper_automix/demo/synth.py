"""Render note lists to float32 stereo with tinysoundfont and the GM soundfont from pretty_midi.

tinysoundfont is installed with ``--no-deps`` (its declared pyaudio dependency does not build);
TimGM6mb.sf2 ships inside the pretty_midi wheel. Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from .arrangement import DRUM_KIT
from .score import Note

SAMPLE_RATE = 44100
RENDER_GAIN_DB = -6.0  # keeps every stem of the demo below full scale
DRUM_CHANNEL = 9  # MIDI channel 10


class SynthUnavailableError(RuntimeError):
    """tinysoundfont or the soundfont is not installed."""


def soundfont_path() -> Path:
    """TimGM6mb.sf2 from the installed pretty_midi wheel."""
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or spec.origin is None:
        raise SynthUnavailableError("pretty_midi is not installed; it carries TimGM6mb.sf2 "
                                    "(pip install pretty_midi)")
    path = Path(spec.origin).parent / "TimGM6mb.sf2"
    if not path.is_file():
        raise SynthUnavailableError(f"{path} is missing; reinstall pretty_midi")
    return path


@lru_cache(maxsize=1)
def _soundfont_bytes() -> bytes:
    return soundfont_path().read_bytes()


def _new_synth(program: int):
    try:
        import tinysoundfont
    except ImportError as exc:
        raise SynthUnavailableError(
            "tinysoundfont is not installed: pip install --no-deps tinysoundfont==0.3.7 "
            "(see docs/demo.md)") from exc
    synth = tinysoundfont.Synth(gain=RENDER_GAIN_DB, samplerate=SAMPLE_RATE)
    sfid = synth.sfload(_soundfont_bytes())
    if program == DRUM_KIT:
        # the synth does not switch channel 10 to drums by itself (data.md 2.3)
        synth.program_select(DRUM_CHANNEL, sfid, 128, 0, is_drums=True)
        return synth, DRUM_CHANNEL
    synth.program_select(0, sfid, 0, program)
    return synth, 0


def render_notes(notes: list[Note], program: int, tempo: float, n_samples: int) -> np.ndarray:
    """Render ``notes`` (quarter-note times at ``tempo``) into ``n_samples`` stereo frames."""
    synth, channel = _new_synth(program)
    seconds_per_quarter = 60.0 / tempo
    events = []  # (frame, order, pitch, velocity): note-offs sort before note-ons
    for note in notes:
        on = round(note.start * seconds_per_quarter * SAMPLE_RATE)
        off = round((note.start + note.length) * seconds_per_quarter * SAMPLE_RATE)
        if on >= n_samples:
            raise ValueError(f"note at {note.start} quarters lies beyond the {n_samples}-frame "
                             "stem")
        events.append((on, 1, note.pitch, note.velocity))
        events.append((min(max(off, on + 1), n_samples), 0, note.pitch, 0))
    events.sort()
    audio = np.zeros((n_samples, 2), dtype=np.float32)
    raw = memoryview(audio).cast("B")
    frame_bytes = 2 * audio.itemsize
    cursor = 0
    for frame, is_on, pitch, velocity in events:
        if frame > cursor:
            window = raw[cursor * frame_bytes:frame * frame_bytes]
            synth.generate_simple(frame - cursor, buffer=window)
            cursor = frame
        if is_on:
            synth.noteon(channel, pitch, velocity)
        else:
            synth.noteoff(channel, pitch)
    if cursor < n_samples:
        synth.generate_simple(n_samples - cursor, buffer=raw[cursor * frame_bytes:])
    return audio
