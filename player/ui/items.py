"""One view per item kind. A view is a child widget filling its zone.

Life cycle, driven by :class:`player.ui.zone.ZoneWidget`:
``prepare()`` (asynchronous; emits ``ready`` or ``failed``) -> ``start()`` (visible, animating) -> ``stop()``.
A view whose item has no fixed duration (a video to its end) emits ``finished`` itself.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, QDateTime, QElapsedTimer, QLocale, QRect, QRectF, Qt, QTime, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from player.clock import Clock
from player.model import ClockItem, HAlign, ImageItem, Item, TextItem, TextStyle, TickerItem, VAlign
from player.ui.bridge import WorkerBridge
from player.ui.imaging import decode_for_zone
from player.ui.scroller import StripScroller
from player.ui.strip import TextStrip

log = logging.getLogger(__name__)


@dataclass
class RenderContext:
    """What views need from the outside world; injected so tests and previews control time and files."""

    clock: Clock
    timezone: ZoneInfo
    resolve_media: Callable[[str], Path | None]
    bridge: WorkerBridge
    city: str = ""
    screen_name: str = ""
    font_family: str = "DejaVu Sans"
    locale: str = "de-DE"
    scale: float = 1.0  # device px per canvas px
    extras: dict[str, Any] = field(default_factory=dict)  # feed hub, video engine, ... (added by later modules)

    def px(self, canvas_px: float) -> int:
        return max(1, round(canvas_px * self.scale))

    def font(self, style: TextStyle, size: int | None = None) -> QFont:
        font = QFont(style.font_family or self.font_family)
        font.setPixelSize(size if size is not None else self.px(style.font_size))
        font.setBold(style.bold)
        return font

    def substitute(self, text: str) -> str:
        return text.replace("{city}", self.city).replace("{screen}", self.screen_name)

    def qlocale(self) -> QLocale:
        return QLocale(self.locale.replace("-", "_"))


def qcolor(value: str | None, fallback: str = "#000000") -> QColor:
    """#rrggbb or #aarrggbb (as in the documents) -> QColor."""
    return QColor(value or fallback)


_H = {HAlign.LEFT: Qt.AlignmentFlag.AlignLeft, HAlign.CENTER: Qt.AlignmentFlag.AlignHCenter,
      HAlign.RIGHT: Qt.AlignmentFlag.AlignRight}
_V = {VAlign.TOP: Qt.AlignmentFlag.AlignTop, VAlign.MIDDLE: Qt.AlignmentFlag.AlignVCenter,
      VAlign.BOTTOM: Qt.AlignmentFlag.AlignBottom}


def alignment(style: TextStyle) -> Qt.AlignmentFlag:
    return _H[style.align] | _V[style.valign]


def fit_font(font: QFont, text: str, rect: QRect, flags: int, min_px: int = 8) -> QFont:
    """Shrinks ``font`` until ``text`` fits ``rect`` (with ``flags``): text is never cut off."""
    size = font.pixelSize()
    while size > min_px:
        metrics = QFontMetrics(font)
        bound = metrics.boundingRect(rect, flags, text)
        if bound.width() <= rect.width() and bound.height() <= rect.height():
            break
        size = max(min_px, int(size * 0.92))
        font.setPixelSize(size)
    return font


# the object name of the native windows VLC draws into (player/ui/video.py): a screenshot reads the screen back
# from the X server only while one of them is showing (player/ui/reporting.py)
NATIVE_VIDEO_SURFACE = "osc-native-video"


class ItemView(QWidget):
    ready = Signal()
    failed = Signal(str)
    finished = Signal()

    def __init__(self, item: Item, ctx: RenderContext, parent: QWidget):
        super().__init__(parent)
        self.item = item
        self.ctx = ctx
        self.is_ready = False
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, False)
        self.hide()

    @property
    def ends_itself(self) -> bool:
        """True when the view emits ``finished`` (a video to its end) instead of running for ``item.duration``."""
        return False

    @property
    def may_end_early(self) -> bool:
        """True when the view may emit ``finished`` before ``item.duration`` is over (a clip shorter than it)."""
        return self.ends_itself

    def prepare(self) -> None:
        self._set_ready()

    def _set_ready(self) -> None:
        self.is_ready = True
        self.ready.emit()

    def start(self) -> None:
        self.show()
        self.raise_()

    def stop(self) -> None:
        self.hide()

    def first_frame_ready(self) -> bool:
        return self.is_ready

    def play_again(self) -> None:
        """The zone keeps this view on screen after it finished by itself (nothing else to show): start over.
        Nothing to do for views that run for a duration; a video that played to its end restarts."""

    def native_surface(self) -> QWidget | None:
        """A native window this view shows its picture in (VLC's), which the player window must stack; None for
        views Qt paints."""
        return None


