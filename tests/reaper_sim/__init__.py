"""A simulated REAPER: a ``reaper_python`` module backed by our session model of a real RPP.

It behaves like the module REAPER generates for its embedded Python (shared/docs/reaper.md §2.5
and §3.1, and REAPER's generated ``reaper_python.py``):

- objects are pointer strings ``'(MediaTrack*)0x%016X'``; every pointer argument goes through
  the module's ``rpr_packp(ctype, value)``, as in the generated bindings. REAPER's own version
  parses the string, checks the type and validates the address (a stale pointer becomes NULL);
  python-reapy replaces it on import with one that does not validate, so after that a stale
  pointer reaches REAPER as is. The simulator raises :class:`SimCrash` where REAPER would crash;
- ``RPR_ValidatePtr`` takes an integer address (the binding passes it to ``c_uint64``), the
  other functions take pointer strings;
- ``_ft`` maps a function name to a C function pointer, for the few functions python-reapy
  calls through ctypes itself (``ValidatePtr2``, which it replaces by a version taking an
  integer address); the simulator provides ctypes callbacks there;
- functions with output buffers return the tuple echoing every argument;
- state chunks are the RPP text of the track, with the current fader and pan and the FX chain
  as it is now: plug-ins added (``TrackFX_AddByName``, IEM only, written by the .RPP host's own
  ``append_fx``), renamed (``renamed_name``), enabled/offline, and every IEM parameter set with
  ``TrackFX_SetParamNormalized`` in the plug-in's state (the IEM state codec). Like the plug-ins,
  an instance ignores a normalised value equal to its current one, and FdnReverb's network
  applies revTime only when it changes (:meth:`SimReaper.rev_time_applied`).

:func:`enter_reaper` makes the process look like REAPER's interpreter (``reaper_python``
importable, a ``__main__`` holding ``obj``, ``RPR_defer`` and ``RPR_atexit``), so that the real
python-reapy imported afterwards runs in inside mode against the simulator. One process holds
one ``reaper_python`` module; it serves the :class:`SimReaper` created last.

A simulator records what a test checks: undo blocks with their flags and the changes made inside
them, changes made outside any undo block, ``PreventUIRefresh`` nesting, console text, message
boxes, dialogs, files opened with SWS's ``CF_ShellExecute``, and deferred code, which runs only
when the test calls :meth:`SimReaper.run_deferred`. Message-box answers and ``GetUserInputs`` replies
are queued by the test, and so are file-dialog replies (``files``). It has no render call: the live
path never asks REAPER to render (docs/reaper.md).

The model is read with :class:`reaper_automix.hosts.rpp.RppHost`; the file is never written.
"""

from __future__ import annotations

import base64
import ctypes
import re
import zlib
import sys
import time
import types
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reaper_automix.hosts.rpp import RppHost, payload_lines, append_fx, write_payload
from reaper_automix.iem.params import FDNREVERB, f32, identify
from reaper_automix.iem.state import VstPayload, default_file_name, format_state, payload_params
from reaper_automix.rpp.document import Block, Line
from reaper_automix.rpp.tokens import format_number, quote, replace_tokens
from reaper_automix.session import FxInstance, Item, Source, Take, Track

CHUNK_LIMIT = 4 * 1024 * 1024
#: "File: Render project, using the most recent render settings" (auto-close, and not).
RENDER_ACTIONS = (42230, 41824)
#: A new project's render settings in REAPER 7 (stems off, entire project, WAV 24-bit).
RENDER_DEFAULTS: dict[str, Any] = {
    "RENDER_SETTINGS": 0.0, "RENDER_BOUNDSFLAG": 1.0, "RENDER_STARTPOS": 0.0,
    "RENDER_ENDPOS": 0.0, "RENDER_SRATE": 0.0, "RENDER_CHANNELS": 2.0, "RENDER_TAILFLAG": 18.0,
    "RENDER_TAILMS": 1000.0, "RENDER_ADDTOPROJ": 0.0, "RENDER_DITHER": 0.0,
    "RENDER_NORMALIZE": 0.0, "RENDER_FADEIN": 0.0, "RENDER_FADEOUT": 0.0,
    "RENDER_FILE": "", "RENDER_PATTERN": "", "RENDER_FORMAT": "ZXZhdxgAAQ==", "RENDER_FORMAT2": "",
}
RENDER_NUMBERS = tuple(k for k, v in RENDER_DEFAULTS.items() if isinstance(v, float))
RENDER_STRINGS = tuple(k for k, v in RENDER_DEFAULTS.items() if isinstance(v, str))
#: ShowMessageBox answers.
OK, CANCEL, YES, NO = 1, 2, 6, 7
_POINTER = re.compile(r"^\((\w+\*|HWND)\)0x([0-9A-F]+)$")


class SimCrash(RuntimeError):
    """A call with which the real REAPER would crash (a deleted object's address)."""


@dataclass
class UndoBlock:
    description: str
    flags: int
    changes: list[tuple[str, str, Any, Any]] = field(default_factory=list)  # guid, key, old, new


@dataclass
class SimSource:
    kind: str
    path: str = ""
    parent: SimSource | None = None
    section: tuple[float, float, bool] = (0.0, 0.0, False)


class _Guid:
    """What ``GetTrackGUID`` points at."""


_CTYPES: dict[type, str] = {Track: "MediaTrack*", Item: "MediaItem*", Take: "MediaItem_Take*",
                            SimSource: "PCM_source*", _Guid: "GUID*"}
_active: SimReaper | None = None


def active() -> SimReaper:
    if _active is None:
        raise RuntimeError("no simulated REAPER: create a SimReaper first")
    return _active


# --------------------------------------------------------------------- reaper_python module
def _reaper_packp(ctype: str, value: Any) -> int:
    """REAPER's ``rpr_packp``: the address of a valid object of type ``ctype``, else 0 (NULL).
    How REAPER validates a ``void*`` is not documented; the simulator accepts any live object."""
    match = _POINTER.match(str(value))
    if match is None or match[1] not in (ctype, "void*") and ctype != "void*":
        return 0
    address = int(match[2], 16)
    return address if MODULE.RPR_ValidatePtr(address, ctype) else 0


def _delegate(name: str) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        sim = active()
        sim.calls.append(name[4:])
        return getattr(sim, name)(*args)

    call.__name__ = name
    return call


def _c_validate_ptr2(proj: int, address: int, ctype: bytes) -> int:
    """The C function ``bool ValidatePtr2(ReaProject*, void*, const char*)``."""
    return int(active().validate(proj, address, ctype.decode("utf-8")))


_C_FUNCTIONS = {"ValidatePtr2": ctypes.CFUNCTYPE(ctypes.c_byte, ctypes.c_uint64, ctypes.c_uint64,
                                                 ctypes.c_char_p)(_c_validate_ptr2)}


def _build_module() -> types.ModuleType:
    module = types.ModuleType("reaper_python")
    module.__doc__ = "Simulated REAPER API (tests/reaper_sim)."
    for name in dir(SimReaper):
        if name.startswith("RPR_"):
            setattr(module, name, _delegate(name))
    module.rpr_packp = _reaper_packp
    module.rpr_packsc = lambda value: ctypes.c_char_p(str(value).encode("utf-8"))
    module._ft = {name: ctypes.cast(function, ctypes.c_void_p).value
                  for name, function in _C_FUNCTIONS.items()}
    return module


