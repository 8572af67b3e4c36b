"""The running player talks to systemd: READY once the first frame is painted, then WATCHDOG pings and STATUS."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
