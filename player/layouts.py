"""Load and validate screen documents (``screen.json``) and layout templates into the model.

Every problem is reported as one line ``file: json.path: what is wrong``. Problems come in two grades:
- *errors* make the document unusable (not JSON, no layouts, unknown default layout, ...): loading fails;
- *defects* affect one part only (an unknown item type, a zone outside the canvas, a bad colour): the part is
  dropped or repaired, the rest plays. ``osc-player validate`` treats both as failures; the player logs defects
  once and plays the rest.

Imports nothing of the project but the model.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from player.atomic import open_regular
from player.model import (
    ALWAYS,
    ClockItem,
    EntryMode,
    Fit,
    HAlign,
    ImageItem,
    Item,
    Layout,
    QrItem,
    Schedule,
    ScheduleEntry,
    Screen,
    TextItem,
    TextStyle,
    TickerItem,
    TimeWindow,
    Transition,
    Validity,
    VAlign,
    VideoItem,
    WebItem,
    WidgetItem,
    Zone,
)
from player.schedule import schedule_problems, validity_problems

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "layouts"
MAX_CANVAS = 16384
MAX_ITEMS_PER_ZONE = 10_000
MAX_ZONES = 64
MAX_TEXT = 20_000
MAX_DEPTH = 32
MIN_YEAR, MAX_YEAR = 2, 9998  # date bounds outside this (e.g. 9999-12-31 = 'forever') count as open

WEEKDAYS = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "mo": 0, "di": 1, "mi": 2, "do": 3, "fr": 4, "sa": 5, "so": 6,
}  # fmt: skip
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\u2028\u2029\ud800-\udfff]")


@dataclass
class Problem:
    where: str
    message: str
    fatal: bool

    def line(self, origin: str) -> str:
        # keys and values come from the document: keep the report one printable line (no newlines, NULs, lone
        # surrogates that a UTF-8 log cannot write)
        return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256
                                else f"\\u{ord(m.group()):04x}", f"{origin}: {self.where}: {self.message}")


class DocumentError(Exception):
    """The document cannot be used. ``lines`` holds one line per problem."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass
class Loaded:
    screen: Screen
    defects: list[str] = field(default_factory=list)  # one line each; the affected parts were dropped


