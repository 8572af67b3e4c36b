"""Rotation by the player itself: a portrait layout on a landscape panel mounted on its side."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QImage, QKeyEvent
from PySide6.QtWidgets import QWidget

from player.clock import FakeClock
from player.config import load_config
from player.layouts import load_screen_dict
from player.system.rotation import RotationError
from player.ui import app as app_module
from player.ui.bridge import WorkerBridge
from player.ui.items import RenderContext
from player.ui.rotated import RotatedHost, logical_size
from player.ui.window import PlayerWindow

RED, BLUE, GREY = (0xFF, 0, 0), (0, 0, 0xFF), (0x20, 0x20, 0x20)


def portrait_doc() -> dict[str, Any]:
    """1080x1920: a red band along the top, a blue square at the bottom-left corner."""
    return {"version": 1, "layouts": {"main": {"width": 1080, "height": 1920, "background": "#202020", "zones": [
        {"id": "top", "x": 0, "y": 0, "width": 1080, "height": 200, "background": "#ff0000", "items": []},
        {"id": "corner", "x": 0, "y": 1720, "width": 200, "height": 200, "background": "#0000ff", "items": []},
    ]}}}


def make_player(bridge: WorkerBridge) -> PlayerWindow:
    ctx = RenderContext(clock=FakeClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC)), timezone=ZoneInfo("Europe/Berlin"),
                        resolve_media=lambda _r: None, bridge=bridge)
    return PlayerWindow(ctx, branding={}, kiosk=False)


def rgb(img: QImage, x: int, y: int) -> tuple[int, int, int]:
    c = img.pixelColor(x, y)
    return (c.red(), c.green(), c.blue())


def shown(qtbot, degrees: int, size: tuple[int, int] = (1920, 1080)) -> tuple[RotatedHost, PlayerWindow]:
    window = make_player(WorkerBridge())
    host = RotatedHost(window, degrees, kiosk=False)
    qtbot.addWidget(host)
    host.resize(*size)
    host.show()
    window.show_screen(load_screen_dict(portrait_doc(), "s.json").screen, lambda _r: None)
    qtbot.waitUntil(lambda: window.main is not None and window.main.has_first_frame, timeout=3000)
    return host, window


def test_logical_size_swaps_for_quarter_turns(qtbot) -> None:
    assert logical_size(1920, 1080, 90) == (1080, 1920)
    assert logical_size(1920, 1080, 270) == (1080, 1920)
    assert logical_size(1920, 1080, 180) == (1920, 1080)
    with pytest.raises(ValueError):
        RotatedHost(QWidget(), 45)


@pytest.mark.parametrize(("degrees", "band", "corner", "not_band"), [
    # 90 = a quarter counter-clockwise, like xrandr --rotate left: the content's top edge is on the screen's left
    (90, (50, 540), (1850, 1030), (1850, 540)),
    # 270 = clockwise: the top edge is on the right, the content's bottom-left corner at the screen's top-left
    (270, (1870, 540), (50, 50), (50, 540)),
])
def test_quarter_turn_puts_the_portrait_layout_on_a_landscape_screen(qtbot, degrees, band, corner, not_band) -> None:
    host, window = shown(qtbot, degrees)
    assert (window.width(), window.height()) == (1080, 1920)  # the content is laid out in portrait
    assert window.main.geometry().size().toTuple() == (1080, 1920)  # no letterbox: the layout fills it
    img = host.grab().toImage()
    assert (img.width(), img.height()) == (1920, 1080)
    assert rgb(img, *band) == RED
    assert rgb(img, *corner) == BLUE
    assert rgb(img, *not_band) == GREY
    window._allow_close = True


def test_half_turn_is_upside_down(qtbot) -> None:
    host, window = shown(qtbot, 180, size=(1080, 1920))
    img = host.grab().toImage()
    assert rgb(img, 540, 1900) == RED  # the top band is at the bottom
    assert rgb(img, 1000, 50) == BLUE  # bottom-left corner -> top-right
    assert rgb(img, 540, 50) != RED
    window._allow_close = True


def test_maintenance_chord_closes_the_turned_player(qtbot) -> None:
    window = make_player(WorkerBridge())
    window.kiosk, window._allow_close = True, False
    host = RotatedHost(window, 90, kiosk=False)
    qtbot.addWidget(host)
    host.resize(640, 360)
    host.show()
    assert not host.close()  # kiosk rules: a plain close is refused
    assert host.isVisible()
    mods = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.ShiftModifier
    host.keyPressEvent(QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Q, mods))
    assert not host.isVisible()


class FakeBridge(WorkerBridge):
    """Runs submitted work at once (the rotation decision), results delivered synchronously."""

    def submit(self, fn, on_done=None, on_error=None):  # noqa: ANN001, ANN201
        try:
            value = fn()
        except Exception as exc:  # noqa: BLE001
            if on_error is not None:
                on_error(exc)
            return
        if on_done is not None:
            on_done(value)


@pytest.mark.parametrize(("by", "display_ok", "expect_host"), [
    ("auto", False, True),  # the display server cannot turn: the player does
    ("auto", True, False),  # it can: the window is shown as it is
    ("display", False, False),  # told to leave it to the display: unturned, with an error line
    ("player", True, True),  # told to turn itself: the display server is not asked
])
def test_place_window_chooses_who_turns(qtbot, monkeypatch, caplog, tmp_path, by, display_ok, expect_host) -> None:
    asked: list[int] = []

    def rotate_display(degrees: int) -> str:
        asked.append(degrees)
        if not display_ok:
            raise RotationError("neither xrandr (X11) nor wlr-randr (Wayland) is available")
        return f"output HDMI-1 turned to {degrees}° (xrandr)"

    monkeypatch.setattr(app_module, "rotate_display", rotate_display)
    (tmp_path / "player.toml").write_text(f'[player]\nrotation = 90\nrotation_by = "{by}"\n')
    config = load_config(tmp_path / "player.toml", env={})
    assert not config.problems
    window = make_player(FakeBridge())
    monkeypatch.setattr(PlayerWindow, "follow_screen", lambda self: None)
    monkeypatch.setattr(RotatedHost, "follow_screen", lambda self: None)
    tops: list[QWidget] = []
    app_module.place_window(config, window, None, tops.append)
    assert len(tops) == 1
    qtbot.addWidget(tops[0])
    assert isinstance(tops[0], RotatedHost) is expect_host
    assert (window.ctx.extras.get("native_video", True) is False) is expect_host  # VLC cannot draw turned
    assert asked == ([] if by == "player" else [90])
    if by == "display":
        assert any("rotation 90°" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    window._allow_close = True
    tops[0].close()
