"""Which tracks the headless renderer plays, REAPER's renders in their place, and the CLI's
refusal of tracks only REAPER plays (issue 18)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reaper_automix.audio.io import write_audio
from reaper_automix.audio.playable import (
    tracks_to_render,
    unplayable_reason,
    unplayable_tracks,
)
from reaper_automix.audio.render import Renderer, pan_gains
from reaper_automix.hosts.rpp import open_project
from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project
from reaper_automix.session import FxInstance, Item, Source, Take, Track, link_folders

from .reaper_sim import add_midi

REPO = Path(__file__).resolve().parents[1]
RATE = 48000


def _track(index: int, name: str, *, kinds: tuple[str, ...] = (), fx: tuple[str, ...] = (),
           take_fx: tuple[str, ...] = (), depth: int = 0) -> Track:
    track = Track(index, name, "{%d}" % index, folder_depth=depth)
    for kind in kinds:
        take = Take(source=Source(kind, "x.wav" if kind == "WAVE" else ""),
                    fx=[FxInstance(n, n.split(":")[0]) for n in take_fx])
        track.items.append(Item(0.0, 1.0, takes=[take]))
    track.fx = [FxInstance(name, name.split(":")[0]) for name in fx]
    return track


def test_unplayable_reasons() -> None:
    eq = "VST: MultiEQ (IEM) (64ch)"
    assert unplayable_reason(_track(0, "audio", kinds=("WAVE",), fx=(eq,))) is None
    assert unplayable_reason(_track(0, "m", kinds=("MIDI",))) == "MIDI items"
    synth = _track(0, "s", kinds=("MIDI",), fx=("VSTi: ReaSynth (Cockos)", "JS: utility/volume"))
    assert unplayable_reason(synth) == ("MIDI items, instrument VSTi: ReaSynth (Cockos), "
                                        "plug-in JS: utility/volume")
    assert unplayable_reason(_track(0, "t", kinds=("WAVE",), take_fx=("VST: ReaEQ (Cockos)",))
                             ) == "take FX VST: ReaEQ (Cockos)"
    quiet = _track(0, "q", kinds=("MIDI",), fx=("VST: ReaComp (Cockos)",))
    quiet.items[0].mute = True
    quiet.fx[0].bypassed = True
    assert unplayable_reason(quiet) is None  # a muted item and a bypassed plug-in play nothing
    chain_off = _track(0, "c", fx=("VST: ReaComp (Cockos)",))
    chain_off.fx_enabled = False
    assert unplayable_reason(chain_off) is None
    renamed = _track(0, "r", fx=("VST: ReaComp (Cockos)",))
    renamed.fx[0].custom_name = "Glue"
    assert unplayable_reason(renamed) == "plug-in VST: ReaComp (Cockos) ('Glue')"


def test_what_reaper_renders_per_mode() -> None:
    tracks = [
        _track(0, "Band", depth=1),
        _track(1, "Drums", depth=1, fx=("VST: ReaComp (Cockos)",)),  # a folder with a plug-in
        _track(2, "Kit", kinds=("MIDI",), fx=("VSTi: Drums",), depth=-1),
        _track(3, "Keys", depth=1),
        _track(4, "Pad", kinds=("MIDI",), fx=("VSTi: Pad",)),
        _track(5, "Piano", kinds=("WAVE",), depth=-2),
    ]
    link_folders(tracks)
    band = tracks[0]
    roots = band.children  # Drums, Keys
    assert [t.name for t in tracks_to_render(roots)] == ["Drums", "Pad"]  # Kit is in Drums
    assert [t.name for t in tracks_to_render(roots, "reaper")] == ["Drums", "Keys"]
    assert tracks_to_render(roots, "headless") == []
    assert [t.name for t in unplayable_tracks(roots)] == ["Drums", "Kit", "Pad"]
    tracks[4].mute = True  # a muted child is not heard
    assert [t.name for t in tracks_to_render(roots)] == ["Drums"]
    with pytest.raises(ValueError, match="auto, reaper, headless"):
        tracks_to_render(roots, "sometimes")


def _folder_project(folder: Path) -> Path:
    t = np.arange(RATE) / RATE
    write_audio(folder / "a.wav", 0.3 * np.sin(2 * np.pi * 220 * t), RATE)
    tree = [TrackSpec("Bus", volume=0.5, children=[
        TrackSpec("Synth", volume=0.7, pan=0.4),  # REAPER renders it
        TrackSpec("Guitar", volume=0.9, items=[ItemSpec("a.wav", 0.0, 1.0)])])]
    return write_project(folder / "p.RPP", tree, sample_rate=RATE, seed=2)


def test_reapers_render_plays_in_place_of_the_track(tmp_path: Path) -> None:
    project = open_project(_folder_project(tmp_path))
    synth, guitar, bus = project.track("Synth"), project.track("Guitar"), project.track("Bus")
    stem = 0.1 * np.random.default_rng(1).standard_normal((RATE // 2, 2)).astype(np.float32)
    write_audio(tmp_path / "stem.wav", stem, RATE)
    rendered = Renderer(project, rendered={synth.guid.lower(): tmp_path / "stem.wav"},
                        rendered_start=0.25)
    plain = Renderer(project)
    expected = np.zeros((RATE, 2), np.float32)
    expected[RATE // 4: RATE // 4 + RATE // 2] = stem
    assert np.array_equal(rendered.track(synth, fader=False, pan=False), expected)
    post = expected * 0.7 * np.asarray(pan_gains(0.4), np.float32)
    assert np.allclose(rendered.track(synth), post, atol=1e-7)
    # the folder sums the render at the child's fader and pan with the headless child
    assert np.allclose(rendered.track(bus, fader=False),
                       post + plain.track(guitar), atol=1e-6)
    # a REAPER 6 render is post-fader: the fader and pan are divided back out
    write_audio(tmp_path / "post.wav", post, RATE)
    old = Renderer(project, rendered={synth.guid: tmp_path / "post.wav"}, rendered_post_fader=True)
    assert np.allclose(old.track(synth, fader=False, pan=False), expected, atol=1e-6)
    synth.pan = 1.0
    with pytest.raises(ValueError, match="'Synth': .*pre-fader stems need REAPER 7"):
        old.track(synth, fader=False)


def _midi_project(folder: Path) -> Path:
    path = _folder_project(folder)
    add_midi(path, "Synth", [(0.0, 1.0)])
    return path


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reaper_automix", *args], capture_output=True,
                          text=True, cwd=REPO)


def test_balance_cli_names_each_unplayable_track_and_can_skip_them(tmp_path: Path) -> None:
    project = _midi_project(tmp_path)
    refused = _cli("balance", str(project), "--dry-run")
    assert refused.returncode == 2
    message = " ".join(refused.stderr.split())
    assert ("'Synth' (MIDI items, instrument VSTi: ReaSynth (Cockos))" in message
            and "Run AutoMix: Auto balance group inside REAPER" in message
            and "--skip-unplayable" in message), message
    skipped = _cli("balance", str(project), "--dry-run", "--skip-unplayable")
    assert skipped.returncode == 0, skipped.stderr
    assert "'Synth' (MIDI items, instrument VSTi: ReaSynth (Cockos)) is analysed as the " \
           "headless renderer plays it" in " ".join(skipped.stderr.split())


def test_render_cli_names_each_unplayable_track_and_can_skip_them(tmp_path: Path) -> None:
    project = _midi_project(tmp_path)
    out = tmp_path / "mix.wav"
    refused = _cli("render", str(project), "--track", "Bus", "-o", str(out))
    assert refused.returncode == 2 and not out.exists()
    assert "Render it in REAPER instead" in " ".join(refused.stderr.split())
    assert _cli("render", str(project), "--track", "Guitar", "-o", str(out)).returncode == 0
    assert _cli("render", str(project), "-o", str(out), "--skip-unplayable").returncode == 0
