"""Display power as the player applies it: off outside the schedule (backend called, rendering paused), on again
at the scheduled instant (content rebuilt), a remote override holds until the next change."""

from __future__ import annotations

import shutil
import socket
import stat
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from player.clock import FakeClock
from player.layouts import load_screen_dict
from player.system.display_power import PowerSchedule, XsetDisplayPower, choose_backend
from player.ui.bridge import WorkerBridge
from player.ui.items import RenderContext
from player.ui.power import DisplayPowerController
from player.ui.window import PlayerWindow
from screens import one_zone

BERLIN = ZoneInfo("Europe/Berlin")


def fake_xset(tmp_path: Path, monitor: str = "On") -> tuple[Path, Path]:
    """A fake ``xset`` that logs its arguments and keeps the monitor state as a real X server would:
    ``dpms force on|off`` changes it, ``q`` reports it."""
    log = tmp_path / "calls.log"
    state = tmp_path / "monitor"
    state.write_text(monitor)
    exe = tmp_path / "bin" / "xset"
    exe.parent.mkdir(exist_ok=True)
    exe.write_text(f"""#!/bin/sh
echo "$@" >> {log}
case "$1 $2 $3" in
  "dpms force on") echo On > {state} ;;
  "dpms force off") echo Off > {state} ;;
  "q  ") echo "DPMS (Energy Star):"; echo "  Monitor is $(cat {state})" ;;
esac
""")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe, log


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_display_follows_the_power_schedule(qtbot, tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 20, 59, tzinfo=UTC))  # 21:59 in Berlin, a Tuesday
    bridge = WorkerBridge()
    window = shown_window(qtbot, clock, bridge)
    screen = load_screen_dict(one_zone([{"type": "text", "text": "Hallo"}]), "s.json").screen
    window.show_screen(screen, lambda _r: None)
    qtbot.waitUntil(lambda: window.main is not None, timeout=3000)
    exe, log = fake_xset(tmp_path)
    power = DisplayPowerController(window, PowerSchedule({"daily": "06:00-22:00"}, tz=BERLIN),
                                   XsetDisplayPower(str(exe), display=":0"), clock, BERLIN, bridge)
    with qtbot.waitSignal(power.backend_done, timeout=5000) as started:
        power.start()
    assert started.args == [None] and calls(log) == ["q"]  # on already at start: only asked, not switched
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



def make_window(qtbot, clock: FakeClock, bridge: WorkerBridge) -> PlayerWindow:  # noqa: ANN001
    ctx = RenderContext(clock=clock, timezone=BERLIN, resolve_media=lambda _r: None, bridge=bridge)
    window = PlayerWindow(ctx, branding={}, kiosk=False)
    qtbot.addWidget(window)
    window._allow_close = True
    return window


def shown_window(qtbot, clock: FakeClock, bridge: WorkerBridge) -> PlayerWindow:  # noqa: ANN001
    window = make_window(qtbot, clock, bridge)
    window.resize(320, 180)
    window.show()
    return window


def test_a_restart_inside_the_on_window_switches_a_dark_display_on(qtbot, tmp_path: Path) -> None:
    """A remote "display off", then the player restarts (crash, update) while the schedule says on: the display
    must not stay dark all day. The backend is found on PATH, as choose_backend finds it on a kiosk."""
    exe, log = fake_xset(tmp_path)
    clock = FakeClock(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))  # 11:00 in Berlin: on by the schedule
    schedule = PowerSchedule({"daily": "06:00-22:00"}, tz=BERLIN)
    env = {"PATH": str(exe.parent), "DISPLAY": ":0"}
    bridge = WorkerBridge()

    first = DisplayPowerController(make_window(qtbot, clock, bridge), schedule,
                                   choose_backend("auto", which=lambda n: shutil.which(n, path=env["PATH"]), env=env,
                                                  root=tmp_path), clock, BERLIN, bridge)
    assert first.backend.name == "xset"
    with qtbot.waitSignal(first.backend_done, timeout=5000):
        first.start()
    with qtbot.waitSignal(first.backend_done, timeout=5000) as off:
        first.override(False)  # remote command
    assert off.args == [False] and calls(log)[-1] == "dpms force off"

    # the process dies here; the next one starts in the same "on" window
    second = DisplayPowerController(make_window(qtbot, clock, bridge), schedule,
                                    choose_backend("xset", which=lambda n: shutil.which(n, path=env["PATH"]), env=env),
                                    clock, BERLIN, bridge)
    before = len(calls(log))
    with qtbot.waitSignal(second.backend_done, timeout=5000) as started:
        second.start()
    assert started.args == [True]
    assert calls(log)[before:] == ["q", "dpms force on", "s off -dpms"]
    assert (tmp_path / "monitor").read_text().strip() == "On"