# A crossfade changes brightness, not position: 30 steps a second look as smooth as TV dissolves (25/30 fps) and
# cost a third less than 60 (demo, Xvfb: the crossfade share of CPU 2.0-2.3 % -> 1.3-1.5 % of one core).
FADE_FRAME_MS = 33


class ImageView(ItemView):
    item: ImageItem

    def __init__(self, item: ImageItem, ctx: RenderContext, parent: QWidget):
        super().__init__(item, ctx, parent)
        self._image: QImage | None = None
        self._fade_from: QImage | None = None
        self._fade_ms = 0
        self._fade_clock = QElapsedTimer()
        self._fade_timer: QTimer | None = None

    @property
    def image(self) -> QImage | None:
        return self._image

    def fade_from(self, previous: QImage, ms: int) -> None:
        """Crossfade from the previous picture: both drawn here with QPainter opacity (no offscreen effect
        buffers), repainted 30 times a second only while the fade runs (FADE_FRAME_MS)."""
        self._fade_from, self._fade_ms = previous, ms
        self._fade_clock.start()
        self._fade_timer = QTimer(self)
        self._fade_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._fade_timer.timeout.connect(self._fade_step)
        self._fade_timer.start(FADE_FRAME_MS)

    def _fade_step(self) -> None:
        if self._fade_clock.elapsed() >= self._fade_ms and self._fade_timer is not None:
            self._fade_timer.stop()
            self._fade_from = None
        self.update()

    def prepare(self) -> None:
        path = self.ctx.resolve_media(self.item.src)
        if path is None:
            self.failed.emit(f"image '{self.item.src}' is not available (missing file or not cached)")
            return
        w, h, fit = max(1, self.width()), max(1, self.height()), self.item.fit
        self.ctx.bridge.submit(lambda: decode_for_zone(path, w, h, fit), self._decoded,
                               lambda exc: self.failed.emit(str(exc)))

    def _decoded(self, image: QImage) -> None:
        self._image = image
        self._set_ready()

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        image, old = self._image, self._fade_from  # read once: nothing may pull them away mid-paint
        if image is None:
            return
        p = QPainter(self)
        if old is not None:
            p.drawImage((self.width() - old.width()) // 2, (self.height() - old.height()) // 2, old)
            p.setOpacity(min(1.0, self._fade_clock.elapsed() / max(1, self._fade_ms)))
        p.drawImage((self.width() - image.width()) // 2, (self.height() - image.height()) // 2, image)
        p.end()

    def stop(self) -> None:
        if self._fade_timer is not None:
            self._fade_timer.stop()
        super().stop()
        self._image = self._fade_from = None  # give the memory back; a Pi has little


class TextView(ItemView):
    item: TextItem

    def __init__(self, item: TextItem, ctx: RenderContext, parent: QWidget):
        super().__init__(item, ctx, parent)
        self._font: QFont | None = None
        self._text = ctx.substitute(item.text)

    def _layout(self) -> tuple[QRect, int]:
        pad = self.ctx.px(self.item.style.padding)
        rect = self.rect().adjusted(pad, pad, -pad, -pad)
        flags = int(alignment(self.item.style)) | (int(Qt.TextFlag.TextWordWrap) if self.item.wrap else 0)
        return rect, flags

    def resizeEvent(self, _event: object) -> None:  # noqa: N802
        self._font = None

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        p = QPainter(self)
        style = self.item.style
        if style.background:
            p.fillRect(self.rect(), qcolor(style.background))
        rect, flags = self._layout()
        if self._font is None:
            self._font = fit_font(self.ctx.font(style), self._text, rect, flags)
        p.setFont(self._font)
        p.setPen(qcolor(style.color))
        text = self._text
        if not self.item.wrap:
            text = QFontMetrics(self._font).elidedText(text, Qt.TextElideMode.ElideRight, rect.width())
        p.drawText(rect, flags, text)
        p.end()


class TickerView(ItemView):
    """Scrolling text. The text is drawn on demand into narrow opaque pixmaps (player/ui/strip.py); the strip moves in
    equal whole-pixel steps (player/ui/scroller.py): what is on screen is shifted and only the newly exposed column is
    painted."""

    item: TickerItem

    def __init__(self, item: TickerItem, ctx: RenderContext, parent: QWidget):
        super().__init__(item, ctx, parent)
        self.strip: TextStrip | None = None
        speed = item.speed * ctx.scale
        # the strip is opaque (zone colour or black), so it is always moved by scrolling
        self.scroller = StripScroller(self, speed, lambda: True) if speed > 0 else None
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)

    def _make_strip(self) -> TextStrip:
        style = self.item.style
        font = self.ctx.font(style)
        text = self.ctx.substitute(self.item.text) + self.item.separator  # the strip makes it one line
        metrics = QFontMetrics(font)
        # the text must fit the zone's height
        while metrics.height() > self.height() and font.pixelSize() > 8:
            font.setPixelSize(font.pixelSize() - 1)
            metrics = QFontMetrics(font)
        # opaque: each step is a plain copy, no blending, no clearing
        return TextStrip([text], font, qcolor(style.color), self.height(), self._background())

    def _background(self) -> QColor:
        if self.item.style.background:
            return qcolor(self.item.style.background)
        zone_bg = getattr(self.parentWidget(), "background_color", None)
        color = zone_bg() if zone_bg else QColor("#000000")
        return color if color.alpha() == 255 else QColor("#000000")

    def resizeEvent(self, _event: object) -> None:  # noqa: N802
        self.strip = None

    def start(self) -> None:
        super().start()
        if self.scroller is not None:
            self.scroller.start()

    def stop(self) -> None:
        if self.scroller is not None:
            self.scroller.pause()
        super().stop()

    def offset(self) -> int:
        """Pixels scrolled so far, within the repeating strip."""
        if self.strip is None or self.scroller is None or self.strip.width <= 0:
            return 0
        return self.scroller.shown % self.strip.width

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        if self.strip is None:
            self.strip = self._make_strip()
        area = event.rect()  # after a step: only the exposed column
        p = QPainter(self)
        if self.strip.width <= 0:
            p.fillRect(area, self._background())
        else:
            self.strip.paint(p, self.ctx.px(self.item.style.padding) - self.offset(), area.left(), area.right() + 1)
        p.end()


class ClockView(ItemView):
    """Time (and date) in the screen's language; repaints exactly on the second (or minute) boundary."""

    item: ClockItem

    def __init__(self, item: ClockItem, ctx: RenderContext, parent: QWidget):
        super().__init__(item, ctx, parent)
        self._tz = ZoneInfo(item.timezone) if item.timezone else ctx.timezone
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._font: QFont | None = None
        self._date_font: QFont | None = None

    def start(self) -> None:
        super().start()
        self._tick()

    def stop(self) -> None:
        self._timer.stop()
        super().stop()

    def ms_to_next_tick(self, now: datetime) -> int:
        step = 1 if self.item.shows_seconds else 60
        local = now.astimezone(self._tz)
        into = (local.second % step) + local.microsecond / 1e6 if step == 60 else local.microsecond / 1e6
        return max(1, int((step - into) * 1000) + 2)

    def _tick(self) -> None:
        self.update()
        self._timer.start(self.ms_to_next_tick(self.ctx.clock.now()))

    def texts(self) -> list[str]:
        local = self.ctx.clock.now().astimezone(self._tz)
        qdt = QDateTime(QDate(local.year, local.month, local.day), QTime(local.hour, local.minute, local.second))
        loc = self.ctx.qlocale()
        lines = [loc.toString(qdt, self.item.format)]
        if self.item.date_format:
            lines.append(loc.toString(qdt, self.item.date_format))
        return lines

    def resizeEvent(self, _event: object) -> None:  # noqa: N802
        self._font = None

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        p = QPainter(self)
        style = self.item.style
        if style.background:
            p.fillRect(self.rect(), qcolor(style.background))
        lines = self.texts()
        pad = self.ctx.px(style.padding)
        rect = self.rect().adjusted(pad, pad // 2, -pad, -pad // 2)
        flags = int(alignment(style))
        p.setPen(qcolor(style.color))
        single = int(_H[style.align] | Qt.AlignmentFlag.AlignVCenter)
        if len(lines) == 1:
            if self._font is None:
                self._font = fit_font(self.ctx.font(style), lines[0], rect, flags)
            p.setFont(self._font)
            p.drawText(rect, flags, lines[0])
        else:
            time_h = int(rect.height() * 0.62)
            time_rect = QRect(rect.left(), rect.top(), rect.width(), time_h)
            date_rect = QRect(rect.left(), rect.top() + time_h, rect.width(), rect.height() - time_h)
            # sized once for the widest text the format produces, so it never jumps (both fonts together)
            if self._font is None or self._date_font is None:
                big = fit_font(self.ctx.font(style), lines[0], time_rect, single)
                small = self.ctx.font(style, size=max(8, int(big.pixelSize() * 0.5)))
                small.setBold(False)
                self._font = big
                self._date_font = fit_font(small, "Mittwoch, 30. September 2026"[: max(len(lines[1]), 12)],
                                           date_rect, single)
            p.setFont(self._font)
            p.drawText(time_rect, single, lines[0])
            p.setFont(self._date_font)
            p.drawText(date_rect, int(_H[style.align] | Qt.AlignmentFlag.AlignTop),
                       QFontMetrics(self._date_font).elidedText(lines[1], Qt.TextElideMode.ElideRight, rect.width()))
        p.end()


class PlaceholderView(ItemView):
    """A neutral tile with one short line, for kinds this installation cannot render (said once in the log)."""

    def __init__(self, item: Item, ctx: RenderContext, parent: QWidget, message: str = ""):
        super().__init__(item, ctx, parent)
        self.message = message

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(255, 255, 255, 18))
        if self.message:
            font = QFont(self.ctx.font_family)
            font.setPixelSize(max(10, min(self.height() // 10, self.ctx.px(28))))
            p.setFont(font)
            p.setPen(QColor(255, 255, 255, 150))
            p.drawText(QRectF(self.rect()).adjusted(8, 8, -8, -8),
                       int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), self.message)
        p.end()


ViewFactory = Callable[[Item, RenderContext, QWidget], ItemView]

# kind -> factory; later modules (video, widgets, web) register themselves here
VIEW_FACTORIES: dict[str, ViewFactory] = {
    "image": ImageView,  # type: ignore[dict-item]
    "text": TextView,  # type: ignore[dict-item]
    "ticker": TickerView,  # type: ignore[dict-item]
    "clock": ClockView,  # type: ignore[dict-item]
}

# kinds whose module is imported on first use: libvlc, the feed machinery (requests, TLS, APScheduler), the QR
# encoder (about 2 MB) and Qt WebEngine cost memory that a screen without them should not pay
# (bench/startup.py: static image)
LAZY_VIEWS: dict[str, str] = {"video": "player.ui.video", "web": "player.ui.web", "widget": "player.ui.widgets",
                              "qr": "player.ui.qr"}

_said: set[str] = set()


def load_view_module(kind: str) -> None:
    """Imports the module that registers ``kind`` (thread-safe; call it on a worker thread to preload)."""
    module = LAZY_VIEWS.get(kind)
    if module is not None and kind not in VIEW_FACTORIES:
        importlib.import_module(module)


def make_view(item: Item, ctx: RenderContext, parent: QWidget) -> ItemView:
    if item.kind not in VIEW_FACTORIES and item.kind in LAZY_VIEWS:
        load_view_module(item.kind)  # normally preloaded off the GUI thread when the content arrived
    factory = VIEW_FACTORIES.get(item.kind)
    if factory is None:
        if item.kind not in _said:
            _said.add(item.kind)
            log.warning("items of kind '%s' cannot be shown by this installation; a neutral tile is shown", item.kind)
        return PlaceholderView(item, ctx, parent)
    return factory(item, ctx, parent)


def seconds_until(later: datetime, now: datetime) -> float:
    return max(0.0, (later - now) / timedelta(seconds=1))
