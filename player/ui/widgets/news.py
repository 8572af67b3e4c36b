"""NewsList (titles with date and an optional excerpt) and NewsTicker (titles scrolling along a strip).

Both read press releases (PressReleases) or a generic JSON feed (GenericItems). The ticker measures its titles once
when the data changes and draws them on demand into narrow pixmaps (player/ui/strip.py); the strip moves in equal
whole-pixel steps (player/ui/scroller.py, as TickerView does): on an opaque background only the newly exposed column
is painted per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from player.feeds.generic import GenericItems
from player.feeds.press import PressReleases
from player.model import WidgetItem
from player.ui.items import RenderContext
from player.ui.scroller import StripScroller
from player.ui.strip import CHUNK_PX, TextStrip
from player.ui.widgets.base import CENTER, Canvas, LiveWidget, one_line, wrap_lines

MAX_ENTRIES = 200  # a feed with 10,000 items: only the first ones can ever be seen
MAX_TITLE_PX = 16_000  # one title is cut (with an ellipsis) at this width: two minutes at 120 px/s


@dataclass(frozen=True)
class NewsEntry:
    title: str
    text: str
    date: datetime | None


def news_entries(value: object) -> list[NewsEntry]:
    if isinstance(value, PressReleases):
        return [NewsEntry(i.title, i.text, i.date) for i in value.items[:MAX_ENTRIES]]
    if isinstance(value, GenericItems):
        out = []
        for i in value.items[:MAX_ENTRIES]:
            title = i.title or (i.text.split("\n")[0] if i.text else "")
            if title:
                out.append(NewsEntry(title, i.text if i.title else "", i.time))
        return out
    return []


class NewsList(LiveWidget):
    value_types = (PressReleases, GenericItems)

    def next_change(self, now: datetime) -> datetime | None:
        soonest = super().next_change(now)
        local = now.astimezone(self.ctx.timezone)  # "Heute" becomes "Gestern" at midnight
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=self.ctx.timezone)
        return midnight if soonest is None or midnight < soonest else soonest

    def paint_content(self, c: Canvas, now: datetime) -> None:
        u, body = self.titled(c, now, "news_title")
        entries = news_entries(self.value)
        if not entries:
            self.placeholder(c, body, self.t("news_empty"), u)
            return
        title_font = self.sized_font(u, bold=True)
        meta_font = self.sized_font(0.72 * u)
        text_font = self.sized_font(0.85 * u)
        tm, mm, xm = QFontMetrics(title_font), QFontMetrics(meta_font), QFontMetrics(text_font)
        title_lines = self.options.get("title_lines", 2)
        title_lines = title_lines if isinstance(title_lines, int) and 1 <= title_lines <= 6 else 2
        text_lines = self.options.get("text_lines")
        if not isinstance(text_lines, int) or not 0 <= text_lines <= 20:
            text_lines = 3 if body.height() >= 16 * u and body.width() >= 16 * u else 0
        gap = round(0.7 * u)
        sep = QColor(self.fg)
        sep.setAlphaF(0.18)
        y = body.top()
        for n, entry in enumerate(entries):
            lines = wrap_lines(entry.title, tm, body.width(), title_lines)
            meta = self.when(entry.date, now)
            excerpt = wrap_lines(entry.text, xm, body.width(), text_lines) if (text_lines and n == 0) else []
            need = len(lines) * tm.height() + (mm.height() if meta else 0) + len(excerpt) * xm.height()
            if y + need > body.bottom() + 1:
                if n == 0:  # not even one full entry fits: show its title, shortened to the room there is
                    c.wrapped(QRect(body.left(), y, body.width(), body.bottom() + 1 - y), entry.title, title_font,
                              self.fg, title_lines)
                break
            if meta:
                c.line(QRect(body.left(), y, body.width(), mm.height()), meta, meta_font, self.accent)
                y += mm.height()
            for line in lines:
                c.line(QRect(body.left(), y, body.width(), tm.height()), line, title_font, self.fg)
                y += tm.height()
            for line in excerpt:
                c.line(QRect(body.left(), y, body.width(), xm.height()), line, text_font, self.muted)
                y += xm.height()
            y += gap // 2
            if y + gap // 2 < body.bottom():
                c.hline(body.left(), body.right(), y, sep, 1)
            y += gap - gap // 2


class NewsTicker(LiveWidget):
    """Titles scrolling right to left. No per-frame allocation: the titles are measured once per data change and drawn
    in chunks as they come into view."""

    value_types = (PressReleases, GenericItems)

    def __init__(self, item: WidgetItem, ctx: RenderContext, parent: QWidget):
        self.strip: TextStrip | None = None
        self._tiles_for: bool | None = None
        super().__init__(item, ctx, parent)
        # moved by scrolling only when the strip paints every pixel opaquely (else what lies below must show)
        self.scroller = StripScroller(self, self.speed * ctx.scale, self._opaque)

    @property
    def speed(self) -> float:
        speed = self.options.get("speed", 120)
        return float(speed) if isinstance(speed, int | float) and 5 <= speed <= 2000 else 120.0

    def background(self) -> QColor:
        if isinstance(self.options.get("background"), str) and QColor(self.options["background"]).isValid():
            return QColor(self.options["background"])
        bg = getattr(self.parentWidget(), "background_color", None)
        return bg() if bg else QColor(0, 0, 0, 0)

    def _opaque(self) -> bool:
        return self.testAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def start(self) -> None:
        # opaque painting (no repaint of what lies below at every step) only on an opaque background
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, self.background().alpha() == 255)
        super().start()
        self.scroller.start()
        self._sync_frames()

    def stop(self) -> None:
        self.scroller.pause()
        super().stop()

    def data_changed(self) -> None:
        self._tiles_for = None

    def resizeEvent(self, _event: object) -> None:  # noqa: N802
        self._tiles_for = None

    def _sync_frames(self) -> None:
        """Animate only when there is something to scroll."""
        if self.isVisible() and self._total > 0:
            self.scroller.resume()
        else:
            self.scroller.pause()

    def _font_px(self) -> int:
        size = self.options.get("font_size")
        if isinstance(size, int | float) and not isinstance(size, bool) and 6 <= size <= 400:
            px = round(size * self.ctx.scale)
        else:
            px = round(self.height() * 0.5)
        font = self.sized_font(px, bold=self.options.get("bold", True) is not False)
        while px > 8 and QFontMetrics(font).height() > self.height():
            px -= 1
            font = self.sized_font(px, bold=self.options.get("bold", True) is not False)
        return max(6, px)

    def _tick(self) -> None:  # the stale mark appears: it is part of the tiles
        self._tiles_for = None
        super()._tick()

    def _build_tiles(self, now: datetime) -> None:
        if self._tiles_for is not None:
            return
        stale = self.stale_text(now)
        self._tiles_for = True
        self.strip = None
        entries = news_entries(self.value)[:50]
        if not entries:
            return
        separator = self.options.get("separator", "   +++   ")
        separator = separator if isinstance(separator, str) and len(separator) <= 50 else "   +++   "
        texts = [one_line(e.title[:2000]) + separator for e in entries]
        if stale:
            texts.insert(0, f"{stale}{separator}")
        bold = self.options.get("bold", True) is not False
        font = self.sized_font(self._font_px(), bold=bold)
        metrics = QFontMetrics(font)
        shown = [metrics.elidedText(text, Qt.TextElideMode.ElideRight, MAX_TITLE_PX) for text in texts]
        # scrolled (opaque): the chunk at the right edge and the next; else the whole width is repainted at each step
        keep = 3 if self._opaque() else self.width() // CHUNK_PX + 3
        self.strip = TextStrip(shown, font, self.fg, self.height(), keep=keep)

    @property
    def _total(self) -> int:
        return self.strip.width if self.strip is not None else 0

    def offset(self) -> int:
        """Pixels scrolled so far, within the repeating row of titles."""
        if self._total <= 0:
            return 0
        return self.scroller.shown % self._total

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        now = self.ctx.clock.now()
        if self._tiles_for is None:
            self._build_tiles(now)
            self.update()  # new tiles (data, stale mark, size): the whole strip, not just a scrolled column
        self._sync_frames()
        area = event.rect()  # after a step on an opaque background: only the exposed column
        p = QPainter(self)
        background = self.background()
        if background.alpha() > 0:
            p.fillRect(area, background)
        if self.strip is None or self.strip.width <= 0:
            self.runs = []
            font = self.sized_font(self._font_px() * 0.8)
            canvas = Canvas(p, self.runs)
            canvas.line(self.rect().adjusted(self.ctx.px(16), 0, -self.ctx.px(16), 0), self.t("news_empty"),
                        font, self.muted, CENTER)
            p.end()
            return
        self.strip.paint(p, self.ctx.px(16) - self.offset(), area.left(), area.right() + 1)
        p.end()
