"""The durable outbox: survives kill -9 while enqueuing, keeps its retention limit, and the sender's backoff.

Delivery to a real hub (kill -9 while sending, "result unknown", offline days) is in
tests/integration/test_reporting_hub.py.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from player.parse_rest import HubUnavailable, ParseClient
from player.report.proof import ProofChannel, ProofRecorder, _hub_fields
from player.report.queue import DeliveryLoop, Outbox
from player.report.status import NowPlaying, StatusChannel
from test_report_proof_delivery import ParseStandIn, fill, proof_rows, screen_on

ROOT = Path(__file__).resolve().parent.parent

ENQUEUE_FOREVER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from player.report.queue import Outbox
    box = Outbox({path!r})
    i = 0
    while True:
        if i % 2:
            cid = box.enqueue("proof", {{"n": i, "pad": "x" * 200}})
        else:
            cid = box.submit("proof", {{"n": i, "pad": "x" * 200}})
            box.flush()
        print(cid, flush=True)  # printed only after the record is committed
        i += 1
""")


def test_kill_9_while_enqueuing_loses_no_committed_record_and_duplicates_none(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    committed: list[str] = []
    for round_ in range(3):  # three crashes in a row on the same file
        child = subprocess.Popen([sys.executable, "-c", ENQUEUE_FOREVER.format(root=str(ROOT), path=str(path))],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        target = len(committed) + 150 + 37 * round_
        while len(committed) < target:
            line = child.stdout.readline()
            assert line, "the enqueuing child died by itself"
            committed.append(line.strip())
        child.send_signal(signal.SIGKILL)
        committed.extend(line.strip() for line in child.stdout.read().splitlines() if line.strip())
        child.wait()

    box = Outbox(path)
    rows = box.pending("proof", limit=100_000)
    ids = [r.client_id for r in rows]
    assert set(committed) <= set(ids)  # nothing that was reported committed is lost
    assert len(ids) == len(set(ids))  # nothing twice
    assert len(ids) - len(committed) <= 3  # at most the record in flight at each kill, never more
    assert box.count() == len(ids)
    box.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_delivery_state_survives_a_restart(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    a = box.enqueue("proof", {"n": 1})
    b = box.enqueue("proof", {"n": 2})
    c = box.enqueue("proof", {"n": 3})
    first, second, third = box.pending("proof")
    box.mark_attempted([first.id, second.id])
    box.remove([first.id])
    box.note_failure([third.id])
    box.close()

    box = Outbox(tmp_path / "o.sqlite")
    rows = {r.client_id: r for r in box.pending("proof")}
    assert set(rows) == {b, c} and a not in rows
    assert rows[b].attempted and not rows[c].attempted
    assert rows[c].failures == 1 and rows[b].payload == {"n": 2}
    box.close()


def test_retention_drops_oldest_proof_of_play_first_with_one_log_line(tmp_path: Path, caplog) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_records=100, max_bytes=10_000_000)
    box.enqueue("command", {"keep": True})
    for n in range(99):
        box.enqueue("proof", {"n": n})
    assert box.count() == 100
    with caplog.at_level(logging.WARNING, logger="player.report.queue"):
        box.enqueue("proof", {"n": 99})  # 101 > 100: prune to 90
    assert box.count() == 90
    kept = [r.payload["n"] for r in box.pending("proof", 1000)]
    assert kept == list(range(11, 100))  # the oldest went, the newest stayed
    assert box.count("command") == 1  # other kinds are not dropped
    lines = [r for r in caplog.records if "dropped the 11 oldest" in r.getMessage()]
    assert len(lines) == 1 and len(caplog.records) == 1

    # the byte limit works the same way
    small = Outbox(tmp_path / "b.sqlite", max_bytes=2_000)
    for n in range(40):
        small.enqueue("proof", {"n": n, "pad": "y" * 80})
    assert small.size_bytes <= 2_000
    assert small.pending("proof", 1)[0].payload["n"] > 0
    box.close()
    small.close()


def test_proof_recorder_closes_plays_that_never_ended(tmp_path: Path) -> None:
    t = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]
    mono = [50.0]

    def wait(seconds: float) -> None:
        t[0] += timedelta(seconds=seconds)
        mono[0] += seconds

    box = Outbox(tmp_path / "o.sqlite")
    rec = ProofRecorder(box, "uuid-1", clock=lambda: t[0], monotonic=lambda: mono[0])
    rec.started(1, "main", "a", "a.png", "L")
    wait(10)
    rec.ended(1, "other-item")  # not the one on screen: ignored
    rec.started(1, "main", "b", "b.png", "L")  # no ended for a: it ends now
    wait(5)
    rec.started(2, "side", "c", "", "L")
    rec.zone_gone(1)  # layout switched away
    wait(1)
    rec.close_all()
    box.flush()
    plays = [(r.payload["itemId"], r.payload["start"][11:19], r.payload["end"][11:19]) for r in box.pending("proof")]
    assert plays == [("a", "09:00:00", "09:00:10"), ("b", "09:00:10", "09:00:15"), ("c", "09:00:15", "09:00:16")]
    box.close()


class _Channel:
    def __init__(self, name: str, fail: bool = True) -> None:
        self.name = name
        self.fail = fail
        self.runs = 0

    def next_due(self, now: float) -> float:
        return now

    def run(self, now: float) -> None:
        self.runs += 1
        if self.fail:
            raise HubUnavailable("http://127.0.0.1:9/parse: cannot connect")


def test_sender_backs_off_while_offline_with_one_log_line_per_outage(caplog) -> None:
    clock = [1000.0]
    down = _Channel("a")
    other = _Channel("b", fail=False)
    loop = DeliveryLoop([down, other], monotonic=lambda: clock[0])
    waits = []
    caplog.set_level(logging.INFO, logger="player.report.queue")
    for _ in range(8):
        loop.run_once()
        waits.append(loop._next_wake() - clock[0])
        loop.wake()  # new records do not cut a backoff short
        loop.run_once()
        clock[0] += waits[-1] + 0.01
    assert down.runs == 8 and other.runs == 0  # an outage stops the whole round
    assert waits[0] < 7 and waits[-1] > 100 and all(w <= 720 for w in waits)
    assert waits == sorted(waits) or waits[-1] >= 480  # grows (jittered) up to the 10 min cap
    assert sum("wait for the hub" in r.getMessage() for r in caplog.records) == 1

    loop.run_once()  # the wait is over: tried again (and failed again)
    loop.run_once()  # now in backoff again: not tried
    assert down.runs == 9
    loop.retry_now()  # e.g. a LiveQuery event: the hub is back
    down.fail = False
    loop.run_once()
    assert down.runs == 10 and other.runs == 1 and loop.online is True
    assert any("reachable again" in r.getMessage() for r in caplog.records)


def test_sender_thread_runs_and_stops() -> None:
    ch = _Channel("x", fail=False)
    loop = DeliveryLoop([ch])
    ch.next_due = lambda now: now + 3600 if ch.runs else now  # type: ignore[method-assign]
    loop.start()
    deadline = time.monotonic() + 5
    while ch.runs == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    loop.stop()
    assert ch.runs == 1


def _filled_outbox(path: Path, n: int = 2000) -> None:
    box = Outbox(path)
    for i in range(0, n, 200):
        box._insert([("proof", {"i": j, "pad": "x" * 300}, f"cid-{j}") for j in range(i, min(n, i + 200))])
    box.close()  # the last connection checkpoints: everything is in the main file now


def test_outbox_with_a_torn_header_is_set_aside_and_reporting_starts_empty(tmp_path: Path, caplog) -> None:
    path = tmp_path / "report-outbox.sqlite"
    _filled_outbox(path)
    with open(path, "r+b") as fh:
        fh.write(b"\x00torn by a power cut" * 5)  # the 100-byte header: "file is not a database"
    damaged = path.read_bytes()

    with caplog.at_level(logging.INFO, logger="player.report.queue"):
        box = Outbox(path)
    assert box.count() == 0
    cid = box.enqueue("proof", {"n": 1})  # reporting works again, with an empty outbox
    assert [r.client_id for r in box.pending("proof")] == [cid]
    box.close()
    (aside,) = tmp_path.glob("report-outbox.sqlite.corrupt-*")  # the damaged file, kept for a look
    assert aside.read_bytes() == damaged
    assert aside.name[len("report-outbox.sqlite.corrupt-"):].endswith("Z")  # a UTC timestamp
    (line,) = [r.getMessage() for r in caplog.records]
    assert "file is not a database" in line and aside.name in line and "empty outbox" in line

    box = Outbox(path)  # the new file is fine: nothing more is set aside
    assert box.count() == 1
    box.close()
    assert len(list(tmp_path.glob("*.corrupt-*"))) == 1


def test_outbox_with_a_torn_page_is_set_aside_at_open(tmp_path: Path, caplog) -> None:
    path = tmp_path / "o.sqlite"
    _filled_outbox(path)
    with open(path, "r+b") as fh:
        fh.seek(4096 * 40)
        fh.write(b"\x5a" * 4096)  # one page in the middle: "database disk image is malformed" on reading
    with caplog.at_level(logging.INFO, logger="player.report.queue"):
        box = Outbox(path)
    assert box.pending("proof") == [] and box.count() == 0
    box.enqueue("proof", {"n": 1})
    assert box.count("proof") == 1
    box.close()
    assert len(list(tmp_path.glob("o.sqlite.corrupt-*"))) == 1
    assert sum("moved it aside" in r.getMessage() for r in caplog.records) == 1


def test_an_outbox_damaged_while_running_is_set_aside_once_and_reporting_goes_on(tmp_path: Path, caplog) -> None:
    path = tmp_path / "o.sqlite"
    _filled_outbox(path)
    box = Outbox(path)  # fine at the start
    sent = box.pending("proof", 50)  # a batch a channel is sending meanwhile
    with open(path, "r+b") as fh:  # then the card damages a page
        fh.seek(4096 * 40)
        fh.write(b"\x5a" * 4096)
    with sqlite3.connect(path) as other:  # a write elsewhere makes the outbox read the file again
        other.execute("INSERT INTO outbox(kind, client_id, payload, size, created) VALUES ('x', 'y', '{}', 2, 0)")
    with caplog.at_level(logging.INFO, logger="player.report.queue"):
        cids = [box.enqueue("proof", {"n": i}) for i in range(5)]  # one group of plays after the other
        box.remove([r.id for r in sent])  # the batch arrived: its ids are no records of the new file
        assert [r.client_id for r in box.pending("proof", 50)] == cids and box.count() == 5
    assert len(list(tmp_path.glob("o.sqlite.corrupt-*Z"))) == 1  # (with its -wal and -shm)
    (line,) = [r.getMessage() for r in caplog.records]  # one line, not one per group of plays
    assert "malformed" in line and "moved it aside" in line and "empty outbox" in line
    box.close()
    box = Outbox(path)  # the new file is sound
    assert box.count() == 5
    box.close()


def test_an_unopenable_outbox_is_an_error_and_is_not_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    path.mkdir()  # "unable to open database file": not a damaged file, so nothing is discarded
    try:
        Outbox(path)
    except sqlite3.OperationalError:
        pass
    else:
        raise AssertionError("a directory opened as an outbox")
    assert path.is_dir() and not list(tmp_path.glob("*.corrupt-*"))


def test_a_server_error_on_one_channel_does_not_hold_the_others(tmp_path: Path, caplog) -> None:
    hub = ParseStandIn()
    try:
        ref = screen_on(hub)
        client = ParseClient(hub.url, "app")
        outbox = Outbox(tmp_path / "o.sqlite")
        # every request about the status row fails with HTTP 500 (e.g. a crashing trigger on the hub)
        hub.faults.append(lambda method, path, body: (500, {"error": "boom"})
                          if path.startswith("/classes/SteleScreenStatus") else None)
        status = StatusChannel(client, ref, NowPlaying(), interval_s=60, disk_path=tmp_path)
        proof = ProofChannel(outbox, client, ref, flush_s=60)
        clock = [0.0]
        loop = DeliveryLoop([status, proof], monotonic=lambda: clock[0])
        with caplog.at_level(logging.INFO, logger="player.report.queue"):
            for step in range(0, 3600, 5):  # one hour, looked at every 5 s; 5 plays every 5 minutes
                if step % 300 == 0:
                    fill(outbox, 5)
                clock[0] = float(step)
                loop.run_once()
            assert not any("wait for the hub" in r.getMessage() for r in caplog.records)
            # proof of play went on during the hour
            assert len(hub.rows["SteleProofOfPlay"]) == 60 and outbox.count() == 0
            hub.faults.clear()
            clock[0] += 721  # past the longest jittered wait (600 s + 20 %)
            loop.run_once()
        assert loop.online is True
        attempts = hub.count("GET", "/classes/SteleScreenStatus") - 1  # the last one after the fault ended
        assert 5 <= attempts <= 20  # the status was retried with its own growing wait, not every minute
        lines = [r.getMessage() for r in caplog.records if "HTTP 500" in r.getMessage()]
        assert len(lines) == 1 and lines[0].startswith("report status")  # one line, naming the channel
        assert status.writes == 1 and len(hub.rows["SteleScreenStatus"]) == 1
        assert any(r.getMessage() == "report status: works again" for r in caplog.records)
        outbox.close()
    finally:
        hub.close()


def test_the_outbox_wal_shrinks_again_after_a_large_transaction(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path, max_records=100)
    box._insert([("proof", {"i": i, "pad": "x" * 6000}, f"big-{i}") for i in range(1000)])  # ~6 MB WAL, pruned
    for i in range(20):  # the next commits checkpoint the WAL (SQLite's default: at 1000 pages)
        box.enqueue("proof", {"i": i})
    assert (tmp_path / "o.sqlite-wal").stat().st_size <= 4 * 1024 * 1024  # not the 6 MB the big one left
    box.close()


def test_a_sign_that_the_hub_is_back_ends_a_channels_own_error_wait(tmp_path: Path) -> None:
    hub = ParseStandIn()
    try:
        # the hub restarts behind its proxy: 502 to everything for ten minutes (a channel's own error since e236b8b)
        hub.faults.append(lambda method, path, body: (502, {"error": "bad gateway"}))
        outbox = Outbox(tmp_path / "o.sqlite")
        fill(outbox, 5)
        proof = ProofChannel(outbox, ParseClient(hub.url, "app"), screen_on(hub), flush_s=0, settle_s=0)
        clock = [1000.0]
        loop = DeliveryLoop([proof], monotonic=lambda: clock[0])
        while clock[0] < 1600:
            clock[0] = max(clock[0] + 1, loop._next_wake())
            loop.run_once()
        tries = len(hub.requests)
        assert 4 <= tries <= 10  # backed off (5 s, 10 s, ... up to 10 min)
        hub.faults.clear()  # the hub is back
        clock[0] += 1
        loop.run_once()
        assert len(hub.requests) == tries  # nothing said so yet: the channel still waits its own backoff
        loop.retry_now()  # a LiveQuery event or reconnect
        loop.run_once()
        # at once, not minutes later: the lookup of the records whose send got a 502, then the send
        assert hub.requests[tries:] == [("GET", "/classes/SteleProofOfPlay"), ("POST", "/batch")]
        assert outbox.count() == 0
        outbox.close()
    finally:
        hub.close()


def test_a_channel_the_hub_refuses_is_not_retried_at_every_sign_of_life(tmp_path: Path) -> None:
    """A channel the hub refuses (403: a class-level permission) keeps its own backoff when a LiveQuery event comes;
    before, each event ran it again (60 runs in 5 min instead of 3 at one event every 5 s)."""
    hub = ParseStandIn()
    try:
        hub.faults.append(lambda method, path, body: (403, {"code": 119, "error": "Permission denied"}))
        outbox = Outbox(tmp_path / "o.sqlite")
        fill(outbox, 5)
        proof = ProofChannel(outbox, ParseClient(hub.url, "app"), screen_on(hub), flush_s=0, settle_s=0)
        clock = [1000.0]
        loop = DeliveryLoop([proof], monotonic=lambda: clock[0])
        loop.run_once()
        tries = len(hub.requests)
        assert tries >= 1
        for _ in range(60):  # a LiveQuery event every 5 s for 5 min
            clock[0] += 5
            loop.retry_now()
            loop.run_once()
        assert len(hub.requests) <= tries * 6, f"{len(hub.requests) - tries} more requests in 5 min"
        outbox.close()
    finally:
        hub.close()


def test_a_record_moved_aside_and_back_keeps_its_unknown_send_and_is_not_duplicated(tmp_path: Path) -> None:
    """A record whose /batch the hub applied but whose answer timed out, then set aside and taken back (its play
    recovered), is looked up by clientId before it goes again; before, `Outbox.move` forgot the unknown send and
    the hub got it twice."""
    hub = ParseStandIn()
    try:
        outbox = Outbox(tmp_path / "o.sqlite")
        (client_id,) = fill(outbox, 1)
        ref, client = screen_on(hub), ParseClient(hub.url, "app")
        record = outbox.pending("proof")[0]
        outbox.mark_attempted([record.id])  # sent in a /batch: the hub stored it, its answer timed out
        hub.add("SteleProofOfPlay", _hub_fields(record, ref.pointer(client)))
        outbox.move([record.id], "proof-aside")
        assert outbox.pending("proof-aside")[0].attempted
        outbox.move([record.id], "proof")
        assert outbox.pending("proof")[0].attempted
        proof = ProofChannel(outbox, client, ref, settle_s=0)
        DeliveryLoop([proof], monotonic=lambda: 1000.0).run_once()
        rows = [r["clientId"] for r in proof_rows(hub)]
        assert rows == [client_id] and outbox.count("proof") == 0 and proof.found_existing == 1
        outbox.close()
    finally:
        hub.close()
