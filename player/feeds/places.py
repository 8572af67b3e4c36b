"""Places near the screen: the hub's points of interest (cloud function `poi-all`), nearest first.

The stele grid's `POIs` and `Karte` (map) tiles show them. A POI object as the hub keeps it (facts from the Open
SmartCity app's model): `name`, `address`, `zip`, `city`, `district`, `poiCategory` (objectId of a category) or an
included `poiCategoryObject`, `geopoint` (GeoPoint), `details`, `images`. Only name, place, category and position are
used here; the distance and the bearing from the screen are computed locally (great-circle, metres and degrees).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from player.feeds.base import Feed
from player.feeds.fields import as_dict, as_list, clean_line
from player.parse_rest import ParseClient, decode_geopoint

EARTH_RADIUS_M = 6_371_008.8
WALK_M_PER_MIN = 80.0  # about 4.8 km/h, what route planners assume for walking
MAX_OBJECTS = 20_000  # more is a hostile or broken answer; the rest is ignored


@dataclass(frozen=True)
class Place:
    name: str
    place: str | None  # street and number (or what the hub has), for the second line
    category: str | None
    latitude: float
    longitude: float
    distance_m: float
    bearing_deg: float  # from the screen, clockwise from north

    @property
    def walk_min(self) -> int:
        return max(1, round(self.distance_m / WALK_M_PER_MIN))


@dataclass(frozen=True)
class Places:
    latitude: float  # where the screen stands
    longitude: float
    places: tuple[Place, ...]


def distance_and_bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> tuple[float, float]:
    """Great-circle distance in metres and initial bearing in degrees (0 = north, 90 = east)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    distance = 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    bearing = (math.degrees(math.atan2(y, x)) + 360.0) % 360.0
    return distance, bearing


def _category(obj: Mapping[str, Any], names: Mapping[str, str]) -> str | None:
    included = as_dict(obj.get("poiCategoryObject")) or as_dict(obj.get("poiCategory"))
    for key in ("name", "title", "displayName"):
        text = clean_line(included.get(key), 60)
        if text:
            return text
    ref = obj.get("poiCategory")
    if isinstance(ref, str):
        return names.get(ref)
    return clean_line(obj.get("category"), 60)


def _place(obj: Mapping[str, Any]) -> str | None:
    address = clean_line(obj.get("address"), 120)
    if address:
        return address
    town = " ".join(p for p in (clean_line(obj.get("zip"), 10), clean_line(obj.get("city"), 60)) if p)
    return town or clean_line(obj.get("district"), 60)


def place_from_object(obj: Any, lat: float, lon: float, names: Mapping[str, str] | None = None) -> Place | None:
    """One POI object -> Place, or None when it has no name or no valid position."""
    if not isinstance(obj, Mapping):
        return None
    name = clean_line(obj.get("name"), 120) or clean_line(obj.get("title"), 120)
    where = decode_geopoint(obj.get("geopoint")) or decode_geopoint(obj.get("location"))
    if not name or where is None:
        return None
    distance, bearing = distance_and_bearing(lat, lon, *where)
    return Place(name=name, place=_place(obj), category=_category(obj, names or {}), latitude=where[0],
                 longitude=where[1], distance_m=distance, bearing_deg=bearing)


def places_from_result(result: Any, lat: float, lon: float, *, max_items: int = 12, max_distance_m: float = 2000.0,
                       categories: Sequence[str] | None = None) -> Places:
    """The `poi-all` result (a list of POI objects, or {results: [...]}) -> the nearest places within reach."""
    rows = result.get("results") if isinstance(result, Mapping) else result
    objects = as_list(rows, MAX_OBJECTS)
    names: dict[str, str] = {}
    for obj in as_list(as_dict(result).get("categories"), 1000):  # a hub may send its categories along
        oid, name = as_dict(obj).get("objectId"), clean_line(as_dict(obj).get("name"), 60)
        if isinstance(oid, str) and name:
            names[oid] = name
    wanted = {c.casefold() for c in categories} if categories else None
    seen: set[tuple[str, float, float]] = set()
    found: list[Place] = []
    for obj in objects:
        place = place_from_object(obj, lat, lon, names)
        if place is None or place.distance_m > max_distance_m:
            continue
        if wanted is not None and (place.category or "").casefold() not in wanted:
            continue
        key = (place.name.casefold(), round(place.latitude, 5), round(place.longitude, 5))
        if key in seen:
            continue
        seen.add(key)
        found.append(place)
    found.sort(key=lambda p: (p.distance_m, p.name))
    return Places(latitude=lat, longitude=lon, places=tuple(found[:max_items]))


class PlacesFeed(Feed[Places]):
    """Points of interest near (lat, lon). They change rarely: hourly by default, stale after two days."""

    value_type = Places

    def __init__(self, client: ParseClient, lat: float, lon: float, *, name: str = "pois", interval_s: float = 3600,
                 timeout_s: float = 20, stale_after_s: float = 2 * 86400, max_items: int = 12,
                 max_distance_km: float = 2.0, function: str = "poi-all",
                 categories: Sequence[str] | None = None) -> None:
        super().__init__(name, interval_s=interval_s, timeout_s=timeout_s, stale_after_s=stale_after_s)
        if not (-90 <= float(lat) <= 90 and -180 <= float(lon) <= 180):
            raise ValueError(f"feed {name}: lat/lon out of range: {lat}, {lon}")
        self.client = client
        self.lat, self.lon = float(lat), float(lon)
        self.max_items = max(1, int(max_items))
        self.max_distance_m = max(10.0, float(max_distance_km) * 1000.0)
        self.function = function
        self.categories = list(categories) if categories else None

    def fetch(self) -> Places:
        result = self.client.call_function(self.function, {}, timeout=self.timeout_s)
        return places_from_result(result, self.lat, self.lon, max_items=self.max_items,
                                  max_distance_m=self.max_distance_m, categories=self.categories)
