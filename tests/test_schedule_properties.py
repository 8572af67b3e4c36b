"""Property-based tests: the resolver against a brute-force evaluation written from the definition in
docs/scheduling.md (no code shared with player.schedule)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from player.model import EntryMode, Schedule, ScheduleEntry, TimeWindow, Validity
from player.schedule import is_valid, next_change, next_validity_change, resolve, timeline

BERLIN = ZoneInfo("Europe/Berlin")
ZONES = [BERLIN, ZoneInfo("UTC")]
# base days near interesting dates: spring forward, fall back, leap day, year end, an ordinary week
BASE_DAYS = [date(2026, 3, 24), date(2026, 10, 20), date(2024, 2, 24), date(2025, 12, 26), date(2026, 6, 1)]
MINUTE = timedelta(minutes=1)
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------------------------ brute force


def wall_to_instant(local: datetime, tz: ZoneInfo) -> datetime:
    """Local wall time -> instant: first occurrence if it repeats, first instant after the gap if it is skipped."""
    u = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if u.astimezone(tz).replace(tzinfo=None) == local:
        return u
    while (u - MINUTE).astimezone(tz).replace(tzinfo=None) > local:
        u -= MINUTE
    return u


def bound_instant(dt: datetime, tz: ZoneInfo) -> datetime:
    return wall_to_instant(dt, tz) if dt.tzinfo is None else dt.astimezone(UTC)


def occurrences(v: Validity, day: date, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    if v.weekdays and day.weekday() not in v.weekdays:
        return []
    midnight = datetime(day.year, day.month, day.day)
    if not v.windows:
        return [(wall_to_instant(midnight, tz), wall_to_instant(midnight + timedelta(days=1), tz))]
    out = []
    for w in v.windows:
        end_day = midnight + timedelta(days=1) if w.end <= w.start else midnight
        out.append((wall_to_instant(datetime.combine(midnight, w.start), tz),
                    wall_to_instant(datetime.combine(end_day, w.end), tz)))
    return out


def brute_valid(v: Validity, t: datetime, tz: ZoneInfo) -> bool:
    if v.start is not None and t < bound_instant(v.start, tz):
        return False
    if v.end is not None and t >= bound_instant(v.end, tz):
        return False
    if not v.weekdays and not v.windows:
        return True
    today = t.astimezone(tz).date()
    for k in (-2, -1, 0):
        for s, e in occurrences(v, today + timedelta(days=k), tz):
            if s <= t < e:
                return True
    return False


def beats(a: int, b: int, entries: tuple[ScheduleEntry, ...], tz: ZoneInfo) -> bool:
    """Does entry a win against entry b (both active)? The documented rule, step by step."""
    ea, eb = entries[a], entries[b]
    if ea.priority != eb.priority:
        return ea.priority > eb.priority

    def span(v: Validity) -> float:
        if v.start is None or v.end is None:
            return float("inf")
        return (bound_instant(v.end, tz) - bound_instant(v.start, tz)).total_seconds()

    def window_minutes(v: Validity) -> float:
        if not v.windows:
            return 1440
        total = 0.0
        for w in v.windows:
            m = (w.end.hour * 60 + w.end.minute) - (w.start.hour * 60 + w.start.minute)
            total += m if m > 0 else m + 1440
        return min(total, 1440)

    for measure in (span, lambda v: len(v.weekdays) or 7, window_minutes):
        ma, mb = measure(ea.validity), measure(eb.validity)
        if ma != mb:
            return ma < mb
    sa = bound_instant(ea.validity.start, tz) if ea.validity.start else None
    sb = bound_instant(eb.validity.start, tz) if eb.validity.start else None
    if sa != sb:
        return sb is None or (sa is not None and sa > sb)
    return a < b


def brute_resolve(s: Schedule, t: datetime) -> tuple:
    tz = ZoneInfo(s.timezone)
    active = [i for i, e in enumerate(s.entries) if brute_valid(e.validity, t, tz)]

    def winner(mode: EntryMode) -> int | None:
        best = None
        for i in active:
            if s.entries[i].mode is mode and (best is None or beats(i, best, s.entries, tz)):
                best = i
        return best

    normal, interrupt = winner(EntryMode.NORMAL), winner(EntryMode.INTERRUPT)
    overlays = [i for i in active if s.entries[i].mode is EntryMode.OVERLAY]
    # bottom to top: insertion sort by "beats"
    ordered: list[int] = []
    for i in overlays:
        k = 0
        while k < len(ordered) and beats(i, ordered[k], s.entries, tz):
            k += 1
        ordered.insert(k, i)
    ids = ([s.entries[normal].id] if normal is not None else []) + [s.entries[i].id for i in ordered]
    if interrupt is not None:
        ids.append(s.entries[interrupt].id)
    return (
        s.entries[normal].layout if normal is not None else s.default_layout,
        tuple(s.entries[i].layout for i in ordered),
        s.entries[interrupt].layout if interrupt is not None else None,
        tuple(ids),
    )


def as_tuple(on) -> tuple:
    return (on.layout, on.overlays, on.interrupt, on.entry_ids)


def boundary_instants(validities: list[Validity], tz: ZoneInfo, lo: datetime, hi: datetime) -> list[datetime]:
    """Every instant in (lo, hi) at which some validity could switch: its bounds and its occurrences' ends."""
    out = set()
    for v in validities:
        for b in (v.start, v.end):
            if b is not None:
                out.add(bound_instant(b, tz))
        day = lo.astimezone(tz).date() - timedelta(days=2)
        while wall_to_instant(datetime(day.year, day.month, day.day), tz) < hi:
            for s, e in occurrences(v, day, tz):
                out.update((s, e))
            day += timedelta(days=1)
    return sorted(x for x in out if lo < x < hi)


