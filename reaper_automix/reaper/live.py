"""The live host: the session model read from, and written back to, a running REAPER.

It is the second implementation of the host interface of :mod:`reaper_automix.session` (the first
is the .RPP host): :meth:`LiveHost.read` builds the same model through python-reapy
(:class:`~reaper_automix.reaper.api.ReaperApi`), and :meth:`LiveHost.apply` writes changed faders
and pans back as one undo point. Standard library and reapy only: this runs inside REAPER.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..session import Fade, FxInstance, Item, Project, Source, Take, Track, link_folders
from .api import UNDO_TRACK_CONFIG, ReaperApi, is_null

#: REAPER's source types that wrap another source.
_WRAPPERS = ("SECTION",)


@dataclass
class _Loaded:
    """Where a track lives in REAPER and what it looked like when it was read."""

    pointer: str
    volume: float
    pan: float


class LiveHost:
    """One open REAPER project; ``proj`` is its ``ReaProject*``."""

    def __init__(self, api: ReaperApi, proj: str) -> None:
        self.api = api
        self.proj = proj
        self._loaded: dict[int, _Loaded] = {}

    def describe(self) -> str:
        return f"REAPER project {self.api.project_file(self.proj) or '(never saved)'}"

    # ----------------------------------------------------------------------------- reading
    def read(self, *, media: bool = True) -> Project:
        """The session model of the project; ``media=False`` skips items and FX (faster)."""
        api = self.api
        path = api.project_file(self.proj)
        project = Project(path=Path(path) if path else None, host=self)
        project.sample_rate = api.project_sample_rate(self.proj) or project.sample_rate
        project.tempo = api.tempo(self.proj)
        self._loaded = {}
        for index, pointer in enumerate(api.tracks(self.proj)):
            track = self._read_track(index, pointer, media)
            project.tracks.append(track)
            self._loaded[id(track)] = _Loaded(pointer, track.volume, track.pan)
        link_folders(project.tracks)
        return project

    def pointer(self, track: Track) -> str:
        """The ``MediaTrack*`` of a track read by this host."""
        return self._loaded[id(track)].pointer

    def _read_track(self, index: int, pointer: str, media: bool) -> Track:
        api = self.api
        value = lambda key: api.track_value(pointer, key)  # noqa: E731
        track = Track(
            index=index,
            name=api.track_string(pointer, "P_NAME"),
            guid=api.track_string(pointer, "GUID"),
            folder_depth=int(value("I_FOLDERDEPTH")),
            volume=max(0.0, value("D_VOL")),
            pan=min(1.0, max(-1.0, value("D_PAN"))),
            mute=value("B_MUTE") != 0,
            solo=int(value("I_SOLO")),
            n_channels=int(value("I_NCHAN")),
            main_send=value("B_MAINSEND") != 0,
            fx_enabled=value("I_FXEN") != 0,
        )
        if media:
            track.items = [self._read_item(item) for item in api.items(pointer)]
            track.fx = [self._read_fx(pointer, i) for i in range(api.fx_count(pointer))]
        return track

    def _read_item(self, pointer: str) -> Item:
        api = self.api
        value = lambda key: api.item_value(pointer, key)  # noqa: E731
        item = Item(
            position=value("D_POSITION"),
            length=max(0.0, value("D_LENGTH")),
            guid=api.item_string(pointer, "GUID"),
            volume=value("D_VOL"),
            mute=value("B_MUTE") != 0,
            loop=value("B_LOOPSRC") != 0,
            fade_in=_fade(value("D_FADEINLEN"), value("D_FADEINLEN_AUTO"), value("C_FADEINSHAPE")),
            fade_out=_fade(value("D_FADEOUTLEN"), value("D_FADEOUTLEN_AUTO"),
                           value("C_FADEOUTSHAPE")),
            active_take_index=int(value("I_CURTAKE")),
        )
        item.takes = [self._read_take(take) for take in api.takes(pointer)]
        item.name = item.takes[0].name if item.takes else ""
        return item

    def _read_take(self, pointer: str) -> Take:
        api = self.api
        if is_null(pointer):  # an empty take lane
            return Take(volume=0.0)
        value = lambda key: api.take_value(pointer, key)  # noqa: E731
        source = api.take_source(pointer)
        return Take(
            name=api.take_name(pointer),
            volume=value("D_VOL"),
            pan=value("D_PAN"),
            source_offset=value("D_STARTOFFS"),
            play_rate=value("D_PLAYRATE") or 1.0,
            preserve_pitch=value("B_PPITCH") != 0,
            channel_mode=int(value("I_CHANMODE")),
            source=None if is_null(source) else self._read_source(source),
            guid=api.take_guid(pointer),
        )

    def _read_source(self, pointer: str) -> Source:
        api = self.api
        kind = api.source_type(pointer)
        parent = api.source_parent(pointer)
        if kind in _WRAPPERS and not is_null(parent):
            inner = self._read_source(parent)
            start, length, reverse = api.section_info(pointer)
            inner.section_start, inner.reverse = start, reverse
            inner.section_length = length if length > 0 else None
            return inner
        path = api.source_file(pointer)  # REAPER resolves it: absolute
        return Source(kind=kind, path_text=path, path=Path(path) if path else None)

    def _read_fx(self, track: str, index: int) -> FxInstance:
        api = self.api
        shown = api.fx_name(track, index)
        name = api.fx_config(track, index, "fx_name") or shown
        return FxInstance(
            name=name,
            kind=api.fx_config(track, index, "fx_type") or name.split(":", 1)[0],
            identity=api.fx_config(track, index, "fx_ident") or "",
            custom_name=shown if shown != name else "",
            bypassed=not api.fx_enabled(track, index),
            offline=api.fx_offline(track, index),
        )

    # ----------------------------------------------------------------------------- writing
    def save(self, project: Project, path: Path | None = None) -> Path | None:
        """The host interface: write changed faders and pans as one undo point."""
        if path is not None:
            raise ValueError("a live REAPER project is saved by REAPER itself; apply without path")
        self.apply(project, "AutoMix: edit faders")
        return None

    def apply(self, project: Project, description: str, flags: int = UNDO_TRACK_CONFIG) -> int:
        """Write every changed fader (``D_VOL``) and pan (``D_PAN``) in one undo block, inside
        ``PreventUIRefresh``. Checks every track first, so it writes all or nothing. Returns the
        number of tracks changed (0: no undo point is made)."""
        changed = [t for t in project.tracks if self._differs(t)]
        for track in changed:
            if not self.api.track_is_valid(self.pointer(track)):
                raise LookupError(f"track {track.display_name!r} no longer exists in REAPER")
        if not changed:
            return 0
        api = self.api
        with api.undo_block(self.proj, description, flags):
            for track in changed:
                loaded = self._loaded[id(track)]
                if track.volume != loaded.volume:
                    api.set_track_value(loaded.pointer, "D_VOL", track.volume)
                if track.pan != loaded.pan:
                    api.set_track_value(loaded.pointer, "D_PAN", track.pan)
                loaded.volume, loaded.pan = track.volume, track.pan
        return len(changed)

    def _differs(self, track: Track) -> bool:
        loaded = self._loaded.get(id(track))
        if loaded is None:
            raise LookupError(f"track {track.display_name!r} was not read from this REAPER project")
        return track.volume != loaded.volume or track.pan != loaded.pan


def _fade(length: float, auto: float, shape: float) -> Fade:
    """An automatic (crossfade) length > 0 takes precedence, as in the .RPP host."""
    return Fade(length=auto if auto > 0 else max(0.0, length), shape=int(shape))
