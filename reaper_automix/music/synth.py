"""Render note lists to float32 stereo with tinysoundfont and any SF2/SF3 soundfont.

tinysoundfont is installed with ``--no-deps`` (its declared pyaudio dependency does not build,
data.md 2.3). A soundfont is loaded once per process and reused for every render (FluidR3_GM
takes about 1 s to load); before each render all voices are stopped and their quick-release
tails flushed, so a render's bytes never depend on what the synth played before.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from .score import Note

SAMPLE_RATE = 44100
DRUM_CHANNEL = 9  # MIDI channel 10
DRUM_BANK = 128
FLUSH_FRAMES = 44100  # silence generated after sounds_off(): every quick release has ended


class SynthUnavailableError(RuntimeError):
    """tinysoundfont or a soundfont is not installed."""


class GMSynth:
    """One loaded soundfont; :meth:`render` plays one program (or drum kit) at a time."""

    def __init__(self, soundfont: str | Path, *, gain_db: float = -6.0,
                 sample_rate: int = SAMPLE_RATE) -> None:
        try:
            import tinysoundfont
        except ImportError as exc:
            raise SynthUnavailableError(
                "tinysoundfont is not installed: pip install --no-deps tinysoundfont==0.3.7 "
                "(see scripts/setup.sh)") from exc
        path = Path(soundfont)
        if not path.is_file():
            raise SynthUnavailableError(f"soundfont {path} is missing")
        self.soundfont = path
        self.sample_rate = sample_rate
        self._synth = tinysoundfont.Synth(gain=gain_db, samplerate=sample_rate)
        self._sfid = self._synth.sfload(str(path))
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, soundfont: str | Path, *, gain_db: float = -6.0,
               sample_rate: int = SAMPLE_RATE) -> GMSynth:
        """The process-wide synth for this soundfont, gain and rate (loaded on first use)."""
        return _shared(str(Path(soundfont).resolve()), float(gain_db), int(sample_rate))

    def preset_name(self, program: int, *, drums: bool = False) -> str | None:
        """The soundfont's name for a GM program (or drum kit ``program`` in bank 128)."""
        return self._synth.sfpreset_name(self._sfid, DRUM_BANK if drums else 0, program)

    def render(self, notes: Sequence[Note], program: int, tempo: float, n_samples: int, *,
               drums: bool = False) -> np.ndarray:
        """Render ``notes`` (quarter-note times at ``tempo``) into ``n_samples`` stereo frames.

        ``drums`` plays bank 128 preset ``program`` on MIDI channel 10 (the synth does not
        switch channel 10 to drums by itself, data.md 2.3)."""
        events = _events(notes, tempo, self.sample_rate, n_samples)
        with self._lock:
            channel = self._select(program, drums)
            return self._play(events, channel, n_samples)

    def _select(self, program: int, drums: bool) -> int:
        self._synth.sounds_off()
        self._synth.generate(FLUSH_FRAMES)
        if drums:
            self._synth.program_select(DRUM_CHANNEL, self._sfid, DRUM_BANK, program,
                                       is_drums=True)
            return DRUM_CHANNEL
        self._synth.program_select(0, self._sfid, 0, program)
        return 0

    def _play(self, events: list[tuple[int, int, int, int]], channel: int,
              n_samples: int) -> np.ndarray:
        audio = np.zeros((n_samples, 2), dtype=np.float32)
        raw = memoryview(audio).cast("B")
        frame_bytes = 2 * audio.itemsize
        cursor = 0
        for frame, is_on, pitch, velocity in events:
            if frame > cursor:
                self._synth.generate_simple(frame - cursor,
                                            buffer=raw[cursor * frame_bytes:frame * frame_bytes])
                cursor = frame
            if is_on:
                self._synth.noteon(channel, pitch, velocity)
            else:
                self._synth.noteoff(channel, pitch)
        if cursor < n_samples:
            self._synth.generate_simple(n_samples - cursor, buffer=raw[cursor * frame_bytes:])
        return audio


@lru_cache(maxsize=4)
def _shared(soundfont: str, gain_db: float, sample_rate: int) -> GMSynth:
    return GMSynth(soundfont, gain_db=gain_db, sample_rate=sample_rate)


def _events(notes: Sequence[Note], tempo: float, sample_rate: int,
            n_samples: int) -> list[tuple[int, int, int, int]]:
    """(frame, is_on, pitch, velocity), note-offs sorted before note-ons at the same frame."""
    seconds_per_quarter = 60.0 / tempo
    events = []
    for note in notes:
        on = round(note.start * seconds_per_quarter * sample_rate)
        off = round((note.start + note.length) * seconds_per_quarter * sample_rate)
        if on >= n_samples:
            raise ValueError(f"note at {note.start} quarters lies beyond the {n_samples}-frame "
                             "stem")
        events.append((on, 1, note.pitch, note.velocity))
        events.append((min(max(off, on + 1), n_samples), 0, note.pitch, 0))
    events.sort()
    return events
