"""Weather panel: a drawn symbol, the temperature in large type, the other measured values with units."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QRect, QRectF
from PySide6.QtGui import QFontMetrics

from player.feeds.weather import WeatherReport, WeatherValue
from player.ui.widgets.base import LEFT, RIGHT, Canvas, LiveWidget, format_number
from player.ui.widgets.icons import draw_weather, weather_symbol

TEMPERATURE = "lufttemperatur"
SHORT_NAMES = {  # shorter labels for narrow zones (the hub's names are long)
    "relative_luftfeuchte": "Luftfeuchte",
    "niederschlagsintensitaet": "Niederschlag",
    "realtiver_luftdruck": "Luftdruck",
    "relativer_luftdruck": "Luftdruck",
}


class WeatherPanel(LiveWidget):
    value_types = (WeatherReport,)

    def symbol(self, report: WeatherReport, now: datetime) -> str:
        def num(key: str) -> float | None:
            v = report.get(key)
            return v.value if v is not None else None

        hour = now.astimezone(self.ctx.timezone).hour
        radiation = num("globalstrahlung")
        night = (radiation is not None and radiation < 5) or (radiation is None and not 7 <= hour < 18)
        return weather_symbol(num(TEMPERATURE), num("niederschlagsintensitaet"), radiation, night)

    def value_text(self, v: WeatherValue) -> str:
        number = format_number(v.value, self.ctx.locale)
        return f"{number}°" if v.unit == "°" else f"{number} {v.unit}".strip()

    def label(self, v: WeatherValue) -> str:
        if self.ctx.locale.startswith("de"):
            return SHORT_NAMES.get(v.key, v.name)
        return v.name

    def paint_content(self, c: Canvas, now: datetime) -> None:
        u = self.unit(rows_hint=11, cols_hint=12, lo=18, hi=56)
        rect = self.content_rect(u)
        report = self.value
        title = self.options.get("title") if isinstance(self.options.get("title"), str) else None
        if title is None:
            title = self.t("weather_title")
            if report is not None and report.station:
                full = f"{title} · {report.station}"
                if QFontMetrics(self.sized_font(1.05 * u, bold=True)).horizontalAdvance(full) <= rect.width():
                    title = full  # the station only when it fits: "Wetter · Rathauspl…" helps nobody
        top = rect.top() + self.header(c, rect, title, now, u)
        body = QRect(rect.left(), top, rect.width(), rect.bottom() + 1 - top)
        if report is None or not report.values:
            self.placeholder(c, body, self.t("weather_empty"), u)
            return
        temp = report.get(TEMPERATURE)
        others = [v for v in report.values if v.key != TEMPERATURE][:20]
        side_by_side = body.width() >= body.height() * 2 and body.width() * 0.55 >= 12 * u
        if side_by_side:
            hero = QRect(body.left(), body.top(), body.width() * 45 // 100, body.height())
            rest = QRect(hero.right() + 1 + u, body.top(), body.right() - hero.right() - u, body.height())
        else:
            hero_h = min(body.height() * 2 // 5, round(body.width() * 0.42))
            hero = QRect(body.left(), body.top(), body.width(), hero_h)
            rest = QRect(body.left(), hero.bottom() + 1 + round(0.5 * u), body.width(),
                         body.bottom() - hero.bottom() - round(0.5 * u))
        self._hero(c, hero, report, temp, now, u)
        self._values(c, rest, others, u)

    def _hero(self, c: Canvas, box: QRect, report: WeatherReport, temp: WeatherValue | None, now: datetime,
              u: int) -> None:
        icon_side = min(box.height(), box.width() * 2 // 5)
        icon = QRectF(box.left(), box.top() + (box.height() - icon_side) / 2, icon_side, icon_side)
        draw_weather(c.p, icon, self.symbol(report, now))
        if temp is None:
            return
        text = self.value_text(temp)
        area = QRect(box.left() + icon_side + round(0.3 * u), box.top(), 0, box.height())
        area.setWidth(max(0, box.right() + 1 - area.left()))
        size = min(box.height() * 0.62, 3.4 * u)
        font = self.sized_font(size, bold=True)
        while size > 8 and QFontMetrics(font).horizontalAdvance(text) > area.width():
            size *= 0.9
            font = self.sized_font(size, bold=True)
        c.line(area, text, font, self.fg, LEFT)

    def _values(self, c: Canvas, box: QRect, values: list[WeatherValue], u: int) -> None:
        row_h = round(1.5 * u)
        font = self.sized_font(0.9 * u)
        bold = self.sized_font(0.9 * u, bold=True)
        y = box.top()
        for v in values:
            if y + row_h > box.bottom() + 1:
                break
            value = self.value_text(v)
            value_w = min(box.width() * 3 // 5, QFontMetrics(bold).horizontalAdvance(value) + 2)
            c.line(QRect(box.right() + 1 - value_w, y, value_w, row_h), value, bold, self.fg, RIGHT)
            c.line(QRect(box.left(), y, max(0, box.width() - value_w - round(0.4 * u)), row_h), self.label(v),
                   font, self.muted)
            y += row_h
