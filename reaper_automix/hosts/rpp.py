"""The .RPP host: reads a project or track template into the session model and writes changed
values back, editing only the lines that changed (see :mod:`reaper_automix.rpp.document`)."""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

from ..rpp.document import Block, Line, RppDocument, RppFormatError
from ..rpp.tokens import format_number, replace_tokens
from ..session import Fade, FxInstance, Item, Project, Receive, Source, Take, Track, link_folders

FX_BLOCK_TAGS = {"VST", "JS", "AU", "DX", "CLAP", "LV2", "VIDEO_EFFECT", "CONTAINER"}


def open_project(path: str | Path, *, media_dir: str | Path | None = None) -> Project:
    """Read an .RPP project (or .RTrackTemplate) into the session model.

    Relative media paths resolve against ``media_dir`` (default: the file's own folder).
    """
    return RppHost(Path(path), media_dir=Path(media_dir) if media_dir else None).read()


def _float(values: list[str], index: int, default: float) -> float:
    try:
        value = float(values[index])
    except (IndexError, ValueError):
        return default
    return value if math.isfinite(value) else default


def _int(values: list[str], index: int, default: int) -> int:
    try:
        return int(float(values[index]))
    except (IndexError, ValueError):
        return default


def _first_values(block: Block, key: str) -> list[str]:
    line = block.line(key)
    return line.values if line is not None else []


@dataclass
class _Loaded:
    """What a track looked like when it was read, to detect what changed."""

    block: Block
    volume: float
    pan: float
    fx_blocks: dict[int, Block] = field(default_factory=dict)  # id(FxInstance) → <VST block
    folder_depth: int = 0
    receive_lines: dict[int, Line] = field(default_factory=dict)  # id(Receive) → AUXRECV line
    receive_values: dict[int, tuple[float, float, bool]] = field(default_factory=dict)


