"""Parameter tables, JUCE NormalisableRange conversions and plug-in identification."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reaper_automix.iem.params import (
    FDNREVERB,
    MULTIEQ,
    OMNICOMPRESSOR,
    PLUGINS,
    ParamSpec,
    get_plugin,
    identify,
)

ALL_PARAMS = [(spec, p) for spec in PLUGINS for p in spec.params]


def test_tables_are_in_vst2_index_order_with_unique_ids() -> None:
    assert [len(spec.params) for spec in PLUGINS] == [31, 10, 11]
    for spec in PLUGINS:
        assert [p.index for p in spec.params] == list(range(len(spec.params)))
        assert len(set(spec.ids)) == len(spec.ids)
    assert MULTIEQ.param("filterGain3").index == 1 + 5 * 3 + 4
    assert OMNICOMPRESSOR.param("lookAhead").index == 8
    assert FDNREVERB.param("fdnSize").index == 10


def test_identities_match_iem_md_section_1() -> None:
    assert [s.vst_id_int for s in PLUGINS] == [1299531089, 1332560751, 1180979813]
    assert [s.class_id for s in PLUGINS] == [
        "5653544D7545516D756C746965710000",
        "5653544F6D436F6F6D6E69636F6D7072",
        "5653544664526566646E726576657262",
    ]
    assert MULTIEQ.reaper_name == "VST: MultiEQ (IEM) (64ch)"
    assert OMNICOMPRESSOR.so_name == "libOmniCompressor.so"
    assert [s.fx_version for s in PLUGINS] == [0x000204, 0x010404, 0x010204]


# default (norm) column of iem.md section 3, 6 decimals
DEFAULT_NORMALISED = {
    MULTIEQ: [0.0] + [1.0, 0.333333, 0.0, 0.081761, 0.8]
    + [v for f in (0.120161, 0.225039, 0.412235, 0.692728) for v in (1.0, 0.5, f, 0.081761, 0.8)]
    + [1.0, 1.0, 0.914519, 0.081761, 0.8],
    OMNICOMPRESSOR: [0.0, 1.0, 0.666667, 0.0, 0.3, 0.3, 0.2, 0.333333, 0.0, 1.0],
    FDNREVERB: [0.655172, 0.550562, 0.331512, 0.550562, 0.941860, 0.629816, 0.550562,
                0.833333, 0.5, 0.0, 1.0],
}


@pytest.mark.parametrize("spec", PLUGINS, ids=lambda s: s.name)
def test_default_normalised_values(spec) -> None:
    got = [round(p.to_normalized(p.default), 6) for p in spec.params]
    assert got == pytest.approx(DEFAULT_NORMALISED[spec], abs=1e-6)


@pytest.mark.parametrize(("hz", "normalised"), [
    (20, 0.0), (50, 0.074235), (100, 0.109900), (120, 0.120161), (200, 0.152010),
    (500, 0.225039), (1000, 0.299400), (2200, 0.412235), (5000, 0.573659), (8000, 0.692728),
    (10000, 0.757555), (16000, 0.914519), (20000, 1.0),
])
def test_multieq_frequency_skew(hz: float, normalised: float) -> None:
    param = MULTIEQ.param("filterFrequency2")
    assert param.to_normalized(hz) == pytest.approx(normalised, abs=1e-6)


@pytest.mark.parametrize(("hz", "normalised"), [
    (50, 0.272462), (100, 0.331512), (200, 0.389884), (500, 0.474383), (1000, 0.547175),
    (2000, 0.629816), (5000, 0.757403), (10000, 0.870376),
])
def test_fdnreverb_cutoff_skew(hz: float, normalised: float) -> None:
    assert FDNREVERB.param("highCutoff").to_normalized(hz) == pytest.approx(normalised, abs=1e-6)


def test_half_way_values() -> None:
    assert MULTIEQ.param("filterFrequency0").from_normalized(0.5) == 3552.0
    assert FDNREVERB.param("lowCutoff").from_normalized(0.5) == 644.0


@pytest.mark.parametrize(("spec", "param_id", "value", "grid"), [
    (MULTIEQ, "filterQ1", 0.7, 0.7000000476837158),
    (MULTIEQ, "filterQ1", 0.707, 0.7000000476837158),
    (FDNREVERB, "lowQ", 0.5, 0.4999999701976776),
    (FDNREVERB, "revTime", 2.345, 2.299999952316284),
    (FDNREVERB, "lowCutoff", 333.3, 333.0),
    (OMNICOMPRESSOR, "ratio", 15.9, 16.0),
    (OMNICOMPRESSOR, "ratio", 15.7, 15.800000190734863),
    (OMNICOMPRESSOR, "threshold", -80.0, -50.0),
    (MULTIEQ, "filterType1", 7.0, 2.0),
])
def test_snapping_and_clamping(spec, param_id: str, value: float, grid: float) -> None:
    assert spec.param(param_id).snap(value) == grid


@pytest.mark.parametrize(("spec", "param_id", "normalised", "text"), [
    (MULTIEQ, "inputChannelsSetting", 0.0, "Auto"), (MULTIEQ, "inputChannelsSetting", 0.25, "16"),
    (MULTIEQ, "filterType0", 0.5, "HP (24dB/oct)"), (MULTIEQ, "filterType5", 0.0, "LP (6dB/Oct)"),
    (MULTIEQ, "filterFrequency0", 0.77, "10415"), (MULTIEQ, "filterQ0", 0.013, "0.15"),
    (MULTIEQ, "filterGain0", 0.77, "-2.2"), (MULTIEQ, "filterEnabled2", 0.25, "OFF"),
    (OMNICOMPRESSOR, "orderSetting", 0.25, "1st"), (OMNICOMPRESSOR, "ratio", 1.0, "inf"),
    (OMNICOMPRESSOR, "ratio", 0.99, "15.8"), (OMNICOMPRESSOR, "lookAhead", 0.5, "ON (5ms)"),
    (OMNICOMPRESSOR, "release", 0.013, "6.5"), (OMNICOMPRESSOR, "useSN3D", 0.25, "N3D"),
    (FDNREVERB, "revTime", 0.25, "2.3"), (FDNREVERB, "lowCutoff", 0.77, "5428"),
    (FDNREVERB, "highGain", 0.25, "-59.0"), (FDNREVERB, "fadeInTime", 0.77, "6.93"),
    (FDNREVERB, "fdnSize", 0.5, "32"), (FDNREVERB, "dryWet", 0.99, "0.99"),
])
def test_value_texts_as_the_plugins_show_them(spec, param_id, normalised, text) -> None:
    """Texts read from the real plug-ins (DawDreamer get_parameter_text)."""
    param = spec.param(param_id)
    assert param.text(param.from_normalized(normalised)) == text


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ALL_PARAMS), st.floats(-1e5, 1e5, allow_nan=False))
def test_plain_to_normalised_and_back_gives_the_grid_value(pair, value: float) -> None:
    _, param = pair
    grid = param.snap(value)
    assert float(np.float32(param.start)) <= grid <= float(np.float32(param.end))
    assert param.from_normalized(param.to_normalized(value)) == grid
    assert param.snap(grid) == grid


def _unsnapped_normalised(param: ParamSpec, value: float) -> float:
    proportion = min(max((value - param.start) / (param.end - param.start), 0.0), 1.0)
    return proportion**param.skew


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ALL_PARAMS), st.floats(0.0, 1.0))
def test_normalised_to_plain_and_back_stays_within_half_a_step(pair, normalised: float) -> None:
    _, param = pair
    plain = param.from_normalized(normalised)
    back = param.to_normalized(plain)
    lo, hi = _unsnapped_normalised(param, plain - param.step / 2), _unsnapped_normalised(
        param, plain + param.step / 2)
    assert lo - 1e-6 <= normalised <= hi + 1e-6
    assert param.from_normalized(back) == plain


def test_non_finite_values_are_refused() -> None:
    with pytest.raises(ValueError, match="revTime"):
        FDNREVERB.param("revTime").snap(float("nan"))


def test_unknown_parameter_names_the_valid_ones() -> None:
    with pytest.raises(KeyError, match="revTime"):
        FDNREVERB.param("reverbTime")


@pytest.mark.parametrize(("text", "name"), [
    ("VST: MultiEQ (IEM) (64ch)", "MultiEQ"),
    ('"VST: OmniCompressor (IEM) (64ch)"', "OmniCompressor"),
    ("vst: fdnreverb (iem) (64ch)", "FdnReverb"),
    ("VST3: MultiEQ (IEM)", "MultiEQ"),
    ("VSTi: FdnReverb (IEM Plug-in Suite)", "FdnReverb"),
    ("MultiEQ (IEM)", "MultiEQ"),
    ("OmniCompressor", "OmniCompressor"),
    ("MultiEQ.vst", "MultiEQ"),
    ("OmniCompressor.dll", "OmniCompressor"),
    ("libFdnReverb.so", "FdnReverb"),
    ("FdnReverb.so", "FdnReverb"),
    ("FdnReverb.vst3", "FdnReverb"),
    ("/usr/lib/x86_64-linux-gnu/iem-plugin-suite/vst/libMultiEQ.so", "MultiEQ"),
    (r"C:\Program Files\VSTPlugins\IEM\OmniCompressor.dll", "OmniCompressor"),
    ("1299531089<5653544D7545516D756C746965710000>", "MultiEQ"),
    ("1332560751", "OmniCompressor"),
    ("FdRe", "FdnReverb"),
])
def test_identify_recognises_names_files_and_ids(text: str, name: str) -> None:
    spec = identify(text)
    assert spec is not None and spec.name == name


@pytest.mark.parametrize("text", [
    "", "VST: MultiBandCompressor (IEM) (64ch)", "VST: MultiEQ (Acme)", "VST: ReaEQ (Cockos)",
    "MultiEQ2.dll", "libMultiEQ.so.bak", "1919247213",
    "1299531089<00000000000000000000000000000000>",
    "1180979813{5653544664526566646E726576657262}", "JS: loser/3BandEQ",
    "VST: DualDelay (IEM) (64ch)",
])
def test_identify_rejects_other_plugins(text: str) -> None:
    assert identify(text) is None


def test_get_plugin_accepts_specs_and_names() -> None:
    assert get_plugin(MULTIEQ) is MULTIEQ
    assert get_plugin("fdnreverb") is FDNREVERB
    with pytest.raises(ValueError, match="not one of the supported IEM plug-ins"):
        get_plugin("ReaComp")


def test_param_spec_is_plain_data() -> None:
    param = ParamSpec(0, "x", "X", 0.0, 10.0, 0.5, 2.0)
    assert param.snap(2.74) == 2.5 and param.snap(2.76) == 3.0


def _numpy_snap(param: ParamSpec, value: float) -> float:
    """The float32 snap written with numpy scalars (the reference for the emulation)."""
    f = np.float32
    v, s, e, q = f(value), f(param.start), f(param.end), f(param.step)
    v = s + q * np.floor((v - s) / q + f(0.5))
    return float(s if v <= s else e if v >= e else v)


def _numpy_to_normalized(param: ParamSpec, grid: float) -> float:
    f = np.float32
    p = min(max((f(grid) - f(param.start)) / (f(param.end) - f(param.start)), f(0.0)), f(1.0))
    return float(np.power(p, f(param.skew)) if param.skew != 1.0 else p)


@pytest.mark.parametrize("param", [p for _, p in ALL_PARAMS
                                   if p.id in ("inputChannelsSetting", "filterFrequency0",
                                               "filterQ0", "filterGain0", "threshold", "ratio",
                                               "release", "revTime", "lowCutoff", "lowQ",
                                               "dryWet", "fadeInTime")], ids=lambda p: p.id)
def test_standard_library_float32_matches_numpy_on_every_grid_point(param: ParamSpec) -> None:
    """The conversions run inside REAPER without numpy: every grid value snaps exactly as with
    numpy float32, every normalised value is within one float32 ulp of numpy's ``powf`` and
    converts back to the same grid value."""
    steps = int(round((param.end - param.start) / param.step))
    grid = [param.start + k * param.step for k in range(steps + 1)]
    off_grid = np.random.default_rng(7).uniform(param.start - 1, param.end + 1, 2000)
    for value in [*grid, *off_grid]:
        assert param.snap(value) == _numpy_snap(param, value), value
    for value in grid:
        snapped = param.snap(value)
        normalised = param.to_normalized(snapped)
        reference = _numpy_to_normalized(param, snapped)
        assert abs(normalised - reference) <= float(np.spacing(np.float32(reference))), value
        assert param.from_normalized(normalised) == snapped
