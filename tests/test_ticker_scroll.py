"""Tickers move at their configured speed in equal whole-pixel steps, wrap without a seam, and after a step paint
only the column that scrolled into view (player/ui/scroller.py). Time is injected: no sleeps, no timing limits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QEvent, QObject, QRect, Qt
from PySide6.QtGui import QColor, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QApplication, QWidget

import player.ui.widgets  # noqa: F401  (registers the widget views)
from player.clock import FakeClock
from player.feeds.base import FeedState
from player.feeds.press import PressRelease, PressReleases
from player.model import TextStyle, TickerItem, VAlign, WidgetItem
from player.ui.bridge import shared_bridge
from player.ui.items import RenderContext, TickerView, make_view
from player.ui.scroller import ScrollPace
from player.ui.strip import CHUNK_PX, pieces

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TEXT = "Weihnachtsmarkt bis 23. Dezember   +++   Linie 3: Umleitung über die Goethestraße"


# ------------------------------------------------------------------------------------------- the arithmetic
def test_the_demo_speed_moves_three_pixels_every_21_4_ms() -> None:
    pace = ScrollPace.for_speed(140)
    assert pace.step_px == 3
    assert pace.interval_ms == pytest.approx(3000 / 140)
    assert pace.position(1000) == 46 * 3  # 1000 / 21.43 = 46.67 steps done
    assert pace.position(60_000) == 8400  # a minute: exactly 140 px/s
    assert pace.position(0) == 0 and pace.position(21) == 0 and pace.position(22) == 3


@pytest.mark.parametrize("speed", [5, 30, 60, 61, 70, 89, 90, 100, 120, 125, 140, 180, 185, 400, 2000])
def test_speed_is_kept_with_equal_steps_at_a_display_like_rate(speed: float) -> None:
    pace = ScrollPace.for_speed(speed)
    assert pace.step_px * 1000 / pace.interval_ms == pytest.approx(speed)
    assert pace.moves_per_s <= 90  # never far above what a 60 Hz display shows
    assert pace.step_px == 1 or pace.moves_per_s >= 45  # never a visible judder to save a pixel
    # a minute of wake-ups exactly when asked: every one moves by exactly one step, none early, none skipped
    t, moved, wakes = 0.0, 0, 0
    while t < 60_000:
        t += pace.ms_to_next_step(t)
        assert pace.position(t) - moved == pace.step_px
        moved = pace.position(t)
        wakes += 1
    assert abs(moved - speed * t / 1000) <= pace.step_px


def test_a_late_wake_up_catches_up_instead_of_slowing_down() -> None:
    pace = ScrollPace.for_speed(140)
    assert pace.position(500) == 69  # 23 steps, however few wake-ups there were
    assert pace.ms_to_next_step(500) == 15  # the next step is due at 24 * 21.43 = 514.3 ms: wake at 515 ms
    with pytest.raises(ValueError):
        ScrollPace.for_speed(0)


# ------------------------------------------------------------------------------------------- on screen
class PaintLog(QObject):
    def __init__(self, widget: QWidget):
        super().__init__(widget)
        self.rects: list[QRect] = []
        widget.installEventFilter(self)

    def eventFilter(self, _obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint:
            self.rects.append(QRect(event.rect()))  # type: ignore[attr-defined]
        return False


class FakeMs:
    def __init__(self) -> None:
        self.ms = 0.0

    def __call__(self) -> float:
        return self.ms


def render_ctx() -> RenderContext:
    return RenderContext(clock=FakeClock(NOW), timezone=ZoneInfo("Europe/Berlin"), resolve_media=lambda _r: None,
                         bridge=shared_bridge())


class Zone(QWidget):
    """A stand-in for the zone: a top-level window with the zone's colour."""

    def background_color(self) -> QColor:
        return QColor("#ffcc00")


def shown_ticker(qapp: Any, view_factory: Any, size: tuple[int, int] = (600, 60)) -> tuple[Any, Zone, FakeMs]:
    zone = Zone()
    zone.resize(*size)
    view = view_factory(zone)
    view.setGeometry(0, 0, *size)
    clock = FakeMs()
    view.scroller.now_ms = clock
    zone.show()
    view.start()
    for _ in range(5):
        qapp.processEvents()
    return view, zone, clock


def on_screen(zone: QWidget) -> QImage:
    """What the window's backing store holds (scrolled pixels included), not a fresh rendering."""
    return QApplication.primaryScreen().grabWindow(zone.winId()).toImage().convertToFormat(QImage.Format.Format_RGB32)


def fresh(view: QWidget) -> QImage:
    image = QImage(view.width(), view.height(), QImage.Format.Format_RGB32)
    image.fill(0xFF000000)
    view.render(image)
    return image


