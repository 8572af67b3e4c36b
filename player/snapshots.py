"""Published snapshots: the complete, verified content a screen shows (document + files by hash).

On disk under ``root/snapshots/``::

    <id>.json     one snapshot each, written atomically
    current       id of the latest published snapshot (what boot loads), replaced atomically
    on_screen     id of the snapshot the UI last confirmed showing, replaced atomically

Release protocol for sync (the previous content is released only after the new one is on screen)::

    cache.pin(snapshot_pin(new.id), new.files.values())   # before downloading
    ... download and verify everything ...
    store.save(new)                                        # publish: `current` now points at it
    ... UI shows it, then calls ...
    released = store.mark_on_screen(new.id)                # deletes snapshots no longer needed
    for sid in released: cache.unpin(snapshot_pin(sid))

At start, ``store.retained_ids()`` tells which ``snapshot:*`` pin sets are still needed (others can be unpinned).
No Qt in here.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from player.atomic import fsync_dir, sweep_orphan_temps, write_json_atomic, write_text_atomic
from player.cache import is_sha256

log = logging.getLogger(__name__)

__all__ = ["Snapshot", "SnapshotError", "SnapshotStore", "snapshot_pin"]

FORMAT = 1
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class SnapshotError(ValueError):
    """A snapshot is malformed (bad id, naive timestamp, non-hash file reference...)."""


def snapshot_pin(snapshot_id: str) -> str:
    """Name of the ContentCache pin set holding a snapshot's files."""
    return f"snapshot:{snapshot_id}"


@dataclass(frozen=True)
class Snapshot:
    id: str
    created: datetime
    document: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID_RE.fullmatch(self.id):
            raise SnapshotError(f"invalid snapshot id {self.id!r} (letters, digits, '.', '_', '-'; max 100)")
        if self.created.tzinfo is None or self.created.utcoffset() is None:
            raise SnapshotError(f"snapshot {self.id}: 'created' must be timezone-aware")
        if not isinstance(self.document, dict):
            raise SnapshotError(f"snapshot {self.id}: 'document' must be a JSON object")
        for ref, sha in self.files.items():
            if not isinstance(ref, str) or not is_sha256(sha):
                raise SnapshotError(f"snapshot {self.id}: file {ref!r} has no valid SHA-256 ({sha!r})")

    @classmethod
    def new(
        cls,
        document: dict[str, Any],
        files: Mapping[str, str],
        source: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> Snapshot:
        """A snapshot with a fresh, time-sortable id like ``20250101T120000Z-3fa2b1``."""
        created = clock().astimezone(UTC)
        sid = f"{created:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
        return cls(sid, created, document, {k: v.lower() for k, v in files.items()}, source)

    @property
    def shas(self) -> set[str]:
        return set(self.files.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "id": self.id,
            "created": self.created.astimezone(UTC).isoformat(),
            "source": self.source,
            "files": dict(self.files),
            "document": self.document,
        }

    @classmethod
    def from_json(cls, data: Any) -> Snapshot:
        if not isinstance(data, dict):
            raise SnapshotError("snapshot file is not a JSON object")
        if data.get("format") != FORMAT:
            raise SnapshotError(f"unsupported snapshot format {data.get('format')!r}")
        try:
            created = datetime.fromisoformat(data["created"])
            files = data["files"]
            if not isinstance(files, dict):
                raise SnapshotError("'files' must be an object")
            return cls(str(data["id"]), created, data["document"], dict(files), str(data.get("source", "")))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, SnapshotError):
                raise
            raise SnapshotError(f"malformed snapshot ({type(exc).__name__}: {exc})") from None


