"""Derive the role offsets of role-aware Auto balance group from levels people chose (data.md 3.6).

    nice -n 10 .venv/bin/python scripts/derive_role_offsets.py --lmms     # every source; writes the table
    .venv/bin/python scripts/derive_role_offsets.py --limit 3 --dry-run   # a quick look, writes nothing

Needs (offline, not needed by the product or its tests): the Debian packages fluid-soundfont-gm,
libfluidsynth3, freedoom, openttd-openmsx, planetblupi-music-midi, mma, hydrogen-drumkits and
hydrogen-data, and the PyPI packages mido and pyfluidsynth (the ``dev`` extra). About an hour on
two busy cores; renders are cached, so reruns take seconds.

What it does (docs/analysis.md, "Role offsets", shows the result):

1. **Observations.** Every part of every source arrangement is rendered *on its own*, at the level
   its author set, and measured in the terms the balance rule uses: the CFB loudness of the
   centroid band (analysis.cfb, stereo stem layout), plus plain integrated loudness for
   comparison. One observation = (source, song, part, role, CFB loudness, LUFS).

   * ``gamemidi``: the game soundtracks' MIDI files (freedoom's D_* lumps, openttd-openmsx,
     planetblupi-music-midi), first 60 s, each part rendered through FluidR3_GM by FluidSynth
     (dry) with its CC7/CC11/CC10 and velocities. Roles: drum notes by GM key (kick 35/36, snare 37/38/40,
     ...), tonal parts by GM program and texture (polyphony, register).
   * ``mma``: the first (main) groove of every MMA style file (stdlib, casio, yamaha, zoom,
     kara, pflib), 8 bars over I-vi-IV-V, rendered the same way. MMA bakes each track's
     ``Volume`` into the velocities; MMA's track kind (Chord, Arpeggio, Walk, ...) refines the role.
   * ``hydrogen-songs``: the Hydrogen demo songs, one stem per instrument from its kit's samples
     (velocity layer, layer gain x instrument gain x volume x velocity), in song order.
   * ``hydrogen-kits``: every Hydrogen kit's instruments at the levels the kit's author set,
     each playing one fixed 12-bar groove for its role (documented in KIT_PATTERN).

   Renders and measurements are cached per file under ``.cache/role-offsets/`` (by content).

2. **Fit.** Per source, a robust two-way fit (median polish) of CFB loudness = song level + role
   offset over all observations; then the per-source offsets are combined by a second median
   polish over (source x role), so a source that covers only drums (Hydrogen) is aligned on the
   roles it shares with the others. Offsets are reported relative to the kick (0 dB).

3. **Mixing practice** fills the roles no offline source can measure (no arrangement we have
   contains a singer): the lead vocal as loud as the loudest tonal role, backing vocals 6 dB
   under the lead vocal (common practice: 3-9 dB), other = the median tonal offset.

4. **The LMMS composers** (``--lmms``, stage 2): the allowed LMMS songs' tracks at their
   composers' faders (cached under ``.cache/role-offsets/lmms/``) pull each measured role from the
   scaled stage-1 offsets towards what the composers did (see blend_lmms); ``--leave-out SONG``
   fits without a song, for scripts/loso_role_offsets.py.

5. **Output**: ``reaper_automix/analysis/role_offsets.json`` (the shipped table, with per role
   where its number came from; ``--output`` writes elsewhere) and the per-source table printed in
   Markdown for the docs.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import math
import re
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reaper_automix.analysis.roles import ROLES, role_from_name  # noqa: E402

SAMPLE_RATE = 44100
MAX_SECONDS = 60.0
RENDER_VERSION = "8"  # bump when rendering or measuring changes (invalidates the cache)
CACHE = REPO / ".cache" / "role-offsets"
TABLE = REPO / "reaper_automix" / "analysis" / "role_offsets.json"
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
GAME_MIDI = {
    "freedoom": ("/usr/share/games/doom/freedoom1.wad", "/usr/share/games/doom/freedoom2.wad"),
    "openttd-openmsx": ("/usr/share/games/openttd/baseset/openmsx",),
    "planetblupi": ("/usr/share/planetblupi/music",),
}
MMA_LIBS = ("stdlib", "casio", "yamaha", "zoom", "kara", "pflib")
MMA_ROOT = Path("/usr/share/mma/lib")
HYDROGEN = Path("/usr/share/hydrogen/data")
DRUM_CHANNEL = 9
BACKING_UNDER_LEAD_DB = -6.0  # mixing practice (3-9 dB under the lead vocal)
MIN_OBSERVATIONS = 8  # per role and source, to count at all
#: Stage 2 (``--lmms``): the LMMS composers' levels adjust the offsets. The sources' offsets
#: enter as a prior scaled by LMMS_PRIOR_SCALE (their spread between roles is wider than these
#: composers', partly because the MIDI sources sound through FluidR3 and not the synth their
#: authors balanced on) that weighs as much as LMMS_PRIOR_TRACKS tracks of the role. Both were
#: set by looking at leave-one-song-out errors (docs/balance.md shows the whole grid).
LMMS_PRIOR_SCALE = 0.3
LMMS_PRIOR_TRACKS = 2.0

# ----------------------------------------------------------------------------- roles
#: GM percussion keys (note numbers) to roles.
DRUM_KEYS: dict[int, str] = {
    35: "kick", 36: "kick", 37: "snare", 38: "snare", 40: "snare", 39: "clap",
    42: "hats_closed", 44: "hats_pedal", 46: "hats_open",
    41: "toms", 43: "toms", 45: "toms", 47: "toms", 48: "toms", 50: "toms",
    49: "cymbals", 51: "cymbals", 52: "cymbals", 53: "cymbals", 55: "cymbals", 57: "cymbals",
    59: "cymbals",
}


def drum_role(key: int) -> str:
    """A GM percussion key's role: everything not listed (cowbell, congas, shaker...) is percussion."""
    return DRUM_KEYS.get(key, "percussion")


