"""A snapshot of the live project for the worker: every track's state chunk, as a track template.

``GetTrackStateChunk`` returns the same RPP text that REAPER saves in a project file, unsaved
edits included. Concatenated in project order, the chunks form an ``.RTrackTemplate`` that the
.RPP host reads like any file, so the worker renders exactly what the headless path renders for
the saved project. Standard library only: this runs inside REAPER.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .api import ChunkTooLargeError, ReaperApi

TEMPLATE_NAME = "snapshot.RTrackTemplate"


class SnapshotError(ValueError):
    """The project cannot be captured (the message says why and what to do)."""


@dataclass(frozen=True)
class Snapshot:
    template: Path  # the track template written
    project_dir: Path | None  # folder of the .rpp, for relative media paths (None: never saved)
    sample_rate: int | None  # the project's setting; None: the worker's default rule
    n_tracks: int

    def request_fields(self) -> dict[str, object]:
        """The fields every worker job request takes from the snapshot."""
        return {
            "project": str(self.template),
            "project_dir": str(self.project_dir) if self.project_dir else None,
            "sample_rate": self.sample_rate,
        }


def take_snapshot(api: ReaperApi, proj: str, directory: Path) -> Snapshot:
    """Write every track of ``proj`` to ``directory/snapshot.RTrackTemplate``.

    All tracks are taken, not only the folders to work on: the project length (the end of the
    last item anywhere) sets the length of every render, exactly as in the headless path.
    """
    chunks = []
    tracks = api.tracks(proj)
    if not tracks:
        raise SnapshotError("the project has no tracks")
    for index, track in enumerate(tracks):
        try:
            chunk = api.track_chunk(track)
        except ChunkTooLargeError as exc:
            name = api.track_string(track, "P_NAME") or f"Track {index + 1}"
            raise SnapshotError(
                f"track {index + 1} ({name!r}): {exc}. Its state (plug-in data, MIDI or many "
                "items) is too large to read from a script. Save the project and run "
                "`reaper-automix balance PROJECT.RPP` in a terminal instead."
            ) from exc
        chunks.append(chunk if chunk.endswith("\n") else chunk + "\n")
    template = directory / TEMPLATE_NAME
    template.write_text("".join(chunks), encoding="utf-8", errors="surrogateescape")
    path = api.project_file(proj)
    return Snapshot(
        template=template,
        project_dir=Path(path).parent if path else None,
        sample_rate=api.project_sample_rate(proj) or None,
        n_tracks=len(tracks),
    )
