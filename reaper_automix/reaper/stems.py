"""REAPER renders the tracks the headless renderer cannot play: pre-fader stems for the worker.

:func:`render_stems` has REAPER render any set of tracks as stems over a time range, as 32-bit
float WAV at a given rate, into a fresh folder of the job, with the render action the render
dialog's "Render" button runs. Before: the user's render settings, track selection, time
selection, loop points, edit cursor and play state are saved; after (also when the render fails
or is cancelled): they are restored. Nothing is added to the project and the render is not an
undo point. REAPER 7 renders pre-fader stems (post-FX, before fader and pan; ``RENDER_SETTINGS``
&8192); older versions render post-fader and the worker divides the fader and pan gains back out
(:class:`~reaper_automix.audio.render.Renderer`). See docs/reaper.md, "REAPER renders what the
renderer cannot play". Standard library only: this runs inside REAPER.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ..audio.playable import RENDER_MODES
from ..session import Track
from .api import ReaperApi

#: "File: Render project, using the most recent render settings, auto-close render dialog".
RENDER_ACTION = 42230
#: RENDER_SETTINGS: stems of the selected tracks as the render dialog stores them (3), and
#: &8192 pre-fader stems (REAPER 7 API text: "pre-fader stems (not if via master)").
STEMS_OF_SELECTED_TRACKS = 3
PRE_FADER = 8192
#: The first REAPER whose API text lists RENDER_SETTINGS &8192 (copies of the 6.x text stop at
#: &2048).
PRE_FADER_SINCE = 7
#: RENDER_FORMAT: WAV, 32-bit float (the bytes "evaw", 32, 1, 0 in base64).
FLOAT_WAV = "ZXZhdyABAA=="
#: RENDER_PATTERN: one file per track, named by its number (1-based, as in the track list).
PATTERN = "$tracknumber"
#: Every render setting the render changes, restored afterwards (RENDER_FORMAT last: scripts
#: report that REAPER may reset the format when other settings are set after it).
NUMBER_SETTINGS = ("RENDER_SETTINGS", "RENDER_BOUNDSFLAG", "RENDER_STARTPOS", "RENDER_ENDPOS",
                   "RENDER_SRATE", "RENDER_CHANNELS", "RENDER_TAILFLAG", "RENDER_TAILMS",
                   "RENDER_ADDTOPROJ", "RENDER_DITHER", "RENDER_NORMALIZE", "RENDER_FADEIN",
                   "RENDER_FADEOUT")
STRING_SETTINGS = ("RENDER_FILE", "RENDER_PATTERN", "RENDER_FORMAT2", "RENDER_FORMAT")
#: Project ext-state key of the actions' ``render`` setting, and the global key remembering how
#: fast REAPER rendered last time (seconds of audio per second), for the estimate.
SECTION = "reaper-automix"
MODE_KEY = "render"
SPEED_KEY = "render_speed"
_PLAYING, _PAUSED, _RECORDING = 1, 2, 4


class StemRenderError(RuntimeError):
    """REAPER's render could not be made; the user's settings were restored."""


@dataclass(frozen=True)
class StemRequest:
    """Tracks ((pointer, track) pairs) an action has REAPER render before its job starts."""

    tracks: list[tuple[str, Track]]
    start: float
    end: float
    sample_rate: int  # the rate the worker renders at (the project's setting, else its default)

    def render(self, api: ReaperApi, proj: str, folder: Path) -> Stems:
        return render_stems(api, proj, self.tracks, self.start, self.end, self.sample_rate,
                            folder)


@dataclass(frozen=True)
class Stems:
    """What REAPER rendered: track GUID → WAV, the range, and whether pre-fader."""

    files: dict[str, Path]
    start: float
    end: float
    sample_rate: int
    pre_fader: bool
    seconds: float  # wall time REAPER's render took

    def request_fields(self) -> dict[str, object]:
        """The fields of a worker request that hand the renders to the job."""
        return {"rendered": {guid: str(path) for guid, path in self.files.items()},
                "rendered_start": self.start, "rendered_post_fader": not self.pre_fader}


def load_render_mode(api: ReaperApi, proj: str) -> str:
    mode = api.project_ext_state(proj, SECTION, MODE_KEY).strip().lower()
    return mode if mode in RENDER_MODES else RENDER_MODES[0]


def save_render_mode(api: ReaperApi, proj: str, mode: str) -> None:
    if mode not in RENDER_MODES:
        raise ValueError(f"render {mode!r}: type one of {', '.join(RENDER_MODES)}")
    api.set_project_ext_state(proj, SECTION, MODE_KEY, mode)


def pre_fader_supported(app_version: str) -> bool:
    try:
        return int(app_version.split(".", 1)[0]) >= PRE_FADER_SINCE
    except ValueError:
        return False


def render_stems(api: ReaperApi, proj: str, tracks: Sequence[tuple[str, Track]], start: float,
                 end: float, sample_rate: int, folder: Path) -> Stems:
    """Have REAPER render ``tracks`` ((pointer, track) pairs) as stems over ``start``–``end``
    into ``folder`` (created; it must not exist yet). Raises :class:`StemRenderError` when
    REAPER records, refuses the settings, or renders nothing or less than asked (cancelled)."""
    if not tracks:
        raise ValueError("no track to render")
    if api.play_state(proj) & _RECORDING:
        raise StemRenderError("REAPER is recording: stop recording, then run the action again")
    folder.mkdir(parents=True)
    pre_fader = pre_fader_supported(api.app_version())
    numbers = {int(api.track_value(pointer, "IP_TRACKNUMBER")): track
               for pointer, track in tracks}
    _announce(api, [t for _, t in tracks], end - start, pre_fader)
    with _users_state_kept(api, proj):
        for pointer in api.tracks(proj):
            api.set_track_selected(pointer, any(pointer == p for p, _ in tracks))
        settings = render_settings(start, end, sample_rate, folder, pre_fader)
        for key in NUMBER_SETTINGS:
            api.set_project_info(proj, key, settings[key])
        for key in STRING_SETTINGS:
            api.set_project_info_string(proj, key, settings[key])
        files = _targets(api.project_info_string(proj, "RENDER_TARGETS"), folder, numbers)
        began = time.monotonic()
        api.run_action(proj, RENDER_ACTION)
        seconds = time.monotonic() - began
    for path in files.values():
        check_wav(path, sample_rate, end - start)
    if seconds > 0:
        api.set_ext_state(SECTION, SPEED_KEY, f"{(end - start) / seconds:.3f}")
    api.console(f"AutoMix: REAPER rendered {len(files)} track(s) in {seconds:.1f} s\n")
    return Stems(files, start, end, sample_rate, pre_fader, seconds)


def render_settings(start: float, end: float, sample_rate: int, folder: Path,
                    pre_fader: bool) -> dict[str, float | str]:
    """The render settings in force while REAPER renders the stems."""
    return {
        "RENDER_SETTINGS": STEMS_OF_SELECTED_TRACKS | (PRE_FADER if pre_fader else 0),
        "RENDER_BOUNDSFLAG": 0, "RENDER_STARTPOS": start, "RENDER_ENDPOS": end,  # custom range
        "RENDER_SRATE": sample_rate, "RENDER_CHANNELS": 2,
        "RENDER_TAILFLAG": 0, "RENDER_TAILMS": 0,  # exactly the range: no tail
        "RENDER_ADDTOPROJ": 0,  # never add the files to the project
        "RENDER_DITHER": 0, "RENDER_NORMALIZE": 0, "RENDER_FADEIN": 0, "RENDER_FADEOUT": 0,
        "RENDER_FILE": str(folder), "RENDER_PATTERN": PATTERN,
        "RENDER_FORMAT2": "",  # no secondary format
        "RENDER_FORMAT": FLOAT_WAV,
    }


def estimate(api: ReaperApi, seconds_of_audio: float) -> str:
    """How long REAPER will be busy, from the speed of its last render on this machine."""
    try:
        speed = float(api.ext_state(SECTION, SPEED_KEY))
    except ValueError:
        speed = 0.0
    if speed > 0:
        return (f"about {_duration(seconds_of_audio / speed)} (the last render here ran at "
                f"{speed:.0f}x real time)")
    return (f"up to {_duration(seconds_of_audio)} at real-time speed, usually much less (first "
            "render here)")


def _announce(api: ReaperApi, tracks: list[Track], seconds: float, pre_fader: bool) -> None:
    names = ", ".join(t.display_name for t in tracks[:6]) + (", …" if len(tracks) > 6 else "")
    where = "before their faders" if pre_fader else "after their faders (this REAPER has no " \
        "pre-fader stems; the faders are divided back out)"
    api.console(f"AutoMix: REAPER renders {len(tracks)} track(s) that only REAPER can play "
                f"({names}) {where}, {_duration(seconds)} of the project; REAPER is busy until "
                f"it is done: {estimate(api, seconds)}\n")


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)}:{seconds % 60:04.1f}"


@contextmanager
def _users_state_kept(api: ReaperApi, proj: str) -> Iterator[None]:
    """Save the render settings, selection, time selection, loop points, edit cursor and play
    state; stop playback; restore all of it afterwards, whatever happens."""
    numbers = {key: api.project_info(proj, key) for key in NUMBER_SETTINGS}
    strings = {key: api.project_info_string(proj, key) for key in STRING_SETTINGS}
    selected = set(api.selected_tracks(proj))
    ranges = {loop: api.time_range(proj, loop) for loop in (False, True)}
    cursor, state = api.cursor_position(proj), api.play_state(proj)
    position = api.play_position(proj)
    if state & (_PLAYING | _PAUSED):
        api.stop(proj)
    try:
        yield
    finally:
        steps = [*(partial(api.set_project_info, proj, key, number)
                   for key, number in numbers.items()),
                 *(partial(api.set_project_info_string, proj, key, text)
                   for key, text in strings.items()),  # RENDER_FORMAT last
                 *(partial(api.set_track_selected, pointer, pointer in selected)
                   for pointer in api.tracks(proj)),
                 *(partial(api.set_time_range, proj, loop, start, end)
                   for loop, (start, end) in ranges.items())]
        if state & (_PLAYING | _PAUSED):
            steps.append(partial(api.set_cursor_position, proj, position))
            steps += [partial(api.play, proj)] if state & _PLAYING else []
            steps += [partial(api.pause, proj)] if state & _PAUSED else []
        steps.append(partial(api.set_cursor_position, proj, cursor))
        _run_all(steps)


def _run_all(steps: list[Callable[[], object]]) -> None:
    """Run every step even if one fails (restoring as much as possible); then raise the first
    failure."""
    failures = []
    for step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001  (re-raised below)
            failures.append(exc)
    if failures:
        raise failures[0]


def _targets(text: str, folder: Path, numbers: dict[int, Track]) -> dict[str, Path]:
    """Track GUID → file, from RENDER_TARGETS (the files the settings in force would write);
    refuses before rendering when a file would land outside ``folder`` or a track has none."""
    files: dict[str, Path] = {}
    for target in filter(None, (t.strip() for t in text.split(";"))):
        path = Path(target)
        if path.parent.resolve() != folder.resolve():
            raise StemRenderError(f"REAPER would write {path} outside the job folder {folder}; "
                                  "nothing was rendered")
        try:
            track = numbers.get(int(path.stem))
        except ValueError:
            continue  # not one of ours (a master mix file, say): it stays in the job folder
        if track is not None:
            files[track.guid] = path
    missing = [t.display_name for t in numbers.values() if t.guid not in files]
    if missing:
        raise StemRenderError(
            f"REAPER's render settings would not write a stem for {', '.join(missing)} "
            f"(RENDER_TARGETS: {text or 'nothing'}); nothing was rendered")
    return files


def check_wav(path: Path, sample_rate: int, seconds: float) -> None:
    """The file is a stereo 32-bit float WAV at ``sample_rate`` holding ``seconds``, else
    :class:`StemRenderError` (a missing or short file: the render was cancelled or failed).
    Reads the chunk headers only."""
    try:
        fmt, data_size = _wav_layout(path)
    except OSError:
        raise StemRenderError(f"REAPER did not write {path.name}: its render was cancelled or "
                              "failed") from None
    if fmt is None or len(fmt) < 16 or data_size is None:
        raise StemRenderError(f"{path.name} is not a WAV file: REAPER's render failed")
    tag, channels, rate, _, align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == 0xFFFE and len(fmt) >= 26:
        tag = struct.unpack_from("<H", fmt, 24)[0]  # the extensible format's sub-format
    if (tag, channels, rate, bits) != (3, 2, sample_rate, 32):
        raise StemRenderError(f"{path.name} is not the stereo 32-bit float WAV at {sample_rate} "
                              f"Hz that was asked for (format {tag}, {channels} ch, {rate} Hz, "
                              f"{bits} bit)")
    frames = data_size // align
    if frames < round(seconds * sample_rate) - 1:
        raise StemRenderError(f"{path.name} holds {frames / sample_rate:.1f} s of "
                              f"{seconds:.1f} s: REAPER's render was cancelled or failed")


def _wav_layout(path: Path) -> tuple[bytes | None, int | None]:
    """(the fmt chunk, the data chunk's size, bounded by the file's length) of a RIFF WAVE."""
    fmt, data_size = None, None
    with open(path, "rb") as handle:
        length = path.stat().st_size
        head = handle.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None, None
        while header := handle.read(8):
            if len(header) < 8:
                break
            kind, size = header[:4], struct.unpack("<I", header[4:])[0]
            if kind == b"fmt ":
                fmt = handle.read(size)
            elif kind == b"data":
                data_size = min(size, length - handle.tell())
                break
            else:
                handle.seek(size, 1)
            if size & 1:
                handle.seek(1, 1)
    return fmt, data_size