def test_start_with_an_unreadable_state_switches_on_and_start_off_hours_switches_off(qtbot, tmp_path: Path) -> None:
    exe, log = fake_xset(tmp_path, monitor="")  # `xset q` says nothing useful: state unknown
    bridge = WorkerBridge()
    clock = FakeClock(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    schedule = PowerSchedule({"daily": "06:00-22:00"}, tz=BERLIN)
    power = DisplayPowerController(make_window(qtbot, clock, bridge), schedule, XsetDisplayPower(str(exe)),
                                   clock, BERLIN, bridge)
    with qtbot.waitSignal(power.backend_done, timeout=5000) as started:
        power.start()
    assert started.args == [True] and calls(log) == ["q", "dpms force on", "s off -dpms"]

    log.unlink()
    night = FakeClock(datetime(2026, 12, 1, 22, 0, tzinfo=UTC))  # 23:00: off
    window = make_window(qtbot, night, bridge)
    power = DisplayPowerController(window, schedule, XsetDisplayPower(str(exe)), night, BERLIN, bridge)
    with qtbot.waitSignal(power.backend_done, timeout=5000) as started:
        power.start()
    assert started.args == [False] and calls(log) == ["dpms force off"] and window.paused


def test_a_clock_jump_reapplies_the_power_schedule(qtbot, tmp_path: Path) -> None:
    """A Pi without RTC boots with a stale clock in the off-hours: the display goes off. When NTP sets the clock
    into the on-hours, the window notices the jump and the display comes back at once (not at the next timer)."""
    clock = FakeClock(datetime(2026, 12, 1, 2, 0, tzinfo=UTC))  # 03:00 in Berlin: off
    window = shown_window(qtbot, clock, WorkerBridge())
    window.show_screen(load_screen_dict(one_zone([{"type": "text", "text": "Hallo"}]), "s.json").screen,
                       lambda _r: None)
    exe, _log = fake_xset(tmp_path)
    power = DisplayPowerController(window, PowerSchedule({"daily": "06:00-22:00"}, tz=BERLIN),
                                   XsetDisplayPower(str(exe), display=":0"), clock, BERLIN, WorkerBridge(workers=1))
    window.clock_jumped.connect(power.apply_schedule)
    power.start()
    assert power.on is False and window.paused
    clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))  # NTP: 10:00 in Berlin
    window._check_clock_jump()  # what the window's 10 s check does
    assert power.on is True and not window.paused
    qtbot.waitUntil(lambda: window.main is not None, timeout=3000)


def received(server: socket.socket) -> list[str]:
    """Every datagram systemd's socket holds now, in order (a unix datagram is queued when sendto returns)."""
    got: list[str] = []
    timeout = server.gettimeout()
    server.setblocking(False)
    try:
        while True:
            got.append(server.recv(4096).decode())
    except BlockingIOError:
        return got
    finally:
        server.settimeout(timeout)


def off_hours_with_systemd(qtbot, monkeypatch, notify_socket: tuple[socket.socket, str]):  # noqa: ANN001, ANN201
    """Tuesday 23:00 in Berlin, schedule 06:00-22:00: the display is off; STATUS goes to a real notify socket."""
    from player.system.display_power import NullDisplayPower
    from player.system.watchdog import SdNotifier
    from player.ui.app import WatchdogLink

    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket[1])
    clock = FakeClock(datetime(2026, 12, 1, 22, 0, tzinfo=UTC))
    bridge = WorkerBridge()
    window = shown_window(qtbot, clock, bridge)
    power = DisplayPowerController(window, PowerSchedule({"daily": "06:00-22:00"}, tz=BERLIN), NullDisplayPower(),
                                   clock, BERLIN, bridge)
    notifier = SdNotifier()
    assert notifier.enabled
    link = WatchdogLink(notifier)
    link.follow_power(power)
    power.start()
    return power, notifier


