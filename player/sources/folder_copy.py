"""A copy of what a folder source shows, so the screen plays on when the folder goes away.

A folder source is often a USB stick or a mounted share. Played in place, unplugging the stick (or losing the share)
took the pictures and videos with it: the layout stayed, its media were gone. Now every file the document references
(media and the sample feeds' data files), and the document itself, is copied below
``cache_dir/folder-copy/<folder>/`` keeping the folder's relative paths, so the copy is itself a folder source:

- after each good load the referenced files are copied in the background (the screen starts at once from the
  folder; each reference switches to its copy as soon as the copy is complete); a file whose size and modification
  time match its copy is not copied again; a file that changes while it is copied (still being written) is not
  trusted and is copied later (the player checks the files every 5 s: player/ui/runtime.py);
- the document is copied last, only when all its files are in and only if it is still the one that was loaded: a
  copy with a document is a complete state;
- files the document no longer references are then removed from the copy, and so are copies of other folders not
  in use for a week (a playing player marks its copy: mark_in_use);
- when the folder cannot be read at start (stick not plugged in, share not mounted) or its document is broken,
  the player shows the copy (player/ui/runtime.py);
- the copy is limited to ``cache.quota_mb`` and leaves the disk's last 5 % free; what does not fit plays from the
  folder as before. Problems are reported as one line per copy.

Every file is written atomically (temp file, fsync, rename). Disk I/O: call everything here off the GUI thread.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from player.atomic import copy_file_atomic, sweep_orphan_temps
from player.sources.folder import SCREEN_FILE, FolderSource
from player.system.device import disk_room

if TYPE_CHECKING:
    from player.model import Screen

log = logging.getLogger(__name__)

COPY_DIR = "folder-copy"
OTHER_COPIES_KEPT_S = 7 * 86400  # a copy of another folder not updated for this long is removed
IN_USE_MARK_S = 3600.0  # how often a player marks the copy it plays from as in use (see mark_in_use)


def copy_dir(cache_dir: Path, folder: Path) -> Path:
    """Where the copy of *folder* lives: a readable name from its absolute path plus a checksum of it."""
    absolute = os.path.abspath(folder)
    slug = re.sub(r"[^A-Za-z0-9]+", "_", absolute).strip("_")[-60:] or "root"
    name = f"{slug}-{zlib.crc32(absolute.encode('utf-8', 'surrogateescape')):08x}"
    return Path(os.path.abspath(cache_dir)) / COPY_DIR / name


def mark_in_use(cache_dir: Path, folder: Path) -> None:
    """Marks the copy of *folder* as in use (its time: now), so that a player on another folder with the same cache
    does not take it for a copy nobody plays (_drop_other_copies). A copy is also marked whenever it is updated,
    but a stick that stays unchanged, or a copy played while the stick is away, is not updated for weeks."""
    root = copy_dir(cache_dir, folder)
    with contextlib.suppress(OSError):
        if time.time() - root.stat().st_mtime > IN_USE_MARK_S * 24:  # a write a day at most (an SD card), a week kept
            os.utime(root)


def referenced_files(source: FolderSource, screen: Screen) -> dict[str, Path | None]:
    """Every file of the folder the document uses: its media and the sample feeds' data files (ref -> file)."""
    refs: set[str] = set(screen.media_refs())
    for options in screen.feeds.values():
        if options.get("type") == "sample" and isinstance(options.get("file"), str):
            refs.add(options["file"])
    return {ref: source.resolve(ref) for ref in sorted(refs)}


def file_stamp(path: Path) -> tuple[int, int] | None:
    """Size and modification time (ns) of *path*; None when it cannot be read (missing, EIO, a NUL in the name)."""
    try:
        st = path.stat()
    except (OSError, ValueError):
        return None
    return st.st_size, st.st_mtime_ns


