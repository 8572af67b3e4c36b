"""Pure schedule resolver: which layout (plus overlays and interrupt) is on screen at an instant, and when that changes.

No clock reads and no I/O: every function takes the instant it is asked about. The rules (see ``docs/scheduling.md``):

Activity of a :class:`~player.model.Validity` in the schedule's time zone
- ``start``/``end`` bound the instants: ``start <= t < end``. A naive bound is local wall time, converted to an
  instant with the DST rules below; an aware bound is used as is.
- Each local calendar day ``D`` whose weekday is allowed (no weekdays = every day) contributes *occurrences*: one per
  time window, from local ``D start`` to local ``D end`` (or ``D+1 end`` if the window crosses midnight, i.e.
  ``end <= start``; ``start == end`` is a whole 24-hour day from ``start``). Without windows the occurrence is the whole
  local day ``D 00:00 .. D+1 00:00``. The validity holds at ``t`` if ``t`` lies in an occurrence (start inclusive, end
  exclusive) and inside the date bounds.

DST: a local wall time is turned into an instant like this
- it exists once: that instant;
- it does not exist (spring-forward gap, e.g. 02:30 on the last Sunday of March in Europe/Berlin): the first instant
  after the gap (03:00 CEST). So a window 02:00-03:00 is empty on that day and 02:30-04:00 runs 03:00-04:00 CEST;
- it exists twice (fall-back, e.g. 02:30 on the last Sunday of October): the first occurrence (``fold=0``, CEST). So a
  window 02:30-02:45 runs once (CEST); a window 02:00-03:00 runs from 02:00 CEST to 03:00 CET, two real hours.

Winner among active entries of one mode (highest wins): ``priority``; then the more specific entry (shorter date
range, then fewer weekdays, then fewer minutes of daily windows; a missing bound/weekday set/window list counts as
"unlimited"); then the later ``start``; then the entry listed first.
"""

from __future__ import annotations

import bisect
import heapq
import math
import re
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from player.model import EntryMode, Schedule, ScheduleEntry, TimeWindow, Validity

__all__ = [
    "OnScreen",
    "TimelineSegment",
    "resolve",
    "next_change",
    "is_valid",
    "next_validity_change",
    "timeline",
    "format_timeline",
    "ScheduleProblem",
    "schedule_problems",
    "validate_schedule",
    "validate_validity",
    "validity_problems",
    "parse_weekday",
    "parse_clock_time",
    "to_instant",
]

_DAY = timedelta(days=1)
_MIN_UTC = datetime.min
_ZERO = timedelta(0)
# A validity that stays active without a break for this long is active "for ever" (until its end bound): its pattern
# repeats every local week, and 15 days always contain a full week of days without a DST gap.
_FOREVER_RUN = timedelta(days=15)
# next_change gives up (answer: never) after 7 consecutive DST-free local days past every date bound, checked here.
_MAX_HORIZON_DAYS = 800


@dataclass(frozen=True)
class OnScreen:
    """What the screen shows. ``entry_ids``: the winning normal entry, the overlays (bottom to top), the interrupt."""

    layout: str
    overlays: tuple[str, ...] = ()
    interrupt: str | None = None
    entry_ids: tuple[str, ...] = ()

    def same_picture(self, other: OnScreen) -> bool:
        """True if both show the same layouts (even if different entries selected them)."""
        return (self.layout, self.overlays, self.interrupt) == (other.layout, other.overlays, other.interrupt)


@dataclass(frozen=True)
class TimelineSegment:
    start: datetime
    end: datetime
    on_screen: OnScreen


# --------------------------------------------------------------------------------------------------------------------
# local wall time <-> instants. Instants are handled internally as *naive UTC* datetimes (fast to compare and add).


