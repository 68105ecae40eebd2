"""The ReaPack repository generated from the package: index.xml checked against ReaPack's format.

The format is what ReaPack's own reader accepts (cfillion/reapack ``src/index_v1.cpp``,
``src/source.cpp``) and what reapack-index writes (``lib/reapack/index/scanner.rb``).
"""

from __future__ import annotations

import datetime as dt
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

import pytest

from reaper_automix import __version__
from reaper_automix.cli import main
from reaper_automix.reaper.install import actions_dir, local_python_info, read_header, script_files
from reaper_automix.reaper.reapack import (
    CATEGORY,
    INDEX_NAME,
    ReaPackError,
    build_index,
    pattern_regex,
    write_repository,
)

URL = "https://example.invalid/automix"
TIME = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
#: Elements and attributes ReaPack reads (index version 1).
SCHEMA = {
    "index": ({"version", "name", "commit"}, {"category", "metadata"}),
    "category": ({"name"}, {"reapack"}),
    "reapack": ({"name", "type", "desc"}, {"version", "metadata"}),
    "version": ({"name", "author", "time"}, {"source", "changelog"}),
    "source": ({"platform", "type", "file", "main"}, set()),
}
SECTIONS = {"main", "midi_editor", "midi_inline_editor", "true"}


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> tuple[Path, ET.Element]:
    out = tmp_path_factory.mktemp("reapack")
    index = write_repository(out, URL, time=TIME)
    assert index == out / "index.xml"
    return out, ET.parse(index).getroot()  # ET.parse fails on XML that is not well-formed


def check_schema(element: ET.Element) -> None:
    attributes, children = SCHEMA[element.tag]
    assert set(element.attrib) <= attributes, (element.tag, element.attrib)
    for child in element:
        assert child.tag in children, (element.tag, child.tag)
        check_schema(child)


def test_index_uses_only_reapack_elements_and_attributes(repository):
    _, root = repository
    check_schema(root)
    assert root.attrib == {"version": "1", "name": INDEX_NAME}
    assert [c.get("name") for c in root.iter("category")] == [CATEGORY]
    for package in root.iter("reapack"):
        assert package.get("type") == "script" and package.get("desc")
        for version in package.iter("version"):
            assert version.get("time") == "2024-05-06T07:08:09Z"
            for source in version.iter("source"):
                assert source.text and set((source.get("main") or "main").split()) <= SECTIONS


def test_versions_match_the_script_headers(repository):
    _, root = repository
    packages = list(root.iter("reapack"))
    assert [p.get("name") for p in packages] == ["AutoMix_Auto balance group.py"]
    for package in packages:
        header = read_header(actions_dir() / package.get("name"))
        assert package.get("desc") == header["description"][0]
        assert [v.get("name") for v in package] == header["version"] == [__version__]
        assert [v.get("author") for v in package] == header["author"]
    for script in actions_dir().glob("*.py"):  # @noindex ones too: shipped by the package
        assert read_header(script)["version"] == [__version__], script.name


def test_every_file_is_provided_once_exists_and_is_what_install_copies(repository):
    out, root = repository
    sources = list(root.iter("source"))
    provided = []
    for source in sources:
        assert source.text.startswith(f"{URL}/{CATEGORY}/")
        relative = unquote(source.text[len(f"{URL}/{CATEGORY}/"):])
        assert (out / CATEGORY / relative).is_file(), relative
        assert source.get("file", "AutoMix_Auto balance group.py") == relative
        provided.append(relative)
    on_disk = {p.relative_to(out / CATEGORY).as_posix() for p in (out / CATEGORY).rglob("*")
               if p.is_file()}
    assert sorted(provided) == sorted(set(provided)) == sorted(on_disk)
    expected = script_files(local_python_info())
    assert on_disk == set(expected)
    for relative, data in expected.items():
        assert (out / CATEGORY / relative).read_bytes() == data
    mains = {s.get("file", "AutoMix_Auto balance group.py") for s in sources if s.get("main")}
    assert mains == {"AutoMix_Auto balance group.py", "AutoMix_Auto balance group (settings).py",
                     "AutoMix_Set role of selected tracks.py", "AutoMix_Match reference.py",
                     "AutoMix_Mix (balance + match).py",
                     "AutoMix_Mix lead vocal.py", "AutoMix_Mix lead vocal (settings).py"}
    assert "reapy/core/fx/fx.py" in provided and "reapy/LICENSE.txt" in provided


def test_a_local_repository_uses_file_urls(tmp_path):
    root = ET.parse(write_repository(tmp_path)).getroot()
    for source in root.iter("source"):
        assert source.text.startswith(tmp_path.resolve().as_uri() + f"/{CATEGORY}/")


def test_cli_writes_the_repository(tmp_path):
    assert main(["install", "--reapack-index", str(tmp_path), "--reapack-url", URL]) == 0
    root = ET.parse(tmp_path / "index.xml").getroot()
    check_schema(root)
    assert len(list(root.iter("source"))) == len(script_files(local_python_info()))


# ---------------------------------------------------------------------- header checks
@pytest.fixture
def actions_copy(tmp_path) -> Path:
    folder = tmp_path / "actions"
    shutil.copytree(actions_dir(), folder)
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def _files() -> set[str]:
    return set(script_files(local_python_info()))


def test_a_version_other_than_the_package_version_is_refused(actions_copy):
    _edit(actions_copy / "AutoMix_Auto balance group (settings).py", f"@version {__version__}",
          "@version 9.9.9")
    with pytest.raises(ReaPackError, match=r"@version \['9.9.9'\]"):
        build_index(actions_copy, _files(), URL)


def test_a_provided_file_that_is_not_shipped_is_refused(actions_copy):
    _edit(actions_copy / "AutoMix_Auto balance group.py", "#   reapy/LICENSE.txt\n",
          "#   reapy/LICENSE.txt\n#   reaper_automix/missing.py\n")
    with pytest.raises(ReaPackError, match="missing.py"):
        build_index(actions_copy, _files(), URL)


def test_a_shipped_file_that_is_not_provided_is_refused(actions_copy):
    _edit(actions_copy / "AutoMix_Auto balance group.py", "#   reapy/LICENSE.txt\n", "")
    with pytest.raises(ReaPackError, match="provided by no package: reapy/LICENSE.txt"):
        build_index(actions_copy, _files(), URL)


def test_file_patterns_match_as_reapack_index_does():
    deep = pattern_regex("reapy/**/*.py")
    assert deep.fullmatch("reapy/__init__.py") and deep.fullmatch("reapy/core/fx/fx.py")
    assert not deep.fullmatch("reapy/LICENSE.txt") and not deep.fullmatch("other/reapy/x.py")
    flat = pattern_regex("*.py")
    assert flat.fullmatch("a b (c).py") and not flat.fullmatch("reapy/x.py")
    assert pattern_regex("x?.py").fullmatch("x1.py") and not pattern_regex("x.py").fullmatch("xy")