def program_role(program: int, polyphony: float, median_pitch: float) -> str:
    """A tonal GM program's role, from the instrument and how it is played: ``polyphony`` is the
    mean number of notes sounding while any sounds; ``median_pitch`` a MIDI note."""
    chordal = polyphony >= 1.5
    if 32 <= program <= 39:
        return "bass"
    if program in (45, 46) or 8 <= program <= 15 or 104 <= program <= 108 or program in (112, 114):
        return "plucks"
    if 40 <= program <= 44 or 48 <= program <= 51:
        return "strings"
    if program in (52, 53, 54) or 88 <= program <= 95:
        return "pad"
    if 56 <= program <= 67:
        return "brass"
    if 68 <= program <= 79 or program in (109, 110, 111):
        return "lead"
    if 80 <= program <= 87:
        return "chords" if chordal else "lead"
    if program == 47 or 113 <= program <= 118:
        return "percussion"
    if program == 55 or 96 <= program <= 103 or program >= 119:
        return "fx"
    # pianos, organs, guitars: chords unless a single line in the melody's register
    return "lead" if not chordal and median_pitch >= 60 else "chords"


#: MMA track kinds (the part of the track name before "-") that say the part's function.
MMA_KINDS = {"arpeggio": "plucks", "aria": "plucks", "walk": "bass", "scale": "lead",
             "solo": "lead", "melody": "lead"}


# -------------------------------------------------------------------------- MIDI parts
@dataclass(frozen=True)
class Part:
    """One part of a MIDI song: a channel (drum parts: the channel's keys of one role)."""

    name: str
    role: str
    channel: int
    keys: tuple[int, ...] | None  # drum keys played; None = every note of the channel
    program: int | None


@dataclass
class Observation:
    source: str
    song: str
    part: str
    role: str
    cfb_lufs: float
    lufs: float
    band_hz: tuple[float, float] | None
    program: int | None = None
    features: list[float] | None = None  # analysis.role_features, for the role classifier


def midi_events(midi) -> list[tuple[float, object]]:  # noqa: ANN001 (mido.MidiFile)
    """(time s, message) of every channel message, tempo map applied, up to MAX_SECONDS."""
    events, now = [], 0.0
    for message in midi:  # merged tracks, delta times in seconds
        now += message.time
        if now > MAX_SECONDS:
            break
        if not message.is_meta and hasattr(message, "channel"):
            events.append((now, message))
    return events


def midi_parts(midi, track_kinds: bool = False) -> list[Part]:  # noqa: ANN001
    """The parts of a song and their roles. ``track_kinds``: MMA track names say the kind."""
    notes: dict[int, list[tuple[float, float, int]]] = defaultdict(list)
    programs: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    open_notes: dict[tuple[int, int], float] = {}
    current = defaultdict(int)
    for time, message in midi_events(midi):
        channel = message.channel
        if message.type == "program_change":
            current[channel] = message.program
        elif message.type == "note_on" and message.velocity > 0:
            open_notes[(channel, message.note)] = time
            programs[channel][current[channel]] += 1
        elif message.type in ("note_off", "note_on"):
            start = open_notes.pop((channel, message.note), None)
            if start is not None:
                notes[channel].append((start, time, message.note))
    names = _channel_names(midi) if track_kinds else {}
    parts = []
    for channel, played in sorted(notes.items()):
        if channel == DRUM_CHANNEL:
            by_role: dict[str, set[int]] = defaultdict(set)
            for _, _, key in played:
                by_role[drum_role(key)].add(key)
            parts.extend(Part(f"drums {role}", role, channel, tuple(sorted(keys)), None)
                         for role, keys in sorted(by_role.items()))
            continue
        program = max(programs[channel].items(), key=lambda kv: kv[1])[0]
        role = program_role(program, polyphony(played), float(np.median([n for *_, n in played])))
        name = names.get(channel, f"ch{channel + 1}")
        kind = name.split("-")[0].lower()
        if kind in MMA_KINDS and (MMA_KINDS[kind] != "bass" or role in ("bass", "chords")):
            role = MMA_KINDS[kind]
        parts.append(Part(f"{name} (program {program})", role, channel, None, program))
    return parts


