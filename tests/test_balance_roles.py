"""Role-aware Auto balance group: roles (user, project, name), role tables, the report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from reaper_automix import open_project
from reaper_automix.analysis.role_offsets import (
    SHIPPED_TABLE,
    load_role_offsets,
    shipped_role_offsets,
)
from reaper_automix.analysis.roles import ROLES, RoleGuess
from reaper_automix.audio.io import write_audio
from reaper_automix.cli import main
from reaper_automix.commands.balance import parse_role_options
from reaper_automix.decisions.balance import decide_balance
from reaper_automix.jobs import JobError
from reaper_automix.jobs.balance import known_role, plan_balance
from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project
from reaper_automix.session import Item, Take, Track

from .test_balance_decision import RATE, folder

SR = 44100


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from reaper_automix.demo import build_demo

    return build_demo(tmp_path_factory.mktemp("demo")).project.parent


@pytest.fixture
def demo(demo_dir: Path, tmp_path: Path) -> Path:
    project = tmp_path / "automix-demo.RPP"
    shutil.copy(demo_dir / "automix-demo.RPP", project)
    (tmp_path / "media").symlink_to(demo_dir / "media")
    return project


# ------------------------------------------------------------------------ role tables
def test_the_shipped_table_has_every_role_and_says_where_each_came_from():
    table = shipped_role_offsets()
    assert set(table.offsets_db) == set(ROLES) and table.origin == "shipped"
    data = json.loads(SHIPPED_TABLE.read_text())
    assert set(data["sources"]) == set(ROLES) and all(data["sources"].values())
    assert data["offsets_db"]["kick"] == 0.0  # the reference
    assert all(abs(v) < 25 for v in table.offsets_db.values())


def test_a_user_table_may_be_flat_or_nested_and_partial(tmp_path):
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"hats": -9.5, "Lead Vocal": 2, "pad": -4}))
    table = load_role_offsets(flat)
    assert (table["hats_closed"], table["lead_vocal"], table["pad"]) == (-9.5, 2.0, -4.0)
    assert table["kick"] == shipped_role_offsets()["kick"]
    assert table.origin == str(flat) and "shipped values are used" in table.notes[0]
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps({"offsets_db": dict(shipped_role_offsets().offsets_db)}))
    assert load_role_offsets(nested).notes == ()


@pytest.mark.parametrize("content, words", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ("{}", "expected a JSON object"),
    ('{"cowbell player": -3}', "unknown role 'cowbell player'"),
    ('{"hats": "loud"}', "must be a number of dB"),
    ('{"hats": true}', "must be a number of dB"),
    ('{"hats": -80}', "outside ±40 dB"),
    ('{"hats": -8, "hats_closed": -7}', "given twice"),
])
def test_bad_user_tables_name_the_file_and_the_problem(tmp_path, content, words):
    path = tmp_path / "mine.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=words) as caught:
        load_role_offsets(path)
    assert str(path) in str(caught.value)


def test_a_missing_user_table_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read it"):
        load_role_offsets(tmp_path / "absent.json")


# -------------------------------------------------------------------------- decision
def test_role_offsets_set_relative_levels(tmp_path):
    tracks = folder()
    table = {role: 0.0 for role in ROLES} | {"pad": -6.0, "lead": 2.0}
    roles = [RoleGuess("bass", "name", 0.9, "bass"), RoleGuess("pad", "user", 1.0, "--role"),
             RoleGuess("lead", "name", 0.9, "lead"), None]
    decision = decide_balance(tracks, RATE, "centroid", roles=roles, role_offsets=table)
    plain = decide_balance(tracks, RATE, "centroid")
    offsets = np.array([0.0, -6.0, 2.0, 0.0])
    unknown = decision.tracks[3]
    assert unknown.role.source == "audio" and unknown.role.evidence.startswith("audio classifier")
    assert -6.0 <= unknown.offset_db <= 2.0  # the offsets averaged over the likely roles
    offsets[3] = unknown.offset_db
    got, base = np.array(decision.gains_db), np.array(plain.gains_db)
    np.testing.assert_allclose((got - got[0]) - (base - base[0]), offsets - offsets[0], atol=1e-6)
    assert [t.offset_db for t in decision.tracks[:3]] == list(offsets[:3])
    assert decision.tracks[1].role.source == "user"


def test_without_a_classifier_unknown_roles_are_other(monkeypatch):
    import reaper_automix.decisions.balance as balance

    monkeypatch.setattr(balance, "shipped_classifier", lambda: None)
    table = {role: 0.0 for role in ROLES} | {"other": 3.0}
    decision = decide_balance(folder(), RATE, "centroid", roles=[None] * 4, role_offsets=table)
    assert {(t.role.role, t.role.source) for t in decision.tracks} == {("other", "default")}
    assert all(t.offset_db == 3.0 for t in decision.tracks)


def test_role_inputs_are_checked():
    tracks = folder()
    with pytest.raises(ValueError, match="not both"):
        decide_balance(tracks, RATE, "lufs", offsets_db=[0] * 4, roles=[None] * 4, role_offsets={"other": 0})
    with pytest.raises(ValueError, match="no value for pad"):
        decide_balance(tracks, RATE, "lufs", roles=[RoleGuess("pad", "name", 1, "pad")] * 4,
                       role_offsets={"other": 0.0})
    with pytest.raises(ValueError, match="no value for kick, snare"):  # unknown roles: any role
        decide_balance(tracks, RATE, "lufs", roles=[None] * 4, role_offsets={"other": 0.0})
    with pytest.raises(ValueError, match="3 roles given for 4 tracks"):
        decide_balance(tracks, RATE, "lufs", roles=[None] * 3, role_offsets={"other": 0.0})


# ----------------------------------------------------------------------- known roles
def test_known_role_prefers_the_engineer_then_the_project_then_names():
    track = Track(index=0, name="Audio 03", guid="{A}")
    assert known_role(track, {}) is None
    track.items = [Item(0.0, 1.0, takes=[Take(name="OH_L_take2.wav")])]
    guess = known_role(track, {})
    assert (guess.role, guess.source) == ("cymbals", "name") and "take 'OH_L_take2.wav'" in guess.evidence
    track.name = "Shaker"
    assert known_role(track, {}).role == "percussion"
    track.ext["automix_role"] = "hats"
    assert known_role(track, {}) == RoleGuess("hats_closed", "user", 1.0, "saved in the project")
    chosen = {"{A}": RoleGuess("pad", "user", 1.0, "chosen for 'Shaker'")}
    assert known_role(track, chosen).role == "pad"
    track.ext["automix_role"] = "from a newer version"
    assert known_role(track, {}).role == "percussion", "an unknown saved role is ignored"


def test_a_child_folder_without_a_role_name_is_other():
    bus = Track(index=0, name="Band Bus", guid="{B}")
    bus.children = [Track(index=1, name="x", guid="{C}")]
    assert known_role(bus, {}) == RoleGuess("other", "default", 0.0, "a folder (a submix of several parts)")


def test_role_options_parse_or_explain():
    assert parse_role_options(["OH L=cymbals", " Lead = lead vocal "]) == {"OH L": "cymbals", "Lead": "lead vocal"}
    for bad in ("hats", "=hats", "Kick="):
        with pytest.raises(ValueError, match="write TRACK=ROLE"):
            parse_role_options([bad])


# ------------------------------------------------------------------------ end to end
def test_role_method_reports_every_track_role_and_offset(demo: Path, capsys) -> None:
    assert main(["balance", str(demo), "--json", "--dry-run", "--role", "Organ=pad"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == "role" and report["role_offsets"] == "shipped"
    table = shipped_role_offsets()
    rows = {t["name"]: t for g in report["groups"] for t in g["tracks"]}
    expected = {"Kick": ("kick", "name"), "Hi-Hat": ("hats_closed", "name"),
                "Bass Guitar": ("bass", "name"), "Lead Vocal (stand-in)": ("lead_vocal", "name"),
                "Backing Vocal Alto (stand-in)": ("backing_vocal", "name"),
                "Piano": ("chords", "name"), "Organ": ("pad", "user")}
    for name, (role, source) in expected.items():
        row = rows[name]
        assert (row["role"], row["role_source"]) == (role, source), name
        assert row["offset_db"] == table[role] and 0 < row["role_confidence"] <= 1
        assert {"loudness_db", "gain_db", "role_evidence"} <= row.keys()
    for group in report["groups"]:
        active = [t for t in group["tracks"] if t["active"]]
        for a in active:
            for b in active:
                want = (a["offset_db"] - b["offset_db"]) - (a["loudness_db"] - b["loudness_db"])
                assert a["gain_db"] - b["gain_db"] == pytest.approx(want, abs=1e-6)


def test_role_choices_saved_in_the_project_are_read(tmp_path: Path) -> None:
    t = np.arange(2 * SR) / SR
    rng = np.random.default_rng(3)
    write_audio(tmp_path / "a.wav", np.stack([0.2 * np.sin(2 * np.pi * 330 * t)] * 2, 1), SR)
    write_audio(tmp_path / "b.wav", 0.05 * rng.standard_normal((2 * SR, 2)), SR)
    item = lambda name: [ItemSpec(name, position=0.0, length=2.0)]  # noqa: E731
    write_project(tmp_path / "p.RPP", [TrackSpec("Group", children=[
        TrackSpec("Audio 1", items=item("a.wav")), TrackSpec("Audio 2", items=item("b.wav"))])],
        sample_rate=SR)
    text = (tmp_path / "p.RPP").read_text()
    head = text.index('NAME "Audio 2"')  # REAPER keeps P_EXT:automix_role as an <EXT block
    line_end = text.index("\n", head)
    (tmp_path / "p.RPP").write_text(text[:line_end + 1] + "    <EXT\n      automix_role hats\n    >\n"
                                    + text[line_end + 1:])
    project = open_project(tmp_path / "p.RPP")
    assert project.track("Audio 2").ext == {"automix_role": "hats"}
    (group,) = plan_balance(project).groups
    rows = {r.name: r for r in group.tracks}
    assert (rows["Audio 2"].role, rows["Audio 2"].role_source) == ("hats_closed", "user")
    assert rows["Audio 1"].role_source == "audio"  # the name says nothing: the classifier decides
    assert rows["Audio 2"].role_evidence == "saved in the project"


def test_unknown_role_targets_are_clear_errors(demo: Path, capsys) -> None:
    with pytest.raises(JobError, match="no track has that name"):
        plan_balance(open_project(demo), roles={"Hatz": "hats"})
    with pytest.raises(JobError, match="unknown role 'sparkle'"):
        plan_balance(open_project(demo), roles={"Kick": "sparkle"})
    assert main(["balance", str(demo), "--dry-run", "--method", "lufs", "--role", "Kick=kick"]) == 2
    assert "use them with --method role" in capsys.readouterr().err
