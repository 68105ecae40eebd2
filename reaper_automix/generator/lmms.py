"""The five LMMS demo songs reserved for evaluation (data.md §3.4), as stems with the composer's
levels.

Only :data:`ALLOWED_SONGS` may be loaded: every other LMMS demo and shorty is an independent
held-out set that must never be rendered, trained on or tuned on, so the loader refuses them.

``lmms rendertracks -a`` writes one 32-bit float WAV per track. Measured (docs/generator.md,
``benchmarks/lmms_stem_volume.py``): those files already contain the track's volume and pan,
its FX-channel fader and the master volume. The loader divides the track's own gain (track
volume × the FX-channel faders and sends on its way to the master) and pan back out, so a
stem file holds the track as if its fader were at 0 dB and centred, and
:attr:`LmmsTrack.composer_gain_db` is the composer's level relative to that file. What is common
to every track (master fader and master-volume automation) stays in the files.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..analysis.loudness import LoudnessMeter
from ..analysis.roles import role_from_name
from ..audio.io import read_audio, write_float_wav
from ..rpp.builder import ItemSpec, TrackSpec, write_project
from ..session import db_to_gain
from .session import default_cache_dir
from .sources import SourceUnavailableError, file_identity, lmms_projects_dir

ALLOWED_SONGS = ("CapDan-ReggaeTry", "CapDan-ReggaetonTry", "Thomasso-AxeFromThe80s",
                 "Alf42red-Mauiwowi", "Greshz-CoolSnip")
LOADER_VERSION = "1"
SAMPLE_RATE = 44100
SILENT_LUFS = -70.0  # a rendered track below this is empty (no notes, or muted) and left out
#: a stem louder than this was rendered silenced and divided by its composer gain of about 0
BROKEN_LUFS = 20.0
RENDER_TIMEOUT_S = 1800
MANIFEST = "song.json"
GROUP_FOLDERS = {"drums": "Drums", "bass": "Bass", "vocals": "Vocals", "other": "Other"}
DRUM_ROLES = ("kick", "snare", "clap", "hats_closed", "hats_open", "hats_pedal", "toms",
              "cymbals", "percussion")
TICKS_PER_QUARTER = 48

#: LMMS sample-library spellings that the shared track-name vocabulary does not know.
LMMS_SPELLINGS = {"opened": "open", "bassslap": "bass slap", "wood": "woodblock"}


class LmmsUnavailableError(SourceUnavailableError):
    """The lmms program or the lmms-common projects are not installed."""


@dataclass(frozen=True)
class LmmsTrack:
    """One rendered LMMS track."""

    index: int  # the number lmms rendertracks gives its file
    name: str  # unique in the song (duplicates get " (index)")
    plugin: str  # instrument plug-in, e.g. audiofileprocessor, zynaddsubfx, tripleoscillator
    sample: str  # sample file of an audiofileprocessor track ("" otherwise)
    beat_bassline: bool  # lives in the Beat+Bassline editor
    effects: tuple[str, ...]  # effect plug-ins on its way to the master (may be non-linear)
    path: Path  # float32 stereo stem with the track's own gain and pan divided out
    composer_gain_db: float  # the composer's level relative to the stem file
    pan: float  # the composer's pan, −1 left … +1 right (LMMS: −100 … 100)
    group: str  # drums, bass, vocals or other
    role: str
    role_source: str  # where the role guess comes from
    lufs: float  # integrated loudness of the stem file

    def read(self) -> np.ndarray:
        return read_audio(self.path)[0]


@dataclass(frozen=True)
class LmmsSong:
    name: str
    project: Path  # the .mmpz in lmms-common
    directory: Path  # cache folder
    tempo: float
    length_s: float
    sample_rate: int
    master_gain_db: float  # master volume × master fader, left in every stem
    tracks: tuple[LmmsTrack, ...]
    skipped: tuple[str, ...]  # tracks left out, with the reason
    render_s: float  # wall time of lmms rendertracks when the cache entry was made

    @property
    def frames(self) -> int:
        return round(self.length_s * self.sample_rate)

    def track(self, name: str) -> LmmsTrack:
        for track in self.tracks:
            if track.name == name:
                return track
        raise KeyError(f"{self.name} has no track {name!r}")

    def composer_mix(self) -> np.ndarray:
        """The stems summed at the composer's gains and pans (LMMS's linear pan law)."""
        out = np.zeros((self.frames, 2), dtype=np.float64)
        for track in self.tracks:
            out += track.read() * (db_to_gain(track.composer_gain_db) * _pan_gains(track.pan))
        return out.astype(np.float32)

    def write_project(self, path: str | Path,
                      gains_db: Mapping[str, float] | None = None) -> Path:
        """A REAPER project with group folders; faders at ``gains_db`` (by track name), or at
        the composer's gains where a track is not named. Pans are the composer's."""
        gains = dict(gains_db or {})
        unknown = sorted(set(gains) - {t.name for t in self.tracks})
        if unknown:
            raise ValueError(f"{self.name} has no tracks {unknown}; it has "
                             f"{', '.join(t.name for t in self.tracks)}")
        path = Path(path)
        tree = []
        for group, folder in GROUP_FOLDERS.items():
            children = [TrackSpec(t.name, volume=db_to_gain(gains.get(t.name, t.composer_gain_db)),
                                  pan=t.pan, items=[ItemSpec(str(t.path.resolve()), 0.0,
                                                             self.length_s)])
                        for t in self.tracks if t.group == group]
            if children:
                tree.append(TrackSpec(folder, children=children))
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_project(path, tree, sample_rate=self.sample_rate, tempo=self.tempo, seed=0)

    def render_whole_song(self) -> Path:
        """``lmms render`` of the whole song (cached next to the stems), for comparison."""
        target = self.directory / "whole_song.wav"
        if not target.is_file():
            with tempfile.TemporaryDirectory(prefix="automix-lmms-") as scratch:
                raw = Path(scratch) / "song.wav"
                _run_lmms(["render", str(self.project), "-o", str(raw)])
                audio, rate = read_audio(raw)
                write_float_wav(target, _fit(audio, self.frames), rate)
        return target


def _pan_gains(pan: float) -> np.ndarray:
    """LMMS's pan law (measured: pan +50 leaves the right channel and halves the left)."""
    return np.array([min(1.0, 1.0 - pan), min(1.0, 1.0 + pan)])


