"""Benchmark: resolve and build a week's timeline for 10,000 schedule entries.

Run: .venv/bin/python bench/schedule_timeline.py [--entries 10000] [--seed 1]

Baseline (measured in the same run): what a polling player or a naive timeline tool would do -- resolve once per
minute over the week. It is measured on a 100-entry subset (10,080 resolves) and scaled linearly to the full entry
count (resolve is a linear pass over the entries), because running it on all entries would take minutes. The sweep
timeline must also be exact, which minute sampling is not; the ratio only says how much cheaper exact is.
"""

from __future__ import annotations

import argparse
import random
import sys
import time as clock
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from player.model import EntryMode, Schedule, ScheduleEntry, TimeWindow, Validity  # noqa: E402
from player.schedule import next_change, resolve, timeline  # noqa: E402

BERLIN = ZoneInfo("Europe/Berlin")
WEEK_START = datetime(2026, 3, 23, tzinfo=BERLIN)  # a week with the spring-forward night in it


def random_entry(rng: random.Random, k: int) -> ScheduleEntry:
    start = end = None
    if rng.random() < 0.7:
        start = datetime(2026, 3, 1) + timedelta(days=rng.randint(0, 40), hours=rng.randint(0, 23))
        end = start + timedelta(days=rng.randint(1, 30))
    weekdays = frozenset(rng.sample(range(7), rng.randint(1, 7))) if rng.random() < 0.5 else frozenset()
    windows = tuple(
        TimeWindow(time(rng.randint(0, 23), rng.choice((0, 15, 30, 45))), time(rng.randint(0, 23), rng.choice((0, 30))))
        for _ in range(rng.choice((0, 1, 1, 2)))
    )
    mode = rng.choices([EntryMode.NORMAL, EntryMode.OVERLAY, EntryMode.INTERRUPT], weights=[90, 7, 3])[0]
    return ScheduleEntry(f"e{k}", f"layout{rng.randint(0, 199)}", Validity(start, end, weekdays, windows),
                         rng.randint(0, 9), mode)


def timed(fn, *args):
    t0 = clock.perf_counter()
    result = fn(*args)
    return result, clock.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    entries = tuple(random_entry(rng, k) for k in range(args.entries))
    schedule = Schedule("default", entries)
    week_end = WEEK_START + timedelta(days=7)

    _, first = timed(resolve, schedule, WEEK_START)  # includes compiling the schedule (cached afterwards)
    probes = [WEEK_START + timedelta(minutes=rng.randint(0, 7 * 1440)) for _ in range(20)]
    t0 = clock.perf_counter()
    for at in probes:
        resolve(schedule, at)
    per_resolve = (clock.perf_counter() - t0) / len(probes)
    t0 = clock.perf_counter()
    for at in probes:
        next_change(schedule, at)
    per_next = (clock.perf_counter() - t0) / len(probes)
    segments, week = timed(timeline, schedule, WEEK_START, week_end)

    subset = Schedule("default", entries[:100])
    minutes = [WEEK_START + timedelta(minutes=m) for m in range(7 * 1440)]
    t0 = clock.perf_counter()
    for at in minutes:
        resolve(subset, at)
    sampled_subset = clock.perf_counter() - t0
    baseline = sampled_subset * len(entries) / len(subset.entries)

    print(f"entries: {len(entries)}  (Europe/Berlin, week {WEEK_START:%Y-%m-%d} incl. DST change, seed {args.seed})")
    print(f"first resolve (compiles the schedule):   {first * 1000:8.1f} ms")
    print(f"resolve, compiled:                       {per_resolve * 1000:8.1f} ms  (mean of {len(probes)})")
    print(f"next_change:                             {per_next * 1000:8.1f} ms  (mean of {len(probes)})")
    print(f"timeline for the week (exact sweep):     {week * 1000:8.1f} ms  -> {len(segments)} segments")
    print(f"baseline, minute sampling of the week:   {baseline * 1000:8.1f} ms  "
          f"(measured {sampled_subset * 1000:.1f} ms on 100 entries x {len(minutes)} minutes, scaled x{len(entries) // 100})")
    print(f"ratio baseline / exact timeline:         {baseline / week:8.1f} x")


if __name__ == "__main__":
    main()
