"""The offline session generator: multitrack sessions with stems of known roles (data.md Layer 2).

``SessionSpec.draw(seed)`` draws a session (corpus piece, tempo, transposition, GM programs per
part, Hydrogen kit and groove, optional PSOLA vocals); ``generate_session(spec)`` renders it into
a shared on-disk cache and returns a :class:`GeneratedSession` whose stems carry their roles.
:mod:`.lmms` loads the five LMMS demo songs reserved for evaluation. See docs/generator.md.
"""

from .checks import SessionCheck, SessionCheckError, StemCheck, check_session
from .session import (GENERATOR_VERSION, GeneratedSession, Stem, cache_key, default_cache_dir,
                      generate_session, load_session)
from .sources import SourceUnavailableError
from .spec import DrumSpec, PartSpec, SessionSpec

__all__ = [
    "SessionSpec", "PartSpec", "DrumSpec", "generate_session", "GeneratedSession", "Stem",
    "load_session", "cache_key", "default_cache_dir", "GENERATOR_VERSION", "check_session",
    "SessionCheck", "StemCheck", "SessionCheckError", "SourceUnavailableError",
]