def check_song_name(name: str) -> str:
    """``name`` if it is one of the five evaluation songs, else a ValueError saying why not."""
    if name not in ALLOWED_SONGS:
        raise ValueError(
            f"LMMS song {name!r} is not one of the five evaluation songs "
            f"({', '.join(ALLOWED_SONGS)}); every other LMMS demo is a held-out test set that "
            "must not be rendered, trained or tuned on (docs/generator.md)")
    return name


def project_path(name: str) -> Path:
    """The installed .mmpz of evaluation song ``name``."""
    check_song_name(name)
    found = sorted(lmms_projects_dir().rglob(f"{name}.mmp*"))
    if not found:
        raise LmmsUnavailableError(f"{name}.mmpz not found under {lmms_projects_dir()} "
                                   "(apt-get install lmms-common)")
    return found[0]


def project_xml(path: Path) -> ET.Element:
    """The project's XML: a .mmpz is Qt-compressed (4-byte length + zlib), the same text
    ``lmms dump`` prints."""
    data = path.read_bytes()
    if path.suffix == ".mmpz":
        data = zlib.decompress(data[4:])
    return ET.fromstring(data)


def lmms_version() -> str:
    result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "lmms"], capture_output=True,
                            text=True, check=False) if shutil.which("dpkg-query") else None
    return result.stdout.strip() if result is not None and result.returncode == 0 else "unknown"


