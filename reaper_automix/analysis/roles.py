"""The instrument roles a track can have, shared by role-aware balance, the session generator and
Mix lead vocal. Detection (from names and audio) builds on this vocabulary."""

from __future__ import annotations

#: Every role, in report order. Hi-hats are split by articulation because composers balance
#: closed, open and pedal hats differently (data.md 3.6).
ROLES: tuple[str, ...] = (
    "kick", "snare", "clap", "hats_closed", "hats_open", "hats_pedal", "toms", "cymbals",
    "percussion", "bass", "lead", "pad", "chords", "plucks", "strings", "brass",
    "lead_vocal", "backing_vocal", "fx", "other",
)

#: How the report names each role.
ROLE_LABELS: dict[str, str] = {
    "kick": "kick", "snare": "snare", "clap": "clap", "hats_closed": "hats (closed)",
    "hats_open": "hats (open)", "hats_pedal": "hats (pedal)", "toms": "toms",
    "cymbals": "cymbals", "percussion": "percussion", "bass": "bass", "lead": "lead/melody",
    "pad": "pad", "chords": "chords/keys", "plucks": "plucks/arps", "strings": "strings",
    "brass": "brass", "lead_vocal": "lead vocal", "backing_vocal": "backing vocal", "fx": "fx",
    "other": "other",
}


def check_role(role: str) -> str:
    """``role`` if it is one of :data:`ROLES`; ValueError naming the valid ones otherwise."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role
