"""TwinMessageList: the newest digital-twin messages (feed type `twin`), widget kind `twin_messages`.

Two forms, by option `style` ("list", "strip") or, by default, by the zone's shape (a flat band is a strip, as in
the old client's header):
- list: per message a meta line (type · time), the title (bold, up to `title_lines`) and, where there is room,
  the message text (up to `text_lines`); as many messages as fit, newest first.
- strip: the messages side by side in columns, each a meta line and a one-line title.
A message of severity `high` gets a tinted box, a bar in the alert colour and a "Wichtig" badge in front of its meta
line, so it reads as important from a few metres without relying on colour alone. Options: `title`, `max_items`
(default 3), `title_lines` (2), `text_lines` (auto), `show_text` (true), plus the common `color`, `accent`, `alert`,
`background`, `font_size`, `header`.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPen

from player.feeds.twin import TwinMessage, TwinMessages
from player.ui.widgets.base import CENTER, LEFT, Canvas, LiveWidget, readable_on, wrap_lines

MAX_SHOWN = 12


class TwinMessageList(LiveWidget):
    value_types = (TwinMessages,)

    # ------------------------------------------------------------------------------------------------ data
    def messages(self) -> list[TwinMessage]:
        value = self.value
        if value is None:
            return []
        limit = self.options.get("max_items", 3)
        limit = limit if isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= MAX_SHOWN else 3
        return [m for m in value.items[:MAX_SHOWN] if m.title or m.text][:limit]

    def meta(self, m: TwinMessage, now: datetime) -> str:
        return " · ".join(t for t in (self.t("twin_type_" + m.event_type), self.when(m.shown_at, now)) if t)

    @staticmethod
    def headline(m: TwinMessage) -> tuple[str, str]:
        """(title, text): a message without a title shows its text's first paragraph as the title."""
        if m.title:
            return m.title, m.text
        first, _, rest = m.text.partition("\n")
        return first, rest

    def next_change(self, now: datetime) -> datetime | None:
        soonest = super().next_change(now)
        if not self.messages():
            return soonest
        local = now.astimezone(self.ctx.timezone)  # "Heute" becomes "Gestern" at midnight
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=self.ctx.timezone)
        return midnight if soonest is None or midnight < soonest else soonest

    def is_strip(self) -> bool:
        style = self.options.get("style")
        if style in ("list", "strip"):
            return style == "strip"
        cw, ch = self.canvas_size()
        return cw >= 4.5 * ch or (ch <= 200 and cw >= 3 * ch)

    # ------------------------------------------------------------------------------------------------ paint
    def paint_content(self, c: Canvas, now: datetime) -> None:
        if self.is_strip():
            self._strip(c, now)
        else:
            self._list(c, now)

    def badge(self, c: Canvas, x: int, y: int, h: int, font: QFont, max_w: int) -> int:
        """The "Wichtig" badge (filled, alert colour) at (x, y); returns its width (0 when it does not fit)."""
        label = self.t("twin_high").upper()
        metrics = QFontMetrics(font)
        pad = max(2, metrics.height() // 4)
        w = metrics.horizontalAdvance(label) + 2 * pad + 2  # +2: elision must never cut the word
        if w > max_w or h <= 0:
            return 0
        fill = self.alert
        self.draw_box(c.p, QRect(x, y, w, h), fill, max(2, h // 5))
        c.line(QRect(x + pad, y, w - 2 * pad, h), label, font, readable_on(fill), CENTER)
        return w

    def mark_high(self, c: Canvas, box: QRect, u: int) -> int:
        """Tinted box and a bar on the left for a high-severity message; returns the text indent."""
        tint = QColor(self.alert)
        tint.setAlphaF(0.2)
        self.draw_box(c.p, box, tint, max(2, u // 4))
        bar = max(3, round(0.22 * u))
        self.draw_box(c.p, QRect(box.left(), box.top(), bar, box.height()), self.alert, max(1, bar // 2))
        return bar + max(4, round(0.45 * u))

    def _list(self, c: Canvas, now: datetime) -> None:
        u, body = self.titled(c, now, "twin_title")
        messages = self.messages()
        if not messages:
            self.placeholder(c, body, self.t("twin_empty"), u)
            return
        title_font, meta_font, text_font = self.sized_font(u, bold=True), self.sized_font(0.72 * u), self.sized_font(0.85 * u)
        badge_font = self.sized_font(0.62 * u, bold=True)
        tm, mm, xm = QFontMetrics(title_font), QFontMetrics(meta_font), QFontMetrics(text_font)
        title_lines = self.options.get("title_lines", 2)
        title_lines = title_lines if isinstance(title_lines, int) and 1 <= title_lines <= 6 else 2
        text_lines = self.options.get("text_lines")
        if not isinstance(text_lines, int) or isinstance(text_lines, bool) or not 0 <= text_lines <= 20:
            text_lines = 4 if body.height() >= 30 * u else 2 if body.height() >= 12 * u else 0
        if self.options.get("show_text") is False:
            text_lines = 0
        gap = round(0.6 * u)
        inset = round(0.3 * u)  # room inside a high-severity box
        sep = QColor(self.fg)
        sep.setAlphaF(0.18)
        y = body.top()
        for n, m in enumerate(messages):
            head, text = self.headline(m)
            indent = (max(3, round(0.22 * u)) + max(4, round(0.45 * u))) if m.high else 0
            width = body.width() - indent - (inset if m.high else 0)
            if width <= 0:
                break
            lines = wrap_lines(head, tm, width, title_lines)
            excerpt = wrap_lines(text, xm, width, text_lines) if text_lines and text else []
            pad = inset if m.high else 0
            need = 2 * pad + mm.height() + len(lines) * tm.height() + len(excerpt) * xm.height()
            room = body.bottom() + 1 - y
            if need > room:
                while excerpt and need > room:  # drop text lines first, then title lines
                    excerpt.pop()
                    need -= xm.height()
                if need > room and n == 0:
                    while len(lines) > 1 and need > room:
                        lines.pop()
                        need -= tm.height()
                    if lines:
                        lines[-1] = tm.elidedText(lines[-1] + " …", Qt.TextElideMode.ElideRight, width)
                if need > room:
                    if n == 0:  # not even a shortened entry fits: its title alone, as far as there is room
                        c.wrapped(QRect(body.left(), y, body.width(), room), head, title_font, self.fg, title_lines)
                    break
            if m.high:
                indent = self.mark_high(c, QRect(body.left(), y, body.width(), need), u)
            x = body.left() + indent
            y += pad
            bw = self.badge(c, x, y, mm.height(), badge_font, width // 2) if m.high else 0
            shift = bw + (round(0.3 * u) if bw else 0)
            c.line(QRect(x + shift, y, width - shift, mm.height()), self.meta(m, now), meta_font, self.accent)
            y += mm.height()
            for line in lines:
                c.line(QRect(x, y, width, tm.height()), line, title_font, self.fg)
                y += tm.height()
            for line in excerpt:
                c.line(QRect(x, y, width, xm.height()), line, text_font, self.muted)
                y += xm.height()
            y += pad + gap // 2
            if n < len(messages) - 1 and y + gap // 2 < body.bottom():
                c.hline(body.left(), body.right(), y, sep, 1)
            y += gap - gap // 2

    def _strip(self, c: Canvas, now: datetime) -> None:
        h = self.height()
        pad = max(self.ctx.px(10), round(h * 0.1))
        inner = self.rect().adjusted(pad, pad // 2, -pad, -pad // 2)
        messages = self.messages()
        stale = self.stale_text(now)
        small = self.sized_font(max(8, round(inner.height() * 0.26)))
        if stale:
            sw = min(inner.width() // 4, QFontMetrics(small).horizontalAdvance(stale) + 2)
            c.line(QRect(inner.right() + 1 - sw, inner.top(), sw, QFontMetrics(small).height()), stale, small,
                   self.accent, LEFT)
            inner.setRight(inner.right() - sw - pad)
        if not messages:
            u = max(8, min(round(h * 0.3), self.unit()))
            self.placeholder(c, inner, self.t("twin_empty"), u)
            return
        gap = 2 * pad
        title_px = max(8, round(inner.height() * 0.34))
        count = len(messages)
        col_w = (inner.width() - gap * (count - 1)) // count
        min_w = max(200, 14 * title_px)  # room for a few words of a title; else fewer, wider columns
        while count > 1 and col_w < min_w:
            count -= 1
            col_w = (inner.width() - gap * (count - 1)) // count
        meta_font = self.sized_font(max(8, round(inner.height() * 0.22)))
        title_font = self.sized_font(title_px, bold=True)
        badge_font = self.sized_font(max(7, round(inner.height() * 0.18)), bold=True)
        mm, tm = QFontMetrics(meta_font), QFontMetrics(title_font)
        two_rows = mm.height() + tm.height() <= inner.height()
        sep = QColor(self.fg)
        sep.setAlphaF(0.25)
        for i, m in enumerate(messages[:count]):
            x = inner.left() + i * (col_w + gap)
            col = QRect(x, inner.top(), col_w, inner.height())
            head, _ = self.headline(m)
            if m.high:
                u = max(8, round(inner.height() * 0.3))
                indent = self.mark_high(c, col.adjusted(-pad // 3, -pad // 3, pad // 3, pad // 3), u)
                col.setLeft(col.left() + indent - pad // 3)
            if two_rows:
                top = col.top() + (col.height() - mm.height() - tm.height()) // 2
                bw = self.badge(c, col.left(), top, mm.height(), badge_font, col.width() // 2) if m.high else 0
                shift = bw + (pad // 2 if bw else 0)
                c.line(QRect(col.left() + shift, top, col.width() - shift, mm.height()), self.meta(m, now),
                       meta_font, self.accent)
                c.line(QRect(col.left(), top + mm.height(), col.width(), tm.height()), head, title_font, self.fg)
            else:
                line_h = min(col.height(), tm.height())
                top = col.top() + (col.height() - line_h) // 2
                bw = self.badge(c, col.left(), top, line_h, badge_font, col.width() // 3) if m.high else 0
                shift = bw + (pad // 2 if bw else 0)
                c.line(QRect(col.left() + shift, top, col.width() - shift, line_h), head, title_font, self.fg)
            if i < count - 1:
                sx = x + col_w + gap // 2
                c.p.setPen(QPen(sep, 1))  # a vertical rule between columns
                c.p.drawLine(sx, inner.top(), sx, inner.bottom())