class _LocalClock:
    """Converts local wall times of one zone to UTC, with the gap/fold rules of this module. Caches per local day."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._day_offsets: dict[date, timedelta | None] = {}
        self._midnights: dict[date, datetime] = {}
        self._slow: dict[datetime, datetime] = {}

    def _day_offset(self, day: date) -> timedelta | None:
        """The UTC offset valid for the whole local day, or None if a DST transition touches it."""
        try:
            return self._day_offsets[day]
        except KeyError:
            pass
        tz = self.tz
        a = datetime(day.year, day.month, day.day)
        b = a + _DAY
        offs = {
            tz.utcoffset(a),
            tz.utcoffset(a.replace(fold=1)),
            tz.utcoffset(b),
            tz.utcoffset(b.replace(fold=1)),
        }
        off = offs.pop() if len(offs) == 1 else None
        if len(self._day_offsets) > 20000:
            self._day_offsets.clear()
        self._day_offsets[day] = off
        return off

    def is_clean_day(self, day: date) -> bool:
        return self._day_offset(day) is not None

    def to_utc(self, local: datetime) -> datetime:
        off = self._day_offset(local.date())
        if off is not None:
            return local - off
        return self._to_utc_slow(local)

    def _to_utc_slow(self, local: datetime) -> datetime:
        try:
            return self._slow[local]
        except KeyError:
            pass
        if len(self._slow) > 20000:
            self._slow.clear()
        u = self._slow[local] = self._transition_aware_to_utc(local)
        return u

    def _transition_aware_to_utc(self, local: datetime) -> datetime:
        tz = self.tz
        local = local.replace(fold=0)
        first = local.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)
        if self.to_local(first) == local:
            return first  # exists (fold=0 picks the first of two occurrences)
        # In a gap: find the transition instant between the two candidate instants (whole seconds suffice).
        off_before = tz.utcoffset(local)
        off_after = tz.utcoffset(local.replace(fold=1))
        assert off_before is not None and off_after is not None
        lo = local - off_after  # still before the transition
        hi = local - off_before  # already after it
        lo_s, hi_s = 0, math.ceil((hi - lo).total_seconds())
        while hi_s - lo_s > 1:
            mid = (lo_s + hi_s) // 2
            if self._offset_at(lo + timedelta(seconds=mid)) == off_before:
                lo_s = mid
            else:
                hi_s = mid
        return lo + timedelta(seconds=hi_s)

    def _offset_at(self, utc: datetime) -> timedelta | None:
        return utc.replace(tzinfo=UTC).astimezone(self.tz).utcoffset()

    def to_local(self, utc: datetime) -> datetime:
        return utc.replace(tzinfo=UTC).astimezone(self.tz).replace(tzinfo=None)

    def local_date(self, utc: datetime) -> date:
        return utc.replace(tzinfo=UTC).astimezone(self.tz).date()

    def midnight(self, day: date) -> datetime:
        try:
            return self._midnights[day]
        except KeyError:
            pass
        if len(self._midnights) > 20000:
            self._midnights.clear()
        u = self._midnights[day] = self.to_utc(datetime(day.year, day.month, day.day))
        return u


_CLOCKS: dict[ZoneInfo, _LocalClock] = {}


def _clock(tz: ZoneInfo | str) -> _LocalClock:
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz  # ZoneInfo caches instances per key
    clock = _CLOCKS.get(zone)
    if clock is None:
        clock = _CLOCKS[zone] = _LocalClock(zone)
    return clock


def _utc(dt: datetime, clock: _LocalClock) -> datetime:
    """A model bound (naive = local wall time, aware = instant) as naive UTC."""
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        return clock.to_utc(dt.replace(tzinfo=None))
    return dt.astimezone(UTC).replace(tzinfo=None)


def _aware_utc(at: datetime, what: str = "at") -> datetime:
    if at.tzinfo is None or at.tzinfo.utcoffset(at) is None:
        raise ValueError(f"{what} must be an aware datetime (with time zone), got naive {at.isoformat()}")
    return at.astimezone(UTC).replace(tzinfo=None)


def to_instant(local: datetime, tz: ZoneInfo) -> datetime:
    """The instant (aware UTC) of a local wall time in ``tz``, by this module's DST rules (gap: first instant after
    it; ambiguous: first occurrence)."""
    return _clock(tz).to_utc(local.replace(tzinfo=None)).replace(tzinfo=UTC)


# --------------------------------------------------------------------------------------------------------------------
# compiled validity


def _since_midnight(t: time) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)


def _plain(t: time) -> time:
    return t.replace(tzinfo=None) if t.tzinfo is not None else t


class _CompiledValidity:
    __slots__ = ("clock", "lower", "upper", "weekdays", "windows", "never", "unbounded_days", "span", "nweekdays",
                 "window_minutes", "deltas", "crosses")

    def __init__(self, validity: Validity, clock: _LocalClock) -> None:
        self.clock = clock
        self.lower = _utc(validity.start, clock) if validity.start is not None else None
        self.upper = _utc(validity.end, clock) if validity.end is not None else None
        days = frozenset(d for d in validity.weekdays if isinstance(d, int) and 0 <= d <= 6)
        self.never = bool(validity.weekdays) and not days
        if self.lower is not None and self.upper is not None and self.upper <= self.lower:
            self.never = True
        self.weekdays: frozenset[int] | None = days if days and len(days) < 7 else None
        wins = sorted(
            ((_plain(w.start), _plain(w.end)) for w in validity.windows if isinstance(w, TimeWindow)),
        )
        self.windows: tuple[tuple[time, time, int], ...] = tuple((s, e, 1 if e <= s else 0) for s, e in wins)
        # offsets from local midnight, for days without a DST transition (fast path)
        self.deltas = tuple(
            (_since_midnight(s), _since_midnight(e) + (_DAY if crosses else _ZERO)) for s, e, crosses in self.windows
        ) or ((_ZERO, _DAY),)
        self.crosses = not self.windows or any(c for _, _, c in self.windows)
        self.unbounded_days = self.weekdays is None and not self.windows
        # specificity measures (smaller = more specific)
        if self.lower is not None and self.upper is not None:
            self.span = (self.upper - self.lower).total_seconds()
        else:
            self.span = math.inf
        self.nweekdays = len(days) if days else 7
        if self.windows:
            total = 0.0
            for s, e, _ in self.windows:
                length = (e.hour * 60 + e.minute + e.second / 60) - (s.hour * 60 + s.minute + s.second / 60)
                total += length if length > 0 else length + 1440
            self.window_minutes = min(total, 1440)
        else:
            self.window_minutes = 1440

    def _day_occurrences(self, day: date) -> list[tuple[datetime, datetime]]:
        if self.weekdays is not None and day.weekday() not in self.weekdays:
            return []
        clock = self.clock
        off = clock._day_offset(day)
        if off is not None and (not self.crosses or clock._day_offset(day + _DAY) == off):
            base = datetime(day.year, day.month, day.day) - off
            return [(base + sd, base + ed) for sd, ed in self.deltas]
        to_utc = clock.to_utc
        if not self.windows:
            base = datetime(day.year, day.month, day.day)
            return [(to_utc(base), to_utc(base + _DAY))]
        next_day = day + _DAY
        out = []
        for s, e, crosses in self.windows:
            out.append((to_utc(datetime.combine(day, s)), to_utc(datetime.combine(next_day if crosses else day, e))))
        return out

    def active_at(self, u: datetime, local_day: date) -> bool:
        if self.never:
            return False
        if self.lower is not None and u < self.lower:
            return False
        if self.upper is not None and u >= self.upper:
            return False
        if self.unbounded_days:
            return True
        for day in (local_day - _DAY, local_day):
            for s, e in self._day_occurrences(day):
                if s <= u < e:
                    return True
        return False

    def intervals(self, after: datetime) -> Iterator[tuple[datetime, datetime | None]]:
        """Maximal active intervals ``[s, e)`` with ``e > after`` in time order; ``e is None``: active for ever."""
        if self.never:
            return
        lower, upper = self.lower, self.upper
        if upper is not None and upper <= after:
            return
        if self.unbounded_days:
            yield (lower if lower is not None else _MIN_UTC, upper)
            return
        clock = self.clock
        first = after if lower is None or lower < after else lower
        day = clock.local_date(first) - _DAY
        cur_s: datetime | None = None
        cur_e = _MIN_UTC
        while True:
            day_start = clock.midnight(day)
            if upper is not None and day_start >= upper:
                break
            # sorted already: windows are sorted by start and local -> UTC is monotonic
            for s, e in self._day_occurrences(day):
                if lower is not None and s < lower:
                    s = lower
                if upper is not None and e > upper:
                    e = upper
                if e <= s or e <= after:
                    continue
                if cur_s is not None and s <= cur_e:
                    if e > cur_e:
                        cur_e = e
                    continue
                if cur_s is not None:
                    yield (cur_s, cur_e)
                cur_s, cur_e = s, e
            day += _DAY
            next_start = clock.midnight(day)
            if cur_s is not None:
                if cur_e < next_start:
                    yield (cur_s, cur_e)  # the next day's occurrences start later: this run is over
                    cur_s = None
                elif next_start - cur_s >= _FOREVER_RUN:
                    yield (cur_s, upper)  # covers whole weeks without a break: the pattern never ends
                    return
        if cur_s is not None:
            yield (cur_s, cur_e)


def _compile_validity(validity: Validity, tz: ZoneInfo | str) -> _CompiledValidity:
    return _CompiledValidity(validity, _clock(tz))


# --------------------------------------------------------------------------------------------------------------------
# compiled schedule


class _Compiled:
    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.clock = _clock(schedule.timezone)
        self.tz = self.clock.tz
        entries = schedule.entries
        self.validities = [_CompiledValidity(e.validity, self.clock) for e in entries]
        self.modes = [EntryMode(e.mode) for e in entries]

        def key(i: int) -> tuple[float, ...]:
            cv = self.validities[i]
            start = cv.lower.replace(tzinfo=UTC).timestamp() if cv.lower is not None else -math.inf
            return (entries[i].priority, -cv.span, -cv.nweekdays, -cv.window_minutes, start, -i)

        order = sorted(range(len(entries)), key=key)
        self.rank = [0] * len(entries)  # higher rank wins
        for r, i in enumerate(order):
            self.rank[i] = r
        self.by_rank = order
        bounds = [b for cv in self.validities for b in (cv.lower, cv.upper) if b is not None]
        self.last_bound = max(bounds) if bounds else None

    def on_screen(self, normal: int | None, overlays: Sequence[int], interrupt: int | None) -> OnScreen:
        entries = self.schedule.entries
        ids: list[str] = []
        layout = self.schedule.default_layout
        if normal is not None:
            layout = entries[normal].layout
            ids.append(entries[normal].id)
        ids.extend(entries[i].id for i in overlays)
        irq = None
        if interrupt is not None:
            irq = entries[interrupt].layout
            ids.append(entries[interrupt].id)
        return OnScreen(layout, tuple(entries[i].layout for i in overlays), irq, tuple(ids))

    def resolve(self, u: datetime) -> OnScreen:
        local_day = self.clock.local_date(u)
        rank = self.rank
        best: dict[EntryMode, int | None] = {EntryMode.NORMAL: None, EntryMode.INTERRUPT: None}
        overlays: list[int] = []
        for i, cv in enumerate(self.validities):
            if not cv.active_at(u, local_day):
                continue
            mode = self.modes[i]
            if mode is EntryMode.OVERLAY:
                overlays.append(i)
            else:
                cur = best[mode]
                if cur is None or rank[i] > rank[cur]:
                    best[mode] = i
        overlays.sort(key=rank.__getitem__)
        return self.on_screen(best[EntryMode.NORMAL], overlays, best[EntryMode.INTERRUPT])

    def horizon(self, u: datetime) -> datetime:
        """An instant after which nothing can change if nothing changed between ``u`` and it (see module notes)."""
        base = u if self.last_bound is None or self.last_bound < u else self.last_bound
        day = self.clock.local_date(base) + _DAY
        clean = 0
        for _ in range(_MAX_HORIZON_DAYS):
            clean = clean + 1 if self.clock.is_clean_day(day) else 0
            day += _DAY
            if clean >= 7:
                break
        return self.clock.midnight(day)


_COMPILED: dict[int, tuple[weakref.ref[Schedule], _Compiled]] = {}


def _compiled(schedule: Schedule) -> _Compiled:
    hit = _COMPILED.get(id(schedule))
    if hit is not None and hit[0]() is schedule:
        return hit[1]
    compiled = _Compiled(schedule)
    if len(_COMPILED) > 64:
        _COMPILED.clear()
    _COMPILED[id(schedule)] = (weakref.ref(schedule), compiled)
    return compiled


class _Sweep:
    """Walks forward in time from an instant, applying entry on/off events; keeps the winners up to date."""

    def __init__(self, compiled: _Compiled, u0: datetime) -> None:
        self.c = compiled
        n = len(compiled.validities)
        self.active = [False] * n
        self.gens: list[Iterator[tuple[datetime, datetime | None]] | None] = [None] * n
        self.pending_end: list[datetime | None] = [None] * n
        self.events: list[tuple[datetime, int]] = []  # (instant, entry index); the entry toggles there
        self.normal_heap: list[int] = []  # -rank, lazy deletion
        self.interrupt_heap: list[int] = []
        self.overlay_ranks: list[int] = []
        events = self.events
        for i, cv in enumerate(compiled.validities):
            gen = cv.intervals(u0)
            first = next(gen, None)
            if first is None:
                continue
            self.gens[i] = gen
            s, e = first
            if s <= u0:
                self._activate(i)
                if e is not None:
                    events.append((e, i))
            else:
                self.pending_end[i] = e
                events.append((s, i))
        heapq.heapify(events)

    def _activate(self, i: int) -> None:
        self.active[i] = True
        mode = self.c.modes[i]
        r = self.c.rank[i]
        if mode is EntryMode.OVERLAY:
            bisect.insort(self.overlay_ranks, r)
        elif mode is EntryMode.NORMAL:
            heapq.heappush(self.normal_heap, -r)
        else:
            heapq.heappush(self.interrupt_heap, -r)

    def _deactivate(self, i: int) -> None:
        self.active[i] = False
        if self.c.modes[i] is EntryMode.OVERLAY:
            ranks = self.overlay_ranks
            del ranks[bisect.bisect_left(ranks, self.c.rank[i])]

    def _top(self, heap: list[int]) -> int | None:
        by_rank, active = self.c.by_rank, self.active
        while heap:
            i = by_rank[-heap[0]]
            if active[i]:
                return i
            heapq.heappop(heap)
        return None

    def state_key(self) -> tuple[int | None, tuple[int, ...], int | None]:
        return (self._top(self.normal_heap), tuple(self.overlay_ranks), self._top(self.interrupt_heap))

    def on_screen(self, key: tuple[int | None, tuple[int, ...], int | None]) -> OnScreen:
        by_rank = self.c.by_rank
        return self.c.on_screen(key[0], [by_rank[r] for r in key[1]], key[2])

    def step(self) -> datetime | None:
        """Apply every event at the next event instant; return that instant (None: nothing ever changes again)."""
        events = self.events
        if not events:
            return None
        t = events[0][0]
        while events and events[0][0] == t:
            _, i = heapq.heappop(events)
            if self.active[i]:
                self._deactivate(i)
                gen = self.gens[i]
                nxt = next(gen, None) if gen is not None else None
                if nxt is not None:
                    self.pending_end[i] = nxt[1]
                    heapq.heappush(events, (nxt[0], i))
            else:
                self._activate(i)
                end = self.pending_end[i]
                if end is not None:
                    heapq.heappush(events, (end, i))
        return t


# --------------------------------------------------------------------------------------------------------------------
# public API


def _out(u: datetime, tz: ZoneInfo) -> datetime:
    # Returned instants are aware UTC on purpose: Python subtracts two datetimes of the *same* ZoneInfo by wall clock
    # (wrong by an hour across DST) and never finds an ambiguous local time equal to an instant in another zone.
    return u.replace(tzinfo=UTC)


def resolve(schedule: Schedule, at: datetime) -> OnScreen:
    """What is on screen at the (aware) instant ``at``."""
    u = _aware_utc(at)
    return _compiled(schedule).resolve(u)


def next_change(schedule: Schedule, at: datetime) -> datetime | None:
    """The first instant strictly after ``at`` at which :func:`resolve` answers differently (aware UTC); None if
    never."""
    u = _aware_utc(at)
    compiled = _compiled(schedule)
    sweep = _Sweep(compiled, u)
    base = sweep.state_key()
    horizon = compiled.horizon(u)
    while True:
        t = sweep.step()
        if t is None or t > horizon:
            return None
        if sweep.state_key() != base:
            return _out(t, compiled.tz)


def timeline(schedule: Schedule, start: datetime, end: datetime) -> list[TimelineSegment]:
    """Consecutive segments ``[start, end)`` covering the range, each with what is on screen (times are aware UTC;
    :func:`format_timeline` shows them in local time). Neighbouring segments always differ."""
    u0 = _aware_utc(start, "start")
    u1 = _aware_utc(end, "end")
    if u1 <= u0:
        raise ValueError(f"timeline end {end.isoformat()} is not after start {start.isoformat()}")
    compiled = _compiled(schedule)
    tz = compiled.tz
    sweep = _Sweep(compiled, u0)
    key = sweep.state_key()
    seg_start = u0
    segments: list[TimelineSegment] = []
    while True:
        t = sweep.step()
        if t is None or t >= u1:
            break
        new_key = sweep.state_key()
        if new_key != key:
            segments.append(TimelineSegment(_out(seg_start, tz), _out(t, tz), sweep.on_screen(key)))
            key, seg_start = new_key, t
    segments.append(TimelineSegment(_out(seg_start, tz), _out(u1, tz), sweep.on_screen(key)))
    return segments


def is_valid(validity: Validity, at: datetime, tz: ZoneInfo) -> bool:
    """Whether an item with this validity may be shown at the (aware) instant ``at``."""
    u = _aware_utc(at)
    cv = _compile_validity(validity, tz)
    return cv.active_at(u, cv.clock.local_date(u))


def next_validity_change(validity: Validity, at: datetime, tz: ZoneInfo) -> datetime | None:
    """The first instant strictly after ``at`` at which :func:`is_valid` flips (aware UTC); None if never."""
    u = _aware_utc(at)
    cv = _compile_validity(validity, tz)
    first = next(cv.intervals(u), None)
    if first is None:
        return None
    s, e = first
    if s <= u:
        return None if e is None else _out(e, tz)
    return _out(s, tz)


# --------------------------------------------------------------------------------------------------------------------
# text: timeline formatting, parsing helpers, validation

_WEEKDAY_SHORT_DE = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")
_WEEKDAY_NAMES = {
    name: i
    for i, names in enumerate(
        (
            ("mo", "mon", "montag", "monday"),
            ("di", "tue", "tu", "dienstag", "tuesday"),
            ("mi", "wed", "we", "mittwoch", "wednesday"),
            ("do", "thu", "th", "donnerstag", "thursday"),
            ("fr", "fri", "freitag", "friday"),
            ("sa", "sat", "samstag", "sonnabend", "saturday"),
            ("so", "sun", "su", "sonntag", "sunday"),
        )
    )
    for name in names
}
_CLOCK_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_weekday(name: str) -> int:
    """``"mo"``/``"mon"``/``"Montag"``/``"monday"`` -> 0 .. ``"so"``/``"sun"`` -> 6. ValueError with one line."""
    key = name.strip().lower().rstrip(".")
    if key in _WEEKDAY_NAMES:
        return _WEEKDAY_NAMES[key]
    raise ValueError(f"unknown weekday {name!r} (use mo, di, mi, do, fr, sa, so or mon, tue, ... sun)")


def parse_clock_time(text: str) -> time:
    """``"HH:MM"`` or ``"HH:MM:SS"`` local time of day; ``"24:00"`` means midnight (as a window end). ValueError with
    one line for impossible times such as ``"25:00"`` or ``"12:60"``."""
    m = _CLOCK_RE.match(text.strip())
    if not m:
        raise ValueError(f"impossible time {text!r} (expected HH:MM, e.g. 08:30)")
    hh, mm, ss = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if (hh, mm, ss) == (24, 0, 0):
        return time(0, 0)
    if hh > 23 or mm > 59 or ss > 59:
        raise ValueError(f"impossible time {text!r} (hours 00-23, minutes and seconds 00-59)")
    return time(hh, mm, ss)


def _fmt_instant(dt: datetime, tz: ZoneInfo, with_year: bool, prev: datetime | None) -> str:
    local = dt.astimezone(tz)
    clock = local.strftime("%H:%M")
    if local.second or local.microsecond:
        clock = local.strftime("%H:%M:%S")
    naive = local.replace(tzinfo=None)
    if tz.utcoffset(naive.replace(fold=0)) != tz.utcoffset(naive.replace(fold=1)):
        clock += f" {local.tzname()}"  # wall time occurs twice (fall-back): say which one
    if prev is not None and prev.astimezone(tz).date() == local.date():
        return clock
    day = local.strftime("%d.%m.%Y" if with_year else "%d.%m.")
    return f"{_WEEKDAY_SHORT_DE[local.weekday()]} {day} {clock}"


def format_timeline(segments: Sequence[TimelineSegment], tz: ZoneInfo) -> str:
    """One line per segment, e.g. ``Mo 01.12. 08:00 – 18:00  layout 'info'  + overlay 'warn'  [info-day, warn]``."""
    if not segments:
        return ""
    years = {s.start.astimezone(tz).year for s in segments} | {s.end.astimezone(tz).year for s in segments}
    with_year = len(years) > 1
    lines = []
    for seg in segments:
        span = f"{_fmt_instant(seg.start, tz, with_year, None)} – {_fmt_instant(seg.end, tz, with_year, seg.start)}"
        what = f"layout '{seg.on_screen.layout}'"
        what += "".join(f"  + overlay '{o}'" for o in seg.on_screen.overlays)
        if seg.on_screen.interrupt is not None:
            what += f"  ! interrupt '{seg.on_screen.interrupt}'"
        ids = ", ".join(seg.on_screen.entry_ids) if seg.on_screen.entry_ids else "default"
        lines.append(f"{span}  {what}  [{ids}]")
    return "\n".join(lines)


@dataclass(frozen=True)
class ScheduleProblem:
    """One problem of a schedule. ``path``: where, relative to the schedule object (``"default"``,
    ``"entries[3].end"``, ``"entries[3]"``); ``entry``: the index in ``schedule.entries`` it concerns (None: the
    schedule as a whole); ``drops_entry``: the entry cannot be played as written (a loader skips it)."""

    path: str
    message: str
    entry: int | None = None
    drops_entry: bool = True


def validity_problems(validity: Validity, tz: ZoneInfo | str) -> list[tuple[str, str]]:
    """Problems of one validity as ``(field, what is wrong)``; ``field`` is ``"end"``, ``"weekdays"``,
    ``"times[0].from"``, ... or ``""`` for the validity as a whole. Empty list: fine."""
    problems: list[tuple[str, str]] = []
    for name, bound in (("start", validity.start), ("end", validity.end)):
        if bound is not None and not isinstance(bound, datetime):
            problems.append((name, f"{bound!r} is not a date and time"))
    if validity.start is not None and validity.end is not None and not problems:
        start, end = validity.start, validity.end
        if (start.tzinfo is None) != (end.tzinfo is None):
            problems.append(("end", "start and end must both have a UTC offset or both have none"))
        else:
            clock = _clock(tz)
            if _utc(end, clock) <= _utc(start, clock):
                problems.append(("end", "end is not after start: never active"))
    for d in sorted(validity.weekdays, key=repr):
        if not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6:
            problems.append(("weekdays", f"weekday {d!r} out of range (0 = Monday .. 6 = Sunday)"))
    for k, w in enumerate(validity.windows):
        for name, t in (("from", getattr(w, "start", None)), ("to", getattr(w, "end", None))):
            if not isinstance(t, time):
                problems.append((f"times[{k}].{name}", f"{t!r} is an impossible time (expected HH:MM)"))
            elif t.tzinfo is not None:
                problems.append((f"times[{k}].{name}", f"{t.isoformat()} must be local wall time, without zone"))
    if not problems and validity.start is not None and (validity.weekdays or validity.windows):
        cv = _compile_validity(validity, tz)  # only days or windows can miss a date range that is not empty
        if not cv.never and cv.lower is not None and next(cv.intervals(cv.lower), None) is None:
            problems.append(("", "never active (no allowed weekday/time window inside its date range)"))
    return problems


def validate_validity(validity: Validity, tz: ZoneInfo | str, where: str) -> list[str]:
    """Problems of one validity, one line each, every line starting with ``where`` (then the field)."""
    return [f"{where}.{f}: {m}" if f else f"{where}: {m}" for f, m in validity_problems(validity, tz)]


def schedule_problems(schedule: Schedule, layout_names: Sequence[str] | set[str] | frozenset[str],
                      entry_paths: Sequence[str] | None = None) -> list[ScheduleProblem]:
    """Every problem of a schedule, one each (the one validator: the document loader reports these too).
    ``entry_paths[k]``: the path of entry ``k`` in its document (default ``entries[k]``)."""
    names = set(layout_names)
    problems: list[ScheduleProblem] = []
    tz_ok = True
    try:
        _clock(schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        tz_ok = False
        problems.append(ScheduleProblem("timezone", f"unknown time zone {schedule.timezone!r} (e.g. 'Europe/Berlin')"))
    if not schedule.default_layout:
        problems.append(ScheduleProblem("default", "missing: which layout plays when no schedule entry applies"))
    elif schedule.default_layout not in names:
        problems.append(ScheduleProblem("default", f"unknown layout {schedule.default_layout!r}{_defined(names)}"))
    seen: set[str] = set()
    for k, entry in enumerate(schedule.entries):
        where = entry_paths[k] if entry_paths is not None else f"entries[{k}]"
        found = _entry_problems(entry, names, seen)
        if tz_ok:
            found.extend((f, m, True) for f, m in validity_problems(entry.validity, schedule.timezone))
        problems.extend(ScheduleProblem(f"{where}.{f}" if f else where, m, k, drops) for f, m, drops in found)
    return problems


def validate_schedule(schedule: Schedule, layout_names: Sequence[str] | set[str] | frozenset[str]) -> list[str]:
    """Problems of a schedule, one line each (empty list: fine): ``schedule.entries[1].end: ...``."""
    return [f"schedule.{p.path}: {p.message}" for p in schedule_problems(schedule, layout_names)]


def _defined(names: set[str]) -> str:
    listed = ", ".join(sorted(names))
    if not listed:
        return ""
    return f" (defined: {listed if len(listed) <= 120 else listed[:119] + '…'})"


def _entry_problems(entry: ScheduleEntry, names: set[str], seen: set[str]) -> list[tuple[str, str, bool]]:
    """(field, what is wrong, drops the entry) for the parts of an entry besides its validity."""
    problems: list[tuple[str, str, bool]] = []
    if not entry.id:
        problems.append(("id", "missing: a name for the entry (shown in the timeline and logs)", False))
    elif entry.id in seen:
        problems.append(("id", f"duplicate id {entry.id!r}", False))
    seen.add(entry.id)
    if not entry.layout:
        problems.append(("layout", "missing: the layout to show", True))
    elif entry.layout not in names:
        problems.append(("layout", f"unknown layout {entry.layout!r}{_defined(names)}", True))
    try:
        EntryMode(entry.mode)
    except ValueError:
        problems.append(("mode", f"unknown mode {entry.mode!r} (normal, overlay or interrupt)", True))
    if not isinstance(entry.priority, int) or isinstance(entry.priority, bool):
        problems.append(("priority", f"priority {entry.priority!r} must be a whole number", True))
    return problems
