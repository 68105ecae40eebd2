"""Headless renderer: turns tracks and folders of the session model into audio, as REAPER plays them.

Per item: the active take's source from ``source_offset`` on, advancing ``play_rate`` seconds of
source per second of timeline (looped if the item loops), its channel mode, item trim × take volume,
take pan, fades; muted items are silent. Per track: the sum of its items, then its FX chain (IEM
plug-ins through our emulations; any other plug-in is skipped with a warning), then optionally its
fader and pan. A folder adds the post-fader output of each child that sends to its parent; a
track with receives adds each sending track's signal (post-fader, pre-fader or pre-FX) at the
receive's volume and pan, before its own FX.
Output is always stereo float32 at the project sample rate.

Tracks it cannot play (:mod:`.playable`) can be given as REAPER's own pre-fader renders
(``rendered``: track GUID → audio file): such a track plays its file instead of its items,
children, receives and FX, then its fader and pan, so a folder of them sums as in REAPER.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from ..session import Item, Project, Receive, Source, Track
from .io import MediaError, read_audio, resample

log = logging.getLogger("reaper_automix.render")

CACHE_BYTES = 768 * 1024 * 1024


class MissingMediaError(MediaError):
    """An item's media is missing or unreadable; the message names track, item and path."""


def pan_gains(pan: float) -> tuple[float, float]:
    """REAPER's default "stereo balance / mono pan" at a 0 dB pan law: the far side fades
    linearly, the near side stays at unity, so the centre is unity on both channels."""
    return (min(1.0, 1.0 - pan), min(1.0, 1.0 + pan))


def fade_curve(t: np.ndarray, shape: int) -> np.ndarray:
    """Fade-in gain for normalised time t ∈ [0, 1] (a fade-out uses 1 − t).

    Shape 0 is linear; REAPER's other shapes are documented approximations (docs/renderer.md).
    """
    curves: dict[int, Callable[[np.ndarray], np.ndarray]] = {
        0: lambda x: x,
        1: lambda x: 1.0 - (1.0 - x) ** 2,
        2: lambda x: x**2,
        3: lambda x: 1.0 - (1.0 - x) ** 4,
        4: lambda x: x**4,
        5: lambda x: x * x * (3.0 - 2.0 * x),
        6: lambda x: 0.5 - 0.5 * np.cos(np.pi * x),
        7: lambda x: np.sin(0.5 * np.pi * x),
    }
    return curves.get(shape, curves[0])(np.clip(t, 0.0, 1.0))


