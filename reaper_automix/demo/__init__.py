"""The demo session: a chorale arranged for a band, rendered offline, saved as a REAPER project.

Everything comes from installed PyPI packages (music21's corpus, tinysoundfont and the GM
soundfont shipped in pretty_midi); nothing is downloaded. See docs/demo.md.
"""

from .checks import StemCheckError, StemReport, check_stems
from .session import PROJECT_NAME, DemoSession, Gains, build_demo, draw_gains

__all__ = ["build_demo", "draw_gains", "check_stems", "DemoSession", "Gains", "StemReport",
           "StemCheckError", "PROJECT_NAME"]
