"""APScheduler for the feed runner, imported without the modules it loads but the player never uses.

APScheduler 3 imports asyncio (for ``iscoroutinefunction`` alone; from Python 3.14 on it takes inspect's),
multiprocessing and ``concurrent.futures.process`` (for process pools) and ``importlib.metadata`` (for its version
string and the aliases of its entry points): 3.5 MB resident together after the player's own modules (2026-11-29,
docs/performance.md). It also imports ``uuid`` (which loads ``platform``) for ``uuid4().hex`` alone, the id of a job
added without one. APScheduler's modules get stand-ins for these (``player.memory.import_with_stand_ins``: its
import statements only, on the importing thread only, never in ``sys.modules``); the rest of the process imports the
real modules if it needs them.

The stand-in for ``importlib.metadata`` answers for APScheduler's own distribution from its files (the version in
``METADATA``, the aliases in ``entry_points.txt``), so ``"interval"``, ``"cron"``, ``"date"``, ``"threadpool"`` and
``"memory"`` work as usual; plugins that other distributions register for APScheduler are not seen. Process pools
are left out: ``ProcessPoolExecutor`` raises ImportError."""

from __future__ import annotations

import functools
import importlib
import importlib.machinery
import inspect
import logging
import os
import re
import types
from pathlib import Path
from typing import Any

from player.memory import import_with_stand_ins, refusing_module

log = logging.getLogger(__name__)

DISTRIBUTION = "apscheduler"


def background_scheduler() -> Any:
    """The ``BackgroundScheduler`` class (its module imported with the stand-ins on first use)."""
    module, = import_with_stand_ins(DISTRIBUTION, ["apscheduler.schedulers.background"], stand_ins())
    return module.BackgroundScheduler


def interval_trigger() -> Any:
    """The ``IntervalTrigger`` class, imported the same way."""
    module, = import_with_stand_ins(DISTRIBUTION, ["apscheduler.triggers.interval"], stand_ins())
    return module.IntervalTrigger


@functools.cache
def stand_ins() -> dict[str, types.ModuleType]:
    asyncio = types.ModuleType("asyncio", "stand-in for APScheduler: the feed runner's jobs are plain functions")
    asyncio.iscoroutinefunction = inspect.iscoroutinefunction  # type: ignore[attr-defined]
    process = refusing_module("concurrent.futures.process", "process pools")
    process.BrokenProcessPool = type("BrokenProcessPool", (RuntimeError,), {})  # type: ignore[attr-defined]
    uuid = types.ModuleType("uuid", "stand-in for APScheduler: uuid4() for the id of a job added without one")
    uuid.uuid4 = _uuid4  # type: ignore[attr-defined]
    return {"asyncio": asyncio, "multiprocessing": refusing_module("multiprocessing", "process pools"),
            "concurrent.futures.process": process, "importlib.metadata": own_metadata(), "uuid": uuid}


class _RandomId:
    """What APScheduler reads of ``uuid.uuid4()``: ``.hex``, 32 hex digits of a version-4 UUID (RFC 9562)."""

    def __init__(self) -> None:
        raw = bytearray(os.urandom(16))
        raw[6] = raw[6] & 0x0F | 0x40  # version 4
        raw[8] = raw[8] & 0x3F | 0x80  # variant 10
        self.hex = raw.hex()


def _uuid4() -> _RandomId:
    return _RandomId()


class PackageNotFoundError(ModuleNotFoundError):
    """What ``importlib.metadata.version`` raises for a distribution it does not know."""


class EntryPoint:
    """One line of an ``entry_points.txt``: ``name = module:attribute``; the two members APScheduler uses."""

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value

    def load(self) -> Any:
        module, _, attribute = self.value.partition(":")
        loaded: Any = importlib.import_module(module.strip())
        for part in filter(None, attribute.strip().split(".")):
            loaded = getattr(loaded, part)
        return loaded


def own_metadata(distribution: str = DISTRIBUTION) -> types.ModuleType:
    """A stand-in for ``importlib.metadata`` that knows one distribution, read from its ``.dist-info`` folder."""
    folder = _dist_info(distribution)
    version = _version(folder / "METADATA") if folder is not None else None
    groups = _entry_points(folder / "entry_points.txt") if folder is not None else {}
    if version is None:
        log.debug("%s: no readable .dist-info; its version and aliases are unknown to it", distribution)
    module = types.ModuleType("importlib.metadata", f"stand-in: {distribution}'s own metadata, read from its files")

    def version_of(name: str) -> str:
        if version is None or name.lower().replace("_", "-") != distribution:
            raise PackageNotFoundError(name)
        return version

    def entry_points(*, group: str | None = None, **_: object) -> list[EntryPoint]:
        if group is None:
            return [entry for entries in groups.values() for entry in entries]
        return list(groups.get(group, ()))

    module.PackageNotFoundError = PackageNotFoundError  # type: ignore[attr-defined]
    module.version = version_of  # type: ignore[attr-defined]
    module.entry_points = entry_points  # type: ignore[attr-defined]
    return module


def _dist_info(distribution: str) -> Path | None:
    spec = importlib.machinery.PathFinder.find_spec(distribution)
    if spec is None or not spec.submodule_search_locations:
        return None
    return dist_info_in(Path(next(iter(spec.submodule_search_locations))).parent, distribution)


def dist_info_in(site: Path, distribution: str) -> Path | None:
    """The ``.dist-info`` folder of *distribution* in *site* (a site-packages folder), None if there is none."""
    # exactly "<name>-<version>.dist-info" (case and _/- as installers spell it): "apscheduler_di-0.1.dist-info" is
    # another distribution; of several versions (a stale one left behind) the highest
    pattern = re.compile(re.escape(distribution).replace("\\-", "[-_]") + r"-([^-]+)\.dist-info", re.IGNORECASE)
    try:
        found = [(match.group(1), path) for path in site.iterdir() if (match := pattern.fullmatch(path.name))]
    except OSError:
        return None
    return max(found, key=lambda item: _version_key(item[0]))[1] if found else None


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Orders "3.9" before "3.10" (a string sort does not)."""
    return tuple((int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"[.+!-]", version))


def _version(metadata: Path) -> str | None:
    try:
        text = metadata.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if not line.strip():
            break  # the headers end at the first empty line
        key, _, value = line.partition(":")
        if key.strip().lower() == "version" and value.strip():
            return value.strip()
    return None


def _entry_points(path: Path) -> dict[str, list[EntryPoint]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    groups: dict[str, list[EntryPoint]] = {}
    group: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1].strip()
            continue
        name, sep, value = line.partition("=")
        if group is not None and sep:
            groups.setdefault(group, []).append(EntryPoint(name.strip(), value.split("[")[0].strip()))
    return groups
