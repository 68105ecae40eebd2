"""Roles from track names (analysis/roles.py): what engineers type, and what must not match."""

from __future__ import annotations

import pytest

from reaper_automix.analysis.roles import (
    ROLE_LABELS,
    ROLES,
    RoleGuess,
    check_role,
    name_words,
    parse_role,
    role_from_name,
)

NAMES = {
    # drums: full words, abbreviations, mic positions, numbers, separators
    "kick": ["Kick", "BD", "Kick In", "Kick Out", "KickIn", "kick_in", "Kick Sub", "Sub Kick",
             "Bass Drum", "BassDrum", "bass-drum 2", "Kik", "909-kick.wav", "01 Kick", "KICK",
             "Kick 808"],
    "snare": ["Snare", "SN 2", "SN2", "Snr Top", "Snare Bottom", "snaretop", "SD", "Snare_Btm",
              "Rimshot", "Snares", "snare drum"],
    "clap": ["Clap", "Claps", "HandClap", "Snaps"],
    "hats_closed": ["HH", "Hat", "Hats", "HiHat", "Hi-Hat", "hi hat", "closed hihat", "CHH",
                    "HH Closed", "HH 2"],
    "hats_open": ["HH open", "Open HH", "OHH", "open hihat", "Hi-Hat Open", "HH O"],
    "hats_pedal": ["HH Pedal", "Hi Hat Pedal", "PHH", "hat foot"],
    "toms": ["Tom 1", "Toms", "Floor Tom", "Rack Tom 2", "FT", "HiTom"],
    "cymbals": ["OH L", "OH R", "OHL", "OHs", "Overheads", "Crash", "Ride", "China", "Cym",
                "Splash 2"],
    "percussion": ["Tamb", "Tambourine", "Shaker", "Perc", "Perc Loop", "Congas", "Bongo 2",
                   "Cowbell", "Triangle"],
    "bass": ["Bass", "Bass DI", "Bass Amp", "Slap Bass", "Synth Bass", "SynthBass", "Sub",
             "Sub Bass", "Bassline", "808", "Bass Gtr", "basses"],
    "lead": ["Lead", "Synth Lead", "Lead Synth", "Lead Gtr", "Gtr Lead", "Melody", "Solo",
             "Flute", "LeadSynth"],
    "pad": ["Pad", "Pad_02", "Pads", "Synth Pad", "String Pad", "Atmos", "Drone"],
    "chords": ["Keys", "Piano", "E-Piano", "EPiano", "Rhodes", "Organ", "Gtr Rhy", "Rhythm Gtr",
               "Acoustic Gtr", "AG", "Chords", "Guitar", "Stabs", "Wurli L"],
    "plucks": ["Pluck", "Arp", "Arps 2", "Bells", "Glock", "Marimba", "Harp", "Strings Pizz"],
    "strings": ["Strings", "Strings high", "Violin 1", "Vln", "Cello", "Viola", "Str Ens"],
    "brass": ["Brass", "Horns", "Trumpet", "Tpt", "Sax", "Trombone", "Alto Sax"],
    "lead_vocal": ["Ld Vox", "Lead Vox", "LeadVox", "Lead Vocal", "LV", "Main Vox", "Vox",
                   "Vocals", "Voc 1"],
    "backing_vocal": ["BV 1", "BVs", "BGV", "BGVs", "Backing Vox", "Vox Dbl", "Bkg Vox",
                      "Choir", "Harmony", "Vox Harmony 2", "Lead Vox Dbl", "Adlibs", "Oohs"],
    "fx": ["FX", "SFX", "Riser", "Sweep", "Basement FX", "Vox Delay", "Snare Verb", "Reverse",
           "Vinyl Noise", "Impact 3"],
}