class _Reader:
    """Walks a JSON document while keeping the JSON path, collecting problems instead of raising."""

    def __init__(self, timezone: str = "Europe/Berlin") -> None:
        self.path: list[str] = ["$"]
        self.problems: list[Problem] = []
        self.timezone = timezone  # of items' validity (the player's zone): for the checks that need local time

    @property
    def where(self) -> str:
        out = ""
        for part in self.path:
            out += part if part.startswith("[") or part == "$" else "." + part
        return out

    @contextmanager
    def at(self, part: str | int) -> Iterator[None]:
        self.path.append(f"[{part}]" if isinstance(part, int) else _short(part, 80))
        try:
            yield
        finally:
            self.path.pop()

    def defect(self, message: str) -> None:
        self.problems.append(Problem(self.where, message, fatal=False))

    def error(self, message: str) -> None:
        self.problems.append(Problem(self.where, message, fatal=True))

    # typed field access: report and return the default on a bad value ------------------------------------
    def get(self, obj: dict[str, Any], key: str, types: type | tuple[type, ...], default: Any,
            fatal: bool = False) -> Any:
        if key not in obj or obj[key] is None:
            return default
        value = obj[key]
        if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            ok = False
        else:
            ok = isinstance(value, types)
        if not ok:
            names = "/".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
            with self.at(key):
                (self.error if fatal else self.defect)(f"expected {_json_type(names)}, got {_describe(value)}")
            return default
        return value

    def number(self, obj: dict[str, Any], key: str, default: float | None, lo: float, hi: float,
               fatal: bool = False) -> float | None:
        value = self.get(obj, key, (int, float), default, fatal)
        if value is None:
            return None
        if not (lo <= value <= hi):
            with self.at(key):
                (self.error if fatal else self.defect)(f"{value} is out of range {lo:g}..{hi:g}")
            return default
        return value

    def integer(self, obj: dict[str, Any], key: str, default: int, lo: int, hi: int, fatal: bool = False) -> int:
        value = self.get(obj, key, int, default, fatal)
        if not (lo <= value <= hi):
            with self.at(key):
                (self.error if fatal else self.defect)(f"{value} is out of range {lo}..{hi}")
            return default
        return int(value)

    def string(self, obj: dict[str, Any], key: str, default: Any = "", max_len: int = MAX_TEXT) -> Any:
        value = self.get(obj, key, str, default)
        if isinstance(value, str) and len(value) > max_len:
            with self.at(key):
                self.defect(f"text longer than {max_len} characters, cut")
            value = value[:max_len]
        return value

    def color(self, obj: dict[str, Any], key: str, default: Any) -> Any:
        value = self.get(obj, key, str, default)
        if value is default:
            return default
        if not _COLOR.match(value):
            with self.at(key):
                self.defect(f"'{_short(value)}' is not a colour; use #rrggbb or #aarrggbb")
            return default
        return value

    def choice(self, obj: dict[str, Any], key: str, enum: Any, default: Any) -> Any:
        value = self.get(obj, key, str, None)
        if value is None:
            return default
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(e.value for e in enum)
            with self.at(key):
                self.defect(f"'{_short(value)}' is not one of: {allowed}")
            return default

    def unknown_keys(self, obj: dict[str, Any], known: set[str]) -> None:
        for key in obj:
            if key not in known and not key.startswith("_") and key != "$comment":
                with self.at(key):
                    self.defect("unknown key (typo?)")


def _json_type(py: str) -> str:
    return py.replace("dict", "object").replace("list", "array").replace("str", "string").replace(
        "int/float", "number").replace("int", "integer").replace("bool", "boolean")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    return _json_type(type(value).__name__) + (f" {_short(repr(value))}" if isinstance(value, (int, float, str)) else "")


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _depth(value: Any, limit: int) -> int:
    """Nesting depth, stopping early once ``limit`` is exceeded (hostile documents nest thousands deep)."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node)
    return deepest


# --------------------------------------------------------------------------------------------------- validity
def _parse_bound(r: _Reader, obj: dict[str, Any], key: str, is_end: bool) -> datetime | None:
    raw = r.get(obj, key, str, None)
    if raw is None:
        return None
    with r.at(key):
        try:
            if len(raw) == 10:  # a date: a start means that day's 00:00; an end includes the whole day
                dt = datetime.combine(date.fromisoformat(raw), time())
            else:
                dt = datetime.fromisoformat(raw)
        except ValueError:
            r.defect(f"'{_short(raw)}' is not a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM[:SS][+01:00])")
            return None
        if not MIN_YEAR <= dt.year <= MAX_YEAR:  # the resolver shifts bounds by days and UTC offsets
            if (dt.year > MAX_YEAR) == is_end:  # "until 9999-12-31" / "since 0001-01-01": no bound at all
                return None
            r.defect(f"'{_short(raw)}': the year must be in {MIN_YEAR}..{MAX_YEAR}")
            return None
        return dt + timedelta(days=1) if is_end and len(raw) == 10 else dt


def _parse_time(r: _Reader, raw: Any) -> time | None:
    if raw == "24:00":
        return time(0, 0)
    if not isinstance(raw, str) or not (m := _TIME.match(raw)):
        r.defect(f"'{_short(str(raw))}' is not a time of day (HH:MM)")
        return None
    return time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def parse_validity(r: _Reader, obj: dict[str, Any]) -> Validity:
    """Reads ``start``, ``end``, ``weekdays``, ``times`` from ``obj`` (an item's ``valid`` or a schedule entry).
    Reports what cannot be read; what is readable but wrong (end before start, never active) is the business of
    :func:`player.schedule.validity_problems`, the one validator (see :func:`check_validity`)."""
    start = _parse_bound(r, obj, "start", is_end=False)
    end = _parse_bound(r, obj, "end", is_end=True)
    days: set[int] = set()
    raw_days = r.get(obj, "weekdays", list, [])
    with r.at("weekdays"):
        for i, raw in enumerate(raw_days[:7 * 4]):
            with r.at(i):
                key = raw.lower()[:3] if isinstance(raw, str) else None
                key = key if key in WEEKDAYS else (raw.lower()[:2] if isinstance(raw, str) else None)
                if key not in WEEKDAYS:
                    r.defect(f"'{_short(str(raw))}' is not a weekday (mon..sun or mo..so)")
                else:
                    days.add(WEEKDAYS[key])
    windows: list[TimeWindow] = []
    raw_times = r.get(obj, "times", list, [])
    with r.at("times"):
        for i, raw in enumerate(raw_times[:48]):
            with r.at(i):
                if not isinstance(raw, dict):
                    r.defect('expected {"from": "HH:MM", "to": "HH:MM"}')
                    continue
                with r.at("from"):
                    t_from = _parse_time(r, raw.get("from"))
                with r.at("to"):
                    t_to = _parse_time(r, raw.get("to"))
                if t_from is not None and t_to is not None:
                    windows.append(TimeWindow(t_from, t_to))
    if start is None and end is None and not days and not windows:
        return ALWAYS
    return Validity(start=start, end=end, weekdays=frozenset(days), windows=tuple(windows))


def check_validity(r: _Reader, validity: Validity, timezone: str) -> None:
    """The checks of the one validator (:func:`player.schedule.validity_problems`), one defect per problem, at the
    field's JSON path below the current one."""
    for field_path, message in validity_problems(validity, timezone):
        where = r.where + ("." + field_path if field_path else "")
        r.problems.append(Problem(where, message, fatal=False))


# ------------------------------------------------------------------------------------------------------ items
_STYLE_KEYS = {"font_size", "color", "background", "font_family", "bold", "align", "valign", "padding"}
_COMMON_KEYS = {"type", "id", "duration", "valid"}
_ITEM_KEYS: dict[str, set[str]] = {
    "image": {"src", "fit", "transition", "transition_ms"},
    "video": {"src", "fit", "volume", "loop"},
    "text": {"text", "wrap"} | _STYLE_KEYS,
    "ticker": {"text", "speed", "separator"} | _STYLE_KEYS,
    "clock": {"format", "date_format", "timezone"} | _STYLE_KEYS,
    "qr": {"data", "caption", "foreground"} | _STYLE_KEYS,
    "widget": {"widget", "feed", "options"},
    "web": {"url", "reload_s", "zoom"},
}
WIDGET_KINDS = {"departures", "weather", "news", "news_ticker", "events", "sensors", "warnings", "clock", "empty",
                "map", "pois", "image", "twin_messages"}


def _style(r: _Reader, obj: dict[str, Any], base: TextStyle) -> TextStyle:
    return TextStyle(
        font_size=r.integer(obj, "font_size", base.font_size, 6, 1000),
        color=r.color(obj, "color", base.color),
        background=r.color(obj, "background", base.background),
        font_family=r.string(obj, "font_family", base.font_family, 200),
        bold=r.get(obj, "bold", bool, base.bold),
        align=r.choice(obj, "align", HAlign, base.align),
        valign=r.choice(obj, "valign", VAlign, base.valign),
        padding=r.integer(obj, "padding", base.padding, 0, 1000),
    )


def _src(r: _Reader, obj: dict[str, Any]) -> str | None:
    src = r.string(obj, "src", "", 2000)
    with r.at("src"):
        if not src:
            r.defect("missing: the media file (path relative to screen.json, or an http(s) URL)")
            return None
        if _UNPRINTABLE.search(src):
            r.defect(f"'{_short(src)}': control characters are not allowed in a file name or URL")
            return None
        if ":" in src.split("/")[0] and not src.startswith(("http://", "https://")):
            r.defect(f"'{_short(src)}': only relative paths and http(s) URLs are allowed")
            return None
        if not src.startswith(("http://", "https://")):
            parts = src.replace("\\", "/").split("/")
            if parts[0] == "" or ".." in parts:  # a leading "/" or "\\" (after normalising backslashes)
                r.defect(f"'{_short(src)}': a path must stay inside the content folder (no '..', no leading '/')")
                return None
    return src


def parse_item(r: _Reader, obj: Any, default_id: str) -> Item | None:
    if not isinstance(obj, dict):
        r.defect(f"an item must be an object, got {_describe(obj)}; item skipped")
        return None
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in _ITEM_KEYS:
        with r.at("type"):
            allowed = ", ".join(sorted(_ITEM_KEYS))
            r.defect(f"unknown item type '{_short(str(kind))}' (known: {allowed}); item skipped")
        return None
    r.unknown_keys(obj, _COMMON_KEYS | _ITEM_KEYS[kind])
    item_id = r.get(obj, "id", str, default_id)
    if not _ID.match(item_id):
        with r.at("id"):
            r.defect("ids use letters, digits and _.:- (at most 128)")
        item_id = default_id
    default_duration: float | None = None if kind == "video" else 10.0
    duration = r.number(obj, "duration", default_duration, 0.1, 31 * 24 * 3600)
    raw_valid = r.get(obj, "valid", dict, None)
    validity = ALWAYS
    if raw_valid is not None:
        with r.at("valid"):
            r.unknown_keys(raw_valid, {"start", "end", "weekdays", "times"})
            n_before = len(r.problems)
            validity = parse_validity(r, raw_valid)
            if len(r.problems) == n_before:  # only what could be read completely is checked further
                check_validity(r, validity, r.timezone)
    common: dict[str, Any] = {"id": item_id, "duration": duration, "validity": validity}
    if kind in ("image", "video"):
        src = _src(r, obj)
        if src is None:
            return None
        if kind == "image":
            return ImageItem(src=src, fit=r.choice(obj, "fit", Fit, Fit.CONTAIN),
                             transition=r.choice(obj, "transition", Transition, Transition.CUT),
                             transition_ms=r.integer(obj, "transition_ms", 600, 0, 10_000), **common)
        return VideoItem(src=src, fit=r.choice(obj, "fit", Fit, Fit.CONTAIN),
                         volume=r.integer(obj, "volume", 0, 0, 100), loop=r.get(obj, "loop", bool, False), **common)
    if kind == "text":
        return TextItem(text=r.string(obj, "text"), style=_style(r, obj, TextStyle()),
                        wrap=r.get(obj, "wrap", bool, True), **common)
    if kind == "ticker":
        base = TickerItem(id="_")
        return TickerItem(text=r.string(obj, "text"), speed=float(r.number(obj, "speed", 120.0, 5, 2000) or 120),
                          separator=r.string(obj, "separator", base.separator, 50),
                          style=_style(r, obj, base.style), **common)
    if kind == "clock":
        base_c = ClockItem(id="_")
        tz = r.string(obj, "timezone", None, 64)
        if tz is not None:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                with r.at("timezone"):
                    r.defect(f"'{_short(tz)}' is not a known time zone (e.g. Europe/Berlin)")
                tz = None
        return ClockItem(format=r.string(obj, "format", base_c.format, 64),
                         date_format=r.string(obj, "date_format", None, 64), timezone=tz,
                         style=_style(r, obj, base_c.style), **common)
    if kind == "qr":
        base_q = QrItem(id="_")
        data = r.string(obj, "data", "", 2000)
        if not data:
            with r.at("data"):
                r.defect("missing: the text or URL the QR code carries; item skipped")
            return None
        return QrItem(data=data, caption=r.string(obj, "caption", None, 200),
                      foreground=r.color(obj, "foreground", base_q.foreground),
                      background=r.color(obj, "background", base_q.background),
                      style=_style(r, obj, base_q.style), **common)
    if kind == "widget":
        widget = r.string(obj, "widget", "", 64)
        if widget not in WIDGET_KINDS:
            with r.at("widget"):
                r.defect(f"unknown widget '{_short(widget)}' (known: {', '.join(sorted(WIDGET_KINDS))}); "
                         "shown as an empty tile")
            widget = "empty"
        return WidgetItem(widget=widget, feed=r.string(obj, "feed", None, 128),
                          options=dict(r.get(obj, "options", dict, {})), **common)
    url = r.string(obj, "url", "", 2000)
    if not url.startswith(("http://", "https://")):
        with r.at("url"):
            r.defect(f"'{_short(url)}' is not an http(s) URL; item skipped")
        return None
    return WebItem(url=url, reload_s=float(r.number(obj, "reload_s", 0.0, 0, 7 * 86400) or 0),
                   zoom=float(r.number(obj, "zoom", 1.0, 0.1, 10) or 1.0), **common)


# ----------------------------------------------------------------------------------------------------- layouts
_ZONE_KEYS = {"id", "x", "y", "width", "height", "z", "loop", "background", "items"}
_LAYOUT_KEYS = {"template", "width", "height", "background", "background_image", "zones", "name", "description"}


def parse_zone(r: _Reader, obj: Any, index: int, canvas: tuple[int, int], base: Zone | None = None) -> Zone | None:
    if not isinstance(obj, dict):
        r.defect(f"a zone must be an object, got {_describe(obj)}; zone skipped")
        return None
    r.unknown_keys(obj, _ZONE_KEYS)
    zid = r.get(obj, "id", str, base.id if base else f"zone{index + 1}")
    cw, ch = canvas
    x = r.integer(obj, "x", base.x if base else 0, -MAX_CANVAS, MAX_CANVAS)
    y = r.integer(obj, "y", base.y if base else 0, -MAX_CANVAS, MAX_CANVAS)
    w = r.integer(obj, "width", base.width if base else cw, 1, MAX_CANVAS)
    h = r.integer(obj, "height", base.height if base else ch, 1, MAX_CANVAS)
    # clip to the canvas: a zone partly outside is cut, one wholly outside is dropped
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, cw), min(y + h, ch)
    if x1 <= x0 or y1 <= y0:
        r.defect(f"zone '{zid}' ({x},{y} {w}x{h}) lies outside the canvas {cw}x{ch}; zone skipped")
        return None
    if (x0, y0, x1, y1) != (x, y, x + w, y + h):
        r.defect(f"zone '{zid}' ({x},{y} {w}x{h}) reaches outside the canvas {cw}x{ch}; cut to fit")
    items: list[Item] = list(base.items) if base else []
    if "items" in obj:
        items = []
        raw_items = r.get(obj, "items", list, [])
        with r.at("items"):
            if len(raw_items) > MAX_ITEMS_PER_ZONE:
                r.defect(f"{len(raw_items)} items; only the first {MAX_ITEMS_PER_ZONE} are used")
            seen: set[str] = set()
            for i, raw in enumerate(raw_items[:MAX_ITEMS_PER_ZONE]):
                with r.at(i):
                    item = parse_item(r, raw, f"{zid}-{i + 1}")
                if item is not None:
                    if item.id in seen:
                        with r.at(i):
                            r.defect(f"duplicate item id '{item.id}' in zone '{zid}'")
                    seen.add(item.id)
                    items.append(item)
    return Zone(id=zid, x=x0, y=y0, width=x1 - x0, height=y1 - y0, items=tuple(items),
                z=r.integer(obj, "z", base.z if base else index, -1000, 1000),
                loop=r.get(obj, "loop", bool, base.loop if base else True),
                background=r.color(obj, "background", base.background if base else None))


