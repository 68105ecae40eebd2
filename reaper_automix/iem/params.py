"""Parameter tables and identities of IEM MultiEQ, OmniCompressor and FdnReverb (suite 1.14.0).

Everything the rest of the project knows about these plug-ins' parameters lives here, in VST2
index order (the order of ``TrackFX_SetParamNormalized`` and DawDreamer ``set_parameter``).
Values are *plain* (Hz, dB, ms, s, choice index); :class:`ParamSpec` converts them to and from
the normalised 0..1 values as the plug-ins' JUCE ``NormalisableRange`` does, in float32:
snapping to the step grid, clamping, skew.

Standard library only: the live REAPER host uses this module inside REAPER's Python, where numpy
is never imported. Float32 arithmetic is emulated exactly by rounding each operation's double
result to float32 (:func:`f32`; exact for + − × ÷, whose double result rounds correctly). The
skew's power, exp and log are rounded once from double, i.e. correctly rounded; a libm's float
``powf`` may differ by one unit in the last place on a few grid points (numpy's does on 38 of the
51 151), far below the parameters' steps.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

_FLOAT32 = struct.Struct("<f")


def f32(value: float) -> float:
    """``value`` rounded to the nearest float32 (±inf beyond float32's range), as a float."""
    try:
        return _FLOAT32.unpack(_FLOAT32.pack(value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


@dataclass(frozen=True)
class ParamSpec:
    """One float parameter: JUCE range (start, end, step, skew) plus display data."""

    index: int
    id: str
    name: str  # host display name
    start: float
    end: float
    step: float
    default: float
    skew: float = 1.0
    unit: str = ""  # the label the plug-in reports ("Hz", "dB", "dB/s", ": 1", …)
    decimals: int = 0  # digits of the plug-in's value text
    choices: tuple[str, ...] = ()  # texts of the values 0, 1, 2, … for choice-like parameters

    def snap(self, value: float) -> float:
        """The grid value the plug-in stores for ``value`` (float32 snap, then clamp)."""
        if not math.isfinite(value):
            raise ValueError(f"parameter {self.id}: value {value!r} is not a finite number")
        v, s, e, q = f32(value), f32(self.start), f32(self.end), f32(self.step)
        if q > 0:
            v = f32(s + f32(q * math.floor(f32(f32(f32(v - s) / q) + 0.5))))
        if v <= s:
            return s
        return e if v >= e else v

    def to_normalized(self, value: float) -> float:
        """Normalised 0..1 value of the grid point nearest ``value`` (what to send to a host)."""
        s, e = f32(self.start), f32(self.end)
        p = min(max(f32(f32(self.snap(value) - s) / f32(e - s)), 0.0), 1.0)
        if self.skew != 1.0:
            p = f32(p ** f32(self.skew))
        return p

    def from_normalized(self, normalized: float) -> float:
        """Plain value the plug-in sets for a normalised host value (clamped, skewed, snapped)."""
        if not math.isfinite(normalized):
            raise ValueError(f"parameter {self.id}: normalised value {normalized!r} is not finite")
        p = min(max(f32(normalized), 0.0), 1.0)
        if self.skew != 1.0 and p > 0:
            p = f32(math.exp(f32(f32(math.log(p)) / f32(self.skew))))
        s, e = f32(self.start), f32(self.end)
        return self.snap(f32(s + f32(f32(e - s) * p)))

    def text(self, value: float) -> str:
        """The plug-in's own value text for ``value`` (REAPER's formatted value, no unit)."""
        v = self.snap(value)
        if self.choices:
            return self.choices[int(round(v - self.start))]
        if self.id == "ratio" and v > 15.9:
            return "inf"
        return f"{v:.{self.decimals}f}"


@dataclass(frozen=True)
class PluginSpec:
    """Identity of one IEM plug-in and its parameter table."""

    name: str  # JUCE plug-in name = XML root tag of its state
    vst_id: str  # 4-character VST2 unique ID
    fx_version: int  # VST2 fxVersion / fxBank version
    params: tuple[ParamSpec, ...] = field(repr=False)

    @property
    def vst_id_int(self) -> int:
        """The 4-char ID as a big-endian integer (the decimal REAPER writes)."""
        return int.from_bytes(self.vst_id.encode("ascii"), "big")

    @property
    def class_id(self) -> str:
        """REAPER's 16-byte class ID: "VST" + ID + first 9 chars of the lower-case name, hex."""
        raw = ("VST" + self.vst_id + self.name.lower()[:9]).encode("ascii")
        return raw.ljust(16, b"\0").hex().upper()

    @property
    def reaper_name(self) -> str:
        return f"VST: {self.name} (IEM) (64ch)"

    @property
    def so_name(self) -> str:
        """File name of the Debian VST2 build."""
        return f"lib{self.name}.so"

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.params)

    def param(self, param_id: str) -> ParamSpec:
        for spec in self.params:
            if spec.id == param_id:
                return spec
        raise KeyError(
            f"{self.name} has no parameter {param_id!r}; valid ids: {', '.join(self.ids)}"
        )

    def defaults(self) -> dict[str, float]:
        return {p.id: p.snap(p.default) for p in self.params}

    def to_grid(self, params: Mapping[str, float]) -> dict[str, float]:
        """Each value snapped to its grid, as the plug-in stores it; unknown ids raise KeyError."""
        return {key: self.param(key).snap(float(value)) for key, value in params.items()}

    def complete(self, params: Mapping[str, float]) -> dict[str, float]:
        """Defaults overlaid with ``params``, all on the grid, in index order."""
        return {**self.defaults(), **self.to_grid(params)}


# --------------------------------------------------------------------------------- tables
_ON_OFF = ("OFF", "ON")
_FREQ = dict(start=20.0, end=20000.0, step=1.0, skew=0.4, unit="Hz")
_Q = dict(start=0.05, end=8.0, step=0.05, default=0.7, decimals=2)
_GAIN = dict(start=-60.0, end=15.0, step=0.1, default=0.0, unit="dB", decimals=1)
_MIDDLE_TYPES = ("Low-shelf", "Peak", "High-shelf")
_FIRST_TYPES = ("HP (6dB/oct)", "HP (12dB/oct)", "HP (24dB/oct)", "Low-shelf")
_LAST_TYPES = ("LP (6dB/Oct)", "LP (12dB/oct)", "LP (24dB/oct)", "High-shelf")
_BAND_FREQS = (20.0, 120.0, 500.0, 2200.0, 8000.0, 16000.0)


def _multieq_params() -> tuple[ParamSpec, ...]:
    params = [
        ParamSpec(0, "inputChannelsSetting", "Number of input channels", 0.0, 64.0, 1.0, 0.0,
                  choices=("Auto", *(str(n) for n in range(1, 65))))
    ]
    for band in range(6):
        types = _FIRST_TYPES if band == 0 else _LAST_TYPES if band == 5 else _MIDDLE_TYPES
        default_type = 3.0 if band == 5 else 1.0
        base, n = 1 + 5 * band, band + 1
        params += [
            ParamSpec(base, f"filterEnabled{band}", f"Filter Enablement {n}", 0.0, 1.0, 1.0, 1.0,
                      choices=_ON_OFF),
            ParamSpec(base + 1, f"filterType{band}", f"Filter Type {n}", 0.0, len(types) - 1.0,
                      1.0, default_type, choices=types),
            ParamSpec(base + 2, f"filterFrequency{band}", f"Filter Frequency {n}",
                      default=_BAND_FREQS[band], **_FREQ),  # type: ignore[arg-type]
            ParamSpec(base + 3, f"filterQ{band}", f"Filter Q {n}", **_Q),  # type: ignore[arg-type]
            ParamSpec(base + 4, f"filterGain{band}", f"Filter Gain {n}",
                      **_GAIN),  # type: ignore[arg-type]
        ]
    return tuple(params)


_ORDERS = ("Auto", "0th", "1st", "2nd", "3rd", "4th", "5th", "6th", "7th")

MULTIEQ = PluginSpec("MultiEQ", "MuEQ", 0x000204, _multieq_params())

OMNICOMPRESSOR = PluginSpec("OmniCompressor", "OmCo", 0x010404, (
    ParamSpec(0, "orderSetting", "Ambisonics Order", 0.0, 8.0, 1.0, 0.0, choices=_ORDERS),
    ParamSpec(1, "useSN3D", "Normalization", 0.0, 1.0, 1.0, 1.0, choices=("N3D", "SN3D")),
    ParamSpec(2, "threshold", "Threshold", -50.0, 10.0, 0.1, -10.0, unit="dB", decimals=1),
    ParamSpec(3, "knee", "Knee", 0.0, 30.0, 0.1, 0.0, unit="dB", decimals=1),
    ParamSpec(4, "attack", "Attack Time", 0.0, 100.0, 0.1, 30.0, unit="ms", decimals=1),
    ParamSpec(5, "release", "Release Time", 0.0, 500.0, 0.1, 150.0, unit="ms", decimals=1),
    ParamSpec(6, "ratio", "Ratio", 1.0, 16.0, 0.2, 4.0, unit=": 1", decimals=1),
    ParamSpec(7, "outGain", "MakeUp Gain", -10.0, 20.0, 0.1, 0.0, unit="dB", decimals=1),
    ParamSpec(8, "lookAhead", "LookAhead", 0.0, 1.0, 1.0, 0.0, choices=("OFF", "ON (5ms)")),
    ParamSpec(9, "reportLatency", "Report Latency to DAW", 0.0, 1.0, 1.0, 1.0,
              choices=("No", "Yes")),
))

FDNREVERB = PluginSpec("FdnReverb", "FdRe", 0x010204, (
    ParamSpec(0, "delayLength", "Room Size", 1.0, 30.0, 1.0, 20.0),
    ParamSpec(1, "revTime", "Reverberation Time", 0.1, 9.0, 0.1, 5.0, unit="s", decimals=1),
    ParamSpec(2, "lowCutoff", "Lows Cutoff Frequency", 20.0, 20000.0, 1.0, 100.0, skew=0.2,
              unit="Hz"),
    ParamSpec(3, "lowQ", "Lows Q Factor", 0.01, 0.9, 0.01, 0.5, decimals=2),
    ParamSpec(4, "lowGain", "Lows Gain", -80.0, 6.0, 0.1, 1.0, unit="dB/s", decimals=1),
    ParamSpec(5, "highCutoff", "Highs Cutoff Frequency", 20.0, 20000.0, 1.0, 2000.0, skew=0.2,
              unit="Hz"),
    ParamSpec(6, "highQ", "Highs Q Factor", 0.01, 0.9, 0.01, 0.5, decimals=2),
    ParamSpec(7, "highGain", "Highs Gain", -80.0, 4.0, 0.1, -10.0, unit="dB/s", decimals=1),
    ParamSpec(8, "dryWet", "Dry/Wet", 0.0, 1.0, 0.01, 0.5, decimals=2),
    ParamSpec(9, "fadeInTime", "Fade-in Time", 0.0, 9.0, 0.01, 0.0, unit="s", decimals=2),
    ParamSpec(10, "fdnSize", "Fdn Size (internal)", 0.0, 2.0, 1.0, 2.0, choices=("16", "32", "64")),
))

PLUGINS: tuple[PluginSpec, ...] = (MULTIEQ, OMNICOMPRESSOR, FDNREVERB)


# --------------------------------------------------------------------------------- lookup
def get_plugin(plugin: str | PluginSpec) -> PluginSpec:
    """The spec for a plug-in given as spec, plug-in name or anything :func:`identify` knows."""
    if isinstance(plugin, PluginSpec):
        return plugin
    spec = identify(plugin)
    if spec is None:
        known = ", ".join(p.name for p in PLUGINS)
        raise ValueError(f"{plugin!r} is not one of the supported IEM plug-ins ({known})")
    return spec


_PREFIX = re.compile(r"^(?:vst3?i?|au|aui|clap|clapi|lv2|lv2i)\s*:\s*")
_PARENS = re.compile(r"\s*\(([^()]*)\)\s*$")
_ID_FIELD = re.compile(r"^(\d+)(?:<([0-9a-f]{32})>)?$")  # VST2 only; VST3 ids are REAPER's own
_FILE_EXT = re.compile(r"\.(?:dll|vst|vst3|so|dylib|component|clap)$")


def identify(text: str) -> PluginSpec | None:
    """Recognise one of the three plug-ins from a field of a REAPER ``<VST`` line.

    Accepts the display name (``VST: MultiEQ (IEM) (64ch)``, ``VST3: FdnReverb (IEM)``,
    ``OmniCompressor``), the file name or path (``MultiEQ.vst``, ``OmniCompressor.dll``,
    ``libFdnReverb.so``, ``…/MultiEQ.vst3``) or the VST2 id field (``1299531089<5653…>``,
    ``1299531089``, the 4-char id; VST3 ``{FUID}`` ids are REAPER-derived and not matched).
    Case-insensitive. A name whose vendor is not IEM, or any
    other plug-in, gives ``None``.
    """
    field_text = text.strip().strip("\"'`").strip().lower()
    if not field_text:
        return None
    return _by_id(field_text) or _by_file(field_text) or _by_display_name(field_text)


def _by_id(text: str) -> PluginSpec | None:
    match = _ID_FIELD.match(text)
    for spec in PLUGINS:
        if text == spec.vst_id.lower():
            return spec
        if match and int(match.group(1)) == spec.vst_id_int:
            if match.group(2) is None or match.group(2) == spec.class_id.lower():
                return spec
    return None


def _by_file(text: str) -> PluginSpec | None:
    base = re.split(r"[\\/]", text.rstrip("\\/"))[-1]
    if not _FILE_EXT.search(base):
        return None
    stem = _FILE_EXT.sub("", base)
    for spec in PLUGINS:
        if stem in (spec.name.lower(), "lib" + spec.name.lower()):
            return spec
    return None


def _by_display_name(text: str) -> PluginSpec | None:
    name = _PREFIX.sub("", text)
    vendor_seen, is_iem = False, False
    while match := _PARENS.search(name):
        label = match.group(1).strip()
        name = name[: match.start()]
        if re.fullmatch(r"\d+\s*(?:ch|out|in)", label):  # REAPER's channel-count suffix
            continue
        vendor_seen, is_iem = True, is_iem or re.search(r"\biem\b", label) is not None
    if vendor_seen and not is_iem:
        return None
    name = name.strip()
    return next((spec for spec in PLUGINS if spec.name.lower() == name), None)
