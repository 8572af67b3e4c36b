"""Durable outbox for reports (SQLite in WAL mode, in the state directory) and the thread that delivers them.

`Outbox` stores records (`kind`, JSON payload, a client-side UUID `client_id`) until a channel has delivered them.
A record is written once when it is enqueued (one INSERT, committed with fsync of the WAL), flagged once when a
delivery of it starts (`attempted`, so that a crash or timeout leaves "result unknown" on record), and deleted once
the hub has it. Nothing else is written in steady state. While the hub is unreachable the retries write nothing.

Retention: when the outbox holds more than `max_records` records or `max_bytes` of payload, the oldest records of the
kinds in `drop_first` (proof of play, and plays set aside) are dropped, with one log line per pruning. There is no
age limit: a record stays until it is delivered, given up by its channel, or pruned so.

`DeliveryLoop` is the one sender thread: it runs the due `Channel`s; when the hub is unreachable (no connection, no
answer in time) every channel waits with exponential backoff (5 s doubling to 10 min, jittered). An error answer
(HTTP 5xx or 4xx) is the failure of that one channel only: it alone waits (its own backoff) while the others go
on. `wake()` looks again at once (a wait still holds); `retry_now()` (the hub is back) ends every wait.

No Qt in here; every method is thread-safe. `submit()` never blocks: the GUI thread may call it.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import queue
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from player.parse_rest import HubError, HubUnavailable

log = logging.getLogger(__name__)

__all__ = ["Channel", "CorruptDatabase", "DeliveryLoop", "Outbox", "Record", "is_corrupt", "open_state_db",
           "set_aside_corrupt"]

DEFAULT_MAX_RECORDS = 200_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
PRUNE_TO = 0.9  # after pruning the outbox holds at most 90 % of its limits
WAL_LIMIT_BYTES = 4 * 1024 * 1024  # SQLite's default checkpoint is at 1000 pages (4 MB): keep the WAL near that

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind      TEXT NOT NULL,
    client_id TEXT NOT NULL UNIQUE,
    payload   TEXT NOT NULL,
    size      INTEGER NOT NULL,
    created   REAL NOT NULL,
    attempted INTEGER NOT NULL DEFAULT 0,
    failures  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_kind ON outbox(kind, id);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Record:
    id: int
    kind: str
    client_id: str
    payload: dict[str, Any]
    created: float
    attempted: bool
    failures: int
    attempted_at: float = 0.0  # wall-clock seconds of the send whose outcome is unknown (0: none)


# ------------------------------------------------------------------------------------------ opening
_SQLITE_CORRUPT = 11  # "database disk image is malformed"
_SQLITE_NOTADB = 26  # "file is not a database" (e.g. a torn header)
_T = TypeVar("_T")


class CorruptDatabase(sqlite3.DatabaseError):
    """A ``prepare`` step found the file damaged (e.g. ``PRAGMA quick_check`` did not answer ``ok``)."""


def is_corrupt(exc: BaseException) -> bool:
    """True for SQLite's "file is not a database" / "database disk image is malformed", not for a locked, full
    or unreadable file (those are not cured by starting afresh)."""
    if isinstance(exc, CorruptDatabase):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.DatabaseError) and isinstance(code, int) and code & 0xFF in (
        _SQLITE_CORRUPT, _SQLITE_NOTADB)


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)


def set_aside_corrupt(path: Path) -> list[Path]:
    """Move ``path`` and its ``-wal``/``-shm`` to ``<name>.corrupt-<UTC timestamp>`` (+ ``-wal``/``-shm``, so
    ``sqlite3`` can still open the copy for a look). Older set-aside copies of ``path`` are removed (a failing card
    must not fill the disk with them). Returns the new paths."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    base = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while base.exists():
        base = path.with_name(f"{path.name}.corrupt-{stamp}.{n}")
        n += 1
    older = list(path.parent.glob(f"{glob.escape(path.name)}.corrupt-*"))
    moved: list[Path] = []
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{path}{suffix}")
        if src.exists():
            dst = Path(f"{base}{suffix}")
            os.replace(src, dst)
            moved.append(dst)
    for old in older:
        with contextlib.suppress(OSError):
            old.unlink()
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the renames survive a power cut
    finally:
        os.close(fd)
    return moved


