"""The processed demo project sounds as in REAPER: IEM instances we add to it are saved, the
saved states are loaded into the real plug-ins (as REAPER loads a project), and the real chain
agrees with the headless render of the same tracks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reaper_automix import open_project
from reaper_automix.audio.render import Renderer
from reaper_automix.iem.state import VstPayload

from .test_iem_golden import SKIP, Config, relative_error_db, render_with_plugin

pytestmark = [pytest.mark.golden, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]

BAR_DB = -60.0  # issue 4: relative RMS error of every configuration
LENGTH_S = 12.0
CHAINS = {
    "Lead Vocal (stand-in)": [
        ("MultiEQ", {"filterType0": 1.0, "filterFrequency0": 90.0, "filterGain2": -3.5,
                     "filterFrequency2": 350.0, "filterQ2": 1.4, "filterGain4": 2.5,
                     "filterFrequency4": 4200.0}),
        ("OmniCompressor", {"threshold": -28.0, "ratio": 4.0, "attack": 8.0, "release": 120.0,
                            "knee": 6.0, "outGain": 4.0}),
        ("FdnReverb", {"revTime": 1.6, "dryWet": 0.3, "delayLength": 12.0}),
    ],
    "Drums": [("OmniCompressor", {"threshold": -20.0, "ratio": 3.0, "attack": 20.0})],
}


@pytest.fixture(scope="module")
def processed_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from reaper_automix.demo import build_demo

    path = build_demo(tmp_path_factory.mktemp("demo")).project
    project = open_project(path)
    for track_name, chain in CHAINS.items():
        for plugin, params in chain:
            project.track(track_name).stage_iem_params(plugin, params, f"AutoMix {plugin}")
    project.save()
    return path


def real_chain(track, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The track's saved IEM states loaded into the real plug-ins, in chain order."""
    for fx in track.fx:
        state = VstPayload.decode(fx.payload).state
        config = Config(f"{track.name}: {fx.label}", fx.iem_plugin, rate=sample_rate, state=state)
        audio, _ = render_with_plugin(config, audio)
        audio = audio.astype(np.float32)
    return audio


@pytest.mark.parametrize("track_name", list(CHAINS))
def test_saved_chain_in_the_real_plugins_matches_the_headless_render(processed_demo, track_name):
    project = open_project(processed_demo)
    track = project.track(track_name)
    assert [fx.custom_name for fx in track.fx] == [f"AutoMix {p}" for p, _ in CHAINS[track_name]]
    renderer = Renderer(project)
    end = LENGTH_S
    dry = renderer.track(track, fader=False, pan=False, fx=False, end=end)
    ours = renderer.track(track, fader=False, pan=False, fx=True, end=end)
    real = real_chain(track, dry, project.sample_rate)
    error = relative_error_db(real, ours)
    assert error <= BAR_DB, f"{track_name}: relative RMS error {error:.1f} dB"
    assert relative_error_db(dry, ours) > -20, "the chain audibly processes the track"
