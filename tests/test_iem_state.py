"""The <VST payload codec and the IEM JUCE state, on the real REAPER files in ../shared."""

from __future__ import annotations

import base64
import re
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reaper_automix.iem.multieq import sections
from reaper_automix.iem.params import FDNREVERB, MULTIEQ, OMNICOMPRESSOR, PLUGINS, identify
from reaper_automix.iem.state import (
    IEM_TRAILER,
    StateError,
    VstPayload,
    build_state,
    default_file_name,
    format_state,
    fx_params,
    juce_number,
    loaded_params,
    new_vst_block,
    pack_chunk,
    payload_params,
    read_state,
    unpack_chunk,
    update_payload,
    update_state,
    writable_params,
)
from reaper_automix.rpp.tokens import split_tokens
from reaper_automix.session import FxInstance

from .conftest import fixture_path

FIXTURES = ("spatlab-iem-template.rpp", "icst-iem-fx.RTrackTemplate", "perlence-vst.RPP")


def vst_blocks(path: Path) -> list[tuple[str, list[str]]]:
    """(first line without '<VST ', payload lines) of every <VST block, stripped of indentation."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, index = [], 0
    while index < len(lines):
        text = lines[index].strip()
        if text.startswith("<VST "):
            end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == ">")
            blocks.append((text[5:], [line.strip() for line in lines[index + 1 : end]]))
            index = end
        index += 1
    return blocks


def iem_block(fixture: str, plugin_name: str) -> tuple[str, list[str]]:
    for fields, payload in vst_blocks(fixture_path(fixture)):
        spec = identify(split_tokens(fields)[0])
        if spec is not None and spec.name == plugin_name:
            return fields, payload
    raise AssertionError(f"{plugin_name} not in {fixture}")


SPATLAB_OMNI = ("spatlab-iem-template.rpp", "OmniCompressor")
ICST_EQ = ("icst-iem-fx.RTrackTemplate", "MultiEQ")
ICST_FDN = ("icst-iem-fx.RTrackTemplate", "FdnReverb")
IEM_BLOCKS = (SPATLAB_OMNI, ICST_EQ, ICST_FDN)


# --------------------------------------------------------------------------------- payload
@pytest.mark.parametrize("fixture", FIXTURES)
def test_every_vst_block_reencodes_to_identical_lines(fixture: str) -> None:
    blocks = vst_blocks(fixture_path(fixture))
    assert blocks
    for fields, payload in blocks:
        decoded = VstPayload.decode(payload)
        assert decoded.encode() == payload, fields
        assert len(decoded.header) + len(decoded.state) + len(decoded.trailer) == sum(
            len(base64.b64decode(line)) for line in payload
        )


@pytest.mark.parametrize("fixture", FIXTURES[:2])
def test_iem_blocks_have_reaper_layout(fixture: str) -> None:
    for fields, payload in vst_blocks(fixture_path(fixture)):
        decoded = VstPayload.decode(payload)
        assert len(decoded.header) == 1052
        assert decoded.trailer == IEM_TRAILER
        assert decoded.state.startswith(b"VC2!")
        assert decoded.vst_id == int(split_tokens(fields)[4].split("<")[0])


def test_single_run_reaper4_layout_decodes_the_same() -> None:
    payload = VstPayload.decode(iem_block(*ICST_FDN)[1])
    text = base64.b64encode(payload.header + payload.state + payload.trailer).decode()
    single_run = [text[i : i + 128] for i in range(0, len(text), 128)]
    assert VstPayload.decode(single_run) == payload


def test_truncated_or_corrupt_payloads_are_reported() -> None:
    lines = iem_block(*SPATLAB_OMNI)[1]
    with pytest.raises(StateError, match="truncated"):
        VstPayload.decode(lines[:12])
    with pytest.raises(StateError, match="line 3 is not valid base64"):
        VstPayload.decode(lines[:2] + ["not*base64"] + lines[3:])
    with pytest.raises(StateError, match="no REAPER header"):
        VstPayload.decode(["AAAA"])


def _pins(count: int) -> bytes:
    return struct.pack(f"<I{count}Q", count, *(1 << (k % 64) for k in range(count)))


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 70), st.integers(0, 70), st.binary(max_size=700), st.binary(max_size=40))
def test_payload_round_trip_for_any_pin_counts_and_streams(n_in, n_out, state, trailer) -> None:
    header = (struct.pack("<II", 1234, 0xFEED5EEF) + _pins(n_in) + _pins(n_out)
              + struct.pack("<III", len(state), 0, 0x00100000))
    payload = VstPayload(header, state, trailer)
    lines = payload.encode()
    assert all(len(line) <= 128 for line in lines)
    assert VstPayload.decode(lines) == payload


# --------------------------------------------------------------------------------- reading
def test_spatlab_omnicompressor_state_matches_sources_md() -> None:
    payload = VstPayload.decode(iem_block(*SPATLAB_OMNI)[1])
    assert len(payload.state) == 540 and struct.unpack_from("<I", payload.state, 4)[0] == 531
    assert read_state(payload.state, OMNICOMPRESSOR) == {
        "attack": 30.0, "knee": 0.0, "lookAhead": 0.0, "orderSetting": 0.0, "outGain": 0.0,
        "ratio": 4.0, "release": 150.0, "reportLatency": 1.0, "threshold": -10.0, "useSN3D": 1.0,
    }


def test_icst_multieq_state_matches_sources_md() -> None:
    payload = VstPayload.decode(iem_block(*ICST_EQ)[1])
    assert len(payload.state) == 1466
    values = read_state(payload.state, MULTIEQ)
    assert [values[f"filterFrequency{b}"] for b in range(6)] == [20, 120, 500, 2200, 8000, 16000]
    assert [values[f"filterType{b}"] for b in range(6)] == [1, 1, 1, 1, 1, 3]
    assert {values[f"filterGain{b}"] for b in range(6)} == {0.0}
    assert {values[f"filterQ{b}"] for b in range(6)} == {0.7000000476837158}
    assert {values[f"filterEnabled{b}"] for b in range(6)} == {1.0}


def test_icst_fdnreverb_state_matches_sources_md() -> None:
    lines = iem_block(*ICST_FDN)[1]
    assert len(VstPayload.decode(lines).state) == 589
    values = payload_params(lines, FDNREVERB)
    expected = {"delayLength": 20, "revTime": 5, "dryWet": 0.5, "fdnSize": 2, "lowCutoff": 100,
                "highCutoff": 2000, "lowGain": 1, "highGain": -10}
    assert {key: values[key] for key in expected} == expected


@pytest.mark.parametrize("block", IEM_BLOCKS, ids=lambda b: b[1])
def test_our_default_state_is_byte_identical_to_the_plugins_own(block) -> None:
    """These three saved states are the plug-ins' defaults (SOURCES.md)."""
    spec = identify(block[1])
    state = VstPayload.decode(iem_block(*block)[1]).state
    assert format_state(spec, spec.defaults()) == state
    assert loaded_params(state, spec) == spec.defaults()


