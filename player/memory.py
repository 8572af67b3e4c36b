"""Keeps the player's resident memory close to what it really uses (a 1 GB Pi has little to spare).

Decoded pictures are large, short-lived buffers made on worker threads. With glibc's defaults those land in
per-thread arenas and the freed memory stays with the process. Serving large blocks by mmap (given back to the
system on free) and trimming the heap eagerly keeps RSS flat. Measured in bench/startup.py (demo: see
docs/performance.md)."""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


def tune_malloc(mmap_threshold: int = 128 * 1024, trim_threshold: int = 128 * 1024, arena_max: int = 2) -> bool:
    """Applies the settings through mallopt(3). Returns False where there is no glibc (then nothing changes).

    mallopt is looked up in the process's own symbols (the C library is always loaded): ctypes.util.find_library
    would start ``ldconfig -p`` in a subprocess at every start."""
    try:
        libc = ctypes.CDLL(None)
        ok = all(libc.mallopt(param, value) == 1 for param, value in (
            (M_MMAP_THRESHOLD, mmap_threshold), (M_TRIM_THRESHOLD, trim_threshold), (M_ARENA_MAX, arena_max)))
    except (OSError, AttributeError):
        return False
    if not ok:
        log.debug("mallopt refused a setting; keeping the C library's defaults")
    return ok


def malloc_trim() -> Callable[[], None]:
    """glibc's ``malloc_trim(0)``, or a no-op where there is no glibc (looked up like mallopt above)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
        trim.argtypes = [ctypes.c_size_t]
        trim.restype = ctypes.c_int
    except (OSError, AttributeError):
        return lambda: None
    return lambda: None if trim(0) else None
