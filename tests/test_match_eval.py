"""The Match reference evaluation: its metrics, and both protocols on two tiny songs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reaper_automix.audio.io import write_audio
from reaper_automix.evaluation.match import (
    Song,
    evaluate,
    format_report,
    spectral_shape_distance,
    summarise,
    EvalReport,
)
from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project

from .test_match_decision import synthetic_stems

RATE = 44100


def test_spectral_shape_distance_ignores_level_and_sees_tilt() -> None:
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((RATE * 2, 2))
    assert spectral_shape_distance(noise, 0.1 * noise, RATE) == pytest.approx(0.0, abs=1e-9)
    darker = np.cumsum(noise, axis=0) * 0.01  # -6 dB per octave
    assert spectral_shape_distance(darker, noise, RATE) > 10.0


def _song(folder: Path, name: str, seed: int, gains: list[float]) -> Song:
    folder.mkdir()
    items = []
    for kind, audio in zip(("kick", "bass", "lead", "hats"), synthetic_stems(6.0, seed)):
        write_audio(folder / f"{kind}.wav", audio, RATE)
        items.append([ItemSpec(f"{kind}.wav", 0.0, 6.0)])
    tracks = [TrackSpec("Drums", children=[TrackSpec("Kick", volume=10 ** (gains[0] / 20),
                                                     items=items[0]),
                                           TrackSpec("Hats", items=items[3])]),
              TrackSpec("Bass", volume=10 ** (gains[1] / 20),
                        children=[TrackSpec("DI", items=items[1])]),
              TrackSpec("Lead", volume=10 ** (gains[2] / 20),
                        children=[TrackSpec("Synth", items=items[2])])]
    return Song(name, write_project(folder / f"{name}.RPP", tracks, sample_rate=RATE, seed=1))


def test_both_protocols_on_two_songs(tmp_path: Path) -> None:
    songs = [_song(tmp_path / "a", "a", 0, [0.0, -4.0, -8.0]),
             _song(tmp_path / "b", "b", 1, [-6.0, 2.0, 0.0])]
    results = evaluate(songs, tmp_path, budget_s=5.0, conditions=("none", "start", "faders"))
    assert [r.cross_reference for r in results] == ["b", "a"]
    for result in results:
        same = {c.condition: c for c in result.same_song}
        assert same["none"].rms_error_db > 2.0, "a ±9 dB scramble is audible"
        assert same["faders"].rms_error_db < 0.5, "the song's own mix gives its faders back"
        assert abs(sum(same["faders"].group_errors_db.values())) < 1e-9, "errors are centred"
        assert all(c.distance_db >= 0.0 for c in result.cross_song)
    summary = summarise(results)
    assert set(summary) == {"none", "start", "faders"}
    assert summary["start"]["cross_song_median_ratio_to_equal_loudness"] == pytest.approx(1.0)
    text = format_report(EvalReport(["test"], 5.0, results, summary))
    assert "Same song" in text and "Cross song" in text
