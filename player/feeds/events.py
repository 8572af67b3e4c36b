"""Upcoming events from the hub's schema.org-like `Event` class, with today / this-week selections."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from player.feeds.base import BERLIN, Feed
from player.feeds.fields import Clock, as_dict, as_list, clean_line, system_clock, to_datetime
from player.feeds.plaintext import plain_text
from player.feeds.press import http_url
from player.parse_rest import ParseClient, parse_date

MAX_DURATION = timedelta(days=366)


@dataclass(frozen=True)
class EventItem:
    id: str
    name: str
    start: datetime
    end: datetime | None = None
    description: str = ""
    place: str | None = None  # address text (or location name)
    category: str | None = None
    image_url: str | None = None
    cancelled: bool = False


@dataclass(frozen=True)
class Events:
    items: tuple[EventItem, ...]

    def today(self, now: datetime, tz: tzinfo = BERLIN) -> tuple[EventItem, ...]:
        """Events running at some point between now and the end of today (local time)."""
        return self.between(now, _day_start(now, tz) + timedelta(days=1))

    def this_week(self, now: datetime, tz: tzinfo = BERLIN) -> tuple[EventItem, ...]:
        """Events running between now and the end of this calendar week (Sunday, local time)."""
        start = _day_start(now, tz)
        return self.between(now, start + timedelta(days=7 - start.weekday()))

    def between(self, begin: datetime, end: datetime) -> tuple[EventItem, ...]:
        return tuple(e for e in self.items if e.start < end and (e.end or e.start) >= begin)


def _day_start(now: datetime, tz: tzinfo) -> datetime:
    local = now.astimezone(tz)
    return datetime.combine(local.date(), time(0), tzinfo=tz)


def _place(location: Any) -> str | None:
    loc = as_dict(location)
    address = loc.get("address")
    if isinstance(address, Mapping):
        parts = [clean_line(address.get(k), 80) for k in ("streetAddress", "postalCode", "addressLocality")]
        text = " ".join(p for p in parts if p)
        if text:
            return text
    return clean_line(address, 160) or clean_line(loc.get("name"), 160)


def _category(value: Any) -> str | None:
    if isinstance(value, list):
        names = [clean_line(v if not isinstance(v, Mapping) else v.get("name"), 40) for v in value[:5]]
        return ", ".join(n for n in names if n) or None
    if isinstance(value, Mapping):
        return clean_line(value.get("name"), 60)
    return clean_line(value, 60)


def event_from_object(obj: Any, *, max_text: int = 1000) -> EventItem | None:
    doc = as_dict(obj)
    name = plain_text(doc.get("name"), 200)
    start = to_datetime(doc.get("startDate"))
    if not name or start is None:
        return None
    end = to_datetime(doc.get("endDate"))
    if end is not None and (end < start or end - start > MAX_DURATION):
        end = None
    status = clean_line(doc.get("eventStatus"), 60) or ""
    image = doc.get("image")
    if isinstance(image, list):
        image = image[0] if image else None
    if isinstance(image, Mapping) and image.get("__type") != "File":
        image = image.get("url")
    return EventItem(id=clean_line(doc.get("objectId"), 40) or "", name=name, start=start, end=end,
                     description=plain_text(doc.get("description"), max_text, paragraphs=True),
                     place=_place(doc.get("location")), category=_category(doc.get("category")),
                     image_url=http_url(image), cancelled="cancel" in status.lower())


def events_from_objects(objs: Any, now: datetime, *, horizon: timedelta = timedelta(days=14),
                        max_items: int = 100, max_text: int = 1000) -> tuple[EventItem, ...]:
    """Hub objects -> events not yet over and starting within *horizon*, by start time."""
    items = []
    for obj in as_list(objs, 5000):
        item = event_from_object(obj, max_text=max_text)
        if item is None or (item.end or item.start) < now or item.start > now + horizon:
            continue
        items.append(item)
    items.sort(key=lambda e: (e.start, e.name))
    return tuple(items[:max_items])


class EventsFeed(Feed[Events]):
    value_type = Events

    def __init__(self, client: ParseClient, *, name: str = "events", interval_s: float = 900,
                 timeout_s: float = 20, stale_after_s: float = 86400, horizon_days: float = 14,
                 max_items: int = 100, max_text: int = 1000, clock: Clock = system_clock,
                 class_name: str = "Event", tz: tzinfo = BERLIN) -> None:
        super().__init__(name, interval_s=interval_s, timeout_s=timeout_s, stale_after_s=stale_after_s)
        self.client = client
        self.horizon = timedelta(days=horizon_days)
        self.max_items = max_items
        self.max_text = max_text
        self.clock = clock
        self.class_name = class_name
        self.tz = tz

    def fetch(self) -> Events:
        now = self.clock()
        day_start = _day_start(now, self.tz)
        where = {
            "startDate": {"$lte": parse_date(now + self.horizon)},
            "$or": [{"endDate": {"$gte": parse_date(now)}},
                    {"endDate": {"$exists": False}, "startDate": {"$gte": parse_date(day_start)}}],
        }
        rows = self.client.query(self.class_name, where=where, order="startDate",
                                 limit=self.max_items * 2, timeout=self.timeout_s)
        return Events(items=events_from_objects(rows, now, horizon=self.horizon, max_items=self.max_items,
                                                max_text=self.max_text))
