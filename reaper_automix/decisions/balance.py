"""Auto balance group: the pure gain decision of algorithms.md A.3, on audio arrays.

No project or session code: the caller passes the folder's tracks as they sound in the stem
(same length, stem channel layout; a mono track counts as dual mono on a stereo stem) and gets a
gain in dB per track (the fader value, applied to the track as given). Default rule ([product],
revised A.3, ``level="keep"``):

* a track is active if its full-band loudness is finite and > −50 LUFS; inactive tracks keep
  their gain (reported as 0 dB);
* r_i = o_i − l_i, with l_i the CFB loudness and o_i the track's target offset (default 0 dB);
* b is chosen so that the balanced stem Σ 10^((b + r_i)/20)·track_i has the integrated loudness
  the children had before (summed at their current gains c_i); if that stem would peak above
  −0.1 dBFS, b is lowered until it peaks at −0.1 dBFS (reported);
* g_i = b + r_i.

``level="peak"`` is the paper's reading: p = sample peak (dBFS) of the provisional stem (gains
r_i), b = −0.1 − p, so the balanced stem peaks at exactly −0.1 dBFS.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import Literal

import numba
import numpy as np

from ..analysis.cfb import CfbOptions, CfbResult, Method
from ..analysis.loudness import (
    LoudnessMeter,
    amplitude_to_db,
    energy_profile,
    gated_loudness,
    stem_channel_weights,
)
from ..analysis.role_classifier import expected_offset, shipped_classifier
from ..analysis.roles import ROLES, RoleGuess, check_role
from ..analysis.tracks import (
    ACTIVITY_THRESHOLD_LUFS,
    DEFAULT_STEM_CHANNELS,
    DEFAULT_WORKERS,
    AudioSource,
    TrackAnalysis,
    analyse_tracks,
    load_source,
)

PeakScope = Literal["stem", "tracks"]
StemsConsumer = Callable[[np.ndarray, np.ndarray], None]
Target = Literal["product", "authors"]
Level = Literal["keep", "peak"]
PEAK_SCOPES: tuple[str, ...] = ("stem", "tracks")
TARGETS: tuple[str, ...] = ("product", "authors")
LEVELS: tuple[str, ...] = ("keep", "peak")
PEAK_CEILING_DBFS = -0.1
AUTHORS_TARGET_LUFS = -50.0
AUTHORS_PEAK_CEILING_DBFS = -1.0


@dataclass(frozen=True)
class TrackGain:
    """The decision for one track."""

    analysis: TrackAnalysis
    offset_db: float
    gain_db: float  # 0.0 for inactive tracks
    role: RoleGuess | None = None  # role-aware targets only

    @property
    def index(self) -> int:
        return self.analysis.index

    @property
    def name(self) -> str:
        return self.analysis.name

    @property
    def active(self) -> bool:
        return self.analysis.active

    @property
    def inactive_reason(self) -> str | None:
        return self.analysis.inactive_reason

    @property
    def cfb(self) -> CfbResult | None:
        return self.analysis.cfb

    @property
    def loudness_db(self) -> float | None:
        """l_i: the CFB loudness (LUFS) the gain equalises; None for inactive tracks."""
        return self.cfb.loudness_lufs if self.cfb is not None else None

    @property
    def band_hz(self) -> tuple[float, float] | None:
        return self.cfb.band_hz if self.cfb is not None else None

    @property
    def reason(self) -> str | None:
        """Why the track is inactive, or why its band fell back; None when all went as planned."""
        return self.inactive_reason or (self.cfb.fallback if self.cfb is not None else None)

    @property
    def gain(self) -> float:
        """Linear gain λ_i = 10^(g_i/20)."""
        return 10.0 ** (self.gain_db / 20.0)


@dataclass(frozen=True)
class BalanceDecision:
    """Gains for one folder, with the numbers behind them.

    ``loudness_before_lufs`` / ``stem_loudness_lufs``: integrated loudness of the children summed
    at their gains before and after (``level="keep"``); ``peak_limit_db`` (≤ 0) is how far b was
    lowered so that the balanced stem peaks at −0.1 dBFS.
    """

    method: str
    peak_scope: str
    target: str
    tracks: tuple[TrackGain, ...]
    target_db: float | None  # b; AUTHORS_TARGET_LUFS for target="authors"; None if nothing active
    provisional_peak_dbfs: float | None  # p (product target only)
    stem_peak_dbfs: float | None  # sample peak of the active tracks summed with their final gains
    notes: tuple[str, ...] = ()
    level: str = "keep"
    loudness_before_lufs: float | None = None
    stem_loudness_lufs: float | None = None
    peak_limit_db: float = 0.0

    @property
    def gains_db(self) -> list[float]:
        return [track.gain_db for track in self.tracks]


def decide_balance(
    tracks: Sequence[AudioSource],
    sample_rate: float,
    method: Method = "centroid",
    *,
    offsets_db: Sequence[float] | None = None,
    roles: Sequence[RoleGuess | None] | None = None,
    role_offsets: Mapping[str, float] | None = None,
    level: Level = "keep",
    current_gains_db: Sequence[float] | None = None,
    peak_scope: PeakScope = "stem",
    target: Target = "product",
    activity_lufs: float = ACTIVITY_THRESHOLD_LUFS,
    stem_channels: int = DEFAULT_STEM_CHANNELS,
    options: CfbOptions = CfbOptions(),
    names: Sequence[str] | None = None,
    workers: int = DEFAULT_WORKERS,
    stems: StemsConsumer | None = None,
    executor: Executor | None = None,
) -> BalanceDecision:
    """Analyse a folder's tracks (arrays or loader callables) and decide their gains (A.3).

    ``current_gains_db``: the gains (faders) the tracks play at now, which set the level the
    group keeps (default 0 dB each: the tracks as given); only ``level="keep"`` uses them.
    ``stems(before, after)``: with ``level="keep"``, called with the tracks summed at their
    current gains and at the decided ones (float32 (samples, channels)), e.g. to check the
    whole mix for clipping without rendering the group again. ``executor``: analyse on this
    shared thread pool instead of ``workers`` threads of its own.

    Target offsets o_i come either from ``offsets_db`` (one per track) or, role-aware, from
    ``role_offsets`` (role → dB) and each track's role: ``roles[i]`` where known (the user's
    choice or the name's), else ``other`` (source "default").
    """
    if peak_scope not in PEAK_SCOPES:
        raise ValueError(f"unknown peak_scope {peak_scope!r}: choose one of {', '.join(PEAK_SCOPES)}")
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}: choose one of {', '.join(TARGETS)}")
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}: choose one of {', '.join(LEVELS)}")
    targets = _Targets.of(len(tracks), offsets_db, roles, role_offsets)
    offsets = targets.offsets
    current = _current_gains(len(tracks), current_gains_db)
    _check_equal_lengths(tracks, names)
    stem = None
    if target == "product":
        stem = _ProvisionalStem(targets, stem_channels, current if level == "keep" else None)
    analyses = analyse_tracks(
        tracks, sample_rate, method, stem_channels=stem_channels, activity_lufs=activity_lufs,
        options=options, names=names, workers=workers, consume=stem.add if stem else None,
        classify=targets.unknown(), executor=executor,
    )
    for analysis in analyses:
        targets.resolve(analysis)
    if stem is None:
        decision = _authors_decision(tracks, analyses, offsets, method, stem_channels)
        return _with_roles(decision, targets)
    decision = replace(_product_decision(tracks, analyses, offsets, method, peak_scope,
                                         stem_channels, stem.peak_dbfs()), level=level)
    decision = _with_roles(decision, targets)
    if level == "keep" and decision.target_db is not None:
        decision = _keep_level(decision, stem, sample_rate)
        if stems is not None and decision.level == "keep":
            stems(*stem.mixes(decision.target_db))
    return decision


@dataclass
class _Targets:
    """Each track's target offset o_i, and its role when the offsets come from roles.

    A role the caller does not know is resolved when the track's analysis is done (so that a
    later classifier can use the audio); until then its offset is unset."""

    offsets: list[float]
    roles: list[RoleGuess | None]
    table: Mapping[str, float] | None = None

    @classmethod
    def of(cls, count: int, offsets_db: Sequence[float] | None,
           roles: Sequence[RoleGuess | None] | None,
           role_offsets: Mapping[str, float] | None) -> _Targets:
        if roles is None and role_offsets is None:
            return cls(_offsets(count, offsets_db), [None] * count)
        if offsets_db is not None:
            raise ValueError("give either offsets_db or roles with role_offsets, not both")
        if role_offsets is None:
            raise ValueError("roles need role_offsets (role -> dB)")
        table = {check_role(role): float(value) for role, value in role_offsets.items()}
        if not all(math.isfinite(v) for v in table.values()):
            raise ValueError(f"role offsets must be finite dB values, got {table}")
        known = [None] * count if roles is None else list(roles)
        if len(known) != count:
            raise ValueError(f"{len(known)} roles given for {count} tracks")
        needed = {r.role for r in known if r is not None}
        if any(r is None for r in known):  # the classifier may give any role
            needed |= set(ROLES)
        missing = [role for role in ROLES if role in needed and role not in table]
        if missing:
            raise ValueError(f"the role offsets have no value for {', '.join(missing)}")
        return cls([math.nan] * count, known, table)

    def unknown(self) -> list[bool]:
        """Which tracks need their role from the audio."""
        return [self.table is not None and role is None for role in self.roles]

    def resolve(self, analysis: TrackAnalysis) -> float:
        """o_i of the analysed track (its role decided now if the caller did not know it: by the
        audio classifier, whose offset is the mean over the roles it finds likely)."""
        index = analysis.index
        if self.table is not None and math.isnan(self.offsets[index]):
            role, offset = self.roles[index], None
            classifier = shipped_classifier() if role is None and analysis.features is not None else None
            if classifier is not None:
                role, probabilities = classifier.classify(analysis.features)
                offset = expected_offset(probabilities, self.table)
            elif role is None:
                why = "inactive" if not analysis.active else "no audio classifier is installed"
                role = RoleGuess("other", "default", 0.0, f"the name says no role ({why})")
            self.roles[index] = role
            self.offsets[index] = self.table[role.role] if offset is None else offset
        return self.offsets[index]


class _ProvisionalStem:
    """The folder's sums, made as each track is analysed so that no track is loaded twice:

    * ``sum``: Σ 10^(r_i/20)·track_i over the active tracks (r_i = o_i − l_i);
    * with ``current_gains_db``, the group as it sounds now: ``before``, every track at its
      current gain, and ``fixed``, the inactive tracks at theirs (they keep them), each None
      while nothing plays in it.

    Float64 buses keep the sums' digits independent of the order the threads finish in (float32
    sums would move the gains' last digits)."""

    def __init__(self, targets: _Targets, channels: int,
                 current_gains_db: list[float] | None = None) -> None:
        self.targets, self.channels, self.current = targets, channels, current_gains_db
        self.buses: np.ndarray | None = None  # (3, samples, channels): sum, before, fixed
        self.playing = np.zeros(3, dtype=bool)
        self._lock = threading.Lock()

    @property
    def sum(self) -> np.ndarray | None:
        return None if self.buses is None else self.buses[0]

    @property
    def before(self) -> np.ndarray | None:
        return self.buses[1] if self.playing[1] else None

    @property
    def fixed(self) -> np.ndarray | None:
        return self.buses[2] if self.playing[2] else None

    def add(self, analysis: TrackAnalysis, audio: np.ndarray) -> None:
        gains = np.zeros(3)
        if analysis.active:
            gains[0] = 10.0 ** ((self.targets.resolve(analysis) - analysis.cfb.loudness_lufs) / 20.0)
        current = -math.inf if self.current is None else self.current[analysis.index]
        if current != -math.inf and (analysis.active or np.any(audio)):
            gains[1] = 10.0 ** (current / 20.0)
            gains[2] = 0.0 if analysis.active else gains[1]
        with self._lock:
            if self.buses is None:
                self.buses = np.zeros((3, audio.shape[0], self.channels))
            elif audio.shape[0] != self.buses.shape[1]:
                raise ValueError(_length_error(analysis.name, audio.shape[0], self.buses.shape[1]))
            _add_scaled(audio, self.buses, gains)
            self.playing |= gains != 0.0

    def mixes(self, b: float) -> tuple[np.ndarray | None, np.ndarray]:
        """The group now (``before``, None if silent) and at the decided gains (10^(b/20)·sum
        plus the inactive tracks), as float32 arrays made in one pass each."""
        before = None if self.before is None else self.before.astype(np.float32)
        after = np.empty(self.buses[0].shape, dtype=np.float32)
        _scaled_mix(self.buses[0], 10.0 ** (b / 20.0), self.buses[2], bool(self.playing[2]), after)
        return before, after

    def peak_dbfs(self, b: float = 0.0, *, with_fixed: bool = False) -> float:
        """Sample peak of 10^(b/20)·sum, plus the inactive tracks ``with_fixed``."""
        if self.buses is None or not self.buses.shape[1]:
            return -math.inf
        return amplitude_to_db(_peak_of_mix(self.buses[0], 10.0 ** (b / 20.0), self.buses[2],
                                            with_fixed and bool(self.playing[2])))


