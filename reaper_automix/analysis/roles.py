"""The instrument roles a track can have, shared by role-aware balance, the session generator and
Mix lead vocal, and the role a track's name gives it.

:func:`role_from_name` reads the names engineers give tracks ("BD", "SN 2", "HH open", "OH L",
"Kick In", "Bass DI", "Ld Vox", "BV 1", "Pad_02", "Gtr Rhy", ...): case, separators, numbers,
camel case and glued words ("KickIn", "snaretop") do not matter. It matches whole words only,
so "Basement FX" is fx, not bass, and "Snarl synth" says nothing. Standard library only (the
REAPER actions import this module).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

#: Every role, in report order. Hi-hats are split by articulation because composers balance
#: closed, open and pedal hats differently (data.md 3.6).
ROLES: tuple[str, ...] = (
    "kick", "snare", "clap", "hats_closed", "hats_open", "hats_pedal", "toms", "cymbals",
    "percussion", "bass", "lead", "pad", "chords", "plucks", "strings", "brass",
    "lead_vocal", "backing_vocal", "fx", "other",
)

#: How the report names each role.
ROLE_LABELS: dict[str, str] = {
    "kick": "kick", "snare": "snare", "clap": "clap", "hats_closed": "hats (closed)",
    "hats_open": "hats (open)", "hats_pedal": "hats (pedal)", "toms": "toms",
    "cymbals": "cymbals", "percussion": "percussion", "bass": "bass", "lead": "lead/melody",
    "pad": "pad", "chords": "chords/keys", "plucks": "plucks/arps", "strings": "strings",
    "brass": "brass", "lead_vocal": "lead vocal", "backing_vocal": "backing vocal", "fx": "fx",
    "other": "other",
}

#: Where a role came from: the track's name, its audio, or the engineer.
SOURCES: tuple[str, ...] = ("name", "audio", "user")

#: Other spellings the engineer may type for a role (``--role "Hats=hats"``).
ROLE_ALIASES: dict[str, str] = {
    "hats": "hats_closed", "hat": "hats_closed", "hihat": "hats_closed", "hh": "hats_closed",
    "open_hats": "hats_open", "pedal_hats": "hats_pedal", "tom": "toms", "cymbal": "cymbals",
    "overheads": "cymbals", "perc": "percussion", "melody": "lead", "keys": "chords",
    "chords/keys": "chords", "lead/melody": "lead", "plucks/arps": "plucks", "arps": "plucks",
    "pluck": "plucks", "vocal": "lead_vocal", "lead vocal": "lead_vocal", "vox": "lead_vocal",
    "backing vocal": "backing_vocal", "backing": "backing_vocal", "bv": "backing_vocal",
}


def check_role(role: str) -> str:
    """``role`` if it is one of :data:`ROLES`; ValueError naming the valid ones otherwise."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role


def parse_role(text: str) -> str:
    """A role as an engineer types it: a :data:`ROLES` name, a label or an alias, any case."""
    key = " ".join(text.strip().lower().replace("-", " ").split())
    for candidate in (key, key.replace(" ", "_")):
        if candidate in ROLES:
            return candidate
        if candidate in ROLE_ALIASES:
            return ROLE_ALIASES[candidate]
    labels = {label: role for role, label in ROLE_LABELS.items()}
    if key in labels:
        return labels[key]
    raise ValueError(f"unknown role {text!r}; choose one of {', '.join(ROLES)}")


@dataclass(frozen=True)
class RoleGuess:
    """A track's role, where it came from and how sure we are.

    ``evidence`` says what decided: for ``source="name"`` the word(s) of the name that matched
    (lower case, e.g. ``"ld vox"``); for ``"audio"`` the classifier's reading; for ``"user"``
    where the choice was made (``--role``, the project).
    """

    role: str
    source: str
    confidence: float  # 0 … 1
    evidence: str

    def __post_init__(self) -> None:
        check_role(self.role)
        if self.source not in SOURCES:
            raise ValueError(f"unknown role source {self.source!r}; one of {', '.join(SOURCES)}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence {self.confidence} is outside 0 … 1")

    @property
    def label(self) -> str:
        return ROLE_LABELS[self.role]


