"""Places near the screen (hub `poi-all`): distances and bearings, odd and hostile POI objects, the list and the
overview map at several zone sizes in both orientations (text in its box, markers in the plot)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtGui import QColor

import player.ui.widgets  # noqa: F401  (registers the widget views)
from player.feeds.factory import build_feeds
from player.feeds.places import Place, Places, PlacesFeed, distance_and_bearing, places_from_result
from player.ui.widgets.places import PlaceList, PlaceMap, distance_text, ring_step
from test_widgets import SIZES, assert_fits, make, paint

LAT, LON = 49.8728, 8.6512  # the screen


def geo(lat: float, lon: float) -> dict[str, Any]:
    return {"__type": "GeoPoint", "latitude": lat, "longitude": lon}


def poi(name: Any, north_m: float = 0.0, east_m: float = 0.0, **extra: Any) -> dict[str, Any]:
    """A POI object placed *north_m* / *east_m* metres from the screen."""
    lat = LAT + north_m / 111_195.0
    lon = LON + east_m / (111_195.0 * math.cos(math.radians(LAT)))
    return {"objectId": f"o-{name}", "name": name, "geopoint": geo(lat, lon), **extra}


RESULT = [
    poi("Stadtbibliothek", 300, 0, address="Kirchstraße 2", poiCategoryObject={"name": "Bildung"}),
    poi("Bürgerbüro im Rathaus", 0, 120, address="Marktplatz 1", poiCategory="cat1"),
    poi("Schwimmbad Nordbad", 1400, 200, zip="64293", city="Darmstadt"),
    poi("Tierpark", 0, -5000),  # too far
    poi("", 10, 10),  # no name
    {"name": "Ohne Ort"},  # no position
    poi("Stadtbibliothek", 300, 0),  # the same place twice
    "kein Objekt",
    poi("Kaputt", 10, 10) | {"geopoint": geo(91.0, 8.0)},
]


def test_distance_and_bearing_match_known_values() -> None:
    d, b = distance_and_bearing(LAT, LON, LAT + 1000 / 111_195.0, LON)
    assert abs(d - 1000) < 2 and (b < 0.5 or b > 359.5)  # 1 km due north
    d, b = distance_and_bearing(LAT, LON, LAT, LON + 500 / (111_195.0 * math.cos(math.radians(LAT))))
    assert abs(d - 500) < 2 and abs(b - 90) < 0.5  # 500 m east
    d, b = distance_and_bearing(LAT, LON, LAT - 0.001, LON)
    assert abs(b - 180) < 0.5  # south
    assert distance_text(347) == "350 m" and distance_text(1234) == "1,2 km"
    assert distance_text(1234, "en-GB") == "1.2 km" and distance_text(2) == "10 m"
    assert ring_step(180) == 100 and ring_step(900) == 500 and ring_step(1500) == 1000


def test_places_are_nearest_first_and_the_unusable_ones_dropped() -> None:
    result = {"results": RESULT, "categories": [{"objectId": "cat1", "name": "Verwaltung"}]}
    places = places_from_result(result, LAT, LON, max_distance_m=2000)
    assert [p.name for p in places.places] == ["Bürgerbüro im Rathaus", "Stadtbibliothek", "Schwimmbad Nordbad"]
    office, library, pool = places.places
    assert (office.place, office.category) == ("Marktplatz 1", "Verwaltung")
    assert (library.place, library.category) == ("Kirchstraße 2", "Bildung")
    assert pool.place == "64293 Darmstadt" and pool.category is None
    assert abs(office.distance_m - 120) < 2 and abs(office.bearing_deg - 90) < 1
    assert library.walk_min == 4  # 300 m at 80 m a minute
    only = places_from_result(RESULT, LAT, LON, categories=["bildung"])
    assert [p.name for p in only.places] == ["Stadtbibliothek"]
    assert len(places_from_result(RESULT, LAT, LON, max_items=1).places) == 1


@pytest.mark.parametrize("result", [None, 42, "x", {"results": "nope"}, [None, [], {}], {"results": [{"name": 5}]}])
def test_hostile_answers_give_an_empty_list(result: Any) -> None:
    assert places_from_result(result, LAT, LON).places == ()


def test_ten_thousand_pois_keep_only_the_nearest() -> None:
    many = [poi(f"Ort {i}", north_m=(i % 1000) + 5, east_m=0) for i in range(10_000)]
    places = places_from_result(many, LAT, LON, max_items=12)
    assert len(places.places) == 12 and places.places[0].name == "Ort 0"
    assert [p.distance_m for p in places.places] == sorted(p.distance_m for p in places.places)


def test_factory_builds_a_places_feed_with_a_hub_and_skips_it_without() -> None:
    section = {"pois": {"type": "pois", "lat": LAT, "lon": LON, "max_items": 5, "categories": ["Bildung"]},
               "bad": {"type": "places", "lat": LAT}}
    built = build_feeds(section, client=object())
    (feed,) = built.feeds
    assert isinstance(feed, PlacesFeed) and feed.max_items == 5 and feed.categories == ["Bildung"]
    assert any("'bad'" in p and "lon" in p for p in built.problems)
    assert build_feeds({"pois": section["pois"]}, client=None).feeds == []


def sample_places(n: int = 6) -> Places:
    names = ["Bürgerbüro im Rathaus", "Stadtbibliothek mit einem sehr langen Namen für die Zweigstelle Süd",
             "Schwimmbad Nordbad", "Tourist-Information", "Jugendzentrum „Grüne Halle“", "Museum für Stadtgeschichte",
             "Öffentliche Toilette", "Fahrradstation am Hauptbahnhof"]
    out = []
    for i in range(n):
        bearing = (i * 53) % 360
        distance = 90.0 + i * 210
        out.append(Place(name=names[i % len(names)], place="Marktplatz 1" if i % 2 else None,
                         category="Verwaltung" if i % 3 == 0 else None, latitude=LAT, longitude=LON,
                         distance_m=distance, bearing_deg=float(bearing)))
    return Places(LAT, LON, tuple(out))


@pytest.mark.parametrize("kind", ["pois", "map"])
@pytest.mark.parametrize("size", SIZES)
def test_list_and_map_text_stays_in_its_box(qapp: Any, kind: str, size: tuple[int, int]) -> None:
    view = make(kind, sample_places(), size)
    assert isinstance(view, PlaceMap if kind == "map" else PlaceList)
    paint(view)
    runs = assert_fits(view)
    if size[0] >= 480 and size[1] >= 540:
        assert any("Bürgerbüro" in r.text for r in runs), [r.text for r in runs]
    if kind == "map" and size[0] >= 480 and size[1] >= 540:
        assert any(r.text == "Sie sind hier" for r in runs)


def test_map_puts_a_place_due_east_right_of_the_centre(qapp: Any) -> None:
    east = Places(LAT, LON, (Place("Rathaus", None, None, LAT, LON, 400.0, 90.0),))
    view = make("map", east, (960, 540), options={"accent": "#00ff00"})
    image = paint(view)
    here = next(r for r in view.runs if r.text == "Sie sind hier")
    cy = here.rect.top() - 12  # just above the label: the centre dot
    cx = here.rect.center().x()
    green = [x for x in range(view.width()) if image.pixelColor(x, cy) == QColor("#00ff00")]
    assert green and min(green) > cx  # the marker is right of the screen's position, on its row


def test_empty_and_stale_states(qapp: Any) -> None:
    view = make("pois", Places(LAT, LON, ()), (960, 540))
    paint(view)
    assert any(r.text == "Keine Orte in der Nähe" for r in view.runs)
    view = make("map", None, (960, 540), fetched_at=None)
    paint(view)
    assert any(r.text == "Keine Orte in der Nähe" for r in view.runs)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.text(min_size=1, max_size=300), min_size=0, max_size=30),
       size=st.sampled_from([(480, 880), (1080, 1920), (1920, 200), (200, 150)]),
       kind=st.sampled_from(["pois", "map"]))
def test_odd_names_never_break_the_widgets(qapp: Any, names: list[str], size: tuple[int, int], kind: str) -> None:
    objects = [poi(n, north_m=(i * 37) % 1900, east_m=(i * 91) % 1500 - 700) for i, n in enumerate(names)]
    view = make(kind, places_from_result(objects, LAT, LON), size)
    paint(view)
    assert_fits(view)
