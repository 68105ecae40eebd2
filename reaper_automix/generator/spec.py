"""What a generated session is made of: :class:`SessionSpec`, drawn from a seed.

A spec is a complete, hashable description: the same spec always renders the same bytes, and
its JSON form (:meth:`SessionSpec.to_dict`) is part of the cache key. Everything random is drawn
in :meth:`SessionSpec.draw`; rendering draws only humanisation, from the spec's seed.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from ..analysis.roles import check_role
from . import catalogue
from .drumkit import PIECES, load_kit
from .drums import EXTRAS, PATTERNS
from .gm import is_brass, is_strings, program_name

#: What a tonal part does in the arrangement; the role follows from it (and the GM family).
TEXTURES = ("melody", "bass", "sustain", "chords", "arpeggio", "strum", "counter", "fx",
            "lead_vocal", "backing_vocal")
#: Articulations per texture (the first is the default).
RHYTHMS: dict[str, tuple[str, ...]] = {
    "melody": ("legato",), "counter": ("legato",), "sustain": ("legato",),
    "lead_vocal": ("syllables",), "backing_vocal": ("syllables",),
    "bass": ("held", "quarters", "eighths"),
    "chords": ("beats", "halves", "bars", "offbeats", "eighths"),
    "arpeggio": ("up8", "updown8", "up16"),
    "strum": ("down_beats", "down_up"),
    "fx": ("every4", "every8"),
}
#: GM programs each texture draws from.
PROGRAMS: dict[str, tuple[int, ...]] = {
    "melody": (11, 22, 24, 25, 26, 27, 29, 30, 40, 56, 57, 60, 64, 65, 66, 68, 71, 73, 74, 75,
               80, 81, 82, 84),
    "bass": (32, 33, 34, 35, 36, 37, 38, 39, 43),
    "sustain": (16, 17, 18, 19, 44, 48, 49, 50, 52, 53, 60, 61, 62, 88, 89, 90, 91, 92, 94,
                95),
    "chords": (0, 1, 2, 4, 5, 6, 7, 16, 17, 18, 24, 25, 26, 27),
    "arpeggio": (0, 4, 8, 9, 10, 11, 12, 13, 24, 25, 45, 46, 80, 81, 105, 107, 108),
    "strum": (24, 25, 26, 27, 28),
    "counter": (41, 42, 57, 60, 64, 66, 68, 70, 71, 73),
    "fx": (96, 97, 98, 99, 100, 101, 102, 103, 120, 121, 122, 123, 124, 126),
}
HARMONY_TEXTURES = ("sustain", "chords", "arpeggio", "strum")
VOCAL = -1  # program value of a sung part
ACOUSTIC_KITS = ("The Black Pearl 1.0", "ForzeeStereo", "BJA_Pacific", "ColomboAcousticDrumkit",
                 "Millo_MultiLayered2")
ELECTRONIC_KITS = ("Audiophob", "ElectricEmpireKit", "HardElectro1", "VariBreaks",
                   "rumpf_kit_z01_h2")
PERCUSSION_KIT = "Gimme A Hand 1.0"
ELECTRONIC_PATTERNS = ("four_on_floor", "breakbeat", "halftime", "rock16")
SOUNDFONTS = ("FluidR3_GM", "TimGM6mb")
DEFAULT_LENGTH_S = 30.0
TEMPO_RANGE = (60.0, 140.0)
TRANSPOSE_RANGE = 5


@dataclass(frozen=True)
class PartSpec:
    """One tonal or sung stem: what it plays (texture, rhythm), on what (GM program)."""

    texture: str
    program: int  # GM program 0–127, or VOCAL
    rhythm: str
    velocity: int  # base MIDI velocity (sung parts: base loudness 1–127 the same way)
    source: str = ""  # score part: "top", "bottom", "inner", "inner:N" (default per texture)

    def __post_init__(self) -> None:
        if self.texture not in TEXTURES:
            raise ValueError(f"unknown texture {self.texture!r}; choose one of "
                             f"{', '.join(TEXTURES)}")
        if self.rhythm not in RHYTHMS[self.texture]:
            raise ValueError(f"{self.texture} has no rhythm {self.rhythm!r}; choose one of "
                             f"{', '.join(RHYTHMS[self.texture])}")
        sung = self.texture in ("lead_vocal", "backing_vocal")
        if sung != (self.program == VOCAL) or not (sung or 0 <= self.program < 128):
            raise ValueError(f"{self.texture}: program {self.program} does not fit (sung parts "
                             f"use VOCAL = {VOCAL}, others a GM program 0–127)")

    @property
    def role(self) -> str:
        """The role of :data:`reaper_automix.analysis.roles.ROLES` this part plays."""
        return check_role(part_role(self.texture, self.program))

    @property
    def score_part(self) -> str:
        """The score part it reads: ``source``, or the texture's default."""
        return self.source or {"bass": "bottom", "sustain": "inner", "counter": "inner:0",
                               "backing_vocal": "inner:0"}.get(self.texture, "top")

    @property
    def instrument(self) -> str:
        return "voice (PSOLA syllables)" if self.program == VOCAL else program_name(self.program)


