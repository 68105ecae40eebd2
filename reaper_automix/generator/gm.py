"""General MIDI facts the arranger needs: program names, families and playable ranges."""

from __future__ import annotations

#: GM level 1 program names, 0-based.
GM_NAMES: tuple[str, ...] = (
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet",
    "Celesta", "Glockenspiel", "Music Box", "Vibraphone", "Marimba", "Xylophone",
    "Tubular Bells", "Dulcimer",
    "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ", "Reed Organ",
    "Accordion", "Harmonica", "Tango Accordion",
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)",
    "Electric Guitar (clean)", "Electric Guitar (muted)", "Overdriven Guitar",
    "Distortion Guitar", "Guitar Harmonics",
    "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass",
    "Slap Bass 1", "Slap Bass 2", "Synth Bass 1", "Synth Bass 2",
    "Violin", "Viola", "Cello", "Contrabass", "Tremolo Strings", "Pizzicato Strings",
    "Orchestral Harp", "Timpani",
    "String Ensemble 1", "String Ensemble 2", "Synth Strings 1", "Synth Strings 2",
    "Choir Aahs", "Voice Oohs", "Synth Voice", "Orchestra Hit",
    "Trumpet", "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section",
    "Synth Brass 1", "Synth Brass 2",
    "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe", "English Horn", "Bassoon",
    "Clarinet",
    "Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle",
    "Ocarina",
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)",
    "Lead 5 (charang)", "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)", "Pad 5 (bowed)",
    "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)",
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)",
    "FX 5 (brightness)", "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)",
    "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba", "Bagpipe", "Fiddle", "Shanai",
    "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum", "Melodic Tom",
    "Synth Drum", "Reverse Cymbal",
    "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet", "Telephone Ring",
    "Helicopter", "Applause", "Gunshot",
)

#: Playable MIDI range per program family (program // 8), overridden per program below.
_FAMILY_RANGES: tuple[tuple[int, int], ...] = (
    (36, 84), (60, 96), (36, 84), (40, 76), (28, 55), (48, 88), (40, 84), (40, 76),
    (55, 86), (60, 96), (48, 84), (36, 84), (48, 84), (48, 84), (48, 84), (48, 84),
)
_PROGRAM_RANGES: dict[int, tuple[int, int]] = {
    11: (53, 89), 12: (45, 84), 13: (65, 96), 14: (60, 77),
    40: (55, 88), 41: (48, 76), 42: (36, 67), 43: (28, 55), 45: (36, 79), 46: (36, 88),
    56: (55, 82), 57: (40, 70), 58: (28, 55), 59: (55, 82), 60: (41, 72), 61: (40, 76),
    62: (40, 76), 63: (40, 76),
    64: (56, 84), 65: (49, 80), 66: (44, 75), 67: (36, 68), 68: (58, 89), 69: (52, 81),
    70: (34, 65), 71: (50, 86), 72: (74, 102), 73: (60, 96),
}


def program_name(program: int) -> str:
    if not 0 <= program < 128:
        raise ValueError(f"GM programs are 0–127, not {program}")
    return GM_NAMES[program]


def program_range(program: int) -> tuple[int, int]:
    """The MIDI notes ``program`` plays well (low, high)."""
    return _PROGRAM_RANGES.get(program, _FAMILY_RANGES[program // 8])


def is_strings(program: int) -> bool:
    """Bowed strings, solo or ensemble (not pizzicato, harp or timpani)."""
    return program in (40, 41, 42, 43, 44, 48, 49, 50, 51, 110)


def is_brass(program: int) -> bool:
    return 56 <= program <= 63
