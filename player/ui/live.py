"""Live data on screen: the FeedHub runs the screen's feeds off the GUI thread and hands their states to widgets
through a queued Qt signal; severe public warnings become a run-time overlay or interrupt.

    hub = attach_feeds(window, screen, config, content_dir)          # run / demo: feeds run in the background
    hub = attach_feeds(window, screen, config, content_dir, sync=True)  # preview: data fetched before rendering

Widgets find the hub in ``ctx.extras["feeds"]`` and subscribe by feed name; they get the current state at once and
every later one on the GUI thread. No widget ever waits for a feed.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QTimer, Signal, Slot

from player.feeds.base import Feed, FeedRunner, FeedState
from player.feeds.factory import BuiltFeeds, build_feeds
from player.feeds.warnings import SEVERITY_RANK, Warnings
from player.model import EntryMode, Layout, ScheduleEntry, Screen, WidgetItem, Zone

log = logging.getLogger(__name__)

FEEDS_SUBDIR = "feeds"
PREVIEW_TIMEOUT_S = 20.0
WARNING_LAYOUT_PREFIX = "_warning-"


class _Runner(FeedRunner):
    """FeedRunner that does not persist feeds marked ``persist = False`` (sample feeds: their file is always
    there; writing them would only wear the SD card). Push feeds (the digital twin) get their saved value handed
    back (``seed``) and may ask for a refresh from their own thread, so one feed's refreshes are serialised."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refreshing = {name: threading.Lock() for name in self.feeds}

    def refresh(self, name: str) -> FeedState[Any]:
        with self._refreshing[name]:
            return super().refresh(name)

    def load_persisted(self) -> None:
        super().load_persisted()
        for name, feed in self.feeds.items():
            seed = getattr(feed, "seed", None)
            value = self.state(name).value
            if callable(seed) and value is not None:
                seed(value)

    def _persist(self, feed: Feed[Any], state: FeedState[Any], *, changed: bool) -> None:
        if getattr(feed, "persist", True) is False:
            return
        super()._persist(feed, state, changed=changed)


