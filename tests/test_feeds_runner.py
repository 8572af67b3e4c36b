"""FeedRunner and FeedState: last good value kept on failure, persisted, shown (stale) after a restart."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from player.feeds.base import Feed, FeedRunner, FeedState
from player.feeds.departures import Departure, Departures
from player.feeds.generic import GenericJsonFeed
from player.parse_rest import HubUnavailable

T0 = datetime(2025, 3, 1, 9, 42, tzinfo=UTC)  # 10:42 in Berlin


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass(frozen=True)
class Reading:
    label: str
    value: float
    at: datetime | None = None


class ScriptedFeed(Feed[Reading]):
    """A feed whose next outcomes are scripted: values or exceptions."""

    value_type = Reading

    def __init__(self, name: str = "scripted", **kwargs: float) -> None:
        super().__init__(name, interval_s=kwargs.get("interval_s", 60), timeout_s=5,
                         stale_after_s=kwargs.get("stale_after_s", 300))
        self.outcomes: list[Reading | Exception] = []
        self.calls = 0

    def fetch(self) -> Reading:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_failure_keeps_last_good_value_and_logs_once_per_incident(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    feed = ScriptedFeed()
    updates: list[tuple[str, FeedState[Reading]]] = []
    runner = FeedRunner([feed], lambda n, s: updates.append((n, s)), clock=clock)
    good = Reading("Temperatur", 7.5)
    feed.outcomes = [good, HubUnavailable("hub down"), HubUnavailable("hub down"), HubUnavailable("hub down"),
                     Reading("Temperatur", 8.0)]

    runner.refresh("scripted")
    with caplog.at_level(logging.INFO, logger="player.feeds.base"):
        for _ in range(3):
            clock.advance(minutes=1)
            state = runner.refresh("scripted")
            assert state.value == good and state.fetched_at == T0 and state.error == "hub down"
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "hub down" in warnings[0].getMessage()
        clock.advance(minutes=1)
        recovered = runner.refresh("scripted")
    assert recovered.value == Reading("Temperatur", 8.0) and recovered.error is None
    assert any("recovered" in r.getMessage() for r in caplog.records)
    # updates: first value, start of the incident (once), recovery
    assert [(s.value.value if s.value else None, s.error) for _, s in updates] == [
        (7.5, None), (7.5, "hub down"), (8.0, None)]


def test_stale_mark_and_stand_label() -> None:
    state = FeedState(Reading("x", 1.0), T0)
    assert state.stand() == "Stand: 10:42"
    assert not state.is_stale(T0 + timedelta(minutes=4), 300)
    assert state.is_stale(T0 + timedelta(minutes=6), timedelta(minutes=5))
    assert FeedState(None, None).is_stale(T0, 300) and FeedState(None, None).stand() == ""


def test_value_survives_restart_without_network_and_is_marked_stale(tmp_path: Path) -> None:
    clock = FakeClock()
    feed = ScriptedFeed("departures", stale_after_s=180)
    feed.outcomes = [Reading("Bus 5", 3.0, at=T0 + timedelta(minutes=4))]
    FeedRunner([feed], state_dir=tmp_path, clock=clock).refresh("departures")

    # reboot, two hours later, no network
    later = FakeClock(T0 + timedelta(hours=2))
    offline = ScriptedFeed("departures", stale_after_s=180)
    offline.outcomes = [HubUnavailable("cannot connect")]
    seen: list[FeedState[Reading]] = []
    runner = FeedRunner([offline], lambda n, s: seen.append(s), state_dir=tmp_path, clock=later)
    runner.load_persisted()
    assert seen and seen[0].value == Reading("Bus 5", 3.0, at=T0 + timedelta(minutes=4))
    assert runner.is_stale("departures") and seen[0].stand() == "Stand: 10:42"
    state = runner.refresh("departures")
    assert state.value == Reading("Bus 5", 3.0, at=T0 + timedelta(minutes=4)) and state.error == "cannot connect"
    assert runner.is_stale("departures", later.now)


def test_real_feed_dataclasses_round_trip_through_disk(tmp_path: Path) -> None:
    class StaticDepartures(Feed[Departures]):
        value_type = Departures

        def fetch(self) -> Departures:
            return Departures("Rathaus", (Departure("5", "Universität/Süd", T0, T0 + timedelta(minutes=3)),
                                         Departure("S1", "Hbf", T0, None, cancelled=True, platform="2")))

    feed = StaticDepartures("dep", interval_s=30, timeout_s=5, stale_after_s=90)
    first = FeedRunner([feed], state_dir=tmp_path, clock=FakeClock()).refresh("dep")
    runner = FeedRunner([StaticDepartures("dep", interval_s=30, timeout_s=5, stale_after_s=90)],
                        state_dir=tmp_path, clock=FakeClock())
    runner.load_persisted()
    assert runner.state("dep") == first
    assert runner.state("dep").value.departures[0].delay_min == 3


def test_unchanged_values_are_not_rewritten_in_steady_state(tmp_path: Path) -> None:
    clock = FakeClock()
    feed = ScriptedFeed()
    feed.outcomes = [Reading("a", 1.0)] * 5 + [Reading("a", 2.0)]
    runner = FeedRunner([feed], state_dir=tmp_path, clock=clock, persist_every_s=900)
    path = runner.store.path("scripted")  # type: ignore[union-attr]
    runner.refresh("scripted")
    first = path.stat().st_mtime_ns, path.read_text()
    for _ in range(4):
        clock.advance(minutes=1)
        runner.refresh("scripted")
    assert (path.stat().st_mtime_ns, path.read_text()) == first
    clock.advance(minutes=1)
    runner.refresh("scripted")
    assert json.loads(path.read_text())["value"]["value"] == 2.0


def test_corrupt_or_foreign_saved_state_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    feed = ScriptedFeed()
    runner = FeedRunner([feed], state_dir=tmp_path, clock=FakeClock())
    path = runner.store.path("scripted")  # type: ignore[union-attr]
    for content in ("{not json", json.dumps({"version": 1, "fetched_at": T0.isoformat(), "value": {"label": 5}})):
        path.write_text(content)
        runner.load_persisted()
        assert runner.state("scripted").value is None
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2


def test_broken_feed_or_callback_never_escapes() -> None:
    feed = ScriptedFeed()
    feed.outcomes = [KeyError("surprise"), Reading("a", 1.0)]

    def bad_callback(name: str, state: FeedState[Reading]) -> None:
        raise RuntimeError("ui gone")

    runner = FeedRunner([feed], bad_callback, clock=FakeClock())
    assert runner.refresh("scripted").error == "'surprise'"
    assert runner.refresh("scripted").value == Reading("a", 1.0)


def test_runner_fetches_in_background_on_start() -> None:
    done = threading.Event()
    feed = ScriptedFeed(interval_s=3600)
    feed.outcomes = [Reading("a", 1.0)]
    main_thread = threading.get_ident()
    threads: list[int] = []

    def on_update(name: str, state: FeedState[Reading]) -> None:
        threads.append(threading.get_ident())
        done.set()

    runner = FeedRunner([feed], on_update)
    runner.start()
    try:
        assert done.wait(10)
    finally:
        runner.stop()
    assert runner.state("scripted").value == Reading("a", 1.0)
    assert threads and threads[0] != main_thread


def test_duplicate_names_and_bad_intervals_are_refused() -> None:
    with pytest.raises(ValueError, match="two feeds"):
        FeedRunner([ScriptedFeed("a"), ScriptedFeed("a")])
    with pytest.raises(ValueError, match="must be > 0"):
        ScriptedFeed(interval_s=0)
    with pytest.raises(ValueError, match="http"):
        GenericJsonFeed("file:///etc/passwd")
