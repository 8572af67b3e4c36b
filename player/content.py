"""What the UI needs to show a screen, with no heavy imports: a folder source uses these without loading the sync
machinery (HTTP client, cache index), which a player showing a folder never needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from player.model import Screen

if TYPE_CHECKING:
    from player.snapshots import Snapshot


class MediaResolver:
    """ref -> local file, precomputed off the GUI thread (calling it does no I/O). ``snapshot_id`` names the
    snapshot it belongs to (None for a folder source)."""

    def __init__(self, paths: Mapping[str, Path | None], snapshot_id: str | None = None) -> None:
        self.paths = dict(paths)
        self.snapshot_id = snapshot_id
        # folder sources: where the sample feeds read their files (several: tried in order, the stick then its copy)
        self.content_dir: Path | list[Path] | None = None

    def __call__(self, ref: str) -> Path | None:
        return self.paths.get(ref)

    def __repr__(self) -> str:
        return f"MediaResolver({len(self.paths)} files, snapshot={self.snapshot_id})"


@dataclass
class Content:
    """What the UI needs to show a snapshot: the model and ref -> local file (no I/O when called)."""

    screen: Screen
    resolver: MediaResolver
    snapshot: Snapshot | None = None
    defects: list[str] = field(default_factory=list)
