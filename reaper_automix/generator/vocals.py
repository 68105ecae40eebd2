"""Sung parts from real syllables: klettres-data recordings retuned by PSOLA (data.md §4).

Per note, one recorded Italian syllable (``it/syllab``, 44.1 kHz) goes through Praat's
Manipulation: a flat pitch tier at the note (with a gentle vibrato on long notes) and a duration
tier that keeps the consonant and stretches the vowel to the note length; overlap-add
resynthesis, 10 ms fade-in, 50 ms fade-out, consonant placed just before the beat.

Synthetic vocals lack energy above 4–8 kHz (data.md §4): consonant noise bursts and breathy air
that follows the voice's envelope are added, so vocal EQ and high-shelf work has something to
measure. The energy shares above 4 and 8 kHz are reported by :func:`high_band_shares`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import butter, sosfilt

from ..audio.io import read_audio, resample
from .sources import SourceUnavailableError, klettres_syllables_dir

SAMPLE_RATE = 44100
FADE_IN_S, FADE_OUT_S = 0.010, 0.050
VOICED_TAIL_S = 0.03
MAX_STRETCH = 2.9  # per overlap-add pass (Praat stops at 3)
VIBRATO_HZ, VIBRATO_CENTS, VIBRATO_AFTER_S = 5.5, 25.0, 0.35
SIBILANTS = ("s", "z", "c", "f")  # syllables whose consonant is noisy
SIBILANT_GAIN, CONSONANT_GAIN = 0.6, 0.2  # consonant noise RMS relative to the sung note
AIR_GAIN = 0.1  # breath noise RMS relative to the voice's envelope (−20 dB)
BACKING_SYLLABLES = ("la", "lu", "lo", "na", "no", "nu", "ma", "mo", "mu")


class VocalUnavailableError(SourceUnavailableError):
    """praat-parselmouth or klettres-data is missing."""


@dataclass(frozen=True)
class Syllable:
    name: str
    audio: np.ndarray  # mono float64, trimmed
    voice_onset_s: float  # where the vowel starts


@dataclass(frozen=True)
class SungNote:
    start_s: float
    length_s: float
    pitch: int  # MIDI
    velocity: int


def _parselmouth():
    try:
        import parselmouth
    except ImportError as exc:
        raise VocalUnavailableError("praat-parselmouth is not installed: pip install "
                                    "praat-parselmouth (a dependency of reaper-automix)") from exc
    return parselmouth


@lru_cache(maxsize=1)
def syllables() -> tuple[Syllable, ...]:
    """Every klettres Italian syllable, trimmed, with its voice onset."""
    folder = klettres_syllables_dir()
    files = sorted(folder.glob("*.ogg"))
    if not files:
        raise VocalUnavailableError(f"no syllables in {folder} (apt-get install klettres-data)")
    return tuple(_syllable(path) for path in files)


def _syllable(path: Path) -> Syllable:
    """Trimmed to the sound, and cut 30 ms after the voicing ends: stretching an unvoiced tail
    to a long note gave PESTO nothing to read (confidence 0.1 on notes of 2–4 s)."""
    parselmouth = _parselmouth()
    audio, rate = read_audio(path)
    mono = resample(audio.mean(axis=1), rate, SAMPLE_RATE).astype(np.float64)
    loud = np.flatnonzero(np.abs(mono) > 0.02 * np.abs(mono).max())
    mono = mono[max(loud[0] - 220, 0):loud[-1] + 1]
    pitch = parselmouth.Sound(mono, SAMPLE_RATE).to_pitch(0.01, 75.0, 600.0)
    voiced = pitch.xs()[pitch.selected_array["frequency"] > 0]
    if voiced.size:
        mono = mono[:min(mono.size, round((voiced[-1] + VOICED_TAIL_S) * SAMPLE_RATE))]
    onset = float(voiced[0]) if voiced.size else 0.0
    return Syllable(path.stem, mono, min(onset, 0.6 * mono.size / SAMPLE_RATE))


def sing(notes: list[SungNote], n_samples: int, backing: bool,
         rng: np.random.Generator) -> np.ndarray:
    """A mono float32 vocal of ``n_samples`` frames singing ``notes``.

    Praat's overlap-add draws random numbers for unvoiced stretches: its generator is seeded
    from ``rng`` before every note (and reseeded unpredictably afterwards), so the output does
    not depend on what the process sang before."""
    pool = [i for i, s in enumerate(syllables()) if not backing or s.name in BACKING_SYLLABLES]
    out = np.zeros(n_samples, dtype=np.float64)
    try:
        for note in notes:
            index = pool[int(rng.integers(len(pool)))]
            _place(out, note, index, int(rng.integers(2**31)), backing, rng)
    finally:
        _parselmouth().praat.run("random_initializeSafelyAndUnpredictably ()")
    out += _air(out, rng)
    return out.astype(np.float32)


def _place(out: np.ndarray, note: SungNote, index: int, seed: int, backing: bool,
           rng: np.random.Generator) -> None:
    """Add one sung syllable, vowel on the beat, with its consonant noise."""
    syllable = syllables()[index]
    sung = _retune(index, note, seed) * (note.velocity / 100.0) ** 1.5
    start = round((note.start_s - syllable.voice_onset_s) * SAMPLE_RATE)
    if start < 0:
        sung, start = sung[-start:], 0
    end = min(start + sung.size, out.size)
    if end <= start:
        return
    out[start:end] += sung[:end - start]
    level = float(np.sqrt(np.mean(sung ** 2)))
    sibilant = syllable.name[0] in SIBILANTS and not backing
    length = syllable.voice_onset_s if sibilant else min(syllable.voice_onset_s, 0.04)
    _add_burst(out, start, length, level * (SIBILANT_GAIN if sibilant else CONSONANT_GAIN),
               rng, sibilant)


def _retune(index: int, note: SungNote, seed: int) -> np.ndarray:
    """PSOLA: syllable ``index`` at the note's pitch, its vowel stretched to the note length.

    Praat's overlap-add stretches by at most 3× per pass (a 9× request gave 3×): long notes
    start from the syllable already stretched 2.9× or 2.9²× (cached per process)."""
    onset = syllables()[index].voice_onset_s
    passes = 0
    while True:
        audio = _stretched(index, passes)
        factor = max(note.length_s - onset, 0.05) / max(audio.size / SAMPLE_RATE - onset, 0.05)
        if factor <= MAX_STRETCH:
            break
        passes += 1
    f0 = 440.0 * 2 ** ((note.pitch - 69) / 12)
    return _fade(_resynthesise(_manipulation(index, passes), audio.size / SAMPLE_RATE, onset,
                               factor, seed, f0))


@lru_cache(maxsize=1024)
def _stretched(index: int, passes: int) -> np.ndarray:
    """Syllable ``index`` with its vowel stretched ``MAX_STRETCH ** passes`` times, its own
    pitch kept (made from a fresh analysis, so it never depends on earlier notes)."""
    syllable = syllables()[index]
    if not passes:
        return syllable.audio
    shorter = _stretched(index, passes - 1)
    manipulation = _analyse(shorter)
    return _resynthesise(manipulation, shorter.size / SAMPLE_RATE, syllable.voice_onset_s,
                         MAX_STRETCH, seed=1000 * index + passes, f0=None)


@lru_cache(maxsize=1024)
def _manipulation(index: int, passes: int) -> Any:
    """Praat's Manipulation of :func:`_stretched` (the pitch analysis is the slow part); every
    use replaces both its tiers, so nothing carries over from one note to the next."""
    return _analyse(_stretched(index, passes))


def _analyse(audio: np.ndarray) -> Any:
    sound = _parselmouth().Sound(audio, SAMPLE_RATE)
    return _parselmouth().praat.call(sound, "To Manipulation", 0.01, 75.0, 600.0)


def _resynthesise(manipulation: Any, duration: float, onset: float, factor: float, seed: int,
                  f0: float | None) -> np.ndarray:
    """One overlap-add pass: everything after the voice onset stretched by ``factor``; the pitch
    set to ``f0`` with vibrato in sung time (``f0`` None: the recorded pitch, kept)."""
    call = _parselmouth().praat.call
    if f0 is not None:
        pitch_tier = call("Create PitchTier", "pitch", 0.0, duration)
        for t in np.arange(0.0, duration, 0.025 / max(factor, 1.0)):  # every 25 ms once sung
            sung_time = onset + (t - onset) * factor if t > onset else t
            depth = VIBRATO_CENTS if sung_time > VIBRATO_AFTER_S else 0.0
            cents = depth * np.sin(2 * np.pi * VIBRATO_HZ * sung_time)
            call(pitch_tier, "Add point", float(t), float(f0 * 2 ** (cents / 1200)))
        call([pitch_tier, manipulation], "Replace pitch tier")
    duration_tier = call("Create DurationTier", "duration", 0.0, duration)
    call(duration_tier, "Add point", 0.0, 1.0)
    call(duration_tier, "Add point", max(onset, 0.0), 1.0)
    call(duration_tier, "Add point", min(onset + 0.02, duration), float(factor))
    call([manipulation, duration_tier], "Replace duration tier")
    _parselmouth().praat.run(f"random_initializeWithSeedUnsafelyButPredictably ({seed})")
    return call(manipulation, "Get resynthesis (overlap-add)").values[0].copy()


def _fade(audio: np.ndarray) -> np.ndarray:
    fade_in, fade_out = round(FADE_IN_S * SAMPLE_RATE), round(FADE_OUT_S * SAMPLE_RATE)
    if audio.size > fade_in + fade_out:
        audio[:fade_in] *= np.linspace(0.0, 1.0, fade_in)
        audio[-fade_out:] *= np.linspace(1.0, 0.0, fade_out)
    return audio


@lru_cache(maxsize=4)
def _highpass(cutoff_hz: float) -> np.ndarray:
    return butter(4, cutoff_hz, "highpass", fs=SAMPLE_RATE, output="sos")


def _add_burst(out: np.ndarray, start: int, length_s: float, gain: float,
               rng: np.random.Generator, sibilant: bool) -> None:
    """A consonant's noise: high-passed noise over the consonant (``gain`` × unit RMS)."""
    length = max(round(max(length_s, 0.025) * SAMPLE_RATE), 64)
    end = min(start + length, out.size)
    if end <= start:
        return
    noise = sosfilt(_highpass(4500.0 if sibilant else 6000.0),
                    rng.standard_normal(end - start + 512))[512:]
    envelope = np.sin(np.linspace(0.0, np.pi, end - start)) ** 2
    out[start:end] += gain * envelope * noise / max(float(np.std(noise)), 1e-12)


def _air(voice: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Breathy noise above 7 kHz that follows the voice's smoothed envelope (−20 dB)."""
    window = round(0.02 * SAMPLE_RATE)
    energy = np.concatenate(([0.0], np.cumsum(voice ** 2)))
    padded = np.pad(energy, (window // 2, window - window // 2), mode="edge")
    envelope = np.sqrt(np.maximum(padded[window:] - padded[:-window], 0.0) / window)[:voice.size]
    noise = sosfilt(_highpass(7000.0), rng.standard_normal(voice.size))
    return AIR_GAIN * envelope * noise / max(float(np.std(noise)), 1e-12)


def high_band_shares(mono: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[float, float]:
    """Shares of the signal's energy above 4 kHz and above 8 kHz."""
    spectrum = np.abs(np.fft.rfft(np.asarray(mono, dtype=np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(mono), 1.0 / sample_rate)
    total = float(spectrum.sum()) or 1.0
    return float(spectrum[freqs > 4000].sum() / total), float(spectrum[freqs > 8000].sum() / total)