class Renderer:
    """Renders tracks of one project; safe to call from several threads. Decoded sources are
    cached up to ``cache_bytes`` (0: no cache, for jobs that render each source once)."""

    def __init__(
        self,
        project: Project,
        *,
        skip_missing: bool = False,
        warn: Callable[[str], None] | None = None,
        cache_bytes: int = CACHE_BYTES,
        rendered: Mapping[str, str | Path] | None = None,
        rendered_start: float = 0.0,
        rendered_post_fader: bool = False,
    ) -> None:
        """``rendered`` maps track GUIDs to REAPER's renders of those tracks from
        ``rendered_start`` (seconds) on: pre-fader (post-FX, before fader and pan), or, with
        ``rendered_post_fader`` (REAPER before pre-fader stems), post-fader, divided back here by
        the track's fader gain and pan gains."""
        self.project = project
        self.rendered = {guid.strip("{}").upper(): Path(path)
                         for guid, path in (rendered or {}).items()}
        self.rendered_start = rendered_start
        self.rendered_post_fader = rendered_post_fader
        self.cache_bytes = cache_bytes
        self._lock = threading.Lock()
        self._local = threading.local()  # per thread: the tracks being rendered (loop guard)
        self.sample_rate = project.sample_rate
        self.skip_missing = skip_missing
        self.warnings: list[str] = []
        self._warn_callback = warn
        self._cache: OrderedDict[tuple[str, float], np.ndarray] = OrderedDict()
        self._cache_bytes = 0
        self._warned: set[str] = set()

    # ------------------------------------------------------------------------------ public
    def n_samples(self, end: float | None = None) -> int:
        return int(round((self.project.length if end is None else end) * self.sample_rate))

    def track(
        self, track: Track, *, fader: bool = True, pan: bool = True, fx: bool = True,
        end: float | None = None,
    ) -> np.ndarray:
        """Stereo output of a track (a folder includes its children), optionally post-fader."""
        n = self.n_samples(end)
        if track.mute and fader:
            return np.zeros((n, 2), np.float32)
        rendering = self._local.__dict__.setdefault("rendering", [])
        if any(t is track for t in rendering):
            path = " → ".join(t.display_name for t in [*rendering, track])
            raise ValueError(f"routing loop: {path}; remove one of these sends")
        rendering.append(track)
        try:
            return self._track(track, n, fader, pan, fx, end)
        finally:
            rendering.pop()

    def _track(self, track: Track, n: int, fader: bool, pan: bool, fx: bool,
               end: float | None) -> np.ndarray:
        audio = self.rendered_track(track, n)  # REAPER's render already holds its receives
        if audio is None:
            audio = self.items(track, n)
            for child in track.children:
                if child.main_send and not child.mute:
                    audio += self.track(child, fader=True, pan=True, fx=fx, end=end)
            for receive in track.receives:
                if not receive.mute and not receive.source.mute:
                    audio += self._received(receive, fx, end)
            if fx:
                audio = self.apply_fx(track, audio)
        if fader:
            audio *= np.float32(track.volume)
        if pan and track.pan != 0.0:
            audio *= np.asarray(pan_gains(track.pan), np.float32)
        return audio

    def _received(self, receive: Receive, fx: bool, end: float | None) -> np.ndarray:
        """What a receive adds: the source post-fader (mode 0), post-FX pre-fader (3) or
        pre-FX (1), times the receive's volume and pan."""
        post_fader = receive.mode == 0
        signal = self.track(receive.source, fader=post_fader, pan=post_fader,
                            fx=fx and receive.mode != 1, end=end)
        gains = np.asarray(pan_gains(receive.pan), np.float32) * np.float32(receive.volume)
        return signal * gains

    def mix(self, *, end: float | None = None) -> np.ndarray:
        """The master sum: every top-level track that sends to the master, post-fader."""
        out = np.zeros((self.n_samples(end), 2), np.float32)
        for top in self.project.top_level:
            if top.main_send and not top.mute:
                out += self.track(top, end=end)
        return out

    def rendered_track_path(self, track: Track) -> Path | None:
        """The file of REAPER's render of ``track``, if one was given."""
        return self.rendered.get(track.guid.strip("{}").upper())

    def rendered_track(self, track: Track, n: int) -> np.ndarray | None:
        """REAPER's pre-fader render of ``track`` (n samples from 0), if one was given."""
        path = self.rendered_track_path(track)
        if path is None:
            return None
        audio, rate = read_audio(path)
        audio = _channel_mode(resample(audio, rate, self.sample_rate), 0)
        if self.rendered_post_fader:
            audio = audio / self._post_fader_gains(track)
        out = np.zeros((n, 2), np.float32)
        first = int(round(self.rendered_start * self.sample_rate))
        lo, hi = max(first, 0), min(first + audio.shape[0], n)
        if hi > lo:
            out[lo:hi] = audio[lo - first : hi - first]
        return out

    def _post_fader_gains(self, track: Track) -> np.ndarray:
        gains = np.asarray(pan_gains(track.pan), np.float32) * np.float32(track.volume)
        if track.mute or not np.all(gains > 0):
            raise ValueError(
                f"track {track.display_name!r}: this REAPER renders stems after the fader only "
                "(pre-fader stems need REAPER 7), and its fader is at -inf, it is muted or "
                "panned hard to one side, so its level before the fader cannot be recovered; "
                "update REAPER, or set its fader and pan for the analysis and run again")
        return gains

    def items(self, track: Track, n: int) -> np.ndarray:
        """Sum of a track's own items (pre-FX, pre-fader), stereo, n samples long."""
        out = np.zeros((n, 2), np.float32)
        for number, item in enumerate(track.items, start=1):
            if item.mute:
                continue
            self._add_item(out, track, number, item)
        return out

    def apply_fx(self, track: Track, audio: np.ndarray) -> np.ndarray:
        """Run the track's FX chain: IEM plug-ins through the emulations, others skipped."""
        if not track.fx_enabled:
            return audio
        for fx in track.fx:
            if not fx.active:
                continue
            plugin = fx.iem_plugin
            if plugin is None:
                self._warn(
                    f"track {track.display_name!r}: plug-in {fx.label!r} cannot be rendered "
                    "headless and is skipped"
                )
                continue
            from ..iem import fx_params, process

            audio = process(plugin, fx_params(fx), audio, self.sample_rate).astype(np.float32)
        return audio

    # ----------------------------------------------------------------------------- items
    def _add_item(self, out: np.ndarray, track: Track, number: int, item: Item) -> None:
        take = item.active_take
        if take is None or take.source is None or take.volume == 0.0:
            return
        if not take.source.is_audio_file:
            if take.source.kind in ("MIDI",):
                self._warn(
                    f"track {track.display_name!r}: MIDI item {number} is not rendered "
                    "(instrument plug-ins are not hosted headless)"
                )
            return
        sr = self.sample_rate
        start = int(round(item.position * sr))
        stop = int(round(item.end * sr))
        lo, hi = max(start, 0), min(stop, out.shape[0])
        if hi <= lo:
            return
        try:
            source = self._source(take.source, take.play_rate)
        except MediaError as exc:
            message = (
                f"track {track.display_name!r}, item {number} ({item.name or 'unnamed'}): "
                f"{exc}. Relink the media in REAPER or pass --skip-missing to render it silent."
            )
            if not self.skip_missing:
                raise MissingMediaError(message) from exc
            self._warn(message + " Rendered as silence.")
            return
        offset = int(round(take.source_offset * sr / take.play_rate))
        segment = _channel_mode(_read_span(source, lo - start + offset, hi - lo, loop=item.loop),
                                take.channel_mode)
        gains = np.asarray(pan_gains(take.pan), np.float32) * np.float32(item.volume * take.volume)
        if item.fade_in.length > 0 or item.fade_out.length > 0:
            gains = gains * _fade_envelope(item, sr, np.arange(lo - start, hi - start))[:, None]
        out[lo:hi] += segment if np.all(gains == 1.0) else segment * gains

    def _source(self, source: Source, play_rate: float) -> np.ndarray:
        """The source (section/reverse applied) at project rate, sped up by ``play_rate``."""
        assert source.path is not None
        key = (f"{source.path}|{source.section_start}|{source.section_length}|{source.reverse}",
               play_rate)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        audio, file_rate = read_audio(source.path)
        if source.section_start or source.section_length is not None:
            first = int(round(source.section_start * file_rate))
            length = source.section_length
            last = audio.shape[0] if length is None else first + int(round(length * file_rate))
            audio = audio[first:last]
        if source.reverse:
            audio = audio[::-1]
        audio = np.ascontiguousarray(resample(audio, file_rate * play_rate, self.sample_rate))
        self._remember(key, audio)
        return audio

    def _remember(self, key: tuple[str, float], audio: np.ndarray) -> None:
        if audio.nbytes > self.cache_bytes:
            return
        with self._lock:
            if key in self._cache:
                return
            self._cache[key] = audio
            self._cache_bytes += audio.nbytes
            while self._cache_bytes > self.cache_bytes:
                _, old = self._cache.popitem(last=False)
                self._cache_bytes -= old.nbytes

    def _warn(self, message: str) -> None:
        with self._lock:
            if message in self._warned:
                return
            self._warned.add(message)
            self.warnings.append(message)
        log.debug(message)
        if self._warn_callback is not None:
            self._warn_callback(message)


