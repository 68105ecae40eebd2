"""Where the generator's installed sources live, and how a cache key identifies them.

Debian files are located with ``dpkg -L`` (data.md rule 3), falling back to the bookworm paths
where dpkg is absent. Nothing is downloaded: a missing package is an error naming the
``apt-get install`` that fixes it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

#: Soundfonts the generator can draw from: name -> (Debian package or "", standard path).
SOUNDFONTS: dict[str, tuple[str, str]] = {
    "FluidR3_GM": ("fluid-soundfont-gm", "/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    "TimGM6mb": ("", ""),  # ships inside the pretty_midi wheel
}
HYDROGEN_KITS = ("hydrogen-drumkits", "/usr/share/hydrogen/data/drumkits")
KLETTRES_SYLLABLES = ("klettres-data", "/usr/share/klettres/it/syllab")
LMMS_PROJECTS = ("lmms-common", "/usr/share/lmms/projects")

#: Python packages whose version changes the generator's output (part of every cache key).
VERSIONED_PACKAGES = ("reaper-automix", "music21", "tinysoundfont", "numpy", "scipy",
                      "soundfile", "praat-parselmouth")


class SourceUnavailableError(RuntimeError):
    """An installed source (Debian package, soundfont, kit) is missing."""


def soundfont_path(name: str) -> Path:
    """The file of soundfont ``name`` (a key of :data:`SOUNDFONTS`)."""
    if name not in SOUNDFONTS:
        raise ValueError(f"unknown soundfont {name!r}; choose one of {', '.join(SOUNDFONTS)}")
    if name == "TimGM6mb":
        spec = importlib.util.find_spec("pretty_midi")
        if spec is None or spec.origin is None:
            raise SourceUnavailableError("pretty_midi (which carries TimGM6mb.sf2) is not "
                                         "installed: pip install pretty_midi")
        path = Path(spec.origin).parent / "TimGM6mb.sf2"
    else:
        package, standard = SOUNDFONTS[name]
        path = debian_path(package, standard)
    if not path.is_file():
        raise SourceUnavailableError(f"soundfont {name} not found at {path}")
    return path


def hydrogen_kits_dir() -> Path:
    return debian_path(*HYDROGEN_KITS)


def klettres_syllables_dir() -> Path:
    return debian_path(*KLETTRES_SYLLABLES)


def lmms_projects_dir() -> Path:
    return debian_path(*LMMS_PROJECTS)


def debian_path(package: str, standard: str) -> Path:
    """Where ``package`` installed the file or folder that bookworm puts at ``standard``: the
    path ``dpkg -L`` lists with the same last two components, else ``standard`` itself.

    Raises :class:`SourceUnavailableError` naming the package when neither exists."""
    tail = Path(standard).parts[-2:]
    for listed in _dpkg_files(package):
        if Path(listed).parts[-2:] == tail and Path(listed).exists():
            return Path(listed)
    path = Path(standard)
    if path.exists():
        return path
    raise SourceUnavailableError(
        f"{standard} is missing: install the Debian package with "
        f"`apt-get install {package}` (scripts/setup.sh installs it)")


@lru_cache(maxsize=None)
def _dpkg_files(package: str) -> tuple[str, ...]:
    if shutil.which("dpkg") is None:
        return ()
    result = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True,
                            check=False)
    return tuple(result.stdout.splitlines()) if result.returncode == 0 else ()


def file_identity(path: str | Path) -> str:
    """Name, size and a hash of the first and last MiB: changes when a package updates a file,
    cheap on a 148 MB soundfont."""
    path = Path(path)
    return _file_identity(str(path), path.stat().st_size, path.stat().st_mtime_ns)


@lru_cache(maxsize=256)
def _file_identity(path: str, size: int, _mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(1 << 20))
        if size > 2 << 20:
            handle.seek(-(1 << 20), os.SEEK_END)
            digest.update(handle.read(1 << 20))
    return f"{Path(path).name}:{size}:{digest.hexdigest()[:16]}"


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """Installed versions of :data:`VERSIONED_PACKAGES` ("absent" where not installed)."""
    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions
