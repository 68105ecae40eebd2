"""The balance evaluation's machinery on a tiny song (the real songs need the generator)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from reaper_automix import open_project
from reaper_automix.audio.io import write_audio
from reaper_automix.evaluation.balance import (
    Outcome,
    Song,
    _hide_names,
    add_arguments,
    by_role,
    evaluate_song,
    role_table,
    start_faders,
    summarise,
    table,
)
from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project

SR = 44100


@pytest.fixture
def song(tmp_path: Path) -> Song:
    t = np.arange(3 * SR) / SR
    rng = np.random.default_rng(0)
    sounds = {"Kick": 0.4 * np.sin(2 * np.pi * 60 * t) * (t * 2 % 1 < 0.2),
              "Hats": 0.1 * rng.standard_normal(t.size) * (t * 4 % 1 < 0.1),
              "Pad": 0.2 * np.sin(2 * np.pi * 220 * t), "Lead": 0.2 * np.sin(2 * np.pi * 660 * t)}
    for name, mono in sounds.items():
        write_audio(tmp_path / f"{name}.wav", np.stack([mono, mono], 1), SR)
    item = lambda name: [ItemSpec(f"{name}.wav", position=0.0, length=3.0)]  # noqa: E731
    path = tmp_path / "song.RPP"
    write_project(path, [TrackSpec("Drums", children=[TrackSpec("Kick", items=item("Kick")),
                                                       TrackSpec("Hats", items=item("Hats"))]),
                         TrackSpec("Other", children=[TrackSpec("Pad", items=item("Pad")),
                                                      TrackSpec("Lead", items=item("Lead"))])],
                  sample_rate=SR)
    target = {"Kick": 0.0, "Hats": -8.0, "Pad": -4.0, "Lead": 1.0}
    return Song("tiny", "tiny", path, target, {"Drums": ["Kick", "Hats"], "Other": ["Pad", "Lead"]})


def test_leaving_the_faders_scores_the_start_balance(song: Song):
    outcome = evaluate_song(song, "none", "unity", seed=0)
    # unity start: every fader 0 dB, so the centred error is minus the centred target
    assert outcome.errors_db == pytest.approx({"Kick": -4.0, "Hats": 4.0, "Pad": 2.5, "Lead": -2.5})
    assert outcome.loudness_change_lu == 0.0 and not outcome.new_clip


def test_a_method_is_scored_against_the_target_and_keeps_the_mix_level(song: Song):
    outcome = evaluate_song(song, "lufs", "scrambled", seed=3)
    project = open_project(song.project)
    assert set(outcome.errors_db) == {"Kick", "Hats", "Pad", "Lead"}
    assert abs(outcome.loudness_change_lu) < 1.0
    rows = summarise([outcome, evaluate_song(song, "none", "scrambled", seed=3)])
    assert {r["method"] for r in rows} == {"lufs", "none"}
    assert "| tiny | scrambled | lufs |" in table(rows)
    assert project.track("Kick").volume_db == 0.0, "the song's project is never changed"


def test_a_start_that_clips_is_turned_down_to_the_start_peak_before_balancing(song: Song):
    """Faders at +12 dB make the start mix clip: every item is turned down by one gain first, so
    the level rule keeps the mix loudness (no peak cap) and the errors stay the same."""
    loud = Song(song.source, song.name, song.project, song.target_db, song.folders)
    project = open_project(song.project)
    for track in project.tracks:
        track.volume_db = 12.0 if track.is_folder else track.volume_db
    project.save(song.project)
    outcome = evaluate_song(loud, "centroid", "unity", seed=0)
    assert outcome.clipped_before == 0 and outcome.capped_folders == 0
    assert evaluate_song(loud, "none", "unity", seed=0, start_peak_dbfs=-1.0).clipped_before == 0
    assert abs(outcome.loudness_change_lu) < 0.3
    assert outcome.errors_db == pytest.approx(evaluate_song(song, "centroid", "unity", seed=0).errors_db)


def test_scrambled_faders_are_seeded_and_within_9_db(song: Song):
    first, again = start_faders(song, "scrambled", 5), start_faders(song, "scrambled", 5)
    assert first == again and all(abs(v) <= 9.0 for v in first.values())
    assert start_faders(song, "unity", 5) == dict.fromkeys(first, 0.0)


def test_hidden_names_leave_no_role_in_track_or_take_names(song: Song):
    path, renamed = _hide_names(song.project)
    hidden = open_project(path)
    assert renamed == {"Kick": "Audio 01", "Hats": "Audio 02", "Pad": "Audio 03", "Lead": "Audio 04"}
    assert [t.name for t in hidden.tracks] == ["Drums", "Audio 01", "Audio 02", "Other", "Audio 03", "Audio 04"]
    assert [take.name for t in hidden.tracks for i in t.items for take in i.takes] == [
        f"Audio {n:02d}.wav" for n in range(1, 5)]


def test_the_cli_options_parse():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--songs", "generated:3", "--methods", "role,none", "--hide-names"])
    assert (args.songs, args.methods, args.hide_names) == ("generated:3", "role,none", True)



def test_errors_by_role_follow_the_role_method_s_roles():
    def outcome(method, errors, roles=None, condition="unity", song="s"):
        return Outcome("lmms", song, condition, method, errors, 0.0, 0, 0, roles or {})

    outcomes = [outcome("role", {"a": -2.0, "b": 4.0, "c": 1.0}, {"a": "kick", "b": "kick", "c": "pad"}),
                outcome("centroid", {"a": 6.0, "b": -8.0, "c": 0.5}),
                outcome("centroid", {"a": 99.0}, condition="scrambled"),
                outcome("none", {"a": 1.0, "b": 1.0}, song="other song")]
    kick, pad = by_role(outcomes, "unity")
    assert kick == {"role": "kick", "tracks": 2, "median_abs_error_db": {"role": 3.0, "centroid": 7.0}}
    assert pad == {"role": "pad", "tracks": 1, "median_abs_error_db": {"role": 1.0, "centroid": 0.5}}
    assert by_role(outcomes, "scrambled") == [], "no role outcome in that condition"
    text = role_table([kick, pad], ["none", "role", "centroid"])
    assert "| kick | 2 | – | 3.0 | 7.0 |" in text and "| pad | 1 | – | 1.0 | 0.5 |" in text