def part_role(texture: str, program: int) -> str:
    """Role from what the part does, refined by the GM family for sections."""
    fixed = {"melody": "lead", "bass": "bass", "lead_vocal": "lead_vocal",
             "backing_vocal": "backing_vocal", "fx": "fx", "chords": "chords",
             "strum": "chords", "arpeggio": "plucks"}
    if texture in fixed:
        return fixed[texture]
    if is_strings(program):
        return "strings"
    if is_brass(program):
        return "brass"
    if texture == "sustain":
        return "chords" if 16 <= program <= 23 else "pad"
    return "other"  # a counter-melody on a reed, pipe or solo string


@dataclass(frozen=True)
class DrumSpec:
    """The drum part: groove, kit pieces (one stem each; toms and bongos share one) and feel."""

    kit: str
    pattern: str
    instruments: tuple[tuple[str, str, str], ...]  # (piece, Hydrogen kit, instrument name)
    extras: tuple[str, ...] = ()  # percussion added to the groove (see drums.EXTRAS)
    velocity: float = 0.85  # scales every hit, 0–1
    humanise_ms: float = 4.0  # timing spread (standard deviation)
    swing: float = 0.0  # delay of off-beat eighths, in quarters
    fill_every: int = 8  # bars; 0 = fills only into the score's phrase ends

    def __post_init__(self) -> None:
        if self.pattern not in PATTERNS:
            raise ValueError(f"unknown drum pattern {self.pattern!r}; choose one of "
                             f"{', '.join(PATTERNS)}")
        unknown = [p for p, _k, _i in self.instruments if p not in PIECES]
        unknown += [e for e in self.extras if e not in EXTRAS]
        if unknown:
            raise ValueError(f"unknown drum pieces or extras: {', '.join(unknown)}")