def _add_scaled(audio: np.ndarray, buses: np.ndarray, gains: np.ndarray) -> None:
    """buses[k] += gains[k]·audio for every k with a gain; a one-channel track feeds the first
    two channels of a wider bus (dual mono)."""
    samples, channels = audio.shape
    for bus, gain in zip(buses, gains):
        if gain == 0.0:
            continue
        if channels == bus.shape[1]:
            _add_flat(audio.reshape(-1), bus.reshape(-1), gain)
        else:
            for channel in range(min(2, bus.shape[1]) if channels == 1 else channels):
                _add_flat(audio[:, min(channel, channels - 1)], bus[:, channel], gain)


@numba.njit(nogil=True, cache=True)
def _add_flat(source, target, gain):  # noqa: ANN001 (numba)
    """target += gain·source, in float64, without a temporary."""
    for i in range(source.size):
        target[i] += gain * np.float64(source[i])


@numba.njit(nogil=True, cache=True)
def _peak_of_mix(scaled, gain, fixed, with_fixed):  # noqa: ANN001 (numba)
    """max |gain·scaled (+ fixed)| without a temporary of the mix."""
    peak = 0.0
    for i in range(scaled.shape[0]):
        for j in range(scaled.shape[1]):
            value = gain * scaled[i, j] + (fixed[i, j] if with_fixed else 0.0)
            peak = max(peak, abs(value))
    return peak