# ------------------------------------------------------------------------------ vocabulary
# Each word of a name maps to one concept with a confidence: 0.95 for a plain word, about 0.85
# for a usual abbreviation, lower where the word often means something else. Concepts are either
# roles in themselves or modifiers that the rules in _decide combine ("bass" + "drum" = kick).
_WORDS: tuple[tuple[str, float, str], ...] = (
    ("kick", 0.95, "kick kicks kickdrum kickdrums bassdrum"),
    ("kick", 0.85, "bd kik kck kic"),
    ("snare", 0.95, "snare snares snaredrum"),
    ("snare", 0.85, "snr sn sd rim rimshot sidestick xstick"),
    ("clap", 0.95, "clap claps handclap handclaps clp snap snaps fingersnap"),
    ("hat", 0.95, "hihat hihats hat hats hhat"),
    ("hat", 0.85, "hh hhs"),
    ("hat_open", 0.9, "ohh ohat openhat openhats"),
    ("hat_closed", 0.9, "chh chat closedhat closedhats"),
    ("hat_pedal", 0.9, "phh pedalhat footcontrol"),
    ("open", 0.9, "open opn op o"),
    ("closed", 0.9, "closed cl cls clsd"),
    ("pedal", 0.9, "pedal ped pdl foot"),
    ("tom", 0.95, "tom toms floortom racktom hitom lotom midtom tomtom"),
    ("tom", 0.75, "ft"),
    ("cymbal", 0.95, "cymbal cymbals cym cyms crash crashes ride rides china splash"),
    ("cymbal", 0.85, "oh ohs ovh ovhd ovhds overhead overheads"),
    ("perc", 0.95, "perc percs percussion percussions shaker shakers shk tamb tambo tambourine "
                   "tamborine tambourin conga congas bongo bongos cowbell cowbells clave claves "
                   "guiro cabasa triangle timbale timbales djembe cajon tabla tablas woodblock "
                   "agogo maraca maracas chimes windchimes"),
    ("drum", 0.5, "drum drums drm drms"),
    ("bass", 0.95, "bass basses bassline basslines subbass synthbass synbass slapbass "
                   "contrabass bassgtr bassguitar"),
    ("sub", 0.7, "sub subs"),
    ("808", 0.6, "808"),
    ("tr", 0.5, "tr"),
    ("vocal", 0.9, "vox vocal vocals voc vocs vx voice voices singer sing rap rapper"),
    ("vocal_lead", 0.95, "lv ldv leadvox leadvocal leadvocals"),
    ("vocal_backing", 0.9, "bv bvs bgv bgvs bgvox bvox bkv bkgv backingvox backingvocals choir "
                           "choirs adlib adlibs ooh oohs aah aahs"),
    ("backing", 0.85, "backing back bkg bg bgd bck backup backups harmony harmonies harm harms "
                      "dbl double doubles dub dubs stack stacks gang"),
    ("lead", 0.9, "lead leads ld lds solo melody mel melo topline"),
    ("main", 0.6, "main"),
    ("pad", 0.95, "pad pads atmos atmo atmosphere drone drones texture textures"),
    ("chords", 0.9, "chord chords comp comps rhythm rhy rhyt rthm rhtm stab stabs strum strums"),
    ("keys", 0.9, "keys key kb kbd kbds keyboard keyboards piano pianos pno epiano ep rhodes "
                  "wurli wurlitzer organ organs b3 hammond clav clavinet harpsichord accordion "
                  "ukulele uke mandolin banjo"),
    ("guitar", 0.8, "guitar guitars gtr gtrs gt guit gtar eg egtr egtrs ag agtr acoustic ac"),
    ("pluck", 0.9, "pluck plucks plk arp arps arpeggio arpeggios arpeggiator seq sequence "
                   "sequencer bell bells glock glockenspiel marimba vibes vibraphone xylophone "
                   "xylo celesta celeste musicbox kalimba harp harps mallet mallets pizz "
                   "pizzicato"),
    ("strings", 0.9, "string strings str strs stgs stg violin violins vln vlns vn viola violas "
                     "vla cello cellos celli vc vlc orchestra orch ensemble ens quartet fiddle"),
    ("brass", 0.9, "brass horn horns hrn trumpet trumpets tpt trp trombone trombones tbn trb "
                   "tuba tubas sax saxes saxophone saxophones flugelhorn flugel cornet euphonium"),
    ("melodic", 0.65, "flute flutes piccolo clarinet clarinets oboe oboes whistle recorder "
                      "ocarina harmonica panflute woodwind woodwinds bassoon bassoons"),
    ("fx", 0.9, "fx sfx efx effect effects riser risers uplifter downlifter sweep sweeps whoosh "
                "whooshes impact impacts noise noises vinyl crackle reverse foley transition "
                "scratch scratches zap laser siren"),
    ("process", 0.8, "verb reverb rvb delay dly echo"),
    ("synth", 0.3, "synth synths syn"),
    # Words that carry no role: mic positions, sides, and the names hosts give new tracks.
    ("neutral", 0.0, "in out top bottom btm bot under over up dn down di amp mic mics l r left "
                     "right c m s mono stereo st hi high lo low mid close dry wet clean dist "
                     "crunch e a the new old audio track trk channel chan ch input inp untitled "
                     "take mix bus group stem print master aux return send midi instrument inst "
                     "vst sampler sample rec recording misc other wav wave aif aiff flac mp3 ogg "
                     "floor rack room amb loop loops beat beats break breaks fill fills groove"),
)


