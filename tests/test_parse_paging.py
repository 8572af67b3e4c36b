"""ParseClient paging against hubs that page differently than asked: Parse Server's ``maxLimit`` (pages shorter than
the ``limit`` asked for) and a hub (or caching proxy) that ignores ``skip`` and objectId constraints. Real HTTP on
127.0.0.1 (the `ParseHub` stand-in of tests/test_report_commands_hub.py, which caps pages at ``max_limit`` and answers
``count=1`` as Parse Server does: over the whole query, whatever limit and skip)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from player.parse_rest import ParseClient
from test_report_commands_hub import ParseHub


class CountingHub(ParseHub):
    """`ParseHub` that records the parameters of each GET; ``count_extra`` makes its count too high (rows deleted
    while the player pages, an estimated count)."""

    def __init__(self) -> None:
        self.queries: list[dict[str, list[str]]] = []
        self.count_extra = 0
        super().__init__()

    def answer(self, method: str, path: str, raw: bytes, query: dict[str, list[str]]) -> tuple[int, Any]:
        if method == "GET":
            self.queries.append(query)
        status, doc = super().answer(method, path, raw, query)
        if isinstance(doc, dict) and "count" in doc:
            doc["count"] += self.count_extra
        return status, doc


@pytest.fixture
def hub() -> Iterator[CountingHub]:
    server = CountingHub()
    yield server
    server.close()


def fill(hub: ParseHub, n: int) -> set[str]:
    return {hub.add("Thing", {"n": i, "kind": "a" if i % 2 else "b"}) for i in range(n)}


def test_query_all_reads_past_pages_shortened_by_max_limit(hub: ParseHub) -> None:
    hub.max_limit = 50
    ids = fill(hub, 230)
    rows, complete = ParseClient(hub.url, "app").query_all("Thing")
    assert complete and {r["objectId"] for r in rows} == ids and len(rows) == 230
    assert hub.count("GET", "/classes/Thing") == 6  # 5 pages of 50 or fewer, then an empty one


def test_query_all_keeps_the_where_and_stops_at_max_rows(hub: ParseHub) -> None:
    fill(hub, 250)
    client = ParseClient(hub.url, "app", page_size=40)
    rows, complete = client.query_all("Thing", {"kind": "a"})
    assert complete and len(rows) == 125 and all(r["kind"] == "a" for r in rows)
    rows, complete = client.query_all("Thing", {"kind": "a"}, max_rows=60)
    assert not complete and len(rows) == 60


def test_a_hub_answering_the_same_page_again_is_read_once(hub: ParseHub, caplog: pytest.LogCaptureFixture) -> None:
    fill(hub, 250)
    hub.stuck_queries = True
    client = ParseClient(hub.url, "app")
    caplog.set_level(logging.WARNING, logger="player.parse_rest")
    rows, complete = client.query_all("Thing")
    assert not complete and len(rows) == 100
    assert hub.count("GET", "/classes/Thing") == 2
    # the skip-paged query() stops too instead of asking for the same page up to max_results / page_size times
    rows = client.query("Thing", order="n")
    assert len(rows) == 100 and hub.count("GET", "/classes/Thing") == 4
    assert len([r for r in caplog.records if "already read" in r.getMessage()]) == 2


# ------------------------------------------------------------------------ query(): pages capped by maxLimit
def test_query_reads_past_pages_capped_by_max_limit_by_object_id(hub: CountingHub) -> None:
    hub.max_limit = 30
    ids = fill(hub, 230)
    rows = ParseClient(hub.url, "app").query("Thing")
    assert [r["objectId"] for r in rows] == sorted(ids)
    # 7 pages of 30 and one of 20: the hub's count says that was all, no empty page asked for
    assert hub.count("GET", "/classes/Thing") == 8
    assert [q.get("count") for q in hub.queries] == [["1"]] + [None] * 7  # counted once
    assert all(q["order"] == ["objectId"] for q in hub.queries)


def test_query_with_an_order_reads_past_capped_pages_with_skip(hub: CountingHub) -> None:
    hub.max_limit = 30
    fill(hub, 230)
    client = ParseClient(hub.url, "app")
    rows = client.query("Thing", order="-n", limit=200)
    assert [r["n"] for r in rows] == list(range(229, 29, -1))
    assert [q.get("skip", ["0"])[0] for q in hub.queries] == [str(30 * i) for i in range(7)]
    hub.queries.clear()
    rows = client.query("Thing", {"kind": "a"}, order="n")
    assert [r["n"] for r in rows] == list(range(1, 230, 2))
    assert len(hub.queries) == 4 and all(json.loads(q["where"][0]) == {"kind": "a"} for q in hub.queries)


def test_skip_paging_without_an_order_asks_for_one(hub: CountingHub) -> None:
    """A where on objectId (the hub source's layout configs: ``$in``) or a skip pages with skip; without an order
    the database may answer each page in another order, so the client asks for objectId order."""
    hub.max_limit = 30
    ids = sorted(fill(hub, 120))
    client = ParseClient(hub.url, "app")
    rows = client.query("Thing", {"objectId": {"$in": ids[:75]}})
    assert [r["objectId"] for r in rows] == ids[:75]
    rows = client.query("Thing", skip=10)
    assert [r["objectId"] for r in rows] == ids[10:]
    assert len(hub.queries) >= 6 and all(q.get("order") == ["objectId"] for q in hub.queries)


def test_a_near_query_asks_for_no_order(hub: CountingHub) -> None:
    """The weather feed's nearest station: on a MongoDB hub an explicit order overrides $nearSphere's distance order
    (the screen would show the station with the lowest objectId); found in review."""
    fill(hub, 3)
    near = {"geopoint": {"$nearSphere": {"__type": "GeoPoint", "latitude": 51.5, "longitude": 7.4}}}
    ParseClient(hub.url, "app").query("Thing", where=near, limit=1)
    ParseClient(hub.url, "app").query("Thing", where=near)
    assert hub.queries and all("order" not in q for q in hub.queries)


def test_query_on_a_hub_without_a_cap_asks_no_more_pages_than_before(hub: CountingHub) -> None:
    fill(hub, 250)
    client = ParseClient(hub.url, "app")
    assert len(client.query("Thing")) == 250 and len(client.query("Thing", order="-n")) == 250
    assert hub.count("GET", "/classes/Thing") == 6  # 100 + 100 + 50, twice
    hub.queries.clear()
    # one page at most: no count (Parse would count every matching row; a MongoDB hub fails a count with
    # $nearSphere), and a query of more than one page with $nearSphere asks none either
    assert len(client.query("Thing", limit=1)) == 1 and len(client.query("Thing", order="-n", limit=100)) == 100
    near = {"geopoint": {"$nearSphere": {"__type": "GeoPoint", "latitude": 50.1, "longitude": 8.7}}}
    client.query("Thing", near, limit=1000)
    assert [q.get("count") for q in hub.queries] == [None] * 5


@pytest.mark.parametrize("order", [None, "n"])
def test_a_count_never_reached_ends_at_the_empty_page_with_one_warning(
        hub: CountingHub, caplog: pytest.LogCaptureFixture, order: str | None) -> None:
    hub.max_limit = 30
    hub.count_extra = 40  # the hub counts 140 rows, 100 are there
    ids = fill(hub, 100)
    caplog.set_level(logging.WARNING, logger="player.parse_rest")
    rows = ParseClient(hub.url, "app").query("Thing", order=order)
    assert {r["objectId"] for r in rows} == ids and len(rows) == 100
    assert hub.count("GET", "/classes/Thing") == 5  # 30, 30, 30, 10, then an empty page
    assert [r.getMessage().split(": ", 1)[1] for r in caplog.records] == [
        "the hub counted 140 rows but answered an empty page after 100; stopping"]


def test_a_capped_hub_answering_the_same_page_again_is_read_once(hub: CountingHub,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    hub.max_limit = 30
    fill(hub, 100)
    hub.stuck_queries = True
    caplog.set_level(logging.WARNING, logger="player.parse_rest")
    client = ParseClient(hub.url, "app")
    assert len(client.query("Thing")) == 30 and len(client.query("Thing", order="n")) == 30
    assert hub.count("GET", "/classes/Thing") == 4
    assert len([r for r in caplog.records if "already read" in r.getMessage()]) == 2
