"""Weather: the `WeatherObserved` station nearest to the screen (Parse `$nearSphere`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from player.feeds.base import Feed
from player.feeds.fields import as_dict, clean_line, to_datetime, to_float
from player.parse_rest import ParseClient, decode_geopoint, geopoint

# key -> (German name, unit, plausible min, plausible max). Hub values win for name and unit.
KNOWN_VALUES: dict[str, tuple[str, str, float, float]] = {
    "lufttemperatur": ("Lufttemperatur", "°C", -60.0, 60.0),
    "globalstrahlung": ("Globalstrahlung", "W/m²", 0.0, 1500.0),
    "niederschlagsintensitaet": ("Niederschlag", "mm/h", 0.0, 500.0),
    "relative_luftfeuchte": ("Relative Luftfeuchte", "%", 0.0, 100.0),
    "realtiver_luftdruck": ("Luftdruck", "hPa", 850.0, 1100.0),  # [sic], as the hub spells it
    "relativer_luftdruck": ("Luftdruck", "hPa", 850.0, 1100.0),
    "windgeschwindigkeit": ("Windgeschwindigkeit", "m/s", 0.0, 80.0),
    "windrichtung": ("Windrichtung", "°", 0.0, 360.0),
}
DEFAULT_KEYS = ("lufttemperatur", "globalstrahlung", "niederschlagsintensitaet", "relative_luftfeuchte",
                "realtiver_luftdruck", "relativer_luftdruck")
GENERIC_LIMIT = 1e6


@dataclass(frozen=True)
class WeatherValue:
    key: str
    name: str
    value: float
    unit: str


@dataclass(frozen=True)
class WeatherReport:
    station: str | None
    observed_at: datetime | None
    values: tuple[WeatherValue, ...]
    latitude: float | None = None
    longitude: float | None = None

    def get(self, key: str) -> WeatherValue | None:
        return next((v for v in self.values if v.key == key), None)


def weather_value(key: str, raw: Any) -> WeatherValue | None:
    """One entry of `values` ({name, unit, value} or a bare number) -> WeatherValue, None if absurd."""
    entry = raw if isinstance(raw, Mapping) else {"value": raw}
    number = to_float(entry.get("value"))
    if number is None:
        return None
    known = KNOWN_VALUES.get(key)
    low, high = (known[2], known[3]) if known else (-GENERIC_LIMIT, GENERIC_LIMIT)
    if not low <= number <= high:
        return None
    name = clean_line(entry.get("name"), 60) or (known[0] if known else clean_line(key, 60) or "?")
    unit = clean_line(entry.get("unit"), 12) or (known[1] if known else "")
    return WeatherValue(key=key, name=name, value=number, unit=unit)


def weather_from_object(obj: Any, keys: Sequence[str] | None = DEFAULT_KEYS) -> WeatherReport:
    """A `WeatherObserved` object -> WeatherReport with the wanted keys (all known/numeric when None)."""
    doc = as_dict(obj)
    values = as_dict(doc.get("values"))
    wanted = list(keys) if keys is not None else [k for k in list(values)[:50] if isinstance(k, str)]
    out = []
    for key in wanted:
        if key in values:
            value = weather_value(key, values[key])
            if value is not None:
                out.append(value)
    point = decode_geopoint(doc.get("geopoint"))
    return WeatherReport(station=clean_line(doc.get("shortName"), 80) or clean_line(doc.get("name"), 80),
                         observed_at=to_datetime(doc.get("dateObserved")), values=tuple(out),
                         latitude=point[0] if point else None, longitude=point[1] if point else None)


class WeatherFeed(Feed[WeatherReport]):
    value_type = WeatherReport

    def __init__(self, client: ParseClient, lat: float, lon: float, *, name: str = "weather",
                 interval_s: float = 600, timeout_s: float = 15, stale_after_s: float = 3600,
                 keys: Sequence[str] | None = DEFAULT_KEYS, max_distance_km: float | None = None,
                 class_name: str = "WeatherObserved") -> None:
        super().__init__(name, interval_s=interval_s, timeout_s=timeout_s, stale_after_s=stale_after_s)
        self.client = client
        self.location = geopoint(lat, lon)
        self.keys = tuple(keys) if keys is not None else None
        self.max_distance_km = max_distance_km
        self.class_name = class_name

    def fetch(self) -> WeatherReport:
        near: dict[str, Any] = {"$nearSphere": self.location}
        if self.max_distance_km is not None:
            near["$maxDistanceInKilometers"] = self.max_distance_km
        rows = self.client.query(self.class_name, where={"geopoint": near}, limit=1, timeout=self.timeout_s)
        if not rows:
            return WeatherReport(station=None, observed_at=None, values=())
        return weather_from_object(rows[0], self.keys)