@numba.njit(nogil=True, cache=True)
def _scaled_mix(scaled, gain, fixed, with_fixed, out):  # noqa: ANN001 (numba)
    """out = gain·scaled (+ fixed), computed in float64, stored in out's type."""
    for i in range(scaled.shape[0]):
        for j in range(scaled.shape[1]):
            out[i, j] = gain * scaled[i, j] + (fixed[i, j] if with_fixed else 0.0)


def _with_roles(decision: BalanceDecision, targets: _Targets) -> BalanceDecision:
    if targets.table is None:
        return decision
    tracks = tuple(replace(t, role=targets.roles[t.index]) for t in decision.tracks)
    return replace(decision, tracks=tracks)


def _keep_level(decision: BalanceDecision, stem: _ProvisionalStem, sample_rate: float) -> BalanceDecision:
    """Move b (and every gain with it) so that the balanced stem is as loud as the group was,
    then lower it if the stem would peak above −0.1 dBFS (algorithms.md A.3, revised)."""
    weights = stem_channel_weights(stem.channels, stem.channels)
    notes = list(decision.notes)
    loudness_before = (-math.inf if stem.before is None
                       else LoudnessMeter(sample_rate, weights).integrated(stem.before))
    loudness = _StemLoudness(stem, sample_rate, weights)
    if not (math.isfinite(loudness_before) and math.isfinite(loudness(0.0))):
        why = ("the folder's children were silent at their current faders" if not
               math.isfinite(loudness_before) else "the active tracks cancel in the stem")
        notes.append(f"{why}: its level follows the peak rule (stem peak at -0.1 dBFS)")
        return replace(decision, notes=tuple(notes), level="peak")
    offset = loudness_before - loudness(0.0)
    for _ in range(20):  # exact even where blocks cross the −70 LUFS gate, or inactive tracks play
        step = loudness_before - loudness(offset)
        offset += step
        if abs(step) < 1e-7:
            break
    peak = stem.peak_dbfs(offset, with_fixed=True)
    limit = min(0.0, PEAK_CEILING_DBFS - peak)
    if limit < 0.0:
        for _ in range(5):  # inactive tracks do not scale: converge on the ceiling
            offset += PEAK_CEILING_DBFS - peak
            peak = stem.peak_dbfs(offset, with_fixed=True)
        limit = loudness(offset) - loudness_before
        notes.append(f"lowered {-limit:.1f} dB so that the folder peaks at {PEAK_CEILING_DBFS} dBFS "
                     f"(it is {-limit:.1f} LU quieter than before)")
    shift = offset - decision.target_db
    tracks = tuple(replace(t, gain_db=t.gain_db + shift) if t.active else t for t in decision.tracks)
    return replace(
        decision, tracks=tracks, target_db=offset, stem_peak_dbfs=peak, notes=tuple(notes),
        level="keep", loudness_before_lufs=loudness_before, stem_loudness_lufs=loudness(offset),
        peak_limit_db=limit,
    )


