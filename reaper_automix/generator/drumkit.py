"""Hydrogen drum kits (``hydrogen-drumkits``): parse ``drumkit.xml`` and render hits per piece.

Each ``<instrument>`` has a name, volume, gain, pan and velocity ``<layer>``s (min/max velocity
0–1, gain, sample file). Newer files nest the layers in ``<instrumentComponent>`` and use an XML
namespace, older ones put a single ``<filename>`` on the instrument; both are read. Samples are
decoded once per process and resampled to 44.1 kHz (ForzeeStereo and rumpf are 48 kHz).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..audio.io import MediaError, read_audio, resample
from .sources import SourceUnavailableError, hydrogen_kits_dir

SAMPLE_RATE = 44100
CHOKE_FADE_S = 0.015  # an open hi-hat is closed by the next closed or pedal hat in this time

#: Drum pieces the patterns play, with the GM drum note each stands for and the instrument-name
#: patterns that find it in a kit (first match wins; names are lower-cased).
PIECES: dict[str, tuple[int, str]] = {
    "kick": (36, r"kick|bass ?drum|^bd\b"),
    "snare": (38, r"^(?!.*(rim|roll|stick|brush)).*snare"),
    "clap": (39, r"clap"),
    "hats_pedal": (44, r"pedal ?hh|(hi.?hat|hh|hat).*(pedal|\bpd\b)"),
    "hats_open": (46, r"open ?hh|(hi.?hat|hh|hat).*(open|\bop\b)"),
    "hats_closed": (42, r"closed ?hh|(hi.?hat|hh|hat).*(closed|\bcl\b)"),
    "tom_high": (50, r"\btom ?(hi|high|1\b)|\b(hi|high) tom\b"),
    "tom_mid": (47, r"\btom ?(mid|2\b)|\b(mid|middle) tom\b|^tom$"),
    "tom_low": (43, r"\btom ?(low|floor|3\b)|\b(low|floor) ?tom\b"),
    "crash": (49, r"crash(?!.*(ride|choke|flink))"),
    "ride": (51, r"^(?!.*(bell|crash|cup)).*ride"),
    "shaker": (70, r"maraca|shaker"),
    "tambourine": (54, r"^(?!.*pedal).*tambourine"),
    "cowbell": (56, r"cowbell"),
    "bongo_high": (60, r"bongo ?hi"),
    "bongo_low": (61, r"bongo ?lo"),
    "snaps": (39, r"finger ?snap"),
}


@dataclass(frozen=True)
class Layer:
    """One velocity layer: the sample played for velocities in [low, high]."""

    path: Path
    low: float
    high: float
    gain: float


@dataclass(frozen=True)
class KitInstrument:
    name: str
    gain: float  # instrument volume × gain
    pan_left: float
    pan_right: float
    layers: tuple[Layer, ...]

    def layer_for(self, velocity: float) -> Layer:
        """The layer whose range holds ``velocity`` (0–1), else the nearest one."""
        for layer in self.layers:
            if layer.low <= velocity <= layer.high:
                return layer
        return min(self.layers, key=lambda lay: min(abs(lay.low - velocity),
                                                    abs(lay.high - velocity)))


@dataclass(frozen=True)
class DrumKit:
    name: str  # the kit's folder name
    license: str
    author: str
    instruments: tuple[KitInstrument, ...]

    def candidates(self, piece: str) -> list[str]:
        """Names of the kit's instruments that can play ``piece`` (see :data:`PIECES`)."""
        return [i.name for i in self.instruments if _piece_of(i.name) == piece]

    def instrument(self, name: str) -> KitInstrument:
        for instrument in self.instruments:
            if instrument.name == name:
                return instrument
        raise LookupError(f"drum kit {self.name!r} has no instrument {name!r}")


def _piece_of(name: str) -> str | None:
    """The first piece whose pattern matches ``name`` (so "Crash/Ride" is a crash only)."""
    lowered = name.lower()
    for piece, (_note, pattern) in PIECES.items():
        if re.search(pattern, lowered):
            return piece
    return None


def kit_path(name: str) -> Path:
    """The ``drumkit.xml`` of installed kit ``name``."""
    path = hydrogen_kits_dir() / name / "drumkit.xml"
    if not path.is_file():
        raise SourceUnavailableError(f"Hydrogen kit {name!r} not found at {path} "
                                     "(apt-get install hydrogen-drumkits)")
    return path


