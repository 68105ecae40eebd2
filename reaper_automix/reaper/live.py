"""The live host: the session model read from, and written back to, a running REAPER.

It is the second implementation of the host interface of :mod:`reaper_automix.session` (the first
is the .RPP host): :meth:`LiveHost.read` builds the same model through python-reapy
(:class:`~reaper_automix.reaper.api.ReaperApi`), and :meth:`LiveHost.apply` writes changed faders
and pans, and the IEM plug-in values staged with :meth:`Track.stage_iem_params
<reaper_automix.session.Track.stage_iem_params>`, back as one undo point. The values written are
those the .RPP host writes for the same staging (:func:`reaper_automix.iem.state.writable_params`
over :func:`~reaper_automix.iem.state.insert_defaults` for a new instance), sent as the IEM layer's
normalised grid values. Sends are neither read nor written (a track's ``receives`` stay empty
here; the workers render from the state-chunk snapshot, which has them). Standard library and
reapy only: this runs inside REAPER.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..iem.params import FDNREVERB, PluginSpec, identify
from ..iem.state import insert_defaults, writable_params
from ..session import Fade, FxInstance, Item, Project, Source, Take, Track, link_folders
from .api import UNDO_FX, UNDO_TRACK_CONFIG, ReaperApi, is_null

#: REAPER's source types that wrap another source.
_WRAPPERS = ("SECTION",)


@dataclass
class _Loaded:
    """Where a track lives in REAPER and what it looked like when it was read."""

    pointer: str
    volume: float
    pan: float
    fx_read: bool = False  # its FX chain was read (staging needs it: tagged instances are found)
    fx_guids: dict[int, str] = field(default_factory=dict)  # id(FxInstance) → FX GUID


class FxWriteError(RuntimeError):
    """A plug-in could not be written; everything this apply wrote was undone."""


@dataclass
class _FxWrite:
    """One staged IEM instance, checked and ready to write."""

    track: Track
    fx: FxInstance
    spec: PluginSpec
    index: int  # position in the chain; -1: to be added
    values: dict[str, float]  # plain grid values to write, by parameter id
    params: dict[str, int] = field(default_factory=dict)  # parameter id → index (GetParamName)


class LiveHost:
    """One open REAPER project; ``proj`` is its ``ReaProject*``."""

    def __init__(self, api: ReaperApi, proj: str) -> None:
        self.api = api
        self.proj = proj
        self._loaded: dict[int, _Loaded] = {}

    def describe(self) -> str:
        return f"REAPER project {self.api.project_file(self.proj) or '(never saved)'}"

    # ----------------------------------------------------------------------------- reading
    def read(self, *, media: bool = True, fx: bool | None = None) -> Project:
        """The session model of the project. ``media=False`` skips items and, unless ``fx=True``,
        FX (faster); staging plug-in values needs the FX read (tagged instances are found)."""
        api = self.api
        path = api.project_file(self.proj)
        project = Project(path=Path(path) if path else None, host=self)
        project.sample_rate = api.project_sample_rate(self.proj) or project.sample_rate
        project.tempo = api.tempo(self.proj)
        self._loaded = {}
        read_fx = media if fx is None else fx
        for index, pointer in enumerate(api.tracks(self.proj)):
            track = self._read_track(index, pointer, media)
            loaded = self._loaded[id(track)] = _Loaded(pointer, track.volume, track.pan, read_fx)
            if read_fx:
                for number in range(api.fx_count(pointer)):
                    instance = self._read_fx(pointer, number)
                    track.fx.append(instance)
                    loaded.fx_guids[id(instance)] = instance.guid
            project.tracks.append(track)
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
            fx=[self._read_take_fx(pointer, i) for i in range(api.take_fx_count(pointer))],
        )

    def _read_take_fx(self, take: str, index: int) -> FxInstance:
        shown, name, kind, enabled, offline = self.api.take_fx(take, index)
        return FxInstance(name=name, kind=kind,
                          custom_name=shown if shown != name else "",
                          bypassed=not enabled, offline=offline)

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
        """``fx_name`` is the plug-in's own name, ``renamed_name`` the instance's custom name
        ("" when not renamed; REAPER 6.37+). Older REAPERs know neither key: the shown name is
        then the custom name when it differs from the plug-in name."""
        api = self.api
        shown = api.fx_name(track, index)
        name = api.fx_config(track, index, "fx_name") or shown
        renamed = api.fx_config(track, index, "renamed_name")
        return FxInstance(
            name=name,
            kind=api.fx_config(track, index, "fx_type") or name.split(":", 1)[0],
            identity=api.fx_config(track, index, "fx_ident") or "",
            custom_name=renamed if renamed is not None else shown if shown != name else "",
            bypassed=not api.fx_enabled(track, index),
            offline=api.fx_offline(track, index),
            guid=api.fx_guid(track, index),
        )

    # ----------------------------------------------------------------------------- writing
    def save(self, project: Project, path: Path | None = None) -> Path | None:
        """The host interface: write changed faders and pans as one undo point."""
        if path is not None:
            raise ValueError("a live REAPER project is saved by REAPER itself; apply without path")
        self.apply(project, "AutoMix: edit faders")
        return None

    def apply(self, project: Project, description: str, flags: int = UNDO_TRACK_CONFIG) -> int:
        """Write every changed fader (``D_VOL``) and pan (``D_PAN``) and every staged IEM
        instance in one undo block, inside ``PreventUIRefresh``; ``flags`` gains
        ``UNDO_FX`` when plug-ins are written. Everything that can be checked is checked first
        (tracks and plug-ins still there, parameter names); a write that fails even so is undone
        before :class:`FxWriteError` is raised, so the project is never left half-written.
        Returns the number of tracks changed (0: no undo point is made)."""
        faders = [t for t in project.tracks if self._differs(t)]
        staged = [(t, fx) for t in project.tracks for fx in t.fx if fx.is_new or fx.changes]
        for track in {id(t): t for t in [*faders, *(t for t, _ in staged)]}.values():
            if not self.api.track_is_valid(self.pointer(track)):
                raise LookupError(f"track {track.display_name!r} no longer exists in REAPER")
        writes = [self._plan(track, fx) for track, fx in staged]
        changed = {id(t) for t in faders} | {id(t) for t, _ in staged}
        if not changed:
            return 0
        undo: list[Callable[[], object]] = []
        with self.api.undo_block(self.proj, description,
                                 flags | (UNDO_FX if writes else 0)) as point:
            try:
                for track in faders:
                    self._write_fader(track, undo)
                for write in writes:
                    self._write_fx(write, undo)
            except Exception:
                for step in reversed(undo):
                    step()
                point.description = f"{description} (failed: nothing changed)"
                raise
        for track in faders:
            loaded = self._loaded[id(track)]
            loaded.volume, loaded.pan = track.volume, track.pan
        for write in writes:
            write.fx.changes, write.fx.is_new = {}, False
        return len(changed)

    def _differs(self, track: Track) -> bool:
        loaded = self._loaded.get(id(track))
        if loaded is None:
            raise LookupError(f"track {track.display_name!r} was not read from this REAPER project")
        return track.volume != loaded.volume or track.pan != loaded.pan

    def _write_fader(self, track: Track, undo: list[Callable[[], object]]) -> None:
        api, loaded = self.api, self._loaded[id(track)]
        for key, old, new in (("D_VOL", loaded.volume, track.volume),
                              ("D_PAN", loaded.pan, track.pan)):
            if new != old:
                api.set_track_value(loaded.pointer, key, new)
                undo.append(lambda key=key, old=old: api.set_track_value(loaded.pointer, key, old))

    # ------------------------------------------------------------------------- plug-ins
    def _plan(self, track: Track, fx: FxInstance) -> _FxWrite:
        """Check one staged instance without writing anything: the values to write and, for an
        instance already in REAPER, where it is now and its parameter indices."""
        loaded = self._loaded[id(track)]
        spec = fx.iem_plugin
        if spec is None:
            raise ValueError(f"track {track.display_name}: only IEM MultiEQ, OmniCompressor and "
                             f"FdnReverb can be written, not {fx.label!r}")
        if not loaded.fx_read:
            raise LookupError(f"track {track.display_name!r}: its plug-ins were not read; read the "
                              "project with fx=True before staging plug-in values")
        if fx.is_new:
            staged = {**insert_defaults(spec), **fx.changes}
            return _FxWrite(track, fx, spec, -1, writable_params(spec, staged))
        index = self._find_fx(track, fx)
        write = _FxWrite(track, fx, spec, index, writable_params(spec, fx.changes))
        write.params = self._param_indices(loaded.pointer, index, spec, fx.label, track)
        return write

    def _find_fx(self, track: Track, fx: FxInstance) -> int:
        """The instance's index now, found by its GUID (the user may have reordered the chain)."""
        api, loaded = self.api, self._loaded[id(track)]
        guid = loaded.fx_guids.get(id(fx))
        if guid is None:
            raise LookupError(f"plug-in {fx.label!r} on track {track.display_name!r} was not read "
                              "from this REAPER project")
        for index in range(api.fx_count(loaded.pointer)):
            if api.fx_guid(loaded.pointer, index) == guid:
                name = api.fx_config(loaded.pointer, index, "fx_name") or api.fx_name(
                    loaded.pointer, index)
                if identify(name) is not fx.iem_plugin:
                    break
                return index
        raise LookupError(f"plug-in {fx.label!r} on track {track.display_name!r} was removed or "
                          "replaced in REAPER; run the action again")

    def _param_indices(self, pointer: str, index: int, spec: PluginSpec, label: str,
                       track: Track) -> dict[str, int]:
        """Parameter id → index, matched once against the names REAPER reports."""
        api = self.api
        names = {api.fx_param_name(pointer, index, p).strip(): p
                 for p in range(api.fx_param_count(pointer, index))}
        missing = [p.name for p in spec.params if p.name not in names]
        if missing:
            raise FxWriteError(
                f"plug-in {label!r} on track {track.display_name!r} has no parameter "
                f"{', '.join(repr(m) for m in missing[:3])}: it is not the IEM {spec.name} this "
                "version knows (IEM Plug-in Suite 1.14); nothing was changed")
        return {p.id: names[p.name] for p in spec.params}

    def _write_fx(self, write: _FxWrite, undo: list[Callable[[], object]]) -> None:
        api, loaded = self.api, self._loaded[id(write.track)]
        pointer, fx, spec = loaded.pointer, write.fx, write.spec
        if write.index < 0:
            write.index = self._add_fx(write.track, spec, undo)
            if fx.custom_name and not api.set_fx_config(pointer, write.index, "renamed_name",
                                                        fx.custom_name):
                raise FxWriteError(f"REAPER did not rename the new {spec.name} on track "
                                   f"{write.track.display_name!r} to {fx.custom_name!r}")
            write.params = self._param_indices(pointer, write.index, spec, fx.label, write.track)
        else:
            olds = {key: api.fx_param(pointer, write.index, write.params[key])
                    for key in write.values}
            undo.append(lambda: [api.set_fx_param(pointer, write.index, write.params[key], old)
                                 for key, old in olds.items()])
        for key, value in sorted(write.values.items(), key=lambda kv: write.params[kv[0]]):
            for step in _parameter_steps(spec, key, value):
                if not api.set_fx_param(pointer, write.index, write.params[key],
                                        spec.param(key).to_normalized(step)):
                    raise FxWriteError(f"REAPER refused {spec.name} {key} = {step} on track "
                                       f"{write.track.display_name!r}")
        fx.guid = api.fx_guid(pointer, write.index)
        loaded.fx_guids[id(fx)] = fx.guid

    def _add_fx(self, track: Track, spec: PluginSpec, undo: list[Callable[[], object]]) -> int:
        """Add the plug-in at the end of the chain and confirm REAPER added that plug-in."""
        api, pointer = self.api, self.pointer(track)
        for name in (spec.reaper_name, f"VST: {spec.name} (IEM)"):
            index = api.add_fx(pointer, name)
            if index < 0:
                continue
            undo.append(lambda index=index: api.delete_fx(pointer, index))
            added = api.fx_config(pointer, index, "fx_name") or api.fx_name(pointer, index)
            if identify(added) is not spec:
                raise FxWriteError(f"REAPER added {added!r} for {name!r} on track "
                                   f"{track.display_name!r}, not IEM {spec.name}")
            return index
        raise FxWriteError(
            f"REAPER cannot add IEM {spec.name} ({spec.reaper_name!r}) on track "
            f"{track.display_name!r}: install the IEM Plug-in Suite (VST2) and let REAPER scan "
            "it (Options > Preferences > Plug-ins > VST); nothing was changed")


def _parameter_steps(spec: PluginSpec, key: str, value: float) -> list[float]:
    """The values to send for one parameter: FdnReverb applies revTime only when it changes,
    so it first gets a neighbouring grid value, then the target (iem.md section 9, quirk 2)."""
    if spec is not FDNREVERB or key != "revTime":
        return [value]
    param = spec.param(key)
    other = param.snap(value - param.step)
    return [other if other != value else param.snap(value + param.step), value]


def _fade(length: float, auto: float, shape: float) -> Fade:
    """An automatic (crossfade) length > 0 takes precedence, as in the .RPP host."""
    return Fade(length=auto if auto > 0 else max(0.0, length), shape=int(shape))
