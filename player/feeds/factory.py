"""Feed objects from a screen document's `feeds` section. No Qt, no disk or network access here.

    "feeds": {
      "bus":      {"type": "departures", "lat": 49.87, "lon": 8.65, "interval_s": 30},
      "nina":     {"type": "warnings", "base_url": "https://.../api31", "regions": ["064110000000"]},
      "news":     {"type": "generic", "url": "https://...", "items": "/data", "fields": {"title": "headline"}},
      "demo-bus": {"type": "sample", "file": "data/departures.json"},
      "twin":     {"type": "twin", "districts": ["3"], "max_items": 3}
    }

Hub feeds (departures, weather, press, events, sensors, pois) need a ParseClient; without a hub they are skipped with
one log line. The `twin` feed (digital-twin push messages) takes its broker from the [twin] section of
player.toml (`twin=` here); without a broker URL it is skipped with one log line. An unknown type or a bad option gives one log line naming the feed and the option; that feed is
skipped, the others are built. Keys the UI reads (`severe`, `severe_min`, comments) are accepted and ignored here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from player.feeds.base import Feed
from player.feeds.fields import Clock, system_clock

log = logging.getLogger(__name__)

# options read by the UI (player/ui/live.py), not by the feed itself
UI_KEYS = {"type", "severe", "severe_min", "comment", "$comment", "description"}
COMMON = {"interval_s": "number", "timeout_s": "number", "stale_after_s": "number"}

# type -> option -> kind of value ("number", "int", "string", "bool", "strings", "mapping", "keys")
OPTIONS: dict[str, dict[str, str]] = {
    "departures": {"lat": "number", "lon": "number", "max_rows": "int", "stop_name": "string"},
    "weather": {"lat": "number", "lon": "number", "keys": "keys", "max_distance_km": "number",
                "class_name": "string"},
    "press": {"max_items": "int", "max_text": "int", "class_name": "string"},
    "events": {"horizon_days": "number", "max_items": "int", "max_text": "int", "class_name": "string"},
    "sensors": {"stations": "strings", "locale": "string", "max_items": "int"},
    "pois": {"lat": "number", "lon": "number", "max_items": "int", "max_distance_km": "number", "function": "string",
             "categories": "strings"},
    "warnings": {"base_url": "string", "regions": "strings", "min_severity": "string", "details": "bool",
                 "headers": "mapping", "max_body_bytes": "int"},
    "generic": {"url": "string", "items": "string", "fields": "mapping", "max_items": "int", "max_text": "int",
                "sort_by_time": "bool", "headers": "mapping", "max_body_bytes": "int"},
    "sample": {"file": "string", "kind": "string"},
    "twin": {"url": "string", "vhost": "string", "destination": "string", "districts": "strings",
             "event_types": "strings", "min_severity": "string", "max_items": "int", "max_text": "int",
             "push_interval_s": "number"},
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "departures": ("lat", "lon"), "weather": ("lat", "lon"), "pois": ("lat", "lon"), "warnings": ("base_url", "regions"),
    "generic": ("url",), "sample": ("file",),
}
HUB_TYPES = {"departures", "weather", "press", "events", "sensors", "pois"}
ALIASES = {"places": "pois", "news": "press", "nina": "warnings", "json": "generic", "environment": "sensors", "digital_twin": "twin"}


class FeedConfigError(ValueError):
    """One bad option of one feed; the message names both."""


def _check(feed: str, key: str, kind: str, value: Any) -> Any:
    def bad(expected: str) -> FeedConfigError:
        return FeedConfigError(f"feed '{feed}': option '{key}' must be {expected}, got {value!r:.60}; feed skipped")

    if kind in ("number", "int"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise bad("a number")
        if kind == "int" and (not float(value).is_integer() or value < 0):
            raise bad("a whole number >= 0")
        return int(value) if kind == "int" else float(value)
    if kind == "string":
        if not isinstance(value, str) or not value.strip():
            raise bad("a non-empty text")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if kind in ("strings", "keys"):
        if kind == "keys" and value is None:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise bad("a list of texts")
        return list(value)
    if kind == "mapping":
        if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                     for k, v in value.items()):
            raise bad("an object of texts")
        return dict(value)
    raise AssertionError(kind)  # pragma: no cover


@dataclass
class BuiltFeeds:
    feeds: list[Feed[Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line per skipped feed (also logged)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> the raw options of built feeds


def _construct(kind: str, name: str, options: dict[str, Any], *, client: Any,
               content_dir: str | Path | Sequence[str | Path] | None,
               clock: Clock, twin: Mapping[str, Any] | None = None) -> Feed[Any]:
    common = {k: options.pop(k) for k in list(options) if k in COMMON}
    if kind == "departures":
        from player.feeds.departures import DeparturesFeed

        return DeparturesFeed(client, options.pop("lat"), options.pop("lon"), name=name, clock=clock,
                              **common, **options)
    if kind == "weather":
        from player.feeds.weather import WeatherFeed

        return WeatherFeed(client, options.pop("lat"), options.pop("lon"), name=name, **common, **options)
    if kind == "press":
        from player.feeds.press import PressFeed

        return PressFeed(client, name=name, clock=clock, **common, **options)
    if kind == "events":
        from player.feeds.events import EventsFeed

        return EventsFeed(client, name=name, clock=clock, **common, **options)
    if kind == "sensors":
        from player.feeds.sensors import SensorsFeed

        return SensorsFeed(client, name=name, **common, **options)
    if kind == "pois":
        from player.feeds.places import PlacesFeed

        return PlacesFeed(client, options.pop("lat"), options.pop("lon"), name=name, **common, **options)
    if kind == "warnings":
        from player.feeds.warnings import WarningsFeed

        return WarningsFeed(options.pop("base_url"), options.pop("regions"), name=name, clock=clock,
                            **common, **options)
    if kind == "generic":
        from player.feeds.generic import GenericJsonFeed

        return GenericJsonFeed(options.pop("url"), name=name, **common, **options)
    if kind == "sample":
        from player.feeds.sample import SampleFeed

        if content_dir is None:
            raise FeedConfigError(f"feed '{name}': sample feeds need a content folder (folder source); feed skipped")
        return SampleFeed(content_dir, options.pop("file"), name=name, clock=clock, **common, **options)
    if kind == "twin":
        from player.feeds.twin import TwinFeed, connection_from_options

        try:
            conn = connection_from_options(twin, options)
        except ValueError as exc:
            raise FeedConfigError(f"feed '{name}': {exc}") from None
        for key in ("url", "vhost", "destination"):
            options.pop(key, None)
        if "districts" not in options and twin and twin.get("districts"):
            options["districts"] = [str(d) for d in twin["districts"]]
        return TwinFeed(conn, name=name, clock=clock, **common, **options)
    raise AssertionError(kind)  # pragma: no cover


def build_feeds(section: Mapping[str, Any] | None, *, client: Any = None,
                content_dir: str | Path | Sequence[str | Path] | None = None,
                clock: Clock = system_clock, logger: logging.Logger = log,
                twin: Mapping[str, Any] | None = None) -> BuiltFeeds:
    """The feeds of a screen document. Never raises for bad documents: bad feeds are logged and skipped.
    *twin*: the [twin] settings of player.toml (broker URL, vhost, login, passcode, ...) for `twin` feeds."""
    out = BuiltFeeds()
    # one folder, or several tried in order by the sample feeds (a USB stick, then the player's copy of it);
    # SampleFeed makes paths of them
    folder = content_dir or None
    hub_missing: list[str] = []

    def problem(line: str) -> None:
        out.problems.append(line)
        logger.warning("%s", line)

    if not isinstance(section, Mapping):
        if section is not None:
            problem(f"feeds: expected an object of named feeds, got {type(section).__name__}; no feeds")
        return out
    for name, raw in list(section.items())[:100]:
        if not isinstance(name, str) or not name:
            problem(f"feeds: a feed name must be a non-empty text, got {name!r:.40}; feed skipped")
            continue
        if not isinstance(raw, Mapping):
            problem(f"feed '{name}': must be an object with a 'type', got {type(raw).__name__}; feed skipped")
            continue
        kind = raw.get("type")
        kind = ALIASES.get(kind, kind) if isinstance(kind, str) else kind
        if kind not in OPTIONS:
            problem(f"feed '{name}': unknown type {str(kind)[:40]!r} (known: {', '.join(sorted(OPTIONS))}); "
                    "feed skipped")
            continue
        if kind in HUB_TYPES and client is None:
            hub_missing.append(name)
            continue
        allowed = {**COMMON, **OPTIONS[kind]}
        unknown = sorted(k for k in raw if k not in allowed and k not in UI_KEYS)
        if unknown:
            problem(f"feed '{name}': unknown option(s) {', '.join(map(str, unknown))} for type '{kind}' "
                    f"(known: {', '.join(sorted(allowed))}); feed skipped")
            continue
        missing = [k for k in REQUIRED.get(kind, ()) if raw.get(k) is None]
        if missing:
            problem(f"feed '{name}': missing option(s) {', '.join(missing)} for type '{kind}'; feed skipped")
            continue
        try:
            options = {k: _check(name, k, allowed[k], v) for k, v in raw.items() if k in allowed}
            feed = _construct(kind, name, options, client=client, content_dir=folder, clock=clock, twin=twin)
        except FeedConfigError as exc:
            problem(str(exc))
            continue
        except (TypeError, ValueError, KeyError) as exc:
            problem(f"feed '{name}': {' '.join(str(exc).split())[:200]}; feed skipped")
            continue
        out.feeds.append(feed)
        out.configs[name] = dict(raw)
    if hub_missing:
        line = (f"feeds {', '.join(repr(n) for n in hub_missing)} need the city's hub, and this screen has none "
                "(source type 'folder'); skipped")
        out.problems.append(line)
        logger.warning("%s", line)
    return out

