"""HDMI hotplug and mode changes: a kiosk window follows its screen's new geometry and lays the content out again."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from PySide6.QtCore import QRect

from player.clock import FakeClock
from player.layouts import load_screen_dict
from player.ui.bridge import WorkerBridge
from player.ui.items import RenderContext
from player.ui.window import PlayerWindow
from screens import one_zone


def test_kiosk_window_follows_a_new_screen_geometry(qtbot) -> None:
    ctx = RenderContext(clock=FakeClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC)), timezone=ZoneInfo("Europe/Berlin"),
                        resolve_media=lambda _r: None, bridge=WorkerBridge())
    window = PlayerWindow(ctx, branding={}, kiosk=True)
    qtbot.addWidget(window)
    window.setGeometry(0, 0, 1280, 720)
    window.show()
    window.show_screen(load_screen_dict(one_zone([{"type": "text", "text": "Hallo"}], background="#336699"),
                                        "s.json").screen, lambda _r: None)
    qtbot.waitUntil(lambda: window.main is not None, timeout=3000)
    assert window.main.geometry() == QRect(0, 0, 1280, 720)
    before = window.main

    window._geometry_changed(QRect(0, 0, 1920, 1080))  # the TV came back in another mode
    qtbot.waitUntil(lambda: window.main is not None and window.main is not before, timeout=3000)
    assert window.geometry().size() == QRect(0, 0, 1920, 1080).size()
    assert window.main.geometry() == QRect(0, 0, 1920, 1080)  # content laid out for the new size
    img = window.grab().toImage()
    c = img.pixelColor(1900, 1060)
    assert (c.red(), c.green(), c.blue()) == (0x33, 0x66, 0x99)  # the layout fills the new screen

    window._geometry_changed(QRect(0, 0, 1080, 1920))  # turned to portrait: letterboxed, aspect kept
    qtbot.waitUntil(lambda: window.main is not None and window.main.geometry().width() == 1080, timeout=3000)
    assert window.main.geometry() == QRect(0, 656, 1080, 608)
    window._allow_close = True
