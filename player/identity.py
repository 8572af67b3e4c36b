"""The device's own id: a UUID v4 created on first start and kept in the state directory.

The hub knows a screen by this id (``SteleScreen.uuid``). It is written once, atomically
(temp file + fsync + rename), and never rewritten in steady state. A damaged file (not a UUID) is replaced by
a new id with one log line: the screen then registers again under a new id, which an administrator can see.
"""

from __future__ import annotations

import logging
import threading
import uuid
from pathlib import Path

from player.atomic import write_text_atomic

log = logging.getLogger(__name__)

__all__ = ["DEVICE_ID_FILE", "device_id", "read_device_id"]

DEVICE_ID_FILE = "device-id"
_lock = threading.Lock()


def _parse(text: str) -> str | None:
    try:
        value = uuid.UUID(text.strip())
    except ValueError:
        return None
    return str(value)


def read_device_id(state_dir: str | Path) -> str | None:
    """The stored id, or None when there is none (or it is unreadable/damaged). Never writes."""
    path = Path(state_dir) / DEVICE_ID_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError):
        return None
    return _parse(text)


def device_id(state_dir: str | Path) -> str:
    """The device's UUID (lower-case, with dashes); created and stored on first call."""
    path = Path(state_dir) / DEVICE_ID_FILE
    with _lock:
        existing = read_device_id(state_dir)
        if existing is not None:
            return existing
        if path.exists():
            log.warning("%s: not a UUID; creating a new device id (the screen registers again)", path)
        new = str(uuid.uuid4())
        write_text_atomic(path, new + "\n")
        log.info("%s: new device id %s", path, new)
        return new