class RppHost:
    """A project file on disk, edited byte-preservingly."""

    def __init__(self, path: Path, *, media_dir: Path | None = None) -> None:
        self.path = path
        self.media_dir = media_dir
        self.document = RppDocument.load(path)
        self._loaded: dict[int, _Loaded] = {}

    def describe(self) -> str:
        return str(self.path)

    # ----------------------------------------------------------------------------- reading
    def read(self) -> Project:
        doc = self.document
        project = Project(path=self.path.resolve(), is_template=doc.is_template, host=self)
        media_dir = (self.media_dir or self.path.parent).resolve()
        if doc.project is not None:
            project.sample_rate = _int(_first_values(doc.project, "SAMPLERATE"), 0, 44100) or 44100
            project.tempo = _float(_first_values(doc.project, "TEMPO"), 0, 120.0)
        for index, block in enumerate(doc.track_blocks()):
            track, fx_blocks = self._read_track(index, block, media_dir)
            project.tracks.append(track)
            self._loaded[id(track)] = _Loaded(block, track.volume, track.pan, fx_blocks,
                                              track.folder_depth)
        for track in project.tracks:
            self._read_receives(track, project.tracks)
        link_folders(project.tracks)
        return project

    def _read_receives(self, track: Track, tracks: list[Track]) -> None:
        """``AUXRECV src mode vol pan mute …`` lines; a source index out of range is ignored
        (REAPER drops such a receive too)."""
        loaded = self._loaded[id(track)]
        for line in loaded.block.lines("AUXRECV"):
            values = line.values
            source = _int(values, 0, -1)
            if not 0 <= source < len(tracks):
                continue
            receive = Receive(tracks[source], mode=_int(values, 1, 0),
                              volume=max(0.0, _float(values, 2, 1.0)),
                              pan=min(1.0, max(-1.0, _float(values, 3, 0.0))),
                              mute=_int(values, 4, 0) != 0)
            track.receives.append(receive)
            loaded.receive_lines[id(receive)] = line
            loaded.receive_values[id(receive)] = (receive.volume, receive.pan, receive.mute)

    def _read_track(self, index: int, block: Block, folder: Path) -> tuple[Track, dict[int, Block]]:
        volpan = _first_values(block, "VOLPAN")
        mutesolo = _first_values(block, "MUTESOLO")
        isbus = _first_values(block, "ISBUS")
        guid = _first_values(block, "TRACKID") or block.values
        track = Track(
            index=index,
            name=_read_name(block),
            guid=guid[0] if guid else "",
            folder_depth=_int(isbus, 1, 0),
            volume=max(0.0, _float(volpan, 0, 1.0)),
            pan=min(1.0, max(-1.0, _float(volpan, 1, 0.0))),
            mute=_int(mutesolo, 0, 0) == 1,
            solo=_int(mutesolo, 1, 0),
            n_channels=_int(_first_values(block, "NCHAN"), 0, 2),
            main_send=_int(_first_values(block, "MAINSEND"), 0, 1) != 0,
            fx_enabled=_int(_first_values(block, "FX"), 0, 1) != 0,
        )
        track.items = [_read_item(b, folder) for b in block.blocks("ITEM")]
        ext = block.block("EXT")  # P_EXT:key data, one "key value" line each
        track.ext = {line.key: " ".join(line.values) for line in ext.lines() if line.key} if ext else {}
        chain = block.block("FXCHAIN")
        found = _read_fx_chain(chain) if chain is not None else []
        track.fx = [fx for fx, _ in found]
        return track, {id(fx): fx_block for fx, fx_block in found}

    # ----------------------------------------------------------------------------- writing
    def save(self, project: Project, path: Path | None = None) -> Path | None:
        """Write every changed fader/pan and staged plug-in into the document and save it
        atomically; returns the backup path, if one was made."""
        self.write(project)
        return self.document.save(path or self.path)

    def write(self, project: Project) -> None:
        """Write every changed fader/pan, staged plug-in, receive and added track into the
        document (in memory)."""
        self._write_new_tracks(project)
        for track in project.tracks:
            loaded = self._loaded.get(id(track))
            if loaded is None:
                raise RppFormatError(f"track {track.display_name} was not read from {self.path}")
            if track.volume != loaded.volume or track.pan != loaded.pan:
                self._write_volpan(loaded.block, track)
            if track.folder_depth != loaded.folder_depth:
                _write_isbus(loaded.block, track.folder_depth)
            self._write_receives(loaded, track, project)
            for fx in track.fx:
                if fx.is_new:
                    if fx.iem_plugin is None:
                        raise ValueError(f"track {track.display_name}: only IEM MultiEQ, "
                                         f"OmniCompressor and FdnReverb can be added, not {fx.label!r}")
                    fx.identity = fx.identity or _iem_file_name(project, fx)
                    loaded.fx_blocks[id(fx)] = append_fx(loaded.block, fx)
                elif fx.changes:
                    _rewrite_payload(loaded.fx_blocks[id(fx)], fx)
        for track in project.tracks:
            loaded = self._loaded[id(track)]
            loaded.volume, loaded.pan = track.volume, track.pan
            loaded.folder_depth = track.folder_depth
            for receive in track.receives:
                loaded.receive_values[id(receive)] = (receive.volume, receive.pan, receive.mute)
                receive.is_new = False
            for fx in track.fx:
                fx.payload = tuple(payload_lines(loaded.fx_blocks[id(fx)])) if fx.kind == "VST" else ()
                fx.changes, fx.is_new = {}, False

    def track_block(self, track: Track) -> Block:
        """The ``<TRACK`` block a track was read from."""
        return self._loaded[id(track)].block

    def fx_block(self, track: Track, fx: FxInstance) -> Block:
        """The plug-in block (``<VST``, ``<JS`` …) an FX instance was read from or written to."""
        return self._loaded[id(track)].fx_blocks[id(fx)]

    def _write_new_tracks(self, project: Project) -> None:
        """Append the tracks added with ``Project.add_track`` after the last track block."""
        from ..rpp.builder import TrackSpec, new_track_lines

        for track in project.tracks:
            if not track.is_new:
                continue
            if self.document.project is None:
                raise ValueError(f"cannot add track {track.display_name!r} to a track template")
            blocks = self.document.track_blocks()
            container = self.document.project
            anchor = blocks[-1] if blocks else None
            indent = anchor.head.indent if anchor is not None else container.child_indent
            ending = container.ending
            spec = TrackSpec(track.name, volume=track.volume, pan=track.pan, mute=track.mute,
                             nchan=track.n_channels)
            receives = [_receive_text(r, project) for r in track.receives]
            text = ending.join(indent + line for line in new_track_lines(spec, receives=receives))
            block = RppDocument(text + ending, f"new track {track.display_name!r}").top[0]
            at = container.index(anchor) + 1 if anchor is not None else len(container.children)
            container.insert(at, [block])
            track.guid = _first_values(block, "TRACKID")[0]
            track.is_new = False
            loaded = _Loaded(block, track.volume, track.pan, {}, track.folder_depth)
            for receive, line in zip(track.receives, block.lines("AUXRECV")):
                loaded.receive_lines[id(receive)] = line
                loaded.receive_values[id(receive)] = (receive.volume, receive.pan, receive.mute)
            self._loaded[id(track)] = loaded

    def _write_receives(self, loaded: _Loaded, track: Track, project: Project) -> None:
        for receive in track.receives:
            line = loaded.receive_lines.get(id(receive))
            if line is None:  # a new receive on an existing track: after the last AUXRECV
                block = loaded.block
                previous = block.lines("AUXRECV")
                anchor = previous[-1] if previous else (block.line("MIDIOUT")
                                                        or block.line("MAINSEND"))
                index = block.index(anchor) + (1 if previous else 0) if anchor else len(
                    block.children)
                line = Line(block.child_indent + _receive_text(receive, project), block.ending)
                block.insert(index, [line])
                loaded.receive_lines[id(receive)] = line
            elif loaded.receive_values[id(receive)] != (receive.volume, receive.pan, receive.mute):
                line.text = replace_tokens(line.text, {3: format_number(receive.volume),
                                                       4: format_number(receive.pan),
                                                       5: str(int(receive.mute))})

    def _write_volpan(self, block: Block, track: Track) -> None:
        line = block.line("VOLPAN")
        volume, pan = format_number(track.volume), format_number(track.pan)
        if line is not None:
            line.text = replace_tokens(line.text, {1: volume, 2: pan})
            return
        anchor = block.line("NAME") or block.line("PEAKCOL")
        index = block.index(anchor) + 1 if anchor is not None else 0
        new = Line(f"{block.child_indent}VOLPAN {volume} {pan} -1 -1 1", block.ending)
        block.insert(index, [new])