def open_state_db(path: str | Path, prepare: Callable[[sqlite3.Connection], _T], *, what: str,
                  then: str = "starting with an empty one") -> tuple[sqlite3.Connection, _T]:
    """Open the SQLite file ``path`` (autocommit, usable from any thread) and run ``prepare(db)`` on it (pragmas,
    schema, first reads; its result is returned with the connection). If SQLite finds the file corrupt, it is
    moved aside (`set_aside_corrupt`) with one log line and a new, empty file is opened instead: a damaged state
    file must not turn a feature off until someone repairs it by hand. Other errors are raised."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = _connect(path)
    try:
        return db, prepare(db)
    except sqlite3.Error as exc:
        db.close()
        if not is_corrupt(exc):
            raise
        moved = set_aside_corrupt(path)
        log.error("%s %s is corrupt (%s): moved it aside as %s; %s", what, path, exc,
                  ", ".join(p.name for p in moved) or "(nothing to move)", then)
    db = _connect(path)
    try:
        return db, prepare(db)
    except BaseException:
        db.close()
        raise


def _prepare_outbox(db: sqlite3.Connection) -> tuple[int, int]:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")  # a committed record survives a power cut
    db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")  # a WAL grown by a large prune shrinks again
    db.executescript(_SCHEMA)
    # a torn page may sit in an index that the count below does not read: check every page once per start
    check = db.execute("PRAGMA quick_check(1)").fetchone()
    if check is None or check[0] != "ok":
        raise CorruptDatabase("quick_check: " + " ".join(str(check[0] if check else "no answer").split()))
    count, size = db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox").fetchone()
    return int(count), int(size)


class Outbox:
    """Records waiting for delivery, kept in ``path`` (SQLite, WAL, synchronous=FULL)."""

    def __init__(self, path: str | Path, *, max_records: int = DEFAULT_MAX_RECORDS,
                 max_bytes: int = DEFAULT_MAX_BYTES, drop_first: Sequence[str] = ("proof", "proof-aside"),
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.max_records = max(1, max_records)
        self.max_bytes = max(1, max_bytes)
        self.drop_first = tuple(drop_first)
        self.clock = clock
        self._lock = threading.Lock()
        self._db, (count, size) = open_state_db(self.path, _prepare_outbox, what="report outbox",
                                                then="reporting starts with an empty outbox")
        self._count, self._bytes = int(count), int(size)
        self._listeners: list[Callable[[str, int], None]] = []
        # submit(): records handed over without blocking; a small writer thread commits them in groups
        self._inbox: queue.SimpleQueue[tuple[str, dict[str, Any], str] | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._closed = False
        self._idle = threading.Event()
        self._idle.set()

    # ------------------------------------------------------------------------------------------ writing
    def enqueue(self, kind: str, payload: dict[str, Any], client_id: str | None = None) -> str:
        """Store one record durably (returns when it is committed). Returns its client id."""
        cid = client_id or str(uuid.uuid4())
        self._insert([(kind, payload, cid)])
        return cid

    def submit(self, kind: str, payload: dict[str, Any]) -> str:
        """Hand a record over without blocking (GUI thread); it is committed within milliseconds."""
        cid = str(uuid.uuid4())
        self._idle.clear()
        self._inbox.put((kind, payload, cid))
        if self._writer is None:
            with self._lock:
                if self._writer is None:
                    self._writer = threading.Thread(target=self._write_loop, name="osc-outbox-writer",
                                                    daemon=True)
                    self._writer.start()
        return cid

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every submitted record is committed."""
        if self._writer is None:
            return True
        return self._idle.wait(timeout)

    def _write_loop(self) -> None:
        while True:
            first = self._inbox.get()
            if first is None:
                self._idle.set()
                return
            group = [first]
            while True:  # group commit: whatever arrived meanwhile goes into the same transaction
                try:
                    nxt = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._inbox.put(None)
                    break
                group.append(nxt)
            try:
                self._insert(group)
            except sqlite3.Error as exc:
                log.error("outbox %s: could not store %d report record(s): %s", self.path, len(group), exc)
            if self._inbox.empty():
                self._idle.set()

    def _insert(self, rows: Iterable[tuple[str, dict[str, Any], str]]) -> None:
        now = self.clock()
        encoded = []
        for kind, payload, cid in rows:
            text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
            encoded.append((kind, cid, text, len(text.encode("utf-8")), now))
        added: dict[str, int] = {}
        for e in encoded:
            added[e[0]] = added.get(e[0], 0) + 1
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError("outbox is closed")
            try:
                self._insert_locked(encoded)
            except sqlite3.DatabaseError as exc:
                if not self._recover(exc):
                    raise
                self._insert_locked(encoded)  # into the new, empty file
        for kind, n in added.items():
            for listener in list(self._listeners):
                listener(kind, n)

    def _insert_locked(self, encoded: list[tuple[str, str, str, int, float]]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR IGNORE INTO outbox(kind, client_id, payload, size, created) "
                                 "VALUES (?, ?, ?, ?, ?)", encoded)
            self._recount()
            self._prune()
            self._db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # a damaged file may refuse this too: the first error counts
                self._db.execute("ROLLBACK")
                self._recount()
            raise

    def _recover(self, exc: sqlite3.Error) -> bool:
        """Under the lock: SQLite found the file damaged while running (a card failing after the start): move it
        aside like `open_state_db` does at the start and go on with an empty outbox (one log line). False, with
        nothing done, for any other error."""
        if not is_corrupt(exc) or self._closed:
            return False
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        moved = set_aside_corrupt(self.path)
        log.error("report outbox %s became corrupt (%s): moved it aside as %s; reporting goes on with an empty "
                  "outbox", self.path, exc, ", ".join(p.name for p in moved) or "(nothing to move)")
        self._db, (count, size) = open_state_db(self.path, _prepare_outbox, what="report outbox",
                                                then="reporting starts with an empty outbox")
        # ids go on far above the old file's (ms since 1970), so an id a channel read from it before cannot name a
        # record of the new file (`remove`, `note_failure` of an earlier batch then touch nothing)
        self._db.execute("INSERT INTO sqlite_sequence(name, seq) VALUES ('outbox', ?)", (int(time.time() * 1000),))
        self._count, self._bytes = int(count), int(size)
        return True

    def _recount(self) -> None:
        count, size = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox").fetchone()
        self._count, self._bytes = int(count), int(size)

    def _prune(self) -> None:
        """Inside a transaction: drop the oldest droppable records until within 90 % of the limits."""
        if self._count <= self.max_records and self._bytes <= self.max_bytes:
            return
        target_n = int(self.max_records * PRUNE_TO)
        target_b = int(self.max_bytes * PRUNE_TO)
        dropped = 0
        first_ts = last_ts = None
        marks = ",".join("?" for _ in self.drop_first)
        if not marks:
            return
        cur = self._db.execute(f"SELECT id, size, created FROM outbox WHERE kind IN ({marks}) ORDER BY id",
                               self.drop_first)
        ids: list[int] = []
        n, b = self._count, self._bytes
        for rid, size, created in cur:
            if n <= target_n and b <= target_b:
                break
            ids.append(rid)
            n -= 1
            b -= size
            first_ts = created if first_ts is None else first_ts
            last_ts = created
        cur.close()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            self._db.execute(f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            dropped += len(chunk)
        self._count, self._bytes = n, b
        if dropped:
            log.warning("report outbox %s is full (limit %d records / %d bytes): dropped the %d oldest "
                        "records of kind %s, recorded %s .. %s", self.path, self.max_records, self.max_bytes,
                        dropped, "/".join(self.drop_first), _ts(first_ts), _ts(last_ts))

    # ------------------------------------------------------------------------------------------ reading
    def _read(self, fn: Callable[[], _T], empty: _T) -> _T:
        """Run ``fn`` under the lock; a damaged file is set aside (`_recover`) and ``empty`` is the answer."""
        with self._lock:
            try:
                return fn()
            except sqlite3.DatabaseError as exc:
                if not self._recover(exc):
                    raise
                return empty

    def pending(self, kind: str, limit: int = 50, *, fewest_failures: bool = False, after: int = 0) -> list[Record]:
        """Up to ``limit`` records of ``kind``, oldest first (``fewest_failures``: those refused least often first,
        then the oldest, so that records retried in turns all get theirs); ``after``: only those with a greater id."""
        order = "failures, id" if fewest_failures else "id"
        rows: list[Any] = self._read(lambda: self._db.execute(
            "SELECT id, kind, client_id, payload, created, attempted, failures FROM outbox "
            f"WHERE kind = ? AND id > ? ORDER BY {order} LIMIT ?", (kind, after, limit)).fetchall(), [])
        return [Record(r[0], r[1], r[2], json.loads(r[3]), r[4], bool(r[5]), r[6], float(r[5])) for r in rows]

    def records(self, ids: Sequence[int]) -> list[Record]:
        """The records among ``ids`` that are still in the outbox, oldest first."""
        wanted = list(ids)[:500]
        if not wanted:
            return []
        rows: list[Any] = self._read(lambda: self._db.execute(
            "SELECT id, kind, client_id, payload, created, attempted, failures FROM outbox "
            f"WHERE id IN ({','.join('?' * len(wanted))}) ORDER BY id", wanted).fetchall(), [])
        return [Record(r[0], r[1], r[2], json.loads(r[3]), r[4], bool(r[5]), r[6], float(r[5])) for r in rows]

    def matching(self, kind: str, wanted: Callable[[dict[str, Any]], bool]) -> list[int]:
        """The ids of the records of ``kind`` whose payload ``wanted`` accepts, oldest first (reads every record of
        ``kind``, 1000 at a time: for rare events, not per send)."""
        found: list[int] = []
        after = 0
        while True:
            def page(a: int = after) -> list[Any]:
                return self._db.execute(
                    "SELECT id, payload FROM outbox WHERE kind = ? AND id > ? ORDER BY id LIMIT 1000",
                    (kind, a)).fetchall()

            rows: list[Any] = self._read(page, [])
            if not rows:
                return found
            found += [r[0] for r in rows if wanted(json.loads(r[1]))]
            after = rows[-1][0]

    def meta(self, key: str) -> str | None:
        """A small value kept with the records (e.g. when a channel last did something), or None."""
        row = self._read(lambda: self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone(), None)
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            try:
                self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
            except sqlite3.DatabaseError as exc:
                if not self._recover(exc):
                    raise

    def oldest_created(self, kind: str) -> float | None:
        row = self._read(lambda: self._db.execute("SELECT MIN(created) FROM outbox WHERE kind = ?",
                                                  (kind,)).fetchone(), None)
        return None if row is None or row[0] is None else float(row[0])

    def count(self, kind: str | None = None) -> int:
        if kind is None:
            return self._count
        return int(self._read(lambda: self._db.execute("SELECT COUNT(*) FROM outbox WHERE kind = ?",
                                                       (kind,)).fetchone()[0], 0))

    @property
    def size_bytes(self) -> int:
        return self._bytes

    # ------------------------------------------------------------------------------------------ delivery
    def mark_attempted(self, ids: Sequence[int], at: float | None = None) -> None:
        """Before a send: from now on the outcome of these records is unknown until confirmed. The column holds the
        time of the latest send (``at``, wall-clock seconds, default now; an earlier one is replaced), so a restart
        waits until the hub has surely finished with every send of theirs."""
        now = max(1.0, round(time.time() if at is None else at, 3))  # SQLite keeps the REAL in the INTEGER column
        self._update(f"UPDATE outbox SET attempted = {now!r} WHERE id IN ({{}})", ids)

    def unmark_attempted(self, ids: Sequence[int]) -> None:
        """The send never left this machine (no connection): the outcome of these records is known again."""
        self._update("UPDATE outbox SET attempted = 0 WHERE id IN ({})", ids)

    def note_failure(self, ids: Sequence[int]) -> None:
        """The hub refused these records (a Parse error for the item, not an outage). Whether a send of theirs has an
        unknown outcome is kept (`unmark_attempted` when the hub's answer settled it): a refusal counted after the
        run may be older than a later send of the record that the hub stored but whose answer timed out."""
        self._update("UPDATE outbox SET failures = failures + 1 WHERE id IN ({})", ids)

    def remove(self, ids: Sequence[int]) -> None:
        """Delivered (or given up): gone for good."""
        self._update("DELETE FROM outbox WHERE id IN ({})", ids, recount=True)

    def move(self, ids: Sequence[int], kind: str) -> None:
        """These records are of ``kind`` from now on (kept, with their client id, failures and whether a send of theirs
        has an unknown outcome: a record the hub may have stored is looked up by client id before it goes again)."""
        self._update("UPDATE outbox SET kind = ? WHERE id IN ({})", ids, params=(kind,))

    def _update(self, sql: str, ids: Sequence[int], recount: bool = False, params: tuple[Any, ...] = ()) -> None:
        if not ids:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for start in range(0, len(ids), 500):
                        chunk = list(ids[start:start + 500])
                        self._db.execute(sql.format(",".join("?" * len(chunk))), [*params, *chunk])
                    if recount:
                        self._recount()
                    self._db.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.DatabaseError as exc:
                if not self._recover(exc):  # else: these records were in the file set aside
                    raise

    def add_listener(self, fn: Callable[[str, int], None]) -> None:
        """``fn(kind, n)`` is called (on the writing thread) after ``n`` records of ``kind`` were committed."""
        self._listeners.append(fn)

    def close(self) -> None:
        if self._writer is not None:
            self._inbox.put(None)
            self._writer.join(timeout=10)
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()


def _ts(value: float | None) -> str:
    if value is None:
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


# ----------------------------------------------------------------------------------------------------------


class Channel(Protocol):
    """One kind of report. ``next_due(now)``: monotonic instant it wants to run next (``math.inf``: idle).
    ``run(now)``: deliver; raise ``HubUnavailable`` when the hub cannot be reached."""

    name: str

    def next_due(self, now: float) -> float: ...

    def run(self, now: float) -> None: ...


BACKOFF_FIRST_S = 5.0
BACKOFF_MAX_S = 600.0
ERROR_RETRY_S = 60.0  # first wait of a channel after an error that is not a server error (4xx, a bug), doubling


def hub_unreachable(exc: BaseException) -> bool:
    """The hub could not be reached at all (connection failed, no answer in time) — not an error answer (HTTP 5xx),
    which is about one request and must not hold the other channels."""
    return isinstance(exc, HubUnavailable) and exc.status is None


class DeliveryLoop:
    """The single sender thread for every reporting channel."""

    def __init__(self, channels: Sequence[Channel], *, monotonic: Callable[[], float] = time.monotonic,
                 backoff_first_s: float = BACKOFF_FIRST_S, backoff_max_s: float = BACKOFF_MAX_S) -> None:
        self.channels = list(channels)
        self.monotonic = monotonic
        self.backoff_first_s = backoff_first_s
        self.backoff_max_s = backoff_max_s
        self._backoff = 0.0
        self._blocked_until = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error_until: dict[str, float] = {}
        self._server_error: set[str] = set()  # channels whose last failure was a server error (5xx), not a refusal
        self._error_backoff: dict[str, float] = {}
        self._last_error: dict[str, str] = {}
        self.online: bool | None = None  # None: not tried yet
        self.last_error: str | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="osc-report-sender", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Something new may be due: look again now (a running backoff still holds)."""
        self._wake.set()

    def retry_now(self) -> None:
        """A sign that the hub is back (e.g. a LiveQuery event or reconnect): end the outage wait and the error wait
        of every channel whose last answer was a server error (a proxy answers 502 while the hub restarts) and try
        at once. A channel that fails again goes on with its doubled wait; one the hub refused (4xx) keeps its wait."""
        self._blocked_until = 0.0
        for name in list(self._server_error):  # not a channel the hub refuses (4xx): it would only be refused again
            self._error_until.pop(name, None)
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self) -> None:
        """Run every channel that is due now (the thread body; also handy in tests)."""
        now = self.monotonic()
        if now < self._blocked_until:
            return
        ran = False
        for ch in self.channels:
            if self._stop.is_set():
                return
            if ch.next_due(now) > now or self._error_until.get(ch.name, 0.0) > now:
                continue
            try:
                ch.run(now)
            except HubError as exc:
                if hub_unreachable(exc):  # every channel waits
                    self._offline(exc)
                    return
                # an error answer: this channel's own failure (server errors are often brief: retry sooner)
                first = self.backoff_first_s if isinstance(exc, HubUnavailable) else ERROR_RETRY_S
                if isinstance(exc, HubUnavailable):
                    self._server_error.add(ch.name)
                else:
                    self._server_error.discard(ch.name)
                self._channel_error(ch.name, str(exc), first)
            except Exception as exc:  # a bug in one channel must not end reporting
                log.exception("report channel %s failed", ch.name)
                self._channel_error(ch.name, f"{type(exc).__name__}: {exc}", ERROR_RETRY_S)
            else:
                ran = True
                self._server_error.discard(ch.name)
                self._error_until.pop(ch.name, None)
                self._error_backoff.pop(ch.name, None)
                if self._last_error.pop(ch.name, None) is not None:
                    log.info("report %s: works again", ch.name)
        if not ran:
            return
        if self.online is not True:
            if self.online is False:
                log.info("hub reachable again; reports are being delivered")
            self.online = True
        self._backoff = 0.0

    def _offline(self, exc: HubError) -> None:
        self._backoff = self.backoff_first_s if not self._backoff else min(self._backoff * 2, self.backoff_max_s)
        wait = self._backoff * random.uniform(0.8, 1.2)
        self._blocked_until = self.monotonic() + wait
        if self.online is not False:  # one line per outage, not per retry
            log.warning("reports wait for the hub (queued locally): %s", exc)
        self.online = False
        self.last_error = str(exc)

    def _channel_error(self, name: str, message: str, first_s: float) -> None:
        previous = self._error_backoff.get(name)
        backoff = first_s if previous is None else min(max(previous * 2, first_s), self.backoff_max_s)
        self._error_backoff[name] = backoff
        self._error_until[name] = self.monotonic() + backoff * random.uniform(0.8, 1.2)
        if self._last_error.get(name) != message:  # one line per kind of failure, not per retry
            log.error("report %s: %s (this report retries in %.0f s, then less often up to every %.0f s; the "
                      "others go on)", name, message, backoff, self.backoff_max_s)
            self._last_error[name] = message
        self.last_error = message

    def _next_wake(self) -> float:
        now = self.monotonic()
        if now < self._blocked_until:
            return self._blocked_until
        due = [max(ch.next_due(now), self._error_until.get(ch.name, 0.0)) for ch in self.channels]
        return min(due, default=now + 60.0)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            self.run_once()
            delay = self._next_wake() - self.monotonic()
            if delay > 0:
                self._wake.wait(min(delay, 3600.0))