def enter_reaper() -> types.ModuleType:
    """Make this process look like REAPER's embedded Python; call it before importing reapy.
    Returns the ``__main__`` module that scripts and deferred code run in."""
    main = sys.modules.get("__main__")
    if getattr(main, "obj", None) is None or getattr(main, "RPR_defer", None) is None:
        main = types.ModuleType("__main__")
        main.obj = object()  # what reapy's is_inside_reaper() looks for
        main.RPR_defer = lambda code: active().defer(code)
        main.RPR_atexit = lambda code: active().atexit(code)
        sys.modules["__main__"] = main
    sys.modules["reaper_python"] = MODULE
    return main


class SimReaper:
    """One open project in a simulated REAPER (the one ``reaper_python`` serves from now on)."""

    def __init__(self, project_file: Path, resource_path: Path) -> None:
        global _active
        self.project_file = Path(project_file)
        self.resource_path = Path(resource_path)
        self.host = RppHost(self.project_file)
        self.project = self.host.read()
        self.blocks = self.host.document.track_blocks()
        self._give_guids()
        self._objects: dict[int, Any] = {}
        self._addresses: dict[int, int] = {}
        self._deleted: set[int] = set()
        self._next = 0x1000A0
        self.proj = self._pointer("ReaProject*", self)
        self.open = True
        self.selected: set[int] = set()
        self.state_changes = 0
        self.undo_blocks: list[UndoBlock] = []
        self.loose_changes: list[tuple[str, str, float, float]] = []
        self._undo_depth = 0
        self.refresh_depth = 0
        self.writes_while_refreshing = 0
        self.project_ext: dict[tuple[str, str], str] = {}
        self.ext: dict[tuple[str, str], str] = {}
        self.console: list[str] = []
        self.message_boxes: list[tuple[str, str, int]] = []
        self.answers: deque[int] = deque()
        self.inputs: deque[list[str] | None] = deque()
        self.input_dialogs: list[tuple[str, str, str]] = []
        self.files: deque[str | None] = deque()  # GetUserFileNameForRead replies (None: cancel)
        self.file_dialogs: list[tuple[str, str, str]] = []  # (title, initial, extension)
        self.opened: list[str] = []  # files given to CF_ShellExecute
        self.deferred: deque[str] = deque()
        self.calls: list[str] = []
        self.chunk_limit = CHUNK_LIMIT
        self._sources: dict[int, SimSource] = {}
        self._guids: dict[int, _Guid] = {}
        self._fx_blocks: dict[int, Block] = {}
        self._fx_values: dict[int, dict[str, float]] = {}
        self._rev_time: dict[int, float | None] = {}
        self._pseudo: dict[tuple[int, int], float] = {}
        self.param_log: list[tuple[str, str, object, float]] = []  # track, FX, param, normalised
        self.uninstalled: set[str] = set()  # IEM plug-ins TrackFX_AddByName does not find
        self.loaded_rev_time_applies = True  # a loaded FdnReverb state fires revTime's callback
        self.app_version = "7.28/linux-x86_64"
        self.render_settings: dict[str, Any] = dict(RENDER_DEFAULTS)
        self.ranges = {"time selection": (0.0, 0.0), "loop": (0.0, 0.0)}
        self.cursor, self.play_state, self.play_position = 0.0, 0, 0.0
        self.render_outcome = "ok"  # "fail": writes nothing; "cancel": stops half-way
        self.renders: list[dict[str, Any]] = []  # what each render saw and wrote
        self.actions: list[int] = []
        self.module = MODULE
        _active = self

    # ------------------------------------------------------------------ test-side helpers
    @property
    def console_text(self) -> str:
        return "".join(self.console)

    def track(self, name: str) -> Track:
        return self.project.track(name)

    def volumes(self) -> dict[str, float]:
        return {t.guid: t.volume for t in self.project.tracks}

    def select(self, *names: str) -> None:
        self.selected = {id(self.track(n)) for n in names}

    def user_edit(self, name: str, volume: float) -> None:
        """What a user moving a fader does: the value changes and so does the state count."""
        self.track(name).volume = volume
        self.state_changes += 1

    def undo(self) -> UndoBlock:
        """Ctrl+Z: revert the last undo block."""
        block = self.undo_blocks.pop()
        if any(key.startswith("FX") for _, key, _, _ in block.changes):
            raise NotImplementedError("the simulator undoes fader and pan changes only")
        for guid, key, old, _ in reversed(block.changes):
            self._set_track_field(self.project.track(guid), key, old)
        self.state_changes += 1
        return block

    def close_project(self) -> None:
        self.open = False

    def delete_track(self, name: str) -> None:
        """What a user deleting a track does: its address is no longer a valid object."""
        track = self.track(name)
        index = self.project.tracks.index(track)
        del self.project.tracks[index], self.blocks[index]
        address = self._addresses.pop(id(track), None)
        if address is not None:
            self._deleted.add(address)
            del self._objects[address]
        self.selected.discard(id(track))
        self.state_changes += 1

    def run_script(self, script: Path) -> None:
        """Run a ReaScript as REAPER does: as ``__main__`` (see :func:`enter_reaper`), without
        ``__file__``, its folder first on ``sys.path``; deferred code runs later in the same
        namespace."""
        main = enter_reaper()
        if sys.path[0] != str(script.parent):
            sys.path.insert(0, str(script.parent))
        main.__dict__.pop("__file__", None)
        main.__name__ = "__main__"
        exec(compile(script.read_text(encoding="utf-8"), str(script), "exec"), main.__dict__)

    def run_deferred(self, *, timeout: float = 300.0, interval: float = 0.02) -> int:
        """Run deferred code, as REAPER does on its UI ticks, until none is left."""
        main = enter_reaper()
        ticks, deadline = 0, time.monotonic() + timeout
        while self.deferred:
            if time.monotonic() > deadline:
                raise TimeoutError(f"deferred code still pending after {timeout} s")
            exec(self.deferred.popleft(), main.__dict__)
            ticks += 1
            time.sleep(interval)
        return ticks

    def defer(self, code: str) -> None:
        if not isinstance(code, str):
            raise TypeError("RPR_defer takes a code string")
        self.deferred.append(code)

    def atexit(self, code: str) -> None:
        if not isinstance(code, str):
            raise TypeError("RPR_atexit takes a code string")

    # -------------------------------------------------------------------------- pointers
    def _pointer(self, ctype: str, obj: Any) -> str:
        address = self._addresses.get(id(obj))
        if address is None:
            self._next += 0x40
            address = self._next
            self._addresses[id(obj)] = address
            self._objects[address] = obj
        return "(%s)0x%016X" % (ctype, address)

    @staticmethod
    def _null(ctype: str) -> str:
        return "(%s)0x%016X" % (ctype, 0)

    def _ctype(self, obj: Any) -> str:
        return "ReaProject*" if obj is self else _CTYPES[type(obj)]

    def _obj(self, pointer: Any, kind: type) -> Any:
        """The object a pointer argument names, packed as the generated binding packs it."""
        ctype = _CTYPES[kind]
        address = MODULE.rpr_packp(ctype, pointer)
        if address in self._deleted:
            raise SimCrash(f"{pointer!r} was deleted: REAPER would crash (validate it first)")
        obj = self._objects.get(address)
        if not isinstance(obj, kind):
            raise ValueError(f"REAPER receives NULL or a wrong object for {ctype} {pointer!r}")
        return obj

    def _check_proj(self, proj: Any) -> None:
        """NULL (0, or a pointer REAPER's packp rejects) is the active project."""
        address = MODULE.rpr_packp("ReaProject*", proj)
        if address == 0 and not self.open:
            raise ValueError("no project is open")
        if address not in (0, self._addresses[id(self)]):
            raise ValueError(f"unknown project {proj!r}")

    def _give_guids(self) -> None:
        for track in self.project.tracks:
            if not track.guid:
                track.guid = "{" + str(uuid.uuid4()).upper() + "}"

    # --------------------------------------------------------------------------- chunks
    def _block(self, track: Track) -> Block:
        return self.blocks[self.project.tracks.index(track)]

    def chunk(self, track: Track) -> str:
        """The track's state as GetTrackStateChunk gives it: its RPP block, unindented, with
        the current fader and pan."""
        block = self._block(track)
        volpan = block.line("VOLPAN")
        values = {1: format_number(track.volume), 2: format_number(track.pan)}
        ext = block.block("EXT")
        skipped = set(map(id, _lines(ext))) if ext is not None else set()
        lines = []
        for line in _lines(block):
            if id(line) in skipped:
                continue  # the current extension data replaces the block as read
            text = line.text.lstrip(" \t")
            if line is volpan:
                text = replace_tokens(text, values)
            lines.append(text)
            if line is block.head:
                if volpan is None:
                    lines.append(f"VOLPAN {values[1]} {values[2]} -1 -1 1")
                if block.line("TRACKID") is None:
                    lines.append(f"TRACKID {track.guid}")
                if track.ext:  # REAPER keeps P_EXT:key data as "<EXT" with "key value" lines
                    lines.extend(["<EXT", *(f"{k} {quote(v)}" for k, v in track.ext.items()), ">"])
        return "\n".join(lines) + "\n"

    # --------------------------------------------------------------------------- changes
    def _changed(self, track: Track, key: str, old: float, new: float) -> None:
        if old == new:
            return
        change = (track.guid, key, old, new)
        if self._undo_depth > 0:
            self.undo_blocks[-1].changes.append(change)
        else:
            self.loose_changes.append(change)
        if self.refresh_depth > 0:
            self.writes_while_refreshing += 1
        self.state_changes += 1

    def _set_track_field(self, track: Track, key: str, value: Any) -> None:
        if key.startswith("P_EXT:"):
            if value:
                track.ext[key[6:]] = value
            else:
                track.ext.pop(key[6:], None)
        elif key == "D_VOL":
            track.volume = value
        elif key == "D_PAN":
            track.pan = value
        elif key == "B_MUTE":
            track.mute = bool(value)
        else:
            raise KeyError(f"the simulator cannot set {key}")

    # ============================================================== REAPER API: project
    def RPR_GetAppVersion(self) -> str:
        return self.app_version

    def RPR_ValidatePtr(self, address: int, ctype: str) -> bool:
        if not isinstance(address, int):
            raise TypeError(f"ValidatePtr takes an address (int), not {address!r}")
        obj = self._objects.get(address)
        if obj is None or (obj is self and not self.open):
            return False
        return ctype == "void*" or self._ctype(obj) == ctype

    def RPR_ValidatePtr2(self, proj: Any, pointer: Any, ctype: str) -> bool:
        """REAPER's own binding (python-reapy replaces it, see ``_ft``)."""
        return self.validate(MODULE.rpr_packp("ReaProject*", proj),
                             MODULE.rpr_packp("void*", pointer), ctype)

    def validate(self, proj: int, address: int, ctype: str) -> bool:
        """ValidatePtr2 once the arguments are addresses (``proj`` 0: the active project)."""
        if proj not in (0, self._addresses[id(self)]) or not self.open:
            return False
        return self.RPR_ValidatePtr(address, ctype)

    def RPR_EnumProjects(self, index: int, buf: Any, size: int) -> tuple:
        if index in (-1, 0) and self.open:
            return (self.proj, index, str(self.project_file), size)
        return (self._null("ReaProject*"), index, "", size)

    def RPR_GetProjectName(self, proj: Any, buf: Any, size: int) -> tuple:
        self._check_proj(proj)
        return (proj, self.project_file.name, size)

    def RPR_GetProjectPathEx(self, proj: Any, buf: Any, size: int) -> tuple:
        self._check_proj(proj)
        return (proj, str(self.project_file.parent), size)

    def RPR_GetProjectStateChangeCount(self, proj: Any) -> int:
        self._check_proj(proj)
        return self.state_changes

    def RPR_GetSetProjectInfo(self, proj: Any, key: str, value: float, is_set: bool) -> float:
        self._check_proj(proj)
        if key == "PROJECT_SRATE" and not is_set:
            doc = self.host.document
            line = doc.project.line("SAMPLERATE") if doc.project is not None else None
            return float(line.values[0]) if line is not None and line.values else 0.0
        if key not in RENDER_NUMBERS:
            raise KeyError(f"the simulator does not know project setting {key}")
        if is_set:
            self.render_settings[key] = float(value)
            self.state_changes += 1  # whether REAPER counts this is unverified: assume it does
        return float(self.render_settings[key])

    def RPR_GetSetProjectInfo_String(self, proj: Any, key: str, value: str,
                                     is_set: bool) -> tuple:
        self._check_proj(proj)
        if key == "RENDER_TARGETS":
            text = ";".join(str(path) for path, _ in self._render_targets())
            return (True, proj, key, text, is_set)
        if key not in RENDER_STRINGS:
            raise KeyError(f"the simulator does not know project string {key}")
        if is_set:
            self.render_settings[key] = str(value)
            self.state_changes += 1
        return (True, proj, key, self.render_settings[key], is_set)

    def RPR_GetProjectTimeSignature2(self, proj: Any, bpm: float, bpi: float) -> tuple:
        self._check_proj(proj)
        return (proj, float(self.project.tempo), 4.0)

    def RPR_Master_GetTempo(self) -> float:
        return self.project.tempo

    def RPR_GetResourcePath(self) -> str:
        return str(self.resource_path)

    # ====================================================== REAPER API: transport and render
    def RPR_GetSet_LoopTimeRange2(self, proj: Any, is_set: bool, is_loop: bool, start: float,
                                  end: float, allow_autoseek: bool) -> tuple:
        self._check_proj(proj)
        key = "loop" if is_loop else "time selection"
        if is_set:
            self.ranges[key] = (float(start), float(end))
        return (proj, is_set, is_loop, *self.ranges[key], allow_autoseek)

    def RPR_GetPlayStateEx(self, proj: Any) -> int:
        self._check_proj(proj)
        return self.play_state

    def RPR_GetPlayPositionEx(self, proj: Any) -> float:
        self._check_proj(proj)
        return self.play_position if self.play_state else self.cursor

    def RPR_GetCursorPositionEx(self, proj: Any) -> float:
        self._check_proj(proj)
        return self.cursor

    def RPR_SetEditCurPos2(self, proj: Any, time: float, move_view: bool, seek_play: bool) -> None:
        self._check_proj(proj)
        self.cursor = float(time)
        if seek_play and self.play_state:
            self.play_position = self.cursor

    def RPR_OnStopButtonEx(self, proj: Any) -> None:
        self._check_proj(proj)
        self.play_state = 0

    def RPR_OnPlayButtonEx(self, proj: Any) -> None:
        self._check_proj(proj)
        self.play_state, self.play_position = 1, self.cursor

    def RPR_OnPauseButtonEx(self, proj: Any) -> None:
        self._check_proj(proj)
        if self.play_state & 1:
            self.play_state = 2
        elif self.play_state & 2:
            self.play_state = 1
        else:
            self.play_state, self.play_position = 2, self.cursor

    def RPR_Main_OnCommandEx(self, command: int, flag: int, proj: Any) -> None:
        self._check_proj(proj)
        self.actions.append(int(command))
        if int(command) not in RENDER_ACTIONS:
            raise KeyError(f"the simulator does not run action {command}")
        started = time.perf_counter()
        self._render()
        self.renders[-1]["seconds"] = time.perf_counter() - started

    def RPR_Main_OnCommand(self, command: int, flag: int) -> None:
        self.RPR_Main_OnCommandEx(command, flag, 0)

    def _render_range(self) -> tuple[float, float]:
        settings, bounds = self.render_settings, int(self.render_settings["RENDER_BOUNDSFLAG"])
        if bounds == 0:
            start, end = settings["RENDER_STARTPOS"], settings["RENDER_ENDPOS"]
        elif bounds == 1:
            start, end = 0.0, self.project.length
        elif bounds == 2:
            start, end = self.ranges["time selection"]
        else:
            raise KeyError(f"the simulator does not render bounds {bounds}")
        tail = int(settings["RENDER_TAILFLAG"]) & (1 << bounds if bounds < 3 else 0)
        return start, end + (settings["RENDER_TAILMS"] / 1000.0 if tail else 0.0)

    def _render_targets(self) -> list[tuple[Path, Track | None]]:
        """(file, track; None = master mix) REAPER would write with the settings in force."""
        settings = self.render_settings
        source = int(settings["RENDER_SETTINGS"]) & 3
        folder = Path(settings["RENDER_FILE"] or self.project_file.parent)
        pattern = settings["RENDER_PATTERN"] or self.project_file.stem
        extension = {b"evaw": ".wav"}[base64.b64decode(settings["RENDER_FORMAT"] + "==")[:4]]

        def name(track: Track | None) -> str:
            text = pattern.replace("$project", self.project_file.stem)
            if track is not None:
                text = text.replace("$tracknumber", str(track.index + 1))
                text = text.replace("$track", track.name or f"Track {track.index + 1}")
            return text + extension

        targets: list[tuple[Path, Track | None]] = []
        if source in (0, 1):
            targets.append((folder / name(None), None))
        if source in (1, 2, 3):
            targets += [(folder / name(t), t) for t in self._selected_tracks()]
        if len({path for path, _ in targets}) != len(targets):
            raise ValueError(f"render targets collide: {targets}")
        return targets

    def _render(self) -> None:
        """What REAPER's render writes for the settings in force (no render dialog)."""
        import numpy as np
        import soundfile

        from reaper_automix.audio.render import Renderer

        settings = self.render_settings
        record = {"settings": dict(settings), "selected": [t.name for t in self._selected_tracks()],
                  "files": [], "bytes": 0, "play_state": self.play_state, "undo_depth": self._undo_depth,
                  "refresh_depth": self.refresh_depth}
        self.renders.append(record)
        if self.render_outcome == "fail":
            return
        fmt = base64.b64decode(settings["RENDER_FORMAT"] + "==")
        subtype = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT", 64: "DOUBLE"}[fmt[4]]
        rate = int(settings["RENDER_SRATE"]) or int(self.RPR_GetSetProjectInfo(
            0, "PROJECT_SRATE", 0, False)) or 44100
        start, end = self._render_range()
        renderer = Renderer(self.project, skip_missing=True, cache_bytes=0)
        renderer.sample_rate = rate
        first, n = int(round(start * rate)), int(round(end * rate))
        pre_fader = bool(int(settings["RENDER_SETTINGS"]) & 8192)
        for path, track in self._render_targets():
            if track is None:
                audio = sum((self.track_audio(renderer, t, n, fader=True) for t in
                             self.project.top_level if t.main_send), np.zeros((n, 2), np.float32))
            else:
                audio = self.track_audio(renderer, track, n, fader=not pre_fader)
            audio = audio[first:]
            if int(settings["RENDER_CHANNELS"]) == 1:
                audio = audio.mean(axis=1)
            if self.render_outcome == "cancel":
                audio = audio[: len(audio) // 2]
            path.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(str(path), audio, rate, subtype=subtype)
            record["files"].append(path)
            record["bytes"] += path.stat().st_size
            if self.render_outcome == "cancel":
                return  # the user pressed Cancel in REAPER's render dialog

    def track_audio(self, renderer: Any, track: Track, n: int, *, fader: bool) -> Any:
        """What REAPER plays for a track: its items (audio through ``renderer``; MIDI through
        the track's instrument, see :func:`synth_instrument`), its children at their faders,
        its FX (IEM through the emulations; other plug-ins are transparent here), then
        optionally its fader and pan."""
        import numpy as np

        from reaper_automix.audio.render import pan_gains

        if track.mute and fader:
            return np.zeros((n, 2), np.float32)
        audio = renderer.items(track, n) + instrument_audio(track, renderer.sample_rate, n)
        for child in track.children:
            if child.main_send and not child.mute:
                audio += self.track_audio(renderer, child, n, fader=True)
        audio = renderer.apply_fx(track, audio)
        if fader:
            audio = audio * np.float32(track.volume) * np.asarray(pan_gains(track.pan), np.float32)
        return audio

    # ================================================================ REAPER API: tracks
    def RPR_CountTracks(self, proj: Any) -> int:
        self._check_proj(proj)
        return len(self.project.tracks)

    def RPR_GetTrack(self, proj: Any, index: int) -> str:
        self._check_proj(proj)
        if 0 <= index < len(self.project.tracks):
            return self._pointer("MediaTrack*", self.project.tracks[index])
        return self._null("MediaTrack*")

    def RPR_GetMasterTrack(self, proj: Any) -> str:
        self._check_proj(proj)
        return self._pointer("MediaTrack*", self.project)

    def _selected_tracks(self) -> list[Track]:
        return [t for t in self.project.tracks if id(t) in self.selected]

    def RPR_CountSelectedTracks(self, proj: Any) -> int:
        self._check_proj(proj)
        return len(self._selected_tracks())

    def RPR_CountSelectedTracks2(self, proj: Any, want_master: bool) -> int:
        return self.RPR_CountSelectedTracks(proj)

    def RPR_GetSelectedTrack(self, proj: Any, index: int) -> str:
        self._check_proj(proj)
        chosen = self._selected_tracks()
        if 0 <= index < len(chosen):
            return self._pointer("MediaTrack*", chosen[index])
        return self._null("MediaTrack*")

    def RPR_SetTrackSelected(self, track: str, selected: bool) -> None:
        key = id(self._obj(track, Track))
        if selected:
            self.selected.add(key)
        else:
            self.selected.discard(key)

    def RPR_IsTrackSelected(self, track: str) -> bool:
        return id(self._obj(track, Track)) in self.selected

    def _track_values(self, t: Track) -> dict[str, float]:
        return {
            "D_VOL": t.volume, "D_PAN": t.pan, "I_FOLDERDEPTH": t.folder_depth,
            "B_MUTE": t.mute, "I_SOLO": t.solo, "I_NCHAN": t.n_channels,
            "B_MAINSEND": t.main_send, "I_FXEN": t.fx_enabled,
            "I_SELECTED": id(t) in self.selected, "IP_TRACKNUMBER": t.index + 1,
        }

    def RPR_GetMediaTrackInfo_Value(self, track: str, key: str) -> float:
        values = self._track_values(self._obj(track, Track))
        if key not in values:
            raise KeyError(f"the simulator does not know track parameter {key}")
        return float(values[key])

    def RPR_SetMediaTrackInfo_Value(self, track: str, key: str, value: float) -> bool:
        t = self._obj(track, Track)
        if key == "I_SELECTED":
            self.RPR_SetTrackSelected(track, bool(value))
            return True
        old = self.RPR_GetMediaTrackInfo_Value(track, key)
        self._set_track_field(t, key, float(value))
        self._changed(t, key, old, float(value))
        return True

    def RPR_GetSetMediaTrackInfo_String(self, track: str, key: str, value: str,
                                        is_set: bool) -> tuple:
        t = self._obj(track, Track)
        if key.startswith("P_EXT:") and is_set:  # REAPER: an empty value removes the key
            self._changed(t, key, t.ext.get(key[6:], ""), value)
            self._set_track_field(t, key, value)
            return (True, track, key, value, is_set)
        if key.startswith("P_EXT:"):
            return (key[6:] in t.ext, track, key, t.ext.get(key[6:], ""), is_set)
        if is_set:
            raise KeyError("the simulator does not set track strings")
        known = {"P_NAME": t.name, "GUID": t.guid}
        return (key in known, track, key, known.get(key, ""), is_set)

    def RPR_GetTrackGUID(self, track: str) -> str:
        """Like REAPER: a GUID* pointer, not the GUID text."""
        t = self._obj(track, Track)
        return self._pointer("GUID*", self._guids.setdefault(id(t), _Guid()))

    def RPR_GetTrackName(self, track: str, buf: Any, size: int) -> tuple:
        t = self._obj(track, Track)
        return (True, track, t.name or f"Track {t.index + 1}", size)

    def RPR_GetParentTrack(self, track: str) -> str:
        parent = self._obj(track, Track).parent
        return self._pointer("MediaTrack*", parent) if parent else self._null("MediaTrack*")

    def RPR_GetTrackDepth(self, track: str) -> int:
        return self._obj(track, Track).depth

    def RPR_GetTrackStateChunk(self, track: str, buf: Any, size: int, is_undo: bool) -> tuple:
        chunk = self.chunk(self._obj(track, Track))
        if len(chunk.encode("utf-8")) >= min(size, self.chunk_limit):
            return (False, track, "", size, is_undo)
        return (True, track, chunk, size, is_undo)

    # ================================================================= REAPER API: items
    def RPR_CountTrackMediaItems(self, track: str) -> int:
        return len(self._obj(track, Track).items)

    def RPR_GetTrackMediaItem(self, track: str, index: int) -> str:
        items = self._obj(track, Track).items
        if 0 <= index < len(items):
            return self._pointer("MediaItem*", items[index])
        return self._null("MediaItem*")

    def RPR_GetMediaItemInfo_Value(self, item: str, key: str) -> float:
        i = self._obj(item, Item)
        values = {
            "D_POSITION": i.position, "D_LENGTH": i.length, "D_VOL": i.volume,
            "B_MUTE": i.mute, "B_LOOPSRC": i.loop, "I_CURTAKE": i.active_take_index,
            "D_FADEINLEN": i.fade_in.length, "D_FADEOUTLEN": i.fade_out.length,
            "D_FADEINLEN_AUTO": 0.0, "D_FADEOUTLEN_AUTO": 0.0,
            "C_FADEINSHAPE": i.fade_in.shape, "C_FADEOUTSHAPE": i.fade_out.shape,
        }
        if key not in values:
            raise KeyError(f"the simulator does not know item parameter {key}")
        return float(values[key])

    def RPR_GetSetMediaItemInfo_String(self, item: str, key: str, value: str,
                                       is_set: bool) -> tuple:
        i = self._obj(item, Item)
        return (key == "GUID", item, key, i.guid if key == "GUID" else "", is_set)

    def RPR_CountTakes(self, item: str) -> int:
        return len(self._obj(item, Item).takes)

    def RPR_GetMediaItemNumTakes(self, item: str) -> int:
        return self.RPR_CountTakes(item)

    def RPR_GetTake(self, item: str, index: int) -> str:
        takes = self._obj(item, Item).takes
        if 0 <= index < len(takes) and not _empty_lane(takes[index]):
            return self._pointer("MediaItem_Take*", takes[index])
        return self._null("MediaItem_Take*")  # out of range, or an empty take lane

    def RPR_GetMediaItemTake(self, item: str, index: int) -> str:
        return self.RPR_GetTake(item, index)

    def RPR_GetActiveTake(self, item: str) -> str:
        take = self._obj(item, Item).active_take
        return self._pointer("MediaItem_Take*", take) if take else self._null("MediaItem_Take*")

    def RPR_GetMediaItemTakeInfo_Value(self, take: str, key: str) -> float:
        t = self._obj(take, Take)
        values = {
            "D_VOL": t.volume, "D_PAN": t.pan, "D_STARTOFFS": t.source_offset,
            "D_PLAYRATE": t.play_rate, "B_PPITCH": t.preserve_pitch,
            "I_CHANMODE": t.channel_mode,
        }
        if key not in values:
            raise KeyError(f"the simulator does not know take parameter {key}")
        return float(values[key])

    def RPR_GetSetMediaItemTakeInfo_String(self, take: str, key: str, value: str,
                                           is_set: bool) -> tuple:
        t = self._obj(take, Take)
        known = {"P_NAME": t.name, "GUID": t.guid}
        return (key in known, take, key, known.get(key, ""), is_set)

    def RPR_GetTakeName(self, take: str) -> str:
        return self._obj(take, Take).name

    def RPR_GetMediaItemTake_Source(self, take: str) -> str:
        source = self._obj(take, Take).source
        if source is None:
            return self._null("PCM_source*")
        return self._pointer("PCM_source*", self._sim_source(source))

    def _sim_source(self, source: Source) -> SimSource:
        cache = self._sources
        if id(source) not in cache:
            path = str(source.path) if source.path else ""
            inner = SimSource(source.kind, path)
            if source.section_start or source.section_length is not None or source.reverse:
                section = (source.section_start, source.section_length or 0.0, source.reverse)
                inner = SimSource("SECTION", "", parent=inner, section=section)
            cache[id(source)] = inner
        return cache[id(source)]

    def RPR_GetMediaSourceType(self, source: str, buf: Any, size: int) -> tuple:
        return (source, self._obj(source, SimSource).kind, size)

    def RPR_GetMediaSourceFileName(self, source: str, buf: Any, size: int) -> tuple:
        return (source, self._obj(source, SimSource).path, size)

    def RPR_GetMediaSourceParent(self, source: str) -> str:
        parent = self._obj(source, SimSource).parent
        return self._pointer("PCM_source*", parent) if parent else self._null("PCM_source*")

    def RPR_PCM_Source_GetSectionInfo(self, source: str, offs: float, length: float,
                                      rev: bool) -> tuple:
        s = self._obj(source, SimSource)
        return (s.parent is not None, source, *s.section)

    def _take_fx(self, take: str, index: int) -> FxInstance:
        fx = self._obj(take, Take).fx
        if not 0 <= index < len(fx):
            raise IndexError(f"no take FX {index} on {take}")
        return fx[index]

    def RPR_TakeFX_GetCount(self, take: str) -> int:
        return len(self._obj(take, Take).fx)

    def RPR_TakeFX_GetFXName(self, take: str, index: int, buf: Any, size: int) -> tuple:
        return (True, take, index, self._take_fx(take, index).label, size)

    def RPR_TakeFX_GetNamedConfigParm(self, take: str, index: int, key: str, buf: Any,
                                      size: int) -> tuple:
        fx = self._take_fx(take, index)
        known = {"fx_name": fx.name, "fx_type": fx.kind, "fx_ident": fx.identity,
                 "renamed_name": fx.custom_name}
        return (key in known, take, index, key, known.get(key, ""), size)

    def RPR_TakeFX_GetEnabled(self, take: str, index: int) -> bool:
        return not self._take_fx(take, index).bypassed

    def RPR_TakeFX_GetOffline(self, take: str, index: int) -> bool:
        return self._take_fx(take, index).offline

    # ==================================================================== REAPER API: FX
    # An FX chain is the track's <FXCHAIN block, kept current as REAPER keeps it: a parameter set
    # rewrites the plug-in's state in its <VST block (the IEM state codec), an added plug-in is a
    # group written by the .RPP host's own code, a rename rewrites the <VST line's custom name.
    def _fx(self, track: str, index: int) -> FxInstance:
        fx = self._obj(track, Track).fx
        if not 0 <= index < len(fx):
            raise IndexError(f"no FX {index} on {track}")
        return fx[index]

    def _fx_block(self, track: Track, fx: FxInstance) -> Block:
        if id(fx) not in self._fx_blocks:
            self._fx_blocks[id(fx)] = self.host.fx_block(track, fx)
        return self._fx_blocks[id(fx)]

    def fx_values(self, track: Track, fx: FxInstance) -> dict[str, float]:
        """What the IEM plug-in instance holds now (plain values), as it loaded its state."""
        if id(fx) not in self._fx_values:
            spec = fx.iem_plugin
            values = payload_params(fx.payload, spec)
            self._fx_values[id(fx)] = values
            # the network applies a loaded revTime unless it equals its start-up default 5.0
            # (or, iem.md 12.6, unless REAPER restored the chunk without the change callback)
            rev_time = values.get("revTime")
            fired = self.loaded_rev_time_applies and rev_time not in (None, 5.0)
            self._rev_time[id(fx)] = rev_time if fired else None
        return self._fx_values[id(fx)]

    def rev_time_applied(self, track: Track, fx: FxInstance) -> float:
        """The reverberation time an FdnReverb instance plays: revTime only reaches its network
        when the parameter changes; until then it runs at its start-up T60 of 3 s (iem.md 9)."""
        self.fx_values(track, fx)
        applied = self._rev_time[id(fx)]
        return 3.0 if applied is None else applied

    def _write_state(self, track: Track, fx: FxInstance) -> None:
        """The plug-in's current state into its <VST block, as REAPER saves it."""
        payload = VstPayload.decode(fx.payload)
        state = format_state(fx.iem_plugin, self.fx_values(track, fx))
        lines = payload.with_state(state).encode()
        write_payload(self._fx_block(track, fx), lines)
        fx.payload = tuple(lines)

    def _bypass_line(self, track: Track, fx: FxInstance) -> Line:
        chain = self._block(track).block("FXCHAIN")
        index = chain.index(self._fx_block(track, fx))
        line = chain.children[index - 1]
        if not isinstance(line, Line) or line.key != "BYPASS":
            raise ValueError(f"{fx.label}: no BYPASS line before the plug-in block")
        return line

    def _set_bypass(self, track: Track, fx: FxInstance) -> None:
        line = self._bypass_line(track, fx)
        line.text = replace_tokens(line.text, {1: str(int(fx.bypassed)), 2: str(int(fx.offline))})
        self.state_changes += 1

    def _fx_changed(self, track: Track, what: str) -> None:
        self._changed(track, what, 0.0, 1.0)

    def RPR_TrackFX_GetCount(self, track: str) -> int:
        return len(self._obj(track, Track).fx)

    def RPR_TrackFX_GetRecCount(self, track: str) -> int:
        self._obj(track, Track)
        return 0

    def RPR_TrackFX_AddByName(self, track: str, name: str, rec_fx: bool, instantiate: int) -> int:
        """IEM plug-ins only (the simulator has no other plug-in installed)."""
        t = self._obj(track, Track)
        if rec_fx:
            raise ValueError("the simulator has no input FX chain")
        spec = identify(name)
        if spec is None or spec.name in self.uninstalled:
            return -1
        if instantiate >= 0:
            found = [i for i, fx in enumerate(t.fx) if fx.iem_plugin is spec]
            if found or instantiate == 0:
                return found[0] if found else -1
        fx = FxInstance(name=spec.reaper_name, kind="VST", identity=default_file_name(spec, "linux"),
                        changes=spec.defaults(), is_new=True)
        self._fx_blocks[id(fx)] = append_fx(self._block(t), fx)
        fx.payload = tuple(payload_lines(self._fx_blocks[id(fx)]))
        fx.changes, fx.is_new = {}, False
        t.fx.append(fx)
        self._fx_values[id(fx)] = spec.defaults()  # a fresh instance holds its defaults
        self._rev_time[id(fx)] = None
        self._write_state(t, fx)
        self._fx_changed(t, f"FX add {spec.name}")
        return len(t.fx) - 1

    def RPR_TrackFX_Delete(self, track: str, index: int) -> bool:
        t = self._obj(track, Track)
        fx = self._fx(track, index)
        chain = self._block(t).block("FXCHAIN")
        first = chain.index(self._bypass_line(t, fx))
        group = chain.children[first:]
        end = next((i for i, node in enumerate(group) if isinstance(node, Line)
                    and node.key == "WAK"), len(group) - 1)
        for node in group[: end + 1]:
            chain.remove(node)
        t.fx.remove(fx)
        self._fx_changed(t, f"FX delete {fx.label}")
        return True

    def RPR_TrackFX_GetFXName(self, track: str, index: int, buf: Any, size: int) -> tuple:
        return (True, track, index, self._fx(track, index).label, size)

    def RPR_TrackFX_GetFXGUID(self, track: str, index: int) -> str:
        fx = self._fx(track, index)
        if not fx.guid:
            fx.guid = "{" + str(uuid.uuid4()).upper() + "}"
        return fx.guid

    def RPR_TrackFX_GetNamedConfigParm(self, track: str, index: int, key: str, buf: Any,
                                       size: int) -> tuple:
        fx = self._fx(track, index)
        known = {"fx_name": fx.name, "fx_type": fx.kind, "fx_ident": fx.identity,
                 "renamed_name": fx.custom_name}
        return (key in known, track, index, key, known.get(key, ""), size)

    def RPR_TrackFX_SetNamedConfigParm(self, track: str, index: int, key: str,
                                       value: str) -> bool:
        t, fx = self._obj(track, Track), self._fx(track, index)
        if key != "renamed_name" or fx.kind != "VST":
            return False
        block = self._fx_block(t, fx)
        block.head.text = replace_tokens(block.head.text, {4: quote(value)})
        fx.custom_name = value
        self._fx_changed(t, f"FX rename {value}")
        return True

    def RPR_TrackFX_GetEnabled(self, track: str, index: int) -> bool:
        return not self._fx(track, index).bypassed

    def RPR_TrackFX_SetEnabled(self, track: str, index: int, enabled: bool) -> None:
        fx = self._fx(track, index)
        fx.bypassed = not enabled
        self._set_bypass(self._obj(track, Track), fx)

    def RPR_TrackFX_GetOffline(self, track: str, index: int) -> bool:
        return self._fx(track, index).offline

    def RPR_TrackFX_SetOffline(self, track: str, index: int, offline: bool) -> None:
        fx = self._fx(track, index)
        fx.offline = bool(offline)
        self._set_bypass(self._obj(track, Track), fx)

    def _param_names(self, track: str, index: int) -> list[str]:
        """The plug-in's parameters (IEM only), then REAPER's own three."""
        spec = self._fx(track, index).iem_plugin
        own = [p.name + (" " if p.id == "inputChannelsSetting" else "")  # as the plug-in says
               for p in spec.params] if spec is not None else []
        return [*own, "Wet", "Bypass", "Delta"]

    def _param(self, track: str, index: int, param: int) -> tuple[Track, FxInstance, Any]:
        t, fx = self._obj(track, Track), self._fx(track, index)
        if not 0 <= param < len(self._param_names(track, index)):
            raise IndexError(f"{fx.label} has no parameter {param}")
        spec = fx.iem_plugin
        return t, fx, spec.params[param] if spec is not None and param < len(spec.params) else None

    def _param_value(self, track: str, index: int, param: int) -> float:
        t, fx, spec = self._param(track, index, param)
        if spec is None:
            return self._pseudo.get((id(fx), param), 1.0)
        return spec.to_normalized(self.fx_values(t, fx)[spec.id])

    def RPR_TrackFX_GetNumParams(self, track: str, index: int) -> int:
        return len(self._param_names(track, index))

    def RPR_TrackFX_GetParamName(self, track: str, index: int, param: int, buf: Any,
                                 size: int) -> tuple:
        return (True, track, index, param, self._param_names(track, index)[param], size)

    def RPR_TrackFX_GetParam(self, track: str, index: int, param: int, lo: float,
                             hi: float) -> tuple:
        return (self._param_value(track, index, param), track, index, param, 0.0, 1.0)

    def RPR_TrackFX_GetParamNormalized(self, track: str, index: int, param: int) -> float:
        return self._param_value(track, index, param)

    def RPR_TrackFX_GetFormattedParamValue(self, track: str, index: int, param: int, buf: Any,
                                           size: int) -> tuple:
        t, fx, spec = self._param(track, index, param)
        text = spec.text(self.fx_values(t, fx)[spec.id]) if spec is not None else ""
        return (True, track, index, param, text, size)

    def RPR_TrackFX_SetParamNormalized(self, track: str, index: int, param: int,
                                       value: float) -> bool:
        t, fx, spec = self._param(track, index, param)
        self.param_log.append((t.name, fx.label, spec.id if spec else param, float(value)))
        if spec is None:
            self._pseudo[(id(fx), param)] = float(value)
            return True
        values = self.fx_values(t, fx)
        old = values[spec.id]
        # the plug-in ignores a value equal (as float32) to its current normalised one
        if f32(value) == f32(spec.to_normalized(old)):
            return True
        values[spec.id] = spec.from_normalized(value)
        if fx.iem_plugin is FDNREVERB and spec.id == "revTime":
            self._rev_time[id(fx)] = values[spec.id]
        self._write_state(t, fx)
        self._changed(t, f"FX {fx.label} {spec.id}", old, values[spec.id])
        return True

    def RPR_TrackFX_SetParam(self, track: str, index: int, param: int, value: float) -> bool:
        return self.RPR_TrackFX_SetParamNormalized(track, index, param, value)

    # ========================================================== REAPER API: undo and UI
    def RPR_Undo_BeginBlock2(self, proj: Any) -> None:
        self._check_proj(proj)
        if self._undo_depth == 0:
            self.undo_blocks.append(UndoBlock("", 0))
        self._undo_depth += 1

    def RPR_Undo_EndBlock2(self, proj: Any, description: str, flags: int) -> None:
        self._check_proj(proj)
        if self._undo_depth == 0:
            raise RuntimeError("Undo_EndBlock2 without Undo_BeginBlock2")
        self._undo_depth -= 1
        if self._undo_depth == 0:
            self.undo_blocks[-1].description = description
            self.undo_blocks[-1].flags = int(flags)
            self.state_changes += 1

    def RPR_Undo_BeginBlock(self) -> None:
        self.RPR_Undo_BeginBlock2(0)

    def RPR_Undo_EndBlock(self, description: str, flags: int) -> None:
        self.RPR_Undo_EndBlock2(0, description, flags)

    def RPR_PreventUIRefresh(self, step: int) -> None:
        self.refresh_depth += int(step)
        if self.refresh_depth < 0:
            raise RuntimeError("PreventUIRefresh(-1) without PreventUIRefresh(1)")

    def RPR_UpdateArrange(self) -> None:
        pass

    def RPR_TrackList_AdjustWindows(self, is_minor: bool) -> None:
        pass

    def RPR_ShowConsoleMsg(self, text: str) -> None:
        self.console.append(str(text))

    def RPR_ClearConsole(self) -> None:
        self.console.clear()

    def RPR_ShowMessageBox(self, text: str, title: str, kind: int) -> int:
        self.message_boxes.append((text, title, int(kind)))
        if self.answers:
            return self.answers.popleft()
        return NO if int(kind) == 4 else OK

    def RPR_GetUserInputs(self, title: str, n: int, captions: str, defaults: str,
                          size: int) -> tuple:
        if n != len(captions.split(",")):
            raise ValueError(f"GetUserInputs: {n} fields but captions {captions!r}")
        self.input_dialogs.append((title, captions, defaults))
        reply = self.inputs.popleft() if self.inputs else None
        if reply is None:
            return (False, title, n, captions, defaults, size)
        return (True, title, n, captions, ",".join(reply), size)

    def RPR_GetUserFileNameForRead(self, filename: str, title: str, extension: str) -> tuple:
        self.file_dialogs.append((title, filename, extension))
        reply = self.files.popleft() if self.files else None
        return (reply is not None, reply or filename, title, extension)

    def RPR_CF_ShellExecute(self, path: str) -> bool:
        """SWS's "open in the default application" (SWS counts as installed here)."""
        self.opened.append(str(path))
        return True

    def RPR_GetProjExtState(self, proj: Any, section: str, key: str, buf: Any,
                            size: int) -> tuple:
        self._check_proj(proj)
        value = self.project_ext.get((section, key), "")
        return (len(value), proj, section, key, value, size)

    def RPR_SetProjExtState(self, proj: Any, section: str, key: str, value: str) -> int:
        self._check_proj(proj)
        self.project_ext[(section, key)] = value
        return 1

    def RPR_GetExtState(self, section: str, key: str) -> str:
        return self.ext.get((section, key), "")

    def RPR_SetExtState(self, section: str, key: str, value: str, persist: bool) -> None:
        self.ext[(section, key)] = value

    def RPR_HasExtState(self, section: str, key: str) -> bool:
        return (section, key) in self.ext

    def RPR_DeleteExtState(self, section: str, key: str, persist: bool) -> None:
        self.ext.pop((section, key), None)


MODULE = _build_module()


def _empty_lane(take: Take) -> bool:
    """``TAKE NULL`` as the .RPP host reads it (a real take always has a GUID)."""
    return take.source is None and take.volume == 0.0 and not take.guid


def _lines(block: Block) -> Iterator[Line]:
    yield block.head
    for child in block.children:
        if isinstance(child, Block):
            yield from _lines(child)
        else:
            yield child
    if block.tail is not None:
        yield block.tail


# ------------------------------------------------------------------------- test helpers
REPO = Path(__file__).resolve().parents[2]
ACTIONS = REPO / "actions"
BALANCE_ACTION = ACTIONS / "AutoMix_Auto balance group.py"
SETTINGS_ACTION = ACTIONS / "AutoMix_Auto balance group (settings).py"
ROLE_ACTION = ACTIONS / "AutoMix_Set role of selected tracks.py"
MATCH_ACTION = ACTIONS / "AutoMix_Match reference.py"
MIX_ACTION = ACTIONS / "AutoMix_Mix (balance + match).py"
VOCAL_ACTION = ACTIONS / "AutoMix_Mix lead vocal.py"
VOCAL_SETTINGS_ACTION = ACTIONS / "AutoMix_Mix lead vocal (settings).py"


def write_worker_config(resource: Path, python: str, timeout_s: float = 600.0) -> Path:
    """What ``reaper-automix install`` records, without installing the scripts."""
    import json

    path = resource / "reaper-automix.json"
    path.write_text(json.dumps({"python": python, "timeout_s": timeout_s}), encoding="utf-8")
    return path


def repo_python(directory: Path) -> str:
    """The worker Python for tests: this interpreter with this repository first on its path
    (the worker starts in the job folder, where an installed reaper_automix, e.g. another
    checkout's editable install, would win otherwise)."""
    return fake_python(directory, f'PYTHONPATH="{REPO}" exec "{sys.executable}" "$@"')


def fake_python(directory: Path, body: str) -> str:
    """An executable standing in for the worker Python (a shell script running ``body``)."""
    path = directory / "fake-python"
    path.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    path.chmod(0o755)
    return str(path)


# ------------------------------------------------------------------- instruments and MIDI
INSTRUMENT = "VSTi: ReaSynth (Cockos)"


def synth_instrument(name: str, spans: list[tuple[float, float]], sample_rate: int, n: int) -> Any:
    """What the simulator's instrument plays for MIDI items over ``spans`` (seconds) on a track
    named ``name``: a tone with two overtones whose pitch and level come from the name, with
    10 ms attack and 50 ms release in each span. Stereo float32, n samples."""
    import numpy as np

    seed = zlib.crc32(name.encode("utf-8"))
    frequency = 110.0 * 2.0 ** ((seed % 24) / 12.0)
    level = 0.05 + 0.4 * ((seed >> 8) % 100) / 100.0
    t = np.arange(n) / sample_rate
    tone = level * (np.sin(2 * np.pi * frequency * t) + 0.5 * np.sin(4 * np.pi * frequency * t)
                    + 0.25 * np.sin(6 * np.pi * frequency * t))
    envelope = np.zeros(n)
    for start, end in spans:
        inside = (t >= start) & (t < end)
        envelope[inside] = np.minimum(np.minimum((t[inside] - start) / 0.01, 1.0),
                                      np.maximum((end - t[inside]) / 0.05, 0.0))
    return np.repeat((tone * envelope)[:, None], 2, axis=1).astype(np.float32)


def instrument_audio(track: Track, sample_rate: int, n: int) -> Any:
    """The track's MIDI items played by its instrument (silence without an active one)."""
    import numpy as np

    from reaper_automix.audio.playable import is_instrument

    spans = [(item.position, item.end) for item in track.items
             if not item.mute and item.active_take is not None
             and item.active_take.source is not None and item.active_take.source.kind == "MIDI"]
    playing = track.fx_enabled and any(fx.active and is_instrument(fx) for fx in track.fx)
    if not spans or not playing:
        return np.zeros((n, 2), np.float32)
    return synth_instrument(track.name, spans, sample_rate, n)


def add_midi(project_file: Path, track_name: str, spans: list[tuple[float, float]],
             instrument: str | None = INSTRUMENT) -> None:
    """Give a track of a project file MIDI items over ``spans`` and an instrument plug-in, as
    REAPER saves them (one note per item; the plug-in's state is an opaque stand-in)."""
    from reaper_automix.rpp.document import RppDocument

    doc = RppDocument.load(project_file)
    block = next(b for b in doc.track_blocks() if b.line("NAME").values[0] == track_name)
    text = ""
    if instrument is not None:
        text += (f"<FXCHAIN\nSHOW 0\nLASTSEL 0\nDOCKED 0\nBYPASS 0 0 0\n"
                 f'<VST "{instrument}" reasynth.so 0 "" 1919251321<56535472736E79726561737900000000> ""\n'
                 f"AAAAAA==\n>\nFLOATPOS 0 0 0 0\nFXID {{{uuid.uuid4()}}}\nWAK 0 0\n>\n")
    for start, end in spans:
        ticks = int(round((end - start) * 2 * 960))  # 120 bpm: two quarter notes a second
        text += (f"<ITEM\nPOSITION {start}\nLENGTH {end - start}\nLOOP 0\nMUTE 0 0\n"
                 f"IGUID {{{uuid.uuid4()}}}\nNAME {track_name}\nVOLPAN 1 0 1 -1\nSOFFS 0 0\n"
                 f"PLAYRATE 1 1 0 -1 0 0.0025\nCHANMODE 0\nGUID {{{uuid.uuid4()}}}\n"
                 f"<SOURCE MIDI\nHASDATA 1 960 QN\nE 0 90 3c 60\nE {ticks} 80 3c 00\n>\n>\n")
    nodes = RppDocument(f"<TRACK\n{text}>\n").track_blocks()[0].children
    block.insert(len(block.children), nodes)
    project_file.write_bytes(doc.to_bytes())
