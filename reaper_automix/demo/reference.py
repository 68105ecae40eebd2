"""A reference mix of the demo stems: a fixed, sensible balance with EQ, panning, reverb and bus
compression, for "match a reference" work.

The balance is set in loudness terms: each stem is gained to a target integrated loudness
(``REFERENCE_STEMS``), so the reference does not depend on the seeded faders and clip gains of
the demo project. Every setting is returned so it can be written next to the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
from scipy.signal import butter, fftconvolve, lfilter, sosfilt

from ..analysis.loudness import LoudnessMeter

REFERENCE_LUFS = -16.0
PEAK_CEILING = 10 ** (-1.0 / 20.0)  # -1 dBFS sample peak
REVERB_RT60_S = 1.6
REVERB_SEED = 1234  # fixed: the room does not change with the demo seed


@dataclass(frozen=True)
class StemSetting:
    """How one stem enters the reference mix."""

    target_lufs: float  # stem loudness after its gain, before EQ and pan
    pan: float  # -1 left … +1 right (stereo balance)
    highpass_hz: float  # 0 = no high-pass
    presence_db: float  # peak EQ at 3 kHz, Q 1
    reverb_send_db: float  # -inf = dry


DRY = float("-inf")
REFERENCE_STEMS: dict[str, StemSetting] = {
    "kick.wav": StemSetting(-24.0, 0.0, 0.0, 0.0, DRY),
    "snare.wav": StemSetting(-25.0, 0.0, 80.0, 2.0, -18.0),
    "hihat.wav": StemSetting(-33.0, 0.35, 300.0, 0.0, DRY),
    "toms.wav": StemSetting(-28.0, -0.2, 60.0, 0.0, -20.0),
    "crash.wav": StemSetting(-32.0, -0.3, 300.0, 0.0, DRY),
    "bass.wav": StemSetting(-22.0, 0.0, 35.0, 0.0, DRY),
    "lead_vocal_standin.wav": StemSetting(-20.0, 0.0, 120.0, 3.0, -12.0),
    "bv_alto_standin.wav": StemSetting(-29.0, -0.45, 150.0, 0.0, -10.0),
    "bv_tenor_standin.wav": StemSetting(-29.0, 0.45, 150.0, 0.0, -10.0),
    "piano.wav": StemSetting(-28.0, -0.3, 100.0, 0.0, -16.0),
    "guitar.wav": StemSetting(-29.0, 0.55, 120.0, 1.5, -16.0),
    "strings.wav": StemSetting(-30.0, -0.55, 150.0, 0.0, -12.0),
    "organ.wav": StemSetting(-32.0, 0.25, 120.0, -2.0, -14.0),
}
BUS_COMPRESSOR = {"threshold_db": -22.0, "ratio": 2.5, "detector_ms": 30.0, "smoothing_ms": 120.0}


def reference_mix(stems: Mapping[str, np.ndarray], sample_rate: int,
                  stem_lufs: Mapping[str, float] | None = None) -> tuple[np.ndarray, dict]:
    """Mix stems (keyed by media file name) to stereo; returns the audio and its settings.

    ``stem_lufs`` may hold integrated loudness values already measured on the stems.
    """
    missing = sorted(set(REFERENCE_STEMS) - set(stems))
    if missing:
        raise ValueError(f"reference mix needs the stems {missing}")
    meter = LoudnessMeter(sample_rate)
    frames = next(iter(stems.values())).shape[0]
    dry = np.zeros((frames, 2))
    send = np.zeros((frames, 2))
    gains = {}
    for name, setting in REFERENCE_STEMS.items():
        audio = stems[name].astype(np.float64)
        measured = (stem_lufs or {}).get(name)
        gain_db = setting.target_lufs - (meter.integrated(audio) if measured is None else measured)
        gains[name] = round(gain_db, 2)
        processed = _eq(audio * 10 ** (gain_db / 20), setting, sample_rate) * _balance(setting.pan)
        dry += processed
        if setting.reverb_send_db > DRY:
            send += processed * 10 ** (setting.reverb_send_db / 20)
    mix = _compress(dry + _reverb(send, sample_rate), sample_rate)
    scale_db = REFERENCE_LUFS - meter.integrated(mix)
    mix *= 10 ** (scale_db / 20)
    peak = np.abs(mix).max()
    if peak > PEAK_CEILING:
        mix *= PEAK_CEILING / peak
    settings = {
        "stems": {name: {**asdict(s), "gain_db": gains[name]} for name, s in
                  REFERENCE_STEMS.items()},
        "bus_compressor": BUS_COMPRESSOR,
        "reverb": {"rt60_s": REVERB_RT60_S, "type": "stereo exponential-decay noise IR"},
        "integrated_lufs": round(float(meter.integrated(mix)), 2),
        "sample_peak_dbfs": round(float(20 * np.log10(np.abs(mix).max())), 2),
    }
    return mix.astype(np.float32), settings


def _balance(pan: float) -> np.ndarray:
    """REAPER's stereo balance: the far side is attenuated, the near side kept at unity."""
    return np.array([min(1.0, 1.0 - pan), min(1.0, 1.0 + pan)])


