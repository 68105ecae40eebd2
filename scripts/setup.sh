#!/usr/bin/env bash
# Creates .venv with everything reaper-automix and its tests need, system packages included.
# Safe to run again: every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

# iem-plugin-suite-vst: golden tests; chromium + chromium-driver: the report's browser test;
# fluid-soundfont-gm, hydrogen-drumkits, klettres-data, lmms: the session generator's sources
SYSTEM_PACKAGES=(iem-plugin-suite-vst chromium chromium-driver fluid-soundfont-gm hydrogen-drumkits
                 klettres-data lmms lmms-common)
missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "==> apt-get install ${missing[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $PYTHON"
    "$PYTHON" -m venv .venv
fi
PIP=".venv/bin/python -m pip --disable-pip-version-check -q"
# torch is pinned to the CPU wheel (an unpinned one pulls CUDA). pesto-pitch and tinysoundfont go
# in with --no-deps: pesto-pitch requires torchaudio, which fails to load beside CPU torch and is
# not needed (see docs/analysis.md); tinysoundfont declares pyaudio, which does not build here.
$PIP install "torch==2.13.0"
$PIP install --no-deps "pesto-pitch==2.0.1" "tinysoundfont==0.3.7"
$PIP install -e ".[dev]"
if .venv/bin/python -m pip list 2>/dev/null | grep -iE '^nvidia-|^torchaudio ' ; then
    echo "error: a CUDA package or torchaudio was installed; see the comments in scripts/setup.sh" >&2
    exit 1
fi
echo "==> environment ready: .venv"