def test_missing_params_keep_defaults_and_unknown_ids_are_ignored() -> None:
    xml = ('<?xml version="1.0" encoding="UTF-8"?> <FdnReverb><PARAM id="revTime" value="2.345"/>'
           '<PARAM id="noSuchParam" value="3"/></FdnReverb>')
    values = loaded_params(pack_chunk(xml), FDNREVERB)
    assert values == {**FDNREVERB.defaults(), "revTime": FDNREVERB.param("revTime").snap(2.3)}


def test_root_tag_mismatch_is_refused() -> None:
    state = VstPayload.decode(iem_block(*ICST_EQ)[1]).state
    with pytest.raises(StateError, match="root tag <MultiEQ> is not <FdnReverb>"):
        read_state(state, FDNREVERB)
    with pytest.raises(StateError, match="root tag"):
        update_state(state, FDNREVERB, {"revTime": 2.0})


def test_payload_of_another_plugin_is_refused() -> None:
    with pytest.raises(StateError, match="VST2 id 1299531089, not FdnReverb"):
        payload_params(iem_block(*ICST_EQ)[1], FDNREVERB)


def test_non_vc2_states_are_refused() -> None:
    with pytest.raises(StateError, match="not a JUCE VC2! chunk"):
        unpack_chunk(b"\xef\xbe\xad\xde\r\xf0\xad\xde" + bytes(20))
    with pytest.raises(StateError, match="length 0"):
        unpack_chunk(b"VC2!" + bytes(5))


# --------------------------------------------------------------------------------- writing
def test_juce_number_text() -> None:
    q = MULTIEQ.param("filterQ0").snap(0.7)
    assert [juce_number(v) for v in (20.0, q, 0.7, -10.0, 16000.0)] == [
        "20.0", "0.7000000476837158", "0.699999988079071", "-10.0", "16000.0"]