def _write_isbus(block: Block, folder_depth: int) -> None:
    """``ISBUS state delta`` for a new folder depth delta."""
    from ..rpp.builder import isbus_fields

    state, folder_depth = isbus_fields(folder_depth)
    line = block.line("ISBUS")
    fields = {1: str(state), 2: str(folder_depth)}
    if line is not None:
        line.text = replace_tokens(line.text, fields)
        return
    anchor = block.line("MUTESOLO") or block.line("VOLPAN") or block.line("NAME")
    index = block.index(anchor) + 1 if anchor is not None else 0
    block.insert(index, [Line(f"{block.child_indent}ISBUS {state} {folder_depth}", block.ending)])


def _receive_text(receive: Receive, project: Project) -> str:
    """An ``AUXRECV`` line as REAPER writes one (source by track index, stereo, default pan
    law, no MIDI)."""
    source = next(i for i, t in enumerate(project.tracks) if t is receive.source)
    return (f"AUXRECV {source} {receive.mode} {format_number(receive.volume)} "
            f"{format_number(receive.pan)} {int(receive.mute)} 0 0 0 0 -1:U 0 -1 ''")


def _read_name(block: Block) -> str:
    name_block = block.block("NAME")
    if name_block is not None:  # exact name when it holds all three quote characters
        raw = [c.text.lstrip(" \t")[1:] for c in name_block.children if isinstance(c, Line)]
        return "\n".join(raw)
    values = _first_values(block, "NAME")
    return values[0] if values else ""