def _read_span(source: np.ndarray, first: int, count: int, *, loop: bool) -> np.ndarray:
    """The (count, channels) source samples first … first + count, silence outside the source
    (or wrapped around it when the item loops): a view of the source where it covers the span,
    so the caller must not write to it."""
    length = source.shape[0]
    if loop and length:
        return source[np.mod(np.arange(first, first + count), length)]
    if first >= 0 and first + count <= length:
        return source[first : first + count]
    out = np.zeros((count, source.shape[1]), np.float32)
    lo, hi = max(first, 0), min(first + count, length)
    if hi > lo:
        out[lo - first : hi - first] = source[lo:hi]
    return out


def _channel_mode(audio: np.ndarray, mode: int) -> np.ndarray:
    """Map a take's channels to the stereo track: mono plays on both sides. A stereo take in
    normal mode is returned as it is; any other gives a new array."""
    channels = audio.shape[1]
    if mode == 0 and channels == 2:
        return audio
    left = audio[:, 0]
    right = audio[:, 1] if channels > 1 else left
    if mode == 1:
        left, right = right, left
    elif mode == 2:
        left = right = 0.5 * (left + right)
    elif mode == 3:
        right = left
    elif mode == 4:
        left = right
    elif mode >= 5:  # mono of channel (mode - 2), 1-based: 5 → channel 3
        index = min(mode - 3, channels - 1)
        left = right = audio[:, index]
    return np.stack([left, right], axis=1).astype(np.float32, copy=True)


def _fade_envelope(item: Item, sr: int, offsets: np.ndarray) -> np.ndarray:
    envelope = np.ones(offsets.size)
    length = item.length * sr
    fade_in = item.fade_in.length * sr
    if fade_in > 0:
        envelope = envelope * fade_curve(offsets / fade_in, item.fade_in.shape)
    fade_out = item.fade_out.length * sr
    if fade_out > 0:
        envelope = envelope * fade_curve((length - offsets) / fade_out, item.fade_out.shape)
    return envelope.astype(np.float32)


def render_project_track(
    path: str | Path, track: str | None = None, *, skip_missing: bool = False,
    skip_unplayable: bool = False,
) -> tuple[np.ndarray, int, list[str]]:
    """Convenience: open a project and render one track/folder (or the master mix). Tracks the
    renderer cannot play as REAPER does raise :class:`UnplayableTracksError`, or are warned
    about with ``skip_unplayable``."""
    from ..hosts.rpp import open_project
    from .playable import (
        UnplayableTracksError,
        describe_unplayable,
        unplayable_tracks,
        unplayable_warning,
    )

    project = open_project(path)
    roots = ([project.track(track)] if track is not None
             else [t for t in project.top_level if t.main_send and not t.mute])
    unplayable = unplayable_tracks(roots)
    if unplayable and not skip_unplayable:
        raise UnplayableTracksError(describe_unplayable(
            unplayable, "Render it in REAPER instead (File > Render)"))
    renderer = Renderer(project, skip_missing=skip_missing)
    renderer.warnings.extend(map(unplayable_warning, unplayable))
    if track is None:
        return renderer.mix(), project.sample_rate, renderer.warnings
    return renderer.track(project.track(track)), project.sample_rate, renderer.warnings
