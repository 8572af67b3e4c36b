"""Hub feeds and ParseClient against the real test hub (Parse Server + PostgreSQL/PostGIS, cloud-code fixtures)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from hubserver import TestHub
from player.feeds.base import FeedRunner
from player.feeds.departures import DeparturesFeed
from player.feeds.events import EventsFeed
from player.feeds.places import PlacesFeed
from player.feeds.press import PressFeed
from player.feeds.sensors import SensorsFeed
from player.feeds.weather import WeatherFeed
from player.parse_rest import HubError, HubUnavailable, ParseClient, geopoint, parse_date, pointer

LAT, LON = 50.1109, 8.6821


def client_for(hub: TestHub, **kwargs: object) -> ParseClient:
    kwargs.setdefault("timeout", (5, 20))
    return ParseClient(hub.url, hub.app_id, rest_key=hub.rest_key, **kwargs)  # type: ignore[arg-type]


def date(dt: datetime) -> dict[str, str]:
    return parse_date(dt)


# ------------------------------------------------------------------------------------------- ParseClient


def test_client_crud_batch_files_and_paging(clean_hub: TestHub) -> None:
    client = client_for(clean_hub)
    created = client.create("PressRelease", {"title": "Eins", "date": date(datetime.now(UTC))})
    assert client.get("PressRelease", created["objectId"])["title"] == "Eins"
    client.update("PressRelease", created["objectId"], {"title": "Zwei"})
    assert client.get("PressRelease", created["objectId"])["title"] == "Zwei"
    client.delete("PressRelease", created["objectId"])
    with pytest.raises(HubError) as info:
        client.get("PressRelease", created["objectId"])
    assert info.value.code == 101

    results = client.batch([{"method": "POST", "path": "/classes/Counter", "body": {"n": i}} for i in range(250)])
    assert len(results) == 250 and all("success" in r for r in results)
    rows = client.query("Counter")  # more than one page (100) without a limit
    assert sorted(r["n"] for r in rows) == list(range(250))
    ordered = client.query("Counter", order="-n", limit=150, keys=["n"])
    assert [r["n"] for r in ordered] == list(range(249, 99, -1))


def test_client_login_and_renewal_after_session_revoked(clean_hub: TestHub) -> None:
    clean_hub.create_user("stele-rathaus", "geheim-123")
    client = client_for(clean_hub, username="stele-rathaus", password="geheim-123")
    client.create("Counter", {"n": 1})
    first_token = client.session_token
    assert first_token

    # an administrator revokes the session: the hub answers 209, the client logs in once more
    for session in clean_hub.query("_Session", {"sessionToken": first_token}):
        clean_hub.rest("DELETE", f"/classes/_Session/{session['objectId']}")
    assert [r["n"] for r in client.query("Counter", limit=10)] == [1]
    assert client.session_token and client.session_token != first_token

    # the hub allows file uploads to logged-in users only (as for screenshots)
    uploaded = client.upload_file("stand.txt", b"Stand: 10:42", "text/plain")
    assert uploaded["name"].endswith("stand.txt")
    assert requests.get(uploaded["url"], timeout=10).content == b"Stand: 10:42"


def test_client_wrong_password_is_a_clear_error(clean_hub: TestHub) -> None:
    clean_hub.create_user("stele", "richtig")
    with pytest.raises(HubError, match="login"):
        client_for(clean_hub, username="stele", password="falsch").query("Counter", limit=1)


def test_client_hub_down_is_unavailable(clean_hub: TestHub) -> None:
    client = client_for(clean_hub, timeout=(2, 5))
    clean_hub.stop()
    try:
        with pytest.raises(HubUnavailable):
            client.query("Counter", limit=1)
    finally:
        clean_hub.start()


# ------------------------------------------------------------------------------------------- departures


def test_departures_from_mobility_fixture(clean_hub: TestHub) -> None:
    feed = DeparturesFeed(client_for(clean_hub), LAT, LON)
    board = feed.fetch()
    assert board.stop_name == "Rathaus"
    deps = board.departures
    assert [d.line for d in deps] == ["1", "5", "S1", "3", "1", "N2", "5", "7"]
    by_dest = {d.destination: d for d in deps}
    assert by_dest["Universität/Süd"].delay_min == 3
    assert by_dest["Frankfurt (Main) Hbf"].estimated is None and by_dest["Frankfurt (Main) Hbf"].delay_min is None
    assert by_dest["Gewerbegebiet Nord"].cancelled and not by_dest["Hauptbahnhof"].cancelled
    (call,) = clean_hub.cloud_calls("mobility")
    assert call["params"] == {"type": "public-transport", "lat": LAT, "lon": LON, "force": True}


def test_departures_absurd_rows_dropped_and_hub_error_keeps_last_value(clean_hub: TestHub, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    clean_hub.set_cloud_result("mobility", [{"availableOptions": [
        {"shortName": "9", "name": "Damals", "departureTimePlanned": "1970-01-01T00:00:00Z"},
        {"shortName": "9", "name": "Übermorgen", "departureTimePlanned": (now + timedelta(days=2)).isoformat()},
        {"shortName": "2", "name": "Jetzt", "departureTimePlanned": (now + timedelta(minutes=2)).isoformat()},
        {"shortName": None, "name": 5, "departureTimePlanned": {"x": 1}},
    ]}])
    runner = FeedRunner([DeparturesFeed(client_for(clean_hub), LAT, LON, stop_name="Rathaus")], state_dir=tmp_path)
    good = runner.refresh("departures")
    assert [d.destination for d in good.value.departures] == ["Jetzt"]

    clean_hub.set_cloud_result("mobility", error=(141, "EFA backend down"))
    failed = runner.refresh("departures")
    assert failed.value == good.value and "EFA backend down" in (failed.error or "")


# ------------------------------------------------------------------------------------------- places


def test_places_from_poi_all_nearest_first_within_reach(clean_hub: TestHub, tmp_path: Path) -> None:
    runner = FeedRunner([PlacesFeed(client_for(clean_hub), LAT, LON, max_distance_km=3)], state_dir=tmp_path)
    state = runner.refresh("pois")
    assert state.error is None
    places = state.value.places
    assert [p.name for p in places] == ["Römer (Rathaus)", "Stadtbibliothek", "Zoo Frankfurt"]  # not the airport
    assert places[0].distance_m < 50 and places[0].place == "Römerberg 23"
    assert 1000 < places[2].distance_m < 1800 and 45 < places[2].bearing_deg < 90  # the zoo: north-east
    (call,) = clean_hub.cloud_calls("poi-all")
    assert call["params"] == {}

    clean_hub.set_cloud_result("poi-all", [{"name": "<b>Kaputt</b>", "geopoint": {"__type": "GeoPoint",
                                                                                  "latitude": "x"}}, 7, None])
    assert runner.refresh("pois").value.places == ()  # a hostile answer is an empty list, not a crash
    clean_hub.set_cloud_result("poi-all", error=(141, "POI service down"))
    failed = runner.refresh("pois")
    assert failed.value.places == () and "POI service down" in (failed.error or "")


# ------------------------------------------------------------------------------------------- weather


def test_weather_from_nearest_station(clean_hub: TestHub) -> None:
    stations = {"Hauptwache": (50.1142, 8.6787, 7.5), "Flughafen": (50.0379, 8.5622, 9999),
                "Offenbach": (50.0956, 8.7761, 6.0)}
    for name, (lat, lon, temp) in stations.items():
        clean_hub.rest("POST", "/classes/WeatherObserved", {
            "shortName": name, "geopoint": geopoint(lat, lon), "dateObserved": date(datetime.now(UTC)),
            "values": {"lufttemperatur": {"name": "Lufttemperatur", "unit": "°C", "value": temp},
                       "relative_luftfeuchte": {"name": "Relative Luftfeuchte", "unit": "%", "value": 80}}})
    near_hauptwache = WeatherFeed(client_for(clean_hub), LAT, LON).fetch()
    assert near_hauptwache.station == "Hauptwache"
    assert [(v.name, v.value, v.unit) for v in near_hauptwache.values] == [
        ("Lufttemperatur", 7.5, "°C"), ("Relative Luftfeuchte", 80.0, "%")]
    at_airport = WeatherFeed(client_for(clean_hub), 50.04, 8.56).fetch()
    assert at_airport.station == "Flughafen" and at_airport.get("lufttemperatur") is None  # 9999 °C dropped


# ------------------------------------------------------------------------------------------- press


def test_press_ten_newest_not_future_as_plain_text(clean_hub: TestHub) -> None:
    now = datetime.now(UTC)
    client = client_for(clean_hub)
    client.batch([{"method": "POST", "path": "/classes/PressRelease", "body": {
        "title": f"Meldung {i}", "content": f"<p>Absatz <b>{i}</b></p><script>alert({i})</script>",
        "date": date(now - timedelta(hours=i + 1)), "imageUrl": "https://example.invalid/bild.jpg"}}
        for i in range(12)])
    client.create("PressRelease", {"title": "Aus der Zukunft", "date": date(now + timedelta(days=1))})
    items = PressFeed(client, clock=lambda: now).fetch().items
    assert [i.title for i in items] == [f"Meldung {i}" for i in range(10)]
    assert items[0].text == "Absatz 0" and items[0].image_url == "https://example.invalid/bild.jpg"


# ------------------------------------------------------------------------------------------- events


def test_events_upcoming_from_hub(clean_hub: TestHub) -> None:
    now = datetime.now(UTC)
    client = client_for(clean_hub)
    specs = {"vorbei": (-5, -3), "läuft": (-1, 2), "später": (3, 5), "ohne Ende": (4, None), "nächsten Monat": (24 * 40, None)}
    for name, (start_h, end_h) in specs.items():
        fields = {"name": name, "startDate": date(now + timedelta(hours=start_h)),
                  "location": {"address": "Marktplatz 1", "geopoint": geopoint(LAT, LON)},
                  "description": "<p>Mit <i>Musik</i></p>"}
        if end_h is not None:
            fields["endDate"] = date(now + timedelta(hours=end_h))
        client.create("Event", fields)
    events = EventsFeed(client, clock=lambda: now).fetch()
    assert [e.name for e in events.items] == ["läuft", "später", "ohne Ende"]
    assert events.items[0].place == "Marktplatz 1" and events.items[0].description == "Mit Musik"


# ------------------------------------------------------------------------------------------- sensors


def test_sensors_with_types_stations_and_german_names(clean_hub: TestHub) -> None:
    client = client_for(clean_hub)
    temp = client.create("EnvironmentSensorType", {"name": "temperature", "unit": "°C", "order": 1})
    no2 = client.create("EnvironmentSensorType", {"name": "no2", "unit": "µg/m³", "order": 2})
    station = client.create("EnvironmentStation", {"name": "Rathaus"})
    for type_id, value in ((temp["objectId"], 21.5), (no2["objectId"], 38), (no2["objectId"], None)):
        fields = {"observedAt": date(datetime.now(UTC)),
                  "station": pointer("EnvironmentStation", station["objectId"]),
                  "sensorType": pointer("EnvironmentSensorType", type_id)}
        if value is not None:  # a sensor without a value yet is left out
            fields["value"] = value
        client.create("EnvironmentSensor", fields)
    client.create("EnvironmentLocale", {"locale": "de-DE", "key": "no2", "value": "Stickstoffdioxid"})
    client.create("EnvironmentLocale", {"locale": "en-US", "key": "temperature", "value": "Temperature"})
    readings = SensorsFeed(client).fetch().readings
    assert [(r.station, r.name, r.value, r.unit) for r in readings] == [
        ("Rathaus", "temperature", 21.5, "°C"), ("Rathaus", "Stickstoffdioxid", 38.0, "µg/m³")]


def test_hub_feeds_survive_restart_without_hub(clean_hub: TestHub, tmp_path: Path) -> None:
    client = client_for(clean_hub, timeout=(2, 5))
    runner = FeedRunner([DeparturesFeed(client, LAT, LON)], state_dir=tmp_path)
    first = runner.refresh("departures")
    assert len(first.value.departures) == 8

    clean_hub.stop()
    try:
        offline_client = client_for(clean_hub, timeout=(2, 5))
        later = datetime.now(UTC) + timedelta(minutes=10)
        rebooted = FeedRunner([DeparturesFeed(offline_client, LAT, LON)], state_dir=tmp_path, clock=lambda: later)
        rebooted.load_persisted()
        state = rebooted.refresh("departures")
        assert state.value == first.value and state.error and rebooted.is_stale("departures")
    finally:
        clean_hub.start()