@lru_cache(maxsize=32)
def load_kit(name: str) -> DrumKit:
    """Parse installed kit ``name``; instruments without a readable sample are left out."""
    path = kit_path(name)
    root = ET.parse(path).getroot()
    instruments = tuple(
        instrument for element in root.iter() if _local(element.tag) == "instrument"
        if (instrument := _instrument(element, path.parent)) is not None
    )
    return DrumKit(name, _text(root, "license", ""), _text(root, "author", ""), instruments)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def _text(element: ET.Element, name: str, default: str) -> str:
    child = _child(element, name)
    return (child.text or default).strip() if child is not None else default


def _number(element: ET.Element, name: str, default: float) -> float:
    try:
        return float(_text(element, name, str(default)))
    except ValueError:
        return default


def _instrument(element: ET.Element, folder: Path) -> KitInstrument | None:
    name = _text(element, "name", "")
    layers = [Layer(folder / _text(layer, "filename", ""), _number(layer, "min", 0.0),
                    _number(layer, "max", 1.0), _number(layer, "gain", 1.0))
              for layer in element.iter() if _local(layer.tag) == "layer"]
    if not layers and _text(element, "filename", ""):
        layers = [Layer(folder / _text(element, "filename", ""), 0.0, 1.0, 1.0)]
    layers = [layer for layer in layers if layer.path.name and layer.path.is_file()]
    if not name or not layers:
        return None
    if _child(element, "pan") is not None:  # newer files: one pan in [-1, 1]
        pan = _number(element, "pan", 0.0)
        pan_left, pan_right = min(1.0, 1.0 - pan), min(1.0, 1.0 + pan)
    else:
        pan_left, pan_right = _number(element, "pan_L", 1.0), _number(element, "pan_R", 1.0)
    gain = _number(element, "volume", 1.0) * _number(element, "gain", 1.0)
    return KitInstrument(name, gain, pan_left, pan_right, tuple(layers))


@lru_cache(maxsize=512)
def load_sample(path: Path) -> np.ndarray:
    """A kit sample as float32 stereo at 44.1 kHz (decoded once per process)."""
    try:
        audio, rate = read_audio(path)
    except MediaError as exc:
        raise SourceUnavailableError(f"drum sample {path} cannot be read: {exc}") from exc
    if audio.shape[1] == 1:
        audio = np.repeat(audio, 2, axis=1)
    audio = resample(audio[:, :2], rate, SAMPLE_RATE)
    audio.setflags(write=False)
    return audio


@dataclass(frozen=True)
class Hit:
    """One drum hit: time in seconds, velocity 0–1."""

    time_s: float
    velocity: float


def render_hits(instrument: KitInstrument, hits: Sequence[Hit], n_samples: int,
                chokes_s: Sequence[float] = ()) -> np.ndarray:
    """Mix ``hits`` of one instrument into a float32 stereo stem of ``n_samples`` frames.

    Gain per hit = layer gain × velocity × instrument gain, times pan_L/pan_R (Hydrogen's
    sampler). A hit ringing at a time in ``chokes_s`` is faded out there (hi-hat choke)."""
    out = np.zeros((n_samples, 2), dtype=np.float32)
    pan = np.array([instrument.pan_left, instrument.pan_right], dtype=np.float32)
    chokes = np.sort(np.asarray(chokes_s, dtype=float))
    fade = round(CHOKE_FADE_S * SAMPLE_RATE)
    for hit in hits:
        start = round(hit.time_s * SAMPLE_RATE)
        if not 0 <= start < n_samples:
            continue
        layer = instrument.layer_for(hit.velocity)
        sample = load_sample(layer.path)
        length = min(sample.shape[0], n_samples - start)
        later = chokes[chokes > hit.time_s + 1e-4]
        if later.size:
            length = min(length, round(later[0] * SAMPLE_RATE) - start + fade)
        gain = np.float32(layer.gain * hit.velocity * instrument.gain) * pan
        segment = sample[:length] * gain
        if later.size and length > fade:
            segment[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
        out[start:start + length] += segment
    return out
