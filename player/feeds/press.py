"""Press releases: the newest `PressRelease` objects with `date` <= now, HTML reduced to plain text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from player.feeds.base import Feed
from player.feeds.fields import Clock, as_dict, clean_line, system_clock, to_datetime
from player.feeds.plaintext import plain_text
from player.parse_rest import ParseClient, decode_file_url, parse_date


@dataclass(frozen=True)
class PressRelease:
    id: str
    title: str
    text: str  # plain text, paragraphs separated by "\n"
    date: datetime | None
    image_url: str | None = None
    source_id: str | None = None


@dataclass(frozen=True)
class PressReleases:
    items: tuple[PressRelease, ...]


def http_url(value: Any) -> str | None:
    url = decode_file_url(value) if isinstance(value, dict) else value
    if isinstance(url, str) and len(url) <= 2000 and urlsplit(url.strip()).scheme in ("http", "https"):
        return url.strip()
    return None


def press_release_from_object(obj: Any, *, max_text: int = 2000) -> PressRelease | None:
    doc = as_dict(obj)
    title = plain_text(doc.get("title"), 300)
    if not title:
        return None
    return PressRelease(id=clean_line(doc.get("objectId"), 40) or "", title=title,
                        text=plain_text(doc.get("content"), max_text, paragraphs=True),
                        date=to_datetime(doc.get("date")), image_url=http_url(doc.get("imageUrl")),
                        source_id=clean_line(doc.get("sourceId"), 200))


def press_releases_from_objects(objs: Any, now: datetime, *, max_items: int = 10,
                                max_text: int = 2000) -> tuple[PressRelease, ...]:
    """Hub objects -> newest first, dated no later than *now*, at most *max_items*."""
    items = []
    for obj in objs[:5000] if isinstance(objs, list) else []:
        item = press_release_from_object(obj, max_text=max_text)
        if item is not None and (item.date is None or item.date <= now):
            items.append(item)
    dated = sorted((i for i in items if i.date), key=lambda i: i.date or now, reverse=True)
    return tuple((dated + [i for i in items if i.date is None])[:max_items])


class PressFeed(Feed[PressReleases]):
    value_type = PressReleases

    def __init__(self, client: ParseClient, *, name: str = "press", interval_s: float = 900,
                 timeout_s: float = 20, stale_after_s: float = 86400, max_items: int = 10,
                 max_text: int = 2000, clock: Clock = system_clock, class_name: str = "PressRelease") -> None:
        super().__init__(name, interval_s=interval_s, timeout_s=timeout_s, stale_after_s=stale_after_s)
        self.client = client
        self.max_items = max_items
        self.max_text = max_text
        self.clock = clock
        self.class_name = class_name

    def fetch(self) -> PressReleases:
        now = self.clock()
        rows = self.client.query(self.class_name, where={"date": {"$lte": parse_date(now)}}, order="-date",
                                 limit=self.max_items + 10, timeout=self.timeout_s)
        return PressReleases(items=press_releases_from_objects(rows, now, max_items=self.max_items,
                                                               max_text=self.max_text))