NOTHING = ["Audio 03", "Track 5", "Untitled", "", "   ", "03", "Snarl synth", "Synth",
           "Drums", "Tomato", "Keyser Soze", "Padding", "Kickstarter", "Hatch",
           "Basement", "Basic", "TR-808", "Open", "Loop", "Main", "New Track", "Mix Bus",
           "MIDI 2", "Inst 4", "Ohm", "Snarly", "Subway", "Tomb", "Drum Bus"]


def test_the_table_covers_every_role_the_name_can_give():
    assert set(NAMES) == set(ROLES) - {"other"}


@pytest.mark.parametrize("role, name", [(role, name) for role, names in NAMES.items() for name in names])
def test_role_from_name(role, name):
    guess = role_from_name(name)
    assert guess is not None, f"{name!r} gave no role"
    assert (guess.role, guess.source) == (role, "name"), f"{name!r} -> {guess}"
    assert 0.3 <= guess.confidence <= 0.99
    assert guess.evidence and all(w in name_words(name) for w in guess.evidence.split())


@pytest.mark.parametrize("name", NOTHING)
def test_names_that_say_no_role(name):
    assert role_from_name(name) is None, name


@pytest.mark.parametrize("name, variants", [
    ("Kick In", ["kick in", "KICK_IN", "Kick-In", "kick.in", "KickIn", "kickin", "Kick  In 2"]),
    ("HH open", ["hh-open", "HH_OPEN", "hhOpen", "hh open 03"]),
    ("Ld Vox", ["LD VOX", "ld_vox", "LdVox", "ld.vox (2)"]),
])
def test_case_separators_and_numbers_do_not_matter(name, variants):
    expected = role_from_name(name)
    for variant in variants:
        assert role_from_name(variant).role == expected.role, variant


def test_evidence_is_the_matched_words_in_name_order():
    assert role_from_name("Ld Vox").evidence == "ld vox"
    assert role_from_name("Vox Dbl").evidence == "vox dbl"
    assert role_from_name("Bass Drum").evidence == "bass drum"
    assert role_from_name("Kick In").evidence == "kick"


def test_confidence_orders_plain_words_abbreviations_and_guesses():
    plain, abbreviated = role_from_name("Kick"), role_from_name("BD")
    assert plain.confidence > abbreviated.confidence
    assert role_from_name("Ld Vox").confidence > role_from_name("Vox").confidence
    assert role_from_name("Guitar").confidence < role_from_name("Piano").confidence
    assert role_from_name("Kick Snare").confidence < plain.confidence  # names two roles


def test_words_split_where_engineers_glue_them():
    assert name_words("SnrTop_02") == ["snr", "top", "02"]
    assert name_words("OHL") == ["oh", "l"]
    assert name_words("Loop") == ["loop"]  # not "lo" + "op"
    assert name_words("Basement") == ["basement"]


def test_role_guess_checks_its_fields():
    with pytest.raises(ValueError, match="unknown role"):
        RoleGuess("cowbell", "name", 0.5, "cowbell")
    with pytest.raises(ValueError, match="source"):
        RoleGuess("kick", "guess", 0.5, "kick")
    with pytest.raises(ValueError, match="confidence"):
        RoleGuess("kick", "name", 1.5, "kick")
    assert RoleGuess("hats_open", "user", 1.0, "--role").label == "hats (open)"


@pytest.mark.parametrize("text, role", [
    ("hats", "hats_closed"), ("Hats (open)", "hats_open"), ("hats_open", "hats_open"),
    ("lead vocal", "lead_vocal"), ("Lead-Vocal", "lead_vocal"), ("keys", "chords"),
    ("chords/keys", "chords"), ("BV", "backing_vocal"), ("KICK", "kick"), ("other", "other"),
])
def test_parse_role_accepts_names_labels_and_aliases(text, role):
    assert parse_role(text) == role


def test_parse_role_and_check_role_name_the_choices():
    with pytest.raises(ValueError, match="kick, snare"):
        parse_role("tuba player")
    with pytest.raises(ValueError, match="unknown role"):
        check_role("hats")
    assert set(ROLE_LABELS) == set(ROLES)
