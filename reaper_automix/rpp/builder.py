"""Generate the text of a new REAPER project, laid out as REAPER 7 saves one.

Folders are described as a tree (:attr:`TrackSpec.children`) and flattened to REAPER's file
order with the matching ``ISBUS`` lines: a folder parent is ``1 1``, an ordinary track ``0 0``
and the last track inside n folders that end with it ``2 -n``. GUIDs come from a seeded RNG, so
one seed always gives byte-identical text.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

from .tokens import format_number, quote, split_tokens

REAPER_VERSION = "7.22/linux-x86_64"
INDENT = "  "
SOURCE_KINDS = {
    ".wav": "WAVE",
    ".wave": "WAVE",
    ".aif": "WAVE",  # REAPER's WAVE source also reads AIFF
    ".aiff": "WAVE",
    ".flac": "FLAC",
    ".mp3": "MP3",
    ".ogg": "VORBIS",
}


@dataclass
class ItemSpec:
    """One audio item with one take."""

    source: str  # file path as written into FILE "..." (relative to the project, or absolute)
    position: float  # seconds
    length: float  # seconds
    source_offset: float = 0.0  # SOFFS
    play_rate: float = 1.0  # PLAYRATE first field (pitch preserved)
    item_volume: float = 1.0  # item VOLPAN field 1 (trim, linear)
    take_volume: float = 1.0  # item VOLPAN field 3 (linear, < 0 = phase inverted)
    take_pan: float = 0.0  # item VOLPAN field 2
    fade_in: float = 0.0  # seconds
    fade_out: float = 0.0
    fade_in_shape: int = 0
    fade_out_shape: int = 0
    mute: bool = False
    channel_mode: int = 0  # CHANMODE
    loop: bool = False
    name: str | None = None  # default: the file name


@dataclass
class TrackSpec:
    """One track; ``children`` not None makes it a folder parent."""

    name: str
    volume: float = 1.0  # linear (VOLPAN field 1)
    pan: float = 0.0
    mute: bool = False
    solo: int = 0
    items: list[ItemSpec] = field(default_factory=list)
    children: list[TrackSpec] | None = None
    nchan: int = 2


def build_project(
    tracks: Sequence[TrackSpec],
    *,
    sample_rate: int = 44100,
    tempo: float = 120.0,
    line_ending: str = "\r\n",
    seed: int | None = None,
    timestamp: int | None = None,
) -> str:
    """The full text of a REAPER project holding ``tracks`` (folders from ``children``).

    ``timestamp`` is the header's save time; it defaults to 0 when ``seed`` is given (so the
    text is reproducible) and to the current time otherwise.
    """
    if line_ending not in ("\r\n", "\n"):
        raise ValueError(f"line_ending must be '\\r\\n' or '\\n', not {line_ending!r}")
    if sample_rate <= 0 or not math.isfinite(tempo) or tempo <= 0:
        raise ValueError(f"sample rate ({sample_rate}) and tempo ({tempo}) must be positive")
    if timestamp is None:
        timestamp = 0 if seed is not None else int(time.time())
    guids = _GuidSource(seed)
    lines = list(_project_lines(tracks, sample_rate, tempo, timestamp, guids))
    return line_ending.join(lines) + line_ending


def write_project(
    path: str | Path,
    tracks: Sequence[TrackSpec],
    *,
    sample_rate: int = 44100,
    tempo: float = 120.0,
    line_ending: str = "\r\n",
    seed: int | None = None,
    timestamp: int | None = None,
) -> Path:
    """Build the project (see :func:`build_project`) and write it as UTF-8 to ``path``."""
    path = Path(path)
    text = build_project(tracks, sample_rate=sample_rate, tempo=tempo, line_ending=line_ending,
                         seed=seed, timestamp=timestamp)
    path.write_bytes(text.encode("utf-8"))
    return path


def flatten_tracks(tracks: Sequence[TrackSpec]) -> list[tuple[TrackSpec, int]]:
    """The tracks in file order with their folder-depth change (``ISBUS`` second field)."""
    order: list[TrackSpec] = []
    deltas: list[int] = []
    for track in tracks:
        _flatten(track, order, deltas)
    return list(zip(order, deltas))


def _flatten(track: TrackSpec, order: list[TrackSpec], deltas: list[int]) -> None:
    order.append(track)
    if track.children is None:
        deltas.append(0)
        return
    if not track.children:
        raise ValueError(
            f"folder track {track.name!r} has no children: REAPER cannot store an empty "
            "folder; give it children or use children=None for an ordinary track"
        )
    deltas.append(1)
    for child in track.children:
        _flatten(child, order, deltas)
    deltas[-1] -= 1  # the last descendant closes this folder


def isbus_fields(delta: int) -> tuple[int, int]:
    """REAPER's ``ISBUS state delta`` for a folder-depth change."""
    if delta > 0:
        return 1, delta
    if delta < 0:
        return 2, delta
    return 0, 0


