"""Feed protocol, feed state, persistence of the last good value, and the background runner.

A feed is a small object with `name`, `interval_s`, `timeout_s`, `stale_after_s` and `fetch()`, which
returns a frozen dataclass (the *value*) or raises. `FeedRunner` calls each feed on its interval on a
background thread (APScheduler), keeps the last good value when a fetch fails, persists good values
atomically (only when they changed, or at most every `persist_every_s` otherwise, to spare the SD card),
and tells the UI through `on_update(name, state)`. No Qt here; the UI bridges the callback into a queued
signal.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from player.atomic import write_json_atomic
from player.feeds.fields import Clock, system_clock

log = logging.getLogger(__name__)

T = TypeVar("T")

BERLIN = ZoneInfo("Europe/Berlin")
STAND_FORMAT = "Stand: {time}"  # de-DE default; the UI may pass its own format from its string table
STATE_VERSION = 1


# --------------------------------------------------------------------------------------------------
# JSON codec for value dataclasses (datetimes, tuples, nested dataclasses, optional fields)


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


def from_jsonable(tp: Any, data: Any) -> Any:
    """Rebuild a value of type *tp* from `to_jsonable` output. Raises ValueError on mismatch."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return data
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if data is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return from_jsonable(arg, data)
            except (ValueError, TypeError) as exc:
                errors.append(str(exc))
        raise ValueError(f"no type of {tp} fits {data!r:.60}: {errors}")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise ValueError(f"{tp.__name__}: expected an object")
        hints = typing.get_type_hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in data:
                kwargs[f.name] = from_jsonable(hints[f.name], data[f.name])
        return tp(**kwargs)
    if origin in (tuple, list):
        if not isinstance(data, list):
            raise ValueError(f"expected a list for {tp}")
        args = typing.get_args(tp)
        item_tp = args[0] if args else Any
        items = [from_jsonable(item_tp, v) for v in data]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(data, dict):
            raise ValueError(f"expected an object for {tp}")
        _, val_tp = typing.get_args(tp) or (str, Any)
        return {str(k): from_jsonable(val_tp, v) for k, v in data.items()}
    if tp is datetime:
        if not isinstance(data, str):
            raise ValueError("expected an ISO datetime string")
        parsed = datetime.fromisoformat(data)
        if parsed.tzinfo is None:
            raise ValueError("naive datetime in persisted state")
        return parsed
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise ValueError("expected a number")
        return float(data)
    if tp in (int, str, bool):
        if not isinstance(data, tp) or (tp is int and isinstance(data, bool)):
            raise ValueError(f"expected {tp.__name__}")
        return data
    if tp is type(None):
        if data is not None:
            raise ValueError("expected null")
        return None
    raise TypeError(f"cannot decode type {tp}")


# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedState(Generic[T]):
    """What a widget shows: the last good value, when it was fetched, and the current error (if any)."""

    value: T | None
    fetched_at: datetime | None
    error: str | None = None

    def age(self, now: datetime) -> timedelta | None:
        return None if self.fetched_at is None else now - self.fetched_at

    def is_stale(self, now: datetime, max_age: timedelta | float) -> bool:
        """True when there is no value or it is older than *max_age* (seconds or timedelta)."""
        if self.value is None or self.fetched_at is None:
            return True
        limit = max_age if isinstance(max_age, timedelta) else timedelta(seconds=max_age)
        return now - self.fetched_at > limit

    def stand(self, tz: tzinfo = BERLIN, fmt: str = STAND_FORMAT) -> str:
        """"Stand: 10:42" (local time of the fetch), or "" without a value."""
        if self.fetched_at is None:
            return ""
        return fmt.format(time=self.fetched_at.astimezone(tz).strftime("%H:%M"))


@typing.runtime_checkable
class FeedProtocol(typing.Protocol):
    name: str
    interval_s: float
    timeout_s: float
    stale_after_s: float

    def fetch(self) -> Any: ...


class Feed(Generic[T]):
    """Base class for feeds. Subclasses set `value_type` and implement `fetch()`."""

    value_type: type[Any]

    def __init__(self, name: str, *, interval_s: float, timeout_s: float, stale_after_s: float) -> None:
        if interval_s <= 0 or timeout_s <= 0 or stale_after_s <= 0:
            raise ValueError(f"feed {name}: interval_s, timeout_s and stale_after_s must be > 0")
        self.name = name
        self.interval_s = float(interval_s)
        self.timeout_s = float(timeout_s)
        self.stale_after_s = float(stale_after_s)

    def fetch(self) -> T:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_json(self, value: T) -> Any:
        return to_jsonable(value)

    def from_json(self, data: Any) -> T:
        return typing.cast(T, from_jsonable(self.value_type, data))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} every {self.interval_s:g}s>"


# --------------------------------------------------------------------------------------------------


