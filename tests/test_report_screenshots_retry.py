"""Screenshots when the hub takes the file but not the row: the file is uploaded once per screenshot, and a hub that
keeps refusing is asked less and less often. Scripted Parse REST server on 127.0.0.1 (`ParseHub`); the sender loop
runs on an injected monotonic clock."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from player.parse_rest import ParseClient
from player.report import ScreenRef
from player.report.queue import DeliveryLoop
from player.report.screenshots import Screenshot, ScreenshotChannel
from test_report_commands_hub import ParseHub

ROWS = "/classes/SteleScreenshot"


@pytest.fixture
def hub() -> Iterator[ParseHub]:
    server = ParseHub()
    server.add("SteleScreen", {"uuid": "u-1"})
    yield server
    server.close()


def shot(n: int) -> Screenshot:
    return Screenshot(bytes([n % 256]) * 150_000, "image/jpeg", datetime(2026, 12, 1, 10, 0, n % 60, tzinfo=UTC),
                      960, 540)


def test_a_refused_row_reuses_the_uploaded_file(hub: ParseHub) -> None:
    hub.refuse("POST", ROWS, 400, 111, "schema mismatch for SteleScreenshot.date; expected String but got Date")
    channel = ScreenshotChannel(ParseClient(hub.url, "app", timeout=(2, 10)), ScreenRef("u-1"))
    clock = [0.0]
    loop = DeliveryLoop([channel], monotonic=lambda: clock[0])
    channel.submit(shot(1))
    for second in range(0, 3600, 5):  # an hour of the sender loop, nothing newer submitted
        clock[0] = float(second)
        loop.run_once()
    creates = hub.count("POST", ROWS)
    assert creates >= 3  # it kept trying ...
    assert hub.count("POST", "/files/") == 1  # ... with the one file it had uploaded

    hub.refusals.clear()  # the administrator fixed the schema
    hub.refuse("POST", ROWS, 503, 1, "maintenance")  # and the hub is briefly down
    clock[0] += 1800.0
    loop.retry_now()
    loop.run_once()
    assert hub.count("POST", ROWS) == creates + 1 and channel.waiting is not None
    hub.refusals.clear()
    clock[0] += 3600.0
    loop.retry_now()
    loop.run_once()

    assert channel.waiting is None
    assert hub.count("POST", "/files/") == 1
    (row,) = hub.rows["SteleScreenshot"].values()
    (file_name,) = hub.rows["_File"]
    assert row["screenshot"]["name"] == file_name


def test_a_hub_that_keeps_refusing_is_asked_less_often_with_one_log_line(hub: ParseHub,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    hub.refuse("POST", ROWS, 400, 111, "schema mismatch for SteleScreenshot.date")
    channel = ScreenshotChannel(ParseClient(hub.url, "app", timeout=(2, 10)), ScreenRef("u-1"))
    clock = [0.0]
    loop = DeliveryLoop([channel], monotonic=lambda: clock[0])
    caplog.set_level(logging.INFO)
    for i in range(144):  # 24 hours, a new screenshot every 600 s, the sender loop looking every 5 s
        channel.submit(shot(i))
        for second in range(0, 600, 5):
            clock[0] = i * 600.0 + second
            loop.run_once()

    creates = hub.count("POST", ROWS)
    uploads = hub.count("POST", "/files/")
    # 60 s doubling to 30 min: 5 tries in the first 31 min, then one every 30 min (about 53 in 24 h; it was 1440)
    assert creates <= 5 + 24 * 2
    assert uploads <= creates  # never a second file for the same screenshot
    refused = [r for r in caplog.records if "SteleScreenshot" in r.getMessage()]
    assert len(refused) == 1 and "111" in refused[0].getMessage()
