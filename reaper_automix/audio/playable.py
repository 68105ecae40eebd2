"""Which tracks the headless renderer plays as REAPER does, and which REAPER must render.

The headless renderer (:mod:`.render`) plays audio items and the IEM plug-ins it emulates. A track
with MIDI (or other non-audio) items, an instrument, any other active plug-in on the track, or
any active take FX, sounds different in REAPER: it is *unplayable* here, and
:func:`unplayable_reason` says why. Inside REAPER the actions have such tracks rendered by REAPER
itself (:mod:`reaper_automix.reaper.stems`); headless, the commands refuse them unless told to
skip (:class:`UnplayableTracksError`). Standard library only: the actions use it inside REAPER.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..session import FxInstance, Track

#: ``render`` setting of the actions: REAPER renders the unplayable tracks (auto), every analysed
#: track (reaper), or none (headless: unplayable tracks are analysed as the renderer plays them).
RENDER_MODES = ("auto", "reaper", "headless")
#: Source types the renderer cannot decode, by the reason given.
_NOT_AUDIO = {"MIDI": "MIDI items", "MIDIPOOL": "MIDI items", "RPP_PROJECT": "subproject items",
              "CLICK": "click-source items", "LTC": "timecode items", "VIDEO": "video items",
              "VIDEOEFFECT": "video-processor items"}
#: REAPER's name prefixes of instrument plug-ins (``VSTi: ReaSynth (Cockos)``).
_INSTRUMENT_PREFIXES = ("vsti:", "vst3i:", "aui:", "clapi:", "lv2i:", "dxi:")


class UnplayableTracksError(ValueError):
    """Tracks the headless renderer cannot play; the message names each with its reason."""


def is_instrument(fx: FxInstance) -> bool:
    return fx.name.strip().lower().startswith(_INSTRUMENT_PREFIXES)


def unplayable_reason(track: Track) -> str | None:
    """Why the headless renderer cannot play ``track``'s own items and FX as REAPER does
    ("MIDI items", "instrument VSTi: …", "plug-in JS: …", "take FX …"), or None. Children are
    judged on their own; muted items, bypassed or offline plug-ins and a bypassed chain play
    nothing and do not count."""
    reasons: list[str] = []
    for item in track.items:
        take = item.active_take
        if item.mute or take is None or take.volume == 0.0:
            continue
        if take.source is not None and take.source.kind in _NOT_AUDIO:
            reasons.append(_NOT_AUDIO[take.source.kind])
        reasons.extend(f"take FX {_name(fx)}" for fx in take.fx if fx.active)
    if track.fx_enabled:
        for fx in track.fx:
            if fx.active and fx.iem_plugin is None:
                reasons.append(f"{'instrument' if is_instrument(fx) else 'plug-in'} {_name(fx)}")
    return ", ".join(dict.fromkeys(reasons)) or None


def _name(fx: FxInstance) -> str:
    """``VST: ReaEQ (Cockos)``, ``JS: utility/volume``, with the custom name if renamed."""
    name = fx.name if ":" in fx.name else f"{fx.kind}: {fx.name}"
    return f"{name} ({fx.custom_name!r})" if fx.custom_name else name


def analysed_children(folder: Track) -> list[Track]:
    """The children a folder's analysis hears: those sending to it and not muted."""
    return [child for child in folder.children if child.main_send and not child.mute]


def tracks_to_render(roots: Iterable[Track], mode: str = "auto") -> list[Track]:
    """The tracks REAPER must render pre-fader so that each root's pre-fader output is exact.

    ``auto``: walking down from each root, every unplayable track (its REAPER stem holds its
    children, at their faders, and its FX), and nothing below it; ``reaper``: the roots
    themselves; ``headless``: none. In project order, without duplicates.
    """
    if mode not in RENDER_MODES:
        raise ValueError(f"render mode {mode!r}: choose one of {', '.join(RENDER_MODES)}")
    chosen: dict[int, Track] = {}

    def walk(track: Track) -> None:
        if unplayable_reason(track) is not None:
            chosen[id(track)] = track
            return
        for child in analysed_children(track):
            walk(child)

    for root in roots:
        if mode == "reaper":
            chosen[id(root)] = root
        elif mode == "auto":
            walk(root)
    return sorted(chosen.values(), key=lambda t: t.index)


def unplayable_tracks(roots: Iterable[Track]) -> list[Track]:
    """Every unplayable track heard in the roots' pre-fader outputs (the roots, their children
    sending to them and not muted, recursively), in project order."""
    found: dict[int, Track] = {}

    def walk(track: Track) -> None:
        if unplayable_reason(track) is not None:
            found[id(track)] = track
        for child in analysed_children(track):
            walk(child)

    for root in roots:
        walk(root)
    return sorted(found.values(), key=lambda t: t.index)


def describe_unplayable(tracks: Iterable[Track], inside_reaper: str) -> str:
    """One message naming each track with its reason, and what to do."""
    named = "; ".join(f"{t.display_name!r} ({unplayable_reason(t) or 'rendered by REAPER'})"
                      for t in tracks)
    return (f"the headless renderer cannot play these tracks as REAPER does: {named}. "
            f"{inside_reaper}, or pass --skip-unplayable to go on with what the headless "
            "renderer plays (MIDI silent, other plug-ins skipped)")


def unplayable_warning(track: Track) -> str:
    """The warning for an unplayable track analysed anyway (``--skip-unplayable``)."""
    return (f"track {track.display_name!r} ({unplayable_reason(track)}) is analysed as the "
            "headless renderer plays it (MIDI silent, other plug-ins skipped); inside REAPER, "
            "REAPER renders it")
