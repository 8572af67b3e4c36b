"""Keeps the player's resident memory close to what it really uses (a 1 GB Pi has little to spare).

Decoded pictures are large, short-lived buffers made on worker threads. With glibc's defaults those land in
per-thread arenas and the freed memory stays with the process. Serving large blocks by mmap (given back to the
system on free) and trimming the heap eagerly keeps RSS flat. Measured in bench/startup.py (demo: see
docs/performance.md).

The mmap threshold is 64 KiB, not 128 KiB: Pillow's ``Image.tobytes`` hands a decoded picture over in pieces of
64 KiB (``ImageFile.MAXBLOCK``) before joining them, 58 of them for a 1440x880 slide. On the heap, an allocation
that outlived them further up kept the heap from shrinking: in 14 of 34 demo runs the heap stayed 3 MB larger for
good (94.5 against 91.2 MB RSS), in 0 of 15 with this threshold. Now a piece that does not fit
in room the heap already has is mapped, and goes back to the system when freed: the heap does not grow for them."""

from __future__ import annotations

import builtins
import ctypes
import importlib
import importlib.machinery
import logging
import sys
import threading
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


def tune_malloc(mmap_threshold: int = 64 * 1024, trim_threshold: int = 128 * 1024, arena_max: int = 2) -> bool:
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


class _LeftOut:
    """A finder at the head of ``sys.meta_path`` that refuses the modules a thread asked to leave out, to that thread
    only, while it imports something; it finds nothing for anyone else. Installed once and never removed: removing
    an entry from ``sys.meta_path`` while another thread walks it could make that thread skip a finder (inserting
    one only makes it ask a finder twice)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def refused(self) -> set[str]:
        names: set[str] | None = getattr(self._local, "names", None)
        if names is None:
            names = self._local.names = set()
        return names

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname in self.refused():
            raise ModuleNotFoundError(f"{fullname} is left out of this import", name=fullname)


_left_out: _LeftOut | None = None
_install_lock = threading.Lock()


def import_leaving_out(name: str, left_out: str) -> types.ModuleType:
    """Imports module *name* while module *left_out* is kept from loading on this thread, unless it is loaded already.

    For libraries that import an optional module only to use it when it is there: python-qrcode imports Pillow's
    ImageDraw (and with it FreeType) for styled drawers the player does not use, and goes on without it when the
    import fails (player/ui/qr.py). Another thread that imports *left_out* meanwhile gets it, and so does a later
    import on this thread; the library alone keeps running without it. One exception: a thread importing one of
    the same modules while this import runs waits for it and gets that module as built here (Python's import lock
    per module), so leave out only what no other part of the player needs from the modules imported here. If
    *name* turns out to need *left_out* after all, what the failed attempt added under *name*'s package is dropped
    and it is imported again with *left_out*, and a debug line says so."""
    global _left_out
    if left_out in sys.modules:
        return importlib.import_module(name)
    with _install_lock:
        if _left_out is None:
            _left_out = _LeftOut()
            sys.meta_path.insert(0, _left_out)
    refused = _left_out.refused()
    added = left_out not in refused  # an outer call on this thread may be refusing it already
    refused.add(left_out)
    before = set(sys.modules)
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        log.debug("%s needs %s (%s); importing it with it", name, left_out, exc)
        # submodules that did load hang on a package object the failed import threw away: import them anew
        package = name.partition(".")[0]
        for key in set(sys.modules) - before:
            if key == package or key.startswith(package + "."):
                sys.modules.pop(key, None)
    finally:
        if added:
            refused.discard(left_out)
    return importlib.import_module(name)


class _StandInLoader:
    """Runs a module of a package imported through :func:`import_with_stand_ins` with its own builtins, whose
    ``__import__`` answers the stand-in names; everything else is the wrapped loader's."""

    def __init__(self, loader: Any, builtins_: dict[str, Any]) -> None:
        self._loader = loader
        self._builtins = builtins_

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__["__builtins__"] = self._builtins
        self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:  # get_code, get_source, is_package, ... for tools that ask
        if name == "_loader" or name.startswith("__"):  # not set yet (a copy in the making), or Python's own
            raise AttributeError(name)
        return getattr(self._loader, name)