def polyphony(notes: Sequence[tuple[float, float, int]]) -> float:
    """Mean number of notes sounding while at least one sounds."""
    edges = sorted([(start, 1) for start, _, _ in notes] + [(end, -1) for _, end, _ in notes])
    sounding, last, busy, weighted = 0, 0.0, 0.0, 0.0
    for time, step in edges:
        if sounding > 0:
            busy += time - last
            weighted += sounding * (time - last)
        sounding += step
        last = time
    return weighted / busy if busy > 0 else 1.0


def _channel_names(midi) -> dict[int, str]:  # noqa: ANN001
    names = {}
    for track in midi.tracks:
        title = next((m.name for m in track if m.type == "track_name"), None)
        channels = {m.channel for m in track if hasattr(m, "channel") and not m.is_meta}
        if title and len(channels) == 1:
            names[channels.pop()] = title.strip()
    return names


class FluidsynthRenderer:
    """Renders one part of a MIDI song with FluidSynth (libfluidsynth through pyfluidsynth, the
    SF2 reference synth; the same output as the fluidsynth CLI): dry (reverb and chorus off),
    every controller of the part's channel applied, GM percussion on channel 10.

    Why not tinysoundfont: on FluidR3_GM it plays programs up to 8 dB off FluidSynth's levels
    (a piano note 8 dB, a closed hi-hat 6 dB lower against a bass note), and levels are the
    point here."""

    def __init__(self, soundfont: Path = SOUNDFONT) -> None:
        if not soundfont.exists():
            raise SystemExit(f"{soundfont} is missing: apt-get install fluid-soundfont-gm")
        import fluidsynth

        self.synth = fluidsynth.Synth(gain=0.5, samplerate=float(SAMPLE_RATE))
        self.synth.setting("synth.reverb.active", 0)
        self.synth.setting("synth.chorus.active", 0)
        self.sfid = self.synth.sfload(str(soundfont))
        self._write = fluidsynth._fl.fluid_synth_write_float  # float output: no 16-bit noise floor
        self._write.argtypes = [ctypes.c_void_p, ctypes.c_int] + [ctypes.c_void_p, ctypes.c_int, ctypes.c_int] * 2

    def _samples(self, frames: int) -> np.ndarray:
        out = np.zeros(2 * frames, dtype=np.float32)
        pointer = out.ctypes.data_as(ctypes.c_void_p)
        self._write(self.synth.synth, frames, pointer, 0, 2, pointer, 1, 2)
        return out

    def render(self, events: list[tuple[float, object]], part: Part) -> np.ndarray:
        n = int(min(MAX_SECONDS, (events[-1][0] if events else 0.0) + 2.0) * SAMPLE_RATE)
        blocks, cursor = [], 0
        self.synth.system_reset()
        self._samples(SAMPLE_RATE)  # flush
        for channel in range(16):
            self.synth.program_select(channel, self.sfid, 128 if channel == DRUM_CHANNEL else 0, 0)
        for time, message in events:
            if message.channel != part.channel:
                continue
            if message.type in ("note_on", "note_off") and part.keys is not None and message.note not in part.keys:
                continue
            frame = min(int(round(time * SAMPLE_RATE)), n)
            if frame > cursor:
                blocks.append(self._samples(frame - cursor))
                cursor = frame
            self._apply(message)
        if cursor < n:
            blocks.append(self._samples(n - cursor))
        return (np.concatenate(blocks) if blocks else np.zeros(0, np.float32)).reshape(-1, 2)

    def _apply(self, message) -> None:  # noqa: ANN001
        channel, kind, synth = message.channel, message.type, self.synth
        if kind == "note_on" and message.velocity > 0:
            synth.noteon(channel, message.note, message.velocity)
        elif kind in ("note_on", "note_off"):
            synth.noteoff(channel, message.note)
        elif kind == "control_change" and message.control not in (0, 32):  # banks: GM only
            synth.cc(channel, message.control, message.value)
        elif kind == "pitchwheel":
            synth.pitch_bend(channel, message.pitch)
        elif kind == "program_change":
            synth.program_select(channel, self.sfid, 128 if channel == DRUM_CHANNEL else 0,
                                 message.program)


# ------------------------------------------------------------------------------ sources
@dataclass(frozen=True)
class Song:
    source: str
    name: str
    identity: str  # content hash: the cache key
    load: object  # () -> list[Observation] (renders and measures)


def game_midi_songs() -> Iterator[Song]:
    for package, places in GAME_MIDI.items():
        for place in map(Path, places):
            if place.suffix == ".wad":
                for name, data in wad_music(place):
                    yield _midi_song("gamemidi", f"{package}/{place.stem}/{name}", data)
            elif place.is_dir():
                for path in sorted(place.glob("*.mid")):
                    yield _midi_song("gamemidi", f"{package}/{path.stem}", path.read_bytes())


def wad_music(path: Path) -> Iterator[tuple[str, bytes]]:
    """The D_* music lumps of a Doom WAD that are MIDI files."""
    data = path.read_bytes()
    _, count, table = struct.unpack("<4sii", data[:12])
    for index in range(count):
        offset, size, raw = struct.unpack("<ii8s", data[table + 16 * index: table + 16 * index + 16])
        name = raw.rstrip(b"\0").decode("ascii", "replace")
        if name.startswith("D_") and data[offset:offset + 4] == b"MThd":
            yield name, data[offset:offset + size]