@lru_cache(maxsize=1)
def _lexicon() -> dict[str, tuple[str, float]]:
    lexicon: dict[str, tuple[str, float]] = {}
    for concept, confidence, words in _WORDS:
        for word in words.split():
            if word in lexicon:
                raise AssertionError(f"role vocabulary lists {word!r} twice")
            lexicon[word] = (concept, confidence)
    return lexicon


#: Concepts that only qualify another word: a glued word must contain more than these.
_MODIFIERS = frozenset({"neutral", "open", "closed", "pedal", "drum", "tr", "backing", "lead",
                        "main", "synth", "sub", "process"})
_PIECES = re.compile(r"[^\W\d_]+|\d+")  # runs of letters, runs of digits
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")
_SIDES = ("l", "r")


def name_words(name: str) -> list[str]:
    """The words of a track name as the role rules read them: lower case, split at separators,
    digits and camel case, glued words split into known words ("snaretop" → snare, top)."""
    words: list[str] = []
    for piece in _PIECES.findall(name):
        words.extend(_split_piece(piece))
    return words


def _split_piece(piece: str) -> list[str]:
    lexicon = _lexicon()
    lower = piece.lower()
    if lower in lexicon or lower.isdigit():
        return [lower]
    camel = [part.lower() for part in _CAMEL.findall(piece)]
    if len(camel) > 1 and all(part in lexicon for part in camel):
        return camel
    glued = _segment(lower)
    if glued:
        return glued
    if lower.endswith("s") and lower[:-1] in lexicon:  # plurals the vocabulary does not list
        return [lower[:-1]]
    return [lower]


def _segment(word: str) -> list[str] | None:
    """``word`` as a concatenation of known words of two or more letters (a final side letter,
    as in "ohl", is allowed), one of which names an instrument or a part ("kickin", not
    "loop" = lo + op); None when it is not one."""
    lexicon = _lexicon()
    best: dict[int, list[str]] = {0: []}
    for end in range(1, len(word) + 1):
        for start in range(end - 2, -1, -1):
            part = word[start:end]
            if start in best and _gluable(part) and (end not in best or len(best[start]) + 1 < len(best[end])):
                best[end] = best[start] + [part]
        if end == len(word) and word[-1] in _SIDES and end - 1 in best and end not in best:
            best[end] = best[end - 1] + [word[-1]]
    parts = best.get(len(word))
    if not parts or len(parts) < 2:
        return None
    return parts if any(lexicon[p][0] not in _MODIFIERS for p in parts if p in lexicon) else None


def _gluable(part: str) -> bool:
    """Whether ``part`` may be one piece of a glued word: a known word, but of the neutral ones
    only mic positions (so "hatch" is not hat + ch)."""
    concept = _lexicon().get(part, ("", 0.0))[0]
    return bool(concept) and (concept != "neutral" or part in _GLUED_NEUTRAL)


_GLUED_NEUTRAL = frozenset({"in", "out", "top", "bottom", "btm", "bot", "di", "amp", "hi", "lo",
                            "low", "mid", "high", "dry", "wet", "left", "right"})


# ---------------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class _Hit:
    word: str
    confidence: float
    position: int  # among the name's words


def role_from_name(name: str) -> RoleGuess | None:
    """The role a track's name says, or None when it says none ("Audio 03", "Track 5", "Synth").

    Returns a :class:`RoleGuess` with ``source="name"``, a confidence (the matched words'
    reliability, lowered when the name also names another role) and the matched words.
    """
    lexicon = _lexicon()
    found: dict[str, _Hit] = {}
    for position, word in enumerate(name_words(name)):
        concept, confidence = lexicon.get(word, ("", 0.0))
        if not concept or concept == "neutral":
            continue
        if concept in found:  # "Acoustic Gtr": one concept, both words are evidence
            first = found[concept]
            found[concept] = _Hit(f"{first.word} {word}", first.confidence, first.position)
        else:
            found[concept] = _Hit(word, confidence, position)
    decided = _decide(found)
    if decided is None:
        return None
    role, hits, confidence = decided
    rivals = _rival_roles(found, role)
    if rivals:
        confidence -= 0.15
    evidence = " ".join(hit.word for hit in sorted(hits, key=lambda h: h.position))
    return RoleGuess(role, "name", round(max(0.3, min(confidence, 0.99)), 2), evidence)


