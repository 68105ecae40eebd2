"""Pure codec for REAPER ``<VST`` payloads and the IEM plug-ins' JUCE ``VC2!`` XML state.

Works on lists of base64 line strings (no indentation, no line endings) and on bytes; the RPP
file layer (blocks, FX chains, FXID) lives in :mod:`reaper_automix.rpp` and the hosts.

Payload layout (REAPER 5+): three separately base64-encoded runs, each wrapped at 128 characters:
REAPER's header (VST2 id, magic, pin masks, ``chunk_size``, flag, opaque word), the plug-in
chunk, and a trailer (program name). REAPER 4 wrote one continuous run; decoding every line on
its own and splitting by the header's lengths reads both.

Writing follows what the plug-in does when it loads a state: values are snapped to the
parameter grid and written as JUCE writes them (16 significant digits of the float32 value).
Two quirks are handled for the engineer's benefit, see :func:`writable_params` and
:func:`insert_defaults`. Standard library only, like :mod:`.params`: the live REAPER host writes
through the same functions inside REAPER.
"""

from __future__ import annotations

import base64
import math
import re
import struct
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from ..rpp.tokens import quote
from .params import FDNREVERB, MULTIEQ, PluginSpec, f32, get_plugin

LINE_CHARS = 128  # REAPER wraps each base64 run at 128 characters (96 bytes)
CHUNK_MAGIC = b"VC2!"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
IEM_HEADER_MAGIC = 0xFEED5EEE
IEM_PINS = 64
IEM_TRAILER = b"\x00Program 1\x00\x10\x00\x00\x00"
_HEADER_FLAG_CHUNK = 1
_HEADER_LAST_WORD = 0x00100000
# A fresh FdnReverb only applies revTime from a change callback; 5.0 (the default) never fires it
# and plays at the network's start-up T60 of 3 s (iem.md section 9, quirk 2).
REV_TIME_SUBSTITUTE = 5.1


class StateError(ValueError):
    """A payload or plug-in state that cannot be read or would be ignored by the plug-in."""


# --------------------------------------------------------------------------------- payload
@dataclass(frozen=True)
class VstPayload:
    """The three byte streams of a ``<VST`` block: REAPER header, plug-in chunk, trailer."""

    header: bytes
    state: bytes
    trailer: bytes

    @classmethod
    def decode(cls, lines: Sequence[str]) -> VstPayload:
        """Decode the base64 lines of a ``<VST`` block (each line on its own)."""
        data = b"".join(_decode_line(number, line) for number, line in enumerate(lines, 1))
        size = _header_size(data)
        chunk_size = struct.unpack_from("<I", data, size - 12)[0]
        if size + chunk_size > len(data):
            raise StateError(
                f"<VST payload declares a {chunk_size}-byte plug-in state but only "
                f"{len(data) - size} bytes follow the {size}-byte header; the block is truncated"
            )
        return cls(data[:size], data[size : size + chunk_size], data[size + chunk_size :])

    def encode(self) -> list[str]:
        """Base64 lines as REAPER writes them: three runs, each wrapped at 128 characters."""
        lines: list[str] = []
        for run in (self.header, self.state, self.trailer):
            text = base64.b64encode(run).decode("ascii")
            lines += [text[i : i + LINE_CHARS] for i in range(0, len(text), LINE_CHARS)]
        return lines

    @property
    def vst_id(self) -> int:
        """The VST2 unique ID stored in the header (as the decimal of the ``<VST`` line)."""
        return int(struct.unpack_from("<I", self.header, 0)[0])

    def with_state(self, state: bytes) -> VstPayload:
        """A copy holding ``state``, with the header's ``chunk_size`` patched to match."""
        header = bytearray(self.header)
        struct.pack_into("<I", header, len(header) - 12, len(state))
        return VstPayload(bytes(header), state, self.trailer)


def _decode_line(number: int, line: str) -> bytes:
    try:
        return base64.b64decode(line.strip(), validate=True)
    except ValueError as exc:
        raise StateError(f"<VST payload line {number} is not valid base64: {line[:40]!r}") from exc


def _header_size(data: bytes) -> int:
    """28 + 8 × (inputs + outputs): id, magic, pins and masks, chunk_size, flag, opaque word."""
    if len(data) < 12:
        raise StateError(f"<VST payload is only {len(data)} bytes long; no REAPER header")
    n_in = struct.unpack_from("<I", data, 8)[0]
    n_out_at = 12 + 8 * n_in
    if n_out_at + 4 > len(data):
        raise StateError(f"<VST payload header claims {n_in} input pins; the data is too short")
    n_out = struct.unpack_from("<I", data, n_out_at)[0]
    size = 28 + 8 * (n_in + n_out)
    if size > len(data):
        raise StateError(f"<VST payload header ({n_in} in / {n_out} out pins) is truncated")
    return size


