"""HDMI hotplug and mode changes: a kiosk window follows its screen's new geometry, and a screen that comes back as a
new QScreen (TV off and on, monitor plugged in again), and lays the content out again. Driven by the Qt signals
themselves (emitted here as the platform would), not by calling the window's handlers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication

from player.clock import FakeClock
from player.layouts import load_screen_dict
from player.ui.bridge import WorkerBridge
from player.ui.items import RenderContext
from player.ui.window import PlayerWindow
from screens import ROOT, one_zone


def kiosk_window(qtbot) -> PlayerWindow:  # noqa: ANN001
    ctx = RenderContext(clock=FakeClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC)), timezone=ZoneInfo("Europe/Berlin"),
                        resolve_media=lambda _r: None, bridge=WorkerBridge())
    window = PlayerWindow(ctx, branding={}, kiosk=True)
    qtbot.addWidget(window)
    window._allow_close = True
    window.show()
    window.follow_screen()
    window.show_screen(load_screen_dict(one_zone([{"type": "text", "text": "Hallo"}], background="#336699"),
                                        "s.json").screen, lambda _r: None)
    qtbot.waitUntil(lambda: window.main is not None, timeout=3000)
    return window


def test_kiosk_window_follows_a_new_screen_geometry(qtbot) -> None:
    window = kiosk_window(qtbot)
    screen = window.windowHandle().screen()
    assert window.geometry() == screen.geometry()  # following starts with covering the screen
    before = window.main

    screen.geometryChanged.emit(QRect(0, 0, 1920, 1080))  # the TV came back in another mode
    qtbot.waitUntil(lambda: window.main is not None and window.main is not before, timeout=3000)
    assert window.geometry().size() == QRect(0, 0, 1920, 1080).size()
    assert window.main.geometry() == QRect(0, 0, 1920, 1080)  # content laid out for the new size
    img = window.grab().toImage()
    c = img.pixelColor(1900, 1060)
    assert (c.red(), c.green(), c.blue()) == (0x33, 0x66, 0x99)  # the layout fills the new screen

    screen.geometryChanged.emit(QRect(0, 0, 1080, 1920))  # turned to portrait: letterboxed, aspect kept
    qtbot.waitUntil(lambda: window.main is not None and window.main.geometry().width() == 1080, timeout=3000)
    assert window.main.geometry() == QRect(0, 656, 1080, 608)


def test_a_screen_that_comes_back_brings_the_player_back_full_screen(qtbot) -> None:
    window = kiosk_window(qtbot)
    primary = QGuiApplication.primaryScreen()
    window.showNormal()  # what the TV's disappearance left: a normal window on a fallback geometry
    window.setGeometry(10, 10, 320, 200)
    qtbot.waitUntil(lambda: window.main is not None and window.main.width() <= 320, timeout=3000)
    for signal in (QGuiApplication.instance().screenAdded, QGuiApplication.instance().primaryScreenChanged):
        before = window.main
        signal.emit(primary)
        assert window.isFullScreen()
        assert window.geometry() == primary.geometry()
        qtbot.waitUntil(lambda b=before: window.main is not None and window.main is not b, timeout=3000)  # noqa: B023
        assert window.main.geometry().width() == primary.geometry().width() or \
            window.main.geometry().height() == primary.geometry().height()  # laid out for the whole screen
        window.showNormal()
        window.setGeometry(10, 10, 320, 200)


SCRIPT = r"""
import json, logging, sys, time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo
from PySide6.QtWidgets import QApplication
from player.clock import FakeClock
from player.layouts import load_screen_dict
from player.ui.bridge import WorkerBridge
from player.ui.items import RenderContext
from player.ui.window import PlayerWindow

logging.basicConfig(level=logging.INFO)
app = QApplication([])
old, new = app.screens()  # HDMI-1 (primary, the one that "comes back") and HDMI-2 (where the window was left)
ctx = RenderContext(clock=FakeClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC)), timezone=ZoneInfo("Europe/Berlin"),
                    resolve_media=lambda _r: None, bridge=WorkerBridge())
window = PlayerWindow(ctx, branding={}, kiosk=True)
window.setGeometry(new.geometry())
window.show()
window.windowHandle().setScreen(new)
window.follow_screen()
doc = {"version": 1, "layouts": {"main": {"width": 1920, "height": 1080, "zones": [
    {"id": "main", "x": 0, "y": 0, "width": 1920, "height": 1080, "items": [{"type": "text", "text": "Hallo"}]}]}}}
window.show_screen(load_screen_dict(doc, "s.json").screen, lambda _r: None)
while window.main is None:
    app.processEvents()
before = {"screen": window.windowHandle().screen().name(), "width": window.main.width()}
first = window.main
app.screenAdded.emit(old)
deadline = time.monotonic() + 20  # only so that a broken follower ends the script instead of hanging it
while (window.main is None or window.main is first) and time.monotonic() < deadline:
    app.processEvents()
print(json.dumps({"before": before, "screen": window.windowHandle().screen().name(),
                  "geometry": window.geometry().getRect(), "full": window.isFullScreen(),
                  "stage": window.main.geometry().getRect()}))
window._allow_close = True
"""


def test_the_window_moves_to_the_primary_screen_when_it_comes_back(tmp_path: Path) -> None:
    """Two screens (Qt's offscreen platform with a screen configuration): the window was left on HDMI-2; the primary
    HDMI-1 is announced as added: the player moves there, full screen, laid out for 800x600."""
    config = tmp_path / "screens.json"
    config.write_text(json.dumps({"screens": [{"name": "HDMI-1", "x": 0, "y": 0, "width": 800, "height": 600},
                                              {"name": "HDMI-2", "x": 800, "y": 0, "width": 1024, "height": 768}]}))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["before"] == {"screen": "HDMI-2", "width": 1024}
    assert result["screen"] == "HDMI-1" and result["full"]
    assert result["geometry"] == [0, 0, 800, 600]
    assert result["stage"] == [0, 75, 800, 450]  # 16:9 content letterboxed on 800x600
    assert "showing the player on the primary screen HDMI-1 again" in done.stderr
