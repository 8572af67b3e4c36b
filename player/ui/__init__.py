"""Everything Qt. Nothing outside this package imports Qt.

Importing this package imports Qt first and then stops PySide6 from keeping the source text of every module
imported after it. PySide6 replaces ``__import__`` to support ``from __feature__ import snake_case``: after each
import it asks whether the new module mentions "PySide6", by ``inspect.getsource``, which leaves the whole file in
``linecache``. In the player that was about 8 MB of source text, 200 files, held for the life of the process (the
demo: 105 -> 97 MB RSS; docs/performance.md). :func:`uses_pyside` gives PySide the same answer from a plain read
that is dropped at once. The player uses no ``__feature__`` switches; the answer is kept correct anyway. What
PySide's own check read while Qt was imported, before this one took over (the standard library's ``enum.py``,
79 KB of text, 200 KB as line strings), is dropped from ``linecache`` then, before the player's modules are imported
into the memory it frees.
"""

from __future__ import annotations

import inspect
import linecache
import logging
import sys
from collections.abc import Callable
from types import ModuleType

import PySide6.QtCore  # noqa: F401  (the first Qt import of the process installs PySide's import hook)

log = logging.getLogger(__name__)


_pyside_check: Callable[[ModuleType], bool] | None = None  # PySide's own check, for what a plain read cannot answer


def uses_pyside(module: ModuleType) -> bool:
    """Whether the module's source mentions PySide6 (what PySide's own check answers), without caching the text.
    A module whose file cannot be read directly (imported from a zip, say) is left to PySide's check."""
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return False  # built in, compiled, or without source: PySide's check says no for these as well
    try:
        with open(path, "rb") as fh:
            return b"PySide6" in fh.read()
    except OSError:
        if _pyside_check is None:
            return False
        try:
            return bool(_pyside_check(module))
        except Exception:  # noqa: BLE001 - an import must never fail over this question
            return False


def keep_sources_out_of_memory() -> bool:
    """Installs :func:`uses_pyside` as PySide's module check. False (and nothing changed) if this PySide6 has no
    such check or one that takes something else than the module."""
    global _pyside_check
    feature = sys.modules.get("shibokensupport.feature")
    if feature is None:
        return False
    check = getattr(feature, "_mod_uses_pyside", None)
    if check is None or check is uses_pyside:
        return check is uses_pyside
    try:
        params = list(inspect.signature(check).parameters.values())
    except (TypeError, ValueError):
        params = []
    if len(params) != 1 or params[0].kind not in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
        log.debug("PySide6's module check has changed (%s); leaving it alone", params)
        return False
    _pyside_check = check
    feature._mod_uses_pyside = uses_pyside  # type: ignore[attr-defined]  # PySide's private hook, checked above
    linecache.clearcache()  # the sources PySide's check read during Qt's own imports (a cache: read again on demand)
    return True


keep_sources_out_of_memory()