# --------------------------------------------------------------------------------- VC2! chunk
def unpack_chunk(state: bytes) -> str:
    """The XML text of a JUCE ``VC2!`` chunk (``VC2!``, u32 LE length, UTF-8 XML, NUL)."""
    if len(state) <= 8 or state[:4] != CHUNK_MAGIC:
        raise StateError(f"plug-in state is not a JUCE VC2! chunk (starts {state[:8]!r})")
    length = struct.unpack_from("<I", state, 4)[0]
    if length == 0:
        raise StateError("JUCE VC2! chunk holds no XML (length 0)")
    return state[8 : 8 + length].rstrip(b"\0").decode("utf-8")


def pack_chunk(xml: str) -> bytes:
    data = xml.encode("utf-8")
    return CHUNK_MAGIC + struct.pack("<I", len(data)) + data + b"\0"


def juce_number(value: float) -> str:
    """A parameter value as JUCE writes it into the state: the float32 value widened to double,
    16 significant digits, trailing zeros dropped, always with a decimal point ("20.0",
    "0.7000000476837158", "-69.09999847412109"); checked against the plug-ins' own saves."""
    number = f32(value)
    if not math.isfinite(number) or number != 0.0 and not 1e-5 <= abs(number) < 1e15:
        raise ValueError(f"{value!r} is not a value these plug-ins can hold")
    text = f"{number:.16g}"
    return text if "." in text else text + ".0"


# --------------------------------------------------------------------------------- reading
def read_state(state: bytes, plugin: str | PluginSpec) -> dict[str, float]:
    """The PARAM values present in a state, in plain units as the plug-in reads them (the text
    parsed, then held as float32, not yet snapped); unknown ids and PARAMs without a value
    (which the plug-in writes after loading a partial state, and ignores on load) are dropped."""
    spec = get_plugin(plugin)
    root = _parse(unpack_chunk(state), spec)
    values: dict[str, float] = {}
    for element in root.iter("PARAM"):
        param_id, text = element.get("id", ""), element.get("value")
        if param_id in spec.ids and text is not None:  # a PARAM without value changes nothing
            values[param_id] = _float_attribute(spec, param_id, text)
    return values


def loaded_params(state: bytes, plugin: str | PluginSpec) -> dict[str, float]:
    """What a freshly created instance holds after loading ``state``: defaults for missing
    PARAMs, every value snapped to its grid, in index order."""
    spec = get_plugin(plugin)
    return spec.complete(read_state(state, spec))


def _parse(xml: str, spec: PluginSpec) -> ET.Element:
    try:
        root = ET.fromstring(xml.encode("utf-8"))
    except ET.ParseError as exc:
        raise StateError(f"{spec.name} state XML does not parse: {exc}") from exc
    _check_root(root.tag, spec)
    return root


def _check_root(tag: str, spec: PluginSpec) -> None:
    if tag != spec.name:
        raise StateError(
            f"state root tag <{tag}> is not <{spec.name}>: {spec.name} would silently ignore "
            "this state; it belongs to another plug-in"
        )


def _float_attribute(spec: PluginSpec, param_id: str, text: str) -> float:
    try:
        return f32(float(text))
    except ValueError:
        raise StateError(f"{spec.name} PARAM {param_id}: value {text!r} is not a number") from None


# --------------------------------------------------------------------------------- writing
def writable_params(plugin: str | PluginSpec, params: Mapping[str, float]) -> dict[str, float]:
    """The values our writers store for ``params``: snapped to the grid like the plug-in does,
    with FdnReverb revTime 5.0 written as 5.1 (a fresh instance never applies 5.0 and plays it
    at 3 s). ``process(plugin, writable_params(plugin, p), …)`` is what REAPER will play."""
    spec = get_plugin(plugin)
    values = spec.to_grid(params)
    rev_time = FDNREVERB.param("revTime")
    if spec is FDNREVERB and values.get("revTime") == rev_time.snap(rev_time.default):
        values["revTime"] = rev_time.snap(REV_TIME_SUBSTITUTE)
    return values


def insert_defaults(plugin: str | PluginSpec) -> dict[str, float]:
    """Parameter values of a newly inserted instance: the plug-in's defaults, except that
    MultiEQ band 1 is a 0 dB low shelf (an exact identity) instead of the default 20 Hz
    high-pass, which is not transparent. Setting ``filterType0`` (or its gain) still works."""
    spec = get_plugin(plugin)
    values = spec.defaults()
    if spec is MULTIEQ:
        values["filterType0"] = 3.0
    return values


