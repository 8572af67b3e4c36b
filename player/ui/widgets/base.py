"""What every live widget shares: its feed subscription, stale mark, sizing from the zone, and text drawing that
never leaves its box (every line is elided to its rect and recorded, so tests can check it with font metrics).

Strings from feeds are drawn with QPainter.drawText as plain text; nothing is ever interpreted as rich text.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from PySide6.QtCore import QPointF, QRect, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from player.feeds.base import FeedState
from player.model import WidgetItem
from player.texts import text as screen_text
from player.ui.items import ItemView, RenderContext
from player.ui.widgets.strings import wtext

log = logging.getLogger(__name__)

MAX_TIMER_MS = 3_600_000
DEFAULT_STALE_S = 600.0
_said: set[str] = set()


def say_once(key: str, message: str, *args: Any) -> None:
    """One log line per problem (a widget is rebuilt every time its zone comes round)."""
    if key not in _said:
        _said.add(key)
        log.warning(message, *args)


@dataclass(frozen=True)
class TextRun:
    """One line of text as it was laid out: the text drawn, its box (widget px) and its font."""

    text: str
    rect: QRect
    font: QFont


LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
CENTER = Qt.AlignmentFlag.AlignCenter


def one_line(text: str) -> str:
    return " ".join(text.split())


class Canvas:
    """Draws single lines that always fit their box (elided), and records them."""

    def __init__(self, painter: QPainter, runs: list[TextRun]):
        self.p = painter
        self.runs = runs

    def line(self, rect: QRect, text: str, font: QFont, color: QColor,
             align: Qt.AlignmentFlag = LEFT) -> int:
        """Draws *text* on one line inside *rect* (elided at the right); returns the width used."""
        if rect.width() <= 0 or rect.height() <= 0:
            return 0
        metrics = QFontMetrics(font)
        # look at no more characters than could ever fit (a megabyte string must not reach the font engine)
        limit = rect.width() // max(1, metrics.averageCharWidth() // 4) + 8
        shown = metrics.elidedText(one_line(text[: limit * 2]), Qt.TextElideMode.ElideRight, rect.width())
        # Qt gives a single character back unelided however narrow the box: one that does not fit is left out
        # (measured only then: longer results are elided to fit, and this runs for every line of every paint)
        if not shown or (len(shown) == 1 and metrics.horizontalAdvance(shown) > rect.width()):
            return 0
        height = min(rect.height(), metrics.height())
        box = QRect(rect.left(), rect.top() + (rect.height() - height) // 2, rect.width(), height)
        self.p.setFont(font)
        self.p.setPen(color)
        self.p.drawText(box, int(align), shown)
        advance = min(box.width(), metrics.horizontalAdvance(shown))
        if align & Qt.AlignmentFlag.AlignRight:
            left = box.right() + 1 - advance
        elif align & Qt.AlignmentFlag.AlignHCenter:
            left = box.left() + (box.width() - advance) // 2
        else:
            left = box.left()
        # recorded: the part of the box the text really covers (what must not overlap other text)
        self.runs.append(TextRun(shown, QRect(left, box.top(), advance, box.height()), QFont(font)))
        return advance

    def wrapped(self, rect: QRect, text: str, font: QFont, color: QColor, max_lines: int = 99,
                align: Qt.AlignmentFlag = LEFT, line_factor: float = 1.0) -> int:
        """Word-wraps *text* into at most *max_lines* lines that fit *rect*; the last shown line is elided when
        text is left over. Returns the height used."""
        metrics = QFontMetrics(font)
        step = max(1, round(metrics.height() * line_factor))
        room = min(max_lines, rect.height() // step if step else 0)
        if room <= 0 or rect.width() <= 0:
            return 0
        lines = wrap_lines(text, metrics, rect.width(), room)
        y = rect.top()
        for line in lines:
            self.line(QRect(rect.left(), y, rect.width(), metrics.height()), line, font, color, align)
            y += step
        return len(lines) * step

    def hline(self, x1: int, x2: int, y: int, color: QColor, width: int = 1) -> None:
        self.p.setPen(QPen(color, width))
        self.p.drawLine(x1, y, x2, y)


def wrap_lines(text: str, metrics: QFontMetrics, width: int, max_lines: int) -> list[str]:
    """Greedy word wrap by font metrics; paragraphs kept; over-long words are broken; the last line gets an
    ellipsis when something is left over. Looks at no more text than can be shown."""
    out: list[str] = []
    budget = max(200, (width // max(1, metrics.averageCharWidth()) + 2) * max_lines * 2)
    paragraphs = [p for p in text[:budget].split("\n") if p.strip()]
    truncated = len(text) > budget
    for pi, para in enumerate(paragraphs):
        words = para.split()
        current = ""
        i = 0
        while i < len(words):
            word = words[i]
            trial = f"{current} {word}" if current else word
            if metrics.horizontalAdvance(trial) <= width:
                current = trial
                i += 1
                continue
            if not current:  # one word wider than the line: break it
                cut = _fit_chars(word, metrics, width)
                out.append(word[:cut])
                words[i] = word[cut:]
            else:
                out.append(current)
                current = ""
            if len(out) >= max_lines:
                break
        if len(out) >= max_lines:
            out[-1] = _with_ellipsis(out[-1], metrics, width)
            return out
        if current:
            out.append(current)
            if len(out) >= max_lines:
                if pi < len(paragraphs) - 1 or truncated:
                    out[-1] = _with_ellipsis(out[-1], metrics, width)
                return out
    return out


def _fit_chars(word: str, metrics: QFontMetrics, width: int) -> int:
    lo, hi = 1, len(word)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if metrics.horizontalAdvance(word[:mid]) <= width:
            lo = mid
        else:
            hi = mid - 1
    return max(1, lo)


def _with_ellipsis(line: str, metrics: QFontMetrics, width: int) -> str:
    return metrics.elidedText(line + " …", Qt.TextElideMode.ElideRight, width) if line else line


def color_option(options: dict[str, Any], key: str, default: str) -> QColor:
    value = options.get(key)
    if isinstance(value, str):
        color = QColor(value)
        if color.isValid():
            return color
    return QColor(default)


def readable_on(background: QColor) -> QColor:
    """Black or white, whichever reads better on *background*."""
    lum = 0.2126 * background.redF() + 0.7152 * background.greenF() + 0.0722 * background.blueF()
    return QColor("#111111") if lum > 0.6 else QColor("#ffffff")


BADGE_PALETTE = ("#c8102e", "#0065ae", "#00843d", "#e87722", "#7b2a83", "#008ecf", "#8b5b29", "#d6006f",
                 "#4a7729", "#5f6a72")


def badge_color(line: str, options: dict[str, Any]) -> QColor:
    colors = options.get("line_colors")
    if isinstance(colors, dict) and isinstance(colors.get(line), str) and QColor(colors[line]).isValid():
        return QColor(colors[line])
    return QColor(BADGE_PALETTE[zlib.crc32(line.encode("utf-8")) % len(BADGE_PALETTE)])


class LiveWidget(ItemView):
    """Base of the feed-driven widgets: subscribes to its feed in the FeedHub (ctx.extras["feeds"]), keeps the
    last state, marks it stale, repaints when the data or the time-dependent text changes (never per frame)."""

    item: WidgetItem
    value_types: tuple[type[Any], ...] = ()
    strict = False  # tests set this: a paint error is raised instead of logged once

    def __init__(self, item: WidgetItem, ctx: RenderContext, parent: QWidget):
        super().__init__(item, ctx, parent)
        self.options: dict[str, Any] = dict(item.options or {})
        self.state: FeedState[Any] | None = None
        self.runs: list[TextRun] = []  # what the last paint laid out (for tests and screenshots)
        self._hub: Any = None
        self._fonts: dict[tuple[int, bool], QFont] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        hub = ctx.extras.get("feeds")
        if hub is not None:
            self.connect_feeds(hub)
        elif item.feed:
            say_once("nohub", "live widgets are shown without data: no feeds are running (%s)", item.id)

    # ------------------------------------------------------------------------------------------------ feeds
    def connect_feeds(self, hub: Any) -> None:
        """Subscribe to *hub* (a FeedHub); the current state is delivered at once."""
        if hub is self._hub or not self.item.feed:
            return
        self._hub = hub
        if not hub.has_feed(self.item.feed):
            say_once(f"nofeed:{self.item.feed}", "widget '%s': feed '%s' is not configured (or was skipped); "
                     "the widget shows its placeholder", self.item.id, self.item.feed)
        hub.subscribe(self.item.feed, self._on_feed)

    def _on_feed(self, name: str, state: FeedState[Any]) -> None:
        if name != self.item.feed:
            return
        self.set_state(state)

    def set_state(self, state: FeedState[Any] | None) -> None:
        """New data (from the hub on the GUI thread, or from a test)."""
        self.state = state
        self.data_changed()
        self.update()
        if self.isVisible():
            self._arm()

    def data_changed(self) -> None:
        """Hook: the state changed (e.g. rebuild pre-rendered tiles)."""

    @property
    def value(self) -> Any:
        if self.state is None or self.state.value is None:
            return None
        value = self.state.value
        if self.value_types and not isinstance(value, self.value_types):
            say_once(f"type:{self.item.id}", "widget '%s' (%s): feed '%s' delivers %s, which it cannot show",
                     self.item.id, self.item.widget, self.item.feed, type(value).__name__)
            return None
        return value

    def stale_after_s(self) -> float:
        if self._hub is not None and self.item.feed:
            return float(self._hub.stale_after_s(self.item.feed))
        return DEFAULT_STALE_S

    def stale_text(self, now: datetime) -> str:
        """"Stand: 10:42" when the value is older than the feed's limit, else ""."""
        state = self.state
        if state is None or state.value is None or state.fetched_at is None:
            return ""
        if not state.is_stale(now, self.stale_after_s()):
            return ""
        return state.stand(tz=self.ctx.timezone, fmt=screen_text("stale", self.ctx.locale))

    # ------------------------------------------------------------------------------------------------ timing
    def start(self) -> None:
        super().start()
        self._arm()

    def stop(self) -> None:
        self._timer.stop()
        super().stop()

    def next_change(self, now: datetime) -> datetime | None:
        """When what the widget shows changes by itself (countdown, stale mark, ...). None: only on new data."""
        state = self.state
        if state is None or state.fetched_at is None or state.value is None:
            return None
        stale_at = state.fetched_at + timedelta(seconds=self.stale_after_s())
        return stale_at if stale_at > now else None

    def _arm(self) -> None:
        now = self.ctx.clock.now()
        when = self.next_change(now)
        if when is None:
            self._timer.stop()
            return
        ms = int((when - now).total_seconds() * 1000) + 20
        self._timer.start(max(50, min(ms, MAX_TIMER_MS)))

    def _tick(self) -> None:
        self.update()
        self._arm()

    # ---------------------------------------------------------------------------------------------- sizing
    def canvas_size(self) -> tuple[float, float]:
        scale = self.ctx.scale or 1.0
        return self.width() / scale, self.height() / scale

    def unit(self, rows_hint: float = 12.0, cols_hint: float = 13.0, lo: float = 18.0, hi: float = 64.0) -> int:
        """The base font size in device px: from the `font_size` option (canvas px) or the zone's size, so the
        text is readable from a few metres and scales with the zone."""
        size = self.options.get("font_size")
        if isinstance(size, int | float) and not isinstance(size, bool) and 6 <= size <= 400:
            canvas = float(size)
        else:
            cw, ch = self.canvas_size()
            canvas = max(lo, min(hi, ch / rows_hint, cw / cols_hint))
        px = round(canvas * (self.ctx.scale or 1.0))
        # a tiny zone (tests, thumbnails) still gets a font that fits at least a few rows
        return max(8, min(px, max(8, self.height() // 4)))

    def sized_font(self, px: float, bold: bool = False) -> QFont:
        """The widget's font at *px* device pixels (cached). Not named ``font``: QWidget.font() takes no size."""
        key = (max(6, round(px)), bold)
        font = self._fonts.get(key)
        if font is None:
            font = QFont(self.ctx.font_family)
            font.setPixelSize(key[0])
            font.setBold(bold)
            self._fonts[key] = font
        return font

    def padding(self, u: int) -> int:
        return max(round(0.66 * u), self.ctx.px(16))

    # ------------------------------------------------------------------------------------------------ colours
    @property
    def fg(self) -> QColor:
        return color_option(self.options, "color", "#ffffff")

    @property
    def muted(self) -> QColor:
        color = QColor(self.fg)
        color.setAlphaF(0.72)
        return color

    @property
    def accent(self) -> QColor:
        return color_option(self.options, "accent", "#ffcc00")

    @property
    def alert(self) -> QColor:
        return color_option(self.options, "alert", "#ff6b5a")

    # ---------------------------------------------------------------------------------------------- painting
    def t(self, key: str, **args: Any) -> str:
        return wtext(key, self.ctx.locale, **args)

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        background = self.options.get("background")
        if isinstance(background, str) and QColor(background).isValid():
            p.fillRect(self.rect(), QColor(background))
        self.runs = []
        canvas = Canvas(p, self.runs)
        try:
            self.paint_content(canvas, self.ctx.clock.now())
        except Exception:  # a widget must never take the player down; the log says what broke, once
            if self.strict:
                p.end()
                raise
            say_once(f"paint:{self.item.id}", "widget '%s' (%s) could not be drawn", self.item.id, self.item.widget)
            log.debug("paint failure", exc_info=True)
        p.end()

    def paint_content(self, c: Canvas, now: datetime) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def header(self, c: Canvas, rect: QRect, title: str, now: datetime, u: int) -> int:
        """Title (bold, elided) with the stale mark at the right; a thin accent line below. Returns its height."""
        if self.options.get("header") is False:
            stale = self.stale_text(now)
            if stale:
                h = QFontMetrics(self.sized_font(0.7 * u)).height()
                c.line(QRect(rect.left(), rect.top(), rect.width(), h), stale, self.sized_font(0.7 * u), self.accent, RIGHT)
                return h + round(0.2 * u)
            return 0
        title_font = self.sized_font(1.05 * u, bold=True)
        h = round(QFontMetrics(title_font).height() * 1.25)
        stale = self.stale_text(now)
        stale_w = 0
        if stale:
            small = self.sized_font(0.7 * u)
            stale_w = min(rect.width() // 2, QFontMetrics(small).horizontalAdvance(stale) + 2)
            c.line(QRect(rect.right() + 1 - stale_w, rect.top(), stale_w, h), stale, small, self.accent, RIGHT)
            stale_w += round(0.4 * u)
        c.line(QRect(rect.left(), rect.top(), rect.width() - stale_w, h), title, title_font, self.fg)
        line_y = rect.top() + h + max(1, round(0.1 * u))
        accent = QColor(self.accent)
        accent.setAlphaF(0.8)
        c.hline(rect.left(), rect.right(), line_y, accent, max(1, round(0.06 * u)))
        return h + round(0.45 * u)

    def when(self, date: datetime | None, now: datetime) -> str:
        """A message's date as a passer-by reads it: "Heute, 10:42 Uhr", "Gestern, 18:05 Uhr", else "24.11.2026"."""
        if date is None:
            return ""
        local = date.astimezone(self.ctx.timezone)
        today = now.astimezone(self.ctx.timezone).date()
        suffix = self.t("time_suffix")
        if local.date() == today:
            return f"{self.t('today')}, {local:%H:%M}{suffix}"
        if local.date() == today - timedelta(days=1):
            return f"{self.t('yesterday')}, {local:%H:%M}{suffix}"
        return f"{local:%d.%m.%Y}"

    def titled(self, c: Canvas, now: datetime, title_key: str, rows_hint: float = 14.0, cols_hint: float = 14.0,
               lo: float = 18.0, hi: float = 52.0) -> tuple[int, QRect]:
        """The list widgets' frame: the base unit, the header (the `title` option, else the screen string
        *title_key*, with the stale mark) and the body rectangle below it."""
        u = self.unit(rows_hint=rows_hint, cols_hint=cols_hint, lo=lo, hi=hi)
        rect = self.content_rect(u)
        title = self.options.get("title")
        if not isinstance(title, str):
            title = self.t(title_key)
        top = rect.top() + self.header(c, rect, title, now, u)
        return u, QRect(rect.left(), top, rect.width(), rect.bottom() + 1 - top)

    def placeholder(self, c: Canvas, rect: QRect, text: str, u: int) -> None:
        """The calm 'nothing at the moment' line, centred in what is left of the widget."""
        font = self.sized_font(0.85 * u)
        metrics = QFontMetrics(font)
        lines = wrap_lines(text, metrics, max(1, rect.width()), 3)
        total = len(lines) * metrics.height()
        y = rect.top() + max(0, (rect.height() - total) // 2)
        for line in lines:
            if y + metrics.height() > rect.bottom() + 1:
                break
            c.line(QRect(rect.left(), y, rect.width(), metrics.height()), line, font, self.muted, CENTER)
            y += metrics.height()

    def content_rect(self, u: int) -> QRect:
        pad = self.padding(u)
        return self.rect().adjusted(pad, round(pad * 0.8), -pad, -round(pad * 0.8))

    def draw_box(self, p: QPainter, rect: QRect, color: QColor, radius: float) -> None:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        p.drawRoundedRect(rect, radius, radius)
        p.setBrush(Qt.BrushStyle.NoBrush)


def local_hhmm(when: datetime, ctx: RenderContext) -> str:
    return when.astimezone(ctx.timezone).strftime("%H:%M")


def format_number(value: float, locale: str = "de-DE", decimals: int | None = None) -> str:
    """3.5 -> "3,5" (de) / "3.5" (en); whole numbers and values from 100 on without decimals; grouping from
    10,000 on."""
    value = float(value)
    if abs(value) >= 1e15:
        return "–"  # not a number anyone should read off a screen
    if decimals is None:
        decimals = 0 if abs(value) >= 100 or round(value, 1).is_integer() else 1
    value = round(value, decimals)
    if value == 0:
        value = 0.0  # no "-0"
    text = f"{value:,.{decimals}f}" if abs(value) >= 10_000 else f"{value:.{decimals}f}"
    if locale.lower().startswith("de"):
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def points(*xy: float) -> list[QPointF]:
    return [QPointF(xy[i], xy[i + 1]) for i in range(0, len(xy) - 1, 2)]


def take(items: Iterable[Any], limit: int) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if len(out) >= limit:
            break
        out.append(item)
    return out
