"""Translation of foreign documents into feed values: sane rows kept, absurd ones dropped, odd data survived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from player.feeds.departures import departures_from_result, stop_name_from_result
from player.feeds.events import Events, events_from_objects
from player.feeds.fields import dig
from player.feeds.generic import items_from_document
from player.feeds.plaintext import plain_text
from player.feeds.press import press_releases_from_objects
from player.feeds.sensors import locale_map, readings_from_objects
from player.feeds.warnings import detail_fields, warning_from_dashboard
from player.feeds.weather import weather_from_object

NOW = datetime(2025, 3, 1, 9, 42, tzinfo=UTC)  # Saturday 10:42 in Berlin


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)


def with_known_keys(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={k: json_values for k in keys})


# ------------------------------------------------------------------------------------------- departures


def test_departures_sorted_by_expected_time_with_delay_cancel_platform() -> None:
    rows = [
        {"shortName": "5", "name": "Universität/Süd", "departureTimePlanned": iso(NOW + timedelta(minutes=5)),
         "departureTimeEstimated": iso(NOW + timedelta(minutes=8)), "platform": "2"},
        {"shortName": "1", "name": "Hauptbahnhof", "departureTimePlanned": iso(NOW + timedelta(minutes=7))},
        {"shortName": "3", "name": "Nord", "departureTimePlanned": iso(NOW + timedelta(minutes=6)),
         "realtimeStatus": ["MONITORED", "TRIP_CANCELLED"]},
        {"shortName": "9", "name": "1970", "departureTimePlanned": "1970-01-01T00:00:00Z"},
        {"shortName": "9", "name": "Übermorgen", "departureTimePlanned": iso(NOW + timedelta(days=2))},
        {"shortName": "<b>7</b>", "name": "Wald\x00friedhof", "departureTimePlanned": iso(NOW + timedelta(minutes=1)),
         "departureTimeEstimated": "9999-01-01T00:00:00Z"},
        {"name": "ohne Linie", "departureTimePlanned": iso(NOW)},
        "junk",
    ]
    deps = departures_from_result([{"availableOptions": rows}, None, {"availableOptions": "x"}], NOW)
    assert [(d.line, d.destination) for d in deps] == [
        ("<b>7</b>", "Wald friedhof"), ("3", "Nord"), ("1", "Hauptbahnhof"), ("5", "Universität/Süd")]
    seven, three, one, five = deps
    assert seven.estimated is None  # absurd prediction ignored, departure kept
    assert three.cancelled and not one.cancelled and one.delay_min is None
    assert five.delay_min == 3 and five.platform == "2"


def test_stop_name() -> None:
    assert stop_name_from_result({"stops": [{"id": "x"}, {"name": "Rathaus"}]}) == "Rathaus"
    assert stop_name_from_result([1, 2]) is None


@settings(max_examples=200)
@given(st.lists(with_known_keys(["shortName", "name", "departureTimePlanned", "departureTimeEstimated",
                                 "isCancelled", "realtimeStatus", "platform", "transportation", "location"]),
                max_size=20) | json_values)
def test_departures_survive_odd_rows(rows: Any) -> None:
    deps = departures_from_result([{"availableOptions": rows}], NOW)
    for d in deps:
        assert NOW - timedelta(minutes=5) <= d.expected <= NOW + timedelta(days=1)
        assert d.line and len(d.line) <= 20 and "\n" not in d.destination
    assert list(deps) == sorted(deps, key=lambda d: (d.expected, d.line, d.destination))


def test_departures_10000_rows_capped() -> None:
    rows = [{"shortName": str(i % 30), "name": "Ziel", "departureTimePlanned": iso(NOW + timedelta(seconds=i))}
            for i in range(10_000)]
    assert len(departures_from_result([{"availableOptions": rows}], NOW, max_rows=40)) == 40


# ------------------------------------------------------------------------------------------- weather


def test_weather_values_german_names_units_absurd_dropped() -> None:
    report = weather_from_object({
        "shortName": "Hauptwache", "dateObserved": {"__type": "Date", "iso": "2025-03-01T09:30:00.000Z"},
        "geopoint": {"__type": "GeoPoint", "latitude": 50.1, "longitude": 8.7},
        "values": {
            "lufttemperatur": {"name": "Lufttemperatur", "unit": "°C", "value": 9999},
            "relative_luftfeuchte": {"value": "71,5"},
            "realtiver_luftdruck": {"name": "Luftdruck", "unit": "hPa", "value": 1013.2},
            "globalstrahlung": {"name": "Globalstrahlung", "unit": "W/m²", "value": None},
            "niederschlagsintensitaet": 0.4,
        }})
    assert report.station == "Hauptwache" and report.observed_at == datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    assert [(v.name, v.value, v.unit) for v in report.values] == [
        ("Niederschlag", 0.4, "mm/h"), ("Relative Luftfeuchte", 71.5, "%"), ("Luftdruck", 1013.2, "hPa")]
    assert report.get("lufttemperatur") is None


@given(json_values | with_known_keys(["values", "shortName", "dateObserved", "geopoint"]))
def test_weather_survives_odd_objects(obj: Any) -> None:
    for value in weather_from_object(obj).values:
        assert -60 <= value.value <= 1500 and value.unit


# ------------------------------------------------------------------------------------------- press


def test_press_newest_ten_not_in_future_plain_text() -> None:
    objs = [{"objectId": f"p{i}", "title": f"Meldung {i}", "content": f"<p>Text {i}</p>",
             "date": {"__type": "Date", "iso": iso(NOW - timedelta(days=i))}} for i in range(15)]
    objs.append({"objectId": "future", "title": "Morgen", "date": {"__type": "Date", "iso": iso(NOW + timedelta(days=1))}})
    objs.append({"objectId": "xss", "title": "<script>alert(1)</script><img src=x onerror=alert(2)>Rathaus &amp; Co",
                 "content": "<iframe src=evil></iframe><p>Absatz&nbsp;1</p><p>Absatz 2</p>",
                 "date": {"__type": "Date", "iso": iso(NOW - timedelta(hours=1))}, "imageUrl": "javascript:alert(1)"})
    items = press_releases_from_objects(objs, NOW)
    assert [i.id for i in items] == ["p0", "xss"] + [f"p{i}" for i in range(1, 9)]
    xss = items[1]
    assert xss.title == "Rathaus & Co" and xss.text == "Absatz 1\nAbsatz 2" and xss.image_url is None


@given(st.lists(json_values | with_known_keys(["title", "content", "date", "imageUrl", "sourceId"]), max_size=15))
def test_press_survives_odd_objects(objs: list[Any]) -> None:
    items = press_releases_from_objects(objs, NOW)
    assert len(items) <= 10
    for item in items:
        assert item.title and "<script" not in item.title.lower() and "\n" not in item.title


# ------------------------------------------------------------------------------------------- plain text


def test_plain_text_never_keeps_tags_or_scripts() -> None:
    assert plain_text("<script>document.write('x')</script>Hallo <b>Welt</b>") == "Hallo Welt"
    assert plain_text("&lt;script&gt;alert(1)&lt;/script&gt;Titel") == "Titel"
    assert plain_text("Preis &lt; 5 € &amp; mehr") == "Preis < 5 € & mehr"
    assert plain_text(None) == "" and plain_text(42) == ""
    assert plain_text("a" * 10_000, 100) == "a" * 99 + "…"


@given(st.text(alphabet=st.sampled_from(list("<>/&;=\"' abcpsritg!-\n")), max_size=200))
def test_plain_text_output_has_no_tags(html: str) -> None:
    text = plain_text(html)
    assert "\n" not in text and "<script" not in text.lower() and "<b>" not in text


# ------------------------------------------------------------------------------------------- events


def test_events_upcoming_today_and_this_week() -> None:
    def ev(oid: str, start: datetime, end: datetime | None = None, **extra: Any) -> dict[str, Any]:
        doc = {"objectId": oid, "name": f"Event {oid}", "startDate": {"__type": "Date", "iso": iso(start)}, **extra}
        if end:
            doc["endDate"] = {"__type": "Date", "iso": iso(end)}
        return doc

    objs = [
        ev("over", NOW - timedelta(hours=3), NOW - timedelta(hours=1)),
        ev("running", NOW - timedelta(hours=1), NOW + timedelta(hours=1),
           location={"address": {"streetAddress": "Marktplatz 1", "postalCode": "12345", "addressLocality": "Stadt"}}),
        ev("tonight", NOW + timedelta(hours=9), eventStatus="EventCancelled", category=["Musik", {"name": "Kultur"}]),
        ev("monday", NOW + timedelta(days=2)),
        ev("sunday", NOW + timedelta(days=1, hours=12)),
        ev("far", NOW + timedelta(days=30)),
        {"name": "kein Datum"},
    ]
    events = Events(events_from_objects(objs, NOW))
    assert [e.id for e in events.items] == ["running", "tonight", "sunday", "monday"]
    assert [e.id for e in events.today(NOW)] == ["running", "tonight"]
    assert [e.id for e in events.this_week(NOW)] == ["running", "tonight", "sunday"]
    assert events.items[0].place == "Marktplatz 1 12345 Stadt"
    assert events.items[1].cancelled and events.items[1].category == "Musik, Kultur"


@given(st.lists(json_values | with_known_keys(["name", "startDate", "endDate", "location", "image", "category",
                                                "eventStatus", "description"]), max_size=15))
def test_events_survive_odd_objects(objs: list[Any]) -> None:
    for event in events_from_objects(objs, NOW):
        assert event.name and event.start <= NOW + timedelta(days=14)


# ------------------------------------------------------------------------------------------- sensors


def test_sensors_with_locale_names_and_units() -> None:
    names = locale_map([
        {"locale": "de-DE", "key": "temperature", "value": "Temperatur"},
        {"locale": "en", "key": "temperature", "value": "Temperature"},
        {"locale": "de", "key": "no2", "value": "Stickstoffdioxid"},
        {"locale": "de-DE", "key": None, "value": "x"},
    ])
    station = {"__type": "Object", "className": "EnvironmentStation", "objectId": "st1", "name": "Rathaus"}
    objs = [
        {"objectId": "a", "value": 21.5, "station": station,
         "sensorType": {"name": "temperature", "unit": "°C", "order": 1}},
        {"objectId": "b", "value": "40", "station": station, "sensorType": {"name": "no2", "unit": "µg/m³", "order": 2}},
        {"objectId": "c", "value": "n/a", "station": station, "sensorType": {"name": "pm10", "unit": "µg/m³"}},
        {"objectId": "d", "value": 1e300, "station": station, "sensorType": {"name": "pm10"}},
        {"objectId": "e", "value": 3, "station": {"name": "Bahnhof", "objectId": "st2"}, "sensorType": {"name": "pm10"}},
    ]
    readings = readings_from_objects(objs, names)
    assert [(r.station, r.name, r.value, r.unit) for r in readings] == [
        ("Bahnhof", "pm10", 3.0, ""), ("Rathaus", "Temperatur", 21.5, "°C"),
        ("Rathaus", "Stickstoffdioxid", 40.0, "µg/m³")]
    assert [r.sensor_id for r in readings_from_objects(objs, names, stations=["st2"])] == ["e"]


@given(st.lists(json_values | with_known_keys(["value", "station", "sensorType", "observedAt"]), max_size=15))
def test_sensors_survive_odd_objects(objs: list[Any]) -> None:
    for reading in readings_from_objects(objs, locale_map(objs)):
        assert reading.name and abs(reading.value) <= 1e9


# ------------------------------------------------------------------------------------------- NINA, generic


@given(json_values | with_known_keys(["id", "payload", "sent", "i18nTitle", "expiresDate"]))
def test_nina_entries_survive_odd_data(entry: Any) -> None:
    warning = warning_from_dashboard(entry)
    assert warning is None or (warning.id and warning.headline)
    detail_fields(entry)


@given(json_values, st.sampled_from(["", "/", "/a", "a.b", "/a/0/b", "a/b", "0"]))
def test_generic_paths_and_items_survive_odd_documents(doc: Any, path: str) -> None:
    dig(doc, path)
    items_from_document(doc, path, {"title": "a", "text": "b", "time": "c", "value": "d/e"})
