"""Keep a balance from making the whole mix clip (issue 17: "never a new clip").

Each folder keeps its loudness and peaks at most at -0.1 dBFS, but folders peak at different
moments: re-balanced, their sum at the master can peak higher than before. :class:`MixHeadroom`
builds the master mix before and after the balance and, where the new mix would peak above
-0.1 dBFS and above the old one, lowers the faders of the top-level tracks the balance changed,
all by one gain, until it does not.

Most of the mix comes free: a balanced top-level folder whose chain is linear (no active FX, no
items of its own, no receives) plays its children's sum times its fader and pan, and the
decision already has that sum before and after. Every other top-level track is rendered, twice
(with the old faders and the new) only where the balance changed something inside it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numba
import numpy as np

from ..analysis.loudness import amplitude_to_db
from ..audio.playable import unplayable_tracks
from ..audio.io import MediaError
from ..audio.render import Renderer, pan_gains
from ..session import Project, Track

CEILING_DBFS = -0.1


@dataclass
class HeadroomOutcome:
    """The master mix's sample peak before and after, and how far the balance's top-level
    faders were lowered (≤ 0 dB) to keep it under the ceiling; ``lowered`` names those tracks."""

    peak_before_dbfs: float
    peak_after_dbfs: float
    peak_unlowered_dbfs: float  # what the new mix would have peaked at without lowering
    lowered_db: float = 0.0
    lowered: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()  # top-level tracks the check could not play, and why

    def describe(self) -> str | None:
        """The outcome in words; None when the mix needed nothing."""
        if self.lowered_db == 0.0:
            return None
        return (f"the whole mix would have peaked at {self.peak_unlowered_dbfs:+.1f} dBFS "
                f"(it peaked at {self.peak_before_dbfs:+.1f} before): the faders of "
                f"{', '.join(self.lowered)} were lowered {-self.lowered_db:.1f} dB, so it peaks "
                f"at {self.peak_after_dbfs:+.1f} dBFS and no sample clips")


class MixHeadroom:
    """Sums the master mix before and after as the balanced folders finish (thread-safe; three
    buses of the session's length, whatever the number of folders), then :meth:`apply` renders
    the rest and checks the peak. ``volumes_before``: every track's fader before, by id."""

    def __init__(self, project: Project, renderer: Renderer, volumes_before: Mapping[int, float]) -> None:
        self.project, self.renderer, self.volumes_before = project, renderer, volumes_before
        n = renderer.n_samples()
        self.same, self.before, self.after = (np.zeros((n, 2), np.float32) for _ in range(3))
        self.changed: list[Track] = []
        self._summed: set[int] = set()
        self._lock = threading.Lock()

    def summed(self, folder: Track) -> bool:
        """Whether this folder's output follows from its children's sum alone."""
        return (folder.parent is None and not folder.receives and not folder.items
                and not (folder.fx_enabled and any(fx.active for fx in folder.fx))
                and not self._nested_change(folder))

    def add(self, folder: Track, before: np.ndarray | None, after: np.ndarray, *,
            after_gain: float = 1.0) -> None:
        """A balanced folder's children summed before (None: silent) and after, pre folder
        fader; ``after_gain`` is the children's common shift, once its faders are final."""
        if not self.summed(folder):
            return
        pans = np.asarray(pan_gains(folder.pan), np.float64)
        with self._lock:
            self._summed.add(id(folder))
            if not self._changed(folder):
                if before is not None:
                    _add_panned(self.same, before, pans * folder.volume)
                return
            if before is not None:
                _add_panned(self.before, before, pans * self.volumes_before[id(folder)])
            _add_panned(self.after, after, pans * (folder.volume * after_gain))
            self.changed.append(folder)

    def apply(self) -> HeadroomOutcome:
        """Add the top-level tracks no folder sum covered, and lower the changed top-level
        faders if the new mix peaks above the ceiling and the old peak."""
        left_out: list[str] = []
        for top in self.project.top_level:
            if not top.main_send or top.mute or id(top) in self._summed:
                continue
            why = self._unplayable(top)
            if why is None:
                try:
                    self._add_rendered(top)
                except MediaError as exc:
                    why = str(exc)
            if why is not None:
                left_out.append(f"{top.display_name} ({why})")
        peak_before = _peak_db(self.same + self.before)
        gain = 1.0
        peak_after = unlowered = _peak_db(self.same + self.after)
        ceiling = max(CEILING_DBFS, peak_before)
        for _ in range(6):  # the unchanged tracks do not scale: converge on the ceiling
            if peak_after <= ceiling + 1e-6:
                break
            gain *= 10.0 ** ((ceiling - peak_after) / 20.0)
            peak_after = _peak_db(self.same + np.float32(gain) * self.after)
        if gain == 1.0:
            return HeadroomOutcome(peak_before, peak_after, unlowered, left_out=tuple(left_out))
        for top in self.changed:
            top.volume *= gain
        return HeadroomOutcome(peak_before, peak_after, unlowered, 20.0 * math.log10(gain),
                               tuple(t.display_name for t in self.changed), tuple(left_out))

    def _add_rendered(self, top: Track) -> None:
        """A top-level track as it renders: once if the balance changed nothing in it, else
        with the old faders and the new."""
        if not self._changed(top):
            self.same += self.renderer.track(top)
            return
        self.before += self._rendered_with(top, self.volumes_before)
        self.after += self.renderer.track(top)
        self.changed.append(top)

    def _changed(self, top: Track) -> bool:
        return any(t.volume != self.volumes_before[id(t)] for t in (top, *top.descendants()))

    def _unplayable(self, top: Track) -> str | None:
        """Why the headless renderer cannot play ``top`` as REAPER does (None: it can)."""
        missing = [t for t in unplayable_tracks([top]) if self.renderer.rendered_track_path(t) is None]
        if missing:
            return f"only REAPER plays {missing[0].display_name}"
        return None

    def _nested_change(self, top: Track) -> bool:
        """A balanced folder inside ``top`` was analysed into top's sums with its new faders,
        so top's "before" sum is not the old mix."""
        return any(t.is_folder and any(c.volume != self.volumes_before[id(c)] for c in t.children)
                   for t in top.descendants())

    def _rendered_with(self, top: Track, volumes: Mapping[int, float]) -> np.ndarray:
        """``top`` rendered with the faders of ``volumes`` (the model's are put back after)."""
        tracks: Sequence[Track] = (top, *top.descendants())
        now = [t.volume for t in tracks]
        try:
            for t in tracks:
                t.volume = volumes[id(t)]
            return self.renderer.track(top)
        finally:
            for t, volume in zip(tracks, now):
                t.volume = volume


@numba.njit(nogil=True, cache=True)
def _add_panned(mix, stem, gains):  # noqa: ANN001 (numba)
    """mix[:, c] += gains[c]·stem[:, c] for the two channels of the mix (a mono stem feeds both),
    without a temporary."""
    last = stem.shape[1] - 1
    for i in range(stem.shape[0]):
        for c in range(2):
            mix[i, c] += gains[c] * stem[i, min(c, last)]


def _peak_db(mix: np.ndarray) -> float:
    return amplitude_to_db(float(np.max(np.abs(mix)))) if mix.size else -math.inf