def mma_songs() -> Iterator[Song]:
    for lib in MMA_LIBS:
        for style in sorted((MMA_ROOT / lib).glob("*.mma")):
            groove = _first_groove(style)
            if groove is None:
                continue
            text = f"// {lib}/{style.name}\nTempo 110\nGroove {groove}\n" + "".join(
                f"{bar} {chord}\n" for bar, chord in enumerate(["C", "Am", "F", "G7"] * 2, 1))
            identity = hashlib.sha1((text + style.read_text(errors="replace")).encode()).hexdigest()
            yield Song("mma", f"{lib}/{groove}", identity, lambda text=text: _mma_observations(text))


def _first_groove(style: Path) -> str | None:
    match = re.search(r"^\s*DefGroove\s+(\S+)", style.read_text(errors="replace"), re.M | re.I)
    return match.group(1) if match else None


def _mma_observations(text: str) -> list[tuple[Part, np.ndarray]]:
    import mido

    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "song.mma", Path(folder) / "song.mid"
        source.write_text(text)
        run = subprocess.run(["mma", "-f", str(target), str(source)], capture_output=True, text=True, timeout=120)
        if run.returncode != 0 or not target.exists():  # e.g. the library's empty "None" groove
            print(f"  mma could not play it: {run.stdout.strip().splitlines()[-1:]}", file=sys.stderr)
            return []
        return _render_midi(mido.MidiFile(str(target)), track_kinds=True)


def _midi_song(source: str, name: str, data: bytes) -> Song:
    def load() -> list[tuple[Part, np.ndarray]]:
        import io

        import mido

        return _render_midi(mido.MidiFile(file=io.BytesIO(data)), track_kinds=False)

    return Song(source, name, hashlib.sha1(data).hexdigest(), load)


_RENDERER: FluidsynthRenderer | None = None


def _render_midi(midi, track_kinds: bool) -> list[tuple[Part, np.ndarray]]:  # noqa: ANN001
    global _RENDERER
    _RENDERER = _RENDERER or FluidsynthRenderer()
    events = midi_events(midi)
    return [(part, _RENDERER.render(events, part)) for part in midi_parts(midi, track_kinds)]


# ---------------------------------------------------------------------------- Hydrogen
@dataclass(frozen=True)
class KitLayer:
    path: Path
    low: float
    high: float
    gain: float


@dataclass(frozen=True)
class KitInstrument:
    name: str
    gain: float  # volume x gain x component gain
    layers: tuple[KitLayer, ...]

    def layer(self, velocity: float) -> KitLayer:
        for layer in self.layers:
            if layer.low <= velocity <= layer.high:
                return layer
        return min(self.layers, key=lambda l: min(abs(l.low - velocity), abs(l.high - velocity)))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(element: ET.Element, name: str) -> ET.Element | None:
    return next((child for child in element if _local(child.tag) == name), None)


def _number(element: ET.Element, name: str, default: float) -> float:
    child = _find(element, name)
    try:
        return float(child.text) if child is not None and child.text else default
    except ValueError:
        return default


def kit_instruments(element: ET.Element, folder: Path) -> dict[str, KitInstrument]:
    """``<instrument>`` elements of a drumkit.xml or h2song, by id, with their sample layers."""
    instruments = {}
    for node in (n for n in element.iter() if _local(n.tag) == "instrument"):
        ident, name = _find(node, "id"), _find(node, "name")
        if ident is None or name is None:
            continue
        kit = _find(node, "drumkit")
        base = HYDROGEN / "drumkits" / kit.text if kit is not None and kit.text else folder
        component = next((_number(c, "gain", 1.0) for c in node.iter() if _local(c.tag) == "instrumentComponent"), 1.0)
        layers = []
        for layer in (n for n in node.iter() if _local(n.tag) == "layer"):
            filename = _find(layer, "filename")
            if filename is None or not filename.text:
                continue
            path = Path(filename.text) if Path(filename.text).is_absolute() else base / filename.text
            if path.exists():
                layers.append(KitLayer(path, _number(layer, "min", 0.0), _number(layer, "max", 1.0),
                                       _number(layer, "gain", 1.0)))
        muted = _find(node, "isMuted")
        if not layers or (muted is not None and muted.text == "true"):
            continue
        gain = _number(node, "volume", 1.0) * _number(node, "gain", 1.0) * component
        instruments[ident.text.strip()] = KitInstrument(name.text.strip(), gain, tuple(layers))
    return instruments


_SAMPLES: dict[Path, np.ndarray] = {}


