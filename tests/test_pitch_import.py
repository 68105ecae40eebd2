"""pesto imports without torchaudio, with a broken torchaudio and with a working one.

Each case runs in a fresh interpreter, because the import outcome is cached in sys.modules.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from reaper_automix.analysis.pitch import track_pitch

REPO = Path(__file__).resolve().parents[1]

BLOCK_TORCHAUDIO = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torchaudio" or name.startswith("torchaudio."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Block())
"""

CHECK_STUB_AND_PITCH = """
import numpy as np, sys
from reaper_automix.analysis import pitch
pesto = pitch.import_pesto()
stub = sys.modules["torchaudio"]
assert getattr(stub, "__reaper_automix_stub__", False), "torchaudio was not replaced by the stub"
try:
    stub.load("x.wav")
except RuntimeError as exc:
    assert "torchaudio is not available" in str(exc), exc
else:
    raise AssertionError("the stub's load did not raise")
rate = 16000
t = np.arange(rate) / rate
tone = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 6)).astype("float32") * 0.3
track = pitch.track_pitch(tone, rate, step_ms=20.0)
voiced = track.f0_hz[track.confidence > 0.5]
assert voiced.size > 10 and abs(np.median(voiced) - 220.0) < 5.0, voiced
assert "matplotlib.pyplot" not in sys.modules, "pesto's export pulled in matplotlib"
try:
    sys.modules["pesto.utils.export"].export("csv", "x", None, None, None, None)
except RuntimeError as exc:
    assert "stub" in str(exc), exc
else:
    raise AssertionError("the export stub did not raise")
print("OK", np.median(voiced))
"""


def run_python(code: str, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    paths = [str(extra_path)] if extra_path else []
    env["PYTHONPATH"] = os.pathsep.join(paths + [str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def fake_torchaudio(tmp_path: Path, body: str) -> Path:
    package = tmp_path / "torchaudio"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(body))
    return tmp_path


def test_pesto_imports_when_torchaudio_is_absent():
    result = run_python(BLOCK_TORCHAUDIO + CHECK_STUB_AND_PITCH)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_pesto_imports_when_torchaudio_is_broken(tmp_path):
    broken = fake_torchaudio(
        tmp_path, 'raise OSError("Could not load this library: .../_torchaudio.abi3.so")\n'
    )
    result = run_python(CHECK_STUB_AND_PITCH, extra_path=broken)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_a_working_torchaudio_is_kept(tmp_path):
    working = fake_torchaudio(tmp_path, "def load(path):\n    return 'real'\n")
    result = run_python(
        """
        import sys
        from reaper_automix.analysis import pitch
        pitch.import_pesto()
        module = sys.modules["torchaudio"]
        assert not getattr(module, "__reaper_automix_stub__", False)
        assert module.load("x") == "real"
        print("OK")
        """,
        extra_path=working,
    )
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_a_missing_pesto_is_a_clear_error():
    result = run_python(
        BLOCK_TORCHAUDIO.replace('"torchaudio"', '"pesto"').replace('"torchaudio."', '"pesto."')
        + """
from reaper_automix.analysis import pitch
try:
    pitch.import_pesto()
except pitch.PitchUnavailableError as exc:
    assert "pip install --no-deps pesto-pitch" in str(exc), exc
    print("OK")
"""
    )
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_pitch_py_is_the_only_module_that_imports_pesto():
    importers = [
        path.relative_to(REPO).as_posix()
        for path in (REPO / "reaper_automix").rglob("*.py")
        if any(
            line.strip().startswith(("import pesto", "from pesto"))
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert importers == ["reaper_automix/analysis/pitch.py"]


def test_pitch_track_rejects_multichannel_input():
    with pytest.raises(ValueError, match="mono"):
        track_pitch(np.zeros((100, 2), dtype=np.float32), 16000)


def test_unvoiced_frames_skip_the_encoder_and_voiced_ones_keep_pestos_pitch():
    """track_pitch's step-by-step forward pass (with its faster encoder kernels) equals PESTO's
    own on every frame it encodes, to 1e-5 relative (0.02 cent)."""
    import torch

    from reaper_automix.analysis.pitch import import_pesto

    rate = 16000
    rng = np.random.default_rng(7)
    t = np.arange(3 * rate) / rate
    tone = sum(np.sin(2 * np.pi * 196 * k * t) / k for k in range(1, 6)) * 0.3
    noise = rng.standard_normal(t.size) * 0.3
    signal = np.where((t > 1.0) & (t < 2.0), noise, tone).astype(np.float32)  # voiced, noise, voiced
    with torch.inference_mode():
        f0, confidence, _ = import_pesto().load_model("mir-1k_g7", 20.0, sampling_rate=rate)(
            torch.from_numpy(signal), sr=rate, convert_to_freq=True, return_activations=False)
    everything = track_pitch(signal, rate, step_ms=20.0)
    np.testing.assert_allclose(everything.f0_hz, f0.double().numpy(), rtol=1e-5)
    np.testing.assert_array_equal(everything.confidence, confidence.double().numpy())

    voiced_only = track_pitch(signal, rate, step_ms=20.0, min_confidence=0.5)
    voiced = confidence.numpy() >= 0.5
    assert 10 < voiced.sum() < voiced.size - 10, "the signal must mix voiced and unvoiced frames"
    np.testing.assert_array_equal(voiced_only.confidence, everything.confidence)
    np.testing.assert_allclose(voiced_only.f0_hz[voiced], f0.double().numpy()[voiced], rtol=1e-5)
    assert np.isnan(voiced_only.f0_hz[~voiced]).all()