def parse_layout(r: _Reader, name: str, obj: Any, templates_dir: Path) -> Layout | None:
    if not isinstance(obj, dict):
        r.error(f"a layout must be an object, got {_describe(obj)}")
        return None
    r.unknown_keys(obj, _LAYOUT_KEYS)
    base: Layout | None = None
    template = r.get(obj, "template", str, None)
    if template is not None:
        with r.at("template"):
            base = _load_template(r, template, templates_dir)
            if base is None:
                return None
    width = r.integer(obj, "width", base.width if base else 1920, 16, MAX_CANVAS, fatal=True)
    height = r.integer(obj, "height", base.height if base else 1080, 16, MAX_CANVAS, fatal=True)
    background = r.color(obj, "background", base.background if base else "#000000")
    background_image = None
    if obj.get("background_image") is not None:
        background_image = _src(r, {"src": obj["background_image"]})
    elif base:
        background_image = base.background_image
    base_zones = {z.id: z for z in base.zones} if base else {}
    zones: list[Zone] = []
    raw_zones = r.get(obj, "zones", list, None, fatal=True)
    if raw_zones is None and base is None:
        with r.at("zones"):
            r.error("missing: a layout needs a list of zones")
        return None
    with r.at("zones"):
        if raw_zones is not None and len(raw_zones) > MAX_ZONES:
            r.defect(f"{len(raw_zones)} zones; only the first {MAX_ZONES} are used")
        overrides: dict[str, Any] = {}
        new: list[tuple[int, Any]] = []
        for i, raw in enumerate((raw_zones or [])[:MAX_ZONES]):
            if base is not None and isinstance(raw, dict) and isinstance(raw.get("id"), str) \
                    and raw["id"] in base_zones:
                overrides[raw["id"]] = (i, raw)
            else:
                new.append((i, raw))
        for zone in base.zones if base else ():
            if zone.id in overrides:
                i, raw = overrides[zone.id]
                with r.at(i):
                    parsed = parse_zone(r, raw, i, (width, height), base=zone)
                if parsed:
                    zones.append(parsed)
            else:
                zones.append(zone)
        for i, raw in new:
            with r.at(i):
                parsed = parse_zone(r, raw, len(zones), (width, height))
            if parsed:
                zones.append(parsed)
    ids = [z.id for z in zones]
    for dup in {i for i in ids if ids.count(i) > 1}:
        with r.at("zones"):
            r.defect(f"duplicate zone id '{dup}'")
    return Layout(name=name, width=width, height=height, zones=tuple(zones), background=background,
                  background_image=background_image)


