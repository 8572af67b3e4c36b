"""Environment sensors: `EnvironmentSensor` with its `sensorType` and `station`, names from `EnvironmentLocale`."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from player.feeds.base import Feed
from player.feeds.fields import as_dict, as_list, clean_line, to_datetime, to_float
from player.parse_rest import HubError, ParseClient

log = logging.getLogger(__name__)

VALUE_LIMIT = 1e9


@dataclass(frozen=True)
class SensorReading:
    station: str
    name: str  # de-DE name when the hub has a translation
    value: float
    unit: str
    observed_at: datetime | None = None
    order: int = 0
    sensor_id: str = ""


@dataclass(frozen=True)
class SensorReadings:
    readings: tuple[SensorReading, ...]

    def by_station(self) -> dict[str, tuple[SensorReading, ...]]:
        out: dict[str, list[SensorReading]] = {}
        for reading in self.readings:
            out.setdefault(reading.station, []).append(reading)
        return {k: tuple(v) for k, v in out.items()}


def locale_map(objs: Any, locale: str = "de-DE") -> dict[str, str]:
    """`EnvironmentLocale` objects -> {key: translation} for *locale* (also accepts "de" for "de-DE")."""
    lang = locale.split("-")[0].lower()
    exact: dict[str, str] = {}
    loose: dict[str, str] = {}
    for obj in as_list(objs, 10_000):
        doc = as_dict(obj)
        key = clean_line(doc.get("key"), 200)
        value = clean_line(doc.get("value"), 120)
        loc = doc.get("locale")
        if not key or not value or not isinstance(loc, str):
            continue
        if loc.lower() == locale.lower():
            exact[key] = value
        elif loc.split("-")[0].split("_")[0].lower() == lang:
            loose.setdefault(key, value)
    return {**loose, **exact}


def _int(value: Any) -> int:
    number = to_float(value)
    return int(number) if number is not None and abs(number) < 1e9 else 0


def reading_from_object(obj: Any, names: Mapping[str, str] | None = None) -> SensorReading | None:
    doc = as_dict(obj)
    names = names or {}
    value = to_float(doc.get("value"))
    if value is None or abs(value) > VALUE_LIMIT:
        return None
    sensor_type = as_dict(doc.get("sensorType"))
    station = as_dict(doc.get("station"))
    type_name = clean_line(sensor_type.get("name"), 120)
    type_key = sensor_type.get("key") if isinstance(sensor_type.get("key"), str) else type_name
    station_name = clean_line(station.get("name"), 120)
    name = (names.get(type_key or "") or names.get(type_name or "") or type_name
            or clean_line(doc.get("name"), 120))
    if not name:
        return None
    return SensorReading(station=names.get(station_name or "", station_name or "") or "",
                         name=name, value=value, unit=clean_line(sensor_type.get("unit"), 16) or "",
                         observed_at=to_datetime(doc.get("observedAt")), order=_int(sensor_type.get("order")),
                         sensor_id=clean_line(doc.get("objectId"), 40) or "")


def readings_from_objects(objs: Any, names: Mapping[str, str] | None = None, *,
                          stations: Sequence[str] | None = None, max_items: int = 200) -> tuple[SensorReading, ...]:
    wanted = set(stations) if stations else None
    out = []
    for obj in as_list(objs, 10_000):
        reading = reading_from_object(obj, names)
        if reading is None:
            continue
        station_id = as_dict(as_dict(obj).get("station")).get("objectId")
        if wanted is not None and reading.station not in wanted and station_id not in wanted:
            continue
        out.append(reading)
    out.sort(key=lambda r: (r.station, r.order, r.name))
    return tuple(out[:max_items])


class SensorsFeed(Feed[SensorReadings]):
    value_type = SensorReadings

    def __init__(self, client: ParseClient, *, name: str = "sensors", interval_s: float = 300,
                 timeout_s: float = 20, stale_after_s: float = 3600, stations: Sequence[str] | None = None,
                 locale: str = "de-DE", max_items: int = 200) -> None:
        super().__init__(name, interval_s=interval_s, timeout_s=timeout_s, stale_after_s=stale_after_s)
        self.client = client
        self.stations = tuple(stations) if stations else None
        self.locale = locale
        self.max_items = max_items

    def _names(self) -> dict[str, str]:
        try:
            rows = self.client.query("EnvironmentLocale", limit=5000, timeout=self.timeout_s)
        except HubError as exc:
            if exc.status == 404 or exc.code == 119:
                return {}
            log.info("feed %s: no sensor names from EnvironmentLocale (%s)", self.name, exc)
            return {}
        return locale_map(rows, self.locale)

    def fetch(self) -> SensorReadings:
        rows = self.client.query("EnvironmentSensor", include=["sensorType", "station"], limit=2000,
                                 timeout=self.timeout_s)
        return SensorReadings(readings=readings_from_objects(rows, self._names(), stations=self.stations,
                                                             max_items=self.max_items))
