"""Rebuild reaper_automix/generator/catalogue.json from the installed music21 corpus (minutes)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reaper_automix.generator.catalogue import write  # noqa: E402

if __name__ == "__main__":
    print(f"wrote {write()}")
