"""Everything Qt. Nothing outside this package imports Qt.

Importing this package imports Qt first and then stops PySide6 from keeping the source text of every module
imported after it. PySide6 replaces ``__import__`` to support ``from __feature__ import snake_case``: after each
import it asks whether the new module mentions "PySide6", by ``inspect.getsource``, which leaves the whole file in
``linecache``. In the player that was about 8 MB of source text, 200 files, held for the life of the process (the
demo: 105 -> 97 MB RSS; docs/performance.md). :func:`uses_pyside` gives PySide the same answer from a plain read
that is dropped at once. The player uses no ``__feature__`` switches; the answer is kept correct anyway.
"""

from __future__ import annotations

import logging
import sys
from types import ModuleType

import PySide6.QtCore  # noqa: F401  (the first Qt import of the process installs PySide's import hook)

log = logging.getLogger(__name__)


def uses_pyside(module: ModuleType) -> bool:
    """Whether the module's source mentions PySide6 (what PySide's own check answers), without caching the text."""
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return False  # built in, compiled, or without source: PySide's check says no for these as well
    try:
        with open(path, "rb") as fh:
            return b"PySide6" in fh.read()
    except OSError:
        return False


def keep_sources_out_of_memory() -> bool:
    """Installs :func:`uses_pyside` as PySide's module check. False if this PySide6 has no such check."""
    feature = sys.modules.get("shibokensupport.feature")
    if feature is None or not callable(getattr(feature, "_mod_uses_pyside", None)):
        log.debug("PySide6 has no per-module feature check here; nothing to change")
        return False
    feature._mod_uses_pyside = uses_pyside
    return True


keep_sources_out_of_memory()
