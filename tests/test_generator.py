"""The offline session generator: spec drawing, roles, kits, looping, and one short rendered
session that must pass every data.md §5 check (pitch and determinism included)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from reaper_automix.analysis.roles import ROLES
from reaper_automix.generator import (GeneratedSession, SessionCheckError, SessionSpec,
                                      SourceUnavailableError, check_session, generate_session,
                                      load_session)
from reaper_automix.generator.arrange import in_short_bars, timeline
from reaper_automix.generator.drumkit import Hit, KitInstrument, Layer, load_kit, render_hits
from reaper_automix.generator.spec import PROGRAMS, TEXTURES, PartSpec, part_role
from reaper_automix.music.score import Note, Piece
from reaper_automix.rpp.document import RppDocument

SHORT = dict(piece="bach/bwv66.6", tempo=100.0, length_s=9.0, vocal=True, backing_vocals=True,
             soundfont="FluidR3_GM", kit="The Black Pearl 1.0", pattern="rock")


def _needs_sources() -> None:
    """Skip where the Debian sources of the generator are not installed."""
    from reaper_automix.generator import sources

    try:
        sources.soundfont_path("FluidR3_GM")
        sources.hydrogen_kits_dir()
        sources.klettres_syllables_dir()
        import parselmouth  # noqa: F401
        import tinysoundfont  # noqa: F401
    except (SourceUnavailableError, ImportError) as exc:
        pytest.skip(f"generator sources missing (scripts/setup.sh installs them): {exc}")


#: The parts of the short session, pinned so the test's cost does not depend on the draw.
SHORT_PARTS = (PartSpec("lead_vocal", -1, "syllables", 95), PartSpec("bass", 33, "quarters", 96),
               PartSpec("chords", 0, "beats", 80), PartSpec("strum", 25, "down_up", 80),
               PartSpec("backing_vocal", -1, "syllables", 80, "inner:0"))


@pytest.fixture(scope="module")
def short_session(tmp_path_factory: pytest.TempPathFactory) -> GeneratedSession:
    _needs_sources()
    spec = SessionSpec.draw(7, **SHORT).with_changes(parts=SHORT_PARTS)
    return generate_session(spec, cache_dir=tmp_path_factory.mktemp("cache"))


def test_draw_is_seeded_and_round_trips() -> None:
    _needs_sources()
    first, again, other = SessionSpec.draw(3), SessionSpec.draw(3), SessionSpec.draw(4)
    assert first == again and first != other
    assert SessionSpec.from_dict(json.loads(json.dumps(first.to_dict()))) == first
    assert 60 <= first.tempo <= 140 and -5 <= first.transpose <= 5
    assert {p.role for p in first.parts} <= set(ROLES)
    pinned = SessionSpec.draw(3, tempo=90, transpose=2, vocal=False, length_s=120.0)
    assert (pinned.tempo, pinned.transpose, pinned.vocal, pinned.length_s) == (90, 2, False, 120)
    with pytest.raises(ValueError, match="backing vocals need a lead vocal"):
        SessionSpec.draw(3, vocal=False, backing_vocals=True)


def test_roles_follow_what_the_part_does() -> None:
    assert part_role("melody", 73) == "lead"
    assert part_role("lead_vocal", -1) == "lead_vocal"
    assert part_role("backing_vocal", -1) == "backing_vocal"
    assert part_role("sustain", 48) == "strings"
    assert part_role("sustain", 61) == "brass"
    assert part_role("sustain", 89) == "pad"
    assert part_role("sustain", 19) == "chords"  # held organ chords are keys
    assert part_role("chords", 0) == "chords" and part_role("strum", 25) == "chords"
    assert part_role("arpeggio", 46) == "plucks"
    assert part_role("fx", 98) == "fx"
    assert part_role("counter", 71) == "other" and part_role("counter", 42) == "strings"
    for texture in TEXTURES:
        for program in PROGRAMS.get(texture, (-1,)):
            rhythm = {"lead_vocal": "syllables", "backing_vocal": "syllables"}.get(texture)
            from reaper_automix.generator.spec import RHYTHMS
            part = PartSpec(texture, program, rhythm or RHYTHMS[texture][0], 90)
            assert part.role in ROLES
    with pytest.raises(ValueError, match="unknown texture"):
        PartSpec("solo", 0, "legato", 90)


def test_timeline_loops_the_piece_and_keeps_the_pickup_on_the_grid() -> None:
    # a 2-bar piece with a one-beat pickup: pickup at 3, bars from 4 to 12
    parts = tuple(
        (Note(3.0, 1.0, pitch), Note(4.0, 4.0, pitch + 2), Note(8.0, 4.0, pitch + 4))
        for pitch in (72, 64, 48))
    piece = Piece("test", parts, ("s", "a", "b"), 4.0, 3.0, 12.0, (12.0,), "C major")
    line = timeline(piece, 20.0, transpose=-2)
    top = line.top
    assert line.first_bar_q == 4.0
    assert [n.start for n in top] == [3.0, 4.0, 8.0, 11.0, 12.0, 16.0]
    assert top[2].length == pytest.approx(3.0)  # the held end is cut by the next pickup
    assert top[-1].start + top[-1].length == pytest.approx(20.0)  # cut at the end bar line
    assert top[0].pitch == 70


def test_alla_breve_pieces_are_read_in_half_notes() -> None:
    parts = tuple((Note(0.0, 4.0, pitch), Note(4.0, 4.0, pitch)) for pitch in (72, 64, 48))
    piece = Piece("breve", parts, ("s", "a", "b"), 8.0, 0.0, 8.0, (8.0,), "")
    short = in_short_bars(piece)
    assert (short.bar, short.end, short.phrase_ends) == (4.0, 4.0, (4.0,))
    assert short.parts[0] == (Note(0.0, 2.0, 72), Note(2.0, 2.0, 72))
    assert in_short_bars(short) is short


def test_kit_parsing_handles_namespaces_old_files_and_layers(tmp_path: Path) -> None:
    import soundfile as sf

    kit = tmp_path / "kits" / "Tiny"
    kit.mkdir(parents=True)
    for name in ("soft.wav", "hard.wav", "hat.wav"):
        sf.write(kit / name, np.full((480, 1), 0.5 if name != "soft.wav" else 0.1), 48000,
                 subtype="FLOAT")
    (kit / "drumkit.xml").write_text(
        '<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit"><name>Tiny</name>'
        "<license>CC0</license><instrumentList>"
        "<instrument><name>Kick</name><volume>0.5</volume><pan_L>1</pan_L><pan_R>0.5</pan_R>"
        "<instrumentComponent><layer><filename>soft.wav</filename><min>0</min><max>0.5</max>"
        "<gain>1</gain></layer><layer><filename>hard.wav</filename><min>0.5</min><max>1</max>"
        "<gain>2</gain></layer></instrumentComponent></instrument>"
        "<instrument><name>Closed HH</name><filename>hat.wav</filename></instrument>"
        "<instrument><name>Missing</name><filename>nowhere.wav</filename></instrument>"
        "</instrumentList></drumkit_info>", encoding="utf-8")
    from reaper_automix.generator import drumkit

    drumkit.load_kit.cache_clear()
    original = drumkit.hydrogen_kits_dir
    drumkit.hydrogen_kits_dir = lambda: tmp_path / "kits"  # type: ignore[assignment]
    try:
        loaded = load_kit("Tiny")
    finally:
        drumkit.hydrogen_kits_dir = original  # type: ignore[assignment]
        drumkit.load_kit.cache_clear()
    assert [i.name for i in loaded.instruments] == ["Kick", "Closed HH"]
    assert loaded.candidates("kick") == ["Kick"] and loaded.candidates("hats_closed") == [
        "Closed HH"]
    kick = loaded.instrument("Kick")
    assert kick.layer_for(0.3).path.name == "soft.wav"
    assert kick.layer_for(0.9).path.name == "hard.wav"
    audio = render_hits(kick, [Hit(0.0, 0.9), Hit(0.01, 0.3)], 1000)
    # hard layer: 0.5 × gain 2 × velocity 0.9 × volume 0.5, left 1 / right 0.5 (48 kHz -> 44.1)
    assert audio[200, 0] == pytest.approx(0.45, abs=0.01)
    assert audio[200, 1] == pytest.approx(0.225, abs=0.01)


def test_hi_hat_choke_cuts_the_open_hat() -> None:
    instrument = KitInstrument("Open HH", 1.0, 1.0, 1.0, (Layer(Path("x"), 0.0, 1.0, 1.0),))
    from reaper_automix.generator import drumkit

    ring = np.ones((44100, 2), np.float32)
    drumkit.load_sample.cache_clear()
    original = drumkit.load_sample
    drumkit.load_sample = lambda path: ring  # type: ignore[assignment]
    try:
        audio = render_hits(instrument, [Hit(0.0, 1.0)], 44100, chokes_s=[0.5])
    finally:
        drumkit.load_sample = original  # type: ignore[assignment]
    assert audio[22000, 0] == 1.0 and audio[23500:, 0].max() == 0.0


def test_short_session_passes_every_check(short_session: GeneratedSession) -> None:
    """data.md §5 on a 9 s session with drums, bass, two chord parts, lead and backing vocal."""
    report = check_session(short_session, pitch=True, determinism=True)
    assert report.ok and report.tempo_measured == pytest.approx(100.0, rel=0.005)
    judged = {c.role: c for c in report.stems if c.pitch_notes}
    assert {"bass", "lead_vocal", "backing_vocal"} <= set(judged)
    assert judged["bass"].pitch_share >= 0.9 and judged["lead_vocal"].pitch_share >= 0.7


def test_short_session_layout_roles_and_cache(short_session: GeneratedSession) -> None:
    stems = short_session.stems
    assert len({s.name for s in stems}) == len(stems)
    assert {s.role for s in stems} <= set(ROLES)
    folders = {s.role: s.folder for s in stems}
    assert folders["kick"] == "Drums" and folders["bass"] == "Bass"
    assert folders["lead_vocal"] == folders["backing_vocal"] == "Vocals"
    assert all(s.path.is_file() and s.path.parent.parent == short_session.directory
               for s in stems)
    again = generate_session(short_session.spec, cache_dir=short_session.directory.parents[1])
    assert again == short_session  # served from the cache
    assert load_session(short_session.directory) == short_session
    lead = short_session.by_role("lead_vocal")[0]
    assert lead.gm_program is None and "PSOLA" in lead.source
    kick = short_session.by_role("kick")[0]
    assert kick.drum_notes == (36,) and "The Black Pearl" in kick.source


def test_vocal_has_air_above_4_khz(short_session: GeneratedSession) -> None:
    from reaper_automix.generator.vocals import high_band_shares

    above_4k, above_8k = high_band_shares(short_session.by_role("lead_vocal")[0].read()[:, 0])
    assert above_4k > 0.005 and above_8k > 0.003  # klettres PSOLA alone: 0.30 % and 0.10 %


def test_project_has_group_folders_and_gains(short_session: GeneratedSession,
                                             tmp_path: Path) -> None:
    copied = short_session.copy_to(tmp_path / "session")
    bass = copied.by_role("bass")[0].name
    path = copied.write_project(tmp_path / "session" / "mix.RPP", gains_db={bass: -6.0},
                                pans={bass: 0.25})
    assert RppDocument.load(path).to_bytes() == path.read_bytes()
    text = path.read_bytes().decode("utf-8")
    names = [line.strip().split(" ", 1)[1].strip('"') for line in text.splitlines()
             if line.strip().startswith("NAME ")]
    present = [f for f in ("Drums", "Bass", "Vocals", "Other") if f in names]
    assert present == ["Drums", "Bass", "Vocals", "Other"]
    assert 'FILE "stems/' in text  # media next to the project are referenced relatively
    assert "VOLPAN 0.501187" in text and " 0.25 " in text
    with pytest.raises(ValueError, match="unknown stem or folder"):
        copied.write_project(tmp_path / "x.RPP", gains_db={"Nope": 1.0})


def test_checks_name_the_broken_stem(short_session: GeneratedSession, tmp_path: Path) -> None:
    from reaper_automix.audio.io import write_float_wav

    broken_dir = tmp_path / "broken"
    shutil.copytree(short_session.directory, broken_dir)
    broken = load_session(broken_dir)
    snare = broken.by_role("snare")[0]
    write_float_wav(snare.path, np.zeros((broken.frames, 2), np.float32), 44100)
    with pytest.raises(SessionCheckError, match=rf"{snare.name}: silent"):
        check_session(broken, pitch=False)
    report = check_session(broken, pitch=False, raise_on_failure=False)
    assert not report.ok and len(report.problems) >= 1


def test_cli_generate_writes_projects_stems_and_manifest(tmp_path: Path) -> None:
    _needs_sources()
    from reaper_automix.cli import main

    out, cache = tmp_path / "out", tmp_path / "cache"
    argv = ["generate", "--out", str(out), "--seed", "5", "--length", "8", "--no-vocal",
            "--family", "chorales", "--cache", str(cache)]
    assert main(argv) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    [entry] = manifest["sessions"]
    folder = out / entry["folder"]
    assert (out / entry["project"]).is_file() and (folder / "session.json").is_file()
    assert not entry["vocal"] and entry["seed"] == 5
    assert all((out / s["file"]).is_file() and s["role"] in ROLES for s in entry["stems"])
    assert any(s["fader_db"] != 0.0 for s in entry["stems"])  # ±6 dB offsets by default
    assert main(argv) == 2  # refuses to overwrite without --force
    assert main([*argv, "--force"]) == 0


def test_bass_line_is_the_lowest_sounding_voice() -> None:
    from reaper_automix.generator.arrange import lowest_line

    tenor = (Note(0.0, 4.0, 55),)
    bass = (Note(2.0, 1.0, 43), Note(3.0, 1.0, 43))  # enters late, struck twice
    line = lowest_line([tenor, bass])
    assert line == (Note(0.0, 2.0, 55), Note(2.0, 1.0, 43), Note(3.0, 1.0, 43))


def test_sung_vocal_does_not_depend_on_what_was_sung_before() -> None:
    """A cached generator must give the same stem whatever the process rendered earlier."""
    _needs_sources()
    from reaper_automix.generator.vocals import SungNote, sing

    notes = [SungNote(0.1, 0.4, 64, 90), SungNote(0.6, 2.5, 67, 100)]  # the second needs 2 passes
    n = int(3.5 * 44100)
    first = sing(notes, n, False, np.random.default_rng(3))
    sing([SungNote(0.0, 3.0, 52, 80)], n, False, np.random.default_rng(4))  # something else
    again = sing(notes, n, False, np.random.default_rng(3))
    assert np.abs(first).max() > 0.01
    np.testing.assert_array_equal(first, again)
