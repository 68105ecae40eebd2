"""``reaper-automix inspect PROJECT``: the folder tree with faders, pans, items and FX."""

from __future__ import annotations

import argparse
import json
import math

from rich.console import Console
from rich.tree import Tree

from ..hosts.rpp import open_project
from ..session import Project, Track
from . import SUMMARIES


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help=SUMMARIES["inspect"],
        description="Show the folder tree of an .RPP project or .RTrackTemplate: depth, fader "
        "dB, pan, item count and FX of every track.",
    )
    parser.add_argument("project", help="path to an .RPP or .RTrackTemplate file")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a tree")
    parser.set_defaults(run=run)


def track_record(track: Track) -> dict:
    return {
        "index": track.index,
        "name": track.name,
        "guid": track.guid,
        "folder_depth": track.folder_depth,
        "depth": track.depth,
        "parent": track.parent.guid if track.parent else None,
        "is_folder": track.is_folder,
        "volume_db": _json_db(track.volume_db),
        "pan": track.pan,
        "mute": track.mute,
        "solo": track.solo,
        "n_items": len(track.items),
        "fx": [fx.name for fx in track.fx],
        "fx_bypassed": [fx.bypassed for fx in track.fx],
    }


def project_record(project: Project) -> dict:
    return {
        "path": str(project.path),
        "sample_rate": project.sample_rate,
        "tempo": project.tempo,
        "is_template": project.is_template,
        "length": project.length,
        "tracks": [track_record(t) for t in project.tracks],
    }


def _json_db(value: float) -> float | None:
    return None if math.isinf(value) else round(value, 4)


def _label(track: Track) -> str:
    db = "-inf" if math.isinf(track.volume_db) else f"{track.volume_db:+.2f}"
    kind = "[bold cyan]folder[/bold cyan] " if track.is_folder else ""
    fx = ", ".join(f"{f.name}{' (bypassed)' if f.bypassed else ''}" for f in track.fx)
    flags = " [red]muted[/red]" if track.mute else ""
    return (
        f"{kind}[bold]{track.display_name}[/bold]{flags}  depth {track.depth}  {db} dB  "
        f"pan {track.pan:+.2f}  items {len(track.items)}" + (f"  FX: {fx}" if fx else "")
    )


def run(args: argparse.Namespace) -> int:
    project = open_project(args.project)
    if args.json:
        print(json.dumps(project_record(project), indent=2, ensure_ascii=False))
        return 0
    root = Tree(
        f"[bold]{project.path.name}[/bold]  {project.sample_rate} Hz  {project.tempo:g} BPM  "
        f"{len(project.tracks)} tracks, {len(project.folders)} folders"
    )
    branches: dict[int, Tree] = {}
    for track in project.tracks:
        parent = branches[id(track.parent)] if track.parent is not None else root
        branches[id(track)] = parent.add(_label(track))
    Console().print(root)
    return 0