def _decide(found: dict[str, _Hit]) -> tuple[str, list[_Hit], float] | None:
    """The role the concepts of a name point to, most specific rule first."""
    get = found.get

    def hit(role: str, *concepts: str) -> tuple[str, list[_Hit], float]:
        """``role``, decided by the first concept (its confidence), with the others as support."""
        hits = [found[c] for c in dict.fromkeys(concepts) if c in found]
        return role, hits, hits[0].confidence

    processed = get("process")
    vocal = next((c for c in ("vocal_lead", "vocal_backing", "vocal") if c in found), None)
    if vocal:
        if processed or get("fx"):
            return hit("fx", "process" if processed else "fx", vocal)
        if vocal == "vocal_backing" or get("backing"):
            return hit("backing_vocal", vocal if vocal == "vocal_backing" else "backing", vocal)
        lead = next((c for c in ("vocal_lead", "lead", "main") if c in found), None)
        if lead is not None:
            return "lead_vocal", [found[c] for c in dict.fromkeys((lead, vocal))], 0.95
        return "lead_vocal", [found[vocal]], found[vocal].confidence * 0.8
    if get("backing") and found["backing"].word in ("harmony", "harmonies"):
        return "backing_vocal", [found["backing"]], 0.6
    drums = _drum_role(found)
    if drums is not None:
        if processed:
            return "fx", [processed, drums[1][0]], 0.6
        return drums
    if get("bass") or (get("sub") and not get("drum")):
        return hit("bass", "bass" if get("bass") else "sub")
    if get("808") and not get("tr"):
        return hit("bass", "808")
    if processed and not any(c in found for c in _TONAL):
        return hit("fx", "process")
    for concept, role in _TONAL.items():
        if concept in found:
            if processed:
                return "fx", [processed, found[concept]], 0.6
            return hit(role, concept)
    if get("fx"):
        return hit("fx", "fx")
    return None


#: Tonal concepts in order of precedence: words naming a part's function ("pad", "arp",
#: "lead", "rhythm") decide before instrument names ("strings", "piano", "guitar").
_TONAL: dict[str, str] = {
    "pad": "pad", "pluck": "plucks", "lead": "lead", "chords": "chords", "strings": "strings",
    "brass": "brass", "keys": "chords", "guitar": "chords", "melodic": "lead",
}


def _drum_role(found: dict[str, _Hit]) -> tuple[str, list[_Hit], float] | None:
    get = found.get
    if get("kick"):
        return "kick", [found["kick"]], found["kick"].confidence
    if get("bass") and get("drum"):
        return "kick", [found["bass"], found["drum"]], 0.9
    if get("snare"):
        return "snare", [found["snare"]], found["snare"].confidence
    if get("clap"):
        return "clap", [found["clap"]], found["clap"].confidence
    for concept, role in (("hat_open", "hats_open"), ("hat_closed", "hats_closed"),
                          ("hat_pedal", "hats_pedal")):
        if get(concept):
            return role, [found[concept]], found[concept].confidence
    if get("hat"):
        for modifier, role in (("open", "hats_open"), ("pedal", "hats_pedal"),
                               ("closed", "hats_closed")):
            if get(modifier):
                return role, [found["hat"], found[modifier]], found["hat"].confidence
        return "hats_closed", [found["hat"]], found["hat"].confidence - 0.1
    if get("tom"):
        return "toms", [found["tom"]], found["tom"].confidence
    if get("cymbal"):
        return "cymbals", [found["cymbal"]], found["cymbal"].confidence
    if get("perc"):
        return "percussion", [found["perc"]], found["perc"].confidence
    return None


_ROLE_OF_CONCEPT: dict[str, str] = {
    "kick": "kick", "snare": "snare", "clap": "clap", "hat": "hats", "hat_open": "hats",
    "hat_closed": "hats", "hat_pedal": "hats", "tom": "toms", "cymbal": "cymbals",
    "perc": "percussion", "bass": "bass", "vocal": "vocal", "vocal_lead": "vocal",
    "vocal_backing": "vocal", "pad": "pad", "pluck": "plucks", "strings": "strings",
    "brass": "brass", "keys": "chords", "chords": "chords",
}


def _rival_roles(found: dict[str, _Hit], role: str) -> set[str]:
    """Roles other than ``role`` that the name also names outright ("Kick Snare")."""
    family = {"hats_closed": "hats", "hats_open": "hats", "hats_pedal": "hats",
              "lead_vocal": "vocal", "backing_vocal": "vocal"}.get(role, role)
    named = {_ROLE_OF_CONCEPT[c] for c in found if c in _ROLE_OF_CONCEPT}
    if role == "kick" and "drum" in found:
        named.discard("bass")  # "Bass Drum"
    if role == "fx":
        return set()
    return named - {family}