class _GuidSource:
    """Brace-wrapped upper-case GUIDs, reproducible when seeded."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed) if seed is not None else None

    def __call__(self) -> str:
        if self._rng is None:
            value = uuid.uuid4()
        else:
            value = uuid.UUID(int=self._rng.getrandbits(128), version=4)
        return "{" + str(value).upper() + "}"


def _num(value: float) -> str:
    return format_number(float(value))


def _project_lines(
    tracks: Sequence[TrackSpec], sample_rate: int, tempo: float, timestamp: int, guid: _GuidSource
) -> Iterator[str]:
    yield f'<REAPER_PROJECT 0.1 "{REAPER_VERSION}" {timestamp} 0'
    for line in _header_lines(sample_rate, tempo, guid):
        yield INDENT + line
    item_ids = iter(range(1, 1 << 31))
    for track, delta in flatten_tracks(tracks):
        for line in _track_lines(track, delta, guid, item_ids):
            yield INDENT + line
    yield INDENT + "<EXTENSIONS"
    yield INDENT + ">"
    yield ">"


def _header_lines(sample_rate: int, tempo: float, guid: _GuidSource) -> list[str]:
    return [
        "RIPPLE 0 0",
        "GROUPOVERRIDE 0 0 0 0",
        "AUTOXFADE 129",
        "ENVATTACH 3",
        "POOLEDENVATTACH 0",
        "MIXERUIFLAGS 11 48",
        "ENVFADESZ10 40",
        "PEAKGAIN 1",
        "FEEDBACK 0",
        "PANLAW 1",
        "PROJOFFS 0 0 0",
        "MAXPROJLEN 0 0",
        "GRID 3199 8 1 8 1 0 0 0",
        "TIMEMODE 1 5 -1 30 0 0 -1",
        "VIDEO_CONFIG 0 0 65792",
        "PANMODE 3",
        "PANLAWFLAGS 3",
        "CURSOR 0",
        "ZOOM 100 0 0",
        "VZOOMEX 6 0",
        "USE_REC_CFG 0",
        "RECMODE 1",
        "SMPTESYNC 0 30 100 40 1000 300 0 0 1 0 0",
        "LOOP 0",
        "LOOPGRAN 0 4",
        'RECORD_PATH "Media" ""',
        "<RECORD_CFG",
        INDENT + "ZXZhdxgAAQ==",
        ">",
        "<APPLYFX_CFG",
        ">",
        'RENDER_FILE ""',
        'RENDER_PATTERN ""',
        "RENDER_FMT 0 2 0",
        "RENDER_1X 0",
        "RENDER_RANGE 1 0 0 18 1000",
        "RENDER_RESAMPLE 3 0 1",
        "RENDER_ADDTOPROJ 0",
        "RENDER_STEMS 0",
        "RENDER_DITHER 0",
        "TIMELOCKMODE 1",
        "TEMPOENVLOCKMODE 1",
        "ITEMMIX 1",
        "DEFPITCHMODE 589824 0",
        "TAKELANE 1",
        f"SAMPLERATE {sample_rate} 0 0",
        "<RENDER_CFG",
        INDENT + "ZXZhdxgAAQ==",
        ">",
        "LOCK 1",
        "<METRONOME 6 2",
        INDENT + "VOL 0.25 0.125",
        INDENT + "FREQ 800 1600 1",
        INDENT + "BEATLEN 4",
        INDENT + 'SAMPLES "" ""',
        INDENT + "PATTERN 2863311530 2863311529",
        INDENT + "MULT 1",
        ">",
        "GLOBAL_AUTO -1",
        f"TEMPO {_num(tempo)} 4 4",
        "PLAYRATE 1 0 0.25 4",
        "SELECTION 0 0",
        "SELECTION2 0 0",
        "MASTERAUTOMODE 0",
        "MASTERTRACKHEIGHT 0 0",
        "MASTERPEAKCOL 16576",
        "MASTERMUTESOLO 0",
        "MASTERTRACKVIEW 0 0.6667 0.5 0.5 0 0 0 0 0 0 0 0 0 0",
        "MASTERHWOUT 0 0 1 0 0 0 0 -1",
        "MASTER_NCH 2 2",
        "MASTER_VOLUME 1 0 -1 -1 1",
        "MASTER_PANMODE 3",
        "MASTER_PANLAWFLAGS 3",
        "MASTER_FX 1",
        "MASTER_SEL 0",
        *_envelope_lines("MASTERPLAYSPEEDENV", guid(), visible=False, shape=0),
        *_envelope_lines("TEMPOENVEX", guid(), visible=True, shape=1),
        "<PROJBAY",
        ">",
    ]


def _envelope_lines(tag: str, guid: str, *, visible: bool, shape: int) -> list[str]:
    vis = "1 0 1" if visible else "0 1 1"
    body = [f"EGUID {guid}", "ACT 0 -1", f"VIS {vis}", "LANEHEIGHT 0 0", "ARM 0",
            f"DEFSHAPE {shape} -1 -1"]
    return [f"<{tag}", *(INDENT + line for line in body), ">"]


def _name_lines(name: str, where: str) -> list[str]:
    """``NAME …`` as REAPER writes it. A name that needs quoting and holds all three quote
    characters cannot be quoted exactly: it gets the lossy backtick line plus an exact ``<NAME``
    block of raw ``|`` lines."""
    if "\n" in name or "\r" in name:
        raise ValueError(f"{where}: the name {name!r} contains a line break; REAPER names are "
                         "one line")
    line = f"NAME {quote(name)}"
    if split_tokens(line)[1:] != [name]:
        return [line, "<NAME", INDENT + "|" + name, ">"]
    return [line]


def _check_track(track: TrackSpec) -> None:
    where = f"track {track.name!r}"
    if not (math.isfinite(track.volume) and track.volume >= 0):
        raise ValueError(f"{where}: volume must be a finite linear gain >= 0, not {track.volume}")
    if not -1.0 <= track.pan <= 1.0:
        raise ValueError(f"{where}: pan must lie in [-1, 1], not {track.pan}")
    if track.solo not in (0, 1, 2):
        raise ValueError(f"{where}: solo must be 0 (off), 1 (solo) or 2 (solo in place)")
    if not (2 <= track.nchan <= 128 and track.nchan % 2 == 0):
        raise ValueError(f"{where}: nchan must be an even channel count 2–128, not {track.nchan}")


def _track_lines(
    track: TrackSpec, delta: int, guid: _GuidSource, item_ids: Iterator[int]
) -> list[str]:
    _check_track(track)
    track_guid = guid()
    state, depth = isbus_fields(delta)
    body = [
        *_name_lines(track.name, f"track {track.name!r}"),
        "PEAKCOL 16576",
        "BEAT -1",
        "AUTOMODE 0",
        "PANLAWFLAGS 3",
        f"VOLPAN {_num(track.volume)} {_num(track.pan)} -1 -1 1",
        f"MUTESOLO {int(track.mute)} {track.solo} 0",
        "IPHASE 0",
        "PLAYOFFS 0 1",
        f"ISBUS {state} {depth}",
        "BUSCOMP 0 0 0 0 0",
        "SHOWINMIX 1 0.6667 0.5 1 0.5 0 0 0 0",
        "FIXEDLANES 9 0 0 0 0",
        "SEL 0",
        "REC 0 0 1 0 0 0 0 0",
        "VU 64",
        "TRACKHEIGHT 0 0 0 0 0 0 0",
        "INQ 0 0 0 0.5 100 0 0 100",
        f"NCHAN {track.nchan}",
        "FX 1",
        f"TRACKID {track_guid}",
        "PERF 0",
        "MIDIOUT -1",
        "MAINSEND 1 0",
    ]
    for item in track.items:
        body.extend(_item_lines(item, track.name, guid, next(item_ids)))
    return [f"<TRACK {track_guid}", *(INDENT + line for line in body), ">"]


def new_track_lines(track: TrackSpec, *, receives: Sequence[str] = ()) -> list[str]:
    """The unindented lines of one new top-level ``<TRACK`` block (fresh GUIDs) for adding to
    an existing project, with ``receives`` (``AUXRECV …`` lines) where REAPER writes them."""
    if track.children is not None:
        raise ValueError(f"track {track.name!r}: only ordinary tracks can be added this way")
    lines = _track_lines(track, 0, _GuidSource(None), iter(range(1, 1 << 31)))
    at = lines.index(INDENT + "MIDIOUT -1")
    return [*lines[:at], *(INDENT + text for text in receives), *lines[at:]]


def source_kind(path_text: str) -> str:
    """REAPER's ``<SOURCE`` type for a media file, from its extension."""
    suffix = Path(path_text.replace("\\", "/")).suffix.lower()
    try:
        return SOURCE_KINDS[suffix]
    except KeyError:
        known = ", ".join(sorted(SOURCE_KINDS))
        raise ValueError(f"{path_text!r}: unsupported media type {suffix or '(none)'}; "
                         f"use one of {known}") from None