@dataclass(frozen=True)
class SessionSpec:
    """Everything that decides a generated session's audio."""

    seed: int
    piece: str  # music21 corpus path, e.g. "bach/bwv66.6"
    tempo: float  # BPM (quarter notes)
    transpose: int  # semitones
    length_s: float
    soundfont: str
    parts: tuple[PartSpec, ...]
    drums: DrumSpec | None
    humanise_ms: float = 8.0  # timing spread of the tonal and sung parts
    sample_rate: int = field(default=44100, init=False)

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, not {self.seed}")
        if not 20.0 <= self.tempo <= 300.0:
            raise ValueError(f"tempo {self.tempo} BPM is outside 20–300")
        if not 4.0 <= self.length_s <= 1200.0:
            raise ValueError(f"length {self.length_s} s is outside 4–1200 s")
        if self.soundfont not in SOUNDFONTS:
            raise ValueError(f"unknown soundfont {self.soundfont!r}; choose one of "
                             f"{', '.join(SOUNDFONTS)}")

    @property
    def vocal(self) -> bool:
        return any(p.texture == "lead_vocal" for p in self.parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionSpec:
        drums = data.get("drums")
        return cls(
            seed=data["seed"], piece=data["piece"], tempo=data["tempo"],
            transpose=data["transpose"], length_s=data["length_s"],
            soundfont=data["soundfont"],
            parts=tuple(PartSpec(**p) for p in data["parts"]),
            drums=None if drums is None else DrumSpec(
                **{**drums, "instruments": tuple(tuple(i) for i in drums["instruments"]),
                   "extras": tuple(drums["extras"])}),
            humanise_ms=data["humanise_ms"],
        )

    def with_changes(self, **changes: Any) -> SessionSpec:
        return replace(self, **changes)

    @classmethod
    def draw(cls, seed: int, *, piece: str | None = None, tempo: float | None = None,
             transpose: int | None = None, length_s: float = DEFAULT_LENGTH_S,
             vocal: bool | None = None, backing_vocals: bool | None = None,
             drums: bool = True, kit: str | None = None, pattern: str | None = None,
             soundfont: str | None = None, family: str | None = None) -> SessionSpec:
        """Draw every choice from ``seed``; keyword arguments pin a choice instead.

        ``vocal``/``backing_vocals`` None draw them (lead vocal in half the sessions, backing
        vocals in half of those); ``family`` limits the piece to one catalogue family (see
        :data:`catalogue.FAMILIES`)."""
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, not {seed}")

        def rng(choice: str) -> np.random.Generator:  # one stream per choice: pinning one
            return np.random.default_rng(  # choice never changes the others
                np.random.SeedSequence([seed, zlib.crc32(choice.encode())]))

        piece = piece or catalogue.draw_piece(rng("piece"), family)
        tempo = float(tempo if tempo is not None else round(rng("tempo").uniform(*TEMPO_RANGE)))
        transpose = int(transpose if transpose is not None
                        else rng("transpose").integers(-TRANSPOSE_RANGE, TRANSPOSE_RANGE + 1))
        vocal = bool(rng("vocal").random() < 0.5) if vocal is None else vocal
        backing = (vocal and bool(rng("backing").random() < 0.5)) if backing_vocals is None \
            else backing_vocals
        if backing and not vocal:
            raise ValueError("backing vocals need a lead vocal (vocal=True)")
        return cls(
            seed=seed, piece=piece, tempo=tempo, transpose=transpose,
            length_s=float(length_s),
            soundfont=soundfont or str(rng("soundfont").choice(SOUNDFONTS, p=(0.8, 0.2))),
            parts=_draw_parts(rng("parts"), vocal, backing),
            drums=_draw_drums(rng("drums"), kit, pattern) if drums else None,
            humanise_ms=round(float(rng("humanise").uniform(2.0, 12.0)), 2),
        )


def _pick(rng: np.random.Generator, options: tuple) -> Any:
    return options[int(rng.integers(len(options)))]


def _part(rng: np.random.Generator, texture: str, velocity: tuple[int, int] = (70, 110),
          source: str = "") -> PartSpec:
    program = VOCAL if texture in ("lead_vocal", "backing_vocal") else _pick(rng,
                                                                             PROGRAMS[texture])
    return PartSpec(texture, program, _pick(rng, RHYTHMS[texture]),
                    int(rng.integers(*velocity)), source)


def _draw_parts(rng: np.random.Generator, vocal: bool, backing: bool) -> tuple[PartSpec, ...]:
    parts = [_part(rng, "lead_vocal" if vocal else "melody"), _part(rng, "bass")]
    count = int(rng.integers(1, 4))
    for texture in rng.permutation(HARMONY_TEXTURES)[:count]:
        parts.append(_part(rng, str(texture), (55, 100)))
    if rng.random() < 0.3:
        parts.append(_part(rng, "counter", (55, 95), "inner:0"))
    if rng.random() < 0.25:
        parts.append(_part(rng, "fx", (60, 100)))
    if backing:
        for index in range(int(rng.integers(1, 3))):
            parts.append(_part(rng, "backing_vocal", (60, 90), f"inner:{index}"))
    return tuple(parts)


def _draw_drums(rng: np.random.Generator, kit: str | None, pattern: str | None) -> DrumSpec:
    electronic = bool(rng.random() < 0.35) if kit is None else kit in ELECTRONIC_KITS
    kit = kit or _pick(rng, ELECTRONIC_KITS if electronic else ACOUSTIC_KITS)
    if pattern is None:
        pattern = _pick(rng, ELECTRONIC_PATTERNS if electronic else PATTERNS)
    extras = tuple(e for e in EXTRAS if rng.random() < (0.3 if e == "clap" else 0.12))
    loaded, hands = load_kit(kit), load_kit(PERCUSSION_KIT)
    instruments = []
    for piece in PIECES:
        options = [(kit, name) for name in loaded.candidates(piece)]
        if not options and piece not in ("kick", "snare", "hats_closed"):
            options = [(PERCUSSION_KIT, name) for name in hands.candidates(piece)]
        if options:
            instruments.append((piece, *_pick(rng, tuple(options))))
    return DrumSpec(
        kit=kit, pattern=pattern, instruments=tuple(instruments), extras=extras,
        velocity=round(float(rng.uniform(0.6, 1.0)), 3),
        humanise_ms=round(float(rng.uniform(1.0, 6.0)), 2),
        swing=round(float(rng.choice((0.0, 0.0, 0.08, 0.16))), 3)
        if pattern not in ("shuffle", "jazz") else 0.0,
        fill_every=int(rng.choice((0, 4, 8))),
    )