def sample(path: Path) -> np.ndarray:
    """A kit sample as float32 stereo at 44.1 kHz."""
    if path not in _SAMPLES:
        import soundfile
        from scipy.signal import resample_poly

        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        if rate != SAMPLE_RATE:
            divisor = math.gcd(int(rate), SAMPLE_RATE)
            audio = resample_poly(audio, SAMPLE_RATE // divisor, int(rate) // divisor, axis=0).astype(np.float32)
        _SAMPLES[path] = np.repeat(audio, 2, axis=1) if audio.shape[1] == 1 else audio[:, :2]
    return _SAMPLES[path]


def render_hits(instrument: KitInstrument, hits: Iterable[tuple[float, float]], seconds: float) -> np.ndarray:
    """One instrument playing (time s, velocity 0-1) hits; Hydrogen scales amplitude by velocity."""
    out = np.zeros((int(seconds * SAMPLE_RATE) + SAMPLE_RATE, 2), dtype=np.float32)
    for time, velocity in hits:
        layer = instrument.layer(velocity)
        audio = sample(layer.path)
        start = int(round(time * SAMPLE_RATE))
        end = min(out.shape[0], start + audio.shape[0])
        out[start:end] += audio[: end - start] * np.float32(velocity * layer.gain * instrument.gain)
    return out


#: The fixed groove every kit instrument plays in ``hydrogen-kits``: 16th steps per 4/4 bar
#: (12 bars at 100 BPM, velocity 0.8). Toms play a fill in every fourth bar.
KIT_PATTERN: dict[str, tuple[int, ...]] = {
    "kick": (0, 8, 10), "snare": (4, 12), "clap": (4, 12), "hats_closed": tuple(range(0, 16, 2)),
    "hats_pedal": (4, 12), "hats_open": (14,), "ride": tuple(range(0, 16, 2)), "cymbals": (0,),
    "toms": (8, 10, 12, 14), "percussion": tuple(range(0, 16, 2)),
}
KIT_BPM, KIT_BARS = 100.0, 12


def kit_hits(role: str, name: str) -> list[tuple[float, float]]:
    key = "ride" if role == "cymbals" and "ride" in name.lower() else role
    step = 60.0 / KIT_BPM / 4
    hits = []
    for bar in range(KIT_BARS):
        if key == "toms" and bar % 4 != 3 or key == "cymbals" and bar % 4 != 0:
            continue
        hits.extend(((bar * 16 + s) * step, 0.8) for s in KIT_PATTERN.get(key, ()))
    return hits


def hydrogen_kit_songs() -> Iterator[Song]:
    for xml in sorted((HYDROGEN / "drumkits").glob("*/drumkit.xml")):
        identity = hashlib.sha1(xml.read_bytes()).hexdigest()
        yield Song("hydrogen-kits", xml.parent.name, identity, lambda xml=xml: _kit_observations(xml))


def _kit_observations(xml: Path) -> list[tuple[Part, np.ndarray]]:
    instruments = kit_instruments(ET.parse(xml).getroot(), xml.parent)
    rendered = []
    for instrument in instruments.values():
        guess = role_from_name(instrument.name)
        if guess is None or guess.role not in DRUM_ROLES:
            continue
        audio = render_hits(instrument, kit_hits(guess.role, instrument.name), KIT_BARS * 4 * 60 / KIT_BPM)
        rendered.append((Part(instrument.name, guess.role, 0, None, None), audio))
    return rendered


def hydrogen_song_songs() -> Iterator[Song]:
    for path in sorted((HYDROGEN / "demo_songs").glob("*.h2song")):
        identity = hashlib.sha1(path.read_bytes()).hexdigest()
        yield Song("hydrogen-songs", path.stem, identity, lambda path=path: _h2song_observations(path))


def _h2song_observations(path: Path) -> list[tuple[Part, np.ndarray]]:
    root = ET.parse(path).getroot()
    bpm = _number(root, "bpm", 120.0)
    instruments = kit_instruments(_find(root, "instrumentList"), path.parent)
    patterns = {}
    for pattern in (n for n in root.iter() if _local(n.tag) == "pattern"):
        name = _find(pattern, "name").text
        notes = [(int(_number(n, "position", 0)), _number(n, "velocity", 0.8), _find(n, "instrument").text.strip())
                 for n in pattern.iter() if _local(n.tag) == "note"]
        patterns[name] = (int(_number(pattern, "size", 192)), notes)
    tick = 60.0 / bpm / 48  # 48 ticks per quarter note
    hits: dict[str, list[tuple[float, float]]] = defaultdict(list)
    start = 0
    sequence = _find(root, "patternSequence")
    for group in (list(sequence) if sequence is not None else []):
        playing = [patterns[p.text] for p in group if _local(p.tag) == "patternID" and p.text in patterns]
        for _, notes in playing:
            for position, velocity, instrument in notes:
                if (start + position) * tick < MAX_SECONDS:
                    hits[instrument].append(((start + position) * tick, velocity))
        start += max((size for size, _ in playing), default=192)
    seconds = min(MAX_SECONDS, start * tick)
    rendered = []
    for ident, played in hits.items():
        instrument = instruments.get(ident)
        guess = role_from_name(instrument.name) if instrument else None
        if guess is None or guess.role not in DRUM_ROLES:
            continue
        rendered.append((Part(instrument.name, guess.role, 0, None, None), render_hits(instrument, played, seconds)))
    return rendered


DRUM_ROLES = ("kick", "snare", "clap", "hats_closed", "hats_open", "hats_pedal", "toms", "cymbals", "percussion")
SOURCES = {
    "gamemidi": game_midi_songs,
    "mma": mma_songs,
    "hydrogen-songs": hydrogen_song_songs,
    "hydrogen-kits": hydrogen_kit_songs,
}


# --------------------------------------------------------------------------- measuring
def measure(song: Song, cached_only: bool = False) -> list[Observation] | None:
    """Render and measure a song's parts (cached by content); None if ``cached_only`` and the
    song is not in the cache."""
    cache = CACHE / song.source / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', song.name)}-{song.identity[:12]}-v{RENDER_VERSION}.json"
    if cached_only and not cache.exists():
        return None
    if cache.exists():
        return [Observation(**{**o, "band_hz": tuple(o["band_hz"]) if o["band_hz"] else None})
                for o in json.loads(cache.read_text())]
    from reaper_automix.analysis.role_features import role_features
    from reaper_automix.analysis.tracks import analyse_track

    observations = []
    for part, audio in song.load():
        analysis = analyse_track(audio, SAMPLE_RATE, "centroid", activity_lufs=-70.0, name=part.name)
        if not analysis.active:
            continue
        features = role_features(audio, SAMPLE_RATE)
        observations.append(Observation(song.source, song.name, part.name, part.role,
                                        round(analysis.cfb.loudness_lufs, 3),
                                        round(analysis.full_band_lufs, 3), analysis.cfb.band_hz,
                                        part.program, None if features is None else [round(float(v), 5) for v in features]))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps([asdict(o) for o in observations]))
    return observations