class _StemLoudness:
    """Integrated loudness of 10^(b/20)·provisional + inactive tracks, for any b, from one
    K-weighted energy profile of each (the filters are linear: segment energies scale by
    10^(b/10), the cross term by 10^(b/20)), gates applied exactly as on the real sum."""

    def __init__(self, stem: _ProvisionalStem, sample_rate: float, weights: np.ndarray) -> None:
        self.scaled = energy_profile(stem.sum, sample_rate, weights)
        self.fixed = self.cross = None
        if stem.fixed is not None:
            self.fixed = energy_profile(stem.fixed, sample_rate, weights).segment_energy
            both = energy_profile(stem.sum + stem.fixed, sample_rate, weights).segment_energy
            self.cross = both - self.scaled.segment_energy - self.fixed

    def __call__(self, b: float) -> float:
        gain = 10.0 ** (b / 20.0)
        energy = gain * gain * self.scaled.segment_energy
        if self.fixed is not None:
            energy = energy + gain * self.cross + self.fixed
        return gated_loudness(replace(self.scaled, segment_energy=energy))


def _product_decision(
    tracks: Sequence[AudioSource],
    analyses: list[TrackAnalysis],
    offsets: list[float],
    method: str,
    peak_scope: str,
    stem_channels: int,
    provisional_stem_peak: float,
) -> BalanceDecision:
    relative = {a.index: offsets[a.index] - a.cfb.loudness_lufs for a in analyses if a.active}
    if not relative:
        return _decision(analyses, offsets, {}, method, peak_scope, "product", None, None, None)
    notes: list[str] = []
    tracks_peak = max(analyses[i].sample_peak_dbfs + r for i, r in relative.items())
    if peak_scope == "stem":
        peak = provisional_stem_peak
        if not math.isfinite(peak):
            notes.append("the active tracks cancel in the stem: using the loudest single track's peak")
            peak = tracks_peak
    else:
        peak = tracks_peak
    offset = PEAK_CEILING_DBFS - peak
    gains = {i: offset + r for i, r in relative.items()}
    if peak_scope == "stem" and not notes:
        stem_peak = peak + offset  # the provisional stem scaled by b: exactly the ceiling
    else:
        stem_peak = _stem_peak_dbfs(tracks, analyses, gains, stem_channels)
    return _decision(analyses, offsets, gains, method, peak_scope, "product", offset, peak, stem_peak, notes)