def _read_item(block: Block, folder: Path) -> Item:
    item = Item(
        position=_float(_first_values(block, "POSITION"), 0, 0.0),
        length=max(0.0, _float(_first_values(block, "LENGTH"), 0, 0.0)),
        loop=_int(_first_values(block, "LOOP"), 0, 0) != 0,
        mute=_int(_first_values(block, "MUTE"), 0, 0) != 0,
        guid=(_first_values(block, "IGUID") or [""])[0],
        fade_in=_read_fade(_first_values(block, "FADEIN")),
        fade_out=_read_fade(_first_values(block, "FADEOUT")),
    )
    volpan = _first_values(block, "VOLPAN")
    item.volume = _float(volpan, 0, 1.0)
    take = Take(pan=_float(volpan, 1, 0.0), volume=_float(volpan, 2, 1.0))
    takes = [take]
    for child in block.children:
        if isinstance(child, Block):
            if child.tag == "SOURCE":
                takes[-1].source = _read_source(child, folder)
            elif child.tag == "TAKEFX":
                takes[-1].fx = [fx for fx, _ in _read_fx_chain(child)]
            continue
        key, values = child.key, child.values
        if key == "TAKE":
            if "SEL" in values:
                item.active_take_index = len(takes)
            takes.append(Take() if "NULL" not in values else Take(volume=0.0))
        elif key == "TAKEVOLPAN":
            takes[-1].pan, takes[-1].volume = _float(values, 0, 0.0), _float(values, 1, 1.0)
        elif key == "NAME":
            takes[-1].name = values[0] if values else ""
        elif key == "SOFFS":
            takes[-1].source_offset = _float(values, 0, 0.0)
        elif key == "PLAYRATE":
            rate = _float(values, 0, 1.0)
            takes[-1].play_rate = rate if rate > 0 else 1.0
            takes[-1].preserve_pitch = _int(values, 1, 1) != 0
        elif key == "CHANMODE":
            takes[-1].channel_mode = _int(values, 0, 0)
        elif key == "GUID":
            takes[-1].guid = values[0] if values else ""
    item.takes = takes
    item.name = takes[0].name
    return item


def _read_fade(values: list[str]) -> Fade:
    """``FADEIN shape length auto_length …``: an auto (crossfade) length > 0 takes precedence."""
    length = max(0.0, _float(values, 1, 0.0))
    auto = _float(values, 2, 0.0)
    return Fade(length=auto if auto > 0 else length, shape=_int(values, 0, 0))


def _read_source(block: Block, folder: Path) -> Source:
    kind = block.values[0] if block.values else ""
    inner = block.block("SOURCE")
    if kind == "SECTION" and inner is not None:
        source = _read_source(inner, folder)
        mode = _int(_first_values(block, "MODE"), 0, 0)
        source.section_start = _float(_first_values(block, "STARTPOS"), 0, 0.0)
        length = _float(_first_values(block, "LENGTH"), 0, 0.0)
        source.section_length = length if length > 0 else None
        source.reverse = mode in (2, 3)
        return source
    file_values = _first_values(block, "FILE")
    text = file_values[0] if file_values else ""
    source = Source(kind=kind.lstrip("_").replace("OFFLINE_", ""), path_text=text)
    if text:
        source.path = resolve_media_path(text, folder)
    return source


def resolve_media_path(text: str, folder: Path) -> Path:
    """Resolve a FILE path as REAPER does: relative to the project folder; a missing absolute
    path (often from another machine) falls back to the same file name in the project folder."""
    is_windows_absolute = bool(re.match(r"^([A-Za-z]:[\\/]|\\\\)", text))
    normalised = text.replace("\\", "/")
    path = Path(normalised)
    if not (path.is_absolute() or is_windows_absolute):
        return folder / path
    if path.exists():
        return path
    fallback = folder / PureWindowsPath(text).name if is_windows_absolute else folder / path.name
    return fallback if fallback.exists() else path


def payload_lines(block: Block) -> list[str]:
    """The base64 state lines of a ``<VST`` block (no indentation, no line ending)."""
    return [c.text.strip() for c in block.children if isinstance(c, Line)]


