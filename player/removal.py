"""Removing a directory tree without leaving its file system: mount points (another device, or a bind mount of
the same one) and what holds them stay, links are never followed, the walk is iterative and bounded in depth.

Used by the cache (tmp/ and its checks at start) and by the folder source for the directories it owns (its copy of a
stick, rendered PDF pages). shutil.rmtree descends into a mount point and empties the other file system before its
final rmdir fails with EBUSY. No heavy imports: the folder source loads this without the cache's SQLite or hashlib.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import stat
import threading
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger(__name__)

_mounts_logged: set[tuple[int, int, str]] = set()
_mounts_logged_lock = threading.Lock()


_MAX_DEPTH = 128  # levels below a directory being removed; deeper entries stay (logged once)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Teller(NamedTuple):
    """Whose removal it is: the logger and the word its lines start with (``cache: not removing ...``)."""

    log: logging.Logger
    tag: str


_OWN = Teller(log, "removal")


def _log_kept(path: str, st: os.stat_result, why: str, who: Teller) -> None:
    """One warning per kept entry (by device, inode and path) for the life of the process, not one per sweep."""
    key = (st.st_dev, st.st_ino, path)
    with _mounts_logged_lock:
        if key in _mounts_logged:
            return
        if len(_mounts_logged) > 1000:
            _mounts_logged.clear()
        _mounts_logged.add(key)
    who.log.warning("%s: not removing %s: %s", who.tag, path, why)


def _log_mount_kept(path: str, st: os.stat_result, who: Teller) -> None:
    _log_kept(path, st, "a file system or a bind mount is mounted there (it and the directories holding it stay; "
                        f"unmount it to let the {who.tag} clean up)", who)


def remove_same_device(path: Path, who: Teller = _OWN) -> bool:
    """Remove *path* (a file, a link, a FIFO: the entry itself; a directory: with its content) without ever leaving
    the file system of the directory holding it: an entry on another device (a mount point: a USB stick, a tmpfs,
    mounted in there by some tool) is skipped with one warning, and the directories holding it stay. Links are
    never followed, in the tree or at *path* (the walk goes by descriptors opened with O_NOFOLLOW). Unlike
    shutil.rmtree, which descends into a mount point and empties the other file system before its final rmdir
    fails with EBUSY. The walk is iterative (no recursion, whatever the depth), holds at most three descriptors,
    and goes at most ``_MAX_DEPTH`` levels down: deeper directories stay, with one warning. True when *path* is
    gone (or was missing), False when something was kept; raises OSError when a removal fails (EACCES, a
    read-only disk) or the tree is moved while being removed. *who* names the caller in the warning about what
    stays (its logger, and the word the line starts with)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    if not stat.S_ISDIR(st.st_mode):
        path.unlink(missing_ok=True)
        return True
    mounts = _mount_points_under(path)
    parent_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return _remove_dir_at(parent_fd, path.name, os.fstat(parent_fd).st_dev, str(path), mounts, who)
    finally:
        os.close(parent_fd)


def _unescape_mountinfo(field: bytes) -> str:
    """A path of /proc/self/mountinfo: space, tab, newline and backslash are written as octal escapes (``\\040``)."""
    return os.fsdecode(re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8) & 0xFF]), field))


def _mount_points_under(path: Path) -> frozenset[tuple[int, int]]:
    """(device, inode) of what is mounted at or below *path* (from /proc/self/mountinfo, field 5 the mount point),
    as seen through the mount point. A bind mount from the same file system has the device of the directory
    holding it, so the device check alone cannot see it (and old shutil.rmtree emptied it): the walk keeps these
    too. Empty when mountinfo cannot be read (no /proc): the device check still holds."""
    try:
        with open("/proc/self/mountinfo", "rb") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return frozenset()
    top = os.path.realpath(path)
    found: set[tuple[int, int]] = set()
    for line in lines:
        fields = line.split(b" ")
        if len(fields) < 5:
            continue
        point = _unescape_mountinfo(fields[4])
        if point != top and not point.startswith(top.rstrip("/") + "/"):
            continue
        try:
            st = os.stat(point, follow_symlinks=False)
        except OSError:  # gone, or hidden by a mount above it
            continue
        found.add((st.st_dev, st.st_ino))
    return frozenset(found)


