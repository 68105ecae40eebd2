"""Per-track analysis for level balancing, run over many tracks on a small thread pool.

Threads, not processes: the heavy work (scipy sosfilt, scipy.fft, torch) releases the GIL, and
threads share the callers' arrays instead of pickling hundreds of megabytes. A track may be given
as an array or as a zero-argument callable that loads it, so that a worker holds only the track
it is analysing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import partial
from typing import Union

import numpy as np

from .cfb import CfbOptions, CfbResult, Method, cfb_loudness
from .loudness import (
    InvalidAudioError,
    LoudnessMeter,
    TooShortError,
    amplitude_to_db,
    as_frames,
    sample_peak,
    stem_channel_weights,
)
from .pitch import torch_threads
from .role_features import SpectralStats

AudioSource = Union[np.ndarray, Callable[[], np.ndarray]]
ACTIVITY_THRESHOLD_LUFS = -50.0
DEFAULT_WORKERS = 2
DEFAULT_STEM_CHANNELS = 2


@dataclass(frozen=True)
class TrackAnalysis:
    """Activity, peak and CFB loudness of one track, measured in the stem's channel layout."""

    index: int
    name: str
    n_samples: int
    channels: int
    full_band_lufs: float | None  # None when shorter than one 400 ms block
    sample_peak: float  # linear
    cfb: CfbResult | None  # None when inactive
    inactive_reason: str | None
    features: np.ndarray | None = None  # role features (classify=True, centroid method)

    @property
    def active(self) -> bool:
        return self.cfb is not None

    @property
    def sample_peak_dbfs(self) -> float:
        return amplitude_to_db(self.sample_peak)


#: Called with each analysis and the track's audio (on the analysing thread).
Consumer = Callable[[TrackAnalysis, np.ndarray], None]


def load_source(source: AudioSource, name: str) -> np.ndarray:
    """The (samples, channels) array of a track given as an array or a loader callable."""
    audio = source() if callable(source) else source
    try:
        return as_frames(audio)
    except InvalidAudioError as exc:
        raise InvalidAudioError(f"track {name!r}: {exc}") from exc


def analyse_track(
    audio: np.ndarray,
    sample_rate: float,
    method: Method = "centroid",
    *,
    stem_channels: int = DEFAULT_STEM_CHANNELS,
    activity_lufs: float = ACTIVITY_THRESHOLD_LUFS,
    options: CfbOptions = CfbOptions(),
    name: str = "track",
    index: int = 0,
    consume: Consumer | None = None,
    classify: bool = False,
) -> TrackAnalysis:
    """Analyse one track in the stem layout; inactive tracks (too short, silent or not above
    ``activity_lufs`` full band) get no CFB result, and the f0 method skips PESTO for them.
    ``classify`` (centroid method) also collects the role features from the same spectra.

    ``consume(analysis, frames)`` is called with the result and the track's audio before the
    audio is dropped (a decision sums the stem there instead of loading every track again)."""
    frames = load_source(audio, name)
    analysis = _analyse_frames(frames, sample_rate, method, stem_channels, activity_lufs, options,
                               name, index, classify and method == "centroid")
    if consume is not None:
        consume(analysis, frames)
    return analysis


def _analyse_frames(
    frames: np.ndarray,
    sample_rate: float,
    method: Method,
    stem_channels: int,
    activity_lufs: float,
    options: CfbOptions,
    name: str,
    index: int,
    classify: bool = False,
) -> TrackAnalysis:
    weights = stem_channel_weights(frames.shape[1], stem_channels)
    peak = sample_peak(frames)
    base = TrackAnalysis(index, name, frames.shape[0], frames.shape[1], None, peak, None, None)
    stats = SpectralStats(sample_rate) if classify else None
    measure = partial(cfb_loudness, frames, sample_rate, method, channel_weights=weights,
                      options=options, stats=stats)
    try:
        if method == "f0":  # PESTO is expensive: gate on activity before running it
            full = LoudnessMeter(sample_rate, weights).integrated(frames)
            cfb = measure(full_band_lufs=full) if full > activity_lufs else None
        else:  # the band shares one K-weighting pass with the full-band loudness
            cfb = measure()
            full = cfb.full_band_lufs
    except TooShortError as exc:
        return replace(base, inactive_reason=str(exc))
    base = replace(base, full_band_lufs=full)
    if not full > activity_lufs:
        reason = "silent" if full == -math.inf else f"{full:.1f} LUFS is not above {activity_lufs:g} LUFS"
        return replace(base, inactive_reason=reason)
    return replace(base, cfb=cfb, features=stats.features if stats is not None else None)


def analyse_tracks(
    tracks: Sequence[AudioSource],
    sample_rate: float,
    method: Method = "centroid",
    *,
    stem_channels: int = DEFAULT_STEM_CHANNELS,
    activity_lufs: float = ACTIVITY_THRESHOLD_LUFS,
    options: CfbOptions = CfbOptions(),
    names: Sequence[str] | None = None,
    workers: int = DEFAULT_WORKERS,
    consume: Consumer | None = None,
    classify: Sequence[bool] | None = None,
    executor: Executor | None = None,
) -> list[TrackAnalysis]:
    """Analyse every track (in order) on ``workers`` threads, or on ``executor``'s (a pool the
    caller shares between groups, so that analysing two groups at once does not double the
    threads); see analyse_track. Loader callables run on the worker threads, so rendering is
    parallel too. ``classify[i]``: collect track i's role features."""
    labels = _names(len(tracks), names)
    wanted = [False] * len(tracks) if classify is None else list(classify)

    def job(index: int) -> TrackAnalysis:
        return analyse_track(
            tracks[index], sample_rate, method, stem_channels=stem_channels,
            activity_lufs=activity_lufs, options=options, name=labels[index], index=index,
            consume=consume, classify=wanted[index],
        )

    if executor is None and (workers <= 1 or len(tracks) <= 1):
        return [job(i) for i in range(len(tracks))]
    with ExitStack() as stack:
        if method == "f0":
            stack.enter_context(torch_threads(1))
        pool = executor or stack.enter_context(ThreadPoolExecutor(max_workers=workers, thread_name_prefix="analyse"))
        return list(pool.map(job, range(len(tracks))))


def _names(count: int, names: Sequence[str] | None) -> list[str]:
    if names is None:
        return [f"track {i + 1}" for i in range(count)]
    if len(names) != count:
        raise ValueError(f"{len(names)} names given for {count} tracks")
    return list(names)
