"""Domain types of the player: what a screen shows, independent of where it came from.

No Qt and no I/O here. Sources (folder, hub) produce these objects; the schedule resolver and the UI consume them.

Conventions
- Canvas coordinates are pixels of the layout's own canvas (e.g. 1920x1080); the UI scales the canvas to the screen.
- Durations are seconds (float). ``None`` on a video means "until the end of the file".
- Date/time bounds are ``datetime`` objects. A *naive* datetime is local wall time in the screen's time zone
  (what a person types: "2026-12-24 18:00"); an *aware* datetime is an absolute instant (what a hub stores).
  ``start`` is inclusive, ``end`` is exclusive.
- Weekdays are 0 = Monday .. 6 = Sunday (``datetime.weekday()``).
- A :class:`TimeWindow` covers local times ``[start, end)``. ``end <= start`` means the window crosses midnight and
  belongs to the weekday on which it *starts*; ``start == end`` means the whole day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from typing import Any


class Fit(StrEnum):
    CONTAIN = "contain"  # whole picture visible, letterboxed inside the zone
    COVER = "cover"  # zone filled, picture cropped
    STRETCH = "stretch"  # zone filled, aspect ignored


class Transition(StrEnum):
    CUT = "cut"
    CROSSFADE = "crossfade"


class HAlign(StrEnum):
    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


class VAlign(StrEnum):
    TOP = "top"
    MIDDLE = "middle"
    BOTTOM = "bottom"


class EntryMode(StrEnum):
    NORMAL = "normal"  # replaces the default layout
    OVERLAY = "overlay"  # drawn above the current layout (e.g. a warning banner)
    INTERRUPT = "interrupt"  # takes the whole screen, above everything (e.g. an emergency layout)


@dataclass(frozen=True)
class TimeWindow:
    start: time
    end: time

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True)
class Validity:
    """When something may be shown. Every part that is set must hold; unset parts always hold."""

    start: datetime | None = None
    end: datetime | None = None
    weekdays: frozenset[int] = frozenset()
    windows: tuple[TimeWindow, ...] = ()

    @property
    def is_always(self) -> bool:
        return self.start is None and self.end is None and not self.weekdays and not self.windows


ALWAYS = Validity()


@dataclass(frozen=True)
class Item:
    id: str
    duration: float | None = 10.0
    validity: Validity = ALWAYS

    kind = "item"


@dataclass(frozen=True)
class ImageItem(Item):
    src: str = ""
    fit: Fit = Fit.CONTAIN
    transition: Transition = Transition.CUT
    transition_ms: int = 600

    kind = "image"


@dataclass(frozen=True)
class VideoItem(Item):
    """A video. ``duration=None``: play to the end. With a duration: cut there, or loop to fill it."""

    src: str = ""
    fit: Fit = Fit.CONTAIN
    volume: int = 0  # 0 = muted (default), 1..100
    loop: bool = False  # loop to fill ``duration`` (or forever in a single-item zone)

    kind = "video"


@dataclass(frozen=True)
class TextStyle:
    font_size: int = 48  # canvas px
    color: str = "#ffffff"
    background: str | None = None
    font_family: str | None = None  # None: the branding font
    bold: bool = False
    align: HAlign = HAlign.LEFT
    valign: VAlign = VAlign.TOP
    padding: int = 16


@dataclass(frozen=True)
class TextItem(Item):
    text: str = ""
    style: TextStyle = field(default_factory=TextStyle)
    wrap: bool = True

    kind = "text"


@dataclass(frozen=True)
class TickerItem(Item):
    text: str = ""
    speed: float = 120.0  # canvas px per second
    separator: str = "  +++  "
    style: TextStyle = field(default_factory=lambda: TextStyle(valign=VAlign.MIDDLE))

    kind = "ticker"


@dataclass(frozen=True)
class ClockItem(Item):
    format: str = "HH:mm"  # Qt/ICU-like date-time pattern; seconds shown when it contains "ss"
    date_format: str | None = None  # e.g. "dddd, d. MMMM yyyy" shown on a second line
    timezone: str | None = None  # None: the screen's time zone
    style: TextStyle = field(default_factory=lambda: TextStyle(align=HAlign.CENTER, valign=VAlign.MIDDLE))

    kind = "clock"

    @property
    def shows_seconds(self) -> bool:
        return "s" in self.format


@dataclass(frozen=True)
class QrItem(Item):
    data: str = ""
    caption: str | None = None
    foreground: str = "#000000"
    background: str = "#ffffff"
    style: TextStyle = field(default_factory=lambda: TextStyle(align=HAlign.CENTER, font_size=32, color="#000000"))

    kind = "qr"


@dataclass(frozen=True)
class WidgetItem(Item):
    """A live-data widget (departures, weather, news, ...). ``widget`` names the kind, ``options`` configure it."""

    widget: str = ""
    feed: str | None = None  # name of the feed (screen document ``feeds``) that supplies its data
    options: dict[str, Any] = field(default_factory=dict)

    kind = "widget"

    def __hash__(self) -> int:  # options is a dict; identity by id is enough for a frozen item
        return hash((self.kind, self.id))


@dataclass(frozen=True)
class WebItem(Item):
    url: str = ""
    reload_s: float = 0.0  # 0: never reload
    zoom: float = 1.0

    kind = "web"


ITEM_TYPES: dict[str, type[Item]] = {
    cls.kind: cls for cls in (ImageItem, VideoItem, TextItem, TickerItem, ClockItem, QrItem, WidgetItem, WebItem)
}


@dataclass(frozen=True)
class Zone:
    id: str
    x: int
    y: int
    width: int
    height: int
    items: tuple[Item, ...] = ()
    z: int = 0
    loop: bool = True
    background: str | None = None  # None: transparent (the layout shows through)

    @property
    def rect(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.width, self.height)


@dataclass(frozen=True)
class Layout:
    name: str
    width: int
    height: int
    zones: tuple[Zone, ...] = ()
    background: str = "#000000"
    background_image: str | None = None

    @property
    def is_portrait(self) -> bool:
        return self.height > self.width


@dataclass(frozen=True)
class ScheduleEntry:
    id: str
    layout: str
    validity: Validity = ALWAYS
    priority: int = 0
    mode: EntryMode = EntryMode.NORMAL


@dataclass(frozen=True)
class Schedule:
    default_layout: str
    entries: tuple[ScheduleEntry, ...] = ()
    timezone: str = "Europe/Berlin"


@dataclass(frozen=True)
class Screen:
    """Everything one screen plays: its layouts, the schedule choosing between them, and its live-data feeds."""

    name: str
    layouts: dict[str, Layout]
    schedule: Schedule
    feeds: dict[str, dict[str, Any]] = field(default_factory=dict)
    # display on/off windows ("mon-fri" -> "06:00-22:00"); None: the document has none (player.toml's apply)
    power_schedule: dict[str, Any] | None = None

    def __hash__(self) -> int:
        return id(self)

    def item_kinds(self) -> set[str]:
        return {item.kind for layout in self.layouts.values() for zone in layout.zones for item in zone.items}

    def media_refs(self) -> set[str]:
        """Every media reference (image/video/background file) the screen needs in the cache."""
        refs: set[str] = set()
        for layout in self.layouts.values():
            if layout.background_image:
                refs.add(layout.background_image)
            for zone in layout.zones:
                for item in zone.items:
                    src = getattr(item, "src", "")
                    if src:
                        refs.add(src)
        return refs
