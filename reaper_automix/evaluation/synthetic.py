"""Synthetic songs for tests and benchmarks: a sung-like vocal over a simple backing.

The vocal is a harmonic tone with vowel formants, vibrato and syllable envelopes in phrases,
plus shaped noise bursts at some syllable onsets for sibilance (synthetic vocals otherwise have
no energy above 4 kHz, data.md §4). The backing is a kick/snare/hat pattern, a bass line and a
chord pad at the given tempo. Everything is seeded: one seed, one song.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt

SAMPLE_RATE = 44100
_VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480),
           (570, 840, 2410))  # formants of a, i, u, e, o (Peterson & Barney, male)


@dataclass(frozen=True)
class SyntheticSong:
    vocal: np.ndarray  # (n, 2) dual mono, float32
    backing: np.ndarray  # (n, 2) float32
    sample_rate: int
    tempo: float


def synthetic_song(seconds: float = 8.0, *, tempo: float = 100.0, seed: int = 0,
                   sample_rate: int = SAMPLE_RATE, sibilance: float = 1.0) -> SyntheticSong:
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    vocal = synthetic_vocal(n, sample_rate, tempo, rng, sibilance)
    backing = synthetic_backing(n, sample_rate, tempo, rng)
    return SyntheticSong(np.repeat(vocal[:, None], 2, axis=1), backing, sample_rate, tempo)


def synthetic_vocal(n: int, sr: int, tempo: float, rng: np.random.Generator,
                    sibilance: float = 1.0) -> np.ndarray:
    out = np.zeros(n)
    beat = 60.0 / tempo
    t = 0.25 * beat
    pitch = rng.uniform(180.0, 260.0)
    while t < n / sr - 0.3:
        phrase_end = t + rng.uniform(4, 8) * beat
        while t < min(phrase_end, n / sr - 0.3):
            length = beat * rng.choice([0.5, 1.0, 1.0, 1.5, 2.0])
            pitch = float(np.clip(pitch * 2 ** (rng.integers(-3, 4) / 12), 150.0, 420.0))
            _add_syllable(out, sr, t, min(length, n / sr - t), pitch, rng, sibilance)
            t += length
        t += rng.uniform(1.0, 2.0) * beat  # breath between phrases
    return (out / max(1e-9, np.abs(out).max()) * 10 ** (rng.uniform(-12, -4) / 20)).astype(np.float32)


def _add_syllable(out, sr, start, length, f0, rng, sibilance):
    i0, count = int(start * sr), int(length * sr)
    count = min(count, out.size - i0)
    if count <= 0:
        return
    time = np.arange(count) / sr
    vibrato = 1.0 + 0.01 * np.sin(2 * np.pi * 5.5 * time) * np.clip(time / 0.3, 0, 1)
    phase = 2 * np.pi * np.cumsum(f0 * vibrato) / sr
    formants = _VOWELS[rng.integers(len(_VOWELS))]
    tone = np.zeros(count)
    for h in range(1, int(8000 / f0)):
        freq = h * f0
        gain = sum(1.0 / (1.0 + ((freq - f) / (0.12 * f)) ** 2) for f in formants) / h ** 0.7
        tone += gain * np.sin(h * phase)
    attack, release = int(0.03 * sr), int(0.08 * sr)
    envelope = np.ones(count) * rng.uniform(0.35, 1.0)
    envelope[:attack] *= np.linspace(0, 1, min(attack, count))[: min(attack, count)]
    envelope[-release:] *= np.linspace(1, 0, min(release, count))[-min(release, count):]
    out[i0 : i0 + count] += tone * envelope
    if sibilance > 0 and rng.random() < 0.4:
        burst = min(int(rng.uniform(0.04, 0.09) * sr), count)
        sos = butter(4, [4500, min(11000, 0.45 * sr)], "bandpass", fs=sr, output="sos")
        noise = sosfilt(sos, rng.standard_normal(burst)) * np.hanning(burst)
        out[i0 : i0 + burst] += sibilance * noise  # 1.0: ~5 % of the energy above 4 kHz


def synthetic_backing(n: int, sr: int, tempo: float, rng: np.random.Generator) -> np.ndarray:
    beat = 60.0 / tempo
    left, right = np.zeros(n), np.zeros(n)
    steps = int(n / sr / (beat / 2))
    root = rng.uniform(45.0, 65.0)
    for step in range(steps):
        i = int(step * beat / 2 * sr)
        if step % 4 == 0:
            _place(left, right, i, _kick(sr), 0.0)
        if step % 4 == 2:
            _place(left, right, i, _snare(sr, rng), 0.0)
        _place(left, right, i, _hat(sr, rng), 0.3)
        if step % 8 == 0:
            root = 55.0 * 2 ** (rng.choice([0, 3, 5, 7, 10]) / 12)
            chord = _pad(sr, int(4 * beat * sr), root * 4, rng)
            _place(left, right, i, chord, -0.2)
        if step % 2 == 0:
            _place(left, right, i, _bass(sr, int(beat * sr), root), 0.0)
    stereo = np.stack([left, right], axis=1)
    return (stereo / max(1e-9, np.abs(stereo).max()) * 0.5).astype(np.float32)


def _place(left, right, i, sound, pan):
    count = min(sound.size, left.size - i)
    if count > 0:
        left[i : i + count] += sound[:count] * min(1.0, 1.0 - pan)
        right[i : i + count] += sound[:count] * min(1.0, 1.0 + pan)


def _kick(sr):
    t = np.arange(int(0.25 * sr)) / sr
    return np.sin(2 * np.pi * (50 * t + 60 * (1 - np.exp(-t * 30)) / 30)) * np.exp(-t * 12)


def _snare(sr, rng):
    t = np.arange(int(0.2 * sr)) / sr
    return (0.6 * rng.standard_normal(t.size) + np.sin(2 * np.pi * 190 * t)) * np.exp(-t * 20) * 0.7


def _hat(sr, rng):
    t = np.arange(int(0.05 * sr)) / sr
    sos = butter(2, 7000, "highpass", fs=sr, output="sos")
    return sosfilt(sos, rng.standard_normal(t.size)) * np.exp(-t * 80) * 0.3


def _bass(sr, count, f0):
    t = np.arange(count) / sr
    return sum(np.sin(2 * np.pi * h * f0 * t) / h for h in (1, 2, 3)) * np.exp(-t * 2) * 0.5


def _pad(sr, count, f0, rng):
    t = np.arange(count) / sr
    tone = sum(np.sin(2 * np.pi * f0 * r * h * t + rng.uniform(0, 6)) / h ** 1.2
               for r in (1.0, 1.26, 1.5) for h in range(1, 6))
    return tone * np.minimum(1, t / 0.3) * np.minimum(1, (t[-1] - t) / 0.3 + 1e-9) * 0.12
