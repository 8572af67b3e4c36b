"""Proof-of-play delivery against a small Parse REST stand-in on 127.0.0.1 (real HTTP, the real ParseClient).

The stand-in (`ParseStandIn`) keeps rows in memory, logs every request and can answer chosen requests with a fault;
it is also used by tests/test_report_queue.py. The full Parse Server is in tests/integration/test_reporting_hub.py.
"""

from __future__ import annotations

import itertools
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from parsefake import JsonServer
from player.parse_rest import ParseClient
from player.report import ScreenRef
from player.report.proof import ProofChannel, ProofRecorder
from player.report.queue import DeliveryLoop, Outbox

Fault = Callable[[str, str, Any], "tuple[int, Any] | None"]  # (method, path, body) -> (status, answer) or None


class ParseStandIn(JsonServer):
    """Just enough of Parse REST for the reporting channels: classes (query by equality / ``$in`` / pointer, create,
    update, delete), ``/batch`` and ``/login`` (any user). ``faults`` are asked first, in order; ``requests`` logs (method, path)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, dict[str, Any]]] = {}
        self.requests: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self.batch_limit: int | None = None  # like Parse Server's requestComplexity.batchRequestLimit
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.serve()

    def count(self, method: str, path_prefix: str) -> int:
        with self._lock:
            return sum(1 for m, p in self.requests if m == method and p.startswith(path_prefix))

    def add(self, class_name: str, doc: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            row = dict(doc, objectId=f"id{next(self._ids)}")
            self.rows.setdefault(class_name, {})[row["objectId"]] = row
            return row

    def answer(self, method: str, path: str, raw: bytes, query: dict[str, list[str]]) -> tuple[int, Any]:
        body = json.loads(raw) if raw else None
        with self._lock:
            self.requests.append((method, path))
        for fault in list(self.faults):
            hit = fault(method, path, body)
            if hit is not None:
                return hit
        if path == "/batch":
            subs = body["requests"]
            if self.batch_limit is not None and len(subs) > self.batch_limit:  # Parse Server's words and code
                return 400, {"code": 107, "error": f"Batch request contains {len(subs)} sub-requests, which "
                                                   f"exceeds the limit of {self.batch_limit}."}
            out = []
            for sub in subs:
                status, doc = self._rest(sub["method"], sub["path"].removeprefix("/parse"), sub.get("body"), {})
                out.append({"success": doc} if status < 400 else {"error": doc})
            return 200, out
        if path == "/login" and method == "POST":
            return 200, {"objectId": "user1", "sessionToken": "r:stand-in"}
        return self._rest(method, path, body, query)

    def _rest(self, method: str, path: str, body: Any, query: dict[str, list[str]]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "classes":
            return 404, {"code": 119, "error": f"no route {path}"}
        rows = self.rows.setdefault(parts[1], {})
        if method == "GET":
            where = json.loads(query.get("where", ["{}"])[0])
            found = [r for r in rows.values() if _matches(r, where)]
            return 200, {"results": found[:int(query.get("limit", ["100"])[0])]}
        if method == "POST":
            return 201, {"objectId": self.add(parts[1], body)["objectId"]}
        row = rows.get(parts[2]) if len(parts) > 2 else None
        if row is None:
            return 404, {"code": 101, "error": "Object not found."}
        if method == "PUT":
            row.update(body)
            return 200, {"updatedAt": "2026-12-01T00:00:00.000Z"}
        del rows[parts[2]]
        return 200, {}


def _matches(row: dict[str, Any], where: dict[str, Any]) -> bool:
    for key, want in where.items():
        have = row.get(key)
        if isinstance(want, dict) and "$in" in want:
            if have not in want["$in"]:
                return False
        elif isinstance(want, dict) and want.get("__type") == "Pointer":
            if not isinstance(have, dict) or have.get("objectId") != want.get("objectId"):
                return False
        elif have != want:
            return False
    return True


@pytest.fixture
def hub() -> Iterator[ParseStandIn]:
    stand_in = ParseStandIn()
    yield stand_in
    stand_in.close()


def screen_on(hub: ParseStandIn) -> ScreenRef:
    row = hub.add("SteleScreen", {"uuid": "screen-1"})
    return ScreenRef("screen-1", row["objectId"])


def fill(outbox: Outbox, n: int) -> list[str]:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    return [outbox.enqueue("proof", {"zone": "main", "itemId": f"item{i}", "src": "", "layout": "L",
                                     "start": (start + timedelta(seconds=10 * i)).isoformat(),
                                     "end": (start + timedelta(seconds=10 * i + 10)).isoformat(),
                                     "screenUuid": "screen-1"})
            for i in range(n)]


def proof_rows(hub: ParseStandIn) -> list[dict[str, Any]]:
    return list(hub.rows.get("SteleProofOfPlay", {}).values())


# ------------------------------------------------------------------------------------------ settling
def test_a_batch_still_settling_after_an_unknown_send_is_looked_up_once_then_waits(
        hub: ParseStandIn, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite")
    ids = fill(outbox, 60)
    head = outbox.pending("proof", 50)
    outbox.mark_attempted([r.id for r in head])  # a send of the first 50 timed out just now: outcome unknown
    channel = ProofChannel(outbox, ParseClient(hub.url, "app"), screen_on(hub), flush_s=300, settle_s=3600)
    clock = [1000.0]
    loop = DeliveryLoop([channel], monotonic=lambda: clock[0])

    loop.run_once()
    assert hub.count("GET", "/classes/SteleProofOfPlay") == 1  # asked once whether they arrived: not (yet)
    assert hub.count("POST", "/batch") == 0  # and not sent again while the hub may still be storing them
    due = channel.next_due(clock[0])
    assert clock[0] + 3500 < due <= clock[0] + 3600  # due again when the send is settle_s old, not at once
    for _ in range(5):
        clock[0] += 60
        loop.run_once()
    assert hub.count("GET", "/classes/SteleProofOfPlay") == 1 and hub.count("POST", "/batch") == 0

    with sqlite3.connect(tmp_path / "o.sqlite") as db:  # the hour passes (the channel reads the wall clock)
        db.execute("UPDATE outbox SET attempted = attempted - 3600 WHERE attempted != 0")
    clock[0] = due
    loop.run_once()
    assert hub.count("GET", "/classes/SteleProofOfPlay") == 2 and hub.count("POST", "/batch") == 2
    assert sorted(r["clientId"] for r in proof_rows(hub)) == sorted(ids) and outbox.count() == 0
    outbox.close()


def test_records_of_an_unknown_send_that_arrived_are_dropped_and_the_rest_goes_on(
        hub: ParseStandIn, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite")
    ids = fill(outbox, 30)
    head = outbox.pending("proof", 10)
    outbox.mark_attempted([r.id for r in head])
    for cid in ids[:10]:  # the hub had stored them
        hub.add("SteleProofOfPlay", {"clientId": cid})
    channel = ProofChannel(outbox, ParseClient(hub.url, "app"), screen_on(hub), flush_s=0, settle_s=3600,
                           batch_size=10)
    DeliveryLoop([channel], monotonic=lambda: 0.0).run_once()
    assert sorted(r["clientId"] for r in proof_rows(hub)) == sorted(ids)  # none twice, none lost
    assert channel.found_existing == 10 and channel.sent == 20 and outbox.count() == 0
    outbox.close()


# ------------------------------------------------------------------------------------------ batch size limit
def test_a_hub_that_limits_batch_size_gets_smaller_batches(hub: ParseStandIn, tmp_path: Path, caplog) -> None:
    hub.batch_limit = 20  # Parse Server with requestComplexity.batchRequestLimit = 20: HTTP 400 for the whole batch
    outbox = Outbox(tmp_path / "o.sqlite")
    ids = fill(outbox, 100)
    channel = ProofChannel(outbox, ParseClient(hub.url, "app"), screen_on(hub), flush_s=0)
    loop = DeliveryLoop([channel], monotonic=lambda: 0.0)
    with caplog.at_level(logging.INFO, logger="player.report"):
        loop.run_once()
    rows = proof_rows(hub)
    assert sorted(r["clientId"] for r in rows) == sorted(ids) and outbox.count() == 0  # all there, none twice
    assert channel.batch_size == 12  # 50 refused, 25 refused, 12 accepted
    assert hub.count("POST", "/batch") == 2 + 9
    (line,) = [r.getMessage() for r in caplog.records]
    assert "refused a /batch of 50" in line and "exceeds the limit of 20" in line and "12 per batch" in line

    fill(outbox, 20)  # later plays go in batches of 12 straight away
    loop.run_once()
    assert hub.count("POST", "/batch") == 11 + 2 and outbox.count() == 0
    outbox.close()


def test_the_batch_size_grows_back_when_the_hub_takes_batches_again(
        hub: ParseStandIn, tmp_path: Path, caplog) -> None:
    hub.batch_limit = 3
    outbox = Outbox(tmp_path / "o.sqlite")
    channel = ProofChannel(outbox, ParseClient(hub.url, "app"), screen_on(hub), flush_s=0, batch_size=8)

    def send(n: int) -> None:
        fill(outbox, n)
        while outbox.count():
            channel.run(0.0)

    with caplog.at_level(logging.INFO, logger="player.report"):
        send(4)  # 4 refused, then 2 + 2
        assert channel.batch_size == 2 and hub.count("POST", "/batch") == 3
        hub.batch_limit = None  # the hub's administrator lifted the limit
        send(16)  # 8 more batches of 2: ten taken at that size, so 4 is tried next
        assert channel.batch_size == 4 and hub.count("POST", "/batch") == 11
        send(40)  # ten batches of 4 (none refused)
        assert channel.batch_size == 8 and hub.count("POST", "/batch") == 21
        send(8)
        assert channel.batch_size == 8 and hub.count("POST", "/batch") == 22
        hub.batch_limit = 3  # a limit again, for good
        send(24)  # 8 refused, 4 refused, ten batches of 2; 4 is tried again: refused, 2 + 2 (no new log line)
        assert channel.batch_size == 2 and hub.count("POST", "/batch") == 22 + 2 + 10 + 1 + 2
    assert len(proof_rows(hub)) == 4 + 16 + 40 + 8 + 24 and outbox.count() == 0
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines  # one line per settled change: to 2, back to 8, to 2 again
    assert "2 per batch" in lines[0] and "takes batches of 8 again" in lines[1] and "2 per batch" in lines[2]
    outbox.close()


def five_minutes_of_plays(hub: ParseStandIn, client: ParseClient, tmp_path: Path
                          ) -> tuple[Outbox, ProofChannel, DeliveryLoop, list[float]]:
    """60 plays waiting, then five minutes of a new play every 10 s with the loop looking every 10 s; the channel is
    always due (flush_s=0), so only its backoff holds it. Returns what the test asserts on (the clock as a list)."""
    outbox = Outbox(tmp_path / "o.sqlite")
    fill(outbox, 60)
    channel = ProofChannel(outbox, client, screen_on(hub), flush_s=0)
    clock = [1000.0]
    loop = DeliveryLoop([channel], monotonic=lambda: clock[0])
    for _ in range(30):
        fill(outbox, 1)
        loop.run_once()
        clock[0] += 10
    return outbox, channel, loop, clock


@pytest.mark.parametrize("refusal", ["rate limit", "login"])
def test_a_refusal_that_is_not_about_size_backs_the_channel_off_and_blames_no_record(
        hub: ParseStandIn, tmp_path: Path, refusal: str) -> None:
    if refusal == "rate limit":  # e.g. a proxy's or Parse Server's rateLimit
        hub.faults.append(lambda method, path, body: (429, {"error": "Too many requests"})
                          if path == "/batch" else None)
        client = ParseClient(hub.url, "app")
    else:  # the shared hub user's password was changed: every login fails
        hub.faults.append(lambda method, path, body: (404, {"code": 101, "error": "Invalid username/password."})
                          if path == "/login" else None)
        client = ParseClient(hub.url, "app", username="stele", password="old")
    outbox, channel, loop, clock = five_minutes_of_plays(hub, client, tmp_path)
    tries = hub.count("POST", "/batch") + hub.count("POST", "/login")
    assert 1 <= tries <= 5  # 60 s, 120 s, 240 s, ... of backoff: not one request (or login) per new play
    assert channel.batch_size == 50  # not halved: smaller batches would not help
    assert all(r.failures == 0 and not r.attempted for r in outbox.pending("proof", 1000))  # nobody's fault
    assert outbox.count() == 90 and loop._error_until.get(channel.name, 0) > clock[0]
    hub.faults.clear()
    batches = hub.count("POST", "/batch")
    clock[0] += 3600
    loop.run_once()
    assert outbox.count() == 0 and len(proof_rows(hub)) == 90 and hub.count("POST", "/batch") == batches + 2
    outbox.close()


def test_a_single_record_too_large_for_the_hub_counts_as_its_failure(hub: ParseStandIn, tmp_path: Path) -> None:
    hub.faults.append(lambda method, path, body: (413, {"error": "Request Entity Too Large"})
                      if path == "/batch" else None)  # a proxy's body size limit, too small even for one record
    outbox = Outbox(tmp_path / "o.sqlite")
    fill(outbox, 2)
    channel = ProofChannel(outbox, ParseClient(hub.url, "app"), screen_on(hub), flush_s=0)
    loop = DeliveryLoop([channel], monotonic=lambda: 0.0)
    loop.run_once()
    assert channel.batch_size == 1
    assert [(r.failures, r.attempted) for r in outbox.pending("proof")] == [(1, False), (0, False)]
    for _ in range(9):
        loop.run_once()
    assert outbox.count() == 1  # refused 10 times: dropped (with a log line), the next one goes on being tried
    assert outbox.pending("proof")[0].failures == 1  # one refusal per run, not ten
    outbox.close()


# ------------------------------------------------------------------------------------------ clock set during a play
@pytest.mark.parametrize("jump", [timedelta(days=3), timedelta(hours=-2)])
def test_a_clock_set_during_a_play_does_not_change_its_duration(
        hub: ParseStandIn, tmp_path: Path, jump: timedelta) -> None:
    # a Pi without RTC boots on fake-hwclock's saved time; NTP sets the clock while the first item plays
    wall = [datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)]
    mono = [1000.0]
    outbox = Outbox(tmp_path / "o.sqlite")
    rec = ProofRecorder(outbox, "screen-1", clock=lambda: wall[0], monotonic=lambda: mono[0])
    rec.started("zone", "main", "item1", "a.jpg", "L")
    wall[0] += jump + timedelta(seconds=10)
    mono[0] += 10
    rec.ended("zone")
    outbox.flush()
    DeliveryLoop([ProofChannel(outbox, ParseClient(hub.url, "app"), screen_on(hub), flush_s=0)],
                 monotonic=lambda: 0.0).run_once()
    (row,) = proof_rows(hub)
    assert row["durationMs"] == 10_000  # a 10-s item, as it was on screen
    end = wall[0].strftime("%Y-%m-%dT%H:%M:%S.000Z")
    start = (wall[0] - timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert (row["startDate"]["iso"], row["endDate"]["iso"]) == (start, end)  # in the clock's new time
    outbox.close()


# ------------------------------------------------------------------------------------------ "50 plays waiting"
def test_a_full_batch_of_plays_makes_the_channel_due_however_they_were_committed(
        hub: ParseStandIn, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite")
    channel = ProofChannel(outbox, ParseClient(hub.url, "app"), screen_on(hub), flush_s=300)
    wakes: list[int] = []
    channel.on_ready = lambda: wakes.append(1)
    channel.run(100.0)  # nothing waiting: the channel idles
    assert channel.next_due(100.0) == float("inf")
    recorder = ProofRecorder(outbox, "screen-1")
    for i in range(120):  # plays handed over from the GUI thread: the writer commits them in a few groups
        recorder.started("zone", "main", f"item{i}", "", "L")
    recorder.close_all()
    outbox.flush()
    assert outbox.count("proof") == 120
    assert wakes and channel.next_due(101.0) == 101.0  # 120 >= 50 waiting: due now, not in 300 s
    channel.run(101.0)
    assert len(proof_rows(hub)) == 120 and outbox.count() == 0
    outbox.close()
