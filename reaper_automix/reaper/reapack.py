"""A ReaPack repository for the actions, generated from the package (not written by hand).

:func:`write_repository` lays out the same files that ``reaper-automix install`` copies (the
action scripts, the light modules and python-reapy) under ``OUT/AutoMix/`` and writes ``OUT/index.xml`` from
the scripts' metadata headers (``@description``, ``@version``, ``@author``, ``@provides``,
``@noindex``), in the format of cfillion/reapack-index (file patterns included). This module runs
in a normal Python.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote as url_quote

from .. import __version__
from .install import PythonInfo, actions_dir, local_python_info, read_header, script_files

INDEX_NAME = "reaper-automix"
CATEGORY = "AutoMix"
_PROVIDES = re.compile(r"^(?:\[(?P<options>[^\]]*)\]\s*)?(?P<file>.+?)$")
_GLOB = re.compile(r"\*\*/|\*|\?")


class ReaPackError(ValueError):
    """The metadata headers and the installed files disagree."""


@dataclass(frozen=True)
class Provided:
    file: str  # relative to the package file's folder; "." is the package file itself
    main: bool


def parse_provides(entries: list[str]) -> list[Provided]:
    """``[options] file`` entries of ``@provides`` (options: ``main``, ``nomain``, platforms)."""
    provided = []
    for entry in entries:
        match = _PROVIDES.match(entry.strip())
        if match is None or not match["file"].strip():
            raise ReaPackError(f"unreadable @provides entry {entry!r}")
        options = (match["options"] or "").split()
        provided.append(Provided(match["file"].strip(), "main" in options))
    return provided


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A ``@provides`` file pattern as reapack-index matches it (Ruby's ``File.fnmatch`` with
    ``FNM_PATHNAME``): ``*`` and ``?`` stay within a folder, ``**/`` spans folders."""
    parts, last = [], 0
    for match in _GLOB.finditer(pattern):
        parts.append(re.escape(pattern[last:match.start()]))
        parts.append({"**/": "(?:[^/]+/)*", "*": "[^/]*", "?": "[^/]"}[match[0]])
        last = match.end()
    parts.append(re.escape(pattern[last:]))
    return re.compile("".join(parts))


def build_index(directory: Path, files: set[str], base_url: str, *,
                time: dt.datetime | None = None) -> ET.ElementTree:
    """The index for the action scripts in ``directory``; ``files`` is every file the
    repository holds (relative to the category folder), each of which must be provided."""
    stamp = (time or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    root = ET.Element("index", version="1", name=INDEX_NAME)
    category = ET.SubElement(root, "category", name=CATEGORY)
    covered: set[str] = set()
    for path in sorted(directory.glob("*.py")):
        header = read_header(path)
        versions = header.get("version") or []
        if versions != [__version__]:
            raise ReaPackError(f"{path.name}: @version {versions} is not the package version "
                               f"{__version__}")
        if "noindex" in header:
            continue
        package = ET.SubElement(category, "reapack", name=path.name, type="script",
                                desc=(header.get("description") or [path.stem])[0])
        version = ET.SubElement(package, "version", name=__version__,
                                author=(header.get("author") or ["unknown"])[0], time=stamp)
        for item in parse_provides(header.get("provides") or ["[main] ."]):
            names = [path.name] if item.file == "." else sorted(
                f for f in files if pattern_regex(item.file).fullmatch(f))
            if not names or names[0] not in files:
                raise ReaPackError(f"{path.name}: @provides {item.file!r}, which is not shipped")
            for name in names:
                source = ET.SubElement(version, "source")
                if item.main:
                    source.set("main", "main")
                if name != path.name:
                    source.set("file", name)
                source.text = f"{base_url.rstrip('/')}/{CATEGORY}/{url_quote(name)}"
                covered.add(name)
    missing = sorted(files - covered)
    if missing:
        raise ReaPackError(f"shipped but provided by no package: {', '.join(missing)}")
    ET.indent(root)
    return ET.ElementTree(root)


def write_repository(out: Path, base_url: str | None = None, *,
                     time: dt.datetime | None = None, python: PythonInfo | None = None) -> Path:
    """Write ``out/AutoMix/…`` and ``out/index.xml``; returns the index path. Without
    ``base_url`` the sources are ``file://`` URLs of ``out`` (a local repository ReaPack can
    import as is); give the public URL of ``out`` to publish it. python-reapy is taken from
    ``python`` (default: the running Python)."""
    out = Path(out)
    files = script_files(python or local_python_info())
    for relative, data in files.items():
        target = out / CATEGORY / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    tree = build_index(actions_dir(), set(files), base_url or out.resolve().as_uri(), time=time)
    index = out / "index.xml"
    tree.write(index, encoding="utf-8", xml_declaration=True)
    return index
