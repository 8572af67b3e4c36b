"""NINA warnings and the generic JSON feed against real HTTP on 127.0.0.1, serving tests/data/feeds/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from httpfaults import FaultServer
from player.feeds.base import FeedRunner
from player.feeds.generic import GenericJsonFeed
from player.feeds.warnings import WarningsFeed, ars_district
from player.parse_rest import HubError, HubUnavailable

DATA = Path(__file__).resolve().parent / "data" / "feeds"
NOW = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
MOWAS = "mow.DE-BW-S-SE042-20250301-42-000"
DWD = "dwdmap.2.49.0.0.276.0.DWD.PVW.1740812400000.aa11bb22-0001"


def _sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.fixture
def nina() -> Iterator[FaultServer]:
    files = {"/api31/dashboard/081110000000.json": _sample("nina-dashboard-081110000000.json")}
    for wid in (MOWAS, DWD):
        files[f"/api31/warnings/{wid}.json"] = _sample(f"nina-warning-{wid}.json")
    with FaultServer(files) as srv:
        yield srv


def warnings_feed(srv: FaultServer, **kwargs: object) -> WarningsFeed:
    return WarningsFeed(srv.url("/api31"), ["081110000000"], clock=lambda: NOW, timeout_s=5, **kwargs)  # type: ignore[arg-type]


def test_nina_dashboard_and_details_become_sorted_plain_text_warnings(nina: FaultServer) -> None:
    result = warnings_feed(nina).fetch()

    # expired frost warning dropped; broken entries dropped; severity order, unknown severity last
    assert [w.id for w in result.items] == [MOWAS, DWD, "lhp.HOCHWASSER.BW.1"]
    fire, storm, flood = result.items
    assert fire.severity == "Severe" and fire.severe and result.highest == fire
    assert fire.headline == "Gefahreninformation: Großbrand in Feuerbach"  # script removed
    assert fire.description == ("Im Stadtteil Feuerbach brennt eine Lagerhalle.\n"
                                "Es kommt zu starker Rauchentwicklung & Geruchsbelästigung.")
    assert fire.instruction == ("Halten Sie Fenster und Türen geschlossen.\n"
                                "Schalten Sie Lüftungs- und Klimaanlagen ab.")
    assert fire.sent == datetime(2025, 3, 1, 8, 15, tzinfo=UTC) and fire.provider == "MOWAS"
    assert fire.region == "081110000000"
    assert storm.severity == "Moderate" and storm.description.startswith("Es treten Sturmböen")
    assert storm.instruction == ""
    assert flood.severity == "Unknown" and flood.description == ""  # detail 404: warning still shown


def test_nina_details_are_fetched_once_per_warning(nina: FaultServer) -> None:
    feed = warnings_feed(nina)
    feed.fetch()
    feed.fetch()
    assert nina.count("/api31/dashboard/081110000000.json") == 2
    assert nina.count(f"/api31/warnings/{MOWAS}.json") == 1
    # the warning without a detail document is asked for again (it may appear later)
    assert nina.count("/api31/warnings/lhp.HOCHWASSER.BW.1.json") == 2


def test_nina_min_severity_and_municipal_key_normalised(nina: FaultServer) -> None:
    feed = WarningsFeed(nina.url("/api31"), ["081110000123"], clock=lambda: NOW, min_severity="Severe")
    assert feed.regions == ("081110000000",)
    assert [w.id for w in feed.fetch().items] == [MOWAS]
    with pytest.raises(ValueError, match="ARS"):
        ars_district("08111x")


def test_nina_server_error_keeps_last_good_value(nina: FaultServer, tmp_path: Path) -> None:
    feed = warnings_feed(nina)
    runner = FeedRunner([feed], state_dir=tmp_path, clock=lambda: NOW)
    good = runner.refresh("warnings")
    nina.fault("/api31/dashboard/081110000000.json", fail_next=1)
    state = runner.refresh("warnings")
    assert state.value == good.value and state.error and "HTTP 500" in state.error


def test_nina_unreachable_is_unavailable() -> None:
    feed = WarningsFeed("http://127.0.0.1:9/api31", ["081110000000"], timeout_s=1)
    with pytest.raises(HubUnavailable):
        feed.fetch()


def test_nina_wrong_shape_is_an_error(nina: FaultServer) -> None:
    nina.set_file("/api31/dashboard/081110000000.json", b'{"warnings": []}')
    with pytest.raises(HubError, match="expected a list"):
        warnings_feed(nina).fetch()


# ------------------------------------------------------------------------------------------- generic


@pytest.fixture
def generic() -> Iterator[FaultServer]:
    with FaultServer({"/news.json": _sample("generic-news.json")}) as srv:
        yield srv


FIELDS = {"title": "headline", "text": "body", "time": "published", "value": "stats/visitors"}


def test_generic_feed_maps_fields_and_drops_junk(generic: FaultServer) -> None:
    feed = GenericJsonFeed(generic.url("/news.json"), items="/data/entries", fields=FIELDS, timeout_s=5)
    items = feed.fetch().items
    # {"unrelated": true}, 42 and the entry with only wrong types/a date carry nothing to show: dropped
    assert [i.title for i in items] == ["Wochenmarkt zieht um", "Bürgerbüro geschlossen", "Pegel Neckar"]
    market, office, level = items
    assert market.text == "Ab Montag findet der Wochenmarkt auf dem Rathausplatz statt."
    assert market.time == datetime(2025, 3, 1, 7, 30, tzinfo=UTC) and market.value == "1.250"
    assert office.text == "Am 3. März & 4. März geschlossen." and office.value == 87.0
    assert office.time == datetime(2025, 2, 28, 8, 0, tzinfo=UTC)
    assert level.time is None and level.value == "4,5" and level.text == ""


def test_generic_feed_dotted_paths_sort_and_cap(generic: FaultServer) -> None:
    feed = GenericJsonFeed(generic.url("/news.json"), items="data.entries", fields={"title": "headline",
                           "time": "published"}, max_items=2, sort_by_time=True)
    assert [i.title for i in feed.fetch().items] == ["Wochenmarkt zieht um", "Bürgerbüro geschlossen"]


def test_generic_feed_10000_items_and_huge_strings_are_capped(generic: FaultServer) -> None:
    doc = {"items": [{"title": "<b>Meldung</b> " + str(i) + " " + "x" * 1_000, "text": "y" * 500}
                     for i in range(10_000)]}
    doc["items"][0]["title"] += "z" * 1_000_000
    doc["items"][0]["text"] = "<p>" + "lang " * 200_000 + "</p>"
    generic.set_file("/big.json", json.dumps(doc).encode())
    feed = GenericJsonFeed(generic.url("/big.json"), items="/items", max_items=50, max_text=500,
                           max_body_bytes=30_000_000)
    items = feed.fetch().items
    assert len(items) == 50
    assert all(len(i.title) <= 300 and len(i.text) <= 500 for i in items)
    assert items[0].title.startswith("Meldung 0 x") and items[0].title.endswith("…")


def test_generic_feed_missing_list_and_oversized_body_are_errors(generic: FaultServer) -> None:
    with pytest.raises(HubError, match="no list at"):
        GenericJsonFeed(generic.url("/news.json"), items="/nope").fetch()
    with pytest.raises(HubError, match="exceeds the limit"):
        GenericJsonFeed(generic.url("/news.json"), items="/data/entries", max_body_bytes=100).fetch()
    generic.set_file("/broken.json", b"{\"items\": [")
    with pytest.raises(HubError, match="invalid JSON"):
        GenericJsonFeed(generic.url("/broken.json"), items="/items").fetch()


def test_generic_feed_refuses_unknown_fields() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        GenericJsonFeed("http://127.0.0.1/x", fields={"titel": "a"})


def test_restart_shows_persisted_warnings_as_stale(nina: FaultServer, tmp_path: Path) -> None:
    FeedRunner([warnings_feed(nina)], state_dir=tmp_path, clock=lambda: NOW).refresh("warnings")
    later = NOW + timedelta(hours=1)
    offline = WarningsFeed("http://127.0.0.1:9/api31", ["081110000000"], clock=lambda: later, timeout_s=1)
    runner = FeedRunner([offline], state_dir=tmp_path, clock=lambda: later)
    runner.load_persisted()
    assert runner.state("warnings").value.items[0].id == MOWAS
    assert runner.refresh("warnings").error
    assert runner.state("warnings").value.items[0].id == MOWAS and runner.is_stale("warnings")
