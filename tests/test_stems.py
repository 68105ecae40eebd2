"""The REAPER stem render's pure parts: settings, target checks, WAV checks, the documentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reaper_automix.audio.io import write_audio
from reaper_automix.reaper.stems import (
    FLOAT_WAV,
    PATTERN,
    RENDER_ACTION,
    StemRenderError,
    _targets,
    check_wav,
    pre_fader_supported,
    render_settings,
)
from reaper_automix.session import Track

REPO = Path(__file__).resolve().parents[1]


def test_documented_action_and_settings_are_the_ones_used(tmp_path: Path) -> None:
    doc = (REPO / "docs" / "reaper.md").read_text(encoding="utf-8")
    section = doc[doc.index("### 7.4"):doc.index("## 8.")]
    settings = render_settings(0.0, 10.0, 48000, tmp_path, pre_fader=True)
    assert settings["RENDER_SETTINGS"] == 8195 and "`3 \\| 8192` = 8195" in section
    assert render_settings(0.0, 10.0, 48000, tmp_path, pre_fader=False)["RENDER_SETTINGS"] == 3
    assert f"Main_OnCommandEx({RENDER_ACTION}, 0, proj)" in section
    assert settings["RENDER_FORMAT"] == FLOAT_WAV and f"`{FLOAT_WAV}` (WAV, 32-bit float)" in section
    assert settings["RENDER_PATTERN"] == PATTERN and f"`{PATTERN}`" in section
    for key in ("RENDER_BOUNDSFLAG", "RENDER_TAILFLAG", "RENDER_TAILMS", "RENDER_ADDTOPROJ"):
        assert settings[key] == 0 and f"`{key}` 0" in section, key
    for key in ("RENDER_DITHER", "RENDER_NORMALIZE", "RENDER_FADEIN", "RENDER_FADEOUT"):
        assert settings[key] == 0 and f"`{key}`" in section, key
    assert settings["RENDER_FORMAT2"] == "" and settings["RENDER_CHANNELS"] == 2
    assert list(settings)[-1] == "RENDER_FORMAT"  # set last


def test_pre_fader_stems_from_reaper_7() -> None:
    assert pre_fader_supported("7.28/linux-x86_64") and pre_fader_supported("7.0/win64")
    assert not pre_fader_supported("6.83/x64") and not pre_fader_supported("garbage")


def test_targets_map_files_to_tracks_and_stay_in_the_folder(tmp_path: Path) -> None:
    pad, lead = Track(1, "Pad", "{A}"), Track(4, "Lead", "{B}")
    numbers = {2: pad, 5: lead}
    text = f"{tmp_path / '02.wav'};{tmp_path / '5.wav'};{tmp_path / 'master.wav'}"
    assert _targets(text, tmp_path, numbers) == {"{A}": tmp_path / "02.wav",
                                                 "{B}": tmp_path / "5.wav"}
    with pytest.raises(StemRenderError, match="outside the job folder"):
        _targets(f"{tmp_path / '2.wav'};/home/user/renders/5.wav", tmp_path, numbers)
    with pytest.raises(StemRenderError, match="would not write a stem for Lead"):
        _targets(str(tmp_path / "2.wav"), tmp_path, numbers)
    with pytest.raises(StemRenderError, match="would not write a stem for Pad, Lead"):
        _targets(str(tmp_path / "$tracknumber.wav"), tmp_path, numbers)  # no wildcard expansion


def test_wav_check_catches_a_cancelled_or_wrong_render(tmp_path: Path) -> None:
    stereo = np.zeros((48000, 2), np.float32)
    write_audio(tmp_path / "ok.wav", stereo, 48000)
    check_wav(tmp_path / "ok.wav", 48000, 1.0)
    write_audio(tmp_path / "short.wav", stereo[:24000], 48000)
    with pytest.raises(StemRenderError, match="holds 0.5 s of 1.0 s: .*cancelled or failed"):
        check_wav(tmp_path / "short.wav", 48000, 1.0)
    with pytest.raises(StemRenderError, match="did not write gone.wav"):
        check_wav(tmp_path / "gone.wav", 48000, 1.0)
    write_audio(tmp_path / "pcm.wav", stereo, 48000, subtype="PCM_24")
    with pytest.raises(StemRenderError, match="format 1, 2 ch, 48000 Hz, 24 bit"):
        check_wav(tmp_path / "pcm.wav", 48000, 1.0)
    write_audio(tmp_path / "rate.wav", stereo, 44100)
    with pytest.raises(StemRenderError, match="44100 Hz"):
        check_wav(tmp_path / "rate.wav", 48000, 1.0)
    (tmp_path / "junk.wav").write_bytes(b"not a wave file")
    with pytest.raises(StemRenderError, match="not a WAV file"):
        check_wav(tmp_path / "junk.wav", 48000, 1.0)