def test_status_follows_a_new_schedule_while_the_display_stays_off(qtbot, monkeypatch, notify_socket) -> None:  # noqa: ANN001
    """Off at 23:00 until 06:00; the hub then sends a schedule that starts at 07:00: still off, and STATUS must say
    07:00 at once (it used to keep 06:00 until the next switch)."""
    server = notify_socket[0]
    power, notifier = off_hours_with_systemd(qtbot, monkeypatch, notify_socket)
    with notifier:
        assert received(server) == ["READY=1\nSTATUS=display off (schedule) until Wed 06:00"]
        screen = load_screen_dict(one_zone([{"type": "text", "text": "Hallo"}],
                                           power_schedule={"daily": "07:00-21:00"}), "s.json").screen
        power.take_screen(screen)
        assert power.on is False
        assert received(server) == ["STATUS=display off (schedule from the content) until Wed 07:00"]
        power.apply_schedule()  # the same state again: nothing new to say
        assert received(server) == []


def test_a_remote_off_while_the_schedule_has_the_display_off_changes_nothing(qtbot, monkeypatch,  # noqa: ANN001
                                                                              notify_socket) -> None:  # noqa: ANN001
    """A remote "display off" at 23:00, when the schedule has it off already: the display is off because of the
    schedule still (reason and STATUS stay as they are); a later switch by remote command says so."""
    server = notify_socket[0]
    power, notifier = off_hours_with_systemd(qtbot, monkeypatch, notify_socket)
    with notifier:
        assert received(server) == ["READY=1\nSTATUS=display off (schedule) until Wed 06:00"]
        power.override(False)
        assert power.on is False and power.reason == "schedule"
        power.apply_schedule()
        assert power.reason == "schedule" and received(server) == []
        power.override(True)
        assert power.on is True and power.reason == "remote command"
        power.override(False)
        assert power.on is False and power.reason == "remote command"
        assert received(server) == ["STATUS=playing", "READY=1\nSTATUS=display off (remote command) until Wed 06:00"]


def test_a_remote_command_holds_until_the_next_scheduled_change(qtbot) -> None:  # noqa: ANN001
    """A remote "display off" at 11:00 (schedule 06:00-22:00) holds until 22:00: not only until the timer's hourly
    look (before, the display came back on at 12:00) or a clock jump. At 22:00 the schedule takes over again."""
    from player.system.display_power import NullDisplayPower

    clock = FakeClock(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))  # 11:00 in Berlin: on
    window = shown_window(qtbot, clock, WorkerBridge())
    power = DisplayPowerController(window, PowerSchedule({"daily": "06:00-22:00"}, tz=BERLIN), NullDisplayPower(),
                                   clock, BERLIN, WorkerBridge(workers=1))
    window.clock_jumped.connect(power.apply_schedule)
    power.start()
    assert power.on is True
    power.override(False)
    for hour in (11, 15, 20):  # the timer looks every hour (12:00, 16:00, 21:00 in Berlin)
        clock.set(datetime(2026, 12, 1, hour, 0, tzinfo=UTC))
        power._timer.timeout.emit()
        assert power.on is False and power.reason == "remote command", hour
    window._check_clock_jump()  # a look after a clock jump changes nothing either
    assert power.on is False
    clock.set(datetime(2026, 12, 1, 21, 0, 1, tzinfo=UTC))  # 22:00:01: the scheduled change (off) has come
    power._timer.timeout.emit()
    assert power.on is False and power.reason == "schedule"
    clock.set(datetime(2026, 12, 2, 5, 0, 1, tzinfo=UTC))  # 06:00 the next morning: on again, as scheduled
    power._timer.timeout.emit()
    assert power.on is True