def format_state(plugin: str | PluginSpec, values: Mapping[str, float]) -> bytes:
    """A complete ``VC2!`` state holding exactly ``values`` (every parameter, snapped), laid out
    as the plug-in saves it: declaration, one space, root, PARAMs sorted by id, OSCConfig."""
    spec = get_plugin(plugin)
    grid = spec.to_grid(values)
    missing = [p for p in spec.ids if p not in grid]
    if missing:
        raise KeyError(f"{spec.name} state needs every parameter; missing: {', '.join(missing)}")
    params = "".join(
        f'<PARAM id="{key}" value="{juce_number(grid[key])}"/>' for key in sorted(grid)
    )
    osc = (
        '<OSCConfig ReceiverPort="-1" SenderIP="" SenderPort="-1" '
        f'SenderOSCAddress="/{spec.name}/" SenderInterval="100"/>'
    )
    return pack_chunk(f"{XML_DECLARATION} <{spec.name}>{params}{osc}</{spec.name}>")


def build_state(plugin: str | PluginSpec, params: Mapping[str, float]) -> bytes:
    """A complete state for a new instance: ``params`` over :func:`insert_defaults`, written
    through :func:`writable_params`."""
    spec = get_plugin(plugin)
    return format_state(spec, writable_params(spec, {**insert_defaults(spec), **params}))


_PARAM_ELEMENT = re.compile(r"<PARAM\b[^>]*?/>")
_ATTRIBUTE = re.compile(r'\b(id|value)="([^"]*)"')


def update_state(state: bytes, plugin: str | PluginSpec, params: Mapping[str, float]) -> bytes:
    """``state`` with the given PARAM values replaced (or inserted in sorted position), written
    through :func:`writable_params`. Every other byte of the XML is kept."""
    spec = get_plugin(plugin)
    xml = unpack_chunk(state)
    _parse(xml, spec)
    values = writable_params(spec, params)
    found: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        element = match.group(0)
        attributes = {m.group(1): m for m in _ATTRIBUTE.finditer(element)}
        param_id = attributes["id"].group(2) if "id" in attributes else ""
        if param_id not in values:
            return element
        found.add(param_id)
        text = juce_number(values[param_id])
        if "value" not in attributes:  # a valueless PARAM: give it one
            return f'<PARAM id="{param_id}" value="{text}"/>'
        value = attributes["value"]
        return element[: value.start(2)] + text + element[value.end(2) :]

    xml = _PARAM_ELEMENT.sub(replace, xml)
    for param_id in sorted(set(values) - found):
        xml = _insert_param(xml, spec, param_id, values[param_id])
    return pack_chunk(xml)


def _insert_param(xml: str, spec: PluginSpec, param_id: str, value: float) -> str:
    """Insert a PARAM before the first PARAM whose id sorts after it (JUCE's order)."""
    element = f'<PARAM id="{param_id}" value="{juce_number(value)}"/>'
    position = None
    for match in _PARAM_ELEMENT.finditer(xml):
        other = _ATTRIBUTE.search(match.group(0))
        if other and other.group(1) == "id" and other.group(2) > param_id:
            position = match.start()
            break
        position = match.end()
    if position is None:
        position = xml.index(f"<{spec.name}>") + len(spec.name) + 2
    return xml[:position] + element + xml[position:]


# --------------------------------------------------------------------------------- payload-level
def payload_params(lines: Sequence[str], plugin: str | PluginSpec) -> dict[str, float]:
    """All parameters a fresh instance holds after REAPER loads this ``<VST`` payload.

    Reads the VST2 layout and, for a JUCE VST3 build, the component state that wraps the same
    ``VC2!`` chunk (reaper.md 1.7; no REAPER file with an IEM VST3 instance was available)."""
    spec = get_plugin(plugin)
    payload = VstPayload.decode(lines)
    vst3_chunk = _vst3_component_chunk(payload.state)
    if vst3_chunk is not None:
        return loaded_params(vst3_chunk, spec)
    _check_vst_id(payload, spec)
    return loaded_params(payload.state, spec)