class FolderCopy:
    def __init__(self, source: FolderSource, cache_dir: Path, quota_bytes: int) -> None:
        self.source = source
        self.root = copy_dir(cache_dir, source.root)
        self.quota_bytes = quota_bytes
        self.complete = False  # the last update() ended with the document copied and the rest removed

    def source_of_copy(self) -> FolderSource | None:
        """The copy as a folder source, if a complete one exists."""
        if not (self.root / SCREEN_FILE).is_file():
            return None
        return FolderSource(self.root, timezone=self.source.timezone, templates_dir=self.source.templates_dir)

    def target(self, ref: str) -> Path | None:
        """Where *ref* is copied to; None for a reference that would leave the copy or stand in for its document."""
        path = Path(os.path.normpath(self.root / ref))
        if not path.is_relative_to(self.root) or path in (self.root, self.root / SCREEN_FILE):
            return None
        return path

    def ready(self, files: Mapping[str, Path | None]) -> dict[str, Path]:
        """The references whose copy is complete and matches the folder's file now."""
        out: dict[str, Path] = {}
        for ref, path in files.items():
            target = self.target(ref) if path is not None else None
            if path is None or target is None:
                continue
            now = file_stamp(path)
            if now is not None and now == file_stamp(target):
                out[ref] = target
        return out

    def update(self, files: Mapping[str, Path | None], copied: Callable[[str, Path], None],
               stop: threading.Event, document: tuple[int, int] | None = None, *, finish: bool = True) -> list[str]:
        """Copies what is missing or changed (calling ``copied(ref, path)`` for every reference whose copy is
        complete), then the document, then removes what is no longer needed. *document*: the size and time of the
        ``screen.json`` that was loaded; when the file on disk is no longer that one, the copy stops before the
        document (the next load copies the new one). Returns the problems, at most one line; with a problem the
        previous document copy stays (with every file it references), unless the disk was short and making room
        for the new files could help. ``finish=False`` copies the files and stops there (no document, nothing
        removed)."""
        self.complete = False
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            os.utime(self.root)  # in use: not a copy of another folder to be removed (_drop_other_copies)
            sweep_orphan_temps(self.root)
        except OSError as exc:
            return [f"{self.root}: cannot keep a copy of the folder: {exc.strerror or exc}; playing from the folder"]
        targets = {ref: target for ref in files if (target := self.target(ref)) is not None}
        wanted = {target: path for ref, target in targets.items() if (path := files[ref]) is not None}
        # a file the document names that cannot be read now (deleted, or a failing stick: EIO): its copy stays
        keep = set(targets.values())
        used = sum(size for target in wanted if (size := (file_stamp(target) or (0, 0))[0]))
        refused: list[str] = []
        room_made = False
        freeable: int | None = None  # bytes of what is about to go, counted when first needed
        for target, path in sorted(wanted.items()):
            if stop.is_set() or (document is not None and file_stamp(self.source.document_path) != document):
                return []  # stopping, or a new document: its load copies what it needs
            have, now = file_stamp(target), file_stamp(path)
            if now is None:  # gone since the load: the folder is going away, or the file was removed
                if self._folder_gone():
                    return [f"{self.source.root}: the folder went away while it was copied; what is copied plays on"]
                refused.append(path.name)
                continue
            if now != have:
                need = now[0] - (have[0] if have else 0)
                if used + need > self.quota_bytes:  # files about to be removed are not counted: no room to make
                    refused.append(f"{path.name} ({now[0] / 1e6:.1f} MB do not fit into cache.quota_mb)")
                    continue
                if finish and not room_made and not self._disk_has(now[0]):
                    if freeable is None:
                        freeable = sum(size for _path, size in self._unused(keep))
                    if self._disk_has(now[0], freeable):
                        self._make_room(keep)  # the disk is short and what is about to go makes it fit
                        room_made = True
                if not self._disk_has(now[0]):
                    refused.append(f"{path.name} ({now[0] / 1e6:.1f} MB do not fit on the disk)")
                    continue
                try:
                    self._clear_way(target, wanted)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    sweep_orphan_temps(target.parent)
                    copy_file_atomic(path, target)
                except OSError as exc:
                    read = exc.filename is not None and os.fspath(exc.filename) == os.fspath(path)
                    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES) and not read:
                        return [f"{target.parent}: {exc.strerror}; {path.name} and what follows play from the folder"]
                    if self._folder_gone():
                        return [f"{self.source.root}: the folder went away while it was copied; what is copied "
                                "plays on"]
                    refused.append(f"{path.name} ({exc.strerror or exc})")
                    continue
                used += need
            for ref, t in targets.items():  # every spelling of this file (``a.png``, ``./a.png``)
                if t == target and files[ref] is not None:
                    copied(ref, target)
        if refused:
            return [f"{self.source.root}: not copied: {', '.join(refused[:5])}"
                    + (f" and {len(refused) - 5} more" if len(refused) > 5 else "")
                    + "; they play from the folder while it is there"]
        if not finish or (document is not None and file_stamp(self.source.document_path) != document):
            return []
        if file_stamp(self.source.document_path) != file_stamp(self.root / SCREEN_FILE):
            try:
                copy_file_atomic(self.source.document_path, self.root / SCREEN_FILE)
            except OSError as exc:
                return [f"{self.source.document_path}: not copied ({exc.strerror or exc})"]
        self._prune(keep | {self.root / SCREEN_FILE})
        self._drop_other_copies()
        self.complete = True
        return []

    def _folder_gone(self) -> bool:
        # os.path, not Path.is_dir: a dead share answers ENOTCONN or EIO, which Path.is_dir raises on 3.11
        return not os.path.isdir(self.source.root) or file_stamp(self.source.document_path) is None

    def _disk_has(self, size: int, freeable: int = 0) -> bool:
        room = disk_room(self.root)
        return room is not None and size - freeable <= room[0]

    def _unused(self, keep: set[Path]) -> Iterator[tuple[Path, int]]:
        """The files in the copy not in *keep* (what making room can give back, what pruning removes), with their
        sizes; deepest folders first, so a folder is emptied before it is met again."""
        for dirpath, _dirs, names in os.walk(self.root, topdown=False):
            for name in names:
                path = Path(os.path.normpath(Path(dirpath) / name))
                if path not in keep:
                    yield path, (file_stamp(path) or (0, 0))[0]

    def _make_room(self, keep: Iterable[Path]) -> None:
        """Space is short: the old document copy goes first (its files are about to go), then what no longer counts.
        Until this update completes there is no complete copy to fall back on."""
        try:
            (self.root / SCREEN_FILE).unlink(missing_ok=True)
        except OSError as exc:
            log.debug("%s: cannot remove the old document copy: %s", self.root, exc)
        self._prune(set(keep))

    def _clear_way(self, target: Path, wanted: Mapping[Path, Path]) -> None:
        """An old file where the new one needs a folder (or an old folder where it needs a file) goes."""
        for parent in target.relative_to(self.root).parents:
            at = self.root / parent
            if at != self.root and at.is_file() and at not in wanted:
                at.unlink()
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)

    def _prune(self, keep: set[Path]) -> None:
        for path, _size in list(self._unused(keep)):
            try:
                path.unlink()
            except OSError as exc:
                log.debug("%s: cannot remove from the folder copy: %s", path, exc)
        for dirpath, dirs, _names in os.walk(self.root, topdown=False):
            for name in dirs:
                try:
                    (Path(dirpath) / name).rmdir()  # only when empty
                except OSError:
                    pass

    def _drop_other_copies(self) -> None:
        """Copies of folders not played for OTHER_COPIES_KEPT_S (another stick, another path) are removed; a
        younger one may belong to a player started on another folder with the same cache."""
        try:
            others = [entry for entry in os.scandir(self.root.parent) if entry.path != str(self.root)]
        except OSError:
            return
        now = time.time()
        for entry in others:
            try:
                if entry.is_dir(follow_symlinks=False) and now - entry.stat().st_mtime > OTHER_COPIES_KEPT_S:
                    shutil.rmtree(entry.path, ignore_errors=True)
            except OSError:
                continue
