"""A copy of what a folder source shows, so the screen plays on when the folder goes away.

A folder source is often a USB stick or a mounted share. Played in place, unplugging the stick (or losing the share)
took the pictures and videos with it: the layout stayed, its media were gone. Now every file the document references
(media and the sample feeds' data files), and the document itself, is copied below
``cache_dir/folder-copy/<folder>/`` keeping the folder's relative paths, so the copy is itself a folder source:

- after each good load the referenced files are copied in the background (the screen starts at once from the
  folder; each reference switches to its copy as soon as the copy is complete); a file that changes while it is
  copied (still being written) is not trusted and is copied later (the player checks the files every 5 s:
  player/ui/runtime.py);
- the copy remembers the stamp (file_stamp: size, modification time, inode, ctime) of the file each copy was made
  from (STAMPS_FILE): a file with that stamp is not copied again. A file with the copy's size and time but another
  stamp (replaced by ``cp -p`` or ``rsync -t`` with one of the same size; or the same file with new inode numbers:
  a stick plugged in again, a copy made before the stamps were kept; or only a new ctime: chmod, chown, extended
  attributes) is compared with its copy, byte by byte, or by a sample from SAMPLED_ABOVE on (videos), and copied
  only when they differ (a stick plugged in again is read once, not copied again);
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

import errno
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from player.atomic import copy_file_atomic, open_regular, sweep_orphan_temps, write_json_atomic
from player.removal import Teller, remove_same_device
from player.sources.folder import (
    COPY_DIR,
    FOLDER_PDF_DIR,
    IN_USE_MARK_S,
    OTHER_FOLDERS_KEPT_S,
    SCREEN_FILE,
    FolderSource,
    Stamp,
    drop_unused_dirs,
    file_stamp,
    folder_name,
    mark_used,
)
from player.system.device import disk_room

if TYPE_CHECKING:
    from player.model import Screen

log = logging.getLogger(__name__)
_COPY = Teller(log, "folder copy")

__all__ = ["COPY_DIR", "IN_USE_MARK_S", "OTHER_COPIES_KEPT_S", "STAMPS_FILE", "FolderCopy", "Stamp", "copy_dir",
           "file_stamp", "mark_in_use", "referenced_files"]

OTHER_COPIES_KEPT_S = OTHER_FOLDERS_KEPT_S  # a copy of another folder not updated for this long is removed
STAMPS_FILE = ".osc-copied-from.json"  # in the copy: the stamp of the file each copy was made from
_STAMPS_VERSION = 1


def copy_dir(cache_dir: Path, folder: Path) -> Path:
    """Where the copy of *folder* lives: a readable name from its absolute path plus a checksum of it."""
    return Path(os.path.abspath(cache_dir)) / COPY_DIR / folder_name(folder)


def mark_in_use(cache_dir: Path, folder: Path) -> None:
    """Marks the copy of *folder* and its rendered PDF pages as in use (their time: now; a write a day at most),
    so that a player on another folder with the same cache does not take them for a copy nobody plays
    (_drop_other_copies, folder.py _drop_old_pages). A copy is also marked whenever it is updated, but a stick that
    stays unchanged, or a copy played while the stick is away, is not updated for weeks."""
    root = copy_dir(cache_dir, folder)
    mark_used(root)
    mark_used(Path(os.path.abspath(cache_dir)) / FOLDER_PDF_DIR / root.name)


def referenced_files(source: FolderSource, screen: Screen) -> dict[str, Path | None]:
    """Every file of the folder the document uses: its media and the sample feeds' data files (ref -> file)."""
    refs: set[str] = set(screen.media_refs())
    for options in screen.feeds.values():
        if options.get("type") == "sample" and isinstance(options.get("file"), str):
            refs.add(options["file"])
    return {ref: source.resolve(ref) for ref in sorted(refs)}


def _read_stamps(path: Path) -> dict[str, Stamp]:
    """The stamps kept in *path*; what cannot be read (no file: a copy made before they were kept; a damaged file,
    an entry of another form) is left out: those files are compared with their copies once."""
    import json

    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.info("%s: cannot be read (%s); the copied files are compared with the folder's once", path, exc)
        return {}
    files = data.get("files") if isinstance(data, dict) and data.get("version") == _STAMPS_VERSION else None
    if not isinstance(files, dict):
        return {}
    return {key: (value[0], value[1], value[2], value[3]) for key, value in files.items()
            if isinstance(value, list) and len(value) == 4 and all(type(v) is int for v in value)}


