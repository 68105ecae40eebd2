"""The decision report as one self-contained HTML page, built from sections.

An action describes what it decided as a :class:`Section`: paragraphs, notes, tables, figures
(matplotlib, embedded as base64 PNG) and sub-sections. :class:`Report` puts sections, the A/B
preview players and the action's JSON report (embedded, for scripts) on one page with inline CSS
and a few lines of inline script: the page fetches nothing when it opens. Audio previews are
linked as local files relative to the page (they are too large to embed), so keep the preview
folder next to the report when moving it.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from .. import __version__
from .previews import Previews

TextKind = Literal["text", "note", "warning"]


@dataclass(frozen=True)
class Text:
    text: str
    kind: TextKind = "text"


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]  # right-aligned columns
    caption: str = ""


@dataclass(frozen=True)
class Image:
    png: bytes
    caption: str
    alt: str


@dataclass
class Section:
    """One part of the report: a titled list of paragraphs, tables, figures and sub-sections.

    Build it with the ``add_*`` methods, in reading order; :meth:`subsection` returns a new
    section nested here (one per folder, stem, ...)."""

    title: str
    parts: list[Text | Table | Image | Section] = field(default_factory=list)

    def add_text(self, text: str, kind: TextKind = "text") -> None:
        """A paragraph; ``kind`` "note" or "warning" draws it as a call-out."""
        self.parts.append(Text(text, kind))

    def add_table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
                  numeric: Sequence[bool] | None = None, caption: str = "") -> None:
        """A table of strings (other values are shown with ``str``); ``numeric`` marks the
        right-aligned columns."""
        flags = tuple(numeric) if numeric is not None else (False,) * len(columns)
        if len(flags) != len(columns) or any(len(row) != len(columns) for row in rows):
            raise ValueError(f"table {caption or columns!r}: every row needs {len(columns)} cells")
        self.parts.append(Table(tuple(columns), tuple(tuple(_cell(c) for c in r) for r in rows),
                                flags, caption))

    def add_figure(self, figure: Any, caption: str, *, alt: str | None = None) -> None:
        """A matplotlib figure (rendered to PNG now) or PNG bytes, with a caption."""
        png = figure if isinstance(figure, bytes) else figure_png(figure)
        self.parts.append(Image(png, caption, alt or caption))

    def subsection(self, title: str) -> Section:
        child = Section(title)
        self.parts.append(child)
        return child


def figure_png(figure: Any, dpi: int = 96) -> bytes:
    """A matplotlib Figure as PNG bytes (Agg; no pyplot, no global state)."""
    from io import BytesIO

    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass
class Report:
    """A whole report page: what was done to which project, previews, sections, data."""

    title: str
    sections: list[Section]
    project: str = ""  # the project file the report is about
    previews: Previews | None = None
    data: Mapping[str, Any] | None = None  # the action's JSON report, embedded verbatim
    created: datetime = field(default_factory=lambda: datetime.now().astimezone())

    def write(self, path: str | Path) -> Path:
        """Write the page atomically (temp file + rename); returns its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = self.html(base=path.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def html(self, base: Path | None = None) -> str:
        """The page; preview links are relative to ``base`` (the page's folder)."""
        body = [f"<header><h1>{_esc(self.title)}</h1>{self._meta()}</header>"]
        body.append(_contents(self.sections))
        if self.previews is not None:
            body.append(_previews(self.previews, base))
        ids: dict[str, int] = {}
        body.extend(_section(s, 2, ids) for s in self.sections)
        if self.data is not None:
            payload = json.dumps(self.data, ensure_ascii=False, indent=1)
            for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
                payload = payload.replace(char, escape)  # the same JSON, inert in a script
            body.append('<section><h2 id="data">Data</h2><p>The same report as '
                        '<code>--json</code> prints is embedded in this page as '
                        '<code>&lt;script id="automix-data" type="application/json"&gt;</code>.'
                        f'</p><script id="automix-data" type="application/json">{payload}'
                        "</script></section>")
        return _PAGE.format(title=_esc(self.title), css=_CSS, script=_SCRIPT,
                            body="\n".join(body))

    def _meta(self) -> str:
        rows = [("Project", self.project), ("Written", self.created.strftime("%Y-%m-%d %H:%M %Z")),
                ("By", f"reaper-automix {__version__}")]
        return "<dl class=meta>" + "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>"
                                          for k, v in rows if v) + "</dl>"


def embedded_data(page: str) -> dict[str, Any]:
    """The JSON report embedded in a page written by :class:`Report` (for scripts)."""
    match = re.search(r'<script id="automix-data" type="application/json">(.*?)</script>', page,
                      re.DOTALL)
    if match is None:
        raise ValueError("no AutoMix data in this page (was it written by reaper-automix?)")
    return json.loads(match[1])


def _contents(sections: Sequence[Section]) -> str:
    if len(sections) < 2:
        return ""
    links = "".join(f'<li><a href="#{_slug(s.title)}">{_esc(s.title)}</a></li>' for s in sections)
    return f"<nav><ul>{links}</ul></nav>"


