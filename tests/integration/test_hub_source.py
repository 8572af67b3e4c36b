"""HubSource against the real test hub (Parse Server 9 + PostgreSQL/PostGIS, LiveQuery). No mocked HTTP.

Seeding goes through the REST API with the master key, as an administrator's tool would.
"""

from __future__ import annotations

import struct
import threading
import time
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from hubserver import TestHub
from player.identity import read_device_id
from player.layouts import load_screen_dict
from player.parse_rest import HubUnavailable, ParseClient, geopoint, parse_date, pointer
from player.sources.base import NotModified, SourceError, SourceResult
from player.sources.livequery import LiveQueryClient
from player.sources.parse_hub import HubSource

LAT, LON = 50.1109, 8.6821
NOW = datetime.now(UTC)


class CountingSession(requests.Session):
    """A real requests session that counts the HTTP requests the source makes."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.paths: list[str] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.count += 1
        self.paths.append(f"{method} {url}")
        return super().request(method, url, *args, **kwargs)


def png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def source_for(hub: TestHub, state_dir: Path, *, js: bool = False, session: requests.Session | None = None,
               **client_kwargs: Any) -> HubSource:
    keys = {"js_key": hub.js_key} if js else {"rest_key": hub.rest_key}
    client = ParseClient(hub.url, hub.app_id, session=session, timeout=(2, 10), **keys, **client_kwargs)
    return HubSource(client, state_dir)


def make(hub: TestHub, cls: str, fields: dict[str, Any]) -> str:
    return str(hub.rest("POST", f"/classes/{cls}", fields)["objectId"])


def relate(hub: TestHub, cls: str, oid: str, key: str, target_cls: str, ids: list[str]) -> None:
    hub.rest("PUT", f"/classes/{cls}/{oid}", {key: {"__op": "AddRelation",
                                                    "objects": [pointer(target_cls, i) for i in ids]}})


def screen_row(hub: TestHub, uuid: str) -> dict[str, Any]:
    (row,) = hub.query("SteleScreen", {"uuid": uuid})
    return row


def slide(hub: TestHub, name: str, start: datetime | None, end: datetime | None, **extra: Any) -> str:
    fields: dict[str, Any] = {"file": hub.upload_file(name, png(), "image/png"), "duration": 7, **extra}
    if start:
        fields["startDate"] = parse_date(start)
    if end:
        fields["endDate"] = parse_date(end)
    return make(hub, "SteleDiashowObject", fields)


def activate(hub: TestHub, uuid: str, *, kind: str = "Diashow", state: str = "Aktiv",
             config: dict[str, Any] | None = None, location: bool = True) -> str:
    """State + layout type + layout config on the screen, as an administrator does it. Returns the config id."""
    cfg = make(hub, "SteleLayoutConfig", config or {"name": "Test", "showHeader": False, "showFooter": False})
    update: dict[str, Any] = {
        "state": pointer("SteleScreenState", make(hub, "SteleScreenState", {"name": state})),
        "layoutType": pointer("SteleLayoutType", make(hub, "SteleLayoutType", {"name": kind})),
        "layoutConfig": pointer("SteleLayoutConfig", cfg),
    }
    if location:
        update["location"] = geopoint(LAT, LON)
    hub.rest("PUT", f"/classes/SteleScreen/{screen_row(hub, uuid)['objectId']}", update)
    return cfg


def diashow_config(hub: TestHub, cfg: str, slide_ids: list[str]) -> str:
    dia = make(hub, "SteleDiashowConfig", {"name": "Dias"})
    relate(hub, "SteleDiashowConfig", dia, "diashowObjects", "SteleDiashowObject", slide_ids)
    hub.rest("PUT", f"/classes/SteleLayoutConfig/{cfg}", {"diashowConfig": pointer("SteleDiashowConfig", dia)})
    return dia


def content(result: SourceResult | NotModified) -> SourceResult:
    assert isinstance(result, SourceResult), result
    assert result.setup is None, result.setup
    load_screen_dict(result.document, "hub", strict=True)  # a valid document without any defect
    return result


# -------------------------------------------------------------------------------------------------- tests
def test_first_registration_creates_row_and_returns_setup(clean_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(clean_hub, tmp_path, js=True)  # the JavaScript key works as well as the REST key
    result = source.fetch(None)
    assert isinstance(result, SourceResult) and result.setup is not None
    uuid = read_device_id(tmp_path)
    assert uuid and result.setup.screen_id == uuid
    row = screen_row(clean_hub, uuid)
    assert row["name"] == result.setup.screen_name and len(row["name"].split()) == 3
    assert clean_hub.url in result.setup.message and "Freischaltung" in result.setup.message

    # a second player start finds the same row (no duplicate), same id, same name
    again = source_for(clean_hub, tmp_path).fetch(None)
    assert isinstance(again, SourceResult) and again.setup is not None
    assert again.setup.screen_name == row["name"] and len(clean_hub.query("SteleScreen")) == 1
    # nothing changed since: the next poll is NotModified
    assert isinstance(source.fetch(again.state), NotModified)


def test_activation_returns_content_with_uploaded_files(clean_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(clean_hub, tmp_path)
    setup = source.fetch(None)
    assert isinstance(setup, SourceResult) and setup.setup is not None
    uuid = setup.setup.screen_id
    cfg = activate(clean_hub, uuid)
    ids = [slide(clean_hub, f"bild{i}.png", NOW - timedelta(days=1), NOW + timedelta(days=1)) for i in range(2)]
    diashow_config(clean_hub, cfg, ids)

    result = content(source.fetch(setup.state))  # the poll sees the change, the fetch delivers content
    items = result.document["layouts"]["main"]["zones"][0]["items"]
    assert [i["id"] for i in items] == ids  # createdAt order
    assert all(i["type"] == "image" and i["duration"] == 7 for i in items)
    assert set(result.media) == {i["src"] for i in items}
    for item in items:  # the media URLs are the hub's files, downloadable as they are
        assert requests.get(result.media[item["src"]].url, timeout=10).content == png()
    assert result.document["name"] == screen_row(clean_hub, uuid)["name"]


def test_diashow_date_windows_and_order(clean_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(clean_hub, tmp_path)
    uuid = source.device_id
    source.fetch(None)
    cfg = activate(clean_hub, uuid, state="ACTIVE", kind="DIASHOW")  # old names
    past = slide(clean_hub, "vorbei.png", NOW - timedelta(days=9), NOW - timedelta(days=2))
    future = slide(clean_hub, "bald.png", NOW + timedelta(days=2), NOW + timedelta(days=9), order=1)
    # a week around now: some weekday 07:00-19:00 always lies inside (a narrower range is never active on a
    # weekend night, which the validator rightly reports)
    current = slide(clean_hub, "jetzt.png", NOW - timedelta(days=4), NOW + timedelta(days=4), order=2,
                    weekdays=["mo", "di", "mi", "do", "fr"], timeFrom="07:00", timeTo="19:00")
    undated = slide(clean_hub, "ohne.png", None, NOW + timedelta(days=1))
    diashow_config(clean_hub, cfg, [past, future, current, undated])

    result = content(source.fetch(None))
    items = {i["id"]: i for i in result.document["layouts"]["main"]["zones"][0]["items"]}
    assert list(items) == [future, current, past]  # `order` first, then createdAt; undated hidden
    assert datetime.fromisoformat(items[past]["valid"]["end"]) < NOW  # kept: the resolver hides it by time
    assert datetime.fromisoformat(items[future]["valid"]["start"]) > NOW
    assert items[current]["valid"]["weekdays"] == ["mon", "tue", "wed", "thu", "fri"]
    assert items[current]["valid"]["times"] == [{"from": "07:00", "to": "19:00"}]
    assert any("without startDate/endDate" in p for p in source.last_problems)


def test_grid_tiles_with_old_names(clean_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(clean_hub, tmp_path)
    source.fetch(None)
    grid = make(clean_hub, "SteleGridConfig", {"name": "Raster"})
    cfg = activate(clean_hub, source.device_id, state="ACTIVE", kind="GRID",
                   config={"showHeader": True, "showFooter": True, "gridConfig": pointer("SteleGridConfig", grid)})
    diashow_config(clean_hub, cfg, [slide(clean_hub, "kachel.png", NOW - timedelta(days=1), NOW + timedelta(days=1))])
    positions = []
    for pos, name in ((1, "Wetter"), (2, "Busabfahrten"), (3, "Diashow"), (4, "Raumbuchung")):
        tile_type = make(clean_hub, "SteleTileType", {"name": name})
        tile = make(clean_hub, "SteleTile", {"tileType": pointer("SteleTileType", tile_type), "config": {}})
        positions.append(make(clean_hub, "SteleTilePosition", {"position": pos, "tile": pointer("SteleTile", tile)}))
    relate(clean_hub, "SteleGridConfig", grid, "tiles", "SteleTilePosition", positions)

    result = content(source.fetch(None))
    zones = {z["id"]: z for z in result.document["layouts"]["main"]["zones"]}
    assert {"header", "clock", "footer", "tile1", "tile2", "tile3", "tile4"} == set(zones)
    assert zones["tile1"]["items"][0]["widget"] == "weather"
    assert zones["tile2"]["items"][0]["widget"] == "departures"
    assert zones["tile3"]["items"][0]["type"] == "image" and len(result.media) == 1
    assert zones["tile4"]["items"][0]["widget"] == "empty"
    assert result.document["feeds"]["departures"] == {"type": "departures", "lat": LAT, "lon": LON}
    assert result.document["feeds"]["press"] == {"type": "press"}  # the footer ticker
    assert any("Raumbuchung" in p for p in source.last_problems)
    # the tile classes are watched too: renaming a tile type is seen by the next poll
    assert isinstance(source.fetch(result.state), NotModified)
    (rb,) = clean_hub.query("SteleTileType", {"name": "Raumbuchung"})
    clean_hub.rest("PUT", f"/classes/SteleTileType/{rb['objectId']}", {"name": "Karte"})
    changed = content(source.fetch(result.state))
    assert {z["id"]: z for z in changed.document["layouts"]["main"]["zones"]}["tile4"]["items"][0]["widget"] == "map"


def test_deactivation_and_deleted_config_show_setup(clean_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(clean_hub, tmp_path)
    source.fetch(None)
    cfg = activate(clean_hub, source.device_id)
    assert content(source.fetch(None))
    clean_hub.rest("DELETE", f"/classes/SteleLayoutConfig/{cfg}")
    gone = source.fetch(None)
    assert isinstance(gone, SourceResult) and gone.setup is not None and "Layout-Konfiguration" in gone.setup.message


def test_polling_not_modified_and_request_count(clean_hub: TestHub, tmp_path: Path) -> None:
    session = CountingSession()
    source = source_for(clean_hub, tmp_path, session=session)
    source.fetch(None)
    cfg = activate(clean_hub, source.device_id)
    ids = [slide(clean_hub, "a.png", NOW - timedelta(days=1), NOW + timedelta(days=1))]
    diashow_config(clean_hub, cfg, ids)
    state = content(source.fetch(None)).state

    session.count = 0
    for _ in range(60):  # a quiet hour at the default poll interval of 60 s
        assert isinstance(source.fetch(state), NotModified)
    assert session.count == 60, session.paths[:5]  # ONE small batch request per idle poll
    print(f"\nquiet hour (60 polls): {session.count} HTTP requests")

    # an edit of a slide, a new slide and a deletion are each seen by the next poll
    clean_hub.rest("PUT", f"/classes/SteleDiashowObject/{ids[0]}", {"duration": 12})
    edited = content(source.fetch(state))
    assert edited.document["layouts"]["main"]["zones"][0]["items"][0]["duration"] == 12
    clean_hub.rest("DELETE", f"/classes/SteleDiashowObject/{ids[0]}")
    deleted = content(source.fetch(edited.state))
    assert deleted.document["layouts"]["main"]["zones"][0]["items"] == []
    assert isinstance(source.fetch(deleted.state), NotModified)


def test_hub_down_raises_unavailable(clean_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(clean_hub, tmp_path)
    state = source.fetch(None).state
    clean_hub.stop()
    try:
        with pytest.raises(HubUnavailable) as info:
            source.fetch(state)
        assert isinstance(info.value, SourceError) and clean_hub.url in str(info.value)
        assert "\n" not in str(info.value)
    finally:
        clean_hub.start()
    assert isinstance(source.fetch(state), NotModified)  # back: nothing changed meanwhile


def test_session_expiry_relogin_per_screen_user(clean_hub: TestHub, tmp_path: Path) -> None:
    clean_hub.create_user("stele-bahnhof", "geheim-456")
    source = source_for(clean_hub, tmp_path, username="stele-bahnhof", password="geheim-456")
    state = source.fetch(None).state
    token = source.client.session_token
    assert token
    for session in clean_hub.query("_Session", {"sessionToken": token}):
        clean_hub.rest("DELETE", f"/classes/_Session/{session['objectId']}")
    assert isinstance(source.fetch(state), NotModified)  # 209 -> login again -> same answer
    assert source.client.session_token and source.client.session_token != token


def test_livequery_change_triggers_callback(clean_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(clean_hub, tmp_path)
    source.fetch(None)
    cfg = activate(clean_hub, source.device_id)
    ids = [slide(clean_hub, "lq.png", NOW - timedelta(days=1), NOW + timedelta(days=1))]
    diashow_config(clean_hub, cfg, ids)
    state = content(source.fetch(None)).state

    fired = threading.Event()
    stamps: list[float] = []

    def on_change() -> None:
        stamps.append(time.perf_counter())
        fired.set()

    live = source.watch(on_change)
    assert live is not None
    try:
        assert live.wait_subscribed(10)
        latencies = []
        for duration in (9, 10, 11, 12, 13):
            fired.clear()
            stamps.clear()
            written = time.perf_counter()
            clean_hub.rest("PUT", f"/classes/SteleDiashowObject/{ids[0]}", {"duration": duration})
            assert fired.wait(5), "no LiveQuery event within 5 s"
            latencies.append((stamps[0] - written) * 1000)
        print(f"\nLiveQuery REST write -> callback: median {sorted(latencies)[2]:.1f} ms, "
              f"max {max(latencies):.1f} ms")
        assert sorted(latencies)[2] < 500
        result = content(source.fetch(state))  # the triggered sync sees the change
        assert result.document["layouts"]["main"]["zones"][0]["items"][0]["duration"] == 13
        # the screen's own row is watched too (activation/deactivation by the administrator)
        fired.clear()
        clean_hub.rest("PUT", f"/classes/SteleScreen/{screen_row(clean_hub, source.device_id)['objectId']}",
                       {"name": "Neuer Name 1"})
        assert fired.wait(5)
    finally:
        live.stop()


def test_livequery_reconnects_after_hub_restart(clean_hub: TestHub, tmp_path: Path) -> None:
    ops: list[str] = []
    fired = threading.Event()

    def on_change(op: str, cls: str, obj: Mapping[str, Any]) -> None:
        ops.append(op)
        fired.set()

    live = LiveQueryClient(clean_hub.ws_url, clean_hub.app_id, rest_key=clean_hub.rest_key,
                           subscriptions=[("SteleDiashowObject", {})], on_change=on_change,
                           min_backoff_s=0.2, max_backoff_s=1.0)
    live.start()
    try:
        assert live.wait_subscribed(10)
        clean_hub.kill()  # the socket drops: a log line, no exception anywhere
        clean_hub.start()
        assert fired.wait(15) and ops[0] == "reconnect"  # missed events -> the sync checks once
        assert live.wait_subscribed(5)
        fired.clear()
        make(clean_hub, "SteleDiashowObject", {"duration": 3})
        assert fired.wait(5) and ops[-1] == "create"
    finally:
        live.stop()


def test_livequery_with_session_token(clean_hub: TestHub, tmp_path: Path) -> None:
    clean_hub.create_user("stele-markt", "geheim-789")
    source = source_for(clean_hub, tmp_path, username="stele-markt", password="geheim-789")
    source.fetch(None)
    fired = threading.Event()
    live = source.watch(fired.set)
    assert live is not None
    try:
        assert live.wait_subscribed(10)
        make(clean_hub, "SteleLayoutConfig", {"name": "neu"})
        assert fired.wait(5)
    finally:
        live.stop()