def load_song(name: str, cache_dir: str | Path | None = None) -> LmmsSong:
    """Evaluation song ``name`` with stems rendered by LMMS (cached after the first call)."""
    project = project_path(name)
    if shutil.which("lmms") is None:
        raise LmmsUnavailableError("the lmms program is not installed (apt-get install lmms)")
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = hashlib.sha256(json.dumps([LOADER_VERSION, file_identity(project), lmms_version()])
                         .encode()).hexdigest()[:16]
    folder = root / "lmms" / f"{name}-{key}"
    if not (folder / MANIFEST).is_file():
        scratch = folder.with_name(f"{folder.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            _write_manifest(_render(name, project, scratch))
            try:
                scratch.rename(folder)
            except OSError:
                if not (folder / MANIFEST).is_file():
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return _load(folder)


@dataclass(frozen=True)
class _TrackInfo:
    name: str
    plugin: str
    sample: str
    beat_bassline: bool
    volume: float  # linear
    pan: float
    fx_channel: int
    fx_name: str
    effects: tuple[str, ...]
    notes: tuple[tuple[int, int, int], ...]  # (start tick, length ticks, LMMS key)


def tracks_in_render_order(root: ET.Element) -> list[_TrackInfo]:
    """Instrument and sample tracks in the order ``rendertracks`` numbers its files: the song
    editor's tracks first, then those of the Beat+Bassline editor."""
    song = root.find("song/trackcontainer")
    if song is None:
        raise ValueError("LMMS project has no song track container")
    mixer = _Mixer(root)
    top = [t for t in song.findall("track") if t.get("type") in ("0", "2")]
    beat = [t for bb in song.findall("track") if bb.get("type") == "1"
            for container in bb.iter("trackcontainer") for t in container.findall("track")
            if t.get("type") in ("0", "2")]
    return [_info(t, t in beat, mixer) for t in top + beat]


class _Mixer:
    """The FX mixer: channel names, faders, effects and sends (old files send all to master)."""

    def __init__(self, root: ET.Element) -> None:
        channels = root.findall("song/fxmixer/fxchannel")
        self.channels = {int(c.get("num", "0")): c for c in channels}
        self.any_sends = any(c.find("send") is not None for c in channels)

    def name(self, number: int) -> str:
        channel = self.channels.get(number)
        return channel.get("name", "") if channel is not None else ""

    def path_gain(self, number: int, depth: int = 0) -> tuple[float, tuple[str, ...]]:
        """Gain from channel ``number``'s input to the master's input, and the effects met."""
        if number == 0 or depth > 32 or number not in self.channels:
            return 1.0, ()
        channel = self.channels[number]
        fader = 0.0 if channel.get("muted") == "1" else float(channel.get("volume", "1"))
        effects = _effect_names(channel)
        sends = [(int(s.get("channel", "0")), float(s.get("amount", "1")))
                 for s in channel.findall("send")] if self.any_sends else [(0, 1.0)]
        total, met = 0.0, list(effects)
        for target, amount in sends:
            gain, more = self.path_gain(target, depth + 1)
            total += fader * amount * gain
            met += more
        return total, tuple(met)


def _effect_names(element: ET.Element) -> tuple[str, ...]:
    names = []
    for effect in element.iter("effect"):
        if effect.get("on", "1") != "0":
            plugin = effect.find("key/attribute[@name='plugin']")
            names.append(plugin.get("value") if plugin is not None else effect.get("name", "?"))
    return tuple(names)


def _info(track: ET.Element, beat_bassline: bool, mixer: _Mixer) -> _TrackInfo:
    body = track.find("instrumenttrack")
    if body is None:
        body = track.find("sampletrack")
    if body is None:
        raise ValueError(f"track {track.get('name')!r} has no instrument or sample data")
    instrument = body.find("instrument")
    plugin = instrument.get("name", "") if instrument is not None else "sampletrack"
    sample = ""
    if instrument is not None and len(instrument):
        sample = instrument[0].get("src", "")
    if body.tag == "sampletrack":
        sample = next((c.get("src", "") for c in track.findall("sampletco")), "")
    channel = int(body.get("fxch", "0"))
    gain, effects = mixer.path_gain(channel)
    notes = tuple((int(p.get("pos", "0")) + int(n.get("pos", "0")), int(n.get("len", "0")),
                   int(n.get("key", "57"))) for p in track.findall("pattern")
                  for n in p.findall("note"))
    muted = track.get("muted") == "1"
    return _TrackInfo(track.get("name", ""), plugin, sample, beat_bassline,
                      0.0 if muted else float(body.get("vol", "100")) / 100.0 * gain,
                      float(body.get("pan", "0")) / 100.0, channel, mixer.name(channel),
                      _effect_names(body) + effects, notes)


def guess_role(info: _TrackInfo) -> tuple[str, str]:
    """(role, source) from :func:`reaper_automix.analysis.roles.role_from_name` on the track
    name, the sample file, the FX channel's name (LMMS's default "FX n" names say nothing) and
    the sample's folder, else from the notes. "fx" is a weak guess: a later source naming
    another role wins ("Noise Clip" on the channel named "Snare" is a snare layer)."""
    folder, _, sample = info.sample.rpartition("/")
    texts = (("track name", info.name), ("sample file", sample),
             ("FX channel name", "" if re.fullmatch(r"fx \d+", info.fx_name.lower())
              else info.fx_name), ("sample folder", folder))
    weak = None
    for source, text in texts:
        guess = role_from_name(_lmms_words(text)) if text else None
        if guess is not None and guess.role != "fx":
            return guess.role, f"{source} {text!r}"
        if guess is not None:
            weak = weak or (guess.role, f"{source} {text!r}")
    return weak or (_role_from_notes(info.notes), "notes (register, polyphony, note length)")


def _lmms_words(text: str) -> str:
    return re.sub(r"[a-z]+", lambda m: LMMS_SPELLINGS.get(m.group(0), m.group(0)), text.lower())


def _role_from_notes(notes: tuple[tuple[int, int, int], ...]) -> str:
    if not notes:
        return "other"
    midi = np.median([key for _s, _l, key in notes]) + 12  # LMMS key 57 is A4 = MIDI 69
    quarters = np.median([length for _s, length, _k in notes]) / TICKS_PER_QUARTER
    events = sorted([(s, 1) for s, _l, _k in notes] + [(s + max(l, 1), -1) for s, l, _k in notes])
    poly = max(np.cumsum([d for _t, d in events]))
    if poly <= 2 and midi < 57:
        return "bass"
    if poly >= 3:
        return "pad" if quarters >= 2 else "chords"
    if quarters >= 4:
        return "pad"
    return "plucks" if quarters <= 0.25 else "lead"


def group_of(role: str) -> str:
    if role in DRUM_ROLES:
        return "drums"
    return {"bass": "bass", "lead_vocal": "vocals", "backing_vocal": "vocals"}.get(role, "other")


def _render(name: str, project: Path, folder: Path) -> LmmsSong:
    root = project_xml(project)
    infos = tracks_in_render_order(root)
    raw = folder / "raw"
    raw.mkdir(parents=True)
    started = time.perf_counter()
    _run_lmms(["rendertracks", str(project), "-o", f"{raw}/"])
    render_s = time.perf_counter() - started
    files = {int(p.name.split("_", 1)[0]): p for p in raw.glob("*.wav")}
    audio = {index: read_audio(path) for index, path in files.items()}
    frames = max(a.shape[0] for a, _rate in audio.values())
    meter = LoudnessMeter(SAMPLE_RATE)
    tracks, skipped = [], []
    counts = {name: [i.name for i in infos].count(name) for name in {i.name for i in infos}}
    for index, info in enumerate(infos, start=1):
        label = info.name if counts[info.name] == 1 else f"{info.name} ({index})"
        if index not in audio or info.volume <= 0.0:
            skipped.append(f"{label}: {'no file rendered' if index not in audio else 'muted'}")
            continue
        stem = _fit(audio[index][0], frames) / (info.volume * _pan_gains(info.pan)).astype(
            np.float32)
        lufs = float(meter.integrated(stem))
        if not lufs > SILENT_LUFS:
            skipped.append(f"{label}: silent ({lufs:.1f} LUFS; no notes play)")
            continue
        role, source = guess_role(info)
        path = write_float_wav(folder / "stems" / f"{index:02d}_{_slug(label)}.wav", stem,
                               SAMPLE_RATE)
        tracks.append(LmmsTrack(index, label, info.plugin, info.sample, info.beat_bassline,
                                info.effects, path, round(20 * math.log10(info.volume), 4),
                                info.pan, group_of(role), role, source, round(lufs, 3)))
    shutil.rmtree(raw)
    head = root.find("head")
    tempo = float(head.get("bpm", "120")) if head is not None else 120.0
    return LmmsSong(name, project, folder, tempo, frames / SAMPLE_RATE, SAMPLE_RATE,
                    _master_gain_db(root), tuple(tracks), tuple(skipped), round(render_s, 2))


def _master_gain_db(root: ET.Element) -> float:
    head = root.find("head")
    volume = head.get("mastervol") if head is not None else None
    if volume is None and head is not None and head.find("mastervol") is not None:
        volume = head.find("mastervol").get("value")
    master = _Mixer(root).channels.get(0)
    fader = float(master.get("volume", "1")) if master is not None else 1.0
    gain = float(volume or 100) / 100.0 * fader
    return round(20 * math.log10(gain), 4) if gain > 0 else -math.inf


def _fit(audio: np.ndarray, frames: int) -> np.ndarray:
    """Stereo, padded with silence (or cut) to ``frames``: rendertracks stops each file when
    its track falls silent."""
    if audio.shape[1] == 1:
        audio = np.repeat(audio, 2, axis=1)
    out = np.zeros((frames, 2), dtype=np.float32)
    out[:min(frames, audio.shape[0])] = audio[:frames, :2]
    return out


def _run_lmms(arguments: list[str]) -> None:
    """Run lmms headless (offscreen Qt, 44.1 kHz, 32-bit float WAV)."""
    command = ["lmms", "--allowroot", *arguments, "-f", "wav", "-s", str(SAMPLE_RATE), "-a"]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(command, capture_output=True, text=True, env=env,
                            timeout=RENDER_TIMEOUT_S, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): "
                           f"{result.stderr[-2000:]}")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _write_manifest(song: LmmsSong) -> None:
    data = {"name": song.name, "project": str(song.project), "tempo": song.tempo,
            "length_s": song.length_s, "sample_rate": song.sample_rate,
            "master_gain_db": song.master_gain_db, "skipped": list(song.skipped),
            "render_s": song.render_s, "lmms": lmms_version(),
            "tracks": [{**{k: v for k, v in vars(t).items() if k != "path"},
                        "file": t.path.relative_to(song.directory).as_posix()}
                       for t in song.tracks]}
    (song.directory / MANIFEST).write_text(json.dumps(data, indent=1, default=list) + "\n",
                                           encoding="utf-8")