class _Frame:
    """One directory on the walk's path: its name in its parent, its inode (to check the way back up through
    ``..``), whether all of it went so far, and the subdirectories still to remove."""

    __slots__ = ("name", "ino", "clean", "subdirs")

    def __init__(self, name: str, ino: int) -> None:
        self.name = name
        self.ino = ino
        self.clean = True
        self.subdirs: list[str] = []


def _open_dir_at(parent_fd: int, name: str) -> int | None:
    """A descriptor of directory *name* of *parent_fd*; None when it is gone or no longer a directory (a link or a
    file put there meanwhile: the entry itself is unlinked)."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=parent_fd)
        return None


def _remove_dir_at(parent_fd: int, name: str, dev: int, shown: str,
                   mounts: frozenset[tuple[int, int]] = frozenset(), who: Teller = _OWN) -> bool:
    """Remove directory *name* of *parent_fd* with its content on device *dev* (see :func:`remove_same_device`).

    Depth first, one directory descriptor at a time: going down opens the child (O_NOFOLLOW) and closes the
    parent; going up opens ``..`` and checks it is the directory we came from (same inode), else OSError (the tree
    was moved meanwhile: nothing outside it is touched). An entry whose (device, inode) is in *mounts* (see
    :func:`_mount_points_under`) is a mount point like one on another device: it stays."""
    fd = _open_dir_at(parent_fd, name)
    if fd is None:
        return True
    st = os.fstat(fd)
    if st.st_dev != dev or (st.st_dev, st.st_ino) in mounts:
        os.close(fd)
        _log_mount_kept(shown, st, who)
        return False
    stack = [_Frame(name, st.st_ino)]
    names = [shown]
    try:
        _scan(fd, stack[-1], dev, names[-1], mounts, who)
        while True:
            top = stack[-1]
            if top.subdirs:
                child = top.subdirs.pop()
                cfd = _open_dir_at(fd, child)
                if cfd is None:
                    continue
                cst = os.fstat(cfd)
                cshown = f"{names[-1]}/{child}"
                if cst.st_dev != dev or (cst.st_dev, cst.st_ino) in mounts:
                    os.close(cfd)
                    _log_mount_kept(cshown, cst, who)
                    top.clean = False
                    continue
                if len(stack) > _MAX_DEPTH:
                    os.close(cfd)
                    _log_kept(cshown, cst, f"more than {_MAX_DEPTH} directory levels deep (it and the directories "
                                           "holding it stay)", who)
                    top.clean = False
                    continue
                os.close(fd)
                fd = cfd
                stack.append(_Frame(child, cst.st_ino))
                names.append(cshown)
                _scan(fd, stack[-1], dev, cshown, mounts, who)
                continue
            done = stack.pop()
            names.pop()
            if not stack:
                break
            up = os.open("..", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
            ust = os.fstat(up)
            os.close(fd)
            fd = up
            if (ust.st_dev, ust.st_ino) != (dev, stack[-1].ino):
                raise OSError(errno.ESTALE, "directory moved while being removed", names[-1])
            if done.clean:
                with contextlib.suppress(FileNotFoundError):
                    os.rmdir(done.name, dir_fd=fd)
            else:
                stack[-1].clean = False
    finally:
        os.close(fd)
    if done.clean:
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(name, dir_fd=parent_fd)
    return done.clean


def _scan(fd: int, frame: _Frame, dev: int, shown: str, mounts: frozenset[tuple[int, int]], who: Teller) -> None:
    """Unlink what directory *fd* holds on device *dev* except directories, which go into *frame*'s to-do list; a
    file bind-mounted there (another device) stays, logged once."""
    with os.scandir(fd) as it:
        entries = list(it)
    for entry in entries:
        try:
            est = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(est.st_mode):
            frame.subdirs.append(entry.name)
        elif est.st_dev != dev or (est.st_dev, est.st_ino) in mounts:  # a file bind-mounted there
            _log_mount_kept(f"{shown}/{entry.name}", est, who)
            frame.clean = False
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.name, dir_fd=fd)
