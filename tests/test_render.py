"""The headless renderer on analytic signals: levels, offsets, fades, pan law, rate, folder sums."""

from __future__ import annotations

import numpy as np
import pytest

from reaper_automix import open_project
from reaper_automix.audio.io import write_audio
from reaper_automix.audio.render import MissingMediaError, Renderer, fade_curve, pan_gains
from reaper_automix.rpp.builder import ItemSpec, TrackSpec, write_project

SR = 48000


def ramp_wav(tmp_path, name="ramp.wav", seconds=1.0, channels=1, rate=SR):
    """A source whose sample value encodes its own position: x[n] = n / rate (channel k: +k)."""
    n = int(seconds * rate)
    t = np.arange(n, dtype=np.float64) / rate
    data = np.stack([t + k for k in range(channels)], axis=1) * 0.1
    write_audio(tmp_path / name, data, rate)
    return name


def render(tmp_path, tracks, key=None, **kwargs):
    path = write_project(tmp_path / "p.rpp", tracks, sample_rate=SR)
    project = open_project(path)
    renderer = Renderer(project, **kwargs)
    track = project.tracks[0] if key is None else project.track(key)
    return renderer, track


def test_position_offset_and_gain(tmp_path) -> None:
    src = ramp_wav(tmp_path)
    item = ItemSpec(src, position=0.5, length=0.25, source_offset=0.1, item_volume=0.5,
                    take_volume=0.8)
    renderer, track = render(tmp_path, [TrackSpec("T", items=[item])])
    out = renderer.track(track, fader=False)
    start = int(0.5 * SR)
    assert out.shape == (int(0.75 * SR), 2)
    assert not out[:start].any()
    expected = (np.arange(int(0.25 * SR)) / SR + 0.1) * 0.1 * 0.4
    np.testing.assert_allclose(out[start:, 0], expected, atol=1e-6)
    np.testing.assert_array_equal(out[:, 0], out[:, 1])  # mono plays on both sides


def test_fader_pan_and_mute(tmp_path) -> None:
    src = ramp_wav(tmp_path)
    item = ItemSpec(src, position=0.0, length=1.0)
    renderer, track = render(tmp_path, [TrackSpec("T", volume=0.5, pan=-0.5, items=[item])])
    dry = renderer.track(track, fader=False, pan=False)
    wet = renderer.track(track)
    np.testing.assert_allclose(wet[:, 0], dry[:, 0] * 0.5, atol=1e-7)
    np.testing.assert_allclose(wet[:, 1], dry[:, 1] * 0.5 * 0.5, atol=1e-7)
    assert pan_gains(0.0) == (1.0, 1.0) and pan_gains(1.0) == (0.0, 1.0)
    track.mute = True
    assert not renderer.track(track).any()


def test_linear_fades_and_shapes(tmp_path) -> None:
    write_audio(tmp_path / "dc.wav", np.ones((SR, 1)) * 0.5, SR)
    item = ItemSpec("dc.wav", position=0.0, length=1.0, fade_in=0.1, fade_out=0.2)
    renderer, track = render(tmp_path, [TrackSpec("T", items=[item])])
    out = renderer.track(track)[:, 0]
    n_in, n_out = int(0.1 * SR), int(0.2 * SR)
    np.testing.assert_allclose(out[:n_in], 0.5 * np.arange(n_in) / n_in, atol=1e-6)
    np.testing.assert_allclose(out[n_in:-n_out], 0.5, atol=1e-7)
    np.testing.assert_allclose(out[-n_out:], 0.5 * (n_out - np.arange(n_out)) / n_out, atol=1e-6)
    t = np.linspace(0, 1, 101)
    for shape in range(8):
        curve = fade_curve(t, shape)
        assert curve[0] == pytest.approx(0) and curve[-1] == pytest.approx(1)
        assert np.all(np.diff(curve) >= -1e-12)


