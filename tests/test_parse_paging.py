"""ParseClient paging against hubs that page differently than asked: Parse Server's ``maxLimit`` (pages shorter than
the ``limit`` asked for) and a hub (or caching proxy) that ignores ``skip`` and objectId constraints. Real HTTP on
127.0.0.1 (the `ParseHub` stand-in of tests/test_report_commands_hub.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from player.parse_rest import ParseClient
from test_report_commands_hub import ParseHub


@pytest.fixture
def hub() -> Iterator[ParseHub]:
    server = ParseHub()
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
