"""Auto balance group end to end on .RPP files: the job, the CLI, invariance and idempotence."""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from reaper_automix import open_project
from reaper_automix.analysis.loudness import LoudnessMeter
from reaper_automix.audio.io import write_audio
from reaper_automix.audio.render import Renderer
from reaper_automix.decisions.balance import decide_balance
from reaper_automix.cli import main
from reaper_automix.jobs.balance import plan_balance
from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project
from reaper_automix.session import FADER_MAX_DB

from .conftest import fixture_path

SR = 44100


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from reaper_automix.demo import build_demo

    return build_demo(tmp_path_factory.mktemp("demo")).project.parent


@pytest.fixture
def demo(demo_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the demo project (media shared read-only)."""
    project = tmp_path / "automix-demo.RPP"
    shutil.copy(demo_dir / "automix-demo.RPP", project)
    (tmp_path / "media").symlink_to(demo_dir / "media")
    return project


def child_levels_db(project, folder_name: str) -> dict[str, float]:
    """Post-fader RMS level of each child of a folder, as rendered."""
    renderer = Renderer(project)
    folder = next(t for t in project.folders if t.name == folder_name)
    levels = {}
    for child in folder.children:
        audio = renderer.track(child, fader=True, pan=False)
        levels[child.guid] = 10 * np.log10(np.mean(audio.astype(np.float64) ** 2) + 1e-30)
    return levels


def scale_clip_gains(project, gains_db: dict[str, float]) -> None:
    for track in project.tracks:
        for item in track.items:
            for take in item.takes:
                take.volume *= 10 ** (gains_db.get(track.guid, 0.0) / 20)


# ------------------------------------------------------------------------- the rule holds
@pytest.mark.parametrize("method", ["centroid", "lufs", "f0"])
def test_active_children_end_with_equal_band_loudness(demo: Path, method: str) -> None:
    project = open_project(demo)
    report = plan_balance(project, ["Vocals"], method=method)
    (group,) = report.groups
    vocals = next(t for t in project.folders if t.name == "Vocals")
    renderer = Renderer(project)
    after = decide_balance([renderer.track(c, fader=True) for c in vocals.children], SR,
                           method=method)
    gains = [t.gain_db for t in after.tracks if t.active]
    assert len(gains) == 3 and all(t.active for t in group.tracks)
    assert max(gains) - min(gains) < 0.1, "balanced children measure equally loud in their band"


def folder_sum(project, renderer: Renderer, group_guid: str) -> np.ndarray:
    folder = project.track(group_guid)
    return sum(renderer.track(c, fader=True) for c in folder.children if c.main_send and not c.mute)


def test_each_folder_keeps_its_level(demo: Path) -> None:
    """Default level rule: each folder plays as loud as before (its children's sum, plus the
    folder fader's make-up), never peaks above -0.1 dBFS, and no child passes the fader top."""
    before_project = open_project(demo)
    before_renderer = Renderer(before_project)
    project = open_project(demo)
    report = plan_balance(project, method="centroid")
    assert report.level == "keep"
    renderer = Renderer(project)
    meter = LoudnessMeter(SR)
    for group in report.groups:
        before = meter.integrated(folder_sum(before_project, before_renderer, group.guid))
        stem = folder_sum(project, renderer, group.guid)
        after = meter.integrated(stem)
        assert before == pytest.approx(group.loudness_before_lufs, abs=0.01), group.name
        assert after == pytest.approx(group.loudness_after_lufs, abs=0.05), group.name
        assert after + group.folder_shift_db == pytest.approx(before + group.peak_limit_db, abs=0.1), group.name
        folder = project.track(group.guid)
        assert folder.volume_db == pytest.approx(before_project.track(group.guid).volume_db + group.folder_shift_db)
        assert 20 * np.log10(np.max(np.abs(stem))) <= -0.1 + group.level_shift_db + 0.01
        faders = [t.volume_after_db for t in group.tracks if t.active]
        assert max(faders) <= FADER_MAX_DB + 1e-9
        if group.folder_shift_db > 0:
            assert group.folder_shift_db == pytest.approx(-group.level_shift_db), "the mix is unchanged"
        assert group.summary and group.summary[0].startswith("level kept"), group.name


def test_drums_make_room_with_the_folder_fader(demo: Path) -> None:
    """Equal band loudness asks +20 dB of the demo's hi-hat: the children move down and the
    folder fader up instead (cutting loud tracks rather than boosting the quiet one to the top)."""
    project = open_project(demo)
    (group,) = plan_balance(project, ["Drums"], method="centroid").groups
    assert group.level_shift_db < -5 and group.folder_shift_db == pytest.approx(-group.level_shift_db)
    assert "folder fader" in group.summary[-1]


def test_a_folder_fader_at_its_top_loses_level_and_says_so(demo: Path) -> None:
    project = open_project(demo)
    project.track("Drums").volume_db = FADER_MAX_DB
    (group,) = plan_balance(project, ["Drums"], method="centroid").groups
    assert group.folder_shift_db == 0.0
    top = max(t.volume_after_db for t in group.tracks if t.active)
    assert top == pytest.approx(FADER_MAX_DB)
    assert any(t.note == "at the +12 dB fader top" for t in group.tracks)
    assert any("quieter than before" in note for note in group.notes)


def test_peak_level_puts_each_group_at_minus_0_1_dbfs_or_the_reported_shift(demo: Path) -> None:
    project = open_project(demo)
    report = plan_balance(project, method="centroid", level="peak")
    renderer = Renderer(project)
    for group in report.groups:
        peak_db = 20 * np.log10(np.max(np.abs(folder_sum(project, renderer, group.guid))))
        assert peak_db == pytest.approx(-0.1 + group.level_shift_db, abs=0.05), group.name
        faders = [t.volume_after_db for t in group.tracks if t.active]
        assert max(faders) <= FADER_MAX_DB + 1e-9
        if group.level_shift_db < 0:
            assert max(faders) == pytest.approx(FADER_MAX_DB)
        assert group.folder_shift_db == 0.0


# ------------------------------------------------------------- invariance and idempotence
def relative(levels: dict[str, float]) -> dict[str, float]:
    mean = np.mean(list(levels.values()))
    return {guid: level - mean for guid, level in levels.items()}


def test_balance_does_not_depend_on_starting_faders_or_clip_gains(demo: Path) -> None:
    """Random clip gains (0…+10 dB) and faders: the children end at the same levels relative to
    each other (the level the folder keeps is the one it had)."""
    rng = np.random.default_rng(7)
    reference = open_project(demo)
    plan_balance(reference, method="centroid")
    for trial in range(2):
        project = open_project(demo)
        children = [c for f in project.folders for c in f.children]
        scale_clip_gains(project, {c.guid: rng.uniform(0.0, 10.0) for c in children})
        for child in children:
            child.volume_db = rng.uniform(-20.0, 6.0)
        for group in plan_balance(project, method="centroid").groups:
            want = relative(child_levels_db(reference, group.name))
            got = relative(child_levels_db(project, group.name))
            assert got == pytest.approx(want, abs=0.1), (trial, group.name)


def test_peak_level_does_not_depend_on_starting_faders_or_clip_gains(demo: Path) -> None:
    """With the peak rule even the absolute levels are the same, up to the reported common shift
    where the rule needs more than the +12 dB fader top (the demo's drums)."""
    rng = np.random.default_rng(7)
    reference = open_project(demo)
    shifts = {g.name: g.level_shift_db for g in plan_balance(reference, method="centroid", level="peak").groups}
    for trial in range(2):
        project = open_project(demo)
        children = [c for f in project.folders for c in f.children]
        scale_clip_gains(project, {c.guid: rng.uniform(0.0, 10.0) for c in children})
        for child in children:
            child.volume_db = rng.uniform(-20.0, 6.0)
        report = plan_balance(project, method="centroid", level="peak")
        for group in report.groups:
            want, got = child_levels_db(reference, group.name), child_levels_db(project, group.name)
            moved = group.level_shift_db - shifts[group.name]
            assert got == pytest.approx({g: v + moved for g, v in want.items()}, abs=0.1), (
                trial, group.name)
            if shifts[group.name] == 0.0:
                assert moved == 0.0, "louder inputs never need a shift"


def test_peak_level_with_quieter_inputs_keeps_the_balance_and_reports_the_shift(demo: Path) -> None:
    """Inputs turned down so far that the rule needs more than +12 dB: every child moves by one
    reported shift, so levels relative to each other stay exactly as balanced."""
    reference = open_project(demo)
    plan_balance(reference, ["Vocals"], method="centroid", level="peak")
    project = open_project(demo)
    vocals = next(t for t in project.folders if t.name == "Vocals")
    scale_clip_gains(project, {c.guid: -9.0 for c in vocals.children})
    (group,) = plan_balance(project, ["Vocals"], method="centroid", level="peak").groups
    unshifted = plan_balance(open_project(demo), ["Vocals"], method="centroid", level="peak").groups[0].tracks
    assert group.level_shift_db == pytest.approx(-9.0 + (FADER_MAX_DB - max(
        t.gain_db for t in unshifted)), abs=0.05)
    want, got = child_levels_db(reference, "Vocals"), child_levels_db(project, "Vocals")
    for guid in want:
        assert got[guid] - want[guid] == pytest.approx(group.level_shift_db, abs=0.1)


def test_per_track_target_offsets(demo: Path) -> None:
    project = open_project(demo)
    vocals = next(t for t in project.folders if t.name == "Vocals")
    lead, alto, tenor = vocals.children
    plan_balance(project, ["Vocals"], method="centroid", offsets_db={alto.guid: -6.0, tenor.guid: -3.0})
    renderer = Renderer(project)
    after = decide_balance([renderer.track(c, fader=True) for c in vocals.children], SR)
    gains = [t.gain_db for t in after.tracks]  # equalising gains: quieter tracks need more
    assert gains[1] - gains[0] == pytest.approx(6.0, abs=0.1)
    assert gains[2] - gains[0] == pytest.approx(3.0, abs=0.1)


def test_balancing_twice_changes_nothing(demo: Path) -> None:
    assert main(["balance", str(demo), "--recursive"]) == 0
    first = {t.guid: t.volume_db for t in open_project(demo).tracks}
    assert main(["balance", str(demo), "--recursive"]) == 0
    second = {t.guid: t.volume_db for t in open_project(demo).tracks}
    assert second == pytest.approx(first, abs=0.1)
    assert max(abs(second[g] - first[g]) for g in first) < 1e-6  # pre-fader analysis: exact


# ----------------------------------------------------------------------------- the CLI
def test_cli_json_report(demo: Path, capsys) -> None:
    before = demo.read_bytes()
    assert main(["balance", str(demo), "--group", "Drums", "--group", "Kick", "--method",
                 "lufs", "--json", "--dry-run"]) == 0
    assert demo.read_bytes() == before, "--dry-run writes nothing"
    assert not demo.with_name(demo.name + ".automix-bak").exists()
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == "lufs"
    (group,) = report["groups"]  # Kick selects its folder, Drums, once
    assert group["name"] == "Drums" and isinstance(group["target_db"], float)
    keys = {"name", "guid", "active", "loudness_db", "gain_db", "volume_before_db",
            "volume_after_db"}
    assert [t["name"] for t in group["tracks"]] == ["Kick", "Snare", "Hi-Hat", "Toms", "Crash"]
    for track in group["tracks"]:
        assert keys <= track.keys()
        assert track["volume_after_db"] == pytest.approx(track["gain_db"] + group["level_shift_db"])


def test_cli_writes_only_the_faders_with_a_backup(demo: Path, tmp_path: Path) -> None:
    before = demo.read_bytes()
    out = tmp_path / "balanced.RPP"
    assert main(["balance", str(demo), "--group", "Other", "-o", str(out)]) == 0
    assert demo.read_bytes() == before, "-o leaves the source alone"
    diff = [line for line in difflib.ndiff(before.decode().splitlines(), out.read_text().splitlines())
            if line[:2] in ("- ", "+ ")]
    other = open_project(demo).track("Other")
    changed = 4 + (open_project(out).track("Other").volume != other.volume)  # + folder make-up
    assert len(diff) == 2 * changed and all(line[2:].lstrip().startswith("VOLPAN") for line in diff)
    assert main(["balance", str(demo), "--group", "Other"]) == 0
    assert demo.with_name(demo.name + ".automix-bak").read_bytes() == before
    assert demo.read_bytes() == out.read_bytes()


def test_recursive_balances_nested_folders_bottom_up(tmp_path: Path) -> None:
    t = np.arange(2 * SR) / SR
    for name, freq, level in (("a", 200, 0.5), ("b", 900, 0.05), ("c", 3000, 0.2)):
        tone = level * np.sin(2 * np.pi * freq * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))
        write_audio(tmp_path / f"{name}.wav", np.stack([tone, tone], 1), SR)
    item = lambda name: [ItemSpec(f"{name}.wav", position=0.0, length=2.0)]  # noqa: E731
    tree = [TrackSpec("Band", children=[
        TrackSpec("Keys", children=[TrackSpec("K1", items=item("a")), TrackSpec("K2", items=item("b"))]),
        TrackSpec("Lead", items=item("c")),
    ])]
    path = tmp_path / "nested.RPP"
    write_project(path, tree, sample_rate=SR)

    flat = open_project(path)
    (only,) = plan_balance(flat, ["Band"], method="lufs").groups
    assert [t.name for t in only.tracks] == ["Keys", "Lead"]
    k1, k2 = flat.track("K1"), flat.track("K2")
    assert (k1.volume_db, k2.volume_db) == (0.0, 0.0), "without --recursive the inner folder stays"

    deep = open_project(path)
    report = plan_balance(deep, ["Band"], method="lufs", recursive=True)
    assert [g.name for g in report.groups] == ["Keys", "Band"], "deepest first"
    renderer = Renderer(deep)
    keys_children = [LoudnessMeter(SR).integrated(renderer.track(deep.track(n), fader=True))
                     for n in ("K1", "K2")]
    assert keys_children[0] == pytest.approx(keys_children[1], abs=0.1)
    band = [LoudnessMeter(SR).integrated(renderer.track(deep.track(n), fader=True))
            for n in ("Keys", "Lead")]
    assert band[0] == pytest.approx(band[1], abs=0.1), "Keys counted as one (balanced) track"


def test_silent_muted_and_unsent_children_keep_their_faders(tmp_path: Path) -> None:
    t = np.arange(2 * SR) / SR
    write_audio(tmp_path / "tone.wav", np.stack([0.3 * np.sin(2 * np.pi * 440 * t)] * 2, 1), SR)
    noise = 1e-3 * np.random.default_rng(1).standard_normal((2 * SR, 2))
    write_audio(tmp_path / "quiet.wav", noise, SR)
    item = lambda name: [ItemSpec(name, position=0.0, length=2.0)]  # noqa: E731
    tree = [TrackSpec("Group", children=[
        TrackSpec("Tone", items=item("tone.wav")), TrackSpec("Tone 2", items=item("tone.wav")),
        TrackSpec("Quiet", items=item("quiet.wav"), volume=10 ** (-3 / 20)),
        TrackSpec("Muted", items=item("tone.wav"), volume=10 ** (-4 / 20), mute=True),
        TrackSpec("Empty", volume=10 ** (-5 / 20)),
    ])]
    path = tmp_path / "p.RPP"
    write_project(path, tree, sample_rate=SR)
    project = open_project(path)
    (group,) = plan_balance(project, method="centroid").groups
    rows = {t.name: t for t in group.tracks}
    assert rows["Tone"].active and rows["Tone 2"].active
    for name, fader, words in (("Quiet", -3.0, "is not above -50 LUFS"), ("Muted", -4.0, "muted"),
                               ("Empty", -5.0, "no media items")):
        assert not rows[name].active and rows[name].gain_db is None
        assert project.track(name).volume_db == pytest.approx(fader)
        assert words in rows[name].reason


# ------------------------------------------------------------------------- bad input
def test_project_without_folders_is_a_clear_error(capsys) -> None:
    path = fixture_path("audio-file-x4.RPP")
    assert main(["balance", str(path), "--dry-run", "--skip-missing"]) == 2
    assert "has no folder tracks" in capsys.readouterr().err


def test_missing_media_names_track_and_file(tmp_path: Path, capsys) -> None:
    t = np.arange(SR) / SR
    write_audio(tmp_path / "here.wav", np.stack([0.3 * np.sin(2 * np.pi * 440 * t)] * 2, 1), SR)
    tree = [TrackSpec("Group", children=[
        TrackSpec("Here", items=[ItemSpec("here.wav", position=0.0, length=1.0)]),
        TrackSpec("Gone", items=[ItemSpec("gone.wav", position=0.0, length=1.0)]),
    ])]
    path = tmp_path / "p.RPP"
    write_project(path, tree, sample_rate=SR)
    before = path.read_bytes()
    assert main(["balance", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Gone" in err and "gone.wav" in err
    assert path.read_bytes() == before, "a failed balance leaves the project untouched"
    assert main(["balance", str(path), "--skip-missing", "--json"]) == 0
    captured = capsys.readouterr()
    assert "gone.wav" in captured.err  # the warning
    rows = {t["name"]: t for t in json.loads(captured.out)["groups"][0]["tracks"]}
    assert rows["Here"]["active"] and not rows["Gone"]["active"]


def test_unknown_group_names_the_tracks(demo: Path, capsys) -> None:
    assert main(["balance", str(demo), "--group", "Horns", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "Horns" in err and "Kick" in err


def test_fixtures_balance_without_touching_anything(tmp_path: Path) -> None:
    for name in ("perlence-vst.RPP", "spatlab-iem-template.rpp"):
        copy = tmp_path / name
        shutil.copy(fixture_path(name), copy)
        before = copy.read_bytes()
        project = open_project(copy)
        report = plan_balance(project, method="centroid", recursive=True, skip_missing=True,
                              skip_unplayable=True)  # perlence's tracks hold JS plug-ins
        assert report.groups and all(not t.active for g in report.groups for t in g.tracks)
        assert all(t.reason for g in report.groups for t in g.tracks)
        project.save()
        assert copy.read_bytes() == before


# ------------------------------------------------------------------ the whole mix's headroom
def clipping_session(tmp_path: Path, nested: bool = False) -> Path:
    """Two top-level folders, each a quiet click track (every 0.5 s, the same instants) beside a
    steady tone: equal loudness raises both clicks, each folder keeps its level under -0.1 dBFS,
    and the clicks of both folders add up at the master."""
    t = np.arange(4 * SR) / SR
    click = np.where((t % 0.5) < 0.004, 0.9, 0.0)
    tone = 0.25 * np.sin(2 * np.pi * 220 * t)
    for name, mono in {"click": click, "tone": tone}.items():
        write_audio(tmp_path / f"{name}.wav", np.stack([mono, mono], 1), SR)

    def folder(name: str) -> TrackSpec:
        children = [TrackSpec(f"{name} click", volume=10 ** (-30 / 20), items=[ItemSpec("click.wav", 0.0, 4.0)]),
                    TrackSpec(f"{name} tone", items=[ItemSpec("tone.wav", 0.0, 4.0)])]
        inner = TrackSpec(name, children=children)
        return TrackSpec(f"{name} bus", children=[inner]) if nested else inner

    path = tmp_path / "clips.RPP"
    write_project(path, [folder("A"), folder("B")], sample_rate=SR)
    return path


@pytest.mark.parametrize("nested", [False, True], ids=["summed", "rendered"])
def test_a_balance_never_makes_the_whole_mix_clip(tmp_path: Path, nested: bool):
    """Without the check the clicks would peak near +5 dBFS at the master: the balanced
    top-level faders go down together until the mix peaks at -0.1 dBFS, and the report says so.
    Nested folders take the rendered path (the top-level sums were made with new faders)."""
    project = open_project(clipping_session(tmp_path, nested))
    before = Renderer(project).mix()
    assert np.max(np.abs(before)) < 1.0
    report = plan_balance(project, method="lufs", recursive=nested)
    after = Renderer(project).mix()
    outcome = report.headroom
    assert outcome.peak_unlowered_dbfs > 3.0 and outcome.lowered_db < -3.0
    assert 20 * np.log10(np.max(np.abs(after))) == pytest.approx(-0.1, abs=0.05)
    assert outcome.peak_after_dbfs == pytest.approx(-0.1, abs=0.05)
    assert sorted(outcome.lowered) == (["A bus", "B bus"] if nested else ["A", "B"])
    assert "no sample clips" in report.summary[0]
    assert report.to_json()["headroom"]["lowered_db"] == pytest.approx(outcome.lowered_db)


def test_the_headroom_check_changes_nothing_where_the_mix_has_room(tmp_path: Path):
    project = open_project(clipping_session(tmp_path))
    for track in project.top_level:
        track.volume_db = -12.0
    report = plan_balance(project, method="lufs")
    assert report.headroom.lowered_db == 0.0 and report.summary == []
    assert [t.volume_db for t in project.top_level] == pytest.approx([-12.0, -12.0], abs=1e-6)