def test_play_rate_resamples(tmp_path) -> None:
    sine_rate = 1000.0
    t = np.arange(SR * 2) / SR
    write_audio(tmp_path / "sine.wav", 0.5 * np.sin(2 * np.pi * sine_rate * t)[:, None], SR)
    item = ItemSpec("sine.wav", position=0.0, length=0.5, play_rate=2.0)
    renderer, track = render(tmp_path, [TrackSpec("T", items=[item])])
    out = renderer.track(track)[:, 0]
    spectrum = np.abs(np.fft.rfft(out * np.hanning(out.size)))
    peak_hz = np.argmax(spectrum) * SR / out.size
    assert peak_hz == pytest.approx(2 * sine_rate, abs=3)
    assert np.sqrt(np.mean(out[1000:-1000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)


def test_other_sample_rate_and_loop(tmp_path) -> None:
    write_audio(tmp_path / "dc44.wav", np.ones((4410, 2)) * 0.25, 44100)
    item = ItemSpec("dc44.wav", position=0.0, length=0.3, loop=True)
    renderer, track = render(tmp_path, [TrackSpec("T", items=[item])])
    out = renderer.track(track)
    assert out.shape[0] == int(0.3 * SR)
    assert np.median(out) == pytest.approx(0.25, abs=1e-3)  # looped 0.1 s source fills 0.3 s
    item.loop = False
    renderer, track = render(tmp_path, [TrackSpec("T", items=[item])])
    out = renderer.track(track)
    assert not out[int(0.11 * SR):].any()


def test_channel_modes(tmp_path) -> None:
    src = ramp_wav(tmp_path, "st.wav", channels=2)
    results = {}
    for mode in range(5):
        item = ItemSpec(src, position=0.0, length=0.5, channel_mode=mode)
        renderer, track = render(tmp_path, [TrackSpec("T", items=[item])])
        results[mode] = renderer.track(track)[100]
    left, right = results[0]
    assert right - left == pytest.approx(0.1, abs=1e-6)
    assert tuple(results[1]) == pytest.approx((right, left))
    assert tuple(results[2]) == pytest.approx(((left + right) / 2,) * 2)
    assert tuple(results[3]) == pytest.approx((left, left))
    assert tuple(results[4]) == pytest.approx((right, right))


def test_folder_sums_children_after_their_faders(tmp_path) -> None:
    write_audio(tmp_path / "a.wav", np.full((SR, 1), 0.1), SR)
    write_audio(tmp_path / "b.wav", np.full((SR, 2), 0.2), SR)
    tracks = [
        TrackSpec("Bus", volume=0.5, children=[
            TrackSpec("A", volume=2.0, items=[ItemSpec("a.wav", 0.0, 1.0)]),
            TrackSpec("Sub", children=[
                TrackSpec("B", pan=1.0, items=[ItemSpec("b.wav", 0.0, 1.0)]),
                TrackSpec("Muted", mute=True, items=[ItemSpec("a.wav", 0.0, 1.0)]),
            ]),
        ]),
    ]
    renderer, bus = render(tmp_path, tracks, "Bus")
    pre = renderer.track(bus, fader=False)
    np.testing.assert_allclose(pre[10], [0.2, 0.2 + 0.2], atol=1e-6)
    np.testing.assert_allclose(renderer.track(bus)[10], [0.1, 0.2], atol=1e-6)


def test_missing_media_names_track_item_and_path(tmp_path) -> None:
    item = ItemSpec("media/gone.wav", position=0.0, length=1.0)
    renderer, track = render(tmp_path, [TrackSpec("Snare", items=[item])])
    with pytest.raises(MissingMediaError) as info:
        renderer.track(track)
    assert "Snare" in str(info.value) and "gone.wav" in str(info.value)
    renderer, track = render(tmp_path, [TrackSpec("Snare", items=[item])], skip_missing=True)
    assert not renderer.track(track).any()
    assert "gone.wav" in renderer.warnings[0]


@pytest.mark.parametrize("fmt", ["FLAC", "OGG", "MP3", "AIFF"])
def test_compressed_and_other_formats(tmp_path, fmt: str) -> None:
    import soundfile as sf

    t = np.arange(SR) / 44100
    data = 0.5 * np.sin(2 * np.pi * 440 * t)
    ext = {"FLAC": "flac", "OGG": "ogg", "MP3": "mp3", "AIFF": "aiff"}[fmt]
    subtype = {"FLAC": "PCM_24", "OGG": "VORBIS", "MP3": "MPEG_LAYER_III", "AIFF": "PCM_16"}[fmt]
    sf.write(tmp_path / f"s.{ext}", data, 44100, format=fmt if fmt != "OGG" else "OGG",
             subtype=subtype)
    item = ItemSpec(f"s.{ext}", position=0.0, length=0.5)
    renderer, track = render(tmp_path, [TrackSpec("T", items=[item])])
    out = renderer.track(track)[:, 0]
    assert np.sqrt(np.mean(out[2000:-2000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)


def test_non_iem_plugins_are_skipped_with_a_warning(rpp_fixtures) -> None:
    project = open_project(rpp_fixtures / "perlence-vst.RPP")
    renderer = Renderer(project, skip_missing=True)
    renderer.track(project.tracks[0])
    assert any("ReaComp" in w and "5.50" in w for w in renderer.warnings)


@pytest.mark.parametrize(("fmt", "subtype"), [("WAV", "PCM_16"), ("WAV", "PCM_24"), ("FLAC", "PCM_16"),
                                              ("FLAC", "PCM_24"), ("AIFF", "PCM_24"), ("WAV", "PCM_32"),
                                              ("WAV", "FLOAT")])
def test_read_audio_gives_libsndfiles_float_values(tmp_path, fmt: str, subtype: str) -> None:
    """Integer PCM is read as integers and scaled by read_audio; the values must be the ones
    libsndfile's own float conversion gives, full scale and the most negative code included."""
    import soundfile as sf

    from reaper_automix.audio.io import read_audio

    rng = np.random.default_rng(5)
    audio = np.clip(rng.standard_normal((4000, 2)) * 0.4, -1.0, 1.0)
    audio[:4] = [[1.0, -1.0], [-1.0, 0.99999], [0.0, -0.5], [2.0 ** -15, -(2.0 ** -23)]]
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(str(path), audio, 44100, format=fmt, subtype=subtype)
    data, rate = read_audio(path)
    expected, _ = sf.read(str(path), dtype="float32", always_2d=True)
    assert rate == 44100 and data.dtype == np.float32
    np.testing.assert_array_equal(data, expected)