def update_payload(
    lines: Sequence[str], changes: Mapping[str, float], plugin: str | PluginSpec
) -> list[str]:
    """The payload lines with ``changes`` written into the plug-in state (``chunk_size``
    patched). No changes: the original lines, untouched. VST2 payloads only."""
    if not changes:
        return list(lines)
    spec = get_plugin(plugin)
    payload = VstPayload.decode(lines)
    if _vst3_component_chunk(payload.state) is not None:
        raise StateError(f"{spec.name}: writing the state of a VST3 build is not supported; "
                         f"use the VST2 plug-in ({spec.reaper_name})")
    _check_vst_id(payload, spec)
    return payload.with_state(update_state(payload.state, spec, changes)).encode()


def _vst3_component_chunk(state: bytes) -> bytes | None:
    """The ``VC2!`` chunk inside a VST3 state (u32 length, u32 1, component, …), if it is one."""
    if len(state) < 17 or state[:4] == CHUNK_MAGIC or state[8:12] != CHUNK_MAGIC:
        return None
    length, flag = struct.unpack_from("<II", state, 0)
    return state[8 : 8 + length] if flag == 1 else None


def _check_vst_id(payload: VstPayload, spec: PluginSpec) -> None:
    if payload.vst_id != spec.vst_id_int:
        raise StateError(
            f"<VST payload belongs to VST2 id {payload.vst_id}, not {spec.name} "
            f"({spec.vst_id_int}); refusing to read or write it as {spec.name}"
        )


class IemFx(Protocol):
    """What :func:`fx_params` needs from a session FX instance."""

    @property
    def iem_plugin(self) -> PluginSpec | None: ...

    @property
    def label(self) -> str: ...

    payload: tuple[str, ...]
    changes: dict[str, float]
    is_new: bool


def fx_params(fx: IemFx) -> dict[str, float]:
    """Parameters of a session FX instance as REAPER will load them: its saved payload with the
    pending ``changes`` written through the same path as saving (so quirks such as the revTime
    substitute apply), or a new instance's state."""
    spec = fx.iem_plugin
    if spec is None:
        raise ValueError(f"plug-in {fx.label!r} is not IEM MultiEQ, OmniCompressor or FdnReverb")
    try:
        if fx.is_new:
            lines = new_vst_block(spec, fx.changes).payload
        else:
            lines = update_payload(fx.payload, fx.changes, spec)
        return payload_params(lines, spec)
    except StateError as exc:
        raise StateError(
            f"plug-in {fx.label!r}: {exc}. Re-save the project in REAPER or replace the plug-in."
        ) from exc


# --------------------------------------------------------------------------------- new block
class VstBlock(NamedTuple):
    """A new ``<VST`` block: the text after ``<VST `` on its first line, and its payload lines."""

    fields: str
    payload: list[str]


def default_file_name(plugin: str | PluginSpec, platform: str = sys.platform) -> str:
    """The plug-in file name REAPER writes on ``platform``: ``.dll`` on Windows, ``.vst`` on
    macOS, the Debian package's ``lib<Name>.so`` on Linux."""
    spec = get_plugin(plugin)
    if platform.startswith("win"):
        return f"{spec.name}.dll"
    if platform == "darwin":
        return f"{spec.name}.vst"
    return spec.so_name


def new_vst_block(
    plugin: str | PluginSpec,
    params: Mapping[str, float] | None = None,
    *,
    file_name: str | None = None,
    custom_name: str = "",
) -> VstBlock:
    """A complete ``<VST`` block for a new instance holding ``params`` over
    :func:`insert_defaults`.

    Generated as REAPER writes IEM instances: display name ``VST: <Name> (IEM) (64ch)``, the
    file name of :func:`default_file_name` unless given, ``0``, the custom name, the VST2 id
    with its class id, ``""``; payload = 1052-byte header (64 in / 64 out pins with identity
    masks, which REAPER writes whatever the track's channel count), the state, the
    ``Program 1`` trailer.
    """
    spec = get_plugin(plugin)
    state = build_state(spec, params or {})
    fields = " ".join((
        quote(spec.reaper_name),
        quote(file_name or default_file_name(spec)),
        "0",
        quote(custom_name),
        f"{spec.vst_id_int}<{spec.class_id}>",
        '""',
    ))
    return VstBlock(fields, VstPayload(_iem_header(spec, len(state)), state, IEM_TRAILER).encode())


def _iem_header(spec: PluginSpec, chunk_size: int) -> bytes:
    masks = struct.pack(f"<{IEM_PINS}Q", *(1 << pin for pin in range(IEM_PINS)))
    return (
        struct.pack("<III", spec.vst_id_int, IEM_HEADER_MAGIC, IEM_PINS) + masks
        + struct.pack("<I", IEM_PINS) + masks
        + struct.pack("<III", chunk_size, _HEADER_FLAG_CHUNK, _HEADER_LAST_WORD)
    )
