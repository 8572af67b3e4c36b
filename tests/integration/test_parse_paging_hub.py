"""ParseClient against a real Parse Server (PostgreSQL) whose ``maxLimit`` caps every page below the client's page
size: the hub answers a short page that is not the last one, and the client must read on (player/parse_rest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hubserver import TestHub
from player.parse_rest import ParseClient

ROWS = 75
CAP = 30


@pytest.fixture
def capped_hub(clean_hub: TestHub) -> Iterator[TestHub]:
    rows = [{"method": "POST", "path": "/parse/classes/PagingProbe", "body": {"n": n, "even": n % 2 == 0}}
            for n in range(ROWS)]
    clean_hub.rest("POST", "/batch", json={"requests": rows})
    clean_hub.max_limit = CAP
    clean_hub.restart()
    try:
        yield clean_hub
    finally:
        clean_hub.max_limit = None
        clean_hub.restart()


def client(hub: TestHub) -> ParseClient:
    return ParseClient(hub.url, hub.app_id, rest_key=hub.rest_key, timeout=(2, 10))  # type: ignore[arg-type]


def test_the_hub_really_caps_its_pages(capped_hub: TestHub) -> None:
    answer = capped_hub.rest("GET", "/classes/PagingProbe", params={"limit": "100"})
    assert len(answer["results"]) == CAP


def test_query_reads_every_row_past_pages_the_hub_cut_short(capped_hub: TestHub) -> None:
    hub_client = client(capped_hub)
    rows = hub_client.query("PagingProbe")
    assert sorted(r["n"] for r in rows) == list(range(ROWS))
    ordered = hub_client.query("PagingProbe", order="-n", limit=200)
    assert [r["n"] for r in ordered] == list(range(ROWS - 1, -1, -1))
    even = hub_client.query("PagingProbe", where={"even": True})
    assert sorted(r["n"] for r in even) == list(range(0, ROWS, 2))
    rows_all, complete = hub_client.query_all("PagingProbe")
    assert complete and len(rows_all) == ROWS