class FeedStore:
    """Last good value per feed, one JSON file each in *directory* (written atomically)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path(self, name: str) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:80] or "feed"
        return self.directory / f"feed-{safe}.json"

    def save(self, feed: Feed[Any], state: FeedState[Any]) -> None:
        doc = {"version": STATE_VERSION, "feed": feed.name,
               "fetched_at": state.fetched_at.isoformat() if state.fetched_at else None,
               "value": feed.to_json(state.value)}
        self.directory.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path(feed.name), doc)

    def load(self, feed: Feed[Any]) -> FeedState[Any] | None:
        path = self.path(feed.name)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("feed %s: ignoring unreadable saved value %s (%s)", feed.name, path, exc)
            return None
        try:
            if not isinstance(doc, dict) or doc.get("version") != STATE_VERSION:
                raise ValueError("unknown format version")
            fetched = datetime.fromisoformat(doc["fetched_at"])
            if fetched.tzinfo is None:
                raise ValueError("naive fetched_at")
            value = feed.from_json(doc["value"])
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("feed %s: ignoring saved value %s that does not fit (%s)", feed.name, path, exc)
            return None
        return FeedState(value=value, fetched_at=fetched, error=None)


UpdateCallback = Callable[[str, FeedState[Any]], None]


class FeedRunner:
    """Runs feeds on their intervals on a background thread and reports state changes.

    `on_update(name, state)` is called from the worker thread: after every successful fetch, once when a
    feed starts failing (or its error changes), and at `start()` for every value loaded from disk.
    """

    def __init__(self, feeds: Iterable[Feed[Any]], on_update: UpdateCallback | None = None, *,
                 state_dir: str | Path | None = None, clock: Clock = system_clock,
                 persist_every_s: float = 900.0, scheduler: Any = None) -> None:
        self.feeds: dict[str, Feed[Any]] = {}
        for feed in feeds:
            if feed.name in self.feeds:
                raise ValueError(f"two feeds named {feed.name!r}")
            self.feeds[feed.name] = feed
        self.on_update = on_update
        self.store = FeedStore(state_dir) if state_dir is not None else None
        self.clock = clock
        self.persist_every_s = persist_every_s
        self._states: dict[str, FeedState[Any]] = {}
        self._persisted_at: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._scheduler = scheduler
        self._started = False

    # -- state ------------------------------------------------------------------------------------

    def state(self, name: str) -> FeedState[Any]:
        with self._lock:
            return self._states.get(name, FeedState(None, None, None))

    @property
    def states(self) -> dict[str, FeedState[Any]]:
        with self._lock:
            return dict(self._states)

    def is_stale(self, name: str, now: datetime | None = None) -> bool:
        feed = self.feeds[name]
        return self.state(name).is_stale(now or self.clock(), feed.stale_after_s)

    def _notify(self, name: str, state: FeedState[Any]) -> None:
        if self.on_update is None:
            return
        try:
            self.on_update(name, state)
        except Exception:  # a broken consumer must not stop the feeds
            log.exception("feed %s: on_update callback failed", name)

    # -- lifecycle --------------------------------------------------------------------------------

    def load_persisted(self) -> None:
        """Load last good values from disk (e.g. after a reboot without network) and report them."""
        if self.store is None:
            return
        for name, feed in self.feeds.items():
            loaded = self.store.load(feed)
            if loaded is None:
                continue
            with self._lock:
                if name in self._states:
                    continue
                self._states[name] = loaded
                self._persisted_at[name] = loaded.fetched_at or self.clock()
            self._notify(name, loaded)

    def start(self) -> None:
        """Load persisted values, then run every feed now and on its interval in the background."""
        if self._started:
            return
        self.load_persisted()
        from player.feeds.scheduling import background_scheduler, interval_trigger

        if self._scheduler is None:
            self._scheduler = background_scheduler()(timezone=UTC, job_defaults={
                "coalesce": True, "max_instances": 1, "misfire_grace_time": 30})
        trigger = interval_trigger()  # an object rather than the alias: works whatever the stand-ins know
        for name, feed in self.feeds.items():
            self._scheduler.add_job(self.refresh, trigger(seconds=feed.interval_s,
                                                          timezone=getattr(self._scheduler, "timezone", UTC)),
                                    args=[name],
                                    id=f"feed:{name}", name=f"feed {name}", replace_existing=True,
                                    next_run_time=datetime.now(UTC))
        if not getattr(self._scheduler, "running", False):
            self._scheduler.start()
        self._started = True

    def stop(self, wait: bool = False) -> None:
        if self._scheduler is not None and getattr(self._scheduler, "running", False):
            self._scheduler.shutdown(wait=wait)
        self._started = False

    # -- one fetch --------------------------------------------------------------------------------

    def refresh(self, name: str) -> FeedState[Any]:
        """Fetch one feed now (on the calling thread) and record the outcome. Never raises."""
        feed = self.feeds[name]
        try:
            value = feed.fetch()
        except Exception as exc:  # any failure of a feed keeps the last good value
            return self._failed(feed, exc)
        now = self.clock()
        new_state = FeedState(value=value, fetched_at=now, error=None)
        with self._lock:
            old = self._states.get(name)
            self._states[name] = new_state
        if old is not None and old.error is not None:
            log.info("feed %s: recovered", name)
        self._persist(feed, new_state, changed=old is None or old.value != value)
        self._notify(name, new_state)
        return new_state

    def refresh_all(self) -> dict[str, FeedState[Any]]:
        return {name: self.refresh(name) for name in self.feeds}

    def _failed(self, feed: Feed[Any], exc: Exception) -> FeedState[Any]:
        message = " ".join(str(exc).split())[:300] or type(exc).__name__
        with self._lock:
            old = self._states.get(feed.name, FeedState(None, None, None))
            state = FeedState(value=old.value, fetched_at=old.fetched_at, error=message)
            self._states[feed.name] = state
        if old.error != message:  # one line per incident, not per retry
            kept = "keeping the value from " + old.fetched_at.isoformat() if old.fetched_at else "no value yet"
            log.warning("feed %s: fetch failed: %s (%s)", feed.name, message, kept)
            self._notify(feed.name, state)
        return state

    def _persist(self, feed: Feed[Any], state: FeedState[Any], *, changed: bool) -> None:
        if self.store is None or state.fetched_at is None:
            return
        last = self._persisted_at.get(feed.name)
        if not changed and last is not None and (state.fetched_at - last).total_seconds() < self.persist_every_s:
            return
        try:
            self.store.save(feed, state)
        except (OSError, TypeError, ValueError) as exc:
            log.warning("feed %s: cannot save last value (%s)", feed.name, exc)
            return
        self._persisted_at[feed.name] = state.fetched_at