_template_cache: dict[Path, Layout] = {}


def template_names(templates_dir: Path = TEMPLATES_DIR) -> list[str]:
    return sorted(p.stem for p in templates_dir.glob("*.json") if not p.name.endswith(".schema.json"))


def _load_template(r: _Reader, name: str, templates_dir: Path) -> Layout | None:
    if name not in template_names(templates_dir):
        r.error(f"unknown template '{_short(name)}' (bundled: {', '.join(template_names(templates_dir))})")
        return None
    path = templates_dir / f"{name}.json"
    if path not in _template_cache:
        try:
            loaded = load_screen(path, templates_dir=templates_dir)
        except DocumentError as exc:
            r.error(f"template '{name}' is broken: {exc.lines[0]}")
            return None
        _template_cache[path] = next(iter(loaded.screen.layouts.values()))
    return _template_cache[path]


# ------------------------------------------------------------------------------------------------------ screen
_SCREEN_KEYS = {"version", "name", "layouts", "layout", "default_layout", "schedule", "feeds", "description",
                "power_schedule"}
_ENTRY_KEYS = {"id", "layout", "priority", "mode", "start", "end", "weekdays", "times"}


def parse_schedule(r: _Reader, obj: dict[str, Any], layout_names: set[str], timezone: str) -> Schedule:
    """Reads the schedule; what cannot be read is reported here, everything else by the one validator
    (:func:`player.schedule.schedule_problems`). One line per problem; an entry that cannot be played as written is
    skipped (its lines say so), a bad default layout makes the document unusable."""
    raw = r.get(obj, "schedule", dict, {}, fatal=True)
    default = r.get(obj, "default_layout", str, None)
    with r.at("schedule"):
        r.unknown_keys(raw, {"default", "timezone", "entries"})
        n_before = len(r.problems)
        default = r.get(raw, "default", str, default, fatal=True)
        unreadable_default = {p.where for p in r.problems[n_before:]}
        if default is None and len(layout_names) == 1:
            default = next(iter(layout_names))
        tz = r.string(raw, "timezone", timezone, 64)
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            with r.at("timezone"):
                r.defect(f"'{_short(tz)}' is not a known time zone; using {timezone}")
            tz = timezone
        entries: list[ScheduleEntry] = []
        paths: list[str] = []
        unreadable: list[set[str]] = []  # per entry: the paths already reported as unreadable
        with r.at("entries"):
            for i, e in enumerate(r.get(raw, "entries", list, [])[:100_000]):
                with r.at(i):
                    if not isinstance(e, dict):
                        r.defect(f"a schedule entry must be an object, got {_describe(e)}; entry skipped")
                        continue
                    r.unknown_keys(e, _ENTRY_KEYS)
                    entry_id = r.get(e, "id", str, f"entry{i + 1}")
                    priority = r.integer(e, "priority", 0, -1_000_000, 1_000_000)
                    mode = r.choice(e, "mode", EntryMode, EntryMode.NORMAL)
                    n_before = len(r.problems)
                    layout = r.get(e, "layout", str, "")
                    validity = parse_validity(r, e)
                    broken = r.problems[n_before:]
                    for problem in broken:  # a broken window would widen the entry: it is skipped instead
                        problem.message += "; entry skipped"
                    unreadable.append({p.where for p in broken})
                    paths.append(f"entries[{i}]")
                    # an unreadable entry is still checked (unknown layout, duplicate id), but not its validity
                    entries.append(ScheduleEntry(id=entry_id, layout=layout, validity=ALWAYS if broken else validity,
                                                 priority=priority, mode=mode))
        schedule = Schedule(default_layout=default or "", entries=tuple(entries), timezone=tz)
        base = r.where
        dropped = {k for k, seen in enumerate(unreadable) if seen}
        for p in schedule_problems(schedule, layout_names, paths):
            where = f"{base}.{p.path}"
            if p.entry is not None and where in unreadable[p.entry]:
                continue  # already said why it cannot be read
            if p.entry is None:
                if where not in unreadable_default:
                    r.problems.append(Problem(where, p.message, fatal=True))  # no usable default layout
                continue
            if p.drops_entry:
                dropped.add(p.entry)
            r.problems.append(Problem(where, p.message + ("; entry skipped" if p.drops_entry else ""), fatal=False))
    if dropped:
        schedule = Schedule(default_layout=schedule.default_layout, timezone=tz,
                            entries=tuple(e for k, e in enumerate(entries) if k not in dropped))
    return schedule