def test_update_payload_changes_only_the_value_texts() -> None:
    lines = iem_block(*ICST_EQ)[1]
    before = VstPayload.decode(lines)
    changes = {"filterGain2": -4.25, "filterQ2": 1.234, "filterEnabled0": 0,
               "filterFrequency4": 7000}
    new_lines = update_payload(lines, changes, MULTIEQ)
    after = VstPayload.decode(new_lines)
    assert after.trailer == before.trailer
    assert after.header[:-12] == before.header[:-12] and after.header[-8:] == before.header[-8:]
    assert struct.unpack_from("<I", after.header, len(after.header) - 12)[0] == len(after.state)
    old_xml, new_xml = unpack_chunk(before.state), unpack_chunk(after.state)
    blank = re.compile(r'value="[^"]*"')
    assert blank.sub('value=""', old_xml) == blank.sub('value=""', new_xml)
    assert read_state(after.state, MULTIEQ) == {
        **read_state(before.state, MULTIEQ),
        "filterGain2": MULTIEQ.param("filterGain2").snap(-4.2), "filterQ2": 1.25,
        "filterEnabled0": 0.0, "filterFrequency4": 7000.0,
    }
    assert all(len(line) == 128 for line in new_lines[:8])
    assert new_lines[:10] == lines[:10]  # header run: only its last line holds chunk_size


def test_no_changes_returns_the_lines_untouched() -> None:
    lines = iem_block(*ICST_FDN)[1]
    assert update_payload(lines, {}, FDNREVERB) == lines


def test_update_inserts_missing_params_in_sorted_position() -> None:
    xml = ('<?xml version="1.0" encoding="UTF-8"?> <FdnReverb><PARAM id="delayLength" value="7.0"/>'
           '<PARAM id="revTime" value="2.0"/><OSCConfig ReceiverPort="-1"/></FdnReverb>')
    changes = {"lowQ": 0.3, "fdnSize": 1, "revTime": 3}
    new = unpack_chunk(update_state(pack_chunk(xml), FDNREVERB, changes))
    ids = re.findall(r'<PARAM id="([^"]*)"', new)
    assert ids == ["delayLength", "fdnSize", "lowQ", "revTime"]
    assert new.endswith('<OSCConfig ReceiverPort="-1"/></FdnReverb>')
    empty = pack_chunk('<?xml version="1.0" encoding="UTF-8"?> <FdnReverb></FdnReverb>')
    assert read_state(update_state(empty, FDNREVERB, {"dryWet": 0.25}), FDNREVERB) == {
        "dryWet": 0.25}


def test_valueless_params_are_ignored_on_read_and_given_a_value_on_update() -> None:
    """The plug-in saves missing PARAMs as <PARAM id="…"/> after loading a partial state and
    ignores them on load (both measured)."""
    xml = ('<?xml version="1.0" encoding="UTF-8"?> <FdnReverb><PARAM id="revTime" value="2.3"/>'
           '<PARAM id="dryWet"/><PARAM id="highCutoff"/></FdnReverb>')
    assert read_state(pack_chunk(xml), FDNREVERB) == {"revTime": 2.299999952316284}
    updated = unpack_chunk(update_state(pack_chunk(xml), FDNREVERB, {"dryWet": 0.25}))
    assert '<PARAM id="dryWet" value="0.25"/><PARAM id="highCutoff"/>' in updated
    assert updated.count('id="dryWet"') == 1


def test_unknown_param_in_changes_is_refused() -> None:
    with pytest.raises(KeyError, match="no parameter 'gain'"):
        update_payload(iem_block(*SPATLAB_OMNI)[1], {"gain": 3.0}, OMNICOMPRESSOR)


def test_writable_params_avoid_the_fdnreverb_rev_time_quirk() -> None:
    assert writable_params(FDNREVERB, {"revTime": 5.0, "dryWet": 0.333}) == {
        "revTime": FDNREVERB.param("revTime").snap(5.1),
        "dryWet": FDNREVERB.param("dryWet").snap(0.33),
    }
    assert writable_params(FDNREVERB, {"revTime": 4.96})["revTime"] != 5.0
    assert writable_params(MULTIEQ, {"filterQ0": 0.707}) == {"filterQ0": 0.7000000476837158}
    lines = update_payload(iem_block(*ICST_FDN)[1], {"revTime": 5.0}, FDNREVERB)
    assert payload_params(lines, FDNREVERB)["revTime"] == FDNREVERB.param("revTime").snap(5.1)


