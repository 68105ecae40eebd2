"""Hosts hold a session: an .RPP file on disk, or a running REAPER."""

from .rpp import RppHost, open_project

__all__ = ["RppHost", "open_project"]
