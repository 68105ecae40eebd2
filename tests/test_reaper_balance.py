"""The pure parts of the Auto balance group actions: settings answers, texts shown in REAPER."""

from __future__ import annotations

import pytest

from reaper_automix.reaper.balance import (
    BalanceSettings,
    nothing_to_change,
    parse_settings,
    report_text,
    undo_description,
)
from reaper_automix.reaper.report import ReportSettings


def test_settings_answers_are_parsed_or_refused_by_name() -> None:
    assert parse_settings([" LUFS ", "Yes", "n", "no", "YES"]) == BalanceSettings(
        "lufs", True, ReportSettings(write=False, open_in_browser=False, previews=True))
    with pytest.raises(ValueError, match="method 'loudest': type one of centroid, f0, lufs"):
        parse_settings(["loudest", "no", "no", "no", "no"])
    with pytest.raises(ValueError, match="write report 'maybe': type yes or no"):
        parse_settings(["f0", "no", "maybe", "no", "no"])
    with pytest.raises(ValueError, match="open report in browser '': type yes or no"):
        parse_settings(["f0", "no", "yes", "", "no"])
    assert parse_settings(["f0", "no", "no", "no", "no", " Headless"]).render == "headless"
    assert parse_settings(["f0", "no", "no", "no", "no", ""]).render == "auto"
    assert parse_settings(["f0", "no", "no", "no", "no"]).render == "auto"
    with pytest.raises(ValueError, match="render 'always': type one of auto, reaper, headless"):
        parse_settings(["f0", "no", "no", "no", "no", "always"])


def test_undo_description_names_at_most_four_folders() -> None:
    assert undo_description(["Drums", "Bass"]) == "AutoMix: balance Drums, Bass"
    assert undo_description(list("ABCDEF")) == "AutoMix: balance A, B, C, D and 2 more"


REPORT = {"groups": [{
    "name": "Drums", "target_db": -30.7, "level_shift_db": -2.5,
    "tracks": [
        {"name": "Kick", "active": True, "volume_before_db": 2.125, "volume_after_db": -9.35},
        {"name": "Ride", "active": False, "volume_before_db": None, "volume_after_db": None,
         "reason": "muted"},
    ]}], "warnings": ["track 'Kick': plug-in 'X' cannot be rendered headless and is skipped"]}


def test_report_text_lists_every_child_and_the_common_shift() -> None:
    assert report_text(REPORT).splitlines() == [
        "Drums (target -30.7 dB)",
        "  Kick: +2.12 dB -> -9.35 dB",
        "  Ride: -inf dB -> -inf dB  unchanged: muted",
        "  every fader above is 2.5 dB lower than the rule asks, to stay under REAPER's +12 dB "
        "fader top: raise the folder fader by as much to restore the level",
        "warning: track 'Kick': plug-in 'X' cannot be rendered headless and is skipped",
    ]


def test_nothing_to_change_gives_each_reason() -> None:
    text = nothing_to_change(REPORT)
    assert text.startswith("Nothing to change: no fader was moved.")
    assert "Kick: already balanced" in text and "Ride: muted" in text
