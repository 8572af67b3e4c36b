"""EventList: what is on today and later this week (local time), with time, name and place."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QFont, QFontMetrics

from player.feeds.events import EventItem, Events
from player.ui.widgets.base import LEFT, Canvas, LiveWidget
from player.ui.widgets.strings import weekday

MAX_ROWS_CONSIDERED = 200


class EventList(LiveWidget):
    value_types = (Events,)

    def sections(self, now: datetime) -> list[tuple[str, list[EventItem]]]:
        """[(label, events)] for the configured range: `today`, `week` or `both` (default)."""
        events = self.value
        if events is None:
            return []
        tz = self.ctx.timezone
        which = self.options.get("range", "both")
        today = list(events.today(now, tz)[:MAX_ROWS_CONSIDERED])
        if which == "today":
            return [(self.t("events_today"), today)] if today else []
        week = [e for e in events.this_week(now, tz)[:MAX_ROWS_CONSIDERED] if e not in today]
        if which == "week":
            week = list(events.this_week(now, tz)[:MAX_ROWS_CONSIDERED])
            return [(self.t("events_week"), week)] if week else []
        out = []
        if today:
            out.append((self.t("events_today"), today))
        if week:
            out.append((self.t("events_week"), week))
        return out

    def event_when(self, event: EventItem, now: datetime, today: bool) -> str:
        tz = self.ctx.timezone
        start = event.start.astimezone(tz)
        if event.end is not None and event.end - event.start >= timedelta(hours=20):
            label = self.t("events_all_day")
            return label if today else f"{weekday(start.weekday(), self.ctx.locale)} {label}"
        if today:
            return f"{start:%H:%M}"
        return f"{weekday(start.weekday(), self.ctx.locale)} {start:%H:%M}"

    def next_change(self, now: datetime) -> datetime | None:
        soonest = super().next_change(now)
        local = now.astimezone(self.ctx.timezone)
        candidates = [datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=self.ctx.timezone)]
        for _, items in self.sections(now):
            for e in items[:20]:
                candidates.append(e.end or e.start)
        for when in candidates:
            if when > now and (soonest is None or when < soonest):
                soonest = when
        return soonest

    def paint_content(self, c: Canvas, now: datetime) -> None:
        u, body = self.titled(c, now, "events_title")
        sections = self.sections(now)
        if not sections:
            self.placeholder(c, body, self.t("events_empty"), u)
            return
        label_font = self.sized_font(0.8 * u, bold=True)
        name_font = self.sized_font(u, bold=True)
        time_font = self.sized_font(0.9 * u)
        meta_font = self.sized_font(0.72 * u)
        lm, nm, mm = QFontMetrics(label_font), QFontMetrics(name_font), QFontMetrics(meta_font)
        time_w = max(QFontMetrics(time_font).horizontalAdvance(f"{weekday(d, self.ctx.locale)} 88:88")
                     for d in range(7)) + round(0.6 * u)
        narrow = body.width() - time_w < 11 * u
        row_h = nm.height() + mm.height() + round(0.35 * u)
        y = body.top()
        for si, (label, items) in enumerate(sections):
            if y + lm.height() + row_h > body.bottom() + 1:
                break
            if si:
                y += round(0.3 * u)
            c.line(QRect(body.left(), y, body.width(), lm.height()), label.upper(), label_font, self.accent)
            y += lm.height() + round(0.2 * u)
            for event in items:
                if y + row_h > body.bottom() + 1:
                    break
                self._row(c, QRect(body.left(), y, body.width(), row_h), event, now, si == 0 and label ==
                          self.t("events_today"), time_w, narrow, (name_font, time_font, meta_font))
                y += row_h

    def _row(self, c: Canvas, row: QRect, event: EventItem, now: datetime, today: bool, time_w: int, narrow: bool,
             fonts: tuple[QFont, QFont, QFont]) -> None:
        name_font, time_font, meta_font = fonts
        nm, mm = QFontMetrics(name_font), QFontMetrics(meta_font)
        when = self.event_when(event, now, today)
        if event.cancelled:
            name_font = QFont(name_font)
            name_font.setStrikeOut(True)
        if narrow:  # name on the first line; time, then place, on the second
            text_left, y = row.left(), row.top()
        else:
            c.line(QRect(row.left(), row.top(), time_w - round(0.3 * nm.height()), nm.height()), when, time_font,
                   self.accent, LEFT)
            text_left, y = row.left() + time_w, row.top()
        width = row.right() + 1 - text_left
        c.line(QRect(text_left, y, width, nm.height()), event.name, name_font, self.muted if event.cancelled else self.fg)
        meta = " · ".join(p for p in (event.place, event.category) if p)
        x = text_left
        if narrow:
            used = c.line(QRect(x, y + nm.height(), width, mm.height()), when, self.sized_font(meta_font.pixelSize(),
                          bold=True), self.accent)
            x += used + mm.horizontalAdvance("  ")
        if event.cancelled and x < row.right():
            used = c.line(QRect(x, y + nm.height(), row.right() + 1 - x, mm.height()), self.t("events_cancelled"),
                          self.sized_font(meta_font.pixelSize(), bold=True), self.alert)
            x += used + mm.horizontalAdvance("  ")
        if meta and x < row.right():
            c.line(QRect(x, y + nm.height(), row.right() + 1 - x, mm.height()), meta, meta_font,
                   QColor(self.muted))