def step_to(qapp: Any, view: Any, clock: FakeMs, ms: float) -> None:
    clock.ms = ms
    view.scroller.advance()
    qapp.processEvents()


def ticker_view(zone: QWidget, text: str = TEXT) -> TickerView:
    item = TickerItem(id="k", duration=60, text=text, speed=140, separator="   +++   ",
                      style=TextStyle(font_size=30, color="#0b2540", bold=True, valign=VAlign.MIDDLE))
    view = make_view(item, render_ctx(), zone)
    assert isinstance(view, TickerView)
    return view


def test_ticker_offset_follows_the_elapsed_time(qapp: Any) -> None:
    view, zone, clock = shown_ticker(qapp, ticker_view)
    try:
        step_to(qapp, view, clock, 1000.0)
        assert view.scroller.shown == 138  # 140 px/s, in whole steps of 3 px
        step_to(qapp, view, clock, 1000.0 + 30_000)
        assert view.scroller.shown == 4338
        assert view.offset() == 4338 % view.strip.width
    finally:
        view.stop()
        zone.close()


def test_a_step_paints_only_the_exposed_column(qapp: Any) -> None:
    view, zone, clock = shown_ticker(qapp, ticker_view)
    try:
        log = PaintLog(view)
        step_to(qapp, view, clock, 22.0)  # one step: 3 px
        assert view.scroller.shown == 3
        assert log.rects == [QRect(view.width() - 3, 0, 3, view.height())]
        log.rects.clear()
        step_to(qapp, view, clock, 22.0)  # no time passed: nothing moves, nothing is painted
        assert log.rects == []
    finally:
        view.stop()
        zone.close()


def test_scrolled_strip_equals_a_fresh_drawing_across_the_wrap(qapp: Any) -> None:
    view, zone, clock = shown_ticker(qapp, ticker_view)
    try:
        tile_w = view.strip.width
        ms = 0.0
        # step by step through the point where the tile starts over (and a little beyond)
        while view.scroller.shown < tile_w + 40:
            ms += view.scroller.pace.ms_to_next_step(ms)
            step_to(qapp, view, clock, ms)
            if abs(view.scroller.shown - tile_w) < 10 or view.scroller.shown % 150 == 0:
                assert on_screen(zone) == fresh(view), f"seam or smear at {view.scroller.shown} px"
        assert view.offset() == view.scroller.shown - tile_w
    finally:
        view.stop()
        zone.close()


def test_stopped_ticker_has_no_timer_running(qapp: Any) -> None:
    view, zone, _clock = shown_ticker(qapp, ticker_view)
    assert view.scroller.running
    view.stop()
    assert not view.scroller.running
    zone.close()


# ------------------------------------------------------------------------------------------- news ticker
def news_ticker(options: dict[str, Any]) -> Any:
    def factory(zone: QWidget) -> Any:
        view = make_view(WidgetItem(id="nt", widget="news_ticker", feed="news", options=options), render_ctx(), zone)
        view.set_state(FeedState(PressReleases(tuple(PressRelease(f"n{i}", f"Meldung {i} über Öffnungszeiten", "",
                                                                  NOW) for i in range(3))), NOW))
        return view
    return factory


def test_news_ticker_on_an_opaque_background_paints_only_the_exposed_column(qapp: Any) -> None:
    view, zone, clock = shown_ticker(qapp, news_ticker({"speed": 120, "background": "#0b2540"}))
    try:
        assert view.scroller.running and view.scroller.pace.step_px == 2
        log = PaintLog(view)
        ms = 0.0
        for _ in range(3):
            ms += view.scroller.pace.ms_to_next_step(ms)
            step_to(qapp, view, clock, ms)
        assert view.scroller.shown == 6
        assert log.rects == [QRect(view.width() - 2, 0, 2, view.height())] * 3
        while view.scroller.shown < view._total + 20:  # through the wrap of the whole row of titles
            ms += 250.0
            step_to(qapp, view, clock, ms)
        assert on_screen(zone) == fresh(view)
    finally:
        view.stop()
        zone.close()


def test_news_ticker_on_a_translucent_background_is_repainted_whole(qapp: Any) -> None:
    view, zone, clock = shown_ticker(qapp, news_ticker({"speed": 120, "background": "#800b2540"}))
    try:
        log = PaintLog(view)
        step_to(qapp, view, clock, 100.0)
        assert view.scroller.shown == 12
        assert log.rects == [view.rect()]  # what lies below shows through: no shifting of old pixels
    finally:
        view.stop()
        zone.close()


# ------------------------------------------------------------------------------------------- drawn in chunks
LONG = " ".join(f"Meldung {i:04d}: Straßensperrung in der Königsallee" for i in range(400))  # ~400,000 px


