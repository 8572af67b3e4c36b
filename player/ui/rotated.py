"""Rotation by the player itself, for screens whose display server cannot turn the output.

A portrait stele is often a landscape panel mounted on its side. The display server should turn the output
(``player/system/rotation.py``: xrandr, wlr-randr), so that every pixel is drawn once. Where it cannot (no xrandr, a
driver without rotation, a locked-down kiosk session), the player turns its own picture: the player window is put,
unchanged, into a graphics scene (``QGraphicsProxyWidget``) and a ``QGraphicsView`` covering the screen shows the
scene turned by 90, 180 or 270 degrees. Zones, widgets, the setup and error screens all turn with it.

The angle means what it means for the display server: ``90`` turns the picture a quarter counter-clockwise (xrandr
``--rotate left``), ``270`` a quarter clockwise (``right``), ``180`` upside down.

The price: every repaint goes through the scene, and VLC cannot draw into a turned window, so videos are decoded into
memory and painted by Qt (more CPU than VLC's own output). The demo with its ticker took 19 % of one core turned by
the player against 6 % turned by the display server (x86 VM, Xvfb): rotation by the display is the first choice.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QCursor, QKeyEvent, QPainter, QTransform
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsItem,
    QGraphicsProxyWidget,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

from player.ui.window import ScreenFollower

log = logging.getLogger(__name__)

ANGLES = (0, 90, 180, 270)


def logical_size(width: int, height: int, degrees: int) -> tuple[int, int]:
    """The size the content has when a screen of ``width`` x ``height`` device pixels is turned by ``degrees``."""
    return (height, width) if degrees in (90, 270) else (width, height)


def turn(degrees: int) -> QTransform:
    """Content coordinates to screen coordinates, before moving into view (counter-clockwise, like xrandr)."""
    return QTransform().rotate(-degrees)


class RotatedHost(QGraphicsView, ScreenFollower):
    """A top-level view that shows ``content`` (a top-level widget not shown yet) turned by ``degrees``."""

    def __init__(self, content: QWidget, degrees: int, kiosk: bool = True):
        if degrees not in ANGLES:
            raise ValueError(f"rotation {degrees} is not one of 0, 90, 180, 270")
        super().__init__()
        self.degrees = degrees
        self.content = content
        self.kiosk = kiosk
        self.setWindowTitle(content.windowTitle())
        scene = QGraphicsScene(self)
        scene.setBackgroundBrush(QBrush(QColor("#000000")))
        self.setScene(scene)
        self.proxy: QGraphicsProxyWidget = scene.addWidget(content, Qt.WindowType.Widget)
        self.proxy.setPos(0, 0)
        # Widgets repaint into an unturned picture of the content (fast paths, as without rotation); only the
        # changed part of it is then drawn turned. Measured on the demo (x86 VM, Xvfb): 19 % of one core with this
        # cache against 34 % without it, and 6 % when the display server turns the output.
        self.proxy.setCacheMode(QGraphicsItem.CacheMode.ItemCoordinateCache)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setTransform(turn(degrees))
        # quarter turns map pixels onto pixels: no smoothing needed; the content paints its own background
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        if kiosk:
            self.setWindowFlags(Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint)
            self.setCursor(QCursor(Qt.CursorShape.BlankCursor))
            self.viewport().setCursor(QCursor(Qt.CursorShape.BlankCursor))
        self.proxy.setFocus()

    # ------------------------------------------------------------------------------------------ geometry
    def resizeEvent(self, event: object) -> None:  # noqa: N802
        super().resizeEvent(event)  # type: ignore[arg-type]
        w, h = logical_size(self.viewport().width(), self.viewport().height(), self.degrees)
        if (self.content.width(), self.content.height()) != (w, h):
            log.info("player rotation %d°: content %dx%d on a %dx%d screen", self.degrees, w, h,
                     self.viewport().width(), self.viewport().height())
            self.proxy.resize(w, h)
        self.setSceneRect(QRectF(0, 0, w, h))
        self.centerOn(w / 2, h / 2)

    # ------------------------------------------------------------------------------------------ input
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        # the content decides (maintenance chord, Esc when windowed); nothing scrolls the view
        self.content.keyPressEvent(event)  # type: ignore[attr-defined]
        if not self.content.isVisible():  # the content closed itself (maintenance chord)
            self.close()

    def closeEvent(self, event) -> None:  # noqa: ANN001, N802
        # the content's rules (kiosk: only the maintenance chord) decide whether the player may close
        if self.content.close():
            event.accept()
        else:
            event.ignore()

    def wheelEvent(self, event) -> None:  # noqa: ANN001, N802
        event.ignore()
