"""The running player talks to systemd: READY once the first frame is painted, then WATCHDOG pings and STATUS."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from player.layouts import load_screen
from player.schedule import resolve
from screens import DEMO_DIR, ROOT


def test_player_sends_ready_after_first_frame_then_watchdog_pings(tmp_path: Path) -> None:
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(30)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "NOTIFY_SOCKET": str(sock_path),
           "WATCHDOG_USEC": "1000000", "OSC_PLAYER_BENCH": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "player.cli", "run", "--source", str(DEMO_DIR),
                             "--windowed", "960x540", "--exit-after", "4"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = datetime.now(UTC)
    messages: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum("WATCHDOG=1" in m for m in messages) < 3:
            messages.append(sock.recv(4096).decode())
    finally:
        out, err = proc.communicate(timeout=30)
        sock.close()
    assert proc.returncode == 0, err
    ready = [i for i, m in enumerate(messages) if "READY=1" in m]
    assert ready, messages
    assert "OSC_FIRST_FRAME" in out  # READY was sent from the first-frame hook
    pings = [i for i, m in enumerate(messages) if m == "WATCHDOG=1"]
    assert len(pings) >= 3
    # The demo plays 'info' by day and 'nacht' from 22:00 to 06:00 (Berlin): expect what its schedule says for the
    # seconds this run lasted, not one fixed name.
    schedule = load_screen(DEMO_DIR / "screen.json").screen.schedule
    expected = {resolve(schedule, started + timedelta(seconds=s)).layout for s in range(0, 40)}
    shown = [m.removeprefix("STATUS=") for m in messages if m.startswith("STATUS=playing layout ")]
    assert shown and all(any(s == f"playing layout '{name}'" for name in expected) for s in shown), (shown, expected)
    assert "first frame on screen" in err


def notify_socket(tmp_path: Path) -> tuple[socket.socket, Path]:
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(30)
    return sock, sock_path


def test_a_frozen_gui_thread_stops_the_watchdog_pings(tmp_path: Path) -> None:
    """The test hook blocks the GUI thread for 3 s: no WATCHDOG=1 may arrive in that gap (pings from another
    thread would keep a hung player alive forever); they arrive before it and again after it."""
    sock, sock_path = notify_socket(tmp_path)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "NOTIFY_SOCKET": str(sock_path),
           "WATCHDOG_USEC": "1000000", "OSC_PLAYER_TEST_FREEZE_GUI_S": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "player.cli", "run", "--source", str(DEMO_DIR),
                             "--windowed", "480x270", "--exit-after", "20"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    messages: list[str] = []
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            messages.append(sock.recv(4096).decode())
            if "OSC_TEST=thaw" in messages and messages[messages.index("OSC_TEST=thaw"):].count("WATCHDOG=1") >= 2:
                break
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
        sock.close()
    assert "OSC_TEST=freeze" in messages and "OSC_TEST=thaw" in messages, (messages, err[-2000:])
    frozen, thawed = messages.index("OSC_TEST=freeze"), messages.index("OSC_TEST=thaw")
    assert "WATCHDOG=1" in messages[:frozen]
    assert "WATCHDOG=1" not in messages[frozen:thawed]
    assert messages[thawed:].count("WATCHDOG=1") >= 2
    assert "blocking the GUI thread" in err


def test_status_says_display_off_and_ready_is_sent_off_hours(tmp_path: Path) -> None:
    """A player started while its power schedule says off renders nothing (no first frame): it still reports
    READY, and STATUS says the display is off and until when; the schedule here comes with the content."""
    content = tmp_path / "demo"
    shutil.copytree(DEMO_DIR, content)
    doc = json.loads((content / "screen.json").read_text(encoding="utf-8"))
    berlin = ZoneInfo("Europe/Berlin")
    day = (datetime.now(berlin) + timedelta(days=2)).date()  # on only two days from now: off all of today
    doc["power_schedule"] = {("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()]: "00:00-24:00"}
    (content / "screen.json").write_text(json.dumps(doc), encoding="utf-8")
    sock, sock_path = notify_socket(tmp_path)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "1000000"}
    proc = subprocess.Popen([sys.executable, "-m", "player.cli", "run", "--source", str(content),
                             "--windowed", "480x270", "--exit-after", "20"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    messages: list[str] = []
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not any(m.startswith("READY=1") and "display off" in m
                                                      for m in messages):
            messages.append(sock.recv(4096).decode())
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
        sock.close()
    weekday = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[day.weekday()]  # not the locale's names
    expected = f"STATUS=display off (schedule from the content) until {weekday} 00:00"
    assert any(m == f"READY=1\n{expected}" for m in messages), (messages, err[-2000:])
    assert "display off (schedule from the content" in err
