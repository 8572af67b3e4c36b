"""LiveQuery covers every class the translation reads — also the grid's tile classes and the classes of the state
and layout type pointers, whose names the hub's data reveals only at the first fetch — against the real Parse Server.
A class whose subscription the hub refuses costs one log line; the other subscriptions keep pushing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from faultkit import wait_for
from hubserver import TestHub
from integration.test_hub_source import (
    NOW,
    activate,
    content,
    diashow_config,
    make,
    relate,
    slide,
    source_for,
)
from integration.test_player_hub import player_config
from player.parse_rest import pointer
from player.snapshots import SnapshotStore
from player.sources.livequery import LiveQueryClient
from player.sync import SyncService

TILES = ((1, "Wetter"), (2, "Busabfahrten"), (3, "Diashow"), (4, "Raumbuchung"))


def seed_grid(hub: TestHub, uuid: str) -> None:
    grid = make(hub, "SteleGridConfig", {"name": "Raster"})
    cfg = activate(hub, uuid, kind="Touchscreen",
                   config={"showHeader": False, "showFooter": False, "gridConfig": pointer("SteleGridConfig", grid)})
    diashow_config(hub, cfg, [slide(hub, "kachel.png", NOW.replace(year=NOW.year - 1), NOW.replace(year=NOW.year + 1))])
    positions = []
    for pos, name in TILES:
        tile_type = make(hub, "SteleTileType", {"name": name})
        tile = make(hub, "SteleTile", {"tileType": pointer("SteleTileType", tile_type), "config": {}})
        positions.append(make(hub, "SteleTilePosition", {"position": pos, "tile": pointer("SteleTile", tile)}))
    relate(hub, "SteleGridConfig", grid, "tiles", "SteleTilePosition", positions)


def tile_widget(document: dict[str, Any], zone: str) -> str:
    zones = {z["id"]: z for z in document["layouts"]["main"]["zones"]}
    return str(zones[zone]["items"][0].get("widget") or zones[zone]["items"][0]["type"])


def test_tile_classes_are_pushed_to_the_source(clean_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(clean_hub, tmp_path)
    source.fetch(None)  # registers
    seed_grid(clean_hub, source.device_id)
    fired = threading.Event()
    classes: list[str] = []
    live = source.watch(fired.set)
    assert live is not None
    original = live.on_change
    assert original is not None

    def record(op: str, cls: str, obj: Mapping[str, Any]) -> None:
        classes.append(cls)
        original(op, cls, obj)

    live.on_change = record
    try:
        assert live.wait_subscribed(10)
        state = content(source.fetch(None)).state  # meets SteleTile, SteleTileType, state and layout type classes
        assert {"SteleTile", "SteleTileType", "SteleScreenState", "SteleLayoutType"} <= set(state["classes"])
        assert live.wait_subscribed(10)  # the classes met are subscribed on the running connection
        watched = {cls for cls, _ in live.subscriptions}
        assert {"SteleGridConfig", "SteleTilePosition", "SteleTile", "SteleTileType", "SteleScreenState",
                "SteleLayoutType"} <= watched

        for cls, change in (("SteleTileType", {"name": "Karte"}), ("SteleTilePosition", {"position": 4}),
                            ("SteleTile", {"config": {"zoom": 2}}), ("SteleGridConfig", {"name": "Raster 2"})):
            fired.clear()
            row = clean_hub.query(cls, {"name": "Raumbuchung"} if cls == "SteleTileType" else None)[-1]
            clean_hub.rest("PUT", f"/classes/{cls}/{row['objectId']}", change)
            assert fired.wait(10), f"no push for a change of {cls}"  # nothing polls in this test
            assert classes[-1] == cls
        changed = content(source.fetch(state))
        assert tile_widget(changed.document, "tile4") == "map"
    finally:
        live.stop()


def test_grid_tile_change_reaches_the_player_by_push(clean_hub: TestHub, tmp_path: Path) -> None:
    config = player_config(clean_hub, tmp_path, live_query=True, poll_s=3600)  # polling cannot explain a change
    service = SyncService.from_config(config)
    stop = threading.Event()
    live = service.source.watch(service.wake)  # type: ignore[attr-defined]  # as player/ui/runtime.py does
    thread = threading.Thread(target=service.run_forever, args=(stop,), daemon=True)
    store = SnapshotStore(config.cache_dir)
    try:
        service.recover()
        thread.start()
        wait_for(lambda: (tmp_path / "state" / "device-id").exists(), 20, "the screen registering")
        seed_grid(clean_hub, (tmp_path / "state" / "device-id").read_text().strip())

        def document() -> dict[str, Any] | None:
            snap = store.load_current()
            return None if snap is None else snap.document

        wait_for(lambda: (d := document()) is not None and tile_widget(d, "tile4") == "empty", 30,
                 "the grid on screen (activation pushed by LiveQuery)")
        wait_for(lambda: live.wait_subscribed(0) and "SteleTileType" in {c for c, _ in live.subscriptions}, 10,
                 "the tile type class subscribed")
        (tile_type,) = clean_hub.query("SteleTileType", {"name": "Raumbuchung"})
        clean_hub.rest("PUT", f"/classes/SteleTileType/{tile_type['objectId']}", {"name": "Karte"})
        wait_for(lambda: (d := document()) is not None and tile_widget(d, "tile4") == "map", 30,
                 "the renamed tile type in the published snapshot (pushed)")
    finally:
        stop.set()
        service.stop()
        thread.join(20)
        live.stop()
        service.close()


def test_a_refused_subscription_costs_one_line_and_the_others_keep_pushing(
        clean_hub: TestHub, caplog: pytest.LogCaptureFixture) -> None:
    make(clean_hub, "SteleTileType", {"name": "Wetter"})
    everyone = {"*": True}
    clean_hub.rest("PUT", "/schemas/SteleTileType", {"className": "SteleTileType", "classLevelPermissions": {
        "find": {}, "count": {}, "get": everyone, "create": everyone, "update": everyone, "delete": everyone,
        "addField": everyone, "protectedFields": {}}})  # only the master key may find: no push for the player
    ops: list[tuple[str, str]] = []
    fired = threading.Event()

    def on_change(op: str, cls: str, obj: Mapping[str, Any]) -> None:
        ops.append((op, cls))
        fired.set()

    live = LiveQueryClient(clean_hub.ws_url, clean_hub.app_id, rest_key=clean_hub.rest_key,
                           subscriptions=[("SteleTileType", {}), ("SteleDiashowObject", {})], on_change=on_change,
                           min_backoff_s=0.2, max_backoff_s=1.0)
    with caplog.at_level(logging.INFO):
        live.start()
        try:
            assert live.wait_subscribed(10)  # settled: one confirmed, one refused
            make(clean_hub, "SteleDiashowObject", {"duration": 3})
            assert fired.wait(10)
            make(clean_hub, "SteleDiashowObject", {"duration": 4})
            wait_for(lambda: len(ops) >= 2, 10, "the second push")
        finally:
            live.stop()
    assert ops == [("create", "SteleDiashowObject")] * 2  # no reconnect in between: the socket stayed up
    refused = [r.getMessage() for r in caplog.records if "SteleTileType" in r.getMessage()]
    assert len(refused) == 1 and "polling" in refused[0], refused