def _authors_decision(
    tracks: Sequence[AudioSource],
    analyses: list[TrackAnalysis],
    offsets: list[float],
    method: str,
    stem_channels: int,
) -> BalanceDecision:
    """gain_i = min(−50 + o_i − l_i, −1 − peak_i): the authors' per-track rule."""
    gains = {
        a.index: min(
            AUTHORS_TARGET_LUFS + offsets[a.index] - a.cfb.loudness_lufs,
            AUTHORS_PEAK_CEILING_DBFS - a.sample_peak_dbfs,
        )
        for a in analyses
        if a.active
    }
    stem_peak = _stem_peak_dbfs(tracks, analyses, gains, stem_channels) if gains else None
    target_db = AUTHORS_TARGET_LUFS if gains else None
    return _decision(analyses, offsets, gains, method, "tracks", "authors", target_db, None, stem_peak)


def _decision(
    analyses: list[TrackAnalysis],
    offsets: list[float],
    gains: dict[int, float],
    method: str,
    peak_scope: str,
    target: str,
    target_db: float | None,
    provisional_peak: float | None,
    stem_peak: float | None,
    notes: Sequence[str] = (),
) -> BalanceDecision:
    per_track = tuple(TrackGain(a, offsets[a.index], gains.get(a.index, 0.0)) for a in analyses)
    return BalanceDecision(method, peak_scope, target, per_track, target_db, provisional_peak, stem_peak, tuple(notes))


