"""Named cases of the schedule resolver: midnight, DST, leap day, year end, tie-breaking, overlays, items, validation."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from player.model import EntryMode, Schedule, ScheduleEntry, TimeWindow, Validity
from player.schedule import (
    OnScreen,
    format_timeline,
    is_valid,
    next_change,
    next_validity_change,
    parse_clock_time,
    parse_weekday,
    resolve,
    timeline,
    to_instant,
    validate_schedule,
)

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=BERLIN, fold=fold)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def window(a: str, b: str) -> TimeWindow:
    return TimeWindow(parse_clock_time(a), parse_clock_time(b))


def one(validity: Validity, layout: str = "x", **kw) -> Schedule:
    return Schedule("default", (ScheduleEntry("e", layout, validity, **kw),))


def layout_at(schedule: Schedule, at: datetime) -> str:
    return resolve(schedule, at).layout


# ---------------------------------------------------------------------------------------------- basics


def test_naive_instant_is_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        resolve(one(Validity()), datetime(2026, 1, 1, 12))


def test_empty_schedule_shows_default_for_ever() -> None:
    s = Schedule("default")
    assert resolve(s, berlin(2026, 1, 1)) == OnScreen("default")
    assert next_change(s, berlin(2026, 1, 1)) is None


def test_start_inclusive_end_exclusive() -> None:
    s = one(Validity(start=datetime(2026, 5, 4, 8), end=datetime(2026, 5, 4, 18)))
    assert layout_at(s, berlin(2026, 5, 4, 7, 59, 59)) == "default"
    assert layout_at(s, berlin(2026, 5, 4, 8)) == "x"
    assert layout_at(s, berlin(2026, 5, 4, 17, 59, 59)) == "x"
    assert layout_at(s, berlin(2026, 5, 4, 18)) == "default"
    assert next_change(s, berlin(2026, 5, 4, 7)) == berlin(2026, 5, 4, 8)
    assert next_change(s, berlin(2026, 5, 4, 8)) == berlin(2026, 5, 4, 18)
    assert next_change(s, berlin(2026, 5, 4, 18)) is None


def test_aware_bounds_are_instants_in_any_zone() -> None:
    s = one(Validity(start=utc(2026, 5, 4, 6), end=utc(2026, 5, 4, 7)))  # 08:00-09:00 CEST
    assert layout_at(s, berlin(2026, 5, 4, 8, 30)) == "x"
    assert layout_at(s, berlin(2026, 5, 4, 7, 30)) == "default"
    assert next_change(s, berlin(2026, 5, 4, 8, 30)) == berlin(2026, 5, 4, 9)


# ---------------------------------------------------------------------------------------------- midnight


def test_window_across_midnight_belongs_to_the_day_it_starts() -> None:
    # Fridays 22:00 until Saturday 02:00
    s = one(Validity(weekdays=frozenset({4}), windows=(window("22:00", "02:00"),)))
    assert layout_at(s, berlin(2026, 5, 8, 23)) == "x"  # Fri 23:00
    assert layout_at(s, berlin(2026, 5, 9, 1, 59)) == "x"  # Sat 01:59
    assert layout_at(s, berlin(2026, 5, 9, 2)) == "default"
    assert layout_at(s, berlin(2026, 5, 8, 1)) == "default"  # Fri 01:00 belongs to Thursday's window
    assert layout_at(s, berlin(2026, 5, 9, 23)) == "default"  # Sat 23:00
    assert next_change(s, berlin(2026, 5, 8, 12)) == berlin(2026, 5, 8, 22)
    assert next_change(s, berlin(2026, 5, 8, 22)) == berlin(2026, 5, 9, 2)
    assert next_change(s, berlin(2026, 5, 9, 2)) == berlin(2026, 5, 15, 22)


def test_whole_day_window_and_consecutive_days_merge() -> None:
    s = one(Validity(windows=(window("06:00", "06:00"),)))  # start == end: 24 hours from 06:00
    assert layout_at(s, berlin(2026, 5, 8, 5)) == "x"
    assert next_change(s, berlin(2026, 5, 8, 5)) is None  # covers every instant for ever
    weekend = one(Validity(weekdays=frozenset({5, 6})))
    assert next_change(weekend, berlin(2026, 5, 9, 10)) == berlin(2026, 5, 11)  # Sat+Sun form one run


# ---------------------------------------------------------------------------------------------- DST


def test_spring_forward_window_inside_the_gap_is_empty_that_day() -> None:
    # 2026-03-29: 02:00 CET -> 03:00 CEST; 02:00-03:00 does not exist that night
    s = one(Validity(windows=(window("02:00", "03:00"),)))
    assert layout_at(s, berlin(2026, 3, 28, 2, 30)) == "x"  # the night before: normal
    assert layout_at(s, utc(2026, 3, 29, 0, 59)) == "default"  # 01:59 CET
    assert layout_at(s, utc(2026, 3, 29, 1, 0)) == "default"  # 03:00 CEST
    assert next_change(s, berlin(2026, 3, 29, 1)) == berlin(2026, 3, 30, 2)


def test_window_starting_in_the_gap_starts_at_the_first_instant_after_it() -> None:
    s = one(Validity(windows=(window("02:30", "04:00"),)))
    assert to_instant(datetime(2026, 3, 29, 2, 30), BERLIN) == berlin(2026, 3, 29, 3)
    assert next_change(s, berlin(2026, 3, 29, 1)) == berlin(2026, 3, 29, 3)  # 03:00 CEST = 01:00 UTC
    assert next_change(s, berlin(2026, 3, 29, 3)) == berlin(2026, 3, 29, 4)
    # a date bound in the gap follows the same rule
    bounded = one(Validity(start=datetime(2026, 3, 29, 2, 30)))
    assert next_change(bounded, berlin(2026, 3, 29, 1)) == utc(2026, 3, 29, 1)


def test_fall_back_ambiguous_time_means_its_first_occurrence() -> None:
    # 2026-10-25: 03:00 CEST -> 02:00 CET; 02:00-02:59 happen twice
    s = one(Validity(windows=(window("02:30", "02:45"),)))
    assert layout_at(s, berlin(2026, 10, 25, 2, 35, fold=0)) == "x"  # 00:35 UTC, CEST
    assert layout_at(s, berlin(2026, 10, 25, 2, 35, fold=1)) == "default"  # 01:35 UTC, CET
    assert next_change(s, berlin(2026, 10, 25, 1)) == utc(2026, 10, 25, 0, 30)
    assert next_change(s, utc(2026, 10, 25, 0, 30)) == utc(2026, 10, 25, 0, 45)
    assert next_change(s, utc(2026, 10, 25, 0, 45)) == berlin(2026, 10, 26, 2, 30)
    assert to_instant(datetime(2026, 10, 25, 2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)


def test_fall_back_window_over_the_repeated_hour_lasts_two_real_hours() -> None:
    s = one(Validity(windows=(window("02:00", "03:00"),)))
    assert next_change(s, berlin(2026, 10, 25, 1)) == utc(2026, 10, 25, 0, 0)  # 02:00 CEST
    assert next_change(s, utc(2026, 10, 25, 0, 0)) == utc(2026, 10, 25, 2, 0)  # 03:00 CET
    assert layout_at(s, berlin(2026, 10, 25, 2, 30, fold=1)) == "x"


def test_timeline_across_dst_shows_real_lengths() -> None:
    s = one(Validity(weekdays=frozenset({6})))  # Sundays
    segs = timeline(s, berlin(2026, 3, 28), berlin(2026, 3, 31))
    sunday = [g for g in segs if g.on_screen.layout == "x"]
    assert len(sunday) == 1
    assert sunday[0].end - sunday[0].start == timedelta(hours=23)  # instants are UTC: real elapsed time


# ---------------------------------------------------------------------------------------------- leap day, year end


def test_leap_day() -> None:
    s = one(Validity(start=datetime(2024, 2, 29), end=datetime(2024, 3, 1)))
    assert layout_at(s, berlin(2024, 2, 28, 23, 59)) == "default"
    assert layout_at(s, berlin(2024, 2, 29, 12)) == "x"
    assert next_change(s, berlin(2024, 2, 28, 12)) == berlin(2024, 2, 29)
    assert next_change(s, berlin(2024, 2, 29)) == berlin(2024, 3, 1)
    thursday_nights = one(Validity(weekdays=frozenset({3}), windows=(window("23:00", "01:00"),)))
    assert next_change(thursday_nights, berlin(2024, 2, 29, 23, 30)) == berlin(2024, 3, 1, 1)
    assert next_change(thursday_nights, berlin(2024, 2, 23, 12)) == berlin(2024, 2, 29, 23)


def test_year_end() -> None:
    night = Validity(weekdays=frozenset({2}), windows=(window("22:00", "02:00"),))  # 2025-12-31 is a Wednesday
    s = one(night)
    assert layout_at(s, berlin(2026, 1, 1, 1)) == "x"
    assert next_change(s, berlin(2025, 12, 31, 23)) == berlin(2026, 1, 1, 2)
    # the date range cuts the window at its end, whatever the window says
    cut = one(Validity(end=datetime(2026, 1, 1), weekdays=night.weekdays, windows=night.windows))
    assert next_change(cut, berlin(2025, 12, 31, 23)) == berlin(2026, 1, 1)
    text = format_timeline(timeline(s, berlin(2025, 12, 31, 20), berlin(2026, 1, 1, 6)), BERLIN)
    assert text.splitlines()[1].startswith("Mi 31.12.2025 22:00 – Do 01.01.2026 02:00  layout 'x'")


# ---------------------------------------------------------------------------------------------- tie-breaking


def entries(*es: ScheduleEntry) -> Schedule:
    return Schedule("default", es)


AT = berlin(2025, 12, 24, 12)  # a Wednesday


def test_higher_priority_wins() -> None:
    s = entries(ScheduleEntry("a", "low", priority=1), ScheduleEntry("b", "high", priority=5))
    assert resolve(s, AT) == OnScreen("high", entry_ids=("b",))


def test_shorter_date_range_is_more_specific() -> None:
    december = ScheduleEntry("dec", "december", Validity(start=datetime(2025, 12, 1), end=datetime(2026, 1, 1)))
    xmas = ScheduleEntry("xmas", "christmas", Validity(start=datetime(2025, 12, 24), end=datetime(2025, 12, 27)))
    assert layout_at(entries(xmas, december), AT) == "christmas"
    assert layout_at(entries(december, xmas), AT) == "christmas"
    # a bounded range is more specific than an unbounded entry with a tight window
    daily = ScheduleEntry("daily", "daily", Validity(windows=(window("11:00", "13:00"),)))
    assert layout_at(entries(daily, december), AT) == "december"


def test_fewer_weekdays_then_shorter_windows_are_more_specific() -> None:
    weekdays = ScheduleEntry("wd", "weekdays", Validity(weekdays=frozenset({0, 1, 2, 3, 4})))
    wednesday = ScheduleEntry("we", "wednesday", Validity(weekdays=frozenset({2})))
    assert layout_at(entries(weekdays, wednesday), AT) == "wednesday"
    long = ScheduleEntry("long", "long", Validity(windows=(window("08:00", "20:00"),)))
    short = ScheduleEntry("short", "short", Validity(windows=(window("11:00", "13:00"),)))
    assert layout_at(entries(long, short), AT) == "short"


def test_later_start_then_entry_order() -> None:
    early = ScheduleEntry("early", "early", Validity(start=datetime(2025, 12, 1), end=datetime(2025, 12, 31)))
    late = ScheduleEntry("late", "late", Validity(start=datetime(2025, 12, 2), end=datetime(2026, 1, 1)))
    assert layout_at(entries(early, late), AT) == "late"
    first = ScheduleEntry("first", "first")
    second = ScheduleEntry("second", "second")
    assert layout_at(entries(first, second), AT) == "first"
    assert layout_at(entries(second, first), AT) == "second"


def test_losing_entry_ending_does_not_count_as_a_change() -> None:
    s = entries(
        ScheduleEntry("top", "top", priority=9),
        ScheduleEntry("under", "under", Validity(windows=(window("08:00", "09:00"),))),
    )
    assert next_change(s, AT) is None


# ---------------------------------------------------------------------------------------------- overlays, interrupts


def test_overlays_and_interrupt_together() -> None:
    s = entries(
        ScheduleEntry("base", "info", Validity(windows=(window("06:00", "22:00"),))),
        ScheduleEntry("banner", "warn", Validity(windows=(window("11:00", "14:00"),)), 2, EntryMode.OVERLAY),
        ScheduleEntry("ticker", "ticker", Validity(), 1, EntryMode.OVERLAY),
        ScheduleEntry("alarm", "emergency", Validity(start=AT, end=AT + timedelta(minutes=30)), 0,
                      EntryMode.INTERRUPT),
    )
    on = resolve(s, AT)
    assert on == OnScreen("info", ("ticker", "warn"), "emergency", ("base", "ticker", "banner", "alarm"))
    assert next_change(s, AT) == AT + timedelta(minutes=30)
    after = resolve(s, AT + timedelta(minutes=30))
    assert after.interrupt is None and after.overlays == ("ticker", "warn")
    assert next_change(s, AT + timedelta(minutes=30)) == berlin(2025, 12, 24, 14)
    assert resolve(s, berlin(2025, 12, 24, 23)) == OnScreen("default", ("ticker",), None, ("ticker",))
    line = format_timeline(timeline(s, AT, AT + timedelta(minutes=30)), BERLIN)
    assert line == (
        "Mi 24.12. 12:00 – 12:30  layout 'info'  + overlay 'ticker'  + overlay 'warn'  ! interrupt 'emergency'"
        "  [base, ticker, banner, alarm]"
    )


# ---------------------------------------------------------------------------------------------- items


def test_item_validity_and_next_change() -> None:
    v = Validity(start=datetime(2026, 5, 1), weekdays=frozenset({0, 1, 2, 3, 4}), windows=(window("07:00", "09:00"),))
    assert not is_valid(v, berlin(2026, 4, 30, 8), BERLIN)
    assert next_validity_change(v, berlin(2026, 4, 30, 8), BERLIN) == berlin(2026, 5, 1, 7)  # Friday
    assert is_valid(v, berlin(2026, 5, 1, 8), BERLIN)
    assert next_validity_change(v, berlin(2026, 5, 1, 8), BERLIN) == berlin(2026, 5, 1, 9)
    assert next_validity_change(v, berlin(2026, 5, 1, 9), BERLIN) == berlin(2026, 5, 4, 7)  # skips the weekend
    expired = Validity(end=datetime(2026, 1, 1))
    assert not is_valid(expired, berlin(2026, 5, 1), BERLIN)
    assert next_validity_change(expired, berlin(2026, 5, 1), BERLIN) is None
    assert next_validity_change(Validity(), berlin(2026, 5, 1), BERLIN) is None


# ---------------------------------------------------------------------------------------------- validation, parsing


def test_validate_schedule_names_each_problem_in_one_line() -> None:
    bad = Schedule(
        "nope",
        (
            ScheduleEntry("a", "missing"),
            ScheduleEntry("b", "info", Validity(start=datetime(2026, 2, 1), end=datetime(2026, 1, 1))),
            ScheduleEntry("c", "info", Validity(weekdays=frozenset({7}))),
            ScheduleEntry("d", "info", Validity(windows=(TimeWindow("25:00", time(3)),))),  # type: ignore[arg-type]
            ScheduleEntry("e", "info", Validity(start=datetime(2026, 5, 4), end=datetime(2026, 5, 5),
                                               weekdays=frozenset({6}))),
            ScheduleEntry("a", "info"),
        ),
    )
    problems = validate_schedule(bad, {"info"})
    assert all("\n" not in p for p in problems)
    assert problems == [
        "schedule.default: unknown layout 'nope' (defined: info)",
        "schedule.entries[0].layout: unknown layout 'missing' (defined: info)",
        "schedule.entries[1].end: end is not after start: never active",
        "schedule.entries[2].weekdays: weekday 7 out of range (0 = Monday .. 6 = Sunday)",
        "schedule.entries[3].times[0].from: '25:00' is an impossible time (expected HH:MM)",
        "schedule.entries[4]: never active (no allowed weekday/time window inside its date range)",
        "schedule.entries[5].id: duplicate id 'a'",
    ]
    good = entries(ScheduleEntry("n", "default", Validity(windows=(window("22:00", "02:00"),))))
    assert validate_schedule(good, ["default"]) == []
    assert validate_schedule(Schedule("default", timezone="Mars/Olympus"), ["default"]) == [
        "schedule.timezone: unknown time zone 'Mars/Olympus' (e.g. 'Europe/Berlin')"
    ]


def test_parse_helpers() -> None:
    assert [parse_weekday(n) for n in ("mo", "Di", "wed", "Donnerstag", "fri", "sa", "SUN")] == [0, 1, 2, 3, 4, 5, 6]
    assert parse_clock_time("08:30") == time(8, 30)
    assert parse_clock_time("24:00") == time(0)
    for text in ("25:00", "12:60", "8", "noon"):
        with pytest.raises(ValueError, match="impossible time"):
            parse_clock_time(text)
    with pytest.raises(ValueError, match="unknown weekday"):
        parse_weekday("xx")
