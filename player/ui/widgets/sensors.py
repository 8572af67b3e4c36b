"""SensorPanel: environment readings grouped by station (name on the left, value and unit on the right)."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QRect
from PySide6.QtGui import QFontMetrics

from player.feeds.sensors import SensorReading, SensorReadings
from player.ui.widgets.base import RIGHT, Canvas, LiveWidget, format_number

MAX_READINGS = 400


class SensorPanel(LiveWidget):
    value_types = (SensorReadings,)

    def groups(self) -> list[tuple[str, list[SensorReading]]]:
        value = self.value
        if value is None:
            return []
        wanted = self.options.get("stations")
        out: dict[str, list[SensorReading]] = {}
        for reading in value.readings[:MAX_READINGS]:
            if isinstance(wanted, list) and wanted and reading.station not in wanted:
                continue
            out.setdefault(reading.station, []).append(reading)
        return list(out.items())

    def value_text(self, r: SensorReading) -> str:
        number = format_number(r.value, self.ctx.locale)
        return f"{number} {r.unit}".strip()

    def paint_content(self, c: Canvas, now: datetime) -> None:
        u, body = self.titled(c, now, "sensors_title", rows_hint=13, cols_hint=13, lo=18, hi=52)
        groups = self.groups()
        if not groups:
            self.placeholder(c, body, self.t("sensors_empty"), u)
            return
        label_font = self.sized_font(0.8 * u, bold=True)
        name_font = self.sized_font(0.9 * u)
        value_font = self.sized_font(0.95 * u, bold=True)
        lm = QFontMetrics(label_font)
        vm = QFontMetrics(value_font)
        row_h = round(1.45 * u)
        y = body.top()
        show_station = len(groups) > 1 or bool(groups[0][0])
        for gi, (station, readings) in enumerate(groups):
            head = (lm.height() + round(0.2 * u)) if show_station and station else 0
            gap = round(0.4 * u) if gi else 0
            if y + gap + head + row_h > body.bottom() + 1:
                break
            y += gap
            if head:
                c.line(QRect(body.left(), y, body.width(), lm.height()), station.upper(), label_font, self.accent)
                y += head
            for reading in readings:
                if y + row_h > body.bottom() + 1:
                    break
                value = self.value_text(reading)
                value_w = min(body.width() * 3 // 5, vm.horizontalAdvance(value) + 2)
                c.line(QRect(body.right() + 1 - value_w, y, value_w, row_h), value, value_font, self.fg, RIGHT)
                c.line(QRect(body.left(), y, max(0, body.width() - value_w - round(0.4 * u)), row_h), reading.name,
                       name_font, self.muted)
                y += row_h