# ------------------------------------------------------------------------------ fitting
def median_polish(rows: Sequence[str], columns: Sequence[str], values: Sequence[float],
                  iterations: int = 30) -> tuple[dict[str, float], dict[str, float]]:
    """Robust additive fit value = row effect + column effect (Tukey's median polish over the
    observations, which need not fill the table); the column effects have median 0."""
    values = np.asarray(values, dtype=float)
    row_keys, column_keys = sorted(set(rows)), sorted(set(columns))
    r = np.array([row_keys.index(x) for x in rows])
    c = np.array([column_keys.index(x) for x in columns])
    row_effect, column_effect = np.zeros(len(row_keys)), np.zeros(len(column_keys))
    for _ in range(iterations):
        for k in range(len(row_keys)):
            row_effect[k] = np.median(values[r == k] - column_effect[c[r == k]])
        for k in range(len(column_keys)):
            column_effect[k] = np.median(values[c == k] - row_effect[r[c == k]])
        shift = np.median(column_effect)
        column_effect -= shift
        row_effect += shift
    return dict(zip(row_keys, row_effect)), dict(zip(column_keys, column_effect))


@dataclass
class SourceFit:
    offsets: dict[str, float]  # role -> dB (median 0 over the source's roles)
    counts: dict[str, int]
    spread: dict[str, float]  # role -> IQR of the residuals, dB


def fit_source(observations: Sequence[Observation], value: str = "cfb_lufs") -> SourceFit:
    """Song level + role offset over one source's observations (roles with enough of them)."""
    counts = defaultdict(int)
    for o in observations:
        counts[o.role] += 1
    kept = [o for o in observations if counts[o.role] >= MIN_OBSERVATIONS]
    if not kept:
        return SourceFit({}, {}, {})
    songs, offsets = median_polish([o.song for o in kept], [o.role for o in kept],
                                   [getattr(o, value) for o in kept])
    residual = defaultdict(list)
    for o in kept:
        residual[o.role].append(getattr(o, value) - songs[o.song] - offsets[o.role])
    spread = {role: float(np.subtract(*np.percentile(r, [75, 25]))) for role, r in residual.items()}
    return SourceFit(offsets, {r: counts[r] for r in offsets}, spread)


def combine(fits: dict[str, SourceFit], reference: str = "kick") -> dict[str, float]:
    """One offset per role from several sources' fits, each source aligned by a common shift
    (median polish over source x role), relative to ``reference``."""
    rows, columns, values = [], [], []
    for source, fit in fits.items():
        for role, offset in fit.offsets.items():
            rows.append(source)
            columns.append(role)
            values.append(offset)
    _, offsets = median_polish(rows, columns, values)
    zero = offsets.get(reference, 0.0)
    return {role: offset - zero for role, offset in offsets.items()}


def aligned(fits: dict[str, SourceFit], combined: dict[str, float]) -> dict[str, dict[str, float]]:
    """Each source's offsets shifted onto the combined scale (median difference on shared roles)."""
    table = {}
    for source, fit in fits.items():
        shared = [combined[r] - fit.offsets[r] for r in fit.offsets if r in combined]
        shift = float(np.median(shared)) if shared else 0.0
        table[source] = {r: o + shift for r, o in fit.offsets.items()}
    return table


def practice(offsets: dict[str, float]) -> dict[str, tuple[float, str]]:
    """Roles no source measures, from mixing practice and the measured roles."""
    tonal = [offsets[r] for r in TONAL_ROLES if r in offsets]
    top = max(tonal) if tonal else 0.0
    return {
        "lead_vocal": (top, "mixing practice: the lead vocal sits at least as loud as the "
                       "loudest single backing part (MUSDB18: the vocal is 3.6 LU under the sum "
                       "of everything else, data/diffvox-presets/README.md); set to the loudest "
                       "measured tonal role"),
        "backing_vocal": (top + BACKING_UNDER_LEAD_DB,
                          f"mixing practice: {BACKING_UNDER_LEAD_DB:+.0f} dB under the lead vocal "
                          "(3-9 dB is usual)"),
        "other": (float(np.median(tonal)) if tonal else 0.0, "median of the measured tonal roles"),
    }


