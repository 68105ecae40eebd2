"""The LMMS evaluation songs: only the five allowed ones load, project facts are read right, and
(where lmms is installed) the stems and the composer's gains reproduce LMMS's own mix."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from reaper_automix.analysis.loudness import LoudnessMeter
from reaper_automix.audio.io import read_audio
from reaper_automix.generator import lmms
from reaper_automix.generator.sources import SourceUnavailableError


def _project(name: str) -> Path:
    try:
        return lmms.project_path(name)
    except SourceUnavailableError as exc:
        pytest.skip(f"LMMS projects not installed (apt-get install lmms-common): {exc}")


def _needs_lmms() -> None:
    if shutil.which("lmms") is None:
        pytest.skip("lmms is not installed (apt-get install lmms; scripts/setup.sh does)")


@pytest.mark.parametrize("name", ["Jousboxx-BuzzerBeater", "Settel-InnerRecreation",
                                  "CapDan-TwilightArea-OriginalByAlf42red", "greshz-coolsnip"])
def test_only_the_five_evaluation_songs_load(name: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="held-out test set"):
        lmms.load_song(name, cache_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_render_order_gains_and_roles_from_the_project() -> None:
    root = lmms.project_xml(_project("CapDan-ReggaeTry"))
    tracks = lmms.tracks_in_render_order(root)
    # rendertracks numbers the song editor's tracks first, then the Beat+Bassline tracks
    assert [t.name for t in tracks] == [
        "E-Piano", "Bass Slap 02", "Strings (high)", "Strings (low)", "BD 03", "Snare 05",
        "Snare 06", "Open HiHat 02", "Closed HihHat 03"]
    assert [t.beat_bassline for t in tracks] == [False] * 4 + [True] * 5
    kick = tracks[4]
    assert kick.volume == pytest.approx(0.69) and kick.fx_name == "Kick"
    roles = [lmms.guess_role(t)[0] for t in tracks]
    assert roles == ["chords", "bass", "strings", "strings", "kick", "snare", "snare",
                     "hats_open", "hats_closed"]
    maui = lmms.tracks_in_render_order(lmms.project_xml(_project("Alf42red-Mauiwowi")))
    pad = maui[0]  # zynaddsubfx "Default preset" on the FX channel named "pad" (fader 0.35)
    assert pad.volume == pytest.approx(0.60 * 0.35)
    assert lmms.guess_role(pad) == ("pad", "FX channel name 'pad'")
    horns = maui[3]
    assert lmms.guess_role(horns)[0] == "brass"


def test_coolsnip_stems_reproduce_the_lmms_mix(tmp_path: Path) -> None:
    _project("Greshz-CoolSnip")
    _needs_lmms()
    song = lmms.load_song("Greshz-CoolSnip", cache_dir=tmp_path)
    assert [(t.role, t.group) for t in song.tracks] == [("bass", "bass"), ("kick", "drums")]
    assert song.tempo == 140.0 and all(t.path.is_file() for t in song.tracks)
    frames = {read_audio(t.path)[0].shape for t in song.tracks}
    assert frames == {(song.frames, 2)}
    whole = read_audio(song.render_whole_song())[0]
    meter = LoudnessMeter(44100)
    assert meter.integrated(song.composer_mix()) == pytest.approx(meter.integrated(whole),
                                                                  abs=0.1)
    assert lmms.load_song("Greshz-CoolSnip", cache_dir=tmp_path) == song  # cached
    project = song.write_project(tmp_path / "cool.RPP", gains_db={song.tracks[1].name: -3.0})
    text = project.read_bytes().decode("utf-8")
    assert "NAME Drums" in text and "NAME Bass" in text and "VOLPAN 0.70794" in text


def test_exported_stems_already_hold_volume_pan_and_master() -> None:
    """The finding the loader divides out (docs/generator.md): rendertracks applies them."""
    _project("Greshz-CoolSnip")
    _needs_lmms()
    found = lmms.stems_include_track_gain()
    half = 20 * math.log10(0.5)
    assert found["track volume 100 -> 50: left dB"] == pytest.approx(half, abs=0.05)
    assert found["track volume 100 -> 50: right dB"] == pytest.approx(half, abs=0.05)
    assert found["track pan 0 -> +50: left dB"] == pytest.approx(half, abs=0.05)
    assert found["track pan 0 -> +50: right dB"] == pytest.approx(0.0, abs=0.05)
    assert found["master volume 100 -> 50: left dB"] == pytest.approx(half, abs=0.05)


def test_pan_law_matches_lmms() -> None:
    assert np.allclose(lmms._pan_gains(0.5), [0.5, 1.0])
    assert np.allclose(lmms._pan_gains(-1.0), [1.0, 0.0])
