"""Smoke tests of the test hub itself: the hub features the player relies on work against the real server."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
import websocket

from hubserver import HubRequestError, TestHub


def test_screen_created_via_rest_is_found_by_uuid(clean_hub: TestHub) -> None:
    screen_id = str(uuid.uuid4())
    clean_hub.rest("POST", "/classes/SteleScreen", {"uuid": str(uuid.uuid4()), "name": "Andere Stele"})
    created = clean_hub.rest("POST", "/classes/SteleScreen", {"uuid": screen_id, "name": "Stele Rathaus"})

    found = clean_hub.rest(
        "GET", "/classes/SteleScreen", params={"where": {"uuid": screen_id}}, master=False
    )["results"]

    assert [(s["objectId"], s["name"]) for s in found] == [(created["objectId"], "Stele Rathaus")]


def test_uploaded_file_can_be_downloaded_by_its_url(clean_hub: TestHub) -> None:
    payload = bytes(range(256)) * 40
    parse_file = clean_hub.upload_file("plakat.png", payload, "image/png")

    assert parse_file["url"].startswith(clean_hub.url + "/files/")
    response = requests.get(parse_file["url"], timeout=10)
    assert response.status_code == 200
    assert response.content == payload

    # and it can be referenced from an object as a File
    clean_hub.rest("POST", "/classes/SteleDiashowObject", {"file": parse_file, "duration": 10})
    (obj,) = clean_hub.query("SteleDiashowObject")
    assert obj["file"]["url"] == parse_file["url"]


def test_near_sphere_returns_nearest_weather_station_first(clean_hub: TestHub) -> None:
    stations = {
        "Hauptwache": (50.1142, 8.6787),
        "Flughafen": (50.0379, 8.5622),
        "Offenbach": (50.0956, 8.7761),
    }
    for name, (lat, lon) in stations.items():
        clean_hub.rest(
            "POST",
            "/classes/WeatherObserved",
            {
                "shortName": name,
                "geopoint": {"__type": "GeoPoint", "latitude": lat, "longitude": lon},
                "values": {"lufttemperatur": {"name": "Lufttemperatur", "unit": "°C", "value": 7.5}},
            },
        )

    def nearest_to(lat: float, lon: float) -> list[str]:
        where = {"geopoint": {"$nearSphere": {"__type": "GeoPoint", "latitude": lat, "longitude": lon}}}
        results = clean_hub.rest("GET", "/classes/WeatherObserved", params={"where": where}, master=False)
        return [r["shortName"] for r in results["results"]]

    assert nearest_to(50.10, 8.77) == ["Offenbach", "Hauptwache", "Flughafen"]  # Offenbach Innenstadt
    assert nearest_to(50.04, 8.57)[0] == "Flughafen"


def test_mobility_returns_upcoming_departures(clean_hub: TestHub) -> None:
    before = datetime.now(UTC)
    result = clean_hub.call_function(
        "mobility", {"type": "public-transport", "lat": 50.11, "lon": 8.68, "force": True}
    )

    options = result[0]["availableOptions"]
    assert len(options) > 6
    planned = [datetime.fromisoformat(o["departureTimePlanned"].replace("Z", "+00:00")) for o in options]
    assert planned == sorted(planned)
    assert before <= planned[0] <= before + timedelta(minutes=5)
    assert all(o["shortName"] and o["name"] for o in options)
    delayed = [
        o
        for o in options
        if "departureTimeEstimated" in o and o["departureTimeEstimated"] != o["departureTimePlanned"]
    ]
    assert delayed, "fixture must contain a delayed departure"
    assert clean_hub.cloud_calls("mobility")[-1]["params"]["type"] == "public-transport"


def test_cloud_function_result_can_be_overridden_per_test(clean_hub: TestHub) -> None:
    clean_hub.set_cloud_result("pt-stop-nearby", {"stops": []})
    assert clean_hub.call_function("pt-stop-nearby", {"lat": 50.0, "lon": 8.0}) == {"stops": []}

    clean_hub.set_cloud_result("mobility", error=(141, "EFA nicht erreichbar"))
    with pytest.raises(HubRequestError, match="EFA nicht erreichbar"):
        clean_hub.call_function("mobility", {"type": "public-transport", "lat": 50.0, "lon": 8.0})

    clean_hub.clear_cloud_result()
    assert (
        clean_hub.call_function("pt-stop-nearby", {"lat": 50.0, "lon": 8.0})["stops"][0]["name"] == "Rathaus"
    )


def _recv_op(ws: websocket.WebSocket, op: str) -> dict:
    while True:
        message = json.loads(ws.recv())
        if message.get("op") == op:
            return message
        if message.get("op") == "error":
            raise AssertionError(f"LiveQuery error: {message}")


def test_live_query_client_receives_create_event(clean_hub: TestHub) -> None:
    screen_id = str(uuid.uuid4())
    ws = websocket.create_connection(clean_hub.ws_url, timeout=10)
    try:
        ws.send(
            json.dumps({"op": "connect", "applicationId": clean_hub.app_id, "restAPIKey": clean_hub.rest_key})
        )
        _recv_op(ws, "connected")
        ws.send(
            json.dumps(
                {
                    "op": "subscribe",
                    "requestId": 1,
                    "query": {"className": "SteleScreen", "where": {"uuid": screen_id}},
                }
            )
        )
        _recv_op(ws, "subscribed")

        created = clean_hub.rest("POST", "/classes/SteleScreen", {"uuid": screen_id, "name": "Stele Bahnhof"})

        event = _recv_op(ws, "create")
        assert event["requestId"] == 1
        assert event["object"]["objectId"] == created["objectId"]
        assert event["object"]["name"] == "Stele Bahnhof"
    finally:
        ws.close()


def test_killed_hub_comes_back_on_same_url_with_data(clean_hub: TestHub) -> None:
    url = clean_hub.url
    clean_hub.rest("POST", "/classes/SteleScreen", {"uuid": "bleibt", "name": "Stele Markt"})

    clean_hub.kill()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/health", timeout=2)
    clean_hub.start()

    assert clean_hub.url == url
    assert [s["name"] for s in clean_hub.query("SteleScreen", {"uuid": "bleibt"})] == ["Stele Markt"]
