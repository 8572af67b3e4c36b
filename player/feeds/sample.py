"""A `sample` feed: live-looking data from a local JSON file, for the demo and for screens without a hub.

Times in the file are given RELATIVE to now, so the demo looks alive offline: departures count down and new ones
come, the weather was observed a few minutes ago, news are from today, events are today and this week.

The file names its kind and carries the data; it is read on every fetch (on the runner's worker thread):

    {"kind": "departures", "stop_name": "Rathausplatz",
     "departures": [
       {"line": "3", "destination": "Hauptbahnhof", "every_min": 10, "offset_min": 2,
        "delays": [0, 2, 0, 5], "cancelled": [false, false, false, false, false, true], "platform": "A"},
       {"line": "X7", "destination": "Flughafen", "in_min": 4, "delay_min": 3}]}

- `every_min` + `offset_min`: a line running every N minutes at minute offsets of the wall clock (trips at
  hh:02, hh:12, ...); the n-th trip of the day takes `delays[n % len]` and `cancelled[n % len]`. This counts down
  for real and never runs out.
- `in_min`: one trip N minutes after the fetch (good for a fixed preview; it does not count down between fetches).

Other kinds (see docs/widgets.md for complete examples):
- `weather`:  {"station", "observed_min_ago", "values": {"lufttemperatur": {"value": 3.5}, ...}}
- `press`:    {"items": [{"title", "content" (may be HTML), "age_min"}]}
- `events`:   {"items": [{"name", "day": 0, "time": "18:00", "duration_min", "place", "category", "cancelled"}]}
              (`day` is days from today, local time; or `start_in_min`)
- `sensors`:  {"readings": [{"station", "name", "value", "unit", "order"}]}
- `warnings`: {"items": [{"id", "severity", "headline", "description", "instruction", "provider",
              "sent_min_ago", "expires_in_min"}]}
- `generic`:  {"items": [{"title", "text", "age_min", "value"}]}

The values are the same dataclasses the real feeds return, built by the same translation functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from player.feeds.base import BERLIN, Feed
from player.feeds.departures import Departure, Departures, departure_from_row
from player.feeds.events import Events, event_from_object
from player.feeds.fields import Clock, as_dict, as_list, clean_line, system_clock, to_float
from player.feeds.generic import GenericItems, item_from_entry
from player.feeds.press import PressReleases, press_releases_from_objects
from player.feeds.sensors import SensorReadings, readings_from_objects
from player.feeds.warnings import MAX_WARNINGS, PublicWarning, Warnings, severity
from player.feeds.weather import WeatherReport, weather_from_object

KINDS = ("departures", "weather", "press", "events", "sensors", "warnings", "generic")
MAX_FILE_BYTES = 2_000_000
HORIZON = timedelta(hours=3)  # periodic departures are generated this far ahead

SampleValue = Departures | WeatherReport | PressReleases | Events | SensorReadings | Warnings | GenericItems


class SampleError(ValueError):
    """The sample file is missing, outside the content folder, not JSON or not of a known kind."""


def check_relative(relative: Any) -> str:
    """Lexical check (no disk access): a relative path that cannot leave the folder. Raises SampleError."""
    if not isinstance(relative, str) or not relative.strip():
        raise SampleError("sample feed: 'file' must name a JSON file relative to the content folder")
    parts = relative.replace("\\", "/").split("/")
    if relative.startswith(("/", "\\")) or ":" in parts[0] or ".." in parts:
        raise SampleError(f"sample file {relative[:200]!r}: the path must stay inside the content folder "
                          "(relative, no '..')")
    return relative


def resolve_inside(folder: str | Path, relative: str) -> Path:
    """*relative* inside *folder* (symlinks followed); raises SampleError when it would leave the folder."""
    check_relative(relative)
    root = Path(folder).resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise SampleError(f"sample file {relative!r}: the path must stay inside the content folder {root}")
    return path


def _iso(when: datetime) -> str:
    return when.isoformat()


def _minutes(value: Any, default: float = 0.0) -> float:
    number = to_float(value)
    if number is None or abs(number) > 7 * 24 * 60:
        return default
    return number


def _pick(seq: Any, index: int, default: Any) -> Any:
    items = as_list(seq, 1000)
    return items[index % len(items)] if items else default


def sample_departures(doc: Mapping[str, Any], now: datetime, tz: tzinfo = BERLIN,
                      max_rows: int = 40) -> Departures:
    rows: list[dict[str, Any]] = []
    local = now.astimezone(tz)
    midnight = datetime.combine(local.date(), time(0), tzinfo=tz)
    for entry in as_list(doc.get("departures"), 200):
        spec = as_dict(entry)
        base = {"shortName": spec.get("line"), "name": spec.get("destination"), "platform": spec.get("platform")}
        every = _minutes(spec.get("every_min"))
        if every >= 1:
            offset = _minutes(spec.get("offset_min")) % every
            # first trip that has not left yet (trips up to 5 minutes back, in case of a delay)
            n = int(((local - midnight).total_seconds() / 60 - offset - 5) // every)
            while True:
                planned = midnight + timedelta(minutes=offset + n * every)
                if planned > now + HORIZON:
                    break
                delay = _minutes(_pick(spec.get("delays"), n, 0))
                estimated = planned + timedelta(minutes=delay)
                row = {**base, "departureTimePlanned": _iso(planned),
                       "departureTimeEstimated": _iso(estimated) if spec.get("delays") is not None else None,
                       "isCancelled": _pick(spec.get("cancelled"), n, False) is True}
                if estimated >= now:
                    rows.append(row)
                n += 1
        elif spec.get("in_min") is not None:
            planned = now + timedelta(minutes=_minutes(spec.get("in_min")))
            planned = planned.replace(second=0, microsecond=0)
            delay_min = spec.get("delay_min")
            rows.append({**base, "departureTimePlanned": _iso(planned),
                         "departureTimeEstimated": _iso(planned + timedelta(minutes=_minutes(delay_min)))
                         if delay_min is not None else None,
                         "isCancelled": spec.get("cancelled") is True})
    deps: list[Departure] = []
    for row in rows:
        dep = departure_from_row(row, now, tz)
        if dep is not None:
            deps.append(dep)
    deps.sort(key=lambda d: (d.expected, d.line, d.destination))
    return Departures(stop_name=clean_line(doc.get("stop_name"), 120), departures=tuple(deps[:max_rows]))


def sample_weather(doc: Mapping[str, Any], now: datetime) -> WeatherReport:
    observed = now - timedelta(minutes=_minutes(doc.get("observed_min_ago"), 5))
    obj = {"shortName": doc.get("station"), "dateObserved": _iso(observed), "values": doc.get("values")}
    return weather_from_object(obj, keys=None)


def sample_press(doc: Mapping[str, Any], now: datetime) -> PressReleases:
    objs = []
    for i, entry in enumerate(as_list(doc.get("items"), 1000)):
        spec = as_dict(entry)
        objs.append({"objectId": f"sample-{i}", "title": spec.get("title"), "content": spec.get("content"),
                     "date": _iso(now - timedelta(minutes=_minutes(spec.get("age_min"), 60.0 * i))),
                     "imageUrl": spec.get("image_url")})
    return PressReleases(items=press_releases_from_objects(objs, now, max_items=int(_minutes(doc.get("max_items"),
                                                                                          10) or 10)))


def sample_events(doc: Mapping[str, Any], now: datetime, tz: tzinfo = BERLIN) -> Events:
    local_day = datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz)
    items = []
    for i, entry in enumerate(as_list(doc.get("items"), 1000)):
        spec = as_dict(entry)
        if spec.get("start_in_min") is not None:
            start = now + timedelta(minutes=_minutes(spec.get("start_in_min")))
        else:
            clock = clean_line(spec.get("time"), 5) or "00:00"
            try:
                hh, mm = (int(x) for x in clock.split(":"))
                at = time(hh, mm)
            except ValueError:
                at = time(0)
            day = local_day + timedelta(days=int(_minutes(spec.get("day"))))
            start = datetime.combine(day.date(), at, tzinfo=tz)
        duration = _minutes(spec.get("duration_min"), 120)
        obj = {"objectId": f"sample-{i}", "name": spec.get("name"), "description": spec.get("description"),
               "startDate": _iso(start), "endDate": _iso(start + timedelta(minutes=duration)),
               "location": {"address": spec.get("place")}, "category": spec.get("category"),
               "eventStatus": "EventCancelled" if spec.get("cancelled") is True else "EventScheduled"}
        item = event_from_object(obj)
        if item is not None and (item.end or item.start) >= now:
            items.append(item)
    items.sort(key=lambda e: (e.start, e.name))
    return Events(items=tuple(items[:100]))


def sample_sensors(doc: Mapping[str, Any]) -> SensorReadings:
    objs = []
    for i, entry in enumerate(as_list(doc.get("readings"), 2000)):
        spec = as_dict(entry)
        objs.append({"objectId": f"sample-{i}", "value": spec.get("value"),
                     "sensorType": {"name": spec.get("name"), "unit": spec.get("unit"), "order": spec.get("order", i)},
                     "station": {"name": spec.get("station")}})
    return SensorReadings(readings=readings_from_objects(objs))


def sample_warnings(doc: Mapping[str, Any], now: datetime) -> Warnings:
    from player.feeds.plaintext import plain_text

    items = []
    for i, entry in enumerate(as_list(doc.get("items"), 1000)):
        spec = as_dict(entry)
        headline = plain_text(spec.get("headline"), 300)
        if not headline:
            continue
        expires = spec.get("expires_in_min")
        warning = PublicWarning(
            id=clean_line(spec.get("id"), 200) or f"sample-{i}", severity=severity(spec.get("severity")),
            headline=headline, sent=now - timedelta(minutes=_minutes(spec.get("sent_min_ago"), 30)),
            description=plain_text(spec.get("description"), 3000, paragraphs=True),
            instruction=plain_text(spec.get("instruction"), 2000, paragraphs=True),
            provider=clean_line(spec.get("provider"), 40),
            expires=now + timedelta(minutes=_minutes(expires)) if expires is not None else None,
            region=clean_line(spec.get("region"), 12) or "")
        if warning.expires is None or warning.expires >= now:
            items.append(warning)
    items.sort(key=lambda w: (-w.rank, -(w.sent.timestamp() if w.sent else 0), w.id))
    return Warnings(items=tuple(items[:MAX_WARNINGS]))


def sample_generic(doc: Mapping[str, Any], now: datetime) -> GenericItems:
    out = []
    fields = {"title": "title", "text": "text", "time": "time", "value": "value"}
    for entry in as_list(doc.get("items"), 10_000):
        spec = dict(as_dict(entry))
        if spec.get("age_min") is not None:
            spec["time"] = _iso(now - timedelta(minutes=_minutes(spec.get("age_min"))))
        item = item_from_entry(spec, fields)
        if item is not None:
            out.append(item)
        if len(out) >= 50:
            break
    return GenericItems(items=tuple(out))


def sample_value(doc: Any, now: datetime, tz: tzinfo = BERLIN) -> SampleValue:
    """A sample document -> the value the real feed of that kind would return. Raises SampleError."""
    if not isinstance(doc, Mapping):
        raise SampleError("a sample file must hold a JSON object with a 'kind'")
    kind = doc.get("kind")
    if kind == "departures":
        return sample_departures(doc, now, tz)
    if kind == "weather":
        return sample_weather(doc, now)
    if kind in ("press", "news"):
        return sample_press(doc, now)
    if kind == "events":
        return sample_events(doc, now, tz)
    if kind == "sensors":
        return sample_sensors(doc)
    if kind == "warnings":
        return sample_warnings(doc, now)
    if kind == "generic":
        return sample_generic(doc, now)
    raise SampleError(f"unknown sample kind {str(kind)[:40]!r} (known: {', '.join(KINDS)})")


_VALUE_TYPES: dict[str, type[Any]] = {
    "departures": Departures, "weather": WeatherReport, "press": PressReleases, "news": PressReleases,
    "events": Events, "sensors": SensorReadings, "warnings": Warnings, "generic": GenericItems,
}


class SampleFeed(Feed[Any]):
    """Reads *file* (relative to *content_dir*, never outside it) on every fetch, on the runner's thread.

    *content_dir* may be a list of folders: the first one whose file can be read is used (a USB stick, then the
    player's copy of it: player/sources/folder_copy.py). The constructor does no disk access (it may run on the GUI
    thread); a missing or broken file is a failed fetch, logged once by the runner.
    """

    persist = False  # nothing worth keeping across a restart: the file is always there
    value_type: type[Any] = GenericItems

    def __init__(self, content_dir: str | Path | Sequence[str | Path], file: str, *, name: str = "sample",
                 kind: str | None = None,
                 interval_s: float = 30, timeout_s: float = 5, stale_after_s: float = 600,
                 clock: Clock = system_clock, tz: tzinfo = BERLIN) -> None:
        super().__init__(name, interval_s=interval_s, timeout_s=timeout_s, stale_after_s=stale_after_s)
        dirs = [content_dir] if isinstance(content_dir, (str, Path)) else list(content_dir)
        if not dirs:
            raise SampleError("sample feed: no content folder")
        self.content_dirs = [Path(d) for d in dirs]
        self.file = check_relative(file)
        self.clock = clock
        self.tz = tz
        if kind is not None:
            if kind not in _VALUE_TYPES:
                raise SampleError(f"unknown sample kind {kind!r} (known: {', '.join(KINDS)})")
            self.value_type = _VALUE_TYPES[kind]

    def read(self) -> Any:
        for folder in self.content_dirs[:-1]:
            try:
                return self._read_from(folder)
            except OSError:  # not readable there (a pulled stick): the next folder; broken JSON is not skipped
                continue
        return self._read_from(self.content_dirs[-1])

    def _read_from(self, folder: Path) -> Any:
        path = resolve_inside(folder, self.file)
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SampleError(f"{path}: {size} bytes, more than the {MAX_FILE_BYTES} allowed for samples")
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SampleError(f"{path}: not a JSON document ({exc})") from None

    def fetch(self) -> Any:
        value = sample_value(self.read(), self.clock(), self.tz)
        self.value_type = type(value)
        return value