def _check_item(item: ItemSpec, where: str) -> None:
    numbers = (item.position, item.length, item.source_offset, item.play_rate, item.item_volume,
               item.take_volume, item.take_pan, item.fade_in, item.fade_out)
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError(f"{where}: every number must be finite")
    if item.position < 0 or item.length <= 0 or item.play_rate <= 0:
        raise ValueError(f"{where}: needs position >= 0, length > 0 and play_rate > 0")
    if item.item_volume < 0 or not -1.0 <= item.take_pan <= 1.0:
        raise ValueError(f"{where}: item_volume must be >= 0 and take_pan in [-1, 1]")
    if item.fade_in < 0 or item.fade_out < 0:
        raise ValueError(f"{where}: fade lengths must be >= 0")


def _file_token(path_text: str) -> str:
    """REAPER always quotes the FILE path; ``quote`` picks another quote if it holds ``"``."""
    return quote(path_text) if '"' in path_text or not path_text else f'"{path_text}"'


def _fade(shape: int, length: float) -> str:
    return f"{shape} {_num(length)} 0 {shape} 0 0 0"


def _item_lines(item: ItemSpec, track_name: str, guid: _GuidSource, item_id: int) -> list[str]:
    where = f"track {track_name!r}, item {item.source!r} at {item.position} s"
    _check_item(item, where)
    kind = source_kind(item.source)
    name = item.name if item.name is not None else PureWindowsPath(item.source).name
    body = [
        f"POSITION {_num(item.position)}",
        "SNAPOFFS 0",
        f"LENGTH {_num(item.length)}",
        f"LOOP {int(item.loop)}",
        "ALLTAKES 0",
        f"FADEIN {_fade(item.fade_in_shape, item.fade_in)}",
        f"FADEOUT {_fade(item.fade_out_shape, item.fade_out)}",
        f"MUTE {int(item.mute)} 0",
        "SEL 0",
        f"IGUID {guid()}",
        f"IID {item_id}",
        *_name_lines(name, where),
        f"VOLPAN {_num(item.item_volume)} {_num(item.take_pan)} {_num(item.take_volume)} -1",
        f"SOFFS {_num(item.source_offset)}",
        f"PLAYRATE {_num(item.play_rate)} 1 0 -1 0 0.0025",
        f"CHANMODE {item.channel_mode}",
        f"GUID {guid()}",
        f"<SOURCE {kind}",
        INDENT + f"FILE {_file_token(item.source)}",
        ">",
    ]
    return ["<ITEM", *(INDENT + line for line in body), ">"]