class _StandIns:
    """A finder at the head of ``sys.meta_path``: while a thread imports a package through
    :func:`import_with_stand_ins`, that package's modules are loaded with the stand-ins, for that thread only."""

    def __init__(self) -> None:
        self._local = threading.local()

    def active(self) -> list[tuple[str, dict[str, Any]]]:
        stack: list[tuple[str, dict[str, Any]]] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        for package, builtins_ in reversed(self.active()):
            if fullname == package or fullname.startswith(package + "."):
                spec = importlib.machinery.PathFinder.find_spec(fullname, path)
                if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
                    return spec
                # it wraps a loader and answers for it; importlib.abc.Loader itself would import importlib.resources
                spec.loader = _StandInLoader(spec.loader, builtins_)  # type: ignore[assignment]
                return spec
        return None


_stand_ins: _StandIns | None = None


def import_with_stand_ins(package: str, names: Sequence[str], stand_ins: Mapping[str, types.ModuleType]
                          ) -> list[types.ModuleType]:
    """Imports the modules *names* of *package*, whose own import statements get *stand_ins* (module name ->
    module) instead of the real modules. Nothing outside the package sees a stand-in: they never enter
    ``sys.modules``, the rest of the process imports the real modules as usual."""
    global _stand_ins
    real_import = builtins.__import__

    def answer(name: str, globals_: Any = None, locals_: Any = None, fromlist: Sequence[str] | None = (),
               level: int = 0) -> Any:
        if level != 0:  # relative: within the package, never a stand-in
            return real_import(name, globals_, locals_, fromlist, level)
        if name in stand_ins:
            # ``from a.b import x`` reads x from a.b; ``import a.b`` binds a, ``import a.b as c`` reads b from it
            return stand_ins[name] if fromlist else _over(name, stand_ins)
        inner = {part: stand_ins[f"{name}.{part}"] for part in fromlist or () if f"{name}.{part}" in stand_ins}
        if inner:  # ``from a import b`` where a.b has a stand-in
            rest = tuple(part for part in fromlist or () if part not in inner)
            return _Over(real_import(name, globals_, locals_, rest, level), inner)
        return real_import(name, globals_, locals_, fromlist, level)

    own = dict(builtins.__dict__, __import__=answer)
    with _install_lock:
        if _stand_ins is None:
            _stand_ins = _StandIns()
            sys.meta_path.insert(0, _stand_ins)
    active = _stand_ins.active()
    active.append((package, own))
    try:
        return [importlib.import_module(name) for name in names]
    finally:
        active.pop()


class _Over(types.ModuleType):
    """A real module seen through a package's stand-ins: the given attributes are the stand-ins, every other one is
    the real module's."""

    def __init__(self, real: types.ModuleType, own: Mapping[str, Any]) -> None:
        super().__init__(real.__name__, real.__doc__)
        self.__dict__.update(own)
        self.__dict__["_real"] = real

    def __getattr__(self, name: str) -> Any:  # called only for what is not set above
        return getattr(self.__dict__["_real"], name)


def _over(name: str, stand_ins: Mapping[str, types.ModuleType]) -> Any:
    """What ``import a.b.c`` binds when a.b.c has a stand-in: package a, on which ``.b.c`` is the stand-in."""
    parts = name.split(".")
    node: Any = stand_ins[name]
    for depth in range(len(parts) - 1, 0, -1):
        node = _Over(importlib.import_module(".".join(parts[:depth])), {parts[depth]: node})
    return node


def refusing_module(name: str, what: str) -> types.ModuleType:
    """A stand-in module whose every attribute raises ImportError naming *what* was left out."""
    module = types.ModuleType(name, f"stand-in: {what} are left out of the player")

    def refuse(attr: str) -> Any:
        raise ImportError(f"{name}.{attr}: {what} are left out of the player")

    module.__getattr__ = refuse  # type: ignore[method-assign]
    return module
