"""Simple weather and warning symbols drawn with QPainter (no icon files, no third-party artwork)."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPolygonF

SUN = QColor("#ffc629")
CLOUD = QColor("#e8eef5")
CLOUD_DARK = QColor("#aeb9c6")
RAIN = QColor("#5cb8ff")
SNOW = QColor("#ffffff")
MOON = QColor("#f3e9b5")


def _sun(p: QPainter, cx: float, cy: float, r: float) -> None:
    p.setPen(QPen(SUN, max(1.0, r * 0.16), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    for i in range(8):
        a = i * math.pi / 4
        p.drawLine(QPointF(cx + math.cos(a) * r * 1.3, cy + math.sin(a) * r * 1.3),
                   QPointF(cx + math.cos(a) * r * 1.7, cy + math.sin(a) * r * 1.7))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(SUN)
    p.drawEllipse(QPointF(cx, cy), r, r)


def _cloud(p: QPainter, box: QRectF, color: QColor) -> None:
    x, y, w, h = box.x(), box.y(), box.width(), box.height()
    path = QPainterPath()
    path.addRoundedRect(QRectF(x, y + h * 0.45, w, h * 0.55), h * 0.27, h * 0.27)
    path.addEllipse(QRectF(x + w * 0.12, y + h * 0.18, w * 0.42, h * 0.7))
    path.addEllipse(QRectF(x + w * 0.36, y, w * 0.5, h * 0.85))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    p.drawPath(path.simplified())


def _moon(p: QPainter, cx: float, cy: float, r: float) -> None:
    outer = QPainterPath()
    outer.addEllipse(QPointF(cx, cy), r, r)
    bite = QPainterPath()
    bite.addEllipse(QPointF(cx + r * 0.55, cy - r * 0.35), r * 0.85, r * 0.85)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(MOON)
    p.drawPath(outer.subtracted(bite))


def weather_symbol(temperature: float | None, precipitation: float | None, radiation: float | None,
                   is_night: bool) -> str:
    """Which symbol fits the measured values: sun, partly, cloud, rain, snow, moon."""
    if precipitation is not None and precipitation >= 0.1:
        return "snow" if temperature is not None and temperature <= 0.5 else "rain"
    if is_night:
        return "moon"
    if radiation is None:
        return "partly"
    if radiation >= 350:
        return "sun"
    if radiation >= 100:
        return "partly"
    return "cloud"


def draw_weather(p: QPainter, rect: QRectF, symbol: str) -> None:
    """Draws *symbol* centred in the square that fits *rect*."""
    side = min(rect.width(), rect.height())
    if side < 4:
        return
    box = QRectF(rect.center().x() - side / 2, rect.center().y() - side / 2, side, side)
    x, y, s = box.x(), box.y(), side
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    if symbol == "sun":
        _sun(p, x + s / 2, y + s / 2, s * 0.24)
    elif symbol == "moon":
        _moon(p, x + s / 2, y + s / 2, s * 0.34)
    elif symbol == "partly":
        _sun(p, x + s * 0.36, y + s * 0.36, s * 0.17)
        _cloud(p, QRectF(x + s * 0.22, y + s * 0.42, s * 0.72, s * 0.4), CLOUD)
    elif symbol in ("rain", "snow"):
        _cloud(p, QRectF(x + s * 0.1, y + s * 0.14, s * 0.8, s * 0.46), CLOUD_DARK)
        if symbol == "rain":
            p.setPen(QPen(RAIN, max(1.0, s * 0.05), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            for i in range(4):
                cx = x + s * (0.26 + i * 0.16)
                p.drawLine(QPointF(cx, y + s * 0.68), QPointF(cx - s * 0.05, y + s * 0.84))
        else:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(SNOW)
            for i in range(4):
                cx = x + s * (0.26 + i * 0.16)
                cy = y + s * (0.72 if i % 2 else 0.8)
                p.drawEllipse(QPointF(cx, cy), s * 0.035, s * 0.035)
    else:  # cloud
        _cloud(p, QRectF(x + s * 0.1, y + s * 0.25, s * 0.8, s * 0.5), CLOUD)
    p.restore()


def draw_warning_triangle(p: QPainter, rect: QRectF, fill: QColor, mark: QColor) -> None:
    """A warning triangle with an exclamation mark, centred in *rect*."""
    side = min(rect.width(), rect.height() * 1.15)
    if side < 4:
        return
    h = side * 0.87
    cx, top = rect.center().x(), rect.center().y() - h / 2
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.setPen(QPen(fill, max(1.0, side * 0.06), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                  Qt.PenJoinStyle.RoundJoin))
    p.setBrush(fill)
    p.drawPolygon(QPolygonF([QPointF(cx, top), QPointF(cx + side / 2, top + h), QPointF(cx - side / 2, top + h)]))
    p.setPen(QPen(mark, max(1.0, side * 0.1), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.drawLine(QPointF(cx, top + h * 0.36), QPointF(cx, top + h * 0.68))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(mark)
    p.drawEllipse(QPointF(cx, top + h * 0.84), side * 0.055, side * 0.055)
    p.restore()