TONAL_ROLES = ("bass", "lead", "pad", "chords", "plucks", "strings", "brass")


def build_table(observations: Sequence[Observation], command: str,
                lmms: Sequence[LmmsLevel] = ()) -> dict:
    by_source = defaultdict(list)
    for o in observations:
        by_source[o.source].append(o)
    fits = {s: fit_source(obs) for s, obs in sorted(by_source.items())}
    measured = combine(fits)
    per_source = aligned(fits, measured)
    combined, lmms_fit = (blend_lmms(measured, lmms) if lmms else (measured, None))
    lufs_fits = {s: fit_source(obs, "lufs") for s, obs in sorted(by_source.items())}
    lufs_combined = combine(lufs_fits)
    offsets, sources = {}, {}
    for role in ROLES:
        if role in combined:
            offsets[role] = round(combined[role], 1)
            parts = [f"{s} {per_source[s][role]:+.1f} (n={fits[s].counts[role]}, IQR {fits[s].spread[role]:.1f})"
                     for s in fits if role in fits[s].offsets]
            sources[role] = "median over sources of " + "; ".join(parts)
            if lmms_fit is not None:
                sources[role] = lmms_fit.describe(role, measured.get(role), sources[role])
    for role, (value, why) in practice(combined).items():
        if role not in offsets:
            offsets[role], sources[role] = round(value, 1), why
    missing = [r for r in ROLES if r not in offsets]
    if missing:
        raise SystemExit(f"no offset for {', '.join(missing)}: too few observations (need {MIN_OBSERVATIONS})")
    return {
        "format": "reaper-automix role offsets",
        "version": 1,
        "measure": "centroid CFB loudness (algorithms.md A.2), stereo stem layout",
        "reference": "kick = 0 dB; only differences between roles in one folder matter",
        "offsets_db": {r: offsets[r] for r in ROLES},
        "sources": {r: sources[r] for r in ROLES},
        "per_source_db": {s: {r: round(v, 1) for r, v in t.items()} for s, t in per_source.items()},
        "lufs_offsets_db": {r: round(v, 1) for r, v in sorted(lufs_combined.items())},
        "observations": {s: len(obs) for s, obs in sorted(by_source.items())},
        "songs": {s: len({o.song for o in obs}) for s, obs in sorted(by_source.items())},
        **({"lmms": lmms_fit.summary()} if lmms_fit is not None else {}),
        "derived": {"command": command, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
                    "render_version": RENDER_VERSION},
    }


# ------------------------------------------------------------- stage 2: LMMS composers
@dataclass(frozen=True)
class LmmsLevel:
    """One track of an allowed LMMS song as its composer set it, in the balance rule's terms."""

    song: str
    folder: str
    track: str
    role: str  # as Auto balance group reads it: the name, else the audio classifier
    role_source: str
    level_db: float  # centroid CFB loudness of the stem at unity + the composer's fader


def lmms_levels(leave_out: Sequence[str] = ()) -> list[LmmsLevel]:
    """The composers' levels of every track in a folder of two or more (the tracks `eval
    balance` scores), measured once and cached; ``leave_out`` drops songs."""
    cache = CACHE / "lmms" / f"levels-v{RENDER_VERSION}.json"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps([asdict(level) for level in _measure_lmms()], indent=0))
    levels = [LmmsLevel(**level) for level in json.loads(cache.read_text())]
    return [level for level in levels if level.song not in leave_out]


def _measure_lmms() -> Iterator[LmmsLevel]:
    from reaper_automix.analysis.role_classifier import shipped_classifier
    from reaper_automix.analysis.tracks import analyse_track
    from reaper_automix.audio.render import Renderer
    from reaper_automix.evaluation.balance import lmms_songs
    from reaper_automix.hosts.rpp import open_project
    from reaper_automix.jobs.balance import known_role

    with tempfile.TemporaryDirectory(prefix="role-offsets-lmms-") as scratch:
        for song in lmms_songs(Path(scratch)):
            project = open_project(song.project)
            renderer = Renderer(project, cache_bytes=0)
            for folder, names in song.folders.items():
                scored = [n for n in names if math.isfinite(song.target_db.get(n, math.nan))]
                if len(scored) < 2:
                    continue
                for name in scored:
                    track = project.track(name)
                    analysis = analyse_track(renderer.track(track, fader=False), project.sample_rate,
                                             "centroid", classify=True, name=name)
                    if not analysis.active:
                        continue
                    guess = known_role(track, {}) or shipped_classifier().classify(analysis.features)[0]
                    yield LmmsLevel(song.name, folder, name, guess.role, guess.source,
                                    round(analysis.cfb.loudness_lufs + song.target_db[name], 3))
                print(f"lmms {song.name} {folder}: {len(scored)} tracks", file=sys.stderr, flush=True)


