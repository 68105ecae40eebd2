"""The one place that talks to REAPER: python-reapy in inside mode, raw calls where reapy fails.

Inside REAPER, ``import reapy`` runs in *inside mode*: ``reapy.reascript_api`` re-exports REAPER's
``RPR_*`` functions without the prefix and reapy's objects (``Project``, ``Track``, ``Item``,
``Take``, ``Source``, ``FX``) call them directly. Its distant API (a TCP server bound to all
interfaces) is never started or needed. :class:`ReaperApi` uses reapy's objects where they make
exactly the call we need, and ``reapy.reascript_api`` (the raw functions) where reapy is wrong
or has nothing (checked against reapy 0.10.0; docs/reaper.md, "python-reapy"):

- the ``.rpp`` path: ``Project.path`` is the media folder, ``Project.name`` only the file name;
- GUIDs: ``Track.GUID`` returns ``GetTrackGUID``'s ``GUID*`` pointer, not the ``{…}`` text;
- undo: ``Project.end_undo_block`` ends with flags 0 and ``reapy.undo_block`` acts on the active
  project, not the one we write to, so the block ends with ``Undo_EndBlock2(proj, desc, flags)``;
- ext-state: ``Project.get_ext_state`` tells REAPER its buffer holds 2**31-1 bytes (it holds
  4 MiB);
- ``GetUserInputs``: ``reapy.get_user_inputs`` cannot show default values;
- FX parameters: ``FXParam.normalized = v`` raises AttributeError (it passes a ``parent_fx.id``
  that does not exist), so values go through ``TrackFX_SetParamNormalized``;
- state chunks, ``GetProjectStateChangeCount``, item/take strings, ``TrackFX_Get/SetNamedConfigParm``,
  ``TrackFX_AddByName``/``GetFXGUID``/``GetParamName`` and section sources: reapy has no call for
  them;
- ``defer``: REAPER injects ``RPR_defer`` into the running script, which passes it here;
- opening a file in the browser: REAPER has no call; SWS's ``CF_ShellExecute`` (re-exported by
  reapy from ``reaper_python`` or ``sws_python``) where installed, else Python's ``webbrowser``.

Every method takes and returns plain values (pointer strings such as
``'(MediaTrack*)0x00000000110A1AD0'``, numbers, text).
"""

from __future__ import annotations

import contextlib
import warnings
import webbrowser
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

#: ReaScript's cap on string buffers (MAX_STRBUF in reaper_python.py); also caps state chunks.
CHUNK_LIMIT = 4 * 1024 * 1024
_NAME = 4096

#: Undo flags from reaper_plugin.h.
UNDO_TRACK_CONFIG = 1  # volume, pan, routing
UNDO_FX = 2  # plug-ins added, renamed or with changed parameters


@dataclass
class UndoPoint:
    """The undo point an :meth:`ReaperApi.undo_block` ends with."""

    description: str


def _value(result: Any) -> Any:
    """A binding's return value: functions without output buffers return it alone, others
    return a tuple echoing every argument after it."""
    return result[0] if isinstance(result, tuple) else result


class ChunkTooLargeError(ValueError):
    """A track's state chunk does not fit in ReaScript's 4 MiB string buffer."""


class NotInsideReaperError(RuntimeError):
    """python-reapy did not start in inside mode (the code is not running in REAPER)."""


def is_null(pointer: Any) -> bool:
    """REAPER's null pointer (``…0x0000000000000000``), or no value at all."""
    if not pointer:
        return True
    text = str(pointer)
    return text.endswith("0x0000000000000000") or text in ("0", "None")


