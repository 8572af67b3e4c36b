"""Display power as the player applies it: off outside the schedule (backend called, rendering paused), on again
at the scheduled instant (content rebuilt), a remote override holds until the next change."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from player.clock import FakeClock
from player.layouts import load_screen_dict
from player.system.display_power import PowerSchedule, XsetDisplayPower
from player.ui.bridge import WorkerBridge
from player.ui.items import RenderContext
from player.ui.power import DisplayPowerController
from player.ui.window import PlayerWindow
from screens import one_zone

BERLIN = ZoneInfo("Europe/Berlin")


def fake_xset(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "calls.log"
    exe = tmp_path / "xset"
    exe.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe, log


def test_display_follows_the_power_schedule(qtbot, tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 20, 59, tzinfo=UTC))  # 21:59 in Berlin, a Tuesday
    bridge = WorkerBridge()
    ctx = RenderContext(clock=clock, timezone=BERLIN, resolve_media=lambda _r: None, bridge=bridge)
    window = PlayerWindow(ctx, branding={}, kiosk=False)
    qtbot.addWidget(window)
    window.resize(320, 180)
    window.show()
    screen = load_screen_dict(one_zone([{"type": "text", "text": "Hallo"}]), "s.json").screen
    window.show_screen(screen, lambda _r: None)
    qtbot.waitUntil(lambda: window.main is not None, timeout=3000)
    exe, log = fake_xset(tmp_path)
    power = DisplayPowerController(window, PowerSchedule({"daily": "06:00-22:00"}, tz=BERLIN),
                                   XsetDisplayPower(str(exe), display=":0"), clock, BERLIN, bridge)
    power.start()
    assert power.on is True and window.main is not None
    assert power.next_change == datetime(2026, 12, 1, 22, 0, tzinfo=BERLIN)
    assert power._timer.isActive()

    clock.set(datetime(2026, 12, 1, 21, 0, 1, tzinfo=UTC))  # 22:00:01: off
    power.apply_schedule()
    assert power.on is False and window.paused and window.main is None
    qtbot.waitUntil(lambda: log.exists() and "dpms force off" in log.read_text(), timeout=3000)

    window.resolve_now()  # nothing comes back while paused
    assert window.main is None

    power.override(True)  # remote "display on"
    assert window.main is not None or not window.paused
    qtbot.waitUntil(lambda: window.main is not None, timeout=3000)
    qtbot.waitUntil(lambda: "dpms force on" in log.read_text(), timeout=3000)

    clock.set(datetime(2026, 12, 2, 5, 0, 0, tzinfo=UTC))  # 06:00 next morning: on by schedule, no extra call
    calls_before = log.read_text().count("\n")
    power.apply_schedule()
    assert power.on is True
    assert log.read_text().count("\n") == calls_before  # already on: the backend is not called again
    window._allow_close = True