# ------------------------------------------------------------------------------------------------ strategies


@dataclass
class Case:
    schedule: Schedule
    base: datetime  # naive local midnight of the base day


QUARTERS = st.integers(0, 24 * 4 - 1).map(lambda q: time(q // 4, (q % 4) * 15))
NEAR_DST = st.sampled_from([time(1, 30), time(2), time(2, 30), time(3), time(0)])
CLOCK = st.one_of(QUARTERS, NEAR_DST)


@st.composite
def validities(draw, base: datetime, tz: ZoneInfo) -> Validity:
    start = end = None
    if draw(st.booleans()):
        start = base + timedelta(days=draw(st.integers(0, 12)), minutes=15 * draw(st.integers(0, 95)))
        if draw(st.booleans()):
            start = start.replace(tzinfo=tz)
    if draw(st.booleans()):
        anchor = start.replace(tzinfo=None) if start is not None else base
        end = anchor + timedelta(minutes=15 * draw(st.integers(1, 4 * 24 * 8)))
        if draw(st.booleans()):
            end = end.replace(tzinfo=tz)
    weekdays = frozenset(draw(st.sets(st.integers(0, 6), max_size=4)))
    windows = tuple(TimeWindow(draw(CLOCK), draw(CLOCK)) for _ in range(draw(st.integers(0, 2))))
    return Validity(start=start, end=end, weekdays=weekdays, windows=windows)


@st.composite
def cases(draw) -> Case:
    tz = draw(st.sampled_from(ZONES))
    d = draw(st.sampled_from(BASE_DAYS))
    base = datetime(d.year, d.month, d.day)
    n = draw(st.integers(1, 5))
    entries = tuple(
        ScheduleEntry(
            id=f"e{k}",
            layout=draw(st.sampled_from(["a", "b", "c"])),
            validity=draw(validities(base, tz)),
            priority=draw(st.integers(0, 2)),
            mode=draw(st.sampled_from([EntryMode.NORMAL, EntryMode.NORMAL, EntryMode.OVERLAY, EntryMode.INTERRUPT])),
        )
        for k in range(n)
    )
    return Case(Schedule("default", entries, str(tz.key)), base)


def instant_in(case: Case, minutes: int, seconds: int) -> datetime:
    tz = ZoneInfo(case.schedule.timezone)
    return wall_to_instant(case.base, tz) + timedelta(minutes=minutes, seconds=seconds)


OFFSET_MIN = st.integers(-24 * 60, 15 * 24 * 60)
OFFSET_S = st.sampled_from([0, 0, 0, 1, 59])


# ------------------------------------------------------------------------------------------------ properties


@SETTINGS
@given(cases(), OFFSET_MIN, OFFSET_S)
def test_resolve_equals_brute_force(case: Case, minutes: int, seconds: int) -> None:
    at = instant_in(case, minutes, seconds)
    assert as_tuple(resolve(case.schedule, at)) == brute_resolve(case.schedule, at)


@SETTINGS
@given(cases(), OFFSET_MIN, OFFSET_S)
def test_next_change_is_the_next_brute_force_change(case: Case, minutes: int, seconds: int) -> None:
    s = case.schedule
    tz = ZoneInfo(s.timezone)
    at = instant_in(case, minutes, seconds)
    now = brute_resolve(s, at)
    t = next_change(s, at)
    limit = t if t is not None else at + timedelta(days=22)
    # the brute-force answer is constant between boundary instants: checking each of them covers (at, t)
    for c in boundary_instants([e.validity for e in s.entries], tz, at, limit):
        assert brute_resolve(s, c) == now, f"changed at {c} before next_change {t}"
    if t is not None:
        assert t > at
        assert brute_resolve(s, t) != now


@SETTINGS
@given(cases(), OFFSET_MIN)
def test_timeline_segments_agree_with_resolve_and_next_change(case: Case, minutes: int) -> None:
    s = case.schedule
    start = instant_in(case, minutes, 0)
    end = start + timedelta(days=4)
    segs = timeline(s, start, end)
    assert segs[0].start == start and segs[-1].end == end
    for a, b in zip(segs, segs[1:], strict=False):
        assert a.end == b.start
        assert a.on_screen != b.on_screen
    for seg in segs:
        assert seg.start < seg.end
        assert as_tuple(seg.on_screen) == brute_resolve(s, seg.start)
        nxt = next_change(s, seg.start)
        if seg is not segs[-1]:
            assert nxt == seg.end
        else:
            assert nxt is None or nxt >= end


@SETTINGS
@given(st.sampled_from(ZONES), st.sampled_from(BASE_DAYS), st.data(), OFFSET_MIN, OFFSET_S)
def test_item_validity_and_its_next_change(tz: ZoneInfo, d: date, data, minutes: int, seconds: int) -> None:
    base = datetime(d.year, d.month, d.day)
    v = data.draw(validities(base, tz))
    at = wall_to_instant(base, tz) + timedelta(minutes=minutes, seconds=seconds)
    now = brute_valid(v, at, tz)
    assert is_valid(v, at, tz) == now
    t = next_validity_change(v, at, tz)
    limit = t if t is not None else at + timedelta(days=22)
    for c in boundary_instants([v], tz, at, limit):
        assert brute_valid(v, c, tz) == now
    if t is not None:
        assert t > at
        assert brute_valid(v, t, tz) != now
