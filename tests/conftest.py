"""Shared fixtures: the real REAPER files in ../shared (read in place, never copied)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures" / "rpp"


@pytest.fixture
def rpp_fixtures() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"real REAPER fixtures not found at {FIXTURES} (../shared is absent)")
    return FIXTURES


def fixture_path(name: str) -> Path:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"fixture {path} not found (../shared is absent)")
    return path


@pytest.fixture(scope="session")
def demo_session(tmp_path_factory: pytest.TempPathFactory):
    """The demo session (stems, project, reference), built once per test process; read-only."""
    from reaper_automix.demo import build_demo

    return build_demo(tmp_path_factory.mktemp("demo-session"))
