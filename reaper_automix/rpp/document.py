"""A byte-preserving editor for REAPER project (.RPP) and track-template files.

The file is kept as a tree of :class:`Line` and :class:`Block` nodes that own their raw text and
line endings. Serialising the tree gives back the original bytes; edits replace, insert or
delete whole lines, so every line that was not touched stays byte-identical.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .tokens import split_tokens

ENCODING = "utf-8"
ERRORS = "surrogateescape"  # keeps any byte that is not valid UTF-8
BACKUP_SUFFIX = ".automix-bak"


class RppFormatError(ValueError):
    """The file is not something REAPER could have written."""


@dataclass(eq=False)
class Line:
    """One leaf line: its raw text (indentation included, no line ending) and its ending."""

    text: str
    ending: str = "\n"
    parent: Block | None = field(default=None, repr=False)

    @property
    def indent(self) -> str:
        return self.text[: len(self.text) - len(self.text.lstrip(" \t"))]

    @property
    def is_raw(self) -> bool:
        """``|`` text lines (notes, long names) are stored raw and never tokenised."""
        return self.text.lstrip(" \t").startswith("|")

    @property
    def tokens(self) -> list[str]:
        if self.is_raw:
            return ["|", self.text.lstrip(" \t")[1:]]
        return split_tokens(self.text)

    @property
    def key(self) -> str:
        tokens = self.tokens
        return tokens[0] if tokens else ""

    @property
    def values(self) -> list[str]:
        return self.tokens[1:]

    def serialise(self) -> Iterator[str]:
        yield self.text
        yield self.ending


@dataclass(eq=False)
class Block:
    """``<TAG …`` … ``>``: a head line, child nodes and the closing line."""

    head: Line
    children: list[Line | Block] = field(default_factory=list)
    tail: Line | None = None
    parent: Block | None = field(default=None, repr=False)

    @property
    def tag(self) -> str:
        return self.head.key[1:]

    @property
    def values(self) -> list[str]:
        return self.head.values

    @property
    def ending(self) -> str:
        return self.head.ending

    @property
    def child_indent(self) -> str:
        for child in self.children:
            line = child.head if isinstance(child, Block) else child
            if line.text.strip():
                return line.indent
        return self.head.indent + "  "

    def blocks(self, tag: str | None = None) -> list[Block]:
        return [c for c in self.children if isinstance(c, Block) and (tag is None or c.tag == tag)]

    def block(self, tag: str) -> Block | None:
        found = self.blocks(tag)
        return found[0] if found else None

    def lines(self, key: str | None = None) -> list[Line]:
        return [c for c in self.children if isinstance(c, Line) and (key is None or c.key == key)]

    def line(self, key: str) -> Line | None:
        for child in self.children:
            if isinstance(child, Line) and child.key == key:
                return child
        return None

    def walk(self) -> Iterator[Line | Block]:
        for child in self.children:
            yield child
            if isinstance(child, Block):
                yield from child.walk()

    def serialise(self) -> Iterator[str]:
        yield from self.head.serialise()
        for child in self.children:
            yield from child.serialise()
        if self.tail is not None:
            yield from self.tail.serialise()

    def index(self, node: Line | Block) -> int:
        for i, child in enumerate(self.children):
            if child is node:
                return i
        raise ValueError("node is not a child of this block")

    def insert(self, index: int, nodes: list[Line | Block]) -> None:
        for node in nodes:
            node.parent = self
        self.children[index:index] = nodes

    def remove(self, node: Line | Block) -> None:
        del self.children[self.index(node)]
        node.parent = None


class RppDocument:
    """A parsed RPP/RTrackTemplate file that can be edited and saved byte-preservingly."""

    def __init__(self, text: str, source: str = "<text>") -> None:
        self.source = source
        self.bom = ""
        if text.startswith("\ufeff"):
            self.bom, text = "\ufeff", text[1:]
        self.top: list[Line | Block] = _parse(text, source)
        self.newline = _dominant_ending(self.top)
        projects = [n for n in self.top if isinstance(n, Block) and n.tag == "REAPER_PROJECT"]
        if len(projects) > 1:
            raise RppFormatError(
                f"{source}: holds {len(projects)} projects (an .rpp-bak history?); "
                "open a single project file"
            )
        self.project: Block | None = projects[0] if projects else None
        if self.project is None and not any(
            isinstance(n, Block) and n.tag == "TRACK" for n in self.top
        ):
            raise RppFormatError(
                f"{source}: neither a <REAPER_PROJECT nor a track template (<TRACK blocks)"
            )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RppDocument:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FileNotFoundError(f"cannot read project {path}: {exc.strerror}") from exc
        return cls(data.decode(ENCODING, ERRORS), str(path))

    @property
    def is_template(self) -> bool:
        return self.project is None

    def track_blocks(self) -> list[Block]:
        container = self.project.children if self.project is not None else self.top
        return [n for n in container if isinstance(n, Block) and n.tag == "TRACK"]

    def text(self) -> str:
        return self.bom + "".join(part for node in self.top for part in node.serialise())

    def to_bytes(self) -> bytes:
        return self.text().encode(ENCODING, ERRORS)

    def save(self, path: str | os.PathLike[str], *, backup: bool = True) -> Path | None:
        """Write atomically (temp file + rename). Returns the backup path if one was made."""
        data = self.to_bytes()
        RppDocument(data.decode(ENCODING, ERRORS), f"{path} (about to be written)")
        return atomic_write(Path(path), data, backup=backup)


def atomic_write(path: Path, data: bytes, *, backup: bool = True) -> Path | None:
    """Replace ``path`` with ``data`` atomically; keep the previous file as ``*.automix-bak``.

    A symlink is followed (its target is replaced); the file keeps its permissions, and a new
    file gets the usual ones (0666 minus the umask), not mkstemp's 0600."""
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    backup_path: Path | None = None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if backup and path.exists():
            backup_path = path.with_name(path.name + BACKUP_SUFFIX)
            shutil.copy2(path, backup_path)
        if path.exists():
            shutil.copymode(path, tmp_name)
        else:
            os.chmod(tmp_name, 0o666 & ~_umask())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return backup_path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_line(text: str, *, indent: str, ending: str) -> Line:
    return Line(indent + text, ending)


