"""A layout on screen: its background and its zones, scaled from canvas pixels to device pixels."""

from __future__ import annotations

import logging
from dataclasses import replace

from PySide6.QtCore import QRect, QTimer, Signal
from PySide6.QtGui import QImage, QPainter, QRegion
from PySide6.QtWidgets import QWidget

from player.model import Fit, Layout
from player.ui.imaging import decode_for_zone
from player.ui.items import RenderContext, qcolor
from player.ui.zone import ZoneWidget

log = logging.getLogger(__name__)


def letterbox(canvas_w: int, canvas_h: int, avail_w: int, avail_h: int) -> tuple[float, QRect]:
    """Scale and placement of a canvas inside the available area, aspect kept, centred."""
    scale = min(avail_w / canvas_w, avail_h / canvas_h)
    w, h = round(canvas_w * scale), round(canvas_h * scale)
    return scale, QRect((avail_w - w) // 2, (avail_h - h) // 2, w, h)


class Stage(QWidget):
    """Shows one layout. ``first_frame`` is emitted once every zone shows its first item (or has none)."""

    first_frame = Signal()

    def __init__(self, layout: Layout, ctx: RenderContext, parent: QWidget, transparent: bool = False):
        super().__init__(parent)
        self.layout_model = layout
        self.base_ctx = ctx
        self.transparent = transparent
        self.zones: list[ZoneWidget] = []
        self._bg_image: QImage | None = None
        self._announced = False
        self._check = QTimer(self)
        self._check.setSingleShot(True)
        self._check.timeout.connect(self._check_first_frame)

    @property
    def name(self) -> str:
        return self.layout_model.name

    def build(self, area: QRect) -> None:
        """Places the stage in ``area`` (device px of the window) and creates the zones."""
        layout = self.layout_model
        scale, rect = letterbox(layout.width, layout.height, area.width(), area.height())
        rect.translate(area.topLeft())
        self.setGeometry(rect)
        ctx = replace(self.base_ctx, scale=scale)
        self.ctx = ctx
        for zone in sorted(layout.zones, key=lambda z: z.z):
            widget = ZoneWidget(zone, ctx, self)
            widget.setGeometry(round(zone.x * scale), round(zone.y * scale),
                               round(zone.width * scale), round(zone.height * scale))
            widget.item_started.connect(self._zone_progress)
            self.zones.append(widget)
        if self.transparent and not layout.background_image:
            # an overlay is only where its zones are: on X11 a layout is a native window (see
            # PlayerWindow.restack), and without this shape a full-screen overlay window would hide a video
            # playing below it everywhere, not just behind its banner
            region = QRegion()
            for widget in self.zones:
                region = region.united(QRegion(widget.geometry()))
            self.setMask(region if not region.isEmpty() else QRegion(0, 0, 1, 1))
        if layout.background_image:
            path = ctx.resolve_media(layout.background_image)
            if path is None:
                log.error("layout '%s': background image '%s' is not available; plain colour shown",
                          layout.name, layout.background_image)
            else:
                w, h = rect.width(), rect.height()
                ctx.bridge.submit(lambda: decode_for_zone(path, w, h, Fit.COVER), self._background_decoded,
                                  lambda exc: log.error("layout '%s': background image: %s", layout.name, exc))

    def video_surfaces(self) -> list[QWidget]:
        """Native windows VLC draws this layout's playing videos into (PlayerWindow.restack stacks them)."""
        out: list[QWidget] = []
        for zone in self.zones:
            for view in (zone.current, zone.pending):
                found = view.native_surface() if view is not None else None
                if found is not None:
                    out.append(found)
        return out

    def _background_decoded(self, image: QImage) -> None:
        self._bg_image = image
        self.update()

    def start(self) -> None:
        for zone in self.zones:
            zone.show()
            zone.start()
        self._check_first_frame()

    def stop(self) -> None:
        for zone in self.zones:
            zone.stop()

    def _zone_progress(self, *_args: object) -> None:
        if not self._announced:
            self._check_first_frame()

    def _check_first_frame(self) -> None:
        if self._announced:
            return
        if all(z.first_frame_ready() for z in self.zones):
            self._announced = True
            self.first_frame.emit()
        else:
            self._check.start(50)

    @property
    def has_first_frame(self) -> bool:
        return self._announced

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        if self.transparent and self._bg_image is None:
            return
        p = QPainter(self)
        if not self.transparent:
            p.fillRect(self.rect(), qcolor(self.layout_model.background))
        if self._bg_image is not None:
            p.drawImage(0, 0, self._bg_image)
        p.end()