def _eq(audio: np.ndarray, setting: StemSetting, sample_rate: int) -> np.ndarray:
    if setting.highpass_hz > 0:
        audio = sosfilt(butter(2, setting.highpass_hz, "highpass", fs=sample_rate,
                               output="sos"), audio, axis=0)
    if setting.presence_db:
        b, a = _peak_biquad(3000.0, setting.presence_db, 1.0, sample_rate)
        audio = lfilter(b, a, audio, axis=0)
    return audio


def _peak_biquad(freq: float, gain_db: float, q: float, sample_rate: int):
    """Peaking EQ coefficients (Audio EQ Cookbook, R. Bristow-Johnson)."""
    amp = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * freq / sample_rate
    alpha = np.sin(w0) / (2 * q)
    b = np.array([1 + alpha * amp, -2 * np.cos(w0), 1 - alpha * amp])
    a = np.array([1 + alpha / amp, -2 * np.cos(w0), 1 - alpha / amp])
    return b / a[0], a / a[0]


def _one_pole(signal: np.ndarray, time_ms: float, sample_rate: int) -> np.ndarray:
    coeff = np.exp(-1.0 / (time_ms * 1e-3 * sample_rate))
    return lfilter([1 - coeff], [1, -coeff], signal)


def _compress(mix: np.ndarray, sample_rate: int) -> np.ndarray:
    """Feed-forward RMS compressor: smoothed mean-square detector, static curve, smoothed gain."""
    c = BUS_COMPRESSOR
    power = _one_pole(np.mean(mix**2, axis=1), c["detector_ms"], sample_rate)
    level_db = 10 * np.log10(np.maximum(power, 1e-12))
    reduction_db = -(1 - 1 / c["ratio"]) * np.maximum(level_db - c["threshold_db"], 0.0)
    gain = 10 ** (_one_pole(reduction_db, c["smoothing_ms"], sample_rate) / 20)
    return mix * gain[:, None]


def _reverb(send: np.ndarray, sample_rate: int) -> np.ndarray:
    """Convolve with a decorrelated stereo noise tail (fixed seed), unit energy per channel."""
    rng = np.random.default_rng(REVERB_SEED)
    t = np.arange(int(REVERB_RT60_S * 1.2 * sample_rate)) / sample_rate
    envelope = np.exp(-6.91 * t / REVERB_RT60_S) * (t > 0.02)  # 20 ms pre-delay
    noise = sosfilt(butter(1, 6000, "lowpass", fs=sample_rate, output="sos"),
                    rng.standard_normal((t.size, 2)), axis=0)
    impulse = noise * envelope[:, None]
    impulse /= np.sqrt((impulse**2).sum(axis=0))
    wet = np.stack([fftconvolve(send[:, ch], impulse[:, ch])[: send.shape[0]]
                    for ch in range(2)], axis=1)
    return wet
