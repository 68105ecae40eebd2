"""The session model: one small, host-independent description of a REAPER mix session.

Hosts (an .RPP file, a running REAPER) fill it in and write changes back; analysis, decisions and
the renderer only ever see this model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .iem.params import PluginSpec

FADER_MIN_DB = -150.0
FADER_MAX_DB = 12.0  # REAPER's default fader range tops out at +12 dB


def db_to_gain(db: float) -> float:
    return 0.0 if db == -math.inf else 10.0 ** (db / 20.0)


def gain_to_db(gain: float) -> float:
    gain = abs(gain)
    return -math.inf if gain <= 0.0 else 20.0 * math.log10(gain)


@dataclass
class Fade:
    """An item fade: length in seconds and REAPER's curve shape index (0 = linear)."""

    length: float = 0.0
    shape: int = 0


@dataclass
class Source:
    """A take's media source. ``path`` is resolved against the project folder."""

    kind: str  # WAVE, FLAC, MP3, VORBIS, MIDI, CLICK, EMPTY, …
    path_text: str = ""  # as written in the project
    path: Path | None = None
    section_start: float = 0.0  # <SOURCE SECTION: start within the wrapped source
    section_length: float | None = None
    reverse: bool = False

    @property
    def is_audio_file(self) -> bool:
        return bool(self.path_text) and self.kind not in ("MIDI", "CLICK", "EMPTY", "VIDEO")


@dataclass
class Take:
    name: str = ""
    volume: float = 1.0  # linear; negative = polarity inverted
    pan: float = 0.0
    source_offset: float = 0.0  # seconds into the source (SOFFS / D_STARTOFFS)
    play_rate: float = 1.0
    preserve_pitch: bool = True
    channel_mode: int = 0  # 0 normal, 1 reverse stereo, 2 mono downmix, 3 left, 4 right
    source: Source | None = None
    guid: str = ""
    fx: list[FxInstance] = field(default_factory=list)  # take FX (<TAKEFX>)


@dataclass
class Item:
    position: float
    length: float
    name: str = ""
    guid: str = ""
    volume: float = 1.0  # item trim, linear
    mute: bool = False
    loop: bool = False
    fade_in: Fade = field(default_factory=Fade)
    fade_out: Fade = field(default_factory=Fade)
    takes: list[Take] = field(default_factory=list)
    active_take_index: int = 0

    @property
    def end(self) -> float:
        return self.position + self.length

    @property
    def active_take(self) -> Take | None:
        if not self.takes:
            return None
        return self.takes[min(self.active_take_index, len(self.takes) - 1)]


@dataclass
class FxInstance:
    """One plug-in on a track's FX chain."""

    name: str  # REAPER's display name, e.g. "VST: OmniCompressor (IEM) (64ch)"
    kind: str  # VST, JS, AU, CLAP, DX, LV2, CONTAINER, …
    identity: str = ""  # plug-in file / JS path
    custom_name: str = ""
    bypassed: bool = False
    offline: bool = False
    guid: str = ""  # FXID
    payload: tuple[str, ...] = ()  # base64 state lines of a <VST block, as saved
    changes: dict[str, float] = field(default_factory=dict)  # parameter edits (plain units)
    is_new: bool = False  # added by us, not yet in the project

    @property
    def active(self) -> bool:
        return not (self.bypassed or self.offline)

    @property
    def iem_plugin(self) -> PluginSpec | None:
        """The IEM plug-in this instance is, if any."""
        from .iem.params import identify

        return identify(self.name) or identify(self.identity)

    @property
    def label(self) -> str:
        return self.custom_name or self.name


@dataclass(eq=False)
class Receive:
    """A send from ``source`` into the track that holds this receive (REAPER's ``AUXRECV``)."""

    source: Track
    mode: int = 0  # 0 post-fader (post-pan), 1 pre-FX, 3 pre-fader (post-FX)
    volume: float = 1.0  # linear
    pan: float = 0.0
    mute: bool = False
    is_new: bool = False  # added by us, not yet in the project


