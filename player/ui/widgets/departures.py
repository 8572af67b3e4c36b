"""DepartureBoard: the next departures at a stop, counting down locally between polls.

Each row: line badge, destination, planned time, real-time delay ("+3"), minutes to go ("in 4 min", "jetzt");
cancelled trips say "fällt aus" with destination and time struck through. Wide zones get one line per departure,
narrow ones (a side column, a portrait stele) two. The board repaints only when a countdown text changes (at most
a few times a minute), never per frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QFont, QFontMetrics

from player.feeds.departures import Departure, Departures
from player.ui.widgets.base import (
    CENTER,
    LEFT,
    RIGHT,
    Canvas,
    LiveWidget,
    badge_color,
    local_hhmm,
    readable_on,
)

GONE_AFTER = timedelta(seconds=60)  # a departure leaves the board one minute after its expected time
COUNTDOWN_MAX_MIN = 60  # beyond this, the planned time says enough


@dataclass(frozen=True)
class RowText:
    line: str
    destination: str
    time: str
    delay: str
    countdown: str
    cancelled: bool


class DepartureBoard(LiveWidget):
    value_types = (Departures,)
    shown_rows = 0  # rows the last paint showed (the countdown timer only looks at those)
    row_geometry = (0, 0, 0)  # (top, row height, bottom) of the rows in the last paint

    def visible(self, now: datetime) -> list[Departure]:
        value = self.value
        if value is None:
            return []
        out = []
        for dep in value.departures[:500]:
            if dep.expected + GONE_AFTER <= now:
                continue
            out.append(dep)
        return out

    def countdown(self, dep: Departure, now: datetime) -> str:
        if dep.cancelled:
            return self.t("departures_cancelled")
        minutes = math.floor((dep.expected - now).total_seconds() / 60)
        limit = self.options.get("countdown_max_min", COUNTDOWN_MAX_MIN)
        if minutes < 1:
            return self.t("departures_now")
        if isinstance(limit, int | float) and minutes > limit:
            return ""
        return self.t("departures_in_min", n=minutes)

    def row_text(self, dep: Departure, now: datetime) -> RowText:
        delay = dep.delay_min
        delay_text = "" if delay is None or delay == 0 or dep.cancelled else f"{delay:+d}"
        return RowText(line=dep.line, destination=dep.destination, time=local_hhmm(dep.planned, self.ctx),
                       delay=delay_text, countdown=self.countdown(dep, now), cancelled=dep.cancelled)

    def row_texts(self, now: datetime | None = None) -> list[RowText]:
        """What the rows say at *now* (all visible departures; the painted board shows as many as fit)."""
        when = now or self.ctx.clock.now()
        return [self.row_text(d, when) for d in self.visible(when)]

    def next_change(self, now: datetime) -> datetime | None:
        """The next instant a countdown text changes (a departure's minute turns over) or the value goes stale."""
        soonest = super().next_change(now)
        for dep in self.visible(now)[: self.shown_rows or 40]:
            if dep.cancelled:
                candidate = dep.expected + GONE_AFTER
            else:
                secs = (dep.expected - now).total_seconds()
                into = secs % 60.0
                candidate = now + timedelta(seconds=into if into > 0.001 else 60.0)
            if soonest is None or candidate < soonest:
                soonest = candidate
        return soonest

    # --------------------------------------------------------------------------------------------- painting
    def layout_unit(self) -> int:
        return self.unit(rows_hint=18, cols_hint=12.5, lo=18, hi=56)

    def paint_content(self, c: Canvas, now: datetime) -> None:
        u = self.layout_unit()
        rect = self.content_rect(u)
        value = self.value
        title = self.options.get("title") if isinstance(self.options.get("title"), str) else None
        title = title or (value.stop_name if value is not None and value.stop_name else self.t("departures_title"))
        top = rect.top() + self.header(c, rect, title, now, u)
        body = QRect(rect.left(), top, rect.width(), rect.bottom() + 1 - top)
        deps = self.visible(now)
        if not deps:
            self.shown_rows = 0
            self.placeholder(c, body, self.t("departures_empty"), u)
            return
        wide = self._wide_columns(body.width(), u)
        row_h = round(1.6 * u) if wide is not None else round(2.7 * u)
        limit = self.options.get("max_rows")
        n = max(0, body.height() // max(1, row_h))
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
            n = min(n, limit)
        rows = deps[:n]
        self.shown_rows = len(rows)
        self.row_geometry = (body.top(), row_h, body.bottom())
        sep = QColor(self.fg)
        sep.setAlphaF(0.18)
        for i, dep in enumerate(rows):
            row = QRect(body.left(), body.top() + i * row_h, body.width(), row_h)
            text = self.row_text(dep, now)
            if wide is not None:
                self._wide_row(c, row, text, u, wide)
            else:
                self._narrow_row(c, row, text, u, dep)
            if i < len(rows) - 1:
                c.hline(row.left(), row.right(), row.bottom(), sep, 1)

    def _badge(self, c: Canvas, rect: QRect, line: str, u: int) -> None:
        color = badge_color(line, self.options)
        self.draw_box(c.p, rect, color, 0.18 * u)
        inner = rect.adjusted(round(0.15 * u), 0, -round(0.15 * u), 0)
        c.line(inner, line, self.sized_font(0.8 * u, bold=True), readable_on(color), CENTER)

    def _badge_width(self, line: str, u: int) -> int:
        natural = QFontMetrics(self.sized_font(0.8 * u, bold=True)).horizontalAdvance(line) + round(0.5 * u)
        return max(round(2.2 * u), min(round(3.6 * u), natural))

    def _wide_columns(self, width: int, u: int) -> tuple[int, int, int] | None:
        """(time, delay, countdown) column widths when one line per departure leaves the destination enough
        room; None: use two lines per departure."""
        if self.options.get("rows") == "two":
            return None
        big = QFontMetrics(self.sized_font(u))
        bold = QFontMetrics(self.sized_font(u, bold=True))
        time_w = big.horizontalAdvance("88:88") + 2
        delay_w = big.horizontalAdvance("+88") + 2
        count_w = max(bold.horizontalAdvance(self.t("departures_in_min", n=88)),
                      bold.horizontalAdvance(self.t("departures_cancelled"))) + 2
        fixed = round(3.6 * u) + time_w + delay_w + count_w + round(2.0 * u)
        if self.options.get("rows") == "one" or width - fixed >= 8 * u:
            return time_w, delay_w, count_w
        return None

    def _wide_row(self, c: Canvas, row: QRect, text: RowText, u: int, cols: tuple[int, int, int]) -> None:
        time_w, delay_w, count_w = cols
        gap = round(0.4 * u)
        badge_h = round(1.15 * u)
        badge = QRect(row.left(), row.top() + (row.height() - badge_h) // 2, self._badge_width(text.line, u), badge_h)
        self._badge(c, badge, text.line, u)
        right = row.right() + 1
        count = QRect(right - count_w, row.top(), count_w, row.height())
        delay = QRect(count.left() - gap - delay_w, row.top(), delay_w, row.height())
        time_ = QRect(delay.left() - round(0.2 * u) - time_w, row.top(), time_w, row.height())
        dest = QRect(badge.right() + 1 + round(0.5 * u), row.top(), 0, row.height())
        dest.setWidth(max(0, time_.left() - gap - dest.left()))
        main = self._struck(self.sized_font(u), text.cancelled)
        c.line(dest, text.destination, main, self.muted if text.cancelled else self.fg)
        c.line(time_, text.time, self._struck(self.sized_font(u), text.cancelled), self.muted, RIGHT)
        if text.delay:
            c.line(delay, text.delay, self.sized_font(u, bold=True), self._delay_color(text.delay), LEFT)
        c.line(count, text.countdown, self.sized_font(u, bold=True), self.alert if text.cancelled else self.accent, RIGHT)

    def _narrow_row(self, c: Canvas, row: QRect, text: RowText, u: int, dep: Departure) -> None:
        top_h = round(1.45 * u)
        badge_h = round(1.15 * u)
        badge = QRect(row.left(), row.top() + round(0.2 * u) + (top_h - badge_h) // 2,
                      self._badge_width(text.line, u), badge_h)
        self._badge(c, badge, text.line, u)
        first = QRect(badge.right() + 1 + round(0.45 * u), row.top() + round(0.2 * u), 0, top_h)
        first.setWidth(max(0, row.right() + 1 - first.left()))
        c.line(first, text.destination, self._struck(self.sized_font(u), text.cancelled),
               self.muted if text.cancelled else self.fg)
        second = QRect(first.left(), first.bottom() + 1, first.width(), row.bottom() - first.bottom() - round(0.1 * u))
        count_font = self.sized_font(0.95 * u, bold=True)
        small = self.sized_font(0.8 * u)
        time_w = QFontMetrics(small).horizontalAdvance(text.time) + 2
        # the countdown is what riders look for: it gets its full width, the planned time the rest
        count_w = min(max(0, second.width() - time_w - round(0.4 * u)),
                      QFontMetrics(count_font).horizontalAdvance(text.countdown) + 2)
        if text.countdown:
            c.line(QRect(second.right() + 1 - count_w, second.top(), count_w, second.height()), text.countdown,
                   count_font, self.alert if text.cancelled else self.accent, RIGHT)
        left = QRect(second.left(), second.top(), max(0, second.width() - count_w - round(0.4 * u)),
                     second.height())
        used = c.line(left, text.time, self._struck(small, text.cancelled), self.muted)
        x = left.left() + used + round(0.3 * u)
        if text.delay and x < left.right():
            used = c.line(QRect(x, left.top(), left.right() + 1 - x, left.height()), text.delay,
                          self.sized_font(0.8 * u, bold=True), self._delay_color(text.delay))
            x += used + round(0.3 * u)
        platform = self.t("departures_platform", p=dep.platform) if dep.platform else ""
        if (platform and self.options.get("platform", True) is not False
                and x + QFontMetrics(small).horizontalAdvance(platform) <= left.right() + 1):  # whole or not at all
            c.line(QRect(x, left.top(), left.right() + 1 - x, left.height()), platform, small, self.muted)

    def _struck(self, font: QFont, struck: bool) -> QFont:
        if not struck:
            return font
        copy = QFont(font)
        copy.setStrikeOut(True)
        return copy

    def _delay_color(self, delay: str) -> QColor:
        try:
            minutes = int(delay)
        except ValueError:
            return self.muted
        if minutes <= 0:
            return QColor("#7ddc7a")
        return self.alert if minutes >= 3 else QColor("#ffd27a")
