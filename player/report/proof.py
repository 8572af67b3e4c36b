"""Proof of play: every item shown, recorded durably and sent in batches to the hub class `SteleProofOfPlay`.

`ProofRecorder` is fed by the Qt side (``item_started``/``item_ended`` of each zone). It keeps the plays that are
on screen in memory and hands one record per finished play to the outbox (non-blocking; committed by the outbox's
writer thread). `ProofChannel` sends them with Parse ``/batch`` (50 per request), idempotently: each record carries
a client-side UUID (``clientId``); records whose last send has an unknown outcome are looked up by ``clientId``
before they are sent again. A batch the hub (or a firewall in front of it) refuses as a whole with a 4xx that may be
about a record in it is sent in parts down to single records; a record refused on its own is sent alone from then on,
right after the first batch the hub takes in a run. A refusal counts against the record only when the hub took a
later request of the same run (it accepts right now: a rate limit that refuses everything after some point blames
nobody) and no part it refused as a whole was taken in full later in that run (a hub refusing at random). After
`SOLO_REFUSALS` such runs (the channel backs off between them) the record is set aside: moved to the outbox kind
``proof-aside``, kept, and tried again alone about once a day (`ASIDE_RETRY_S`, across restarts: the outbox's meta
table); only the outbox's retention drops it. Records are grouped by what a firewall sees, the play (`_looks`): once
a refusal of a play counted, its records stay out of the batches, its oldest goes alone for all of them, and all are
set aside together (later ones as they come).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from player.parse_rest import (
    INVALID_SESSION_TOKEN,
    HubError,
    HubLoginError,
    HubUnavailable,
    ParseClient,
    decode_date,
    parse_date,
)
from player.report import ScreenRef
from player.report.queue import Outbox, Record

SETTLE_S = 30.0  # a batch of 50 takes the hub well under a second; 30 s is far beyond any request timeout

log = logging.getLogger(__name__)

__all__ = ["PROOF_CLASS", "ProofChannel", "ProofRecorder"]

PROOF_CLASS = "SteleProofOfPlay"
KIND = "proof"
BATCH_SIZE = 50
MAX_FAILURES = 10  # a record the hub refuses this many times is dropped (with a log line)
MAX_BATCHES_PER_RUN = 20  # then other channels get their turn; the loop comes back at once
GROW_AFTER = 10  # batches the hub took at a reduced size before the size is doubled again (up to the configured)
PARSE_INVALID_JSON = 107  # Parse Server's code for a /batch over requestComplexity.batchRequestLimit (HTTP 400)
SOLO_REFUSALS = 3  # a record whose /batch the hub refuses as a whole when it is sent alone is set aside at this count
MAX_SUSPECTS = BATCH_SIZE  # records remembered as refused on their own (sent alone, apart from the others)
MAX_ALONE_PER_RUN = 10  # records sent alone per run (suspects, then set-aside ones), in turns
ASIDE_KIND = "proof-aside"  # outbox kind of the records set aside (the outbox prunes them like proof of play)
ASIDE_RETRY_S = 86400.0  # set-aside records are tried again (alone, a few) this long after their last try
ASIDE_PER_RETRY = 5
ASIDE_TRIED_META = "proof-aside-tried"  # outbox meta: wall-clock time of the last try of set-aside records
ASIDE_PLAYS_META = "proof-aside-plays"  # outbox meta: the plays (`_looks`) set aside as a whole, JSON
MAX_ASIDE_PLAYS = 200
MAX_TAKEN_PLAYS = 10_000  # plays (`_looks`) remembered as taken by the hub: a refusal of those is not about them
SCAN_PAGE, SCAN_PAGES = 200, 25  # waiting records read per look for a batch: the records of suspect plays skipped
_LOOK_FIELDS = ("itemId", "src", "layout", "zone")
Look = tuple[str, ...]
# 4xx answers to a whole request that say nothing about what its records contain: the same for any record
_NOT_ABOUT_RECORDS = frozenset({401, 404, 405, 407, 408, 429})


def _batch_too_large(exc: HubError) -> bool:
    """The hub refused a /batch for its size, so a smaller one may pass: HTTP 413 (a proxy's body size limit) or
    Parse Server's batchRequestLimit (HTTP 400, code 107, "Batch request contains N sub-requests, which exceeds the
    limit of M."). Any other refusal of the whole request (401/403/408/429, a failed login, ...) is not about size:
    smaller batches would only mean more refused requests."""
    if exc.status == 413:
        return True
    text = str(exc).lower()
    return exc.status == 400 and exc.code == PARSE_INVALID_JSON and "sub-requests" in text and "exceeds" in text


def _refuses_records(exc: HubError) -> bool:
    """A 4xx for a whole /batch that may be about what one of its records contains: a web application firewall in
    front of the hub (403, or 400 for an item name with markup or a very long string) or a body the hub cannot take.
    Not a refused login of the hub user, an invalid session, 401, a wrong path, a timeout or a rate limit: those
    hold for any record, and splitting the batch would only mean more refused requests."""
    if isinstance(exc, HubLoginError) or exc.status is None or not 400 <= exc.status < 500:
        return False
    return exc.status not in _NOT_ABOUT_RECORDS and exc.code != INVALID_SESSION_TOKEN


def _brief(value: Any, limit: int = 80) -> str:
    """``value`` for a log line: on one line, quoted, at most ``limit`` characters of it."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = f"{text[:limit - 1]}… ({len(text)} characters)"
    return repr(text)


def _looks(payload: dict[str, Any]) -> Look:
    """What a firewall in front of the hub sees of a play that may make it refuse the play: the item, its source,
    layout and zone (the rest are dates, ids and hashes). Plays that look the same are refused alike."""
    return tuple(str(payload.get(f) or "") for f in _LOOK_FIELDS)


def _same_look(look: Look, payload: dict[str, Any]) -> bool:
    return _looks(payload) == look


@dataclass
class _Play:
    zone: str
    item: str
    src: str
    layout: str
    started: float  # monotonic: the duration does not follow the wall clock when NTP sets it during a play


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ProofRecorder:
    """Plays on screen -> outbox records. Cheap and non-blocking: safe to call on the GUI thread.

    ``zone_key`` tells zone widgets apart (two layouts may both have a zone ``main``). ``hash_of(src)`` may give
    the content hash of a media reference; it must be cheap (no I/O): it is called on the calling thread.

    A play's duration is measured on ``monotonic``; its end is the wall ``clock`` when it ends and its start is
    end - duration, so a clock set during a play (NTP after a boot without RTC) shifts it but never stretches it.
    """

    def __init__(self, outbox: Outbox, screen_uuid: str, *, clock: Callable[[], datetime] = _utc_now,
                 monotonic: Callable[[], float] = time.monotonic,
                 hash_of: Callable[[str], str | None] | None = None) -> None:
        self.outbox = outbox
        self.screen_uuid = screen_uuid
        self.clock = clock
        self.monotonic = monotonic
        self.hash_of = hash_of
        self._open: dict[Hashable, _Play] = {}
        self._lock = threading.Lock()

    def started(self, zone_key: Hashable, zone_id: str, item_id: str, src: str, layout: str) -> None:
        mono = self.monotonic()
        with self._lock:
            previous = self._open.pop(zone_key, None)
            self._open[zone_key] = _Play(zone_id, item_id, src or "", layout, mono)
        if previous is not None:  # the zone went on without an "ended": the previous play ends now
            self._emit(previous, mono)

    def ended(self, zone_key: Hashable, item_id: str | None = None) -> None:
        mono = self.monotonic()
        with self._lock:
            play = self._open.get(zone_key)
            if play is None or (item_id is not None and play.item != item_id):
                return
            del self._open[zone_key]
        self._emit(play, mono)

    def zone_gone(self, zone_key: Hashable) -> None:
        """The zone widget was removed (layout switched): its current play ends now."""
        self.ended(zone_key)

    def close_all(self) -> None:
        """Shutdown: every play on screen ends now."""
        mono = self.monotonic()
        with self._lock:
            plays, self._open = list(self._open.values()), {}
        for play in plays:
            self._emit(play, mono)

    def open_plays(self) -> int:
        with self._lock:
            return len(self._open)

    def _emit(self, play: _Play, ended: float) -> None:
        end = self.clock()
        start = end - timedelta(seconds=max(0.0, ended - play.started))
        file_hash = None
        if self.hash_of is not None and play.src:
            try:
                file_hash = self.hash_of(play.src)
            except Exception as exc:  # never let a lookup break recording
                log.debug("hash_of(%r) failed: %s", play.src, exc)
        payload = {
            "zone": play.zone, "itemId": play.item, "src": play.src, "fileHash": file_hash,
            "layout": play.layout, "start": start.isoformat(), "end": end.isoformat(),
            "screenUuid": self.screen_uuid,
        }
        self.outbox.submit(KIND, payload)


def _hub_fields(record: Record, screen: dict[str, str]) -> dict[str, Any]:
    p = record.payload
    start, end = decode_date(p.get("start")), decode_date(p.get("end"))
    fields: dict[str, Any] = {
        "clientId": record.client_id,
        "screen": screen,
        "screenUuid": p.get("screenUuid"),
        "zone": p.get("zone"),
        "itemId": p.get("itemId"),
        "src": p.get("src") or "",
        "layout": p.get("layout") or "",
    }
    if p.get("fileHash"):
        fields["fileHash"] = p["fileHash"]
    if start is not None:
        fields["startDate"] = parse_date(start)
    if end is not None:
        fields["endDate"] = parse_date(end)
    if start is not None and end is not None:
        fields["durationMs"] = max(0, round((end - start).total_seconds() * 1000))
    return fields


class ProofChannel:
    """Delivers proof-of-play records: when 50 are waiting, else every ``flush_s`` seconds."""

    name = "proof of play"

    def __init__(self, outbox: Outbox, client: ParseClient, screen: ScreenRef, *, flush_s: float = 300.0,
                 batch_size: int = BATCH_SIZE, class_name: str = PROOF_CLASS, settle_s: float = SETTLE_S,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.outbox = outbox
        self.wall_clock = wall_clock
        self.settle_s = settle_s
        self.client = client
        self.screen = screen
        self.flush_s = flush_s
        self.batch_size = self.max_batch_size = max(1, min(batch_size, BATCH_SIZE))
        self._taken_at_size = 0  # batches the hub took in a row at the current, reduced size
        self._announced = self.batch_size  # the size last logged (a refused trial of a larger one logs nothing)
        self.class_name = class_name
        self.on_ready: Callable[[], None] | None = None
        self._new = 0
        self._empty = outbox.count(KIND) == 0
        self._last_run = -math.inf
        self._held_until: float | None = None  # the oldest records wait for their earlier send to settle
        self._shrunk: tuple[int, str] | None = None  # (size, answer) of the first refused /batch, until logged
        self._progress = False  # the last _send removed records from the outbox (or may go on with a smaller size)
        self.sent = 0  # rows created on the hub by this process
        self.given_up = 0  # records dropped after MAX_FAILURES refusals (Parse errors of their own)
        self.set_aside = 0  # records moved aside (kept in the outbox, tried again about once a day)
        self.recovered = 0  # set-aside records the hub took on a later try
        # plays (`_looks`) of which a record was refused on its own -> the hub's answer: their records stay out of
        # the batches, the oldest of them (found by `_waiting`, in `_reps`) goes alone for all of them
        self._suspects: dict[Look, str] = {}
        self._reps: dict[Look, Record] = {}
        # suspect plays refused on their own in a way that counted: all their records stay out of the batches (of
        # the others only that record, until a refusal counts: a rate limit refusing everything blames no play)
        self._confirmed: set[Look] = set()
        self._taken_plays: set[Look] = set()  # plays of which the hub took a record (in this process)
        # refusals counted per play in this process: a whole play goes aside only after SOLO_REFUSALS of them here
        # (the failure counts of records persist, `_taken_plays` does not: after a restart a hub refusing at random
        # could otherwise set a good play aside on one refusal)
        self._counted_plays: dict[Look, int] = {}
        self._aside_keys: set[Look] | None = None  # plays set aside (read from the outbox at the first run)
        self._aside_due = -math.inf  # monotonic: set-aside records are tried again from then on
        # the current run: /batch requests so far, the number of the last one the hub took (0: none), of the last
        # record refused on its own, those records (with the number of their request), the records of each part
        # refused as a whole, the records the hub took, and whether records were sent alone already
        self._requests = self._last_took = self._last_solo = 0
        self._alone: list[tuple[Record, HubError, int]] = []
        self._refused_parts: list[frozenset[int]] = []
        self._taken_ids: set[int] = set()
        self._alone_sent = False
        self._scan_after = 0  # `_waiting` goes on from this id: its last look read only records of suspect plays
        self._now, self._aside_now = 0.0, False  # the current run's time; set-aside records are tried in it
        self._gone = 0  # records that left the outbox (delivered or given up)
        self.found_existing = 0  # rows whose earlier, unknown send turned out to have arrived
        outbox.add_listener(self.records_added)

    def records_added(self, kind: str, count: int = 1) -> None:
        if kind != KIND:
            return
        self._empty = False
        self._new += count
        if self._new >= self.batch_size and self.on_ready is not None:
            self.on_ready()

    def next_due(self, now: float) -> float:
        if self._empty:
            return math.inf
        if self._held_until is not None:  # nothing can go before the oldest records have settled
            return self._held_until
        if self._new >= self.batch_size:
            return now
        return self._last_run + self.flush_s

    def run(self, now: float) -> None:
        self._last_run = now
        self._held_until = None
        screen = self.screen.pointer(self.client)
        if screen is None:
            return
        self._requests = self._last_took = self._last_solo = 0
        self._alone, self._refused_parts, self._taken_ids, self._alone_sent = [], [], set(), False
        self._reps = {}
        if self._aside_keys is None:
            self._load_aside(now)
        self._now, self._aside_now = now, now >= self._aside_due
        try:
            self._deliver(now, screen)
        except HubError:
            self._judge_alone()
            raise
        refusal = self._judge_alone()
        if refusal is not None:  # the channel backs off: a record refused on its own goes again a backoff later
            raise refusal

    def _load_aside(self, now: float) -> None:
        """First run: the plays set aside earlier, and when set-aside records were last tried (a restart does not
        try them again at once). The wall clock says how long ago; a clock set back waits at most ASIDE_RETRY_S."""
        self._aside_keys = set()
        try:
            plays = json.loads(self.outbox.meta(ASIDE_PLAYS_META) or "[]")
            self._aside_keys = {tuple(str(v) for v in p) for p in plays if isinstance(p, list)}
        except (ValueError, TypeError) as exc:
            log.error("proof of play: the plays set aside, kept in the outbox, are unreadable (%s); ignored", exc)
        try:
            last = float(self.outbox.meta(ASIDE_TRIED_META) or "nan")
        except ValueError:
            last = math.nan
        if math.isfinite(last):
            self._aside_due = now + min(ASIDE_RETRY_S, last + ASIDE_RETRY_S - self.wall_clock())

    def _save_aside_plays(self) -> None:
        plays = sorted(self._aside_keys or ())[:MAX_ASIDE_PLAYS]
        self.outbox.set_meta(ASIDE_PLAYS_META, json.dumps(plays, separators=(",", ":"), ensure_ascii=False))

    def _aside_tried(self) -> None:
        """Set-aside records were tried (or set aside) now: the next try is ASIDE_RETRY_S later, across restarts."""
        self._aside_due = self._now + ASIDE_RETRY_S
        self.outbox.set_meta(ASIDE_TRIED_META, repr(self.wall_clock()))

    def _waiting(self, n: int) -> tuple[list[Record], bool]:
        """Up to ``n`` waiting records for a batch, oldest first: not of a suspect play (the oldest record of each
        of those is noted in `_reps`), nor one the hub answered in this run. Records of a play set aside are moved
        aside too (the hub would refuse them alike). Also returns whether any record not of a suspect play waits."""
        assert self._aside_keys is not None
        fresh: list[Record] = []
        other = False
        after = self._scan_after
        self._scan_after = 0
        # plays refused alone in this run: the rest of the run goes on with the next records (a later take then
        # tells whether the refusal was about the play)
        out = {_looks(r.payload) for r, _, _ in self._alone}
        capped = left_out = False
        for pages in range(SCAN_PAGES):
            page = self.outbox.pending(KIND, SCAN_PAGE, after=after)
            if not page:
                break
            capped = pages == SCAN_PAGES - 1 and len(page) == SCAN_PAGE
            after = page[-1].id
            aside: list[int] = []
            for record in page:
                key = _looks(record.payload)
                if key in self._aside_keys:
                    aside.append(record.id)
                elif key in self._suspects and (key in self._confirmed or key not in self._reps
                                                or self._reps[key].id == record.id):
                    self._reps.setdefault(key, record)
                elif key in out:
                    left_out = True  # it waits, for the next run
                else:
                    other = True
                    if record.id not in self._taken_ids and len(fresh) < n:
                        fresh.append(record)
            if aside:
                self.outbox.move(aside, ASIDE_KIND)
                self.set_aside += len(aside)
            if len(fresh) >= n and (pages >= 4 or all(k in self._reps for k in self._suspects)):
                break  # (a suspect play not found: its suspicion ends, `_send_alone`)
        if capped and not other:  # only records of suspect plays so far: the next look goes on after them
            self._scan_after = after
            return fresh, True
        return fresh, other or left_out  # (from ``start``: the records before it were all of suspect plays)

    @property
    def _took(self) -> bool:
        """The hub took a /batch of the current run."""
        return self._last_took > 0

    def _alone_due(self) -> bool:
        """Records wait to be sent alone in this run, and have not been yet."""
        if self._alone_sent:
            return False
        if not self._suspects and self._aside_now and self.outbox.count(ASIDE_KIND) == 0:
            self._aside_now = False
        return bool(self._suspects) or self._aside_now

    def _deliver(self, now: float, screen: dict[str, str]) -> None:
        for _ in range(MAX_BATCHES_PER_RUN):
            if self._requests >= MAX_BATCHES_PER_RUN:
                break
            self._new = 0
            # not twice in a run: a record the hub answered with an error of its own waits for the next run
            others, other = self._waiting(self.batch_size + 1)
            if not other:  # none, or only records of plays refused on their own: new plays wake the channel
                self._empty = True
                return
            records = others[:self.batch_size]
            if not records:
                if self._scan_after:  # the look stopped among records of suspect plays: it goes on after them
                    continue
                return
            held = len(others) <= self.batch_size and self._alone_due()
            if held and len(records) == 1:  # one play waits: it goes after the records sent alone
                self._send_alone(screen)
            elif held:  # the newest goes after the records sent alone: the hub taking it tells their refusals apart
                records = records[:-1]
            alone = len(self._alone)
            wait = self._send(records, screen)
            if self._took and self._alone_due():
                self._send_alone(screen)
            if wait is not None:  # the whole batch is settling: asking again before then cannot change anything
                self._held_until = now + wait
                return
            if not self._progress:  # the hub refused all of them: they are tried again at the next run, not now
                if alone == 0 < len(self._alone) and self._last_solo == self._requests:
                    continue  # but a batch of one play narrowed to a record refused alone, the first in the run:
                    # that play is left out of the rest of the run and the next records go (a later take counts it)
                return
            if len(records) < self.batch_size and not held:
                if not self._waiting(0)[1]:
                    self._empty = True  # (suspects that left the outbox meanwhile do not hide a waiting record)
                return
        self._new = self.batch_size  # more waiting: come back right after the other channels

    def _send(self, records: list[Record], screen: dict[str, str]) -> float | None:
        """Send ``records`` (oldest first). Returns None, or when none could be sent because every one not found on
        the hub is still settling: the seconds until the oldest of those has settled."""
        # A hub finishes a batch even when its client gave up on it (timeout, kill -9, power cut): "not there"
        # shortly after such a send may only mean "not yet". Records of an unknown send are looked up every time,
        # but re-sent only once the send is settle_s old (a clock set backwards does not hold them).
        now = time.time()
        self._progress = True
        settling = {r.id for r in records if r.attempted and 0 <= now - r.attempted_at < self.settle_s}
        unknown = [r for r in records if r.attempted]
        found = 0
        if unknown:
            rows = self.client.query(self.class_name, {"clientId": {"$in": [r.client_id for r in unknown]}},
                                     keys="clientId", limit=len(unknown))
            there = {row.get("clientId") for row in rows}
            arrived = [r for r in unknown if r.client_id in there]
            found = len(arrived)
            if arrived:
                self.found_existing += len(arrived)
                log.info("proof of play: %d record(s) of an interrupted send had arrived; not sent again",
                         len(arrived))
                self.outbox.remove([r.id for r in arrived])
            held = [r for r in records if r.client_id not in there and r.id in settling]
            records = [r for r in records if r.client_id not in there and r.id not in settling]
            if held and not records:
                oldest = min(r.attempted_at for r in held)
                return min(self.settle_s, max(0.0, oldest + self.settle_s - now))
        if not records:
            return None
        gone, alone = self._gone, len(self._alone)
        refusal = self._post(records, screen)
        if refusal is not None:
            if _batch_too_large(refusal):  # smaller batches from now on (the loop goes on with them)
                return None
            self._narrow(records, screen, refusal)
        self._progress = bool(found or self._gone > gone or (self._took and len(self._alone) > alone))
        return None

    def _post(self, records: list[Record], screen: dict[str, str]) -> HubError | None:
        """One ``/batch`` of ``records``; the hub's answer for each is settled in the outbox. Returns the hub's
        refusal of the request as a whole when it may be about a record in it (`_refuses_records`) or, for more than
        one record, about its size (`_batch_too_large`; the batch size is halved): nothing of it was stored. Any
        other error is raised (the channel's own: the sender backs off; no record is to blame)."""
        # Every record sent is stamped with this send's time: the settle wait counts from the latest send (the hub
        # may finish this one late even when an earlier one of the record was looked up and not found).
        self.outbox.mark_attempted([r.id for r in records])
        self._requests += 1
        number = self._requests
        path = f"/classes/{self.class_name}"
        try:
            results = self.client.batch([{"method": "POST", "path": path, "body": _hub_fields(r, screen)}
                                         for r in records])
        except HubUnavailable as exc:
            if exc.never_sent:  # no connection at all: nothing reached the hub, each record is as it was before
                self.outbox.unmark_attempted([r.id for r in records if not r.attempted])
                for at in {r.attempted_at for r in records if r.attempted}:
                    self.outbox.mark_attempted([r.id for r in records if r.attempted and r.attempted_at == at], at=at)
            raise
        except HubError as exc:
            if isinstance(exc, HubUnavailable) or exc.status is None or not 400 <= exc.status < 500:
                raise
            # Refused as a whole with a 4xx (or the login before it failed): nothing of it was stored.
            self.outbox.unmark_attempted([r.id for r in records])
            if not _batch_too_large(exc):
                if _refuses_records(exc):
                    if len(records) > 1:
                        self._refused_parts.append(frozenset(r.id for r in records))
                    return exc
                raise
            # Parse Server's batchRequestLimit or a proxy's body size limit: smaller batches; one record alone
            # that is still too large fails as itself.
            self._taken_at_size = 0
            if len(records) > 1:
                if self._shrunk is None:
                    self._shrunk = (len(records), str(exc))
                self.batch_size = max(1, len(records) // 2)
                return exc
            results = [{"error": str(exc)}]
        else:
            self._last_took = number
            self._taken_ids.update(r.id for r in records)
            if len(self._taken_plays) > MAX_TAKEN_PLAYS:
                self._taken_plays.clear()
            self._taken_plays.update(_looks(r.payload) for r in records)
            self._took_batch(len(records))
        if self._shrunk is not None and (results or self.batch_size == 1):
            size, answer = self._shrunk
            self._shrunk = None
            if self.batch_size < self._announced:
                log.warning("proof of play: the hub refused a /batch of %d (%s); sending %d per batch from now on",
                            size, answer, self.batch_size)
                self._announced = self.batch_size
        done: list[int] = []
        failed: list[Record] = []
        for record, result in zip(records, results, strict=False):
            if isinstance(result, dict) and "success" in result:
                done.append(record.id)
            else:
                failed.append(record)
                if record.failures == 0:
                    log.error("proof of play: the hub refused record %s: %s", record.client_id,
                              result.get("error") if isinstance(result, dict) else result)
        give_up = [r for r in failed if r.failures + 1 >= MAX_FAILURES]
        if give_up:
            log.error("proof of play: dropping %d record(s) the hub refused %d times", len(give_up), MAX_FAILURES)
        self.outbox.remove(done + [r.id for r in give_up])
        self.outbox.unmark_attempted([r.id for r in failed if r not in give_up])  # answered: not stored
        self.outbox.note_failure([r.id for r in failed if r not in give_up])
        self.sent += len(done)
        self.given_up += len(give_up)
        self._gone += len(done) + len(give_up)
        return None

    def _narrow(self, records: list[Record], screen: dict[str, str], refusal: HubError) -> None:
        """The hub refused ``records`` as a whole, maybe for what one of them contains (a firewall's 403 for an
        item name with markup): send them in parts, down to single records, so the others get through. A record
        refused on its own is noted for `_judge_alone`. The first split (and every split while the hub has taken
        nothing in this run) is the oldest record alone and the rest, later ones are halves (the older goes first).
        The narrowing stops, the rest waiting for the next run, when the hub refuses a request after one record
        alone without taking anything in between (a rate limit, or the hub refusing any record right now), and
        after 3 refusals while it has taken nothing in this run (at most 3 requests)."""
        todo: list[list[Record]] = []
        chunk: list[Record] = [replace(r, attempted=False, attempted_at=0.0) for r in records]  # none was stored
        answer: HubError | None = refusal
        first = True
        blind = 0  # refusals while the hub took nothing in this run
        while True:
            if answer is not None:
                # a record was refused on its own since the hub last took a request: it refuses anything now
                stalled = self._last_took < self._last_solo < self._requests
                if len(chunk) == 1:
                    self._refused_alone(chunk[0], answer)
                elif not stalled:
                    half = 1 if first or not self._took else len(chunk) // 2
                    todo += [chunk[half:], chunk[:half]]  # the older part goes first
                if not self._took:
                    blind += 1
                    if blind >= 3:
                        return
                elif stalled:
                    return
            elif self._took and self._alone_due():
                self._send_alone(screen)  # right after the first request the hub took
            first = False
            chunk = []
            while not chunk:  # records of a play refused on its own meanwhile stay out: the hub refuses them alike
                if not todo or self._requests >= MAX_BATCHES_PER_RUN:  # the rest waits for the next run
                    return
                out = self._confirmed | {_looks(r.payload) for r, _, _ in self._alone}
                chunk = [r for r in todo.pop() if _looks(r.payload) not in out]
            answer = self._post(chunk, screen)

    def _refused_alone(self, record: Record, answer: HubError) -> None:
        self._alone.append((record, answer, self._requests))
        self._last_solo = self._requests
        key = _looks(record.payload)
        if record.kind == KIND and (key in self._suspects or len(self._suspects) < MAX_SUSPECTS):
            self._suspects[key] = str(answer)  # from now on its play goes on its own, apart from the others
            self._reps.setdefault(key, record)

    def _send_alone(self, screen: dict[str, str]) -> None:
        """Records refused on their own in an earlier run, one for each such play (its oldest record), then (once a
        day) one record of each of a few plays set aside (those refused least often first), each alone, at most
        MAX_ALONE_PER_RUN (the suspect plays in turns). Usually right after the first request the hub took in a
        run; before it when only one other play waits (sent after them). Whether a refusal of theirs counts is
        judged after the run (`_judge_alone`)."""
        self._alone_sent = True
        before_take = not self._took
        tried = {_looks(r.payload) for r, _, _ in self._alone}
        waiting: list[Record] = []
        for key in list(self._suspects):
            if key in tried:
                continue
            rep = self._reps.get(key)
            if rep is None or not self.outbox.records([rep.id]):  # delivered, pruned or set aside meanwhile
                del self._suspects[key]
                self._confirmed.discard(key)
                continue
            waiting.append(rep)
        waiting = waiting[:MAX_ALONE_PER_RUN]
        aside: list[Record] = []
        if self._aside_now:
            seen: set[Look] = set()
            room = min(ASIDE_PER_RETRY, MAX_ALONE_PER_RUN - len(waiting))
            for record in self.outbox.pending(ASIDE_KIND, SCAN_PAGE, fewest_failures=True):
                key = _looks(record.payload)
                if len(aside) < room and key not in seen:
                    seen.add(key)
                    aside.append(record)
            if aside:
                self._aside_tried()
        waiting += aside
        for record in waiting:
            if self._requests >= MAX_BATCHES_PER_RUN:
                return
            key = _looks(record.payload)
            if key in self._suspects:  # in turns: the next run starts with the others
                self._suspects[key] = self._suspects.pop(key)
            alone, gone = len(self._alone), self._gone
            if self._send([record], screen) is not None or len(self._alone) > alone:
                if before_take and not self._took:  # the hub may refuse anything right now: the rest next time
                    return
                continue
            self._suspects.pop(key, None)  # the hub answered it: stored, or a Parse error of its own
            self._confirmed.discard(key)
            if record.kind == ASIDE_KIND and self._gone > gone:
                self.recovered += 1
                back = self.outbox.matching(ASIDE_KIND, functools.partial(_same_look, key))
                self.outbox.move(back, KIND)
                if self._aside_keys is not None and key in self._aside_keys:
                    self._aside_keys.discard(key)
                    self._save_aside_plays()
                log.info("proof of play: the hub took the play of item %s (ended %s) set aside earlier; the %d other "
                         "play(s) set aside like it go again", _brief(record.payload.get("itemId")),
                         _brief(record.payload.get("end")), len(back))

    def _judge_alone(self) -> HubError | None:
        """After a run: its records refused on their own. Such a refusal counts as the record's failure only when
        the hub took a later request of the same run (so it accepts requests right now) and took no part it had
        refused as a whole in full later on (a hub or firewall refusing at random, or by rate: not about records).
        At SOLO_REFUSALS the record is set aside with every waiting record of the same play (`_looks`): moved to
        ASIDE_KIND, kept, with one log line; later records of that play go aside as they come. Returns a refusal
        while any of them still waits among the others, so the channel backs off and the record goes again a
        backoff later, not in a tight loop."""
        alone, self._alone = self._alone, []
        if not alone:
            return None
        at_random = any(part <= self._taken_ids for part in self._refused_parts)
        answers = {r.id: a for r, a, number in alone if number < self._last_took and not at_random}
        # a play the hub took a record of before: its refusal is not about what the play carries (a hub refusing
        # at random); only that record is held apart and set aside, not all the records of the play
        self._confirmed.update(k for k in (_looks(r.payload) for r, _, _ in alone if r.id in answers
                                           and r.kind == KIND) if k not in self._taken_plays)
        records = self.outbox.records(list(answers))
        if len(self._counted_plays) > MAX_TAKEN_PLAYS:
            self._counted_plays.clear()
        for record in records:
            if record.kind == KIND:
                key = _looks(record.payload)
                self._counted_plays[key] = self._counted_plays.get(key, 0) + 1
        aside = [r for r in records if r.kind == KIND and r.failures + 1 >= SOLO_REFUSALS]
        keys = {k for k in (_looks(r.payload) for r in aside)
                if k not in self._taken_plays and self._counted_plays.get(k, 0) >= SOLO_REFUSALS}
        like: dict[Look, int] = {}

        def same_play(payload: dict[str, Any]) -> bool:
            key = _looks(payload)
            if key in keys:
                like[key] = like.get(key, 0) + 1
            return key in keys

        same = self.outbox.matching(KIND, same_play) if keys else []
        for record in aside:
            p = record.payload
            key = _looks(p)
            log.error("proof of play: the hub refused the play of item %s (zone %s, layout %s, ended %s) on its own "
                      "%d times, each time while it took other plays (%s); set aside with the plays like it (%d in "
                      "all; later ones as they come): kept, and tried again alone about once a day (clientId %s)",
                      _brief(p.get("itemId")), _brief(p.get("zone")), _brief(p.get("layout")), _brief(p.get("end")),
                      SOLO_REFUSALS, answers[record.id], like.get(key, 1), record.client_id)
            self._suspects.pop(key, None)
            self._confirmed.discard(key)
            if self._aside_keys is not None and key in keys:
                self._aside_keys.add(key)
        moved = set(same) | {r.id for r in aside}
        if keys:
            self._save_aside_plays()
        self.outbox.move(list(moved), ASIDE_KIND)
        if moved and self._aside_due <= self._now:  # the first retry a day from now, not at the next run
            self._aside_tried()
        self.outbox.note_failure([r.id for r in records if r.id not in moved])
        self.set_aside += len(moved)
        still = [a for r, a, _ in alone if r.kind == KIND and r.id not in moved]
        return still[-1] if still else None

    def _took_batch(self, size: int) -> None:
        """The hub answered a /batch of ``size`` records. After GROW_AFTER full ones at a reduced size, the size is
        doubled (up to the configured one); a limit that still holds halves it again, without a new log line."""
        if size < self.batch_size:  # fewer were waiting: says nothing about the current size
            return
        if size > self._announced:
            self._announced = size
            if size == self.max_batch_size:
                log.info("proof of play: the hub takes batches of %d again", size)
        if self.batch_size >= self.max_batch_size:
            return
        self._taken_at_size += 1
        if self._taken_at_size >= GROW_AFTER:
            self._taken_at_size = 0
            self.batch_size = min(self.max_batch_size, self.batch_size * 2)
            log.debug("proof of play: trying %d per batch", self.batch_size)
