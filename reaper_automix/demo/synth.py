"""Render note lists to float32 stereo with tinysoundfont and the GM soundfont from pretty_midi.

tinysoundfont is installed with ``--no-deps`` (its declared pyaudio dependency does not build);
TimGM6mb.sf2 ships inside the pretty_midi wheel. Nothing is downloaded. The render loop is
:class:`reaper_automix.music.synth.GMSynth`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ..music.synth import GMSynth, SynthUnavailableError
from .arrangement import DRUM_KIT
from .score import Note

SAMPLE_RATE = 44100
RENDER_GAIN_DB = -6.0  # keeps every stem of the demo below full scale

__all__ = ["SAMPLE_RATE", "SynthUnavailableError", "render_notes", "soundfont_path"]


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


def render_notes(notes: list[Note], program: int, tempo: float, n_samples: int) -> np.ndarray:
    """Render ``notes`` (quarter-note times at ``tempo``) into ``n_samples`` stereo frames."""
    synth = GMSynth.shared(soundfont_path(), gain_db=RENDER_GAIN_DB, sample_rate=SAMPLE_RATE)
    if program == DRUM_KIT:
        return synth.render(notes, 0, tempo, n_samples, drums=True)
    return synth.render(notes, program, tempo, n_samples)
