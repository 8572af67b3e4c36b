"""The window switches layouts exactly when the schedule says, re-resolves on clock jumps, distrusts a 1970 clock."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from player.clock import FakeClock
from player.layouts import load_screen_dict
from player.sync import STATUS_FILE
from player.ui.bridge import WorkerBridge
from player.ui.items import RenderContext
from player.ui.window import RELEASE_DATE, PlayerWindow, plausible_floor

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


def test_a_clock_before_the_last_successful_sync_shows_the_default_layout_and_says_why(qtbot, caplog) -> None:
    # after the release date, but days before the last sync: e.g. systemd's clock epoch after a reboot without RTC
    clock = FakeClock(datetime(2026, 11, 20, 23, 0, tzinfo=UTC))  # 'night' by this clock
    last_sync = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    ctx = RenderContext(clock=clock, timezone=BERLIN, resolve_media=lambda _r: None, bridge=WorkerBridge())
    window = PlayerWindow(ctx, branding={}, kiosk=False)
    qtbot.addWidget(window)
    window.resize(320, 180)
    window.show()
    window.clock_floor = plausible_floor(snapshot_created=last_sync)
    assert window.clock_floor == last_sync - timedelta(hours=1)
    with caplog.at_level(logging.WARNING):
        window.show_screen(load_screen_dict(screen_doc(), "s.json").screen, lambda _r: None)
        qtbot.waitUntil(lambda: window.main is not None, timeout=3000)
    assert window.main.name == "day" and window.next_change is None
    warnings = [r.getMessage() for r in caplog.records if "the system clock says" in r.getMessage()]
    assert warnings == ["the system clock says 2026-11-20T23:00:00+00:00, more than an hour before the last "
                        "successful sync (2026-11-28T09:30:00+00:00); showing the default layout until the clock "
                        "is set (NTP)"]
    clock.set(datetime(2026, 11, 28, 8, 30, tzinfo=UTC))  # within the hour of slack: plausible, 09:30 Berlin
    window.resolve_now()
    assert window.main.name == "day" and window.next_change == datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
    clock.set(datetime(2026, 11, 28, 22, 0, tzinfo=UTC))  # NTP: 23:00 Berlin
    with qtbot.waitSignal(window.layout_changed, timeout=3000) as sig:
        window._check_clock_jump()
    assert sig.args == ["night"]


def test_the_floor_survives_a_reboot_in_the_sync_status(tmp_path: Path) -> None:
    assert plausible_floor() == RELEASE_DATE
    assert plausible_floor(state_dir=tmp_path) == RELEASE_DATE  # first boot: no status yet
    (tmp_path / STATUS_FILE).write_text('{"last_success": "2026-12-03T08:00:00+00:00"}', encoding="utf-8")
    assert plausible_floor(datetime(2026, 12, 1, tzinfo=UTC), tmp_path) == datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
    assert plausible_floor(datetime(2026, 12, 5, tzinfo=UTC), tmp_path) == datetime(2026, 12, 4, 23, 0, tzinfo=UTC)
    (tmp_path / STATUS_FILE).write_text('{"last_success": "gestern"}', encoding="utf-8")
    assert plausible_floor(state_dir=tmp_path) == RELEASE_DATE  # unreadable: no floor from it, no crash


def test_the_switch_comes_before_the_next_change_is_computed(qtbot, monkeypatch) -> None:
    """Building the new layout must not wait for next_change (10,000 entries: ~100 ms). The resolver is wrapped,
    not replaced: the wrapper notes which layouts exist when the window asks for the next change."""
    import player.schedule

    clock = FakeClock(datetime(2026, 12, 1, 20, 59, 59, tzinfo=UTC))
    window = make_window(qtbot, clock)
    qtbot.waitUntil(lambda: window.main is not None and window.main.name == "day", timeout=3000)
    seen: list[set[str]] = []
    real_next_change = player.schedule.next_change

    def next_change(schedule, at):  # noqa: ANN001, ANN202
        seen.append({s.name for s in (window.main, window._incoming) if s is not None})
        return real_next_change(schedule, at)

    monkeypatch.setattr(player.schedule, "next_change", next_change)
    clock.set(datetime(2026, 12, 1, 21, 0, tzinfo=UTC))
    window.resolve_now()
    assert len(seen) == 1 and "night" in seen[0]  # the night layout was already being built
    assert window.next_change == datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    qtbot.waitUntil(lambda: window.main.name == "night", timeout=3000)


def test_at_boot_the_floor_comes_from_the_cached_snapshot_and_its_sync(qtbot, tmp_path: Path, caplog) -> None:
    """A real sync (HTTP on 127.0.0.1) on 10 December; the player reboots with its clock at 1 December 23:00 (a Pi
    without RTC): the cached snapshot plays its default layout, with one warning, until NTP sets the clock."""
    import json

    from player.ui.runtime import ContentController, attach_content
    from test_sync import make_env

    try:
        from tests.httpfaults import FaultServer
    except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
        from httpfaults import FaultServer  # type: ignore[no-redef]

    synced_at = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
    with FaultServer({}) as srv:
        srv.set_file("/s/screen.json", json.dumps(screen_doc()).encode(), "application/json")
        env = make_env(srv, tmp_path)
        env.service.clock = FakeClock(synced_at)
        assert env.service.sync_once().result == "published"
        env.service.write_status(force=True)
        config = env.config
        env.close()
    # the server is gone: the player boots from the cache alone
    clock = FakeClock(datetime(2026, 12, 1, 22, 0, tzinfo=UTC))  # 23:00 Berlin: 'night' by this clock
    ctx = RenderContext(clock=clock, timezone=BERLIN, resolve_media=lambda _r: None, bridge=WorkerBridge())
    window = PlayerWindow(ctx, branding={}, kiosk=False)
    qtbot.addWidget(window)
    window.resize(320, 180)
    window.show()
    controller: ContentController | None = None
    try:
        with caplog.at_level(logging.WARNING):
            controller = attach_content(window, config)
            qtbot.waitUntil(lambda: window.main is not None, timeout=10_000)
        assert window.clock_floor == synced_at - timedelta(hours=1)
        assert window.main.name == "day"
        assert any("more than an hour before the last successful sync (2026-12-10T09:00:00+00:00)"
                   in r.getMessage() for r in caplog.records)
        clock.set(datetime(2026, 12, 10, 22, 0, tzinfo=UTC))  # NTP: 23:00 Berlin on the 10th
        with qtbot.waitSignal(window.layout_changed, timeout=3000) as sig:
            window._check_clock_jump()
        assert sig.args == ["night"]
    finally:
        if controller is not None:
            controller.stop()


def test_an_interrupt_plays_on_when_an_overlay_starts_underneath(qtbot) -> None:  # noqa: ANN001
    """An emergency interrupt 18:00-19:00; a banner overlay starts at 18:10 and the main layout stays. The interrupt's
    stage plays on (before, it was rebuilt: its slideshow started over and showed its background until ready), and
    the overlay, once on, plays on when the interrupt ends."""
    def layout(color: str, text: str) -> dict:
        return {"width": 320, "height": 180, "background": color, "zones": [{
            "id": "z", "x": 0, "y": 0, "width": 320, "height": 180,
            "items": [{"type": "text", "text": f"{text} {k}", "duration": 5} for k in range(3)]}]}

    doc = {"version": 1, "layouts": {"day": layout("#ff0000", "Tag"), "alarm": layout("#00ff00", "Warnung"),
                                     "banner": layout("#0000ff", "Hinweis")},
           "schedule": {"default": "day", "entries": [
               {"id": "a", "layout": "alarm", "mode": "interrupt", "start": "2026-12-24T18:00",
                "end": "2026-12-24T19:00"},
               {"id": "o", "layout": "banner", "mode": "overlay", "start": "2026-12-24T18:10",
                "end": "2026-12-24T20:00"}]}}
    clock = FakeClock(datetime(2026, 12, 24, 17, 0, tzinfo=UTC))  # 18:00 in Berlin
    window = make_window(qtbot, clock)
    window.show_screen(load_screen_dict(doc, "s.json").screen, lambda _r: None)
    interrupt = window.interrupt
    assert interrupt is not None and interrupt.name == "alarm"
    clock.set(datetime(2026, 12, 24, 17, 10, tzinfo=UTC))  # 18:10: the overlay starts under the interrupt
    window._switch_timer.timeout.emit()
    assert [o.name for o in window.overlays] == ["banner"] and window.interrupt is interrupt
    banner = window.overlays[0]
    clock.set(datetime(2026, 12, 24, 18, 0, tzinfo=UTC))  # 19:00: the interrupt ends
    window._switch_timer.timeout.emit()
    assert window.interrupt is None and window.overlays == [banner]