class FeedHub(QObject):
    """Owns a FeedRunner; re-emits its updates on the GUI thread as ``updated(name, state)``."""

    updated = Signal(str, object)
    _incoming = Signal(str, object)  # emitted from the runner's worker thread

    def __init__(self, feeds: list[Feed[Any]], *, state_dir: str | Path | None, clock: Callable[[], datetime],
                 configs: dict[str, dict[str, Any]] | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.feeds = {f.name: f for f in feeds}
        self.configs = dict(configs or {})
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.clock = clock
        self.runner = _Runner(feeds, self._from_worker, state_dir=self.state_dir, clock=clock)
        for feed in feeds:  # push feeds: a new message is fetched (and shown) at once, not at the next interval
            bind = getattr(feed, "bind_push", None)
            if callable(bind):
                bind(functools.partial(self.runner.refresh, feed.name))
        self._states: dict[str, FeedState[Any]] = {}  # GUI-thread copy
        self._incoming.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.section: dict[str, Any] = {}  # the document's feeds section this hub was built from

    # ---------------------------------------------------------------------------------------------- queries
    def has_feed(self, name: str) -> bool:
        return name in self.feeds

    def state(self, name: str) -> FeedState[Any]:
        return self._states.get(name, FeedState(None, None, None))

    def stale_after_s(self, name: str) -> float:
        feed = self.feeds.get(name)
        return feed.stale_after_s if feed is not None else 600.0

    def subscribe(self, name: str, receiver: Callable[[str, FeedState[Any]], None]) -> None:
        """*receiver(name, state)* gets the current state now and each update later (GUI thread). A bound
        method of a QObject is disconnected by Qt when that object is deleted."""
        self.updated.connect(receiver)
        if name in self._states:
            receiver(name, self._states[name])

    # ---------------------------------------------------------------------------------------------- running
    def _from_worker(self, name: str, state: FeedState[Any]) -> None:
        if not self._stopped:
            self._incoming.emit(name, state)

    @Slot(str, object)
    def _deliver(self, name: str, state: FeedState[Any]) -> None:
        self._states[name] = state
        self.updated.emit(name, state)

    def _check_state_dir(self) -> None:
        """Runs on the worker: a state folder that cannot be written means no persistence (one log line)."""
        if self.state_dir is None:
            return
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            writable = os.access(self.state_dir, os.W_OK)
        except OSError:
            writable = False
        if not writable:
            log.warning("feeds: cannot write %s; last values are not kept across a restart", self.state_dir)
            self.runner.load_persisted()
            self.runner.store = None

    def start(self) -> None:
        """Load saved values and start the feeds, all on a background thread (the GUI thread never waits)."""
        if self._thread is not None or not self.feeds:
            return

        def run() -> None:
            self._check_state_dir()
            if not self._stopped:
                self.runner.start()

        self._thread = threading.Thread(target=run, name="osc-feeds-start", daemon=True)
        self._thread.start()

    def refresh_sync(self, timeout_s: float = PREVIEW_TIMEOUT_S, persist: bool = False) -> None:
        """For preview: saved values, then one fetch of every feed (in parallel, at most *timeout_s*), delivered
        before this returns. Feeds that fail or take too long keep their saved value (shown as stale)."""
        self.runner.load_persisted()
        if not persist:
            self.runner.store = None  # a preview must not write the device's feed state
        if self.feeds:
            with ThreadPoolExecutor(max_workers=min(8, len(self.feeds)), thread_name_prefix="osc-preview") as pool:
                futures = [pool.submit(self.runner.refresh, name) for name in self.feeds]
                done, pending = wait_futures(futures, timeout=timeout_s)
                for future in pending:
                    future.cancel()
                if pending:
                    log.warning("preview: %d feed(s) did not answer within %.0f s; showing saved values",
                                len(pending), timeout_s)
        for name, state in self.runner.states.items():
            self._deliver(name, state)

    def stop(self) -> None:
        self._stopped = True
        try:
            self.runner.stop(wait=False)
        except Exception:  # shutting down: nothing useful to do about it
            log.debug("feeds: stop failed", exc_info=True)
        for feed in self.feeds.values():  # push feeds hold a connection of their own; close() does not wait
            close = getattr(feed, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # same as above
                    log.debug("feeds: closing %s failed", feed.name, exc_info=True)


# ------------------------------------------------------------------------------------------------ warnings
# feed types whose values can hold severe warnings (a sample file may be of kind "warnings")
WARNING_FEED_TYPES = frozenset({"warnings", "nina", "sample"})


class SevereWarnings(QObject):
    """Turns severe warnings of warning feeds into run-time schedule entries of the window (overlay banner or
    interrupt screen), removed when the warning ends. Per feed option `severe`: "overlay" (default),
    "interrupt" or "off"; `severe_min`: lowest severity that counts (default "Severe")."""

    def __init__(self, window: Any, hub: FeedHub, screen: Screen):
        super().__init__(hub)
        self.window = window
        self.hub = hub
        self.screen = screen
        self.modes: dict[str, tuple[EntryMode | None, int]] = {}
        for name, conf in hub.configs.items():
            kind = conf.get("type")
            if kind not in WARNING_FEED_TYPES:
                continue
            mode = conf.get("severe", "overlay")
            if mode not in ("overlay", "interrupt", "off"):
                log.warning("feed '%s': option 'severe' must be overlay, interrupt or off; using overlay", name)
                mode = "overlay"
            floor = SEVERITY_RANK.get(str(conf.get("severe_min", "Severe")), SEVERITY_RANK["Severe"])
            self.modes[name] = (None if mode == "off" else EntryMode(mode), floor)
        self.active: dict[str, tuple[str, ...]] = {}  # feed -> ids of severe warnings on screen
        self._key: tuple[Any, ...] = ()
        self._expiry = QTimer(self)
        self._expiry.setSingleShot(True)
        self._expiry.setTimerType(Qt.TimerType.PreciseTimer)  # a warning ends on time, not up to 5 % late
        self._expiry.timeout.connect(self.reevaluate)
        for name in self.modes:
            hub.subscribe(name, self._on_update)

    def canvas(self) -> tuple[int, int]:
        layout = self.screen.layouts.get(self.screen.schedule.default_layout)
        if layout is None and self.screen.layouts:
            layout = next(iter(self.screen.layouts.values()))
        return (layout.width, layout.height) if layout is not None else (1920, 1080)

    def _on_update(self, name: str, _state: FeedState[Any]) -> None:
        if name in self.modes:
            self.reevaluate()

    def severe_ids(self, name: str, now: datetime) -> tuple[str, ...]:
        mode, floor = self.modes[name]
        value = self.hub.state(name).value
        if mode is None or not isinstance(value, Warnings):
            return ()
        return tuple(w.id for w in value.items[:50]
                     if w.rank >= floor and (w.expires is None or w.expires > now))

    def reevaluate(self) -> None:
        now = self.hub.clock()
        entries: list[ScheduleEntry] = []
        layouts: dict[str, Layout] = {}
        soonest: datetime | None = None
        for name, (mode, _) in self.modes.items():
            ids = self.severe_ids(name, now)
            self.active[name] = ids
            if not ids or mode is None:
                continue
            layout = self.warning_layout(name, mode)
            layouts[layout.name] = layout
            entries.append(ScheduleEntry(id=f"warning:{name}", layout=layout.name, priority=10_000, mode=mode))
            value = self.hub.state(name).value
            for w in value.items[:50] if isinstance(value, Warnings) else ():
                if w.id in ids and w.expires is not None and (soonest is None or w.expires < soonest):
                    soonest = w.expires
        key = tuple((e.id, e.mode, self.active.get(e.id.split(":", 1)[1])) for e in entries)
        if soonest is not None:
            self._expiry.start(max(50, min(int((soonest - now).total_seconds() * 1000) + 50, 3_600_000)))
        else:
            self._expiry.stop()
        if key == self._key:
            return  # same warnings: the widgets on screen update themselves
        self._key = key
        if entries:
            log.warning("severe public warning(s) on screen: %s", ", ".join(
                f"{n} ({len(self.active[n])})" for n in self.modes if self.active.get(n)))
        else:
            log.info("no severe public warning any more; overlay/interrupt removed")
        self.window.set_extra_entries(tuple(entries), layouts)

    def warning_layout(self, feed: str, mode: EntryMode) -> Layout:
        width, height = self.canvas()
        portrait = height > width
        common = {"widget": "warnings", "feed": feed, "duration": 3600.0}
        _, floor = self.modes[feed]
        min_severity = next((k for k, v in SEVERITY_RANK.items() if v == floor), "Severe")
        if mode == EntryMode.INTERRUPT:
            zone = Zone(id="warning", x=0, y=0, width=width, height=height, background="#1a1a1a",
                        items=(WidgetItem(id=f"warning-{feed}", options={"style": "screen",
                                                                         "min_severity": min_severity},
                                          **common),))  # type: ignore[arg-type]
        else:
            band = round(height * (0.14 if portrait else 0.2))
            zone = Zone(id="warning", x=0, y=0, width=width, height=band, z=100,
                        items=(WidgetItem(id=f"warning-{feed}", options={"style": "banner",
                                                                         "min_severity": min_severity},
                                          **common),))  # type: ignore[arg-type]
        return Layout(name=f"{WARNING_LAYOUT_PREFIX}{feed}", width=width, height=height, zones=(zone,),
                      background="#000000")


# ------------------------------------------------------------------------------------------------- wiring
def feed_state_dir(config: Any) -> Path | None:
    try:
        return Path(config.state_dir) / FEEDS_SUBDIR
    except (AttributeError, KeyError, TypeError):
        return None


def twin_settings(config: Any) -> dict[str, Any] | None:
    """The [twin] section of player.toml (broker of the digital-twin messages), with the [cache] CA bundle."""
    try:
        settings = dict(config["twin"])
    except (KeyError, TypeError, AttributeError):
        return None
    try:
        settings.setdefault("ca_file", config["cache"].get("ca_file") or None)
    except (KeyError, TypeError, AttributeError):
        pass
    return settings


def attach_feeds(window: Any, screen: Screen, config: Any, content_dir: str | Path | Sequence[Path] | None,
                 client: Any = None, *,
                 sync: bool = False, build: Callable[..., BuiltFeeds] = build_feeds) -> FeedHub | None:
    """Builds the screen's feeds, starts them (or, with *sync*, fetches them once now, for preview) and stores the
    hub in ``window.ctx.extras["feeds"]``; widgets already on screen are connected. A later call with the same
    feed configuration keeps the running hub; a changed one replaces it. Returns the hub (None without feeds)."""
    extras = window.ctx.extras
    old: FeedHub | None = extras.get("feeds")
    section = screen.feeds or {}
    if old is not None and not sync and old.section == section:
        old_watch = extras.get("severe_warnings")
        if old_watch is not None:
            old_watch.screen = screen
        return old
    clock = window.ctx.clock.now
    built = build(section, client=client, content_dir=content_dir, clock=clock, twin=twin_settings(config))
    if old is not None:
        old.stop()
        old.deleteLater()
        extras.pop("feeds", None)
        window.set_extra_entries((), {})
    if not built.feeds:
        return None
    hub = FeedHub(built.feeds, state_dir=feed_state_dir(config), clock=clock, configs=built.configs, parent=window)
    hub.section = dict(section)
    extras["feeds"] = hub
    app = QCoreApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(hub.runner.stop)
    if sync:
        hub.refresh_sync()
    else:
        hub.start()
    from player.ui.widgets.base import LiveWidget

    for view in window.findChildren(LiveWidget):
        view.connect_feeds(hub)
    watch = SevereWarnings(window, hub, screen)
    extras["severe_warnings"] = watch
    if watch.modes:
        watch.reevaluate()
    return hub