@dataclass(eq=False)
class Track:
    index: int
    name: str
    guid: str
    folder_depth: int = 0  # I_FOLDERDEPTH: +1 opens a folder, -n closes n folders
    depth: int = 0  # number of folders around the track (GetTrackDepth)
    parent: Track | None = field(default=None, repr=False)
    children: list[Track] = field(default_factory=list, repr=False)
    volume: float = 1.0  # linear fader gain (D_VOL)
    pan: float = 0.0  # -1 … +1 (D_PAN)
    mute: bool = False
    solo: int = 0
    n_channels: int = 2
    main_send: bool = True
    fx_enabled: bool = True
    items: list[Item] = field(default_factory=list)
    fx: list[FxInstance] = field(default_factory=list)
    ext: dict[str, str] = field(default_factory=dict)  # extension data (P_EXT:key), read only
    receives: list[Receive] = field(default_factory=list)
    is_new: bool = False  # added by us (Project.add_track), not yet in the project

    @property
    def volume_db(self) -> float:
        return gain_to_db(self.volume)

    @volume_db.setter
    def volume_db(self, db: float) -> None:
        if math.isnan(db) or db == math.inf:
            raise ValueError(f"track {self.display_name}: invalid fader value {db} dB")
        self.volume = db_to_gain(db)

    def __setattr__(self, name: str, value: object) -> None:
        if name == "pan" and not -1.0 <= float(value) <= 1.0:  # type: ignore[arg-type]
            raise ValueError(f"track {self.display_name}: pan {value} is outside -1 … +1")
        if name == "volume" and not (0.0 <= float(value) < math.inf):  # type: ignore[arg-type]
            raise ValueError(f"track {self.display_name}: fader gain {value} must be ≥ 0")
        super().__setattr__(name, value)

    @property
    def is_folder(self) -> bool:
        return bool(self.children)

    @property
    def display_name(self) -> str:
        return self.__dict__.get("name") or f"Track {self.__dict__.get('index', 0) + 1}"

    def find_fx(self, plugin_name: str, tag: str | None = None) -> FxInstance | None:
        """Our instance named ``tag`` if given (and present), else the first of that plug-in."""
        candidates = [
            fx for fx in self.fx
            if (spec := fx.iem_plugin) is not None and spec.name == plugin_name
        ]
        if tag is not None:
            tagged = [fx for fx in candidates if fx.custom_name == tag]
            return tagged[0] if tagged else None
        return candidates[0] if candidates else None

    def stage_iem_params(self, plugin: str, params: Mapping[str, float], tag: str) -> FxInstance:
        """Stage ``params`` (plain values) on our instance of IEM ``plugin`` named ``tag``,
        adding it at the end of the chain if the track has none. Written by ``project.save()``;
        the renderer already plays the staged values."""
        from .iem.params import get_plugin

        spec = get_plugin(plugin)
        spec.to_grid(params)  # unknown parameter ids raise KeyError here, not at save time
        fx = self.find_fx(spec.name, tag)
        if fx is None:
            fx = FxInstance(name=spec.reaper_name, kind="VST", custom_name=tag, is_new=True)
            self.fx.append(fx)
        fx.changes.update(params)
        return fx

    def descendants(self) -> list[Track]:
        out: list[Track] = []
        for child in self.children:
            out.append(child)
            out.extend(child.descendants())
        return out


class Host(Protocol):
    """Where a session lives: reads it and writes changed values back."""

    def describe(self) -> str: ...

    def save(self, project: Project, path: Path | None = None) -> Path | None: ...


@dataclass(eq=False)
class Project:
    path: Path | None
    sample_rate: int = 44100
    tempo: float = 120.0
    tracks: list[Track] = field(default_factory=list)
    is_template: bool = False
    host: Host | None = field(default=None, repr=False)

    @property
    def folder(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()

    @property
    def folders(self) -> list[Track]:
        return [t for t in self.tracks if t.is_folder]

    @property
    def top_level(self) -> list[Track]:
        return [t for t in self.tracks if t.parent is None]

    @property
    def length(self) -> float:
        """End of the last item on the timeline, in seconds."""
        return max((item.end for t in self.tracks for item in t.items), default=0.0)

    def track(self, key: str) -> Track:
        """Find a track by GUID (with or without braces, any case) or by exact name."""
        wanted = key.strip().strip("{}").upper()
        for track in self.tracks:
            if track.guid.strip("{}").upper() == wanted:
                return track
        matches = [t for t in self.tracks if t.name == key]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise LookupError(f"{len(matches)} tracks are named {key!r}; use the GUID instead")
        names = ", ".join(repr(t.display_name) for t in self.tracks) or "none"
        raise LookupError(f"no track named or with GUID {key!r} (tracks: {names})")

    def add_track(self, name: str) -> Track:
        """A new empty top-level track at the end of the project (written by ``save()``); the
        previous last track closes every folder still open after it (REAPER's end of file
        does the same, so nothing else moves)."""
        if self.tracks:
            last = self.tracks[-1]
            still_open = max(0, last.depth + last.folder_depth)
            last.folder_depth -= still_open
        track = Track(index=len(self.tracks), name=name, guid="", is_new=True)
        self.tracks.append(track)
        link_folders(self.tracks)
        return track

    def save(self, path: str | Path | None = None) -> Path | None:
        """Write changes back through the host; returns the backup path, if one was made."""
        if self.host is None:
            raise RuntimeError("this project has no host to save to")
        return self.host.save(self, Path(path) if path is not None else None)


def link_folders(tracks: list[Track]) -> None:
    """Set ``parent``, ``children`` and ``depth`` from each track's ``folder_depth``.

    Walks the tracks in project order with a stack of open folder parents, exactly as REAPER
    does; negative deltas never pop below empty and the end of the list closes every folder.
    """
    stack: list[Track] = []
    for track in tracks:
        track.children = []
    for track in tracks:
        track.parent = stack[-1] if stack else None
        track.depth = len(stack)
        if track.parent is not None:
            track.parent.children.append(track)
        if track.folder_depth > 0:
            stack.append(track)
        elif track.folder_depth < 0:
            del stack[max(0, len(stack) + track.folder_depth) :]