def parse_screen(doc: Any, origin: str, templates_dir: Path = TEMPLATES_DIR,
                 timezone: str = "Europe/Berlin") -> tuple[Screen | None, list[Problem]]:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        timezone = "Europe/Berlin"  # config.py has reported it already
    r = _Reader(timezone)
    if not isinstance(doc, dict):
        r.error(f"the document must be a JSON object, got {_describe(doc)}")
        return None, r.problems
    if _depth(doc, MAX_DEPTH) > MAX_DEPTH:
        r.error(f"nested deeper than {MAX_DEPTH} levels; refusing to read it")
        return None, r.problems
    r.unknown_keys(doc, _SCREEN_KEYS)
    version = r.get(doc, "version", int, 1)
    if version != 1:
        with r.at("version"):
            r.error(f"version {version} is not supported by this player (supports 1)")
    layouts: dict[str, Layout] = {}
    if "layout" in doc and "layouts" not in doc:  # a single-layout document (the bundled templates)
        with r.at("layout"):
            lay = parse_layout(r, r.get(doc.get("layout", {}), "name", str, Path(origin).stem)
                               if isinstance(doc.get("layout"), dict) else "layout", doc["layout"], templates_dir)
        if lay:
            layouts[lay.name] = lay
    else:
        raw_layouts = r.get(doc, "layouts", dict, None, fatal=True)
        if raw_layouts is None:
            with r.at("layouts"):
                r.error('missing: an object of named layouts, e.g. {"main": {"width": 1920, ...}}')
            return None, r.problems
        with r.at("layouts"):
            for name, raw in list(raw_layouts.items())[:256]:
                with r.at(name):
                    lay = parse_layout(r, name, raw, templates_dir)
                if lay:
                    layouts[name] = lay
    if not layouts:
        r.error("no usable layout in the document")
        return None, r.problems
    schedule = parse_schedule(r, doc, set(layouts), timezone)
    feeds = r.get(doc, "feeds", dict, {})
    for name, conf in list(feeds.items()):
        if not isinstance(conf, dict):
            with r.at("feeds"), r.at(name):
                r.defect(f"a feed must be an object, got {_describe(conf)}; feed skipped")
            feeds.pop(name)
    power = r.get(doc, "power_schedule", dict, None)
    if power is not None and not all(isinstance(v, str) or (isinstance(v, list) and all(isinstance(w, str) for w in v))
                                     for v in power.values()):
        with r.at("power_schedule"):
            r.defect('each value must be a text like "06:00-22:00" (or a list of them); power schedule ignored')
        power = None
    screen = Screen(name=r.string(doc, "name", Path(origin).stem, 200), layouts=layouts, schedule=schedule,
                    feeds=feeds, power_schedule=power)
    return screen, r.problems


