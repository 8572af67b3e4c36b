"""Atomic, power-loss safe file writes.

Every writer follows the same recipe: write a temporary file in the target's directory, fsync it,
rename it over the target (atomic on POSIX), then fsync the directory so the rename itself is durable.
A reader therefore sees either the complete old content or the complete new content, never a mix.

Temporary files carry their writer in their name (``osc-<pid>-<start ticks>-<boot id>``, see :func:`temp_owner`),
so a later start can tell the leftovers of a killed process from the in-flight writes of a running one without
trusting file times (a Pi without a real-time clock may set its clock back after boot). :func:`sweep_orphan_temps`
removes the leftovers.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "PROCESS_START",
    "copy_file_atomic",
    "fsync_dir",
    "owner_alive",
    "sweep_orphan_temps",
    "temp_file_owner",
    "temp_owner",
    "temp_prefix",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]

#: Wall-clock time this module was imported; only used for temp files named before owners were marked in names.
PROCESS_START = time.time()
_BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
_OWNER_RE = re.compile(r"(?:^|\.)osc-(\d+)-(\d+)-([0-9a-z]+)\.[A-Za-z0-9_]+(?:\.[A-Za-z0-9]+)?$")
# the names write_bytes_atomic gave its temp files before they carried an owner: ".<target>.<8 random>.tmp"
_LEGACY_RE = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
_owner_cache: tuple[int, str] | None = None


def _boot_id() -> str:
    try:
        return _BOOT_ID_FILE.read_text(encoding="ascii").strip().replace("-", "")[:12].lower() or "0"
    except OSError:
        return "0"  # no /proc (not Linux): the pid check alone decides


def _proc_start(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of a process from /proc, or None when there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    if len(fields) < 20:
        return None
    return fields[0], fields[19]  # field 3 (state) and field 22 (starttime) of proc(5)


def temp_owner() -> str:
    """This process's owner mark for temp-file names: ``<pid>-<start ticks since boot>-<boot id>``.

    Unique among processes alive at the same time and never reused within a boot (a reused pid has another start
    time); independent of the wall clock."""
    global _owner_cache
    pid = os.getpid()
    if _owner_cache is None or _owner_cache[0] != pid:  # recomputed after a fork
        start = _proc_start(pid)
        _owner_cache = (pid, f"{pid}-{start[1] if start else 0}-{_boot_id()}")
    return _owner_cache[1]


def temp_prefix(stem: str = "") -> str:
    """Prefix for ``tempfile.mkstemp`` that marks the file as this process's: ``[<stem>.]osc-<owner>.``."""
    return f"{stem}.osc-{temp_owner()}." if stem else f"osc-{temp_owner()}."


def owner_alive(owner: str) -> bool:
    """True while the process that wrote temp files marked *owner* (see :func:`temp_owner`) still runs."""
    m = re.fullmatch(r"(\d+)-(\d+)-([0-9a-z]+)", owner)
    if m is None:
        return False
    pid, ticks, boot = int(m.group(1)), m.group(2), m.group(3)
    if owner == temp_owner():
        return True
    here = _boot_id()
    if boot != here:
        return False  # written before the last reboot
    if here != "0":
        start = _proc_start(pid)
        if start is not None:
            return start[0] not in ("Z", "X") and start[1] == ticks
        # no /proc entry: gone, or another user's process hidden from us (the unit's ProtectProc=invisible hides
        # a `sudo osc-player sync --once`): the pid decides, and a hidden live process counts as alive
    try:  # without /proc: only the pid can be checked
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def temp_file_owner(name: str) -> str | None:
    """The owner mark in a temp-file name made with :func:`temp_prefix`, or None."""
    m = _OWNER_RE.search(name)
    return None if m is None else f"{m.group(1)}-{m.group(2)}-{m.group(3)}"


def sweep_orphan_temps(directory: str | os.PathLike[str]) -> list[Path]:
    """Delete the temp files in *directory* (not below it) whose writing process is gone; returns them.

    Files marked with a live owner (this process or another running one) are left alone. Unmarked ``.*.tmp``
    files of the old naming are removed when they are older than this process (the only case that trusts times).
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if not entry.is_file(follow_symlinks=False):
            continue
        owner = temp_file_owner(entry.name)
        if owner is not None:
            orphan = not owner_alive(owner)
        elif _LEGACY_RE.match(entry.name):
            try:
                orphan = entry.stat(follow_symlinks=False).st_mtime < PROCESS_START
            except FileNotFoundError:
                continue
        else:
            continue
        if orphan:
            Path(entry.path).unlink(missing_ok=True)
            removed.append(Path(entry.path))
    if removed:
        fsync_dir(directory)
    return removed


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename/creation/deletion inside *directory* durable."""
    fd = os.open(os.fspath(directory), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_atomically(path: str | os.PathLike[str], fill: Callable[[BinaryIO, str], object], mode: int) -> None:
    """The recipe shared by every writer: *fill* writes the temp file (given its open handle and name), which is
    then fsynced, given *mode* and renamed over *path*; the directory is fsynced. On any failure the temp file
    goes and *path* stays as it was."""
    target = Path(path)
    directory = target.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(f".{target.name}"), suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fill(fh, tmp_name)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(directory)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> None:
    """Replace *path* with *data* atomically and durably (temp file + fsync + rename + dir fsync)."""
    _replace_atomically(path, lambda fh, _name: fh.write(data), mode)


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """*path* opened for reading, if it is a regular file; OSError otherwise. Opening a FIFO (or a device) the plain
    way blocks until a writer comes, which may be never: a content folder on a share may hold one by mistake."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # non-blocking: nothing waits for a writer
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        os.set_blocking(fd, True)
        raw = io.FileIO(fd, "rb")
        raw.name = os.fspath(path)  # as open() would name it (error messages, Pillow)
        return io.BufferedReader(raw)
    except BaseException:
        os.close(fd)
        raise


def copy_file_atomic(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Copy *src* to *dst* the same way: a reader of *dst* sees the old file or the whole new one. The copy gets the
    source's modification time (how an unchanged copy is recognised later). A failure (disk full, source gone
    mid-way, a source that changed while it was read: EBUSY) leaves *dst* as it was and no temp file."""

    def fill(fout: BinaryIO, tmp_name: str) -> None:
        with open_regular(src) as fin:
            before = os.fstat(fin.fileno())
            shutil.copyfileobj(fin, fout, 1024 * 1024)
            st = os.fstat(fin.fileno())
        if (st.st_size, st.st_mtime_ns) != (before.st_size, before.st_mtime_ns):  # still being written
            raise OSError(errno.EBUSY, "changed while it was copied", os.fspath(src))
        fout.flush()
        os.utime(tmp_name, ns=(st.st_atime_ns, st.st_mtime_ns))

    _replace_atomically(dst, fill, 0o644)


def write_text_atomic(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Replace *path* with *text* atomically and durably."""
    write_bytes_atomic(path, text.encode(encoding))


def write_json_atomic(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2) -> None:
    """Serialise *obj* as UTF-8 JSON and replace *path* with it atomically and durably."""
    text = json.dumps(obj, ensure_ascii=False, indent=indent, sort_keys=True)
    # a lone surrogate (JSON "\ud800" in a document) cannot be UTF-8: write it as the same JSON escape again
    write_bytes_atomic(path, (text + "\n").encode("utf-8", "backslashreplace"))
