"""Live widgets at several zone sizes and both orientations: text stays in its box (font metrics), nothing
overlaps, rows fit; odd data (hypothesis) never breaks them; the countdown follows an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QRect
from PySide6.QtGui import QFontMetrics, QImage
from PySide6.QtWidgets import QWidget

import player.ui.widgets  # noqa: F401  (registers the widget views)
from player.clock import FakeClock
from player.feeds.base import FeedState
from player.feeds.departures import Departure, Departures
from player.feeds.events import EventItem, Events
from player.feeds.generic import GenericItem, GenericItems
from player.feeds.press import PressRelease, PressReleases
from player.feeds.sensors import SensorReading, SensorReadings
from player.feeds.warnings import PublicWarning, Warnings
from player.feeds.weather import WeatherReport, WeatherValue
from player.layouts import WIDGET_KINDS
from player.model import WidgetItem
from player.ui.bridge import shared_bridge
from player.ui.items import RenderContext, make_view
from player.ui.widgets import WIDGET_VIEWS
from player.ui.widgets.base import LiveWidget, TextRun, format_number, wrap_lines
from player.ui.widgets.departures import DepartureBoard

LiveWidget.strict = True  # a paint error fails the test instead of being logged once

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
BERLIN = ZoneInfo("Europe/Berlin")
SIZES = [(480, 880), (1920, 1080), (1080, 1920), (960, 540), (300, 200), (1440, 120), (160, 90)]


def ctx(clock: FakeClock, scale: float = 1.0, locale: str = "de-DE") -> RenderContext:
    return RenderContext(clock=clock, timezone=BERLIN, resolve_media=lambda _r: None, bridge=shared_bridge(),
                         locale=locale, scale=scale)


def dep(line: str, dest: str, minutes: float, delay: int | None = None, cancelled: bool = False,
        platform: str | None = "A", now: datetime = NOW) -> Departure:
    planned = now + timedelta(minutes=minutes)
    return Departure(line=line, destination=dest, planned=planned,
                     estimated=planned + timedelta(minutes=delay) if delay is not None else None,
                     cancelled=cancelled, platform=platform)


DEPARTURES = Departures("Rathausplatz", tuple(
    [dep("3", "Hauptbahnhof", 2, 0), dep("F", "Schloss / Marktplatz über Luisenplatz und Hauptpost", 4, 3),
     dep("X74", "Flughafen Frankfurt (Terminal 1)", 7, None, cancelled=True),
     dep("N1", "Kranichstein Bürgerpark Süd", 9, -1)]
    + [dep(str(i % 9 + 1), f"Ziel {i} – Überlandstraße", 10 + i, i % 4) for i in range(30)]))

VALUES: dict[str, Any] = {
    "departures": DEPARTURES,
    "weather": WeatherReport("Rathausplatz", NOW, (
        WeatherValue("lufttemperatur", "Lufttemperatur", -12.5, "°C"),
        WeatherValue("relative_luftfeuchte", "Relative Luftfeuchte", 81, "%"),
        WeatherValue("niederschlagsintensitaet", "Niederschlag", 0.4, "mm/h"),
        WeatherValue("realtiver_luftdruck", "Luftdruck", 1018.6, "hPa"))),
    "news": PressReleases(tuple(PressRelease(f"n{i}", f"Meldung {i}: Straßenbahn fährt über die Goethestraße",
                                             "Text " * 40, NOW - timedelta(hours=i)) for i in range(12))),
    "news_ticker": PressReleases(tuple(PressRelease(f"n{i}", f"Meldung {i} über Öffnungszeiten", "", NOW)
                                       for i in range(5))),
    "events": Events(tuple(EventItem(f"e{i}", f"Veranstaltung {i} im Bürgerhaus mit langem Namen", NOW +
                                     timedelta(hours=3 * i), NOW + timedelta(hours=3 * i + 1),
                                     place="Rathaus, Saal 2", category="Kultur", cancelled=i == 2)
                           for i in range(15))),
    "sensors": SensorReadings(tuple(SensorReading(f"Station {i // 4}", f"Messwert {i} Feinstaub PM2,5", 10.0 * i,
                                                  "µg/m³") for i in range(12))),
    "warnings": Warnings((PublicWarning("w1", "Severe", "Amtliche Unwetterwarnung vor orkanartigen Böen", NOW,
                                        "Es treten orkanartige Böen mit Geschwindigkeiten um 110 km/h auf. " * 5,
                                        "Schließen Sie Fenster und Türen! Halten Sie Abstand von Gebäuden.",
                                        "DWD", NOW + timedelta(hours=6)),
                          PublicWarning("w2", "Minor", "Glätte", NOW))),
}


def make(kind: str, value: Any, size: tuple[int, int], clock: FakeClock | None = None, scale: float = 1.0,
         fetched_at: datetime | None = NOW, options: dict[str, Any] | None = None,
         parent: QWidget | None = None) -> Any:
    clock = clock or FakeClock(NOW)
    parent = parent or QWidget()
    parent.resize(*size)
    view = make_view(WidgetItem(id=f"t-{kind}", widget=kind, feed=kind, options=options or {}),
                     ctx(clock, scale), parent)
    view.setGeometry(0, 0, *size)
    view._test_parent = parent  # keep the parent alive as long as the view
    if isinstance(view, LiveWidget):
        view.set_state(FeedState(value, fetched_at) if value is not None or fetched_at else None)
    return view


def paint(view: Any) -> QImage:
    image = QImage(view.width(), view.height(), QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0xFF102030)
    view.render(image)
    return image


def assert_fits(view: Any) -> list[TextRun]:
    """Every laid-out line is inside the widget, no wider than its box, and no two boxes overlap."""
    box = view.rect()
    runs: list[TextRun] = view.runs
    for run in runs:
        assert box.contains(run.rect), f"{run.text[:80]!r} at {run.rect} leaves the widget {box}"
        width = QFontMetrics(run.font).horizontalAdvance(run.text)
        assert width <= run.rect.width(), f"{run.text[:80]!r} is {width} px wide in a {run.rect.width()} px box"
        assert run.rect.height() <= QFontMetrics(run.font).height()
        assert "\n" not in run.text
    for i, a in enumerate(runs):
        for b in runs[i + 1:]:
            assert not a.rect.intersects(b.rect), f"{a.text[:80]!r} {a.rect} overlaps {b.text[:80]!r} {b.rect}"
    return runs


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", sorted(VALUES))
def test_text_stays_in_its_box_at_every_size(qapp: Any, kind: str, size: tuple[int, int]) -> None:
    view = make(kind, VALUES[kind], size)
    paint(view)
    runs = assert_fits(view)
    if kind != "news_ticker" and size[0] >= 300 and size[1] >= 200:
        assert runs, "a widget of a usable size shows something"


@pytest.mark.parametrize("size", [(480, 880), (1920, 1080), (1080, 1920), (960, 540)])
def test_departure_rows_fill_the_zone_and_no_more(qapp: Any, size: tuple[int, int]) -> None:
    view = make("departures", DEPARTURES, size)
    paint(view)
    assert_fits(view)
    rows = view.shown_rows
    assert rows >= 3
    lowest = max(r.rect.bottom() for r in view.runs)
    assert lowest <= view.height()
    # readable from a few metres: the destination font is at least 18 canvas px
    dest = next(r for r in view.runs if r.text.startswith("Hauptbahnhof"))
    assert dest.font.pixelSize() >= 18
    # the rows fill the zone: one more would not have fitted
    top, row_h, bottom = view.row_geometry
    assert top + rows * row_h <= bottom + 1 < top + (rows + 1) * row_h


def test_departure_board_says_what_riders_need(qapp: Any) -> None:
    view = make("departures", DEPARTURES, (1920, 1080))
    paint(view)
    texts = [r.text for r in view.runs]
    assert "Rathausplatz" in texts
    assert "in 2 min" in texts and "+3" in texts and "-1" in texts
    assert "fällt aus" in texts
    struck = [r for r in view.runs if r.font.strikeOut()]
    assert any("Flughafen" in r.text for r in struck)  # cancelled trip struck through
    assert "10:02" in texts  # planned time, local


def test_countdown_follows_the_injected_clock_and_repaints_on_the_minute(qapp: Any) -> None:
    clock = FakeClock(NOW)
    view = make("departures", Departures("Halt", (dep("3", "Hauptbahnhof", 4, 0), dep("5", "Ost", 30))), (960, 540),
                clock=clock)
    assert view.row_texts()[0].countdown == "in 4 min"
    clock.advance(61)
    assert view.row_texts()[0].countdown == "in 2 min"
    clock.advance(120)
    assert view.row_texts()[0].countdown == "jetzt"
    clock.set(NOW + timedelta(minutes=4, seconds=59))
    assert view.row_texts()[0].countdown == "jetzt"
    clock.set(NOW + timedelta(minutes=5))  # one minute after its time the departure leaves the board
    assert [r.line for r in view.row_texts()] == ["5"]
    # the repaint timer aims at the next minute boundary of a departure, not at the next frame
    clock.set(NOW + timedelta(seconds=10))
    paint(view)
    assert view.next_change(clock.now()) == NOW + timedelta(minutes=1)


def test_board_without_data_is_calm(qapp: Any) -> None:
    view = make("departures", Departures("Halt", ()), (480, 880))
    paint(view)
    assert "Zurzeit keine Abfahrten" in [r.text for r in view.runs]
    nothing = make("departures", None, (480, 880), fetched_at=None)
    paint(nothing)
    assert "Zurzeit keine Abfahrten" in [r.text for r in nothing.runs]


def test_stale_value_is_kept_and_marked(qapp: Any) -> None:
    clock = FakeClock(NOW + timedelta(minutes=30))
    view = make("weather", VALUES["weather"], (480, 600), clock=clock, fetched_at=NOW - timedelta(minutes=42))
    paint(view)
    texts = [r.text for r in view.runs]
    assert "Stand: 09:18" in texts  # fetched 08:18 UTC = 09:18 Berlin
    assert "-12,5 °C" in texts  # the last good value stays on screen
    fresh = make("weather", VALUES["weather"], (480, 600), clock=FakeClock(NOW), fetched_at=NOW)
    paint(fresh)
    assert not any(t.startswith("Stand:") for t in (r.text for r in fresh.runs))


def test_wrong_feed_type_shows_the_placeholder(qapp: Any) -> None:
    view = make("departures", VALUES["weather"], (480, 880))
    paint(view)
    assert "Zurzeit keine Abfahrten" in [r.text for r in view.runs]


def test_widget_classes_are_reachable_by_name_and_kind() -> None:
    import player.ui.widgets as widgets
    from player.ui.widgets import PlaceMap, WarningBanner

    assert WIDGET_VIEWS["map"] is PlaceMap and widgets.widget_view("warning_banner") is WarningBanner
    assert widgets.widget_view("nope") is None and "nope" not in WIDGET_VIEWS
    with pytest.raises(KeyError):
        WIDGET_VIEWS["nope"]
    with pytest.raises(AttributeError):
        widgets.NoSuchWidget  # noqa: B018
    assert set(WIDGET_VIEWS) >= set(WIDGET_KINDS) - {"image"}  # every kind a document may name has a view


def test_every_listed_kind_has_a_view_and_unknown_kinds_a_neutral_tile(qapp: Any) -> None:
    for kind in ("departures", "weather", "news", "news_ticker", "events", "sensors", "warnings", "clock", "empty",
                 "twin_messages", "pois", "map"):
        assert kind in WIDGET_VIEWS
    tile = make("image", None, (400, 300), fetched_at=None)
    paint(tile)
    assert "Diese Anzeige ist hier nicht verfügbar" in " ".join(r.text for r in tile.runs)


def test_news_ticker_measures_its_titles_once_and_draws_each_chunk_once(qapp: Any) -> None:
    view = make("news_ticker", VALUES["news_ticker"], (1920, 80))
    paint(view)
    strip = view.strip
    assert "".join(strip.texts) == "".join(f"Meldung {i} über Öffnungszeiten   +++   " for i in range(5))
    assert strip.height == 80
    drawn = strip.drawn
    assert drawn > 0
    paint(view)
    assert view.strip is strip  # nothing measured again per frame
    assert strip.drawn == drawn  # and the chunks in view are not drawn again (translucent: it keeps its width)


def test_html_in_titles_is_drawn_as_text(qapp: Any) -> None:
    value = GenericItems((GenericItem(title="<b>fett</b> <script>alert(1)</script> &amp;"),))
    view = make("news", value, (1920, 600))
    paint(view)
    assert "<b>fett</b> <script>alert(1)</script> &amp;" in [r.text for r in view.runs]  # literally, not bold


def test_numbers_in_german() -> None:
    assert format_number(2.8) == "2,8"
    assert format_number(1018.6) == "1019"
    assert format_number(-0.04) == "0"
    assert format_number(123456.0) == "123.456"
    assert format_number(2.8, "en-GB") == "2.8"


def test_wrapping_never_returns_more_lines_or_wider_lines(qapp: Any) -> None:
    from PySide6.QtGui import QFont

    font = QFont("DejaVu Sans")
    font.setPixelSize(30)
    metrics = QFontMetrics(font)
    lines = wrap_lines("Donaudampfschifffahrtsgesellschaftskapitänsmütze " * 20, metrics, 200, 3)
    assert len(lines) == 3
    assert all(metrics.horizontalAdvance(line) <= 200 for line in lines)


# ------------------------------------------------------------------------------------------- odd data
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400)
times = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))
numbers = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)

departures_st = st.builds(Departures, st.one_of(st.none(), text), st.lists(st.builds(
    Departure, text, text, times, st.one_of(st.none(), times), st.booleans(), st.one_of(st.none(), text)),
    max_size=60).map(tuple))
weather_st = st.builds(WeatherReport, st.one_of(st.none(), text), st.one_of(st.none(), times), st.lists(
    st.builds(WeatherValue, st.sampled_from(["lufttemperatur", "globalstrahlung", "x"]), text, numbers, text),
    max_size=12).map(tuple))
news_st = st.builds(PressReleases, st.lists(st.builds(PressRelease, text, text, text, st.one_of(st.none(), times)),
                                            max_size=30).map(tuple))
events_st = st.builds(Events, st.lists(st.builds(EventItem, text, text, times, st.one_of(st.none(), times), text,
                                                 st.one_of(st.none(), text), st.one_of(st.none(), text),
                                                 st.none(), st.booleans()), max_size=30).map(tuple))
sensors_st = st.builds(SensorReadings, st.lists(st.builds(SensorReading, text, text, numbers, text), max_size=40)
                       .map(tuple))
warnings_st = st.builds(Warnings, st.lists(st.builds(
    PublicWarning, text, st.sampled_from(["Extreme", "Severe", "Moderate", "Minor", "Unknown", "?"]), text,
    st.one_of(st.none(), times), text, text, st.one_of(st.none(), text), st.one_of(st.none(), times)),
    max_size=10).map(tuple))
ODD = {"departures": departures_st, "weather": weather_st, "news": news_st, "news_ticker": news_st,
       "events": events_st, "sensors": sensors_st, "warnings": warnings_st}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data(), size=st.sampled_from([(480, 880), (1080, 1920), (1920, 200), (200, 150)]),
       kind=st.sampled_from(sorted(ODD)))
def test_odd_data_never_breaks_a_widget(qapp: Any, data: st.DataObject, size: tuple[int, int], kind: str) -> None:
    value = data.draw(ODD[kind])
    view = make(kind, value, size)
    paint(view)
    assert_fits(view)
    assert view.next_change(NOW) is None or view.next_change(NOW) > NOW


def test_a_one_character_headline_wider_than_its_room_is_left_out(qapp: Any) -> None:
    # Qt does not elide a single character: the "0" (37 px) was drawn into a 21 px room beside "+1 weitere"
    two = Warnings((PublicWarning("", "Extreme", "0", None, "", "", None, None),
                    PublicWarning("", "Extreme", "", None, "", "", None, None)))
    view = make("warnings", two, (200, 150))
    paint(view)
    assert_fits(view)


@pytest.mark.parametrize("kind", ["news", "news_ticker", "events", "sensors", "departures"])
def test_ten_thousand_items_and_megabyte_strings(qapp: Any, kind: str) -> None:
    long = "Überlänge " * 100_000
    values = {
        "news": PressReleases(tuple(PressRelease(str(i), long if i == 0 else f"Titel {i}", long, NOW)
                                    for i in range(10_000))),
        "events": Events(tuple(EventItem(str(i), long, NOW + timedelta(minutes=i)) for i in range(10_000))),
        "sensors": SensorReadings(tuple(SensorReading("S", long, 9.99e11, long) for _ in range(10_000))),
        "departures": Departures(long, tuple(dep(long[:50], long, i / 100) for i in range(10_000))),
    }
    values["news_ticker"] = values["news"]
    view = make(kind, values[kind], (1920, 1080))
    paint(view)
    assert_fits(view)


def test_scaled_canvas_gives_proportional_fonts(qapp: Any) -> None:
    full = make("departures", DEPARTURES, (480, 880), scale=1.0)
    half = make("departures", DEPARTURES, (240, 440), scale=0.5)
    paint(full)
    paint(half)
    f = next(r for r in full.runs if r.text == "Hauptbahnhof").font.pixelSize()
    h = next(r for r in half.runs if r.text == "Hauptbahnhof").font.pixelSize()
    assert abs(f / 2 - h) <= 1
    assert_fits(half)


def test_board_is_a_departure_board(qapp: Any) -> None:
    assert isinstance(make("departures", DEPARTURES, (480, 880)), DepartureBoard)
    assert QRect(0, 0, 10, 10).contains(QRect(1, 1, 2, 2))
