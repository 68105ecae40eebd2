"""Role offsets: each role's target CFB loudness relative to its group, for role-aware balance.

The shipped table (``role_offsets.json`` beside this module) is derived from levels people chose
by ``scripts/derive_role_offsets.py --lmms``; docs/balance.md shows it with where each number
came from. An engineer may load their own table (``--offsets FILE``): a JSON object mapping roles to
dB, either flat (``{"hats": -8, "pad": -5}``) or under ``"offsets_db"`` as in the shipped file.
Roles it leaves out keep the shipped values. Only differences between the roles of one folder
matter: the balance rule sets the group's level separately.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .roles import ROLES, parse_role

SHIPPED_TABLE = Path(__file__).with_name("role_offsets.json")
#: A user's offset beyond this is almost surely a typo (the shipped ones span about 8 dB).
LIMIT_DB = 40.0


@dataclass(frozen=True)
class RoleOffsets:
    """A dB offset for every role, where the table came from, and what was filled in."""

    offsets_db: Mapping[str, float]
    origin: str  # "shipped" or the user's file
    notes: tuple[str, ...] = ()

    def __getitem__(self, role: str) -> float:
        return self.offsets_db[role]


@lru_cache(maxsize=1)
def shipped_role_offsets() -> RoleOffsets:
    """The table derived from human-set balances (see the module docstring)."""
    data = json.loads(SHIPPED_TABLE.read_text(encoding="utf-8"))
    return RoleOffsets(_validated(data["offsets_db"], str(SHIPPED_TABLE), complete=True), "shipped")


def load_role_offsets(path: str | Path) -> RoleOffsets:
    """A user's role table; ValueError naming the file and the problem for anything unusable."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"role offsets {path}: cannot read it ({exc.strerror or exc})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"role offsets {path}: not valid JSON ({exc})") from exc
    if isinstance(data, dict) and "offsets_db" in data:
        data = data["offsets_db"]
    if not isinstance(data, dict) or not data:
        raise ValueError(f'role offsets {path}: expected a JSON object of role: dB, e.g. '
                         f'{{"hats": -8, "pad": -5}}')
    given = _validated(data, str(path), complete=False)
    shipped = shipped_role_offsets().offsets_db
    missing = [role for role in ROLES if role not in given]
    notes = (f"{path.name} has no offset for {', '.join(missing)}: the shipped values are used",) if missing else ()
    return RoleOffsets({role: given.get(role, shipped[role]) for role in ROLES}, str(path), notes)


def _validated(data: Mapping[str, object], where: str, *, complete: bool) -> dict[str, float]:
    offsets: dict[str, float] = {}
    for key, value in data.items():
        try:
            role = parse_role(str(key))
        except ValueError as exc:
            raise ValueError(f"role offsets {where}: {exc}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"role offsets {where}: {key!r} must be a number of dB, not {value!r}")
        if abs(value) > LIMIT_DB:
            raise ValueError(f"role offsets {where}: {key!r} = {value} dB is outside ±{LIMIT_DB:g} dB")
        if role in offsets:
            raise ValueError(f"role offsets {where}: {key!r} names {role}, which is given twice")
        offsets[role] = float(value)
    if complete and set(offsets) != set(ROLES):
        raise ValueError(f"role offsets {where}: no value for {', '.join(r for r in ROLES if r not in offsets)}")
    return offsets
