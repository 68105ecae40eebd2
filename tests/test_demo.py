"""The demo session: project structure, stem checks (data.md §5), reference mix, determinism."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import reaper_automix
from reaper_automix.cli import main
from reaper_automix.demo import PROJECT_NAME, StemCheckError, build_demo, check_stems, draw_gains
from reaper_automix.rpp.document import Block, Line, RppDocument
from reaper_automix.rpp.tokens import split_tokens

pyloudnorm = pytest.importorskip("pyloudnorm", reason="independent loudness reference")
pytest.importorskip("tinysoundfont", reason="install with pip install --no-deps tinysoundfont")

SEED = 7
RATE = 44100
QUARTER_S = 60.0 / 80.0


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    build_demo(out, seed=SEED)
    return out


@pytest.fixture(scope="module")
def demo_via_cli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo_cli")
    assert main(["demo", "--out", str(out), "--seed", str(SEED)]) == 0
    return out


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "demo.json").read_text(encoding="utf-8"))


def _stems(folder: Path) -> dict[str, tuple[np.ndarray, sf._SoundFileInfo]]:
    return {path.name: (sf.read(path, dtype="float32", always_2d=True)[0], sf.info(path))
            for path in sorted((folder / "media").glob("*.wav"))}


def _leaf_tracks(doc: RppDocument) -> list[Block]:
    return [t for t in doc.track_blocks() if t.blocks("ITEM")]


def test_project_tokenises_and_blocks_balance(demo: Path) -> None:
    data = (demo / PROJECT_NAME).read_bytes()
    text = data.decode("utf-8")
    assert text.count("\r\n") == text.count("\n"), "REAPER writes CRLF"
    depth = 0
    for line in text.split("\r\n")[:-1]:
        stripped = line.strip()
        assert split_tokens(stripped), f"empty line in {PROJECT_NAME}"
        depth += 1 if stripped.startswith("<") else -1 if stripped == ">" else 0
        assert depth >= 0
    assert depth == 0
    assert RppDocument(text).to_bytes() == data


def test_folders_tracks_and_isbus(demo: Path) -> None:
    doc = RppDocument.load(demo / PROJECT_NAME)
    tracks = doc.track_blocks()
    names = [t.line("NAME").values[0] for t in tracks]
    isbus = [t.line("ISBUS").values for t in tracks]
    assert len(_leaf_tracks(doc)) >= 12
    folders = [n for n, b in zip(names, isbus) if b == ["1", "1"]]
    assert folders == ["Drums", "Bass", "Vocals", "Other"]
    closers = [n for n, b in zip(names, isbus) if b[0] == "2"]
    assert len(closers) == 4 and all(isbus[names.index(n)] == ["2", "-1"] for n in closers)
    assert sum(int(b[1]) for b in isbus) == 0
    assert "Lead Vocal (stand-in)" in names


def test_folder_tree_through_open_project(demo: Path) -> None:
    reader = getattr(reaper_automix, "open_project", None)
    if reader is None:
        pytest.skip("reaper_automix.open_project is not available")
    project = reader(demo / PROJECT_NAME)
    tree = {t.name: [c.name for c in t.children] for t in project.tracks if t.parent is None}
    assert list(tree) == ["Drums", "Bass", "Vocals", "Other"]
    assert {"Kick", "Snare", "Hi-Hat", "Toms", "Crash"} <= set(tree["Drums"])
    assert tree["Vocals"][0] == "Lead Vocal (stand-in)" and len(tree["Vocals"]) >= 3
    assert len(tree["Other"]) >= 3 and tree["Bass"]
    for track in project.tracks:
        for item in track.items:
            assert item.takes[0].source.path.is_file()


def test_project_holds_the_seeded_unbalanced_gains(demo: Path) -> None:
    manifest = _manifest(demo)
    doc = RppDocument.load(demo / PROJECT_NAME)
    by_name = {t.line("NAME").values[0]: t for t in doc.track_blocks()}
    expected = draw_gains(SEED, [t["name"] for t in manifest["tracks"]])
    faders, clips = [], []
    for entry in manifest["tracks"]:
        track = by_name[entry["name"]]
        item = track.blocks("ITEM")[0]
        fader = 20 * math.log10(float(track.line("VOLPAN").values[0]))
        clip = 20 * math.log10(float(item.line("VOLPAN").values[0]))
        assert fader == pytest.approx(expected.fader_db[entry["name"]], abs=1e-9)
        assert clip == pytest.approx(expected.clip_db[entry["name"]], abs=1e-9)
        assert item.block("SOURCE").line("FILE").values == [entry["file"]]
        faders.append(fader)
        clips.append(clip)
    assert np.ptp(faders) > 3 and np.ptp(clips) > 3, "gains should be deliberately unbalanced"


def test_stems_pass_the_data_md_checks(demo: Path) -> None:
    stems = _stems(demo)
    assert len(stems) >= 12
    meter = pyloudnorm.Meter(RATE)
    lengths = set()
    for name, (audio, info) in stems.items():
        assert (info.samplerate, info.subtype, info.channels) == (RATE, "FLOAT", 2), name
        assert np.isfinite(audio).all(), name
        assert np.abs(audio).max() < 1.0, f"{name} clips"
        assert meter.integrated_loudness(audio.astype(np.float64)) > -60.0, f"{name} is silent"
        lengths.add(audio.shape[0])
    assert len(lengths) == 1 and lengths.pop() / RATE >= 30.0


def test_kick_follows_the_tempo_grid(demo: Path) -> None:
    kick = sf.read(demo / "media" / "kick.wav", dtype="float32")[0].max(axis=1)
    envelope = np.abs(kick) > 0.02
    onsets = np.flatnonzero(envelope[1:] & ~envelope[:-1]) / RATE
    onsets = onsets[np.insert(np.diff(onsets) > 0.1, 0, True)]  # one per hit
    assert len(onsets) > 10
    off_grid = np.abs(onsets / (QUARTER_S / 2) - np.round(onsets / (QUARTER_S / 2)))
    assert np.all(off_grid * QUARTER_S / 2 < 0.02), "kick hits off the 80 BPM eighth grid"
    assert onsets[0] == pytest.approx(4 * QUARTER_S, abs=0.02), "first kick on bar 1 after count-in"


def test_reference_mix(demo: Path) -> None:
    audio, rate = sf.read(demo / "reference.wav", dtype="float32", always_2d=True)
    stem_frames = next(iter(_stems(demo).values()))[0].shape[0]
    assert (rate, audio.shape[1], audio.shape[0]) == (RATE, 2, stem_frames)
    loudness = pyloudnorm.Meter(RATE).integrated_loudness(audio.astype(np.float64))
    assert loudness == pytest.approx(-16.0, abs=1.0)
    assert np.abs(audio).max() <= 10 ** (-1 / 20) + 1e-6
    assert np.corrcoef(audio[:, 0], audio[:, 1])[0, 1] < 0.98, "reference should be panned"
    assert _manifest(demo)["reference"]["stems"]["lead_vocal_standin.wav"]["presence_db"] > 0


def test_same_seed_gives_identical_bytes(demo: Path, demo_via_cli: Path) -> None:
    files = sorted(p.relative_to(demo) for p in demo.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(demo_via_cli) for p in demo_via_cli.rglob("*")
                           if p.is_file())
    for relative in files:
        assert (demo / relative).read_bytes() == (demo_via_cli / relative).read_bytes(), relative


def test_cli_refuses_to_overwrite_without_force(demo_via_cli: Path) -> None:
    before = (demo_via_cli / PROJECT_NAME).read_bytes()
    assert main(["demo", "--out", str(demo_via_cli), "--seed", "1"]) == 2
    assert (demo_via_cli / PROJECT_NAME).read_bytes() == before


def test_other_seed_changes_gains_and_performance(demo: Path, tmp_path: Path) -> None:
    build_demo(tmp_path, seed=SEED + 1)
    ours, theirs = _manifest(demo), _manifest(tmp_path)
    assert [t["fader_db"] for t in ours["tracks"]] != [t["fader_db"] for t in theirs["tracks"]]
    assert [t["clip_gain_db"] for t in ours["tracks"]] != [
        t["clip_gain_db"] for t in theirs["tracks"]]
    assert (demo / "media" / "snare.wav").read_bytes() != (
        tmp_path / "media" / "snare.wav").read_bytes()
    assert (demo / PROJECT_NAME).read_bytes() != (tmp_path / PROJECT_NAME).read_bytes()


def _stem(seconds: float = 2.0, level: float = 0.1) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    tone = (level * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return np.stack([tone, tone], axis=1)


@pytest.mark.parametrize(
    ("stems", "onsets", "message"),
    [
        ({"a.wav": _stem(), "quiet.wav": _stem(level=1e-5)}, {}, "quiet.wav: silent"),
        ({"a.wav": _stem(), "hot.wav": _stem(level=1.2)}, {}, "hot.wav: clipped"),
        ({"a.wav": _stem(), "nan.wav": _stem() * np.float32(np.nan)}, {}, "nan.wav: holds NaN"),
        ({"a.wav": _stem(), "b.wav": _stem(3.0)}, {}, "differ in length"),
        ({"a.wav": _stem(), "b.wav": _stem().astype(np.float64)}, {}, "b.wav: must be float32"),
        ({"late.wav": _stem()}, {"late.wav": 0.5}, "late.wav: first onset at 0.000 s"),
    ],
)
def test_stem_checks_raise_naming_the_stem(stems: dict, onsets: dict, message: str) -> None:
    with pytest.raises(StemCheckError, match=message):
        check_stems(stems, RATE, onsets)


def test_stem_checks_accept_good_stems_and_reject_other_rates() -> None:
    reports = check_stems({"a.wav": _stem()}, RATE, {"a.wav": 0.0})
    # 0.1-peak sine on both channels: -0.691 + 10 log10(2 * 0.1**2 / 2) = -20.7 LUFS
    assert reports[0].lufs == pytest.approx(-20.7, abs=0.2)
    with pytest.raises(StemCheckError, match="48000 Hz"):
        check_stems({"a.wav": _stem()}, 48000, {})


@pytest.mark.slow
def test_lead_stand_in_and_bass_play_the_score(demo: Path) -> None:
    """data.md §5 pitch rule: PESTO's median per note within 0.5 semitone on >= 90 % of notes
    (instrument) and >= 70 % (vocal stand-in)."""
    from reaper_automix.analysis.pitch import PitchUnavailableError, track_pitch
    from reaper_automix.demo.arrangement import arrange
    from reaper_automix.demo.score import load_chorale
    from reaper_automix.demo.session import ARRANGEMENT_STREAM, seeded_rng

    parts = {p.file: p for p in arrange(load_chorale(), 80.0, seeded_rng(SEED, ARRANGEMENT_STREAM))}
    for name, needed in (("lead_vocal_standin.wav", 0.7), ("bass.wav", 0.9)):
        audio = sf.read(demo / "media" / name, dtype="float32")[0].mean(axis=1)
        try:
            track = track_pitch(audio, RATE, step_ms=20.0)
        except PitchUnavailableError as exc:
            pytest.skip(f"PESTO unavailable: {exc}")
        hits = []
        for note in parts[name].notes:
            start, end = note.start * QUARTER_S, (note.start + note.length) * QUARTER_S
            inside = (track.times_s >= start + 0.2 * (end - start)) & (
                track.times_s <= end - 0.2 * (end - start))
            if inside.any():
                semitones = 12 * np.log2(np.median(track.f0_hz[inside]) / 440.0) + 69
                hits.append(abs(semitones - note.pitch) <= 0.5)
        assert len(hits) > 30 and np.mean(hits) >= needed, (name, np.mean(hits))
