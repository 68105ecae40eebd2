"""Music building blocks shared by the demo and the session generator: corpus scores as note
lists (:mod:`.score`) and a soundfont renderer (:mod:`.synth`)."""

from .score import Note, Piece, load_piece
from .synth import GMSynth, SynthUnavailableError

__all__ = ["Note", "Piece", "load_piece", "GMSynth", "SynthUnavailableError"]
