"""The window switches layouts exactly when the schedule says, re-resolves on clock jumps, distrusts a 1970 clock."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from player.clock import FakeClock
from player.layouts import load_screen_dict
from player.ui.bridge import WorkerBridge
from player.ui.items import RenderContext
from player.ui.window import PlayerWindow

BERLIN = ZoneInfo("Europe/Berlin")


def screen_doc() -> dict:
    def layout(color: str) -> dict:
        return {"width": 320, "height": 180, "background": color,
                "zones": [{"id": "z", "x": 0, "y": 0, "width": 320, "height": 180,
                           "items": [{"type": "text", "text": color}]}]}
    return {"version": 1, "layouts": {"day": layout("#ff0000"), "night": layout("#0000ff"),
                                      "alarm": layout("#00ff00")},
            "schedule": {"default": "day", "entries": [
                {"id": "n", "layout": "night", "times": [{"from": "22:00", "to": "06:00"}]},
                {"id": "a", "layout": "alarm", "mode": "interrupt", "start": "2026-12-24T18:00:00",
                 "end": "2026-12-24T18:30:00"}]}}


def make_window(qtbot, clock: FakeClock) -> PlayerWindow:  # noqa: ANN001
    ctx = RenderContext(clock=clock, timezone=BERLIN, resolve_media=lambda _r: None, bridge=WorkerBridge())
    window = PlayerWindow(ctx, branding={}, kiosk=False)
    qtbot.addWidget(window)
    window.resize(320, 180)
    window.show()
    window.show_screen(load_screen_dict(screen_doc(), "s.json").screen, lambda _r: None)
    return window


def shown(window: PlayerWindow) -> str:
    color = window.grab().toImage().pixelColor(2, 2)
    return {(255, 0, 0): "day", (0, 0, 255): "night", (0, 255, 0): "alarm"}.get(
        (color.red(), color.green(), color.blue()), "?")


def test_switches_at_the_boundary_and_arms_one_timer_for_it(qtbot) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 20, 59, 59, tzinfo=UTC))  # 21:59:59 Berlin
    window = make_window(qtbot, clock)
    qtbot.waitUntil(lambda: window.main is not None and window.main.name == "day", timeout=3000)
    assert window.next_change == datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
    assert window._switch_timer.isActive() and 900 <= window._switch_timer.remainingTime() <= 1001
    assert shown(window) == "day"
    clock.set(datetime(2026, 12, 1, 21, 0, tzinfo=UTC))
    with qtbot.waitSignal(window.layout_changed, timeout=3000) as sig:
        window._switch_timer.timeout.emit()  # the timer's moment, without waiting for it
    assert sig.args == ["night"]
    assert shown(window) == "night"
    assert window.next_change == datetime(2026, 12, 2, 5, 0, tzinfo=UTC)  # 06:00 Berlin


def test_interrupt_takes_the_screen_and_leaves_again(qtbot) -> None:
    clock = FakeClock(datetime(2026, 12, 24, 17, 0, tzinfo=UTC))  # 18:00 Berlin
    window = make_window(qtbot, clock)
    qtbot.waitUntil(lambda: window.interrupt is not None and window.main is not None, timeout=3000)
    qtbot.waitUntil(lambda: shown(window) == "alarm", timeout=3000)
    clock.set(datetime(2026, 12, 24, 17, 30, tzinfo=UTC))
    window.resolve_now()
    assert window.interrupt is None
    qtbot.waitUntil(lambda: shown(window) == "day", timeout=3000)


def test_a_clock_jump_re_resolves(qtbot, caplog) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    window = make_window(qtbot, clock)
    qtbot.waitUntil(lambda: window.main is not None and window.main.name == "day", timeout=3000)
    clock.advance(timedelta(hours=10).total_seconds())  # NTP corrects the clock: now 23:00 Berlin
    with caplog.at_level(logging.INFO), qtbot.waitSignal(window.layout_changed, timeout=3000) as sig:
        window._check_clock_jump()
    assert sig.args == ["night"]
    assert any("the clock jumped by +36000 s" in r.getMessage() for r in caplog.records)


def test_an_implausible_clock_shows_the_default_layout_and_says_why(qtbot, caplog) -> None:
    clock = FakeClock(datetime(1970, 1, 1, 23, 0, tzinfo=UTC))  # a Pi without RTC before NTP; 'night' by the clock
    with caplog.at_level(logging.WARNING):
        window = make_window(qtbot, clock)
        qtbot.waitUntil(lambda: window.main is not None, timeout=3000)
    assert window.main.name == "day"
    assert any("before this player's release" in r.getMessage() for r in caplog.records)
    clock.set(datetime(2026, 12, 1, 23, 0, tzinfo=UTC))  # NTP arrived
    with qtbot.waitSignal(window.layout_changed, timeout=3000):
        window._check_clock_jump()
    assert window.main.name == "night"