def _previews(previews: Previews, base: Path | None) -> str:
    target = (f"{previews.target_lufs:.1f} LUFS" if previews.target_lufs is not None
              else "not measurable")
    players = []
    for item in previews.items:
        src = _link(item.path, base)
        detail = (f"{item.loudness_lufs:.1f} LUFS as rendered, played {item.gain_db:+.1f} dB"
                  if item.loudness_lufs is not None else "not loudness-matched")
        players.append(f'<figure class=player><figcaption><b>{_esc(item.label)}</b> '
                       f'<span>{_esc(detail)}</span></figcaption><audio controls '
                       f'preload="metadata" src="{_esc(src)}"></audio>'
                       f'<a href="{_esc(src)}">{_esc(item.path.name)}</a></figure>')
    notes = "".join(f'<p class=warning>{_esc(w)}</p>' for w in previews.warnings)
    return ('<section class=previews><h2 id="listen">Listen: A/B at equal loudness</h2>'
            f"<p>Every preview plays at {target} integrated loudness (BS.1770-4), so what you "
            "hear is balance and tone, not level. Starting one player while another plays "
            "switches to it at the same moment. The files are linked, not embedded: keep "
            f"<code>{_esc(previews.directory.name)}/</code> next to this page.</p>"
            f"{''.join(players)}{notes}</section>")


def _link(path: Path, base: Path | None) -> str:
    """A URL for ``path`` relative to ``base`` (an absolute file URL where none exists)."""
    path = Path(path).resolve()
    if base is not None:
        try:
            relative = os.path.relpath(path, Path(base).resolve())
        except ValueError:  # another drive on Windows
            return path.as_uri()
        return "/".join(quote(part) for part in Path(relative).parts)
    return path.as_uri()


def _section(section: Section, level: int, ids: dict[str, int]) -> str:
    anchor = _slug(section.title)
    ids[anchor] = ids.get(anchor, 0) + 1
    if ids[anchor] > 1:
        anchor = f"{anchor}-{ids[anchor]}"
    heading = f'<h{level} id="{anchor}">{_esc(section.title)}</h{level}>'
    return f"<section>{heading}{''.join(_part(p, level, ids) for p in section.parts)}</section>"


def _part(part: Text | Table | Image | Section, level: int, ids: dict[str, int]) -> str:
    if isinstance(part, Section):
        return _section(part, min(level + 1, 6), ids)
    if isinstance(part, Text):
        css = "" if part.kind == "text" else f" class={part.kind}"
        return f"<p{css}>{_esc(part.text)}</p>"
    if isinstance(part, Table):
        return _table(part)
    data = base64.b64encode(part.png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_esc(part.alt)}">'
            f"<figcaption>{_esc(part.caption)}</figcaption></figure>")


def _table(table: Table) -> str:
    def cells(values: Sequence[str], tag: str) -> str:
        return "".join(f"<{tag}{' class=num' if num else ''}>{_esc(v)}</{tag}>"
                       for v, num in zip(values, table.numeric))

    caption = f"<caption>{_esc(table.caption)}</caption>" if table.caption else ""
    rows = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in table.rows)
    return (f"<div class=scroll><table>{caption}<thead><tr>{cells(table.columns, 'th')}</tr>"
            f"</thead><tbody>{rows}</tbody></table></div>")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; media-src 'self' file: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<link rel="icon" href="data:,">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
{body}
<script>{script}</script>
</body>
</html>
"""

_CSS = """
:root { --fg: #1d232a; --muted: #5b6570; --line: #d5dae0; --accent: #2462a8;
        --note: #eef4fb; --warn: #fff4e0; --warn-line: #e0a030; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       max-width: 1180px; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; }
h2 { font-size: 1.3rem; border-bottom: 2px solid var(--line); padding-bottom: .2rem;
     margin-top: 2.2rem; }
h3 { font-size: 1.1rem; margin-top: 1.8rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 0 1rem; color: var(--muted);
          margin: .5rem 0 1rem; }
dl.meta dt { font-weight: 600; } dl.meta dd { margin: 0; overflow-wrap: anywhere; }
nav ul { display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; padding: 0; list-style: none; }
a { color: var(--accent); }
p.note, p.warning { padding: .5rem .8rem; border-left: 4px solid var(--accent);
                     background: var(--note); }
p.warning { border-color: var(--warn-line); background: var(--warn); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .92rem; }
caption { text-align: left; color: var(--muted); padding-bottom: .3rem; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid var(--line); text-align: left;
         vertical-align: top; }
th { background: #f4f6f8; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: .9rem; }
.previews figure.player { display: grid; grid-template-columns: 1fr; gap: .2rem;
                          padding: .6rem .8rem; border: 1px solid var(--line); border-radius: 6px; }
.previews audio { width: 100%; }
.previews figcaption span { margin-left: .6rem; }
code { background: #f4f6f8; padding: 0 .2rem; border-radius: 3px; }
"""

# A/B: starting one player while another plays pauses that one and continues from its moment.
_SCRIPT = """
(function () {
  var players = Array.prototype.slice.call(document.querySelectorAll('.previews audio'));
  players.forEach(function (player) {
    player.addEventListener('play', function () {
      var from = null;
      players.forEach(function (other) {
        if (other !== player && !other.paused) { from = other.currentTime; other.pause(); }
      });
      if (from !== null && from < (player.duration || 0)) { player.currentTime = from; }
    });
  });
})();
"""