SAMPLED_ABOVE = 64 * 1024 * 1024  # files from this size on are compared with their copies by a sample (_same_bytes)
SAMPLE_EDGE = 1024 * 1024  # the sample: the first and the last megabyte,
SAMPLE_BLOCKS = 32  # and this many blocks spread evenly over the rest
SAMPLE_BLOCK = 256 * 1024


def _sample(size: int) -> list[tuple[int, int]]:
    """(offset, length) of what a sampled compare reads of a file of *size* bytes: the start first (where a real
    replacement differs at once: the container header), then the end (an MP4's index is at one or the other), then
    SAMPLE_BLOCKS blocks each in the middle of an equal part of the rest."""
    parts = [(0, SAMPLE_EDGE), (size - SAMPLE_EDGE, SAMPLE_EDGE)]
    rest = size - 2 * SAMPLE_EDGE
    for i in range(SAMPLE_BLOCKS):
        middle = SAMPLE_EDGE + rest * (2 * i + 1) // (2 * SAMPLE_BLOCKS)
        parts.append((middle - SAMPLE_BLOCK // 2, SAMPLE_BLOCK))
    return parts


def _same_bytes(a: Path, b: Path, stop: threading.Event) -> bool:
    """True when *a* and *b* hold the same bytes, read until the first difference; False when one cannot be read,
    the sizes differ or *stop* is set. Asked only for files of the same size and time whose stamp changed (a
    replacement by ``cp -p`` or ``rsync -t``, or only a new ctime: chmod, chown, a hard link, extended attributes).
    Files of SAMPLED_ABOVE bytes and more (videos) are compared by a sample, about 10 MB of each (_sample), not
    read in full: on a Pi a ``chmod -R`` on the share would otherwise read every video twice (docs/sync.md)."""
    try:
        with open_regular(a) as fa, open_regular(b) as fb:
            size = os.fstat(fa.fileno()).st_size
            if os.fstat(fb.fileno()).st_size != size:
                return False
            if size >= SAMPLED_ABOVE:
                for offset, length in _sample(size):
                    if stop.is_set():
                        return False
                    if os.pread(fa.fileno(), length, offset) != os.pread(fb.fileno(), length, offset):
                        return False
                return True
            while not stop.is_set():
                chunk = fa.read(1024 * 1024)
                if chunk != fb.read(1024 * 1024):
                    return False
                if not chunk:
                    return True
    except OSError:
        pass
    return False


class FolderCopy:
    def __init__(self, source: FolderSource, cache_dir: Path, quota_bytes: int) -> None:
        self.source = source
        self.root = copy_dir(cache_dir, source.root)
        self.quota_bytes = quota_bytes
        self.complete = False  # the last update() ended with the document copied and the rest removed
        self._stamps: dict[str, Stamp] | None = None  # relative path in the copy -> stamp of the file copied
        self._stamps_changed = False

    def source_of_copy(self) -> FolderSource | None:
        """The copy as a folder source, if a complete one exists."""
        if not (self.root / SCREEN_FILE).is_file():
            return None
        return FolderSource(self.root, timezone=self.source.timezone, templates_dir=self.source.templates_dir)

    def target(self, ref: str) -> Path | None:
        """Where *ref* is copied to; None for a reference that would leave the copy or stand in for its document
        (or its stamps)."""
        path = Path(os.path.normpath(self.root / ref))
        if (not path.is_relative_to(self.root) or path in (self.root, self.root / SCREEN_FILE)
                or path.is_relative_to(self.root / STAMPS_FILE)):
            return None
        return path

    def _copied_from(self) -> dict[str, Stamp]:
        if self._stamps is None:
            self._stamps = _read_stamps(self.root / STAMPS_FILE)
        return self._stamps

    def _key(self, target: Path) -> str:
        return target.relative_to(self.root).as_posix()

    def _remember(self, target: Path, stamp: Stamp) -> None:
        stamps = self._copied_from()
        if stamps.get(self._key(target)) != stamp:
            stamps[self._key(target)] = stamp
            self._stamps_changed = True

    def _save_stamps(self) -> None:
        if not self._stamps_changed or self._stamps is None:
            return
        try:
            data = {"version": _STAMPS_VERSION, "files": self._stamps}
            write_json_atomic(self.root / STAMPS_FILE, data, indent=None)
            self._stamps_changed = False
        except OSError as exc:  # lost: the files are compared with the folder's again next time
            log.debug("%s: cannot keep the stamps: %s", self.root, exc)

    def _matches(self, target: Path, now: Stamp | None) -> bool:
        """The copy at *target* was made from the file whose stamp is *now* (and is still there)."""
        have = file_stamp(target)
        return (now is not None and have is not None and have[:2] == now[:2]
                and self._copied_from().get(self._key(target)) == now)

    def _is_current(self, target: Path, path: Path, now: Stamp, stop: threading.Event) -> bool:
        """The copy at *target* holds what *path* (stamp *now*) holds: made from it, or, with the same size and time
        but another stamp (a replacement of the same size and time, new inode numbers after a remount, a copy
        without a kept stamp), the same bytes (then the new stamp is kept)."""
        if self._matches(target, now):
            return True
        have = file_stamp(target)
        if have is None or have[:2] != now[:2] or not _same_bytes(path, target, stop):
            return False
        if file_stamp(path) != now:  # changed while it was compared
            return False
        self._remember(target, now)
        return True

    def ready(self, files: Mapping[str, Path | None]) -> dict[str, Path]:
        """The references whose copy is complete and matches the folder's file now."""
        out: dict[str, Path] = {}
        for ref, path in files.items():
            target = self.target(ref) if path is not None else None
            if path is None or target is None:
                continue
            if self._matches(target, file_stamp(path)):
                out[ref] = target
        return out

    def update(self, files: Mapping[str, Path | None], copied: Callable[[str, Path], None],
               stop: threading.Event, document: Stamp | None = None, *, finish: bool = True) -> list[str]:
        """Copies what is missing or changed (calling ``copied(ref, path)`` for every reference whose copy is
        complete), then the document, then removes what is no longer needed. *document*: the stamp (file_stamp) of
        the ``screen.json`` that was loaded; when the file on disk is no longer that one, the copy stops before the
        document (the next load copies the new one). Returns the problems, at most one line; with a problem the
        previous document copy stays (with every file it references), unless the disk was short and making room
        for the new files could help. ``finish=False`` copies the files and stops there (no document, nothing
        removed)."""
        try:
            return self._update(files, copied, stop, document, finish)
        finally:
            self._save_stamps()

    def _update(self, files: Mapping[str, Path | None], copied: Callable[[str, Path], None],
                stop: threading.Event, document: Stamp | None, finish: bool) -> list[str]:
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
            if not self._is_current(target, path, now, stop):
                if stop.is_set():
                    return []
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
                self._remember(target, now)  # taken before the copy: a file replaced meanwhile is compared again
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
        doc_now = file_stamp(self.source.document_path)
        if doc_now is None or not self._is_current(self.root / SCREEN_FILE, self.source.document_path, doc_now, stop):
            if stop.is_set():
                return []
            try:
                copy_file_atomic(self.source.document_path, self.root / SCREEN_FILE)
            except OSError as exc:
                return [f"{self.source.document_path}: not copied ({exc.strerror or exc})"]
            if doc_now is not None:
                self._remember(self.root / SCREEN_FILE, doc_now)
        self._prune(keep | {self.root / SCREEN_FILE})
        kept = {self._key(path) for path in keep | {self.root / SCREEN_FILE}}
        stamps = self._copied_from()
        for key in [key for key in stamps if key not in kept]:
            del stamps[key]
            self._stamps_changed = True
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
                if path not in keep and path != self.root / STAMPS_FILE:
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
        if target.is_dir() and not target.is_symlink() and not remove_same_device(target, _COPY):
            raise OSError(errno.EBUSY, "a file system is mounted inside the old folder there", str(target))

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
        drop_unused_dirs(self.root.parent, self.root)
