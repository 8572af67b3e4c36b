"""Public-transport departures from the hub's cloud function `mobility` (EFA rapidJSON field names)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from player.feeds.base import BERLIN, Feed
from player.feeds.fields import Clock, as_dict, as_list, clean_line, system_clock, to_datetime
from player.parse_rest import HubError, ParseClient

log = logging.getLogger(__name__)

MAX_AHEAD = timedelta(days=1)
MAX_PAST = timedelta(minutes=5)
MAX_DELAY = timedelta(hours=12)


@dataclass(frozen=True)
class Departure:
    line: str
    destination: str
    planned: datetime
    estimated: datetime | None = None  # real-time prediction, when the hub has one
    cancelled: bool = False
    platform: str | None = None

    @property
    def delay_min(self) -> int | None:
        """Real-time delay in whole minutes (negative when early), None without a prediction."""
        if self.estimated is None:
            return None
        return round((self.estimated - self.planned).total_seconds() / 60)

    @property
    def expected(self) -> datetime:
        return self.estimated or self.planned


@dataclass(frozen=True)
class Departures:
    stop_name: str | None
    departures: tuple[Departure, ...]


def _cancelled(row: Mapping[str, Any]) -> bool:
    if row.get("isCancelled") is True or row.get("cancelled") is True:
        return True
    status = row.get("realtimeStatus")
    if isinstance(status, str):
        status = [status]
    return any(isinstance(s, str) and "CANCEL" in s.upper() for s in as_list(status, 10))


def _platform(row: Mapping[str, Any]) -> str | None:
    for value in (row.get("platform"), row.get("platformName"),
                  as_dict(as_dict(row.get("location")).get("properties")).get("platformName"),
                  as_dict(as_dict(row.get("location")).get("properties")).get("platform"),
                  as_dict(row.get("location")).get("disassembledName")):
        text = clean_line(value, 20)
        if text:
            return text
    return None


def departure_from_row(row: Any, now: datetime, naive_tz: tzinfo = BERLIN) -> Departure | None:
    """One `availableOptions` entry -> Departure, or None when it is unusable or absurd."""
    if not isinstance(row, Mapping):
        return None
    transport = as_dict(row.get("transportation"))
    line = clean_line(row.get("shortName"), 20) or clean_line(transport.get("number"), 20) \
        or clean_line(transport.get("disassembledName"), 20)
    destination = clean_line(row.get("name"), 120) \
        or clean_line(as_dict(transport.get("destination")).get("name"), 120)
    planned = to_datetime(row.get("departureTimePlanned"), naive_tz)
    if not line or planned is None:
        return None
    estimated = to_datetime(row.get("departureTimeEstimated"), naive_tz)
    if estimated is not None and abs(estimated - planned) > MAX_DELAY:
        estimated = None  # a prediction half a day off is a data error, not a delay
    expected = estimated or planned
    if expected < now - MAX_PAST or expected > now + MAX_AHEAD:
        return None
    return Departure(line=line, destination=destination or "", planned=planned, estimated=estimated,
                     cancelled=_cancelled(row), platform=_platform(row))


def departures_from_result(result: Any, now: datetime, *, max_rows: int = 40,
                           naive_tz: tzinfo = BERLIN) -> tuple[Departure, ...]:
    """The `mobility` result (list of {availableOptions: [...]}) -> sorted, sane departures."""
    rows: list[Any] = []
    groups = result if isinstance(result, list) else [result]
    for group in as_list(groups, 50):
        if isinstance(group, Mapping):
            rows.extend(as_list(group.get("availableOptions"), 2000))
    seen: set[tuple[str, str, datetime]] = set()
    out: list[Departure] = []
    for row in rows[:5000]:
        dep = departure_from_row(row, now, naive_tz)
        if dep is None:
            continue
        key = (dep.line, dep.destination, dep.planned)
        if key in seen:
            continue
        seen.add(key)
        out.append(dep)
    out.sort(key=lambda d: (d.expected, d.line, d.destination))
    return tuple(out[:max_rows])


def stop_name_from_result(result: Any) -> str | None:
    """`pt-stop-nearby` result {stops: [{name, ...}]} -> the nearest stop's name."""
    for stop in as_list(as_dict(result).get("stops"), 20):
        name = clean_line(as_dict(stop).get("name"), 120)
        if name:
            return name
    return None


class DeparturesFeed(Feed[Departures]):
    value_type = Departures

    def __init__(self, client: ParseClient, lat: float, lon: float, *, name: str = "departures",
                 interval_s: float = 30, timeout_s: float = 10, stale_after_s: float = 180,
                 max_rows: int = 40, stop_name: str | None = None, clock: Clock = system_clock,
                 naive_tz: tzinfo = BERLIN) -> None:
        super().__init__(name, interval_s=interval_s, timeout_s=timeout_s, stale_after_s=stale_after_s)
        self.client = client
        self.lat, self.lon = float(lat), float(lon)
        self.max_rows = max_rows
        self.clock = clock
        self.naive_tz = naive_tz
        self._stop_name = stop_name  # configured name wins; otherwise looked up once

    def _lookup_stop_name(self) -> str | None:
        try:
            result = self.client.call_function("pt-stop-nearby", {"lat": self.lat, "lon": self.lon},
                                               timeout=self.timeout_s)
        except HubError as exc:
            log.info("feed %s: no stop name (%s)", self.name, exc)
            return None
        return stop_name_from_result(result)

    def fetch(self) -> Departures:
        result = self.client.call_function(
            "mobility", {"type": "public-transport", "lat": self.lat, "lon": self.lon, "force": True},
            timeout=self.timeout_s)
        if not isinstance(result, list | dict):
            raise HubError(f"feed {self.name}: mobility answered {type(result).__name__}, not a list")
        rows = departures_from_result(result, self.clock(), max_rows=self.max_rows, naive_tz=self.naive_tz)
        if self._stop_name is None:
            self._stop_name = self._lookup_stop_name()
        return Departures(stop_name=self._stop_name, departures=rows)
