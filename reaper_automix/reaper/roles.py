"""The action "AutoMix: Set role of selected tracks".

The engineer's choice of role (kick, hats, pad, lead vocal...) for the selected tracks, kept in
the project as track extension data (``P_EXT:automix_role``, saved with the project) as one undo
point. Auto balance group's ``role`` method uses it instead of the role it would detect from the
track's name or audio; "auto" removes the choice. Standard library only: this runs inside REAPER.
"""

from __future__ import annotations

from ..analysis.roles import EXT_KEY, ROLE_LABELS, ROLES, parse_role
from .api import UNDO_TRACK_CONFIG, ReaperApi

TITLE = "AutoMix: Set role of selected tracks"
AUTO = "auto"


def set_roles(api: ReaperApi) -> bool:
    """Ask for a role and keep it on every selected track. False if nothing was changed."""
    proj, _ = api.current_project()
    selected = api.selected_tracks(proj)
    if not selected:
        api.message_box("Select the tracks whose role you want to set first.\n\nAuto balance group "
                        "gives each track the level its role usually has in a mix (hats under "
                        "the kick, backing vocals under the lead vocal); this action overrides "
                        "the role it detects.", TITLE)
        return False
    current = {api.track_ext(track, EXT_KEY) for track in selected}
    default = current.pop() if len(current) == 1 else ""
    values = api.user_inputs(TITLE, [f"Role of {len(selected)} track(s) (or auto)"], [default or AUTO])
    if values is None:
        return False
    text = values[0].strip()
    try:
        role = "" if text.lower() in (AUTO, "") else parse_role(text)
    except ValueError:
        api.message_box(f"Not changed: {text!r} is not a role. Type one of:\n\n"
                        + "\n".join(f"{r} ({ROLE_LABELS[r]})" for r in ROLES)
                        + f"\n\nor {AUTO} to let AutoMix detect it.", TITLE)
        return False
    names = [api.track_string(track, "P_NAME") or "(unnamed)" for track in selected]
    with api.undo_block(proj, f"AutoMix: set role {role or AUTO}", UNDO_TRACK_CONFIG):
        for track in selected:
            api.set_track_ext(track, EXT_KEY, role)
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    api.console(f"{TITLE}: {shown} -> {role or 'detected by AutoMix (auto)'}\n")
    return True


def project_roles(api: ReaperApi, proj: str) -> dict[str, str]:
    """The roles kept in the project, by track GUID (what the balance job is sent)."""
    roles = {}
    for track in api.tracks(proj):
        role = api.track_ext(track, EXT_KEY).strip()
        if role:
            roles[api.track_string(track, "GUID")] = role
    return roles