class SnapshotStore:
    """Durable store of published snapshots; keeps ``current``, ``on_screen`` and at least the last ``keep``."""

    def __init__(self, root: str | os.PathLike[str], keep: int = 2) -> None:
        self.dir = Path(root) / "snapshots"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.keep = max(1, keep)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ paths and pointers

    def _path(self, snapshot_id: str) -> Path:
        if not _ID_RE.fullmatch(snapshot_id):
            raise SnapshotError(f"invalid snapshot id {snapshot_id!r}")
        return self.dir / f"{snapshot_id}.json"

    def _read_pointer(self, name: str) -> str | None:
        try:
            value = (self.dir / name).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("snapshots: pointer %s unreadable (%s); ignored", self.dir / name, exc)
            return None
        if not _ID_RE.fullmatch(value):
            log.warning("snapshots: pointer %s holds no valid id; ignored", self.dir / name)
            return None
        return value

    def current_id(self) -> str | None:
        return self._read_pointer("current")

    def on_screen_id(self) -> str | None:
        return self._read_pointer("on_screen")

    # ------------------------------------------------------------------ read

    def load(self, snapshot_id: str) -> Snapshot | None:
        """The snapshot with this id, or None when it is missing or corrupt (logged in one line)."""
        path = self._path(snapshot_id)
        try:
            snap = Snapshot.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("snapshots: %s is corrupt or incomplete (%s); ignored", path, _one_line(exc))
            return None
        if snap.id != snapshot_id:
            log.warning("snapshots: %s contains id %r; ignored", path, snap.id)
            return None
        return snap

    def ids(self) -> list[str]:
        """Ids of all snapshot files on disk (unvalidated), oldest first by id."""
        return sorted(p.stem for p in self.dir.glob("*.json") if _ID_RE.fullmatch(p.stem))

    def load_all(self) -> list[Snapshot]:
        """All readable snapshots, oldest first by creation time."""
        snaps = [s for s in (self.load(i) for i in self.ids()) if s is not None]
        return sorted(snaps, key=lambda s: (s.created, s.id))

    def load_current(self) -> Snapshot | None:
        """The published snapshot; falls back to the newest readable one when it is missing or corrupt."""
        with self._lock:
            cid = self.current_id()
            if cid is not None:
                snap = self.load(cid)
                if snap is not None:
                    return snap
            fallback = self.load_all()
            if not fallback:
                return None
            snap = fallback[-1]
            if cid is not None:
                log.warning("snapshots: current snapshot %s unusable, falling back to %s", cid, snap.id)
            return snap

    # ------------------------------------------------------------------ write

    def save(self, snapshot: Snapshot) -> list[str]:
        """Write the snapshot, then atomically make it ``current``.

        Prunes snapshots no longer retained (never the one on screen) and returns their ids: unpin those.
        """
        with self._lock:
            write_json_atomic(self._path(snapshot.id), snapshot.to_json())
            write_text_atomic(self.dir / "current", snapshot.id + "\n")
            log.info("snapshots: published %s (%d files, from %s)", snapshot.id, len(snapshot.files), snapshot.source)
            return self.prune()

    def mark_on_screen(self, snapshot_id: str) -> list[str]:
        """Record that the UI shows *snapshot_id*; prune and return the ids released (unpin their files)."""
        with self._lock:
            if not self._path(snapshot_id).exists():
                raise SnapshotError(f"unknown snapshot {snapshot_id!r}")
            if self.on_screen_id() != snapshot_id:  # no rewrite in steady state
                write_text_atomic(self.dir / "on_screen", snapshot_id + "\n")
            return self.prune()

    def retained_ids(self) -> set[str]:
        """Ids that must keep their files: current, on_screen and the newest ``keep`` readable snapshots."""
        with self._lock:
            keep: set[str] = {i for i in (self.current_id(), self.on_screen_id()) if i is not None}
            newest = [s.id for s in self.load_all()][-self.keep:]
            for sid in reversed(newest):
                if len(keep) >= self.keep:
                    break
                keep.add(sid)
            return keep

    def prune(self) -> list[str]:
        """Delete snapshots not in :meth:`retained_ids` (and unreadable ones); returns the deleted ids.

        Never deletes the one on screen: a newer ``current`` that has not been shown yet does not release it.
        """
        with self._lock:
            keep = self.retained_ids()
            removed: list[str] = []
            for sid in self.ids():
                if sid not in keep:
                    self._path(sid).unlink(missing_ok=True)
                    removed.append(sid)
            sweep_orphan_temps(self.dir)  # only temp files whose writer is gone: another process may be writing
            if removed:
                fsync_dir(self.dir)
                log.info("snapshots: released %s", ", ".join(removed))
            return removed


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]
