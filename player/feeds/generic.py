"""A generic JSON feed: any URL plus a field mapping, for cities whose data does not come from the hub.

Mapping (paths are JSON pointers like `/data/items` or dotted like `data.items`; "" is the document):

    items = "/data/entries"            # where the list is
    title = "headline"                 # per item: these paths are relative to the item
    text  = "body"                     # HTML allowed; reduced to plain text
    time  = "published"                # ISO 8601, epoch seconds/ms or a Parse Date
    value = "measurement/value"        # a number or a short text
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from player.feeds.base import Feed
from player.feeds.fields import as_list, clean_line, dig, to_datetime, to_float
from player.feeds.plaintext import plain_text
from player.parse_rest import HubError, get_json, new_session

if TYPE_CHECKING:
    import requests

FIELDS = ("title", "text", "time", "value")


@dataclass(frozen=True)
class GenericItem:
    title: str = ""
    text: str = ""
    time: datetime | None = None
    value: float | str | None = None


@dataclass(frozen=True)
class GenericItems:
    items: tuple[GenericItem, ...]


def item_from_entry(entry: Any, fields: Mapping[str, str], *, max_text: int = 2000) -> GenericItem | None:
    def get(field: str) -> Any:
        path = fields.get(field)
        return dig(entry, path) if path is not None else None

    raw_value = get("value")
    number = to_float(raw_value) if not isinstance(raw_value, str) else None
    value: float | str | None = number if number is not None else clean_line(raw_value, 80)
    item = GenericItem(title=plain_text(get("title"), 300) if isinstance(get("title"), str)
                       else clean_line(get("title"), 300) or "",
                       text=plain_text(get("text"), max_text, paragraphs=True),
                       time=to_datetime(get("time")), value=value)
    if not item.title and not item.text and item.value is None:
        return None
    return item


def items_from_document(doc: Any, items_path: str, fields: Mapping[str, str], *, max_items: int = 50,
                        max_text: int = 2000, sort_by_time: bool = False) -> tuple[GenericItem, ...]:
    entries = dig(doc, items_path)
    if isinstance(entries, Mapping):
        entries = [entries]
    out = []
    for entry in as_list(entries, 10_000):
        item = item_from_entry(entry, fields, max_text=max_text)
        if item is not None:
            out.append(item)
        if not sort_by_time and len(out) >= max_items:
            break
    if sort_by_time:
        out.sort(key=lambda i: i.time.timestamp() if i.time else float("-inf"), reverse=True)
    return tuple(out[:max_items])


class GenericJsonFeed(Feed[GenericItems]):
    value_type = GenericItems

    def __init__(self, url: str, *, items: str = "", fields: Mapping[str, str] | None = None,
                 name: str = "generic", interval_s: float = 300, timeout_s: float = 15,
                 stale_after_s: float = 3600, max_items: int = 50, max_text: int = 2000,
                 sort_by_time: bool = False, headers: Mapping[str, str] | None = None,
                 session: requests.Session | None = None, max_body_bytes: int = 5_000_000) -> None:
        super().__init__(name, interval_s=interval_s, timeout_s=timeout_s, stale_after_s=stale_after_s)
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"feed {name}: url must start with http:// or https://: {url!r}")
        unknown = set(fields or {}) - set(FIELDS)
        if unknown:
            raise ValueError(f"feed {name}: unknown field(s) {sorted(unknown)}; known: {', '.join(FIELDS)}")
        self.url = url
        self.items_path = items
        self.fields = dict(fields or {"title": "title", "text": "text", "time": "time", "value": "value"})
        self.max_items = max_items
        self.max_text = max_text
        self.sort_by_time = sort_by_time
        self.headers = dict(headers or {})
        self.session = session or new_session()
        self.max_body_bytes = max_body_bytes

    def fetch(self) -> GenericItems:
        doc = get_json(self.url, session=self.session, headers=self.headers, timeout=self.timeout_s,
                       max_body_bytes=self.max_body_bytes)
        if dig(doc, self.items_path) is None:
            raise HubError(f"{self.url}: no list at {self.items_path or '/'!r}", url=self.url)
        return GenericItems(items=items_from_document(doc, self.items_path, self.fields, max_items=self.max_items,
                                                      max_text=self.max_text, sort_by_time=self.sort_by_time))