def load_screen_dict(doc: Any, origin: str, templates_dir: Path = TEMPLATES_DIR,
                     timezone: str = "Europe/Berlin", strict: bool = False) -> Loaded:
    screen, problems = parse_screen(doc, origin, templates_dir, timezone)
    lines = [p.line(origin) for p in problems]
    if screen is None or any(p.fatal for p in problems) or (strict and problems):
        raise DocumentError(lines or [f"{origin}: $: not a usable screen document"])
    return Loaded(screen=screen, defects=lines)


def read_json(path: Path, max_bytes: int = 20_000_000) -> Any:
    """Reads a JSON file; every failure becomes a DocumentError with one line."""
    try:
        with open_regular(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > max_bytes:
                raise DocumentError([f"{path}: $: file is {size} bytes, more than the {max_bytes} allowed"])
            data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:  # grew while it was read
            raise DocumentError([f"{path}: $: file is more than the {max_bytes} bytes allowed"])
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise DocumentError([f"{path}: $: file not found"]) from None
    except UnicodeDecodeError as exc:
        raise DocumentError([f"{path}: $: not UTF-8 text (byte {exc.start})"]) from None
    except OSError as exc:
        raise DocumentError([f"{path}: $: cannot read: {exc.strerror}"]) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError([f"{path}: $: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]) from None
    except RecursionError:
        raise DocumentError([f"{path}: $: nested too deeply to read"]) from None


def load_screen(path: Path, templates_dir: Path = TEMPLATES_DIR, timezone: str = "Europe/Berlin",
                strict: bool = False) -> Loaded:
    return load_screen_dict(read_json(path), str(path), templates_dir, timezone, strict)
