"""Atomic, power-loss safe file writes.

Every writer follows the same recipe: write a temporary file in the target's directory, fsync it,
rename it over the target (atomic on POSIX), then fsync the directory so the rename itself is durable.
A reader therefore sees either the complete old content or the complete new content, never a mix.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["fsync_dir", "write_bytes_atomic", "write_json_atomic", "write_text_atomic"]


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename/creation/deletion inside *directory* durable."""
    fd = os.open(os.fspath(directory), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> None:
    """Replace *path* with *data* atomically and durably (temp file + fsync + rename + dir fsync)."""
    target = Path(path)
    directory = target.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
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


def write_text_atomic(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Replace *path* with *text* atomically and durably."""
    write_bytes_atomic(path, text.encode(encoding))


def write_json_atomic(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2) -> None:
    """Serialise *obj* as UTF-8 JSON and replace *path* with it atomically and durably."""
    text = json.dumps(obj, ensure_ascii=False, indent=indent, sort_keys=True)
    # a lone surrogate (JSON "\ud800" in a document) cannot be UTF-8: write it as the same JSON escape again
    write_bytes_atomic(path, (text + "\n").encode("utf-8", "backslashreplace"))