def _load(folder: Path) -> LmmsSong:
    """Read a cache entry; roles and groups are guessed again from the project, so improving
    the guess needs no new render."""
    data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    project = Path(data["project"])
    infos = tracks_in_render_order(project_xml(project))
    tracks, skipped = [], list(data["skipped"])
    for entry in data["tracks"]:
        if not (math.isfinite(entry["lufs"]) and entry["lufs"] < BROKEN_LUFS):
            skipped.append(f"{entry['name']}: its stem reads {entry['lufs']:.0f} LUFS (a track "
                           "LMMS renders silenced, divided by its composer gain of about 0)")
            continue
        role, source = guess_role(infos[entry["index"] - 1])
        fields = {k: v for k, v in entry.items() if k != "file"}
        tracks.append(LmmsTrack(**{**fields, "effects": tuple(entry["effects"]),
                                   "path": folder / entry["file"], "role": role,
                                   "role_source": source, "group": group_of(role)}))
    return LmmsSong(data["name"], project, folder, data["tempo"], data["length_s"],
                    data["sample_rate"], data["master_gain_db"], tuple(tracks),
                    tuple(skipped), data["render_s"])


def stems_include_track_gain(cache_dir: str | Path | None = None) -> dict[str, float]:
    """Re-measure the finding this loader relies on, on Greshz-CoolSnip (2 tracks, ~2 s per
    render): render the project as is and with one track's volume halved, its pan at +50 and
    the master volume halved; return the level changes (dB) of that track's exported stem."""
    project = project_path("Greshz-CoolSnip")
    changes = {"track volume 100 -> 50": ("vol", "50"), "track pan 0 -> +50": ("pan", "50"),
               "master volume 100 -> 50": ("mastervol", "50")}
    with tempfile.TemporaryDirectory(prefix="automix-lmms-check-") as scratch:
        base = _render_variant(project, Path(scratch) / "base", None)
        result = {}
        for label, change in changes.items():
            changed = _render_variant(project, Path(scratch) / change[0], change)
            level = 10 * np.log10(np.mean(changed ** 2, axis=0) / np.mean(base ** 2, axis=0))
            result[f"{label}: left dB"] = round(float(level[0]), 3)
            result[f"{label}: right dB"] = round(float(level[1]), 3)
        return result


def _render_variant(project: Path, folder: Path, change: tuple[str, str] | None) -> np.ndarray:
    """The exported stem of the project's last track, after ``change`` to it (or the head)."""
    root = project_xml(project)
    if change is not None:
        attribute, value = change
        if attribute == "mastervol":
            root.find("head").set("mastervol", value)
        else:
            root.find("song/trackcontainer").findall("track")[-1].find(
                "instrumenttrack").set(attribute, value)
    folder.mkdir(parents=True)
    path = folder / "song.mmp"
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    (folder / "out").mkdir()
    _run_lmms(["rendertracks", str(path), "-o", f"{folder / 'out'}/"])
    last = max(folder.glob("out/*.wav"), key=lambda p: int(p.name.split("_", 1)[0]))
    return read_audio(last)[0].astype(np.float64)


__all__ = ["ALLOWED_SONGS", "LmmsSong", "LmmsTrack", "load_song", "check_song_name",
           "project_path", "stems_include_track_gain", "guess_role", "LmmsUnavailableError"]