def import_reapy() -> ModuleType:
    """python-reapy, which must be in inside mode (decided once, when first imported).

    reapy 0.10.0 has an invalid escape sequence that Python 3.12+ reports as a SyntaxWarning
    while compiling it: silenced, so that REAPER's console stays clean.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        import reapy
    if not reapy.is_inside_reaper():
        raise NotInsideReaperError(
            "python-reapy is in outside mode: the AutoMix actions run only inside REAPER "
            "(reapy checks for REAPER's `obj` in __main__)"
        )
    return reapy


class ReaperApi:
    """REAPER as seen through python-reapy (``reapy``, in inside mode).

    ``defer`` is REAPER's ``RPR_defer``. REAPER injects it into the running script's namespace,
    not into ``reaper_python``, so the action script passes its own.
    """

    def __init__(self, reapy: ModuleType, defer: Callable[[str], Any] | None = None) -> None:
        self.reapy = reapy
        self.rpr = reapy.reascript_api  # REAPER's functions, without the RPR_ prefix
        self._defer = defer

    @classmethod
    def load(cls, defer: Callable[[str], Any] | None = None) -> ReaperApi:
        """The API of the REAPER this code runs in."""
        return cls(import_reapy(), defer)

    # ------------------------------------------------------------------------------ project
    def current_project(self) -> tuple[str, str]:
        """(project pointer, path of its .rpp file or "" when never saved)."""
        proj = self.reapy.Project().id
        return proj, self.project_file(proj)

    def project_file(self, proj: str) -> str:
        """Path of the .rpp file of an open project ("" when never saved or no longer open)."""
        for index in range(1024):
            pointer, _, path, _ = self.rpr.EnumProjects(index, "", _NAME)
            if is_null(pointer):
                break
            if pointer == proj:
                return str(path)
        return ""

    def project_is_open(self, proj: str) -> bool:
        return bool(self.reapy.Project(proj).has_valid_id)

    def state_change_count(self, proj: str) -> int:
        return int(self.rpr.GetProjectStateChangeCount(proj))

    def project_sample_rate(self, proj: str) -> int:
        """The project's sample-rate setting (``SAMPLERATE`` field 1), 0 if unset."""
        return int(self.reapy.Project(proj).get_info_value("PROJECT_SRATE"))

    def tempo(self, proj: str) -> float:
        return float(self.reapy.Project(proj).bpm)

    def resource_path(self) -> str:
        return str(self.reapy.get_resource_path())

    # ------------------------------------------------------------------------------ tracks
    def tracks(self, proj: str) -> list[str]:
        return [track.id for track in self.reapy.Project(proj).tracks]

    def selected_tracks(self, proj: str) -> list[str]:
        return [track.id for track in self.reapy.Project(proj).selected_tracks]

    def track_is_valid(self, track: str) -> bool:
        """Whether the track still exists. Check before writing: reapy's ``rpr_packp`` passes
        any address to REAPER unchecked, and a deleted track's address would crash it."""
        return bool(self.reapy.Track(track).has_valid_id)

    def track_value(self, track: str, key: str) -> float:
        return float(self.reapy.Track(track).get_info_value(key))

    def set_track_value(self, track: str, key: str, value: float) -> None:
        self.reapy.Track(track).set_info_value(key, float(value))

    def track_string(self, track: str, key: str) -> str:
        """``P_NAME``, ``GUID`` … through GetSetMediaTrackInfo_String."""
        return str(self.reapy.Track(track).get_info_string(key))

    def track_chunk(self, track: str) -> str:
        """The track's state as RPP text (``<TRACK`` … ``>``)."""
        ok, _, chunk, _, _ = self.rpr.GetTrackStateChunk(track, "", CHUNK_LIMIT, False)
        if not ok or not chunk.rstrip().endswith(">"):
            raise ChunkTooLargeError("track state is missing or cut at ReaScript's 4 MiB limit")
        return chunk

    # ------------------------------------------------------------------------------- items
    def items(self, track: str) -> list[str]:
        return [item.id for item in self.reapy.Track(track).items]

    def item_value(self, item: str, key: str) -> float:
        return float(self.reapy.Item(item).get_info_value(key))

    def item_string(self, item: str, key: str) -> str:
        return str(self.rpr.GetSetMediaItemInfo_String(item, key, "", False)[3])

    def takes(self, item: str) -> list[str]:
        """Every take lane; an empty lane is a null pointer."""
        return [take.id for take in self.reapy.Item(item).takes]

    def take_value(self, take: str, key: str) -> float:
        return float(self.reapy.Take(take).get_info_value(key))

    def take_name(self, take: str) -> str:
        return str(self.reapy.Take(take).name)

    def take_guid(self, take: str) -> str:
        return str(self.reapy.Take(take).guid)

    def take_source(self, take: str) -> str:
        return self.reapy.Take(take).source.id

    def source_type(self, source: str) -> str:
        return str(self.reapy.Source(source).type)

    def source_file(self, source: str) -> str:
        return str(self.reapy.Source(source).filename)

    def source_parent(self, source: str) -> str:
        return self.rpr.GetMediaSourceParent(source)

    def section_info(self, source: str) -> tuple[float, float, bool]:
        """(start, length, reversed) of a section source."""
        _, _, start, length, reverse = self.rpr.PCM_Source_GetSectionInfo(source, 0.0, 0.0,
                                                                          False)
        return float(start), float(length), bool(reverse)

    # ---------------------------------------------------------------------------------- FX
    def _fx(self, track: str, index: int) -> Any:
        return self.reapy.FX(parent_id=track, index=index)

    def fx_count(self, track: str) -> int:
        return int(self.reapy.Track(track).n_fxs)

    def fx_name(self, track: str, index: int) -> str:
        """The name REAPER shows (the custom name when the instance was renamed)."""
        return str(self._fx(track, index).name)

    def fx_config(self, track: str, index: int, key: str) -> str | None:
        """TrackFX_GetNamedConfigParm (``fx_name``, ``fx_ident``, ``fx_type``…); None if unknown."""
        ok, _, _, _, value, _ = self.rpr.TrackFX_GetNamedConfigParm(track, index, key, "", _NAME)
        return str(value) if ok else None

    def fx_enabled(self, track: str, index: int) -> bool:
        return bool(self._fx(track, index).is_enabled)

    def fx_offline(self, track: str, index: int) -> bool:
        return not self._fx(track, index).is_online

    def fx_guid(self, track: str, index: int) -> str:
        """The instance's ``{GUID}`` (``FXID`` in the chunk): it survives reordering the chain."""
        return str(_value(self.rpr.TrackFX_GetFXGUID(track, index)))

    def add_fx(self, track: str, name: str) -> int:
        """``TrackFX_AddByName(track, name, False, -1)``: a new instance at the end of the track's
        chain (never the input chain); its index, or -1 when REAPER has no such plug-in."""
        return int(_value(self.rpr.TrackFX_AddByName(track, name, False, -1)))

    def delete_fx(self, track: str, index: int) -> bool:
        return bool(_value(self.rpr.TrackFX_Delete(track, index)))

    def set_fx_config(self, track: str, index: int, key: str, value: str) -> bool:
        """TrackFX_SetNamedConfigParm (``renamed_name`` …); False when REAPER refuses the key."""
        return bool(_value(self.rpr.TrackFX_SetNamedConfigParm(track, index, key, value)))

    def fx_param_count(self, track: str, index: int) -> int:
        """The plug-in's own parameters plus REAPER's (wet, bypass, delta) after them."""
        return int(_value(self.rpr.TrackFX_GetNumParams(track, index)))

    def fx_param_name(self, track: str, index: int, param: int) -> str:
        ok, _, _, _, name, _ = self.rpr.TrackFX_GetParamName(track, index, param, "", _NAME)
        return str(name) if ok else ""

    def fx_param(self, track: str, index: int, param: int) -> float:
        """The normalised 0..1 value."""
        return float(_value(self.rpr.TrackFX_GetParamNormalized(track, index, param)))

    def set_fx_param(self, track: str, index: int, param: int, value: float) -> bool:
        """``TrackFX_SetParamNormalized`` (reapy's ``FXParam.normalized`` setter is broken)."""
        return bool(_value(self.rpr.TrackFX_SetParamNormalized(track, index, param,
                                                                float(value))))

    def fx_param_text(self, track: str, index: int, param: int) -> str:
        """The plug-in's own text for the current value (TrackFX_GetFormattedParamValue)."""
        ok, _, _, _, text, _ = self.rpr.TrackFX_GetFormattedParamValue(track, index, param, "",
                                                                       _NAME)
        return str(text) if ok else ""

    def take_fx_count(self, take: str) -> int:
        return int(_value(self.rpr.TakeFX_GetCount(take)))

    def take_fx(self, take: str, index: int) -> tuple[str, str, str, bool, bool]:
        """(shown name, plug-in name, type, enabled, offline) of a take FX."""
        rpr = self.rpr

        def config(key: str) -> str:
            ok, _, _, _, value, _ = rpr.TakeFX_GetNamedConfigParm(take, index, key, "", _NAME)
            return str(value) if ok else ""

        shown = str(rpr.TakeFX_GetFXName(take, index, "", _NAME)[3])
        name = config("fx_name") or shown
        return (shown, name, config("fx_type") or name.split(":", 1)[0],
                bool(_value(rpr.TakeFX_GetEnabled(take, index))),
                bool(_value(rpr.TakeFX_GetOffline(take, index))))

    # -------------------------------------------------------------------- undo and refresh
    @contextlib.contextmanager
    def undo_block(self, proj: str, description: str, flags: int) -> Iterator[UndoPoint]:
        """One undo point for project ``proj`` with ``flags``, the UI frozen meanwhile. It is
        closed even when the body fails, so REAPER never keeps a block open; the body may
        change the description (``point.description``) before it ends."""
        point = UndoPoint(description)
        with self.reapy.prevent_ui_refresh():
            self.reapy.Project(proj).begin_undo_block()
            try:
                yield point
            finally:
                self.rpr.Undo_EndBlock2(proj, point.description, int(flags))

    # --------------------------------------------------------------- rendering and transport
    def app_version(self) -> str:
        """REAPER's version, e.g. ``7.28/linux-x86_64``."""
        return str(_value(self.rpr.GetAppVersion()))

    def project_info(self, proj: str, key: str) -> float:
        """GetSetProjectInfo (``RENDER_SETTINGS``, ``RENDER_BOUNDSFLAG`` …), read."""
        return float(_value(self.rpr.GetSetProjectInfo(proj, key, 0.0, False)))

    def set_project_info(self, proj: str, key: str, value: float) -> None:
        self.rpr.GetSetProjectInfo(proj, key, float(value), True)

    def project_info_string(self, proj: str, key: str) -> str:
        """GetSetProjectInfo_String (``RENDER_FILE``, ``RENDER_PATTERN``, ``RENDER_FORMAT``,
        ``RENDER_TARGETS`` …), read."""
        ok, _, _, value, _ = self.rpr.GetSetProjectInfo_String(proj, key, "", False)
        return str(value) if ok else ""

    def set_project_info_string(self, proj: str, key: str, value: str) -> None:
        self.rpr.GetSetProjectInfo_String(proj, key, value, True)

    def set_track_selected(self, track: str, selected: bool) -> None:
        self.rpr.SetTrackSelected(track, bool(selected))

    def time_range(self, proj: str, loop: bool) -> tuple[float, float]:
        """The time selection (``loop=False``) or the loop points: (start, end)."""
        result = self.rpr.GetSet_LoopTimeRange2(proj, False, loop, 0.0, 0.0, False)
        return float(result[-3]), float(result[-2])

    def set_time_range(self, proj: str, loop: bool, start: float, end: float) -> None:
        self.rpr.GetSet_LoopTimeRange2(proj, True, loop, float(start), float(end), False)

    def play_state(self, proj: str) -> int:
        """&1 playing, &2 paused, &4 recording."""
        return int(_value(self.rpr.GetPlayStateEx(proj)))

    def play_position(self, proj: str) -> float:
        return float(_value(self.rpr.GetPlayPositionEx(proj)))

    def cursor_position(self, proj: str) -> float:
        return float(_value(self.rpr.GetCursorPositionEx(proj)))

    def set_cursor_position(self, proj: str, seconds: float) -> None:
        """Move the edit cursor without moving the view or seeking playback."""
        self.rpr.SetEditCurPos2(proj, float(seconds), False, False)

    def stop(self, proj: str) -> None:
        self.rpr.OnStopButtonEx(proj)

    def play(self, proj: str) -> None:
        self.rpr.OnPlayButtonEx(proj)

    def pause(self, proj: str) -> None:
        self.rpr.OnPauseButtonEx(proj)

    def run_action(self, proj: str, command: int) -> None:
        """Main_OnCommandEx: a REAPER action (returns when it is done)."""
        self.rpr.Main_OnCommandEx(int(command), 0, proj)

    # --------------------------------------------------------------------------- ext state
    def project_ext_state(self, proj: str, section: str, key: str) -> str:
        return str(self.rpr.GetProjExtState(proj, section, key, "", _NAME)[4])

    def set_project_ext_state(self, proj: str, section: str, key: str, value: str) -> None:
        self.rpr.SetProjExtState(proj, section, key, value)


    def ext_state(self, section: str, key: str) -> str:
        """REAPER's global ext-state (reaper-extstate.ini)."""
        return str(_value(self.rpr.GetExtState(section, key)))

    def set_ext_state(self, section: str, key: str, value: str) -> None:
        self.rpr.SetExtState(section, key, value, True)

    # ---------------------------------------------------------------------------------- UI
    def console(self, text: str) -> None:
        self.reapy.show_console_message(text, end="")

    def message_box(self, text: str, title: str, kind: str = "ok") -> str:
        """``kind`` "ok" or "yes-no"; returns "ok", "yes", "no" …"""
        return str(self.reapy.show_message_box(text, title, kind))

    def user_inputs(self, title: str, captions: list[str], defaults: list[str]) -> list[str] | None:
        """GetUserInputs: the entered values, or None when the user cancelled."""
        ok, _, _, _, values, _ = self.rpr.GetUserInputs(title, len(captions), ",".join(captions),
                                                        ",".join(defaults), 1024)
        if not ok:
            return None
        parts = str(values).split(",")
        return parts + [""] * (len(captions) - len(parts))

    def user_file_for_read(self, title: str, extension: str, initial: str = "") -> str | None:
        """REAPER's file dialog (GetUserFileNameForRead; ``extension`` is the default one, e.g.
        "wav"): the chosen path, or None when the user cancelled."""
        ok, path, _, _ = self.rpr.GetUserFileNameForRead(initial, title, extension)
        return str(path) if ok and path else None

    def open_file(self, path: str) -> bool:
        """Open a file in the system's default application (a browser for .html): SWS's
        ``CF_ShellExecute`` where SWS is installed, else Python's ``webbrowser``. False if
        neither could."""
        shell_execute = getattr(self.rpr, "CF_ShellExecute", None)
        if shell_execute is not None and shell_execute(path) is not False:
            return True
        return bool(webbrowser.open(Path(path).resolve().as_uri()))

    def defer(self, code: str) -> None:
        """Run ``code`` (Python source, as a string) on a later UI tick."""
        if self._defer is None:
            raise RuntimeError("no RPR_defer was given: pass the script's RPR_defer to ReaperApi")
        self._defer(code)
