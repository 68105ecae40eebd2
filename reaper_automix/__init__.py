"""reaper-automix: automatic mixing for REAPER projects, headless on .RPP files or live."""

from .hosts.rpp import open_project
from .session import FxInstance, Item, Project, Source, Take, Track

__version__ = "0.1.0"
__all__ = ["open_project", "Project", "Track", "Item", "Take", "Source", "FxInstance", "__version__"]
