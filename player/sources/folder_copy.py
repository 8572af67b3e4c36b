"""A copy of what a folder source shows, so the screen plays on when the folder goes away.

A folder source is often a USB stick or a mounted share. Played in place, unplugging the stick (or losing the share)
took the pictures and videos with it: the layout stayed, its media were gone. Now every file the document references,
and the document itself, is copied below ``cache_dir/folder-copy/<folder>/`` keeping the folder's relative paths, so
the copy is itself a folder source:

- after each good load the referenced files are copied in the background (the screen starts at once from the
  folder; each reference switches to its copy as soon as the copy is complete); a file whose size and modification
  time match its copy is not copied again;
- the document is copied last, only when all its files are in: the copy is always a complete, playable state;
- files the document no longer references are then removed from the copy;
- when the folder cannot be read at start (stick not plugged in, share not mounted), the player shows the copy;
- the copy is limited to ``cache.quota_mb`` and leaves the disk's last 5 % free; what does not fit plays from the
  folder as before, with one log line.

Every file is written atomically (temp file, fsync, rename). Disk I/O: call everything here off the GUI thread.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path

from player.atomic import copy_file_atomic, sweep_orphan_temps
from player.sources.folder import SCREEN_FILE, FolderSource

log = logging.getLogger(__name__)

COPY_DIR = "folder-copy"
FREE_RESERVE = 0.05  # share of the disk the copy leaves free


def copy_dir(cache_dir: Path, folder: Path) -> Path:
    """Where the copy of *folder* lives: a readable name from its absolute path plus a checksum of it."""
    absolute = os.path.abspath(folder)
    slug = re.sub(r"[^A-Za-z0-9]+", "_", absolute).strip("_")[-60:] or "root"
    return cache_dir / COPY_DIR / f"{slug}-{zlib.crc32(absolute.encode('utf-8', 'surrogateescape')):08x}"


def _same(src: os.stat_result, copy: Path) -> bool:
    try:
        st = copy.stat()
    except OSError:
        return False
    return st.st_size == src.st_size and st.st_mtime_ns == src.st_mtime_ns


class FolderCopy:
    def __init__(self, source: FolderSource, cache_dir: Path, quota_bytes: int) -> None:
        self.source = source
        self.root = copy_dir(cache_dir, source.root)
        self.quota_bytes = quota_bytes

    def source_of_copy(self) -> FolderSource | None:
        """The copy as a folder source, if a complete one exists."""
        if not (self.root / SCREEN_FILE).is_file():
            return None
        return FolderSource(self.root, timezone=self.source.timezone, templates_dir=self.source.templates_dir)

    def target(self, ref: str) -> Path | None:
        """Where *ref* is copied to; None for a reference that would leave the copy (never made by a valid folder)."""
        path = Path(os.path.normpath(self.root / ref))
        return path if path.is_relative_to(self.root) and path != self.root else None

    def ready(self, files: Mapping[str, Path | None]) -> dict[str, Path]:
        """The references whose copy is complete and matches the folder's file now."""
        out: dict[str, Path] = {}
        for ref, path in files.items():
            target = self.target(ref) if path is not None else None
            if path is None or target is None:
                continue
            try:
                if _same(path.stat(), target):
                    out[ref] = target
            except OSError:
                continue
        return out

    def update(self, files: Mapping[str, Path | None], copied: Callable[[str, Path], None],
               stop: threading.Event) -> list[str]:
        """Copies what is missing or changed (calling ``copied(ref, path)`` after each), then the document, then
        removes what is no longer referenced. Returns one line per problem; with problems the previous document
        copy stays (with every file it references)."""
        problems: list[str] = []
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            sweep_orphan_temps(self.root)
        except OSError as exc:
            return [f"{self.root}: cannot keep a copy of the folder: {exc.strerror or exc}; playing from the folder"]
        wanted = {ref: path for ref, path in files.items() if path is not None}
        used = self._bytes()
        for ref, path in sorted(wanted.items()):
            if stop.is_set():
                return problems
            target = self.target(ref)
            if target is None:
                continue
            try:
                st = path.stat()
                if _same(st, target):
                    continue
                if not self._fits(st.st_size, used):
                    problems.append(f"{path}: not copied ({st.st_size // 1_000_000} MB do not fit into "
                                    f"{self.root.parent}); it plays from the folder while the folder is there")
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                sweep_orphan_temps(target.parent)
                copy_file_atomic(path, target)
                used += st.st_size
            except OSError as exc:
                problems.append(f"{path}: not copied ({exc.strerror or exc}); it plays from the folder while the "
                                "folder is there")
                continue
            copied(ref, target)
        if problems:
            return problems
        try:
            copy_file_atomic(self.source.document_path, self.root / SCREEN_FILE)
        except OSError as exc:
            return [f"{self.source.document_path}: not copied ({exc.strerror or exc})"]
        self._prune({self.target(ref) for ref in wanted} | {self.root / SCREEN_FILE})
        return []

    def _bytes(self) -> int:
        total = 0
        for dirpath, _dirs, names in os.walk(self.root):
            for name in names:
                try:
                    total += os.stat(os.path.join(dirpath, name)).st_size
                except OSError:
                    continue
        return total

    def _fits(self, size: int, used: int) -> bool:
        if used + size > self.quota_bytes:
            return False
        usage = shutil.disk_usage(self.root)
        return usage.free - size >= usage.total * FREE_RESERVE

    def _prune(self, keep: set[Path | None]) -> None:
        for dirpath, dirs, names in os.walk(self.root, topdown=False):
            for name in names:
                path = Path(os.path.normpath(Path(dirpath) / name))
                if path not in keep:
                    path.unlink(missing_ok=True)
            for name in dirs:
                try:
                    (Path(dirpath) / name).rmdir()  # only when empty
                except OSError:
                    pass