def _dominant_ending(nodes: list[Line | Block]) -> str:
    counts = {"\r\n": 0, "\n": 0}
    stack: list[Line | Block] = list(nodes)
    seen = 0
    while stack and seen < 200:
        node = stack.pop()
        line = node.head if isinstance(node, Block) else node
        if line.ending in counts:
            counts[line.ending] += 1
            seen += 1
        if isinstance(node, Block):
            stack.extend(node.children)
    return "\r\n" if counts["\r\n"] > counts["\n"] else "\n"


def _split_lines(text: str) -> list[Line]:
    lines: list[Line] = []
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        if end < 0:
            lines.append(Line(text[start:], ""))
            break
        body = text[start:end]
        if body.endswith("\r"):
            lines.append(Line(body[:-1], "\r\n"))
        else:
            lines.append(Line(body, "\n"))
        start = end + 1
    return lines


def _parse(text: str, source: str) -> list[Line | Block]:
    top: list[Line | Block] = []
    stack: list[Block] = []
    for number, line in enumerate(_split_lines(text), start=1):
        stripped = line.text.strip(" \t")
        if stripped == ">":
            if not stack:
                raise RppFormatError(f"{source}:{number}: '>' closes a block that was never opened")
            block = stack.pop()
            block.tail = line
            line.parent = block
            continue
        node: Line | Block
        if not line.is_raw and stripped.startswith("<"):
            node = Block(line)
            line.parent = node
        else:
            node = line
        if stack:
            stack[-1].children.append(node)
            node.parent = stack[-1]
        else:
            if isinstance(node, Line) and stripped:
                raise RppFormatError(
                    f"{source}:{number}: text outside any block ({stripped[:40]!r})"
                )
            top.append(node)
        if isinstance(node, Block):
            stack.append(node)
    if stack:
        raise RppFormatError(
            f"{source}: block <{stack[-1].tag} opened at "
            f"'{stack[-1].head.text.strip()[:40]}' is never closed (truncated file?)"
        )
    return top