def _read_fx_chain(chain: Block) -> list[tuple[FxInstance, Block]]:
    fx: list[tuple[FxInstance, Block]] = []
    bypass: list[str] = []
    for child in chain.children:
        if isinstance(child, Line):
            if child.key == "BYPASS":
                bypass = child.values
            elif child.key == "FXID" and fx:
                fx[-1][0].guid = child.values[0] if child.values else ""
            continue
        if child.tag not in FX_BLOCK_TAGS:
            continue
        values = child.values
        instance = FxInstance(
            name=values[0] if values else child.tag,
            kind=child.tag,
            identity=values[1] if len(values) > 1 else "",
            bypassed=_int(bypass, 0, 0) == 1,
            offline=_int(bypass, 1, 0) == 1,
        )
        if child.tag == "JS":
            instance.identity = instance.name
            instance.custom_name = values[1] if len(values) > 1 else ""
        elif child.tag == "VST":
            instance.custom_name = values[3] if len(values) > 3 else ""
            instance.payload = tuple(payload_lines(child))
        fx.append((instance, child))
        bypass = []
    return fx


def append_fx(track_block: Block, fx: FxInstance) -> Block:
    """Add a new IEM plug-in group (BYPASS, <VST …>, FLOATPOS, FXID, WAK) holding ``fx``'s staged
    values at the end of the track's chain; returns the ``<VST`` block."""
    from ..iem.state import new_vst_block

    chain = track_block.block("FXCHAIN") or _new_fx_chain(track_block)
    indent, ending = chain.child_indent, track_block.ending
    fx.guid = fx.guid or "{" + str(uuid.uuid4()).upper() + "}"
    head, payload = new_vst_block(fx.iem_plugin, fx.changes, file_name=fx.identity,
                                  custom_name=fx.custom_name)
    block = Block(Line(f"{indent}<VST {head}", ending))
    block.insert(0, [Line(f"{indent}  {text}", ending) for text in payload])
    block.tail = Line(f"{indent}>", ending)
    group: list[Line | Block] = [
        Line(f"{indent}BYPASS {int(fx.bypassed)} {int(fx.offline)} 0", ending),
        block,
        Line(f"{indent}FLOATPOS 0 0 0 0", ending),
        Line(f"{indent}FXID {fx.guid}", ending),
        Line(f"{indent}WAK 0 0", ending),
    ]
    chain.insert(len(chain.children), group)
    return block


_PLATFORM_BY_EXTENSION = {".dll": "win32", ".vst": "darwin", ".so": "linux"}


def _iem_file_name(project: Project, new: FxInstance) -> str:
    """The plug-in file name for a new IEM instance, in the convention of the platform the
    project's existing IEM VST2 instances were saved on (this machine's when there are none)."""
    from ..iem.state import default_file_name

    for track in project.tracks:
        for fx in track.fx:
            if fx.is_new or fx.iem_plugin is None:
                continue
            suffix = PureWindowsPath(fx.identity).suffix.lower()
            if suffix in _PLATFORM_BY_EXTENSION:
                return default_file_name(new.iem_plugin, _PLATFORM_BY_EXTENSION[suffix])
    return default_file_name(new.iem_plugin)


def _new_fx_chain(track_block: Block) -> Block:
    """An empty <FXCHAIN, placed where REAPER writes it: before the items."""
    indent, ending = track_block.child_indent, track_block.ending
    chain = Block(Line(f"{indent}<FXCHAIN", ending), tail=Line(f"{indent}>", ending))
    chain.insert(0, [Line(f"{indent}  {text}", ending) for text in ("SHOW 0", "LASTSEL 0", "DOCKED 0")])
    items = track_block.blocks("ITEM")
    index = track_block.index(items[0]) if items else len(track_block.children)
    track_block.insert(index, [chain])
    return chain


def _rewrite_payload(vst_block: Block, fx: FxInstance) -> None:
    """Replace the state lines of an existing <VST block with the edited state."""
    from ..iem.state import update_payload

    write_payload(vst_block, update_payload(fx.payload, fx.changes, fx.iem_plugin))


def write_payload(vst_block: Block, payload: list[str]) -> None:
    """Replace the base64 state lines of a ``<VST`` block, keeping their indentation."""
    old = [c for c in vst_block.children if isinstance(c, Line)]
    indent = old[0].indent if old else vst_block.head.indent + "  "
    for line in old:
        vst_block.remove(line)
    vst_block.insert(0, [Line(indent + text, vst_block.ending) for text in payload])
