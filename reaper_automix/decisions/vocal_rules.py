"""Li & Lerch's rule baseline for the lead vocal (algorithms.md C.3 [product], the paper's
constants): masking-reduction EQ, iterative compression search for a target loudness range,
tempo-based reverb time with the authors' other reverb values, and a fixed vocal-minus-backing
level of −1.77 LU (applied last, by the caller, on the processed vocal).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from ..analysis.bands import (
    FLOOR_DB,
    OCTAVE_CENTRES_HZ,
    gate_by_vocal,
    octave_band_levels,
    usable_centres,
)
from ..analysis.loudness import LoudnessMeter, amplitude_to_db, sample_peak
from ..iem import FDNREVERB, OMNICOMPRESSOR
from .vocal_chain import NEUTRAL_COMPRESSOR, NEUTRAL_EQ, Stage, apply_compressor, concurrently

# Level [paper]: the vocal averages 1.77 dB below the backing over 21,936 separated clips.
LEVEL_TARGET_LU = -1.77
LEVEL_SOURCE = "Li & Lerch rule: vocal 1.77 LU under the backing (mean of 21,936 clips)"

# Compression [paper] and [product] C.3.
LRA_TARGET_LU = 16.36
SEARCH_START_THRESHOLD_DB, SEARCH_START_RATIO = 0.0, 3.0
SEARCH_THRESHOLD_STEP_DB, SEARCH_RATIO_STEP = -3.0, 0.1
SEARCH_FLOOR_DB = -35.0
NORMALISE_PEAK_DBFS = -1.0
ATTACK_MS, RELEASE_MS = 30.0, 150.0
SEARCH_PARALLEL = 2  # search steps tried at once

# Masking EQ [paper] and [product] C.3.
VOCAL_ESSENTIAL, BACKING_ESSENTIAL = 6, 2
MAX_FILTERS, MAX_GAIN_DB, EQ_Q = 4, 8.0, 1.0
NEUTRAL_SHELVES = {"filterType0": 3.0, "filterFrequency0": 100.0, "filterGain0": 0.0,
                   "filterType5": 3.0, "filterFrequency5": 11000.0, "filterGain5": 0.0}
MIDDLE_BAND_DEFAULT_HZ = (120.0, 500.0, 2200.0, 8000.0)
#: MultiEQ before any filter is chosen: flat shelves on bands 1 and 6, 0 dB Q = 1 peaks between.
NEUTRAL_EQ_LAYOUT = {
    **NEUTRAL_EQ, **NEUTRAL_SHELVES,
    **{f"filterFrequency{b}": f for b, f in enumerate(MIDDLE_BAND_DEFAULT_HZ, start=1)},
    **{f"filterQ{b}": EQ_Q for b in range(1, 5)},
}

# Reverb [code] values: room 15, dry/wet 0.16, fade-in 0.2 s, flat in-loop shelves, 64 lines.
REVERB_DEFAULTS = {"delayLength": 15.0, "dryWet": 0.16, "fadeInTime": 0.2, "lowCutoff": 100.0,
                   "lowQ": 0.5, "lowGain": 0.0, "highCutoff": 2000.0, "highQ": 0.5,
                   "highGain": 0.0, "fdnSize": 2.0}


# ------------------------------------------------------------------------------------ EQ
def masking_eq(vocal: np.ndarray, backing: np.ndarray, sample_rate: int) -> Stage:
    """The masking-reduction EQ as MultiEQ settings (up to four Q = 1 peaks on bands 2–5)."""
    gated = gate_by_vocal(vocal, backing, sample_rate)
    params = dict(NEUTRAL_EQ_LAYOUT)
    if gated.kept_blocks == 0:
        return Stage(params, {"kept_blocks": 0},
                     ["EQ: the vocal never rises above -30 dBFS in a 100 ms block; no EQ applied"])
    centres = usable_centres(sample_rate)
    notes = []
    if len(centres) < len(OCTAVE_CENTRES_HZ):
        dropped = ", ".join(f"{fc:g}" for fc in OCTAVE_CENTRES_HZ if fc not in centres)
        notes.append(f"EQ: octave band(s) {dropped} Hz lie above Nyquist at {sample_rate} Hz")
    e_v, e_b = concurrently(lambda: octave_band_levels(gated.vocal, sample_rate, centres),
                            lambda: octave_band_levels(gated.backing, sample_rate, centres))
    chosen, analysis = masking_filters(e_v, e_b, centres)
    for band, (frequency, gain) in enumerate(sorted(chosen), start=1):
        params[f"filterFrequency{band}"] = frequency
        params[f"filterGain{band}"] = gain
    details = {"kept_blocks": gated.kept_blocks, "total_blocks": gated.total_blocks,
               "centres_hz": list(centres), **analysis,
               "filters": [{"frequency_hz": f, "gain_db": g, "q": EQ_Q} for f, g in sorted(chosen)]}
    if not chosen:
        notes.append("EQ: no masked band found; the EQ stays flat")
    return Stage(params, details, notes)


def masking_filters(e_v: np.ndarray, e_b: np.ndarray, centres: tuple[float, ...]
                    ) -> tuple[list[tuple[float, float]], dict]:
    """Steps 4–7 of C.3's EQ: differences, essential sets, candidate cuts and boosts, limits.
    Returns [(centre Hz, gain dB)] and the analysis for the report."""
    valid = (e_v > FLOOR_DB) & (e_b > FLOOR_DB)
    d = np.where(valid, e_b - e_v, 0.0)
    d = d - d[valid].mean() if valid.any() else d
    vocal_set = set(np.argsort(-e_v, kind="stable")[:VOCAL_ESSENTIAL].tolist())
    backing_set = set(np.argsort(-e_b, kind="stable")[:BACKING_ESSENTIAL].tolist())
    candidates = []
    for k in sorted(backing_set - vocal_set):
        if valid[k] and d[k] < 0:
            candidates.append((centres[k], float(d[k])))  # cut: the backing needs this band
    for k in sorted(vocal_set - backing_set):
        if valid[k] and d[k] > 0:
            candidates.append((centres[k], float(d[k])))  # boost: the vocal needs it, masked
    limited = [(f, float(np.clip(g, -MAX_GAIN_DB, MAX_GAIN_DB))) for f, g in candidates]
    limited.sort(key=lambda fg: -abs(fg[1]))
    analysis = {"vocal_levels_db": e_v.tolist(), "backing_levels_db": e_b.tolist(),
                "differences_db": d.tolist(),
                "vocal_essential_hz": [centres[k] for k in sorted(vocal_set)],
                "backing_essential_hz": [centres[k] for k in sorted(backing_set)]}
    return limited[:MAX_FILTERS], analysis


# ---------------------------------------------------------------------------- compression
def compression_search(vocal: np.ndarray, sample_rate: int, *,
                       target_lu: float = LRA_TARGET_LU, tolerance_lu: float = 0.0) -> Stage:
    """Find the first (threshold −3k dB, ratio 3 + 0.1k) whose compressed, peak-normalised vocal
    has an LRA under ``target_lu + tolerance_lu`` (or the last before −35 dB)."""
    meter = LoudnessMeter(sample_rate)
    vocal = np.asarray(vocal)
    if vocal.ndim == 2 and vocal.shape[1] == 2 and np.array_equal(vocal[:, 0], vocal[:, 1]):
        vocal = vocal[:, :1]  # dual mono: same gains and LRA from one channel, half the work
    peak_db = amplitude_to_db(sample_peak(vocal))
    offset_db = NORMALISE_PEAK_DBFS - peak_db
    normalised = (np.asarray(vocal, np.float32) * np.float32(10.0 ** (offset_db / 20.0)))
    start_lra = meter.loudness_range(normalised)
    details: dict = {"target_lu": target_lu, "tolerance_lu": tolerance_lu,
                     "normalise_gain_db": offset_db, "lra_before_lu": start_lra, "steps": []}
    if start_lra <= target_lu:
        return Stage(dict(NEUTRAL_COMPRESSOR), details,
                     [f"compression: LRA {start_lra:.1f} LU is already at most {target_lu} LU; "
                      "no compression (ratio 1:1)"])
    threshold_spec, ratio_spec = OMNICOMPRESSOR.param("threshold"), OMNICOMPRESSOR.param("ratio")

    def trial(k: int) -> dict:
        threshold = SEARCH_START_THRESHOLD_DB + SEARCH_THRESHOLD_STEP_DB * k
        ratio = ratio_spec.snap(SEARCH_START_RATIO + SEARCH_RATIO_STEP * k)
        params = {**NEUTRAL_COMPRESSOR, "threshold": threshold_spec.snap(threshold),
                  "ratio": ratio, "attack": ATTACK_MS, "release": RELEASE_MS}
        lra = meter.loudness_range(apply_compressor(normalised, sample_rate, params))
        return {"threshold_db": threshold, "ratio": ratio, "lra_lu": lra}

    # The steps in order until the first under the target; two are tried at once (the second
    # core), and a step tried past the one that stops the search is dropped unseen.
    steps = [k for k in range(math.floor(SEARCH_FLOOR_DB / SEARCH_THRESHOLD_STEP_DB) + 1)
             if SEARCH_START_THRESHOLD_DB + SEARCH_THRESHOLD_STEP_DB * k >= SEARCH_FLOOR_DB]
    for first in range(0, len(steps), SEARCH_PARALLEL):
        tried = concurrently(*(partial(trial, k) for k in steps[first : first + SEARCH_PARALLEL]))
        done = False
        for step in tried:
            details["steps"].append(step)
            if step["lra_lu"] < target_lu + tolerance_lu:
                done = True
                break
        if done:
            break
    last = details["steps"][-1]
    absolute = last["threshold_db"] - offset_db
    notes = []
    if absolute < threshold_spec.start or absolute > threshold_spec.end:
        notes.append(f"compression: threshold {absolute:.1f} dB lies outside the plug-in's "
                     f"{threshold_spec.start:g}…{threshold_spec.end:g} dB and was clamped")
    if last["lra_lu"] >= target_lu + tolerance_lu:
        notes.append(f"compression: the search stopped at {last['threshold_db']:.0f} dB "
                     f"(re the normalised vocal) with LRA {last['lra_lu']:.1f} LU, still above "
                     f"{target_lu} LU")
    params = {**NEUTRAL_COMPRESSOR, "threshold": threshold_spec.snap(absolute),
              "ratio": last["ratio"], "attack": ATTACK_MS, "release": RELEASE_MS}
    return Stage(params, details, notes)


# ---------------------------------------------------------------------------------- reverb
def tempo_reverb_time(bpm: float) -> float:
    """Moffat & Sandler's RT = −T/45 + 40/9 s, clamped to FdnReverb's 0.1…9 s."""
    if not (math.isfinite(bpm) and bpm > 0):
        raise ValueError(f"tempo must be a positive number of BPM, not {bpm}")
    spec = FDNREVERB.param("revTime")
    return min(max(-bpm / 45.0 + 40.0 / 9.0, spec.start), spec.end)


def tempo_reverb(bpm: float) -> Stage:
    rt = tempo_reverb_time(bpm)
    params = {**REVERB_DEFAULTS, "revTime": FDNREVERB.param("revTime").snap(rt)}
    notes = []
    if rt <= FDNREVERB.param("revTime").start:
        notes.append(f"reverb: at {bpm:.0f} BPM the tempo rule reaches the 0.1 s floor")
    return Stage(params, {"tempo_bpm": bpm, "rt_formula_s": -bpm / 45.0 + 40.0 / 9.0}, notes)
