"""Remote commands against a hub that refuses some writes: a scripted Parse REST server on 127.0.0.1 (stdlib only).

The real Parse Server runs the happy paths in tests/integration/test_reporting_hub.py; here the hub answers what a
real one answers to a `beforeSave` trigger that refuses a result (HTTP 400, Parse error 142) and to a command row the
screen's user may read but not write (ACL: HTTP 404, Parse error 101 on the PUT while the row stays pending).
`ParseHub` is also used by tests/test_report_screenshots_retry.py.
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

from parsefake import JsonServer, RecordingSystem
from player.parse_rest import HubError, ParseClient, pointer
from player.report import ScreenRef
from player.report.commands import CommandActions, CommandChannel, CommandLedger
from player.report.queue import DeliveryLoop


class ParseHub(JsonServer):
    """Just enough of Parse Server's REST API for reporting: classes (where with equality, pointers, ``$exists``,
    ``$ne``, ``$in``, ``$nin``, ``$gt``, ``$lt``, ``$and``; order, skip, limit, keys), PUT, POST, DELETE, /batch
    and /files.

    ``refuse(method, path_prefix, status, code)`` makes matching requests fail the way Parse Server answers them.
    ``max_limit``: Parse Server's ``maxLimit`` option (pages shorter than the ``limit`` asked for).
    ``stuck_queries``: a broken hub (or a caching proxy) that ignores ``skip`` and objectId constraints."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, dict[str, Any]]] = {}
        self.calls: list[tuple[str, str]] = []
        self.refusals: list[tuple[str, str, int, int, str]] = []
        self.max_limit: int | None = None
        self.stuck_queries = False
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self._tick = itertools.count(1)
        self.serve()

    # ------------------------------------------------------------------ test side
    def add(self, class_name: str, fields: dict[str, Any]) -> str:
        with self.lock:
            return self._insert(class_name, fields)

    def row(self, class_name: str, oid: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.rows[class_name][oid])

    def refuse(self, method: str, path_prefix: str, status: int, code: int, error: str = "refused") -> None:
        with self.lock:
            self.refusals.append((method, path_prefix, status, code, error))

    def count(self, method: str, path_prefix: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.calls if m == method and p.startswith(path_prefix))

    # ------------------------------------------------------------------ server side
    def _insert(self, class_name: str, fields: dict[str, Any]) -> str:
        oid = f"id{next(self._ids):06d}"
        self.rows.setdefault(class_name, {})[oid] = {"createdAt": next(self._tick), **fields, "objectId": oid}
        return oid

    @classmethod
    def _matches(cls, doc: dict[str, Any], where: dict[str, Any]) -> bool:
        for key, want in where.items():
            have = doc.get(key)
            if key == "$and":
                if not all(cls._matches(doc, part) for part in want):
                    return False
            elif isinstance(want, dict) and want.get("__type") == "Pointer":
                if not isinstance(have, dict) or have.get("objectId") != want.get("objectId"):
                    return False
            elif isinstance(want, dict):
                for op, arg in want.items():
                    if (op == "$exists" and (key in doc) != arg) or (op == "$ne" and have == arg) \
                            or (op == "$in" and have not in arg) or (op == "$nin" and have in arg) \
                            or (op == "$gt" and not (have is not None and have > arg)) \
                            or (op == "$lt" and not (have is not None and have < arg)):
                        return False
            elif have != want:
                return False
        return True

    def answer(self, method: str, path: str, raw: bytes, query: dict[str, list[str]]) -> tuple[int, Any]:
        with self.lock:
            self.calls.append((method, path))
            for r_method, prefix, status, code, error in self.refusals:
                if method == r_method and path.startswith(prefix):
                    return status, {"code": code, "error": error}
            return self._answer(method, path, raw, query)

    def _answer(self, method: str, path: str, raw: bytes, query: dict[str, list[str]]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if path == "/login":
            return 200, {"sessionToken": "r:test"}
        if parts[0] == "files" and method == "POST":
            name = f"{next(self._ids):06d}_{parts[1]}"
            self.rows.setdefault("_File", {})[name] = {"size": len(raw)}
            return 201, {"name": name, "url": f"http://127.0.0.1/files/{name}"}
        if path == "/batch":
            out = []
            for req in json.loads(raw)["requests"]:
                body = req.get("body") or {}
                params = {k: [v if isinstance(v, str) else json.dumps(v)] for k, v in body.items()} \
                    if req["method"] == "GET" else {}
                status, doc = self._answer(req["method"], req["path"].removeprefix("/parse"),
                                           json.dumps(body).encode(), params)
                out.append({"success": doc} if status < 400 else {"error": doc})
            return 200, out
        if parts[0] != "classes":
            return 404, {"code": 119, "error": f"unknown path {path}"}
        table = self.rows.setdefault(parts[1], {})
        if method == "GET":
            where = json.loads(query.get("where", ["{}"])[0])
            if self.stuck_queries:
                where = {k: v for k, v in where.items() if k not in ("objectId", "$and")}
                query = {k: v for k, v in query.items() if k != "skip"}
            found = [d for d in table.values() if self._matches(d, where)]
            for key in reversed(query.get("order", [""])[0].split(",")):
                field = key.lstrip("-")
                if field:
                    found.sort(key=lambda d, f=field: str(d.get(f, "")).zfill(12), reverse=key.startswith("-"))
            total = len(found)
            skip = int(query.get("skip", ["0"])[0])
            limit = int(query.get("limit", ["100"])[0])
            found = found[skip:skip + min(limit, self.max_limit or limit)]
            if "keys" in query:
                wanted = set(query["keys"][0].split(",")) | {"objectId", "createdAt"}
                found = [{k: v for k, v in d.items() if k in wanted} for d in found]
            return 200, {"results": found, **({"count": total} if query.get("count") == ["1"] else {})}
        if method == "POST":
            return 201, {"objectId": self._insert(parts[1], json.loads(raw))}
        doc = table.get(parts[2]) if len(parts) > 2 else None
        if doc is None:
            return 404, {"code": 101, "error": "Object not found."}
        if method == "PUT":
            doc.update(json.loads(raw))
            return 200, {"updatedAt": "2026-12-01T10:00:00.000Z"}
        if method == "DELETE":
            del table[parts[2]]
            return 200, {}
        return 405, {"code": 1, "error": method}


@pytest.fixture
def hub() -> Iterator[ParseHub]:
    server = ParseHub()
    yield server
    server.close()


def screen_on(hub: ParseHub, uuid: str = "u-1") -> dict[str, str]:
    return pointer("SteleScreen", hub.add("SteleScreen", {"uuid": uuid}))


def command(hub: ParseHub, screen: dict[str, str], name: str) -> str:
    return hub.add("SteleScreenCommand", {"screen": screen, "command": name, "args": {}})


def channel(hub: ParseHub, ledger_path: Path, calls: list[str], system: RecordingSystem,
            uuid: str = "u-1") -> CommandChannel:
    actions = CommandActions(reload=lambda: calls.append("reload"), sync_now=lambda: calls.append("sync"),
                             screenshot_now=lambda: calls.append("screenshot"))
    return CommandChannel(ParseClient(hub.url, "app", timeout=(2, 10)), ScreenRef(uuid),
                          CommandLedger(ledger_path), actions, system)


def run_polls(ch: CommandChannel, polls: range, each: Callable[[int], None] = lambda _i: None) -> None:
    for i in polls:
        each(i)
        ch.run(i * 60.0)  # raises if the channel gives up on the hub


# --------------------------------------------------------------------------------- fix: a refused result
def test_a_result_the_hub_refuses_does_not_block_later_commands(hub: ParseHub, tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    screen = screen_on(hub)
    refused = command(hub, screen, "sync")
    hub.refuse("PUT", f"/classes/SteleScreenCommand/{refused}", 400, 142, "beforeSave: result not allowed")
    calls: list[str] = []
    system = RecordingSystem()
    ch = channel(hub, tmp_path / "commands.sqlite", calls, system)
    caplog.set_level(logging.INFO, logger="player.report.commands")

    ch.run(0.0)  # the refusal is not an error of the whole poll
    assert calls == ["sync"]
    reboot = command(hub, screen, "reboot")  # the administrator sends another command
    run_polls(ch, range(1, 12))

    assert system.calls == ["reboot"]  # it ran, once
    assert hub.row("SteleScreenCommand", reboot)["result"] == "ok"
    assert calls == ["sync"]  # the refused one never ran again
    # the refused result was offered 5 times (once per poll), then given up with one line
    assert hub.count("PUT", f"/classes/SteleScreenCommand/{refused}") == 5
    gave_up = [r.getMessage() for r in caplog.records if "giving up" in r.getMessage()]
    assert len(gave_up) == 1 and refused in gave_up[0] and "142" in gave_up[0]
    ch.ledger.close()

    # a restarted player does not run it again either
    again = channel(hub, tmp_path / "commands.sqlite", calls, system)
    again.run(0.0)
    assert calls == ["sync"] and system.calls == ["reboot"]
    assert hub.count("PUT", f"/classes/SteleScreenCommand/{refused}") == 5
    again.ledger.close()


def test_a_result_put_answered_with_a_server_error_does_not_slow_the_polls(hub: ParseHub, tmp_path: Path) -> None:
    screen = screen_on(hub)
    failing = command(hub, screen, "sync")
    hub.refuse("PUT", f"/classes/SteleScreenCommand/{failing}", 500, 1, "Internal server error.")
    calls: list[str] = []
    system = RecordingSystem()
    ch = channel(hub, tmp_path / "commands.sqlite", calls, system)
    clock = [0.0]
    loop = DeliveryLoop([ch], monotonic=lambda: clock[0])
    polls = "/classes/SteleScreenCommand"
    for second in range(0, 3600, 5):  # an hour of the sender loop on the default 60 s poll
        clock[0] = float(second)
        if second == 1800:
            reboot = command(hub, screen, "reboot")
        loop.run_once()

    assert hub.count("GET", polls) >= 59  # one poll a minute, as without the failing row
    assert system.calls == ["reboot"] and hub.row("SteleScreenCommand", reboot)["result"] == "ok"
    assert calls == ["sync"]
    hub.refusals.clear()  # the hub is mended: the result it could not store arrives with the next poll
    clock[0] += 60.0
    loop.run_once()
    assert hub.row("SteleScreenCommand", failing)["result"] == "ok"
    ch.ledger.close()


# --------------------------------------------------------------------------------- fix: a row the screen cannot write
def read_only_command(hub: ParseHub, screen: dict[str, str], name: str) -> str:
    """A command row whose ACL lets the screen's user read it but not write it: Parse answers the PUT with 101."""
    cid = command(hub, screen, name)
    hub.refuse("PUT", f"/classes/SteleScreenCommand/{cid}", 404, 101, "Object not found.")
    return cid


def test_a_command_the_screen_cannot_complete_on_the_hub_runs_once_ever(hub: ParseHub, tmp_path: Path) -> None:
    screen = screen_on(hub)
    cid = read_only_command(hub, screen, "reboot")
    calls: list[str] = []
    system = RecordingSystem()
    ledger_path = tmp_path / "commands.sqlite"
    ch = channel(hub, ledger_path, calls, system)
    run_polls(ch, range(3))
    assert system.calls == ["reboot"]
    assert "doneAt" not in hub.row("SteleScreenCommand", cid)  # still pending on the hub, for good

    # 31 days later (or the clock jumped forward by that much): the ledger may forget old commands, not this one
    ch.ledger.close()
    with sqlite3.connect(ledger_path) as db:
        db.execute("UPDATE commands SET started = started - 31 * 86400")
    ch = channel(hub, ledger_path, calls, system)
    run_polls(ch, range(3, 6))
    assert system.calls == ["reboot"]
    ch.ledger.close()


def test_rows_the_screen_cannot_complete_do_not_hide_newer_commands(hub: ParseHub, tmp_path: Path) -> None:
    screen = screen_on(hub)
    stuck = [read_only_command(hub, screen, "sync") for _ in range(130)]  # more than one page of the poll
    calls: list[str] = []
    system = RecordingSystem()
    ch = channel(hub, tmp_path / "commands.sqlite", calls, system)
    ch.run(0.0)
    assert calls == ["sync"] * 130
    reboot = command(hub, screen, "reboot")
    run_polls(ch, range(1, 3))
    assert system.calls == ["reboot"] and hub.row("SteleScreenCommand", reboot)["result"] == "ok"
    assert calls == ["sync"] * 130  # each ran once
    assert all("doneAt" not in hub.row("SteleScreenCommand", cid) for cid in stuck)
    ch.ledger.close()


# --------------------------------------------------------------------------------- fix: a corrupt ledger
def tear_header(path: Path) -> None:
    """A power cut while the first page was written: SQLite says "file is not a database"."""
    with path.open("r+b") as f:
        f.write(b"\0" * 100)


def tear_a_page(path: Path) -> None:
    """A torn page inside the file: SQLite says "database disk image is malformed" (quick_check finds it)."""
    with path.open("r+b") as f:
        f.seek(4096 + 10)  # page 2: the table's first b-tree page below the schema
        f.write(bytes(range(256)) * 8)


@pytest.mark.parametrize("damage", [tear_header, tear_a_page])
def test_a_corrupt_ledger_is_set_aside_and_commands_go_on(hub: ParseHub, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture,
                                                          damage: Callable[[Path], None]) -> None:
    screen = screen_on(hub)
    ledger_path = tmp_path / "commands.sqlite"
    ledger = CommandLedger(ledger_path)
    for i in range(200):  # an older ledger with history: several pages
        ledger.finish(f"old{i:04d}", "sync", "ok", datetime(2026, 11, 1, tzinfo=UTC))
        ledger.mark_reported(f"old{i:04d}")
    in_progress = command(hub, screen, "reboot")
    ledger.start(in_progress, "reboot")  # the process died here, e.g. while the machine went down
    ledger.close()
    sync = command(hub, screen, "sync")
    damage(ledger_path)

    calls: list[str] = []
    system = RecordingSystem()
    caplog.set_level(logging.INFO, logger="player.report")
    ch = channel(hub, ledger_path, calls, system)
    ch.run(0.0)

    assert system.calls == []  # a reboot that may have run is not run again ...
    assert hub.row("SteleScreenCommand", in_progress)["result"] == "interrupted by restart"
    assert calls == ["sync"] and hub.row("SteleScreenCommand", sync)["result"] == "ok"  # ... an idempotent one is
    aside = sorted(p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name)
    assert aside and aside[0].startswith("commands.sqlite.corrupt-")
    corrupt_lines = [r for r in caplog.records if "corrupt" in r.getMessage()]
    assert len(corrupt_lines) == 1 and str(ledger_path) in corrupt_lines[0].getMessage()

    # remote commands keep working: a new reboot runs, once, also after a restart of the player
    reboot = command(hub, screen, "reboot")
    ch.run(60.0)
    assert system.calls == ["reboot"] and hub.row("SteleScreenCommand", reboot)["result"] == "ok"
    ch.ledger.close()
    again = channel(hub, ledger_path, calls, system)
    again.run(0.0)
    assert system.calls == ["reboot"] and calls == ["sync"]
    again.ledger.close()


# --------------------------------------------------------------------------------- fix: a refused login is no refusal
def login_channel(hub: ParseHub, ledger_path: Path, calls: list[str]) -> CommandChannel:
    """A channel whose client logs in as the hub user (as the player does)."""
    client = ParseClient(hub.url, "app", username="screen", password="pw", timeout=(2, 10))
    actions = CommandActions(reload=lambda: calls.append("reload"), sync_now=lambda: calls.append("sync"))
    return CommandChannel(client, ScreenRef("u-1"), CommandLedger(ledger_path), actions, RecordingSystem())


def session_expired_and_password_wrong(hub: ParseHub, methods: tuple[str, ...]) -> None:
    """The session token expired (Parse 209) and the re-login is refused (HTTP 404, Parse 101, as Parse answers a
    wrong password or a deleted user)."""
    hub.refuse("POST", "/login", 404, 101, "Invalid username/password.")
    for method in methods:
        hub.refuse(method, "/classes/SteleScreenCommand", 400, 209, "Invalid session token")


@pytest.mark.parametrize("methods", [("GET", "PUT"), ("PUT",)], ids=["poll-and-put", "put-only"])
def test_a_refused_login_does_not_give_up_owed_results(hub: ParseHub, tmp_path: Path,
                                                       methods: tuple[str, ...]) -> None:
    screen = screen_on(hub)
    cid = command(hub, screen, "reload")
    hub.refuse("PUT", f"/classes/SteleScreenCommand/{cid}", 500, 1, "Internal server error.")
    calls: list[str] = []
    ch = login_channel(hub, tmp_path / "commands.sqlite", calls)
    ch.run(0.0)
    assert calls == ["reload"] and [r["id"] for r in ch.ledger.unreported()] == [cid]  # owed

    hub.refusals.clear()
    session_expired_and_password_wrong(hub, methods)
    for i in range(1, 8):  # several polls while the hub user's password is wrong
        with pytest.raises(HubError):
            ch.run(i * 60.0)
    assert [r["id"] for r in ch.ledger.unreported()] == [cid]  # still owed, not given up
    assert ch.ledger.get(cid)["reported"] == 0

    hub.refusals.clear()  # the password is mended
    ch.run(8 * 60.0)
    assert hub.row("SteleScreenCommand", cid)["result"] == "ok" and ch.ledger.unreported() == []
    assert calls == ["reload"]
    ch.ledger.close()


@pytest.mark.parametrize("status", [401, 403, 408, 429])
def test_answers_about_the_caller_are_not_refusals_of_the_result(hub: ParseHub, tmp_path: Path, status: int) -> None:
    screen = screen_on(hub)
    cid = command(hub, screen, "sync")
    hub.refuse("PUT", f"/classes/SteleScreenCommand/{cid}", status, 0, "not now")
    calls: list[str] = []
    ch = channel(hub, tmp_path / "commands.sqlite", calls, RecordingSystem())
    for i in range(8):  # more polls than MAX_REFUSALS
        try:
            ch.run(i * 60.0)
        except HubError as exc:
            assert exc.status == status
    assert ch.ledger.get(cid)["reported"] == 0  # still owed
    hub.refusals.clear()
    ch.run(8 * 60.0)
    assert hub.row("SteleScreenCommand", cid)["result"] == "ok" and calls == ["sync"]
    ch.ledger.close()


def test_refusals_count_once_per_poll_interval(hub: ParseHub, tmp_path: Path) -> None:
    """LiveQuery events start extra runs: five quick events must not give a refused result up within seconds."""
    screen = screen_on(hub)
    cid = command(hub, screen, "sync")
    hub.refuse("PUT", f"/classes/SteleScreenCommand/{cid}", 400, 142, "beforeSave: result not allowed")
    calls: list[str] = []
    ch = channel(hub, tmp_path / "commands.sqlite", calls, RecordingSystem())
    ch.run(0.0)
    for second in range(1, 12):  # an administrator sends a burst of commands: an event (and a run) each
        command(hub, screen, "reload")
        ch.on_live_event()
        ch.run(float(second))
    assert ch.ledger.get(cid)["reported"] == 0  # one refusal so far
    assert hub.count("PUT", f"/classes/SteleScreenCommand/{cid}") == 1  # not offered again within the interval
    run_polls(ch, range(1, 4))
    assert ch.ledger.get(cid)["reported"] == 0  # 4 refusals, a poll apart
    ch.run(4 * 60.0)
    assert ch.ledger.get(cid)["reported"] == 1  # the 5th: given up
    assert hub.count("PUT", f"/classes/SteleScreenCommand/{cid}") == 5
    ch.ledger.close()


# --------------------------------------------------------------------------------- fix: paging the poll by key
def test_a_hub_with_a_max_limit_does_not_hide_newer_commands(hub: ParseHub, tmp_path: Path) -> None:
    """Parse Server's maxLimit (here 50) answers shorter pages than asked for: a short page is not the last."""
    hub.max_limit = 50
    screen = screen_on(hub)
    stuck = [read_only_command(hub, screen, "sync") for _ in range(60)]
    calls: list[str] = []
    system = RecordingSystem()
    ledger_path = tmp_path / "commands.sqlite"
    ch = channel(hub, ledger_path, calls, system)
    ch.run(0.0)
    assert calls == ["sync"] * 60  # all of them seen (and run once)
    reboot = command(hub, screen, "reboot")
    before = hub.count("GET", "/classes/SteleScreenCommand")
    ch.run(60.0)
    assert system.calls == ["reboot"] and hub.row("SteleScreenCommand", reboot)["result"] == "ok"
    assert hub.count("GET", "/classes/SteleScreenCommand") - before == 3  # 50 + 11 rows, then an empty page

    # 31 days later: the stuck rows beyond the first page are still known as pending, so none is forgotten
    ch.ledger.close()
    with sqlite3.connect(ledger_path) as db:
        db.execute("UPDATE commands SET started = started - 31 * 86400")
    ch = channel(hub, ledger_path, calls, system)
    run_polls(ch, range(2, 4))
    assert calls == ["sync"] * 60 and system.calls == ["reboot"]
    assert all("doneAt" not in hub.row("SteleScreenCommand", cid) for cid in stuck)
    ch.ledger.close()


def test_a_hub_that_answers_the_same_page_again_costs_two_requests(hub: ParseHub, tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    screen = screen_on(hub)
    for _ in range(130):
        read_only_command(hub, screen, "sync")
    calls: list[str] = []
    ledger_path = tmp_path / "commands.sqlite"
    ch = channel(hub, ledger_path, calls, RecordingSystem())
    ch.run(0.0)
    assert calls == ["sync"] * 130
    ch.ledger.close()
    with sqlite3.connect(ledger_path) as db:  # old enough to be forgotten, if the poll were taken as complete
        db.execute("UPDATE commands SET started = started - 31 * 86400")

    hub.stuck_queries = True  # from now on every page is the first one
    caplog.set_level(logging.WARNING, logger="player.parse_rest")
    ch = channel(hub, ledger_path, calls, RecordingSystem())
    before = hub.count("GET", "/classes/SteleScreenCommand")
    run_polls(ch, range(1, 4))
    assert hub.count("GET", "/classes/SteleScreenCommand") - before == 3 * 2
    assert len([r for r in caplog.records if "already read" in r.getMessage()]) == 3  # one per poll
    hub.stuck_queries = False
    ch.run(4 * 60.0)
    assert calls == ["sync"] * 130  # nothing was forgotten on the strength of a truncated poll
    ch.ledger.close()


# --------------------------------------------------------------------------------- fix: a poll answered with an error
@pytest.mark.parametrize(("status", "code"), [(500, 1), (502, 0), (400, 102)])
def test_owed_results_are_sent_when_the_poll_gets_an_error_answer(hub: ParseHub, tmp_path: Path, status: int,
                                                                   code: int) -> None:
    screen = screen_on(hub)
    cid = command(hub, screen, "sync")
    hub.refuse("PUT", f"/classes/SteleScreenCommand/{cid}", 500, 1, "Internal server error.")
    calls: list[str] = []
    ch = channel(hub, tmp_path / "commands.sqlite", calls, RecordingSystem())
    ch.run(0.0)
    assert ch.ledger.get(cid)["reported"] == 0  # owed
    hub.refusals.clear()
    hub.refuse("GET", "/classes/SteleScreenCommand", status, code, "query failed")  # the PUT works again
    with pytest.raises(HubError):
        ch.run(60.0)  # the poll's error is the run's error ...
    assert hub.row("SteleScreenCommand", cid)["result"] == "ok"  # ... but the result went to the hub
    assert calls == ["sync"]
    ch.ledger.close()


# --------------------------------------------------------------------------------- fix: commands newer than the loss
def _reboot_started_then_ledger_lost(hub: ParseHub, tmp_path: Path, age: timedelta
                                    ) -> tuple[dict[str, str], str, CommandChannel, RecordingSystem]:
    """A reboot created *age* ago was started when the process died, and the ledger was torn (a power cut); a new
    channel sets it aside. Returns the screen, the reboot's id, the channel and the recorded system."""
    screen = screen_on(hub)
    ledger_path = tmp_path / "commands.sqlite"
    ledger = CommandLedger(ledger_path)
    created = (datetime.now(UTC) - age).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    reboot = hub.add("SteleScreenCommand", {"screen": screen, "command": "reboot", "createdAt": created})
    ledger.start(reboot, "reboot")  # the process died here
    ledger.close()
    tear_header(ledger_path)
    system = RecordingSystem()
    return screen, reboot, channel(hub, ledger_path, [], system), system


def test_a_command_created_after_the_ledger_was_lost_runs(hub: ParseHub, tmp_path: Path) -> None:
    screen, before, ch, system = _reboot_started_then_ledger_lost(hub, tmp_path, timedelta(hours=1))
    hub.refuse("GET", "/classes/SteleScreenCommand", 503, 1, "down")  # the first polls fail (hub down) ...
    for i in range(2):
        with pytest.raises(HubError):
            ch.run(i * 60.0)
    later = (datetime.now(UTC) + timedelta(hours=3)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    after = hub.add("SteleScreenCommand", {"screen": screen, "command": "restart", "createdAt": later})
    hub.refusals.clear()  # ... meanwhile the administrator sent a restart; the hub is back
    ch.run(120.0)
    assert hub.row("SteleScreenCommand", before)["result"] == "interrupted by restart"  # may have run: not again
    assert system.calls == ["restart"] and hub.row("SteleScreenCommand", after)["result"] == "ok"
    ch.ledger.close()


def test_a_command_from_just_before_the_loss_is_not_run_again_when_the_screen_clock_lags(hub: ParseHub,
                                                                                       tmp_path: Path) -> None:
    """The power cut that damaged the ledger also left the Pi's clock behind (fake-hwclock: the time saved up to an
    hour before). A reboot created 10 min before the cut, already started, looks "created after the loss" to the
    lagging clock; it must not run a second time."""
    import player.report.commands as commands

    _screen, reboot, ch, system = _reboot_started_then_ledger_lost(hub, tmp_path, timedelta(minutes=10))
    assert ch.ledger.lost_at is not None
    ch.ledger.lost_at -= timedelta(hours=1)  # the clock at boot, before NTP: an hour behind
    ch.run(0.0)
    assert system.calls == [] and hub.row("SteleScreenCommand", reboot)["result"] == "interrupted by restart"
    assert commands.LOSS_CLOCK_MARGIN >= timedelta(hours=1)
    ch.ledger.close()


# --------------------------------------------------------------------------------- fix: a re-registered screen
def test_reporting_follows_the_screen_when_it_is_registered_again(hub: ParseHub, tmp_path: Path) -> None:
    """The screen's SteleScreen row is deleted; the hub source creates it again: commands for the new row run."""
    from player.sources.parse_hub import HubSource

    source = HubSource(ParseClient(hub.url, "app", timeout=(2, 10)), tmp_path, live_query=False)
    ref = ScreenRef(source.device_id)
    source.screen_listeners.append(ref.set_object_id)  # what player.ui.app wires through the content controller
    system = RecordingSystem()
    ch = CommandChannel(ParseClient(hub.url, "app", timeout=(2, 10)), ref,
                        CommandLedger(tmp_path / "commands.sqlite"), CommandActions(), system)
    state = source.fetch(None).state  # registers the screen
    first = hub.rows["SteleScreen"].copy().popitem()[0]
    ch.run(0.0)
    with hub.lock:
        del hub.rows["SteleScreen"][first]  # an administrator deleted the screen's row
    source.fetch(state)  # ... and the screen registered again (a setup answer: the sync saves no new state)
    (second,) = hub.rows["SteleScreen"]
    assert second != first
    reboot = command(hub, pointer("SteleScreen", second), "reboot")
    ch.on_live_event()  # LiveQuery (subscribed to the new row's commands) pushes it
    ch.run(1.0)
    assert system.calls == ["reboot"] and hub.row("SteleScreenCommand", reboot)["result"] == "ok"
    told: list[str] = []
    source.screen_listeners.append(told.append)
    hub.refuse("POST", "/batch", 503, 1, "down")  # the next check fails half-way
    with pytest.raises(HubError):
        source.fetch(state)  # the state saved before the re-registration still names the deleted row
    assert told == [] and ref._object_id == second, "the deleted row's id came back"
    ch.ledger.close()


def test_a_refused_login_does_not_switch_batch_requests_off(hub: ParseHub, tmp_path: Path) -> None:
    """The hub source checks for changes with one batch request. When the session expired and the re-login is
    refused, that says nothing about batch requests: before, the source switched them off for the process (a
    request per class from then on, each with its own failed login of the user all the steles share)."""
    from player.parse_rest import HubLoginError
    from player.sources.parse_hub import HubSource

    client = ParseClient(hub.url, "app", username="screen", password="pw", timeout=(2, 10))
    source = HubSource(client, tmp_path, live_query=False)
    source.fingerprint()  # works: batch requests are fine
    hub.refuse("POST", "/login", 404, 101, "Invalid username/password.")
    hub.refuse("POST", "/batch", 400, 209, "Invalid session token")
    with pytest.raises(HubLoginError):
        source.fingerprint()
    assert source._batch_works
