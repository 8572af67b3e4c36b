"""Status of the screen: ONE row per screen in the hub class `SteleScreenStatus`, updated every status interval.

The row is found by the screen's ``uuid`` (created once if missing; duplicates from an interrupted create are
removed, the oldest row is kept) and then updated with PUT. Only `SteleScreenStatus` is written, a class the screen
does not subscribe to, so a status write never wakes the screen's own LiveQuery subscriptions.

Offline there is nothing to queue: the status is built when it is sent, so after an outage the hub gets the latest
state at once (coalesced by construction), and nothing is written to the SD card for it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import player
from player.parse_rest import HubError, HubLoginError, ParseClient, parse_date
from player.report import ScreenRef
from player.system.device import DeviceFacts, collect_device_facts

log = logging.getLogger(__name__)

__all__ = ["STATUS_CLASS", "ErrorCounter", "NowPlaying", "StatusChannel"]

STATUS_CLASS = "SteleScreenStatus"
OBJECT_NOT_FOUND = 101


class NowPlaying:
    """What is on screen: the main layout and the current item of each zone. Thread-safe, no I/O."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self.layout: str | None = None
        self._items: dict[str, dict[str, Any]] = {}

    def set_layout(self, name: str) -> None:
        with self._lock:
            self.layout = name

    def item_started(self, zone_id: str, item_id: str, src: str) -> None:
        with self._lock:
            self._items[zone_id] = {"zone": zone_id, "itemId": item_id, "src": src or "",
                                    "since": self.clock().isoformat()}

    def item_ended(self, zone_id: str, item_id: str) -> None:
        with self._lock:
            if self._items.get(zone_id, {}).get("itemId") == item_id:
                del self._items[zone_id]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"layout": self.layout, "items": [dict(v) for _, v in sorted(self._items.items())]}


class ErrorCounter(logging.Handler):
    """Counts log records of level ERROR and above (the status reports the count since start)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


class StatusChannel:
    """Creates/updates this screen's `SteleScreenStatus` row every ``interval_s`` seconds."""

    name = "status"

    def __init__(self, client: ParseClient, screen: ScreenRef, now_playing: NowPlaying, *,
                 interval_s: float = 60.0, errors: ErrorCounter | None = None,
                 extra: Callable[[], dict[str, Any]] | None = None, queued: Callable[[], int] | None = None,
                 facts: Callable[[], DeviceFacts] | None = None, disk_path: str | Path = "/var/cache/osc-player",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 class_name: str = STATUS_CLASS) -> None:
        self.client = client
        self.screen = screen
        self.now_playing = now_playing
        self.interval_s = interval_s
        self.errors = errors
        self.extra = extra
        self.queued = queued
        self.facts = facts or (lambda: collect_device_facts(disk_path))
        self.clock = clock
        self.class_name = class_name
        self.started = clock()
        self._started_mono = time.monotonic()
        self._row_id: str | None = None
        self._last_ok = -math.inf
        self.writes = 0

    def next_due(self, now: float) -> float:
        return self._last_ok + self.interval_s

    def send_soon(self) -> None:
        self._last_ok = -math.inf

    def build(self) -> dict[str, Any]:
        """The status fields (without the pointer); collects device facts (worker thread)."""
        facts = self.facts()
        playing = self.now_playing.snapshot()
        fields: dict[str, Any] = {
            "uuid": self.screen.uuid,
            "lastSeen": parse_date(self.clock()),
            "version": player.__version__,
            "startedAt": parse_date(self.started),
            "playerUptimeS": round(time.monotonic() - self._started_mono),
            "layout": playing["layout"],
            "items": playing["items"],
            "hostname": facts.hostname,
            "ip": facts.ipv4,
            "uptimeS": None if facts.uptime_s is None else round(facts.uptime_s),
            "diskFreeBytes": facts.disk_free_bytes,
            "diskTotalBytes": facts.disk_total_bytes,
            "cpuTempC": facts.cpu_temp_c,
            "memAvailableBytes": facts.mem_available_bytes,
            "load1m": facts.load_1m,
            "model": facts.model,
            "errorCount": self.errors.count if self.errors else 0,
        }
        if self.queued is not None:
            fields["queuedReports"] = self.queued()
        if self.extra is not None:
            try:
                # e.g. {"cacheBytes": ..., "lastSync": {"ok": true, "at": "...", "message": "..."}}
                fields.update(self.extra())
            except Exception as exc:
                log.debug("status extra failed: %s", exc)
        return fields

    def run(self, now: float) -> None:
        screen = self.screen.pointer(self.client)
        if screen is None:
            return
        # no nulls: Parse Server 9 on PostgreSQL answers 500 (and may die) when a PUT sets null on a column that
        # was never created because the first write had null there; a fact we cannot read is simply left out
        fields = {k: v for k, v in self.build().items() if v is not None}
        fields["screen"] = screen
        if self._row_id is None:
            self._row_id = self._find_row()
        if self._row_id is not None:
            try:
                self.client.update(self.class_name, self._row_id, fields)
            except HubError as exc:
                if exc.code != OBJECT_NOT_FOUND or isinstance(exc, HubLoginError):  # a refused login: not the row
                    raise
                self._row_id = None  # an admin deleted the row: create it again
        if self._row_id is None:
            created = self.client.create(self.class_name, fields)
            self._row_id = created.get("objectId") if isinstance(created.get("objectId"), str) else None
        self.writes += 1
        self._last_ok = now

    def _find_row(self) -> str | None:
        rows = self.client.query(self.class_name, {"uuid": self.screen.uuid}, order="createdAt", limit=20,
                                 keys="uuid")
        ids = [r["objectId"] for r in rows if isinstance(r.get("objectId"), str)]
        for extra in ids[1:]:  # an earlier create whose answer was lost: keep one row per screen
            log.info("status: removing duplicate %s row %s", self.class_name, extra)
            self.client.delete(self.class_name, extra)
        return ids[0] if ids else None
