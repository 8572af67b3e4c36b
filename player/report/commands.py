"""Remote commands: hub class `SteleScreenCommand` {screen (Pointer), command, args, doneAt, result}.

Pending commands (no ``doneAt``) of this screen are fetched by polling (``poll_s``) and whenever the LiveQuery client
calls `CommandChannel.on_live_event`. Only whitelisted commands run; anything else gets
``result = "refused: unknown command"``.

Exactly once, across restarts: before a command runs its id is recorded locally as *started* (SQLite, committed
with fsync); after it ran it is recorded as *finished* with its result, then ``doneAt``/``result`` are written to the
hub (retried while the hub cannot be reached; a result the hub answers with a refusal is offered again with each
poll and given up after `MAX_REFUSALS`; the local *finished* record stops a second run meanwhile). Each poll first
runs the new commands, then sends the results still owed, so a result the hub will not take never holds up a later
command. A command found *started* but not *finished* after a restart is not run again: it is finished with
``"interrupted by restart"``, except the idempotent ones (reload, sync, screenshot, display_on, display_off), which
are simply run (completed).
``restart`` and ``reboot`` end this process by design, so they are always found *started* afterwards; their result
then says so (``"ok: player restarted"``, ``"ok: system rebooted"`` when the boot id changed).

The ledger forgets a command 30 days after its result went to the hub, but never while the hub still lists it as
pending (a row the screen may read but not write, whose result could not be written): a command runs at most once.
The poll pages through all pending rows by key (objectId) until an empty page, so such rows cannot hide newer
commands behind a page limit (also not behind a hub's ``maxLimit``); only a poll that saw every pending row may let the
ledger forget.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

from player.parse_rest import HubError, HubLoginError, HubUnavailable, ParseClient, decode_date, parse_date
from player.report import ScreenRef
from player.report.queue import CorruptDatabase, hub_unreachable, is_corrupt, open_state_db, set_aside_corrupt

log = logging.getLogger(__name__)

__all__ = ["COMMAND_CLASS", "IDEMPOTENT", "WHITELIST", "CommandActions", "CommandChannel", "CommandLedger",
           "SubprocessSystemActions", "SystemActions"]

COMMAND_CLASS = "SteleScreenCommand"
IDEMPOTENT = frozenset({"reload", "sync", "screenshot", "display_on", "display_off"})
WHITELIST = IDEMPOTENT | {"restart", "reboot"}
REFUSED_UNKNOWN = "refused: unknown command"
INTERRUPTED = "interrupted by restart"
OBJECT_NOT_FOUND = 101
INVALID_SESSION_TOKEN = 209
NOT_ABOUT_THE_ROW = frozenset({401, 403, 408, 429})  # who asks / how often, not this row: never a refusal
MAX_REFUSALS = 5  # a result the hub refuses this many times, a poll interval apart, is given up (not run again)
KEEP_FINISHED_S = 30 * 86400  # finished + reported commands are forgotten locally after 30 days
POLL_MAX_ROWS = 10_000  # pending rows read per poll (in pages of the client's page size)
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_T = TypeVar("_T")


class SystemActions(Protocol):
    """The machine-level actions (tests replace this with a recorder)."""

    def restart_player(self) -> None: ...

    def reboot(self) -> None: ...


class SubprocessSystemActions:
    """``systemctl`` without sudo; provisioning installs a polkit rule that lets the player's user do exactly this.

    ``--no-block``: systemctl would otherwise wait for the restart job, which stops this very process first."""

    def __init__(self, unit: str = "osc-player.service", timeout: float = 30.0) -> None:
        self.unit = unit
        self.timeout = timeout

    def _run(self, argv: list[str]) -> None:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout, check=False)
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {detail[-1] if detail else ''}")

    def restart_player(self) -> None:
        self._run(["systemctl", "--no-block", "restart", self.unit])

    def reboot(self) -> None:
        self._run(["systemctl", "--no-block", "reboot"])


@dataclass
class CommandActions:
    """The app's callbacks. They are called on the sender thread: hand GUI work over to the GUI thread
    (``player.ui.reporting.on_gui_thread``). ``None``: not available on this player."""

    reload: Callable[[], None] | None = None
    sync_now: Callable[[], None] | None = None
    screenshot_now: Callable[[], None] | None = None
    set_display: Callable[[bool], None] | None = None


def _not_a_refusal(exc: HubError) -> bool:
    """An error answer that says nothing about the row written or read: the login was refused (wrong password,
    locked user: Parse error 101 from ``/login``), the session token or the keys were refused, a proxy timed out,
    too many requests. Such an answer is never counted as the hub refusing a result."""
    return (isinstance(exc, HubLoginError) or exc.status in NOT_ABOUT_THE_ROW
            or exc.code == INVALID_SESSION_TOKEN)


def _boot_id() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return ""


LOSS_CLOCK_MARGIN = timedelta(hours=2)  # how far the screen's clock may lag the hub's after a power cut


class CommandLedger:
    """Local record of commands: id -> started/finished, result, reported (SQLite WAL, synchronous=FULL).

    A corrupt file (torn header: "file is not a database"; a torn page: "database disk image is malformed"), found
    when it is opened or by any later statement, is moved aside as ``<name>.corrupt-<UTC timestamp>`` with one log
    line and the ledger starts empty; `losses` counts how often that happened, so that the channel treats the
    commands then pending on the hub as interrupted (they may have run already) instead of running them; `lost_at` is
    when that last happened (commands created on the hub after it cannot have run)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.losses = 0
        self.lost_at: datetime | None = None
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        attempts = 0

        def prepare(db: sqlite3.Connection) -> None:
            nonlocal attempts
            attempts += 1
            _prepare_ledger(db)

        db, _ = open_state_db(self.path, prepare, what="command ledger",
                              then="starting with an empty one (commands pending on the hub now count as "
                                   "interrupted, they are not run)")
        if attempts > 1:  # the file was corrupt and set aside
            self.losses += 1
            self.lost_at = datetime.now(UTC)
        return db

    def _do(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``work`` on the database (lock held). A corrupt file is set aside and ``work`` runs on a new one."""
        with self._lock:
            try:
                return work(self._db)
            except sqlite3.Error as exc:
                if not is_corrupt(exc):
                    raise
                self._db.close()
                moved = set_aside_corrupt(self.path)
                log.error("command ledger %s is corrupt (%s): moved it aside as %s; starting with an empty one "
                          "(commands pending on the hub now count as interrupted, they are not run)", self.path,
                          exc, ", ".join(m.name for m in moved) or "(nothing to move)")
                self.losses += 1
                self.lost_at = datetime.now(UTC)
                self._db = self._open()
                return work(self._db)

    def get(self, cid: str) -> dict[str, Any] | None:
        row = self._do(lambda db: db.execute("SELECT id, command, state, result, done_at, boot_id, reported "
                                             "FROM commands WHERE id = ?", (cid,)).fetchone())
        if row is None:
            return None
        keys = ("id", "command", "state", "result", "done_at", "boot_id", "reported")
        return dict(zip(keys, row, strict=True))

    def start(self, cid: str, command: str) -> None:
        boot_id = _boot_id()
        self._do(lambda db: db.execute("INSERT INTO commands(id, command, state, boot_id, started) "
                                       "VALUES (?, ?, 'started', ?, strftime('%s','now'))", (cid, command, boot_id)))

    def finish(self, cid: str, command: str, result: str, done_at: datetime) -> None:
        self._do(lambda db: db.execute(
            "INSERT INTO commands(id, command, state, result, done_at, started) "
            "VALUES (?, ?, 'finished', ?, ?, strftime('%s','now')) "
            "ON CONFLICT(id) DO UPDATE SET state='finished', result=excluded.result, done_at=excluded.done_at",
            (cid, command, result, done_at.isoformat())))

    def mark_reported(self, cid: str) -> None:
        self._do(lambda db: db.execute("UPDATE commands SET reported = 1 WHERE id = ?", (cid,)))

    def refused(self, cid: str) -> int:
        """Count one refusal of this command's result by the hub; returns how many there were."""
        def work(db: sqlite3.Connection) -> Any:
            db.execute("UPDATE commands SET refusals = refusals + 1 WHERE id = ?", (cid,))
            return db.execute("SELECT refusals FROM commands WHERE id = ?", (cid,)).fetchone()

        row = self._do(work)
        return int(row[0]) if row else MAX_REFUSALS

    def unreported(self) -> list[dict[str, Any]]:
        rows = self._do(lambda db: db.execute("SELECT id, result, done_at FROM commands "
                                              "WHERE state = 'finished' AND reported = 0").fetchall())
        return [{"id": r[0], "result": r[1], "done_at": r[2]} for r in rows]

    def forget_old(self, still_pending: Collection[str]) -> None:
        """Drop commands reported more than `KEEP_FINISHED_S` ago, except those the hub still lists as pending
        (their result could not be written): forgetting one of those would run it again at the next poll."""
        keep = set(still_pending)

        def work(db: sqlite3.Connection) -> None:
            old = db.execute("SELECT id FROM commands WHERE reported = 1 AND started < strftime('%s','now') - ?",
                             (KEEP_FINISHED_S,)).fetchall()
            gone = [(row[0],) for row in old if row[0] not in keep]
            if gone:
                db.execute("BEGIN")
                try:
                    db.executemany("DELETE FROM commands WHERE id = ?", gone)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")

        self._do(work)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _prepare_ledger(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("""CREATE TABLE IF NOT EXISTS commands (
        id TEXT PRIMARY KEY, command TEXT NOT NULL, state TEXT NOT NULL, result TEXT, done_at TEXT,
        boot_id TEXT, reported INTEGER NOT NULL DEFAULT 0, started REAL NOT NULL)""")
    columns = {row[1] for row in db.execute("PRAGMA table_info(commands)")}
    if "refusals" not in columns:  # a ledger written by an earlier version
        db.execute("ALTER TABLE commands ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0")
    check = db.execute("PRAGMA quick_check(1)").fetchone()  # a torn page the first statements did not read
    if check is None or check[0] != "ok":
        raise CorruptDatabase("quick_check: " + " ".join(str(check[0] if check else "no answer").split()))


class CommandChannel:
    """Fetches this screen's pending commands and runs each exactly once."""

    name = "commands"

    def __init__(self, client: ParseClient, screen: ScreenRef, ledger: CommandLedger, actions: CommandActions,
                 system: SystemActions, *, poll_s: float = 60.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 class_name: str = COMMAND_CLASS) -> None:
        self.client = client
        self.screen = screen
        self.ledger = ledger
        self.actions = actions
        self.system = system
        self.poll_s = poll_s
        self.clock = clock
        self.class_name = class_name
        self.on_ready: Callable[[], None] | None = None
        self._last_poll = -math.inf
        self._live = threading.Event()
        self._boot_id = _boot_id()
        self._unreported = bool(ledger.unreported())  # results the hub does not have yet: send them first
        self.executed: list[str] = []  # command ids run by this process (for tests and the log)
        self._halt: HubError | None = None  # unreachable / login refused while writing results: no more this run
        self._last_server_error: str | None = None
        self._tried: set[str] = set()  # results written (or tried) in this run
        self._losses_seen = 0  # ledger losses (corrupt file set aside) whose pending commands were dealt with
        self._now = 0.0  # `run`'s instant (the sender loop's monotonic clock)
        self._refused_at: dict[str, float] = {}  # command id -> instant of the last refusal counted (this process)

    def on_live_event(self) -> None:
        """A SteleScreenCommand was created/updated (LiveQuery): fetch now."""
        self._live.set()
        if self.on_ready is not None:
            self.on_ready()

    def next_due(self, now: float) -> float:
        return now if self._live.is_set() or self._unreported else self._last_poll + self.poll_s

    def run(self, now: float) -> None:
        self._live.clear()
        self._last_poll = now
        self._now = now
        self._unreported = False
        self._halt = None
        self._tried = set()
        poll_error: HubError | None = None
        pending: set[str] | None = None
        try:
            # new commands first: a result the hub will not take must never keep a later command from running
            pending = self._poll()
        except HubError as exc:
            # unreachable, or the login / the keys refused: a result PUT would fare no better. Any other error
            # answer to the poll (4xx or 5xx) is about the query: the results owed are still sent
            if hub_unreachable(exc) or _not_a_refusal(exc):
                self._unreported = bool(self.ledger.unreported())
                raise
            poll_error = exc
        self._report_unreported()
        if pending is not None:
            self.ledger.forget_old(pending)
        if self._halt is not None:
            raise self._halt
        if poll_error is not None:
            raise poll_error

    def _poll(self) -> set[str] | None:
        """Run this screen's new commands. Returns the ids the hub lists as pending (None: not known completely)."""
        screen = self.screen.pointer(self.client)
        if screen is None:
            return None
        losses = self.ledger.losses
        # all pending rows, paged by key until an empty page: rows whose result cannot be written stay pending for
        # good and must not crowd newer commands out of a page (nor out of a page shortened by the hub's maxLimit).
        # No `keys`: Parse Server on PostgreSQL answers an empty list when a key names a column the class does not
        # have (e.g. `args` on a hub whose admins never set it)
        rows, complete = self.client.query_all(self.class_name, {"screen": screen, "doneAt": {"$exists": False}},
                                               max_rows=POLL_MAX_ROWS)
        rows.sort(key=lambda d: (created if isinstance(created := d.get("createdAt"), str) else "",
                                 str(d.get("objectId"))))  # run in the order they were given
        pending: set[str] = set()
        for doc in rows:
            cid = doc.get("objectId")
            if isinstance(cid, str):
                pending.add(cid)
                self._handle(cid, doc)
        if not complete:  # not every pending row was seen: nothing may be forgotten on this basis
            return None
        self._losses_seen = losses  # every command pending when the ledger was lost has been dealt with
        return pending

    # -------------------------------------------------------------------------------------------------
    def _handle(self, cid: str, doc: dict[str, Any]) -> None:
        command = found if isinstance(found := doc.get("command"), str) else ""
        known = self.ledger.get(cid)
        if known is not None and known["state"] == "finished":
            return  # run before; its result (if the hub does not have it yet) is sent by _report_unreported
        if command not in WHITELIST:
            log.warning("remote command %s refused: unknown command %r", cid, command[:60])
            self._finish(cid, command, REFUSED_UNKNOWN)
            return
        if known is None and self.ledger.losses != self._losses_seen and not self._created_after_loss(doc):
            # the ledger was corrupt and started empty: this command may have run before; like a command found
            # started after a restart it is not run again unless it is idempotent
            if command not in IDEMPOTENT:
                log.info("remote command %s (%s) was pending when the command ledger was lost; not run again: %s",
                         cid, command, INTERRUPTED)
                self._finish(cid, command, INTERRUPTED)
                return
            log.info("remote command %s (%s) was pending when the command ledger was lost; completing it",
                     cid, command)
            self.ledger.start(cid, command)
        elif known is not None:  # started before, never finished: a restart happened in between
            if command not in IDEMPOTENT:
                result = INTERRUPTED
                if command == "restart":
                    result = "ok: player restarted"
                elif command == "reboot" and known["boot_id"] and known["boot_id"] != self._boot_id:
                    result = "ok: system rebooted"
                log.info("remote command %s (%s) was interrupted by a restart; not run again: %s",
                         cid, command, result)
                self._finish(cid, command, result)
                return
            log.info("remote command %s (%s) was interrupted by a restart; completing it", cid, command)
        else:
            self.ledger.start(cid, command)
        log.info("remote command %s: %s", cid, command)
        self.executed.append(cid)
        result = self._execute(command, doc.get("args"))
        self._finish(cid, command, result)

    def _created_after_loss(self, doc: dict[str, Any]) -> bool:
        """The command was created on the hub after the ledger was set aside, so it cannot have run before
        (unknown or unreadable ``createdAt``: it may have). ``createdAt`` is the hub's clock, ``lost_at`` the
        screen's, which after a power cut (what damages the ledger) may lag: a Pi without a clock battery boots with
        the time saved before (hourly, by fake-hwclock) until NTP answers. So a command counts as later only from
        LOSS_CLOCK_MARGIN after ``lost_at`` on; one sent within that while the screen was off is reported
        interrupted (the administrator sends it again) rather than a reboot run twice."""
        created = decode_date(doc.get("createdAt"))
        lost = self.ledger.lost_at
        return created is not None and lost is not None and created > lost + LOSS_CLOCK_MARGIN

    def _execute(self, command: str, _args: Any) -> str:
        a = self.actions
        fn: Callable[[], None] | None
        if command == "reload":
            fn = a.reload
        elif command == "sync":
            fn = a.sync_now
        elif command == "screenshot":
            fn = a.screenshot_now
        elif command in ("display_on", "display_off"):
            set_display = a.set_display
            on = command == "display_on"
            fn = None if set_display is None else (lambda: set_display(on))
        elif command == "restart":
            fn = self.system.restart_player
        elif command == "reboot":
            fn = self.system.reboot
        else:
            return REFUSED_UNKNOWN
        if fn is None:
            return "refused: not available on this player"
        try:
            fn()
        except Exception as exc:
            log.error("remote command %s failed: %s", command, exc)
            return f"failed: {exc}"[:500]
        return "ok"

    def _finish(self, cid: str, command: str, result: str) -> None:
        done_at = self.clock()
        self.ledger.finish(cid, command, result, done_at)
        self._report(cid, result, done_at)

    def _report(self, cid: str, result: str, done_at: datetime) -> None:
        """Write the result to the hub. Never raises: when the hub cannot be reached, or the login (the keys, a
        rate limit) is refused, the error is kept for the end of `run` (and no more writes are tried in this run);
        a server error answer (5xx) leaves the result for the next poll; a refusal of this row (any other 4xx) is
        counted in the ledger, at most once per poll interval (LiveQuery events start extra runs), and after
        `MAX_REFUSALS` of them the result is given up (it stays in the ledger, so the command never runs again).
        None of these holds up the polls."""
        if self._halt is not None or cid in self._tried:
            return
        refused_at = self._refused_at.get(cid)
        if refused_at is not None and 0 <= self._now - refused_at < self.poll_s:
            return  # refused less than a poll interval ago: offered again with a later poll
        self._tried.add(cid)
        try:
            self.client.update(self.class_name, cid, {"doneAt": parse_date(done_at), "result": result})
        except HubError as exc:
            if hub_unreachable(exc) or _not_a_refusal(exc):
                self._unreported = True  # sent again as soon as the hub answers (the ledger remembers it)
                self._halt = exc
                return
            if isinstance(exc, HubUnavailable):  # a server error answer (5xx): tried again with the next poll
                if str(exc) != self._last_server_error:
                    log.warning("remote command %s: the hub could not store its result (%s); trying again with "
                                "the next polls", cid, exc)
                    self._last_server_error = str(exc)
                return
            if exc.code == OBJECT_NOT_FOUND:  # deleted, or an ACL lets the screen's user read it but not write it
                log.warning("remote command %s: the hub did not let this screen write its result %r (Parse error "
                            "101: the row was deleted or is not writable for the screen's user); not run again",
                            cid, result[:60])
            else:
                self._refused_at[cid] = self._now
                refusals = self.ledger.refused(cid)
                if refusals < MAX_REFUSALS:
                    if refusals == 1:
                        log.warning("remote command %s: the hub refused its result %r (%s); trying again with "
                                    "the next polls", cid, result[:60], exc)
                    return
                log.error("remote command %s: the hub refused its result %d times (%s); giving up reporting it",
                          cid, refusals, exc)
        self.ledger.mark_reported(cid)

    def _report_unreported(self) -> None:
        for row in self.ledger.unreported():
            if self._halt is not None:
                return
            self._report(row["id"], row["result"], decode_date(row["done_at"]) or self.clock())