def test_build_state_for_a_new_multieq_is_transparent_by_default() -> None:
    values = read_state(build_state(MULTIEQ, {"filterGain2": 3}), MULTIEQ)
    assert values == {**MULTIEQ.defaults(), "filterType0": 3.0, "filterGain2": 3.0}
    assert sections(read_state(build_state(MULTIEQ, {}), MULTIEQ), 48000).shape[0] == 0
    high_pass = read_state(build_state(MULTIEQ, {"filterType0": 2, "filterFrequency0": 80}),
                           MULTIEQ)
    assert sections(high_pass, 48000).shape[0] == 2  # the 24 dB/oct band's two sections


def test_format_state_needs_every_parameter() -> None:
    with pytest.raises(KeyError, match="missing: knee"):
        format_state(OMNICOMPRESSOR, {k: v for k, v in OMNICOMPRESSOR.defaults().items()
                                      if k != "knee"})


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_updated_state_reads_back_what_was_written(data) -> None:
    spec = data.draw(st.sampled_from(PLUGINS))
    chosen = data.draw(st.lists(st.sampled_from(spec.params), min_size=1, unique=True))
    changes = {p.id: data.draw(st.floats(p.start - 1, p.end + 1)) for p in chosen}
    state = build_state(spec, {})
    after = update_state(state, spec, changes)
    expected = {**read_state(state, spec), **writable_params(spec, changes)}
    assert read_state(after, spec) == expected
    assert loaded_params(after, spec) == expected


# --------------------------------------------------------------------------------- new block
@pytest.mark.parametrize("block", IEM_BLOCKS, ids=lambda b: b[1])
def test_new_vst_block_matches_what_reaper_saved(block) -> None:
    fields, saved = iem_block(*block)
    spec = identify(block[1])
    saved_tokens = split_tokens(fields)
    new = new_vst_block(spec, {}, file_name=saved_tokens[1])
    assert split_tokens(new.fields) == saved_tokens
    assert new.fields == fields
    payload, original = VstPayload.decode(new.payload), VstPayload.decode(saved)
    assert payload.header == original.with_state(payload.state).header
    assert payload.trailer == original.trailer
    assert payload.state == build_state(spec, {})
    if spec is OMNICOMPRESSOR:  # its insert defaults are its defaults: identical lines
        assert new.payload == saved


def test_new_vst_block_fields_and_params() -> None:
    block = new_vst_block("FdnReverb", {"dryWet": 0.2}, custom_name="automix reverb",
                          file_name="FdnReverb.dll")
    assert split_tokens(block.fields) == [
        "VST: FdnReverb (IEM) (64ch)", "FdnReverb.dll", "0", "automix reverb",
        "1180979813<5653544664526566646E726576657262>", ""]
    assert payload_params(block.payload, FDNREVERB)["dryWet"] == FDNREVERB.param("dryWet").snap(0.2)
    assert default_file_name(MULTIEQ, "win32") == "MultiEQ.dll"
    assert default_file_name(MULTIEQ, "darwin") == "MultiEQ.vst"
    assert default_file_name(MULTIEQ, "linux") == "libMultiEQ.so"


def test_fx_params_reads_a_session_fx_instance() -> None:
    fields, payload = iem_block(*SPATLAB_OMNI)
    fx = FxInstance(name=split_tokens(fields)[0], kind="VST", identity="OmniCompressor.dll",
                    payload=tuple(payload))
    assert fx_params(fx) == OMNICOMPRESSOR.defaults()
    broken = FxInstance(name=fx.name, kind="VST", payload=tuple(payload[:3]))
    with pytest.raises(StateError, match="plug-in 'VST: OmniCompressor"):
        fx_params(broken)


def test_vst3_component_state_is_read_but_not_written() -> None:
    """reaper.md 1.7: a JUCE VST3 state is u32 length, u32 1, the VC2! blob + JUCE private data,
    u32 controller length, u32 0, controller state (synthetic: no IEM VST3 file was found)."""
    chunk = build_state(OMNICOMPRESSOR, {"threshold": -31.0})
    component = chunk + b"\x00" * 7 + b"JUCEPrivateData"
    state = struct.pack("<II", len(component), 1) + component + struct.pack("<II", 0, 0)
    header = VstPayload.decode(iem_block(*SPATLAB_OMNI)[1]).header
    lines = VstPayload(struct.pack("<I", 123456789) + header[4:], b"", b"").with_state(
        state).encode()
    assert payload_params(lines, OMNICOMPRESSOR)["threshold"] == -31.0
    with pytest.raises(StateError, match="VST3 build is not supported"):
        update_payload(lines, {"threshold": -20.0}, OMNICOMPRESSOR)