def test_a_long_text_is_held_in_a_few_chunks_and_shown_right_far_along(qapp: Any) -> None:
    view, zone, clock = shown_ticker(qapp, lambda zone: ticker_view(zone, LONG))
    try:
        strip = view.strip
        assert strip.width > 100_000  # as one pixmap: 100,000 x 60 px, 24 MB
        for ms in (1_000.0, 600_000.0, 600_500.0, 2_000_000.0):  # 140 px/s: up to 280,000 px along
            step_to(qapp, view, clock, ms)
            assert on_screen(zone) == fresh(view), f"wrong pixels at {view.scroller.shown} px"
            assert strip.cached_px() <= 3 * CHUNK_PX
        assert view.strip is strip
    finally:
        view.stop()
        zone.close()


def chunked_and_whole(text: str, shown: str) -> tuple[QImage, QImage, int]:
    """A 4000 px ticker of ``text`` drawn by the view (in chunks), and ``shown`` drawn as one line by QPainter, both
    cut to the first repeat; and how many pieces the strip has."""
    zone = Zone()
    zone.resize(4000, 60)
    view = ticker_view(zone, text)
    view.setGeometry(0, 0, 4000, 60)
    chunked = fresh(view)
    whole = QImage(4000, 60, QImage.Format.Format_RGB32)
    whole.fill(QColor("#ffcc00"))
    p = QPainter(whole)
    font = view.ctx.font(view.item.style)
    p.setFont(font)
    p.setPen(QColor("#0b2540"))
    pad = view.ctx.px(view.item.style.padding)
    p.drawText(QRect(pad, 0, 4000, 60), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
               shown + "   +++   ")
    p.end()
    width = QFontMetrics(font).horizontalAdvance(shown + "   +++   ")
    assert view.strip.width == width
    zone.close()
    return chunked.copy(0, 0, pad + width, 60), whole.copy(0, 0, pad + width, 60), len(view.strip.texts)


def test_the_chunks_look_like_the_line_drawn_whole(qapp: Any) -> None:
    chunked, whole, n = chunked_and_whole(TEXT, TEXT)
    assert n > 2  # drawn in pieces, at least one per chunk
    # every glyph on the pixel it has in the line drawn whole (the repeat starts at a whole pixel, as before)
    assert chunked == whole


@pytest.mark.parametrize("breaks", ["\t", "\r\n", "\u2028", "\n\t"])
def test_tabs_and_line_breaks_in_a_ticker_are_spaces(qapp: Any, breaks: str) -> None:
    """A tab or a carriage return is measured wider or narrower than drawText draws it: a piece holding one left a
    gap after it or ran into the next ("Umleitungüber")."""
    text = TEXT.replace(" über ", f" über{breaks}").replace("Dezember ", f"Dezember{breaks}")
    shown = TEXT.replace(" über ", " über" + " " * len(breaks)).replace("Dezember ", "Dezember" + " " * len(breaks))
    chunked, whole, _ = chunked_and_whole(text, shown)
    assert chunked == whole


def test_a_line_with_a_bidi_override_stays_one_piece(qapp: Any) -> None:
    text = "Weihnachtsmarkt bis 23. Dezember \u202eLinie 3: Umleitung über die\u202c Goethestraße"
    chunked, whole, n = chunked_and_whole(text, text)
    assert n == 1 and chunked == whole  # the override reverses the words in between, as in the line drawn whole


def test_pieces_join_to_the_text_and_keep_words_and_right_to_left_lines_whole() -> None:
    text = "Weihnachtsmarkt auf dem Marktplatz bis 23. Dezember, täglich 11–21 Uhr   +++   "
    parts = pieces(text)
    assert "".join(parts) == text and len(parts) > 1
    assert all(part.endswith(" ") or part is parts[-1] for part in parts)  # cut after spaces only
    word = "Donaudampfschifffahrtsgesellschaftskapitänsmütze" * 3
    assert pieces(f"a {word} b") == [f"a {word} ", "b"]
    arabic = "سوق عيد الميلاد في ساحة السوق حتى 23 ديسمبر يوميا من 11 إلى 21"
    assert pieces(arabic) == [arabic]  # Qt orders the words of a right-to-left line; split, they would run reversed
    assert pieces("") == []


def test_a_translucent_news_ticker_keeps_its_width_in_chunks_and_does_not_redraw_them_per_step(qapp: Any) -> None:
    view, zone, clock = shown_ticker(qapp, news_ticker({"speed": 120, "background": "#800b2540"}))
    try:
        ms = 0.0
        step_to(qapp, view, clock, ms)
        drawn = view.strip.drawn
        for _ in range(20):  # 20 steps of 2 px: the whole strip is repainted each time
            ms += view.scroller.pace.ms_to_next_step(ms)
            step_to(qapp, view, clock, ms)
        assert view.scroller.shown == 40
        assert view.strip.drawn - drawn <= 1  # at most the chunk that came into view
    finally:
        view.stop()
        zone.close()