@dataclass
class LmmsFit:
    """What stage 2 found, for the table's ``sources`` and ``lmms`` entries."""

    medians: dict[str, float]  # the composers' own role effect (before the prior pulls it)
    counts: dict[str, int]
    songs: list[str]

    def describe(self, role: str, measured: float | None, sources: str) -> str:
        if role not in self.counts:
            return f"{sources}; x{LMMS_PRIOR_SCALE} (no LMMS track of this role)"
        return (f"{sources}; x{LMMS_PRIOR_SCALE} = {LMMS_PRIOR_SCALE * (measured or 0.0):+.1f} "
                f"blended with the LMMS composers {self.medians[role]:+.1f} (n={self.counts[role]}, "
                f"prior weight {LMMS_PRIOR_TRACKS:g} tracks)")

    def summary(self) -> dict:
        return {"songs": self.songs, "prior_scale": LMMS_PRIOR_SCALE,
                "prior_tracks": LMMS_PRIOR_TRACKS, "tracks": self.counts,
                "composer_offsets_db": {r: round(v, 1) for r, v in self.medians.items()}}


def blend_lmms(measured: dict[str, float], levels: Sequence[LmmsLevel],
               iterations: int = 30, reference: str = "kick") -> tuple[dict[str, float], LmmsFit]:
    """Composer level = folder level + role offset, fitted by median polish with each role's
    offset pulled towards the scaled sources' (n_r·median + k·prior) / (n_r + k); roles no
    composer used keep the scaled prior. Relative to ``reference``."""
    prior = {role: LMMS_PRIOR_SCALE * value for role, value in measured.items()}
    offsets = dict(prior)
    medians: dict[str, float] = {}
    counts = {role: sum(level.role == role for level in levels) for role in {lv.role for lv in levels}}
    for _ in range(iterations):
        by_folder = defaultdict(list)
        for level in levels:
            by_folder[level.song, level.folder].append(level.level_db - offsets.get(level.role, 0.0))
        folder_level = {key: float(np.median(values)) for key, values in by_folder.items()}
        by_role = defaultdict(list)
        for level in levels:
            by_role[level.role].append(level.level_db - folder_level[level.song, level.folder])
        for role, values in by_role.items():
            medians[role] = float(np.median(values))
            offsets[role] = ((len(values) * medians[role] + LMMS_PRIOR_TRACKS * prior.get(role, 0.0))
                             / (len(values) + LMMS_PRIOR_TRACKS))
    zero = offsets.get(reference, 0.0)
    blended = {role: value - zero for role, value in offsets.items()}
    medians = {role: value - zero for role, value in medians.items()}
    return blended, LmmsFit(medians, counts, sorted({lv.song for lv in levels}))


def markdown(table: dict) -> str:
    sources = list(table["per_source_db"])
    lines = ["| role | offset dB | " + " | ".join(sources) + " | LUFS terms |",
             "|---|---|" + "---|" * len(sources) + "---|"]
    for role in ROLES:
        cells = [f"{table['per_source_db'][s][role]:+.1f}" if role in table["per_source_db"][s] else "–"
                 for s in sources]
        lufs = table["lufs_offsets_db"].get(role)
        lines.append(f"| {role} | {table['offsets_db'][role]:+.1f} | " + " | ".join(cells)
                     + f" | {'–' if lufs is None else f'{lufs:+.1f}'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", default=",".join(SOURCES), help="comma-separated: " + ", ".join(SOURCES))
    parser.add_argument("--limit", type=int, help="at most this many songs per source (quick looks)")
    parser.add_argument("--dry-run", action="store_true", help="print the table, do not write it")
    parser.add_argument("--observations", type=Path, help="also write every observation here (JSON lines)")
    parser.add_argument("--cached-only", action="store_true",
                        help="fit on the songs already rendered (the cache), render nothing new")
    parser.add_argument("--lmms", action="store_true",
                        help="stage 2: blend in the levels of the allowed LMMS songs' composers")
    parser.add_argument("--leave-out", action="append", default=[], metavar="SONG",
                        help="with --lmms: fit without this LMMS song (repeatable), for "
                        "leave-one-song-out evaluation")
    parser.add_argument("--output", type=Path, default=TABLE,
                        help=f"where to write the table (default {TABLE.relative_to(REPO)})")
    args = parser.parse_args(argv)
    observations: list[Observation] = []
    for source in args.sources.split(","):
        songs = list(SOURCES[source]())[: args.limit]
        for number, song in enumerate(songs, 1):
            found = measure(song, args.cached_only)
            if found is None:
                continue
            observations.extend(found)
            print(f"{source} {number}/{len(songs)} {song.name}: {len(found)} parts", file=sys.stderr, flush=True)
    if args.observations:
        args.observations.write_text("".join(json.dumps(asdict(o)) + "\n" for o in observations))
    command = "scripts/derive_role_offsets.py " + " ".join(argv if argv is not None else sys.argv[1:])
    table = build_table(observations, command.strip(), lmms_levels(args.leave_out) if args.lmms else ())
    print(markdown(table))
    for role in ROLES:
        print(f"{role:14} {table['offsets_db'][role]:+5.1f}  {table['sources'][role]}")
    if not args.dry_run:
        args.output.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
