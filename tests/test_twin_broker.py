"""Digital-twin messages against a real RabbitMQ 3.10 with Web-STOMP (tests/twinbroker.py starts a private one on
127.0.0.1): messages published to the exchange reach the feed and the widget; the district filter; hostile messages
dropped with one log line each kind; a wrong password; broker stopped and restarted -> the feed reconnects; the last
list shown after a restart without the broker, marked stale. Under CI=true a missing RabbitMQ fails these tests;
elsewhere they are skipped with the reason."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

import player.ui.widgets  # noqa: F401  (registers the widget views)
from player.clock import FakeClock
from player.feeds.factory import build_feeds
from player.feeds.twin import TwinFeed, TwinMessages
from player.model import WidgetItem
from player.ui.bridge import shared_bridge
from player.ui.items import RenderContext, make_view
from player.ui.live import FeedHub
from player.ui.widgets.base import LiveWidget
from twinbroker import BrokerUnavailable, TwinBroker, _free_port

LiveWidget.strict = True
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
BERLIN = ZoneInfo("Europe/Berlin")
WAIT_MS = 60_000  # how long an awaited event may take before the test fails (not a performance limit)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwinBroker]:
    try:
        test_broker = TwinBroker(tmp_path_factory.mktemp("rabbitmq"))
        test_broker.start()
    except BrokerUnavailable as exc:
        if _in_ci():
            pytest.fail(f"RabbitMQ unavailable in CI: {exc}", pytrace=False)
        pytest.skip(f"RabbitMQ unavailable (outside CI, skipping): {exc}")
    try:
        yield test_broker
    finally:
        test_broker.close()


@pytest.fixture
def live(broker: TwinBroker) -> TwinBroker:
    if not broker.running:  # an earlier test stopped it
        broker.start()
    return broker


class Screen:
    """A FeedHub with one twin feed and a widget showing it (what attach_feeds builds for a screen)."""

    def __init__(self, settings: dict[str, Any], state_dir: Path, clock: FakeClock, size: tuple[int, int] = (960, 540),
                 **options: Any) -> None:
        built = build_feeds({"twin": {"type": "twin", **options}}, twin=settings, clock=clock.now)
        assert not built.problems, built.problems
        self.feed: TwinFeed = built.feeds[0]  # type: ignore[assignment]
        self.feed.subscriber.min_backoff_s, self.feed.subscriber.max_backoff_s = 0.2, 1.0  # quick test reconnects
        self.hub = FeedHub(built.feeds, state_dir=state_dir, clock=clock.now, configs=built.configs)
        self.parent = QWidget()
        self.parent.resize(*size)
        ctx = RenderContext(clock=clock, timezone=BERLIN, resolve_media=lambda _r: None, bridge=shared_bridge(),
                            extras={"feeds": self.hub})
        self.view = make_view(WidgetItem(id="meldungen", widget="twin_messages", feed="twin"), ctx, self.parent)
        self.view.setGeometry(0, 0, *size)
        self.hub.start()

    @property
    def state(self) -> Any:
        return self.hub.state("twin")

    def ids(self) -> list[str]:
        value = self.state.value
        return [m.id for m in value.items] if isinstance(value, TwinMessages) else []

    def texts(self) -> list[str]:
        """What the widget draws now (rendered offscreen)."""
        image = QImage(self.view.width(), self.view.height(), QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(0xFF0B2540)
        self.view.render(image)
        return [r.text for r in self.view.runs]

    def close(self) -> None:
        self.hub.stop()
        self.feed.subscriber.stop(timeout=10)


def message(uid: str, title: str = "Meldung", severity: str = "normal", districts: Any = None,
            kind: str = "plain_message", text: str = "") -> dict[str, Any]:
    doc: dict[str, Any] = {"uuid": uid, "eventType": kind, "severity": severity,
                           "payload": {"title": title, "message": text}}
    if districts is not None:
        doc["districtIds"] = districts
    return doc


@pytest.fixture
def screens() -> Iterator[list[Screen]]:
    made: list[Screen] = []
    yield made
    for s in made:
        s.close()


def subscribed(qtbot: Any, screen: Screen) -> None:
    qtbot.waitUntil(lambda: screen.feed.subscriber.subscribed.is_set() and screen.state.value is not None,
                    timeout=WAIT_MS)


# ------------------------------------------------------------------------------------------------ tests
def test_published_messages_reach_the_feed_and_the_widget(qtbot: Any, live: TwinBroker, tmp_path: Path,
                                                          screens: list[Screen]) -> None:
    clock = FakeClock(T0)
    screen = Screen(live.settings(), tmp_path / "feeds", clock)
    screens.append(screen)
    subscribed(qtbot, screen)
    assert "Zurzeit keine Meldungen" in screen.texts()
    live.publish(message("m1", "Sperrung der Rheinstraße", kind="press_release"), routing_key="press")
    live.publish(message("m2", "Hochwasser an der Mümling", "high", kind="event", text="Uferwege meiden."),
                 routing_key="event")
    live.publish(message("m3", "Bürgerbüro heute geschlossen"), routing_key="plain")
    live.publish(message("m4", "Neue Stellenangebote", kind="job_posting"), routing_key="jobs")
    qtbot.waitUntil(lambda: screen.ids() == ["m4", "m3", "m2"], timeout=WAIT_MS)  # the 3 newest, newest first
    texts = screen.texts()
    assert "Neue Stellenangebote" in texts and "Bürgerbüro heute geschlossen" in texts
    assert "Hochwasser an der Mümling" in texts and "WICHTIG" in texts
    assert "Sperrung der Rheinstraße" not in texts
    assert screen.state.error is None and screen.feed.subscriber.sessions == 1
    saved = (tmp_path / "feeds" / "feed-twin.json").read_text(encoding="utf-8")
    assert "Mümling" in saved  # the last list is on disk (written atomically by the runner)


def test_only_messages_for_this_screens_districts(qtbot: Any, live: TwinBroker, tmp_path: Path,
                                                  screens: list[Screen]) -> None:
    screen = Screen(live.settings(districts=["7"]), tmp_path / "feeds", FakeClock(T0), districts=["3", "4"])
    screens.append(screen)
    subscribed(qtbot, screen)
    live.publish(message("other", "Nur für Bezirk 5", districts=["5"]))
    live.publish(message("mine", "Für Bezirk 3", districts=[3, 9]))
    live.publish(message("city", "Für die ganze Stadt"))
    live.publish(message("seven", "Bezirk 7 (player.toml, vom Dokument überschrieben)", districts=["7"]))
    live.publish(message("last", "Bezirk 4", districts=["4"]))
    qtbot.waitUntil(lambda: screen.ids()[:1] == ["last"], timeout=WAIT_MS)
    assert screen.ids() == ["last", "city", "mine"]
    assert screen.feed.inbox.filtered == 2


def test_hostile_messages_are_dropped_with_one_log_line_each_kind(qtbot: Any, live: TwinBroker, tmp_path: Path,
                                                                  screens: list[Screen],
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    screen = Screen(live.settings(), tmp_path / "feeds", FakeClock(T0), max_items=5)
    screens.append(screen)
    subscribed(qtbot, screen)
    hostile: list[Any] = [
        b"not json at all", b"\xff\xfe\x00 broken bytes", "[1, 2, 3]", {"uuid": "x"},
        {"uuid": "y", "eventType": "rocket_launch", "payload": {"title": "no"}},
        {"uuid": None, "eventType": "event", "payload": {"title": "no uuid"}},
        {"uuid": "z", "eventType": "event", "payload": {"title": 5, "message": ["a"]}},
        "[" * 50_000, "x" * 100_000,
    ]
    with caplog.at_level(logging.WARNING, logger="player.feeds.twin"):
        for _ in range(3):  # the same rubbish again and again: still one line per kind
            for raw in hostile:
                live.publish(raw)
        live.publish(message("html", "<b>Fest</b> im <script>alert(1)</script>Park &amp; Garten",
                             text="<p>Eintritt frei</p><img src=x onerror=alert(1)>"))
        live.publish(message("long", "Ü" * 5_000, severity="urgent", districts={"a": 1}))
        live.publish(message("sentinel", "Alles gut"))
        qtbot.waitUntil(lambda: screen.ids()[:1] == ["sentinel"], timeout=WAIT_MS)
    value = screen.state.value
    assert [m.id for m in value.items] == ["sentinel", "long", "html"]
    html = value.items[2]
    assert html.title == "Fest im Park & Garten" and html.text == "Eintritt frei"
    long = value.items[1]
    assert len(long.title) <= 200 and long.severity == "normal" and long.districts == ()
    lines = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    kinds = ["not JSON", "not a JSON object", "no eventType", "unknown eventType", "no uuid", "neither title",
             "larger than"]
    for kind in kinds:
        assert sum(kind in line for line in lines) == 1, (kind, lines)
    assert len(lines) == len(kinds), lines
    assert screen.feed.subscriber.sessions == 1  # the connection survived all of it
    texts = screen.texts()
    assert "Fest im Park & Garten" in texts and not any("<" in t for t in texts)


def test_a_wrong_password_is_one_log_line_and_no_crash(qtbot: Any, live: TwinBroker, tmp_path: Path,
                                                       screens: list[Screen],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="player.feeds.twin"):
        screen = Screen(live.settings(passcode="wrong"), tmp_path / "feeds", FakeClock(T0))
        screens.append(screen)
        qtbot.waitUntil(lambda: screen.feed.subscriber.attempts >= 3 and screen.state.error is not None,
                        timeout=WAIT_MS)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "refused" in lines[0] and "wrong" not in lines[0], lines
    assert screen.state.value is None and "Zurzeit keine Meldungen" in screen.texts()


def test_broker_stopped_and_restarted_the_feed_reconnects_and_marks_the_gap(qtbot: Any, live: TwinBroker,
                                                                             tmp_path: Path,
                                                                             screens: list[Screen]) -> None:
    clock = FakeClock(T0)
    screen = Screen(live.settings(), tmp_path / "feeds", clock, stale_after_s=600)
    screens.append(screen)
    subscribed(qtbot, screen)
    live.publish(message("before", "Vor dem Neustart"))
    qtbot.waitUntil(lambda: screen.ids() == ["before"], timeout=WAIT_MS)
    live.stop()
    qtbot.waitUntil(lambda: screen.state.error is not None, timeout=WAIT_MS)  # told at once, not at the next poll
    assert screen.ids() == ["before"]  # the last list stays on screen
    assert not any(t.startswith("Stand:") for t in screen.texts())
    clock.advance(601)  # past stale_after_s without the broker: the widget says how old the list is
    texts = screen.texts()
    assert "Stand: 10:00" in texts and "Vor dem Neustart" in texts
    live.start()
    qtbot.waitUntil(lambda: screen.feed.subscriber.sessions >= 2 and screen.state.error is None, timeout=WAIT_MS)
    assert not any(t.startswith("Stand:") for t in screen.texts())  # fresh again
    live.publish(message("after", "Nach dem Neustart"))
    qtbot.waitUntil(lambda: screen.ids() == ["after", "before"], timeout=WAIT_MS)
    assert "Nach dem Neustart" in screen.texts()


def test_saved_list_is_shown_after_a_restart_without_the_broker(qtbot: Any, live: TwinBroker, tmp_path: Path,
                                                                screens: list[Screen]) -> None:
    state_dir = tmp_path / "feeds"
    first = Screen(live.settings(), state_dir, FakeClock(T0))
    screens.append(first)
    subscribed(qtbot, first)
    for i in range(1, 4):
        live.publish(message(f"s{i}", f"Gespeicherte Meldung {i}", "high" if i == 2 else "normal"))
    qtbot.waitUntil(lambda: first.ids() == ["s3", "s2", "s1"], timeout=WAIT_MS)
    first.close()
    screens.remove(first)
    # "reboot" an hour later; the broker cannot be reached (nothing listens on its port)
    clock = FakeClock(T0 + timedelta(hours=1))
    offline = Screen(live.settings(url=f"ws://127.0.0.1:{_free_port()}/ws"), state_dir, clock)
    screens.append(offline)
    qtbot.waitUntil(lambda: offline.ids() == ["s3", "s2", "s1"], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: offline.state.error is not None, timeout=WAIT_MS)
    texts = offline.texts()
    assert "Gespeicherte Meldung 3" in texts and "WICHTIG" in texts and "Stand: 10:00" in texts
    assert offline.state.value == first.state.value or offline.ids() == ["s3", "s2", "s1"]
    offline.close()
    screens.remove(offline)
    # and with the broker back: the saved messages stay until newer ones push them out
    online = Screen(live.settings(), state_dir, clock)
    screens.append(online)
    subscribed(qtbot, online)
    # subscribed: the saved list is there at once; the first fetch on the new connection makes it fresh
    qtbot.waitUntil(lambda: online.state.fetched_at is not None and online.state.fetched_at >= clock.now(),
                    timeout=WAIT_MS)
    assert online.ids() == ["s3", "s2", "s1"] and online.state.error is None
    assert not any(t.startswith("Stand:") for t in online.texts())
    live.publish(message("n1", "Neu nach dem Neustart"))
    qtbot.waitUntil(lambda: online.ids() == ["n1", "s3", "s2"], timeout=WAIT_MS)