def _stem_peak_dbfs(
    tracks: Sequence[AudioSource],
    analyses: list[TrackAnalysis],
    gains_db: dict[int, float],
    stem_channels: int,
) -> float:
    """Sample peak of Σ 10^(g_i/20)·track_i over the given tracks, summed in float32."""
    stem: np.ndarray | None = None
    for index, gain_db in gains_db.items():
        audio = load_source(tracks[index], analyses[index].name)
        if stem is None:
            stem = np.zeros((audio.shape[0], stem_channels), dtype=np.float32)
        elif audio.shape[0] != stem.shape[0]:
            raise ValueError(_length_error(analyses[index].name, audio.shape[0], stem.shape[0]))
        width = 2 if audio.shape[1] == 1 and stem_channels >= 2 else audio.shape[1]
        stem[:, :width] += np.float32(10.0 ** (gain_db / 20.0)) * audio
    return amplitude_to_db(float(np.max(np.abs(stem)))) if stem is not None and stem.size else -math.inf


def _offsets(count: int, offsets_db: Sequence[float] | None) -> list[float]:
    if offsets_db is None:
        return [0.0] * count
    offsets = [float(o) for o in offsets_db]
    if len(offsets) != count:
        raise ValueError(f"{len(offsets)} target offsets given for {count} tracks")
    if not all(math.isfinite(o) for o in offsets):
        raise ValueError(f"target offsets must be finite dB values, got {offsets}")
    return offsets


def _current_gains(count: int, gains_db: Sequence[float] | None) -> list[float]:
    if gains_db is None:
        return [0.0] * count
    gains = [float(g) for g in gains_db]
    if len(gains) != count:
        raise ValueError(f"{len(gains)} current gains given for {count} tracks")
    if any(math.isnan(g) or g == math.inf for g in gains):
        raise ValueError(f"current gains must be dB values or -inf, got {gains}")
    return gains


def _check_equal_lengths(tracks: Sequence[AudioSource], names: Sequence[str] | None) -> None:
    """Arrays must share one length (loader callables are checked when the stem is summed)."""
    lengths = [(i, np.shape(t)[0]) for i, t in enumerate(tracks) if not callable(t)]
    if not lengths:
        return
    expected = lengths[0][1]
    for index, length in lengths:
        if length != expected:
            name = names[index] if names is not None and len(names) == len(tracks) else f"track {index + 1}"
            raise ValueError(_length_error(name, length, expected))


def _length_error(name: str, length: int, expected: int) -> str:
    return (
        f"track {name!r} has {length} samples but the folder's first track has {expected}: "
        "render every track of the folder over the same time range"
    )
