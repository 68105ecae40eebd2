"""Pure audio analysis on arrays: BS.1770-4 / EBU loudness, CFB loudness, PESTO pitch."""

from .cfb import METHODS, CfbOptions, CfbResult, cfb_loudness, first_order_band_sos
from .loudness import (
    InvalidAudioError,
    LoudnessError,
    LoudnessMeter,
    LoudnessReport,
    TooShortError,
    k_weighting_sos,
    sample_peak,
    stem_channel_weights,
    true_peak,
)
from .tracks import TrackAnalysis, analyse_track, analyse_tracks

__all__ = [
    "METHODS",
    "CfbOptions",
    "CfbResult",
    "InvalidAudioError",
    "LoudnessError",
    "LoudnessMeter",
    "LoudnessReport",
    "TooShortError",
    "TrackAnalysis",
    "analyse_track",
    "analyse_tracks",
    "cfb_loudness",
    "first_order_band_sos",
    "k_weighting_sos",
    "sample_peak",
    "stem_channel_weights",
    "true_peak",
]
