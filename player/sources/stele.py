"""Translation of the hub's Stele* objects into the player's screen document (``screen.json`` format).

Pure functions: no network, no clock, no disk. ``parse_hub.py`` fetches the objects and hands them over as a
:class:`HubContent`; :func:`translate` returns the document, the media it references and one line per problem
(a part that could not be used is skipped, the rest plays). See ``docs/hub.md`` for the mapping.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any
from urllib.parse import unquote, urlsplit

from player.parse_rest import decode_date, decode_file_url, decode_geopoint, decode_pointer
from player.sources.base import MediaSpec
from player.system.display_power import PowerSchedule

__all__ = [
    "HubContent",
    "ScreenStatus",
    "TranslateOptions",
    "Translation",
    "file_host_allowed",
    "name_of",
    "placeholder_document",
    "pointer_id",
    "power_schedule",
    "screen_status",
    "slide_items",
    "translate",
]

DIASHOW = "diashow"
GRID = "grid"
STATE_NAMES = {"aktiv": True, "active": True, "inaktiv": False, "inactive": False}
TYPE_NAMES = {"diashow": DIASHOW, "touchscreen": GRID, "grid": GRID}
VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".webm", ".mkv"}
DEFAULT_SLIDE_S = 10.0
WIDGET_HOLD_S = 3600
TIMETABLE_S = 20.0
_WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_ALIASES = {"mo": 0, "di": 1, "mi": 2, "do": 3, "fr": 4, "sa": 5, "so": 6, "tu": 1, "we": 2, "th": 3,
                    "su": 6}
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")

# tile type name (lower case) -> (widget kind, feed name or None)
TILE_WIDGETS: dict[str, tuple[str, str | None]] = {
    "wetter": ("weather", "weather"),
    "busabfahrten": ("departures", "departures"),
    "pressemitteilungen": ("news", "press"),
    "umwelt": ("sensors", "sensors"),
    "karte": ("map", "pois"),
    "pois": ("pois", "pois"),
}
LOCATED_FEEDS = {"weather", "departures", "pois"}


@dataclass(frozen=True)
class TranslateOptions:
    hub_url: str
    allowed_file_hosts: Collection[str] = ()
    canvas: tuple[int, int] = (1920, 1080)
    timezone: str = "Europe/Berlin"
    twin: bool = False  # a digital-twin broker is configured: the header shows its newest messages (old client)
    logo: str = ""  # branding.logo: http(s) address of the header logo; empty: the District's logo (if any)


@dataclass
class HubContent:
    """The objects one screen needs, as the hub returned them (included pointers resolved where asked)."""

    screen: dict[str, Any]
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # SteleLayoutConfig by objectId
    slides: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # SteleDiashowConfig id -> objects
    tiles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # SteleGridConfig id -> positions
    schedules: list[dict[str, Any]] = field(default_factory=list)  # SteleSchedule rows for this screen
    timetables: list[Any] = field(default_factory=list)  # Files/URLs for `Aushangsfahrplan` tiles
    district_logo: Any = None  # District.logo (File) of the district containing the screen's location


@dataclass
class Translation:
    document: dict[str, Any]
    media: dict[str, MediaSpec]
    problems: list[str]


@dataclass(frozen=True)
class ScreenStatus:
    active: bool
    kind: str | None  # DIASHOW, GRID or None
    config_id: str | None
    message: str  # why the screen is not ready ("" when it is)

    @property
    def ready(self) -> bool:
        return self.active and self.kind is not None and self.config_id is not None


# ----------------------------------------------------------------------------------------------- helpers
def name_of(value: Any) -> str | None:
    """`name` of an included object (or a plain string), lower case; None for a bare pointer / missing."""
    if isinstance(value, str):
        return value.strip().lower() or None
    if isinstance(value, Mapping):
        name = value.get("name")
        if isinstance(name, str) and name.strip():
            return name.strip().lower()
    return None


def pointer_id(value: Any) -> str | None:
    ptr = decode_pointer(value)
    return ptr[1] if ptr else None


def screen_status(screen: Mapping[str, Any]) -> ScreenStatus:
    """Is this SteleScreen (with `state`, `layoutType`, `layoutConfig` included) ready to play?"""
    state = name_of(screen.get("state"))
    active = STATE_NAMES.get(state or "", False)
    kind = TYPE_NAMES.get(name_of(screen.get("layoutType")) or "")
    config = screen.get("layoutConfig")
    config_id = pointer_id(config)
    if config_id and isinstance(config, Mapping) and config.get("__type") == "Pointer":
        config_id = None  # include left a bare pointer: the config was deleted
    if not active:
        shown = state or "nicht gesetzt"
        message = f"Warte auf Freischaltung im Hub (Status: {shown})."
    elif kind is None:
        message = "Warte auf die Auswahl eines Layout-Typs (Diashow oder Touchscreen) im Hub."
    elif config_id is None:
        message = "Warte auf die Zuweisung einer Layout-Konfiguration im Hub."
    else:
        message = ""
    return ScreenStatus(active=active, kind=kind, config_id=config_id, message=message)


def file_host_allowed(url: str, hub_url: str, allowed: Collection[str]) -> bool:
    """Files may come from the hub's own host or a host listed in `hub.allowed_file_hosts`."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return False
    hub = urlsplit(hub_url)
    if host == (hub.hostname or "").lower():
        return True
    with_port = f"{host}:{parts.port}" if parts.port else host
    wanted = {a.strip().lower() for a in allowed if isinstance(a, str)}
    return host in wanted or with_port in wanted


def _file_name(value: Any, url: str) -> str:
    name = value.get("name") if isinstance(value, Mapping) else None
    if not isinstance(name, str) or not name:
        name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or "datei"
    return name


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def _iso(dt: Any) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds")


class _Media:
    """Collects media references: stable, readable refs (`media/<hub file name>`), one per URL."""

    def __init__(self, options: TranslateOptions, problems: list[str]) -> None:
        self.options = options
        self.problems = problems
        self.specs: dict[str, MediaSpec] = {}
        self._by_url: dict[str, str] = {}

    def add(self, value: Any, what: str) -> tuple[str, str] | None:
        """A File (or URL string) -> (ref, extension), or None with one problem line."""
        url = value if isinstance(value, str) and value.startswith(("http://", "https://")) else \
            decode_file_url(value)
        if url is None:
            self.problems.append(f"{what}: no usable file (missing or not an http(s) File); skipped")
            return None
        if not file_host_allowed(url, self.options.hub_url, self.options.allowed_file_hosts):
            host = urlsplit(url).hostname
            self.problems.append(f"{what}: file on host '{host}' refused (not the hub's host; allow it with "
                                 f"hub.allowed_file_hosts); skipped")
            return None
        name = _file_name(value, url)
        ext = _extension(name)
        if url in self._by_url:
            return self._by_url[url], ext
        safe = _SAFE.sub("_", name).strip("._") or "datei"
        if len(safe) > 120:
            safe = safe[: 120 - len(ext)] + ext
        ref = f"media/{safe}"
        n = 2
        while ref in self.specs:
            ref = f"media/{n}-{safe}"
            n += 1
        self.specs[ref] = MediaSpec(url=url)
        self._by_url[url] = ref
        return ref, ext


def _weekdays(raw: Any, what: str, problems: list[str]) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(f"{what}.weekdays: expected a list like [\"mo\", \"di\"]; ignored")
        return []
    out: list[str] = []
    for value in raw:
        index: int | None = None
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 7:
            index = value - 1  # 1 = Monday
        elif isinstance(value, str):
            key = value.strip().lower()
            if key[:3] in _WEEKDAY_KEYS:
                index = _WEEKDAY_KEYS.index(key[:3])
            elif key[:2] in _WEEKDAY_ALIASES:
                index = _WEEKDAY_ALIASES[key[:2]]
        if index is None:
            problems.append(f"{what}.weekdays: '{value}' is not a weekday; ignored")
            continue
        if _WEEKDAY_KEYS[index] not in out:
            out.append(_WEEKDAY_KEYS[index])
    return out


def _times(obj: Mapping[str, Any], what: str, problems: list[str]) -> list[dict[str, str]]:
    t_from, t_to = obj.get("timeFrom"), obj.get("timeTo")
    if t_from is None and t_to is None:
        return []
    out = []
    for key, value, default in (("timeFrom", t_from, "00:00"), ("timeTo", t_to, "24:00")):
        if value is None:
            out.append(default)
            continue
        m = _TIME.match(value.strip()) if isinstance(value, str) else None
        if value == "24:00" and key == "timeTo":
            out.append("24:00")
        elif m:
            out.append(f"{int(m.group(1)):02d}:{m.group(2)}")
        else:
            problems.append(f"{what}.{key}: '{value}' is not a time (HH:MM); time window ignored")
            return []
    return [{"from": out[0], "to": out[1]}]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            try:
                value = float(value.replace(",", "."))
            except ValueError:
                return None
        else:
            return None
    return float(value) if value == value and 0 < value <= 31 * 86400 else None


# ------------------------------------------------------------------------------------------------ slides
def _slide_key(obj: Mapping[str, Any]) -> tuple[Any, ...]:
    order = obj.get("order")
    created = decode_date(obj.get("createdAt"))
    created_key = created.isoformat() if created else ""
    if isinstance(order, int | float) and not isinstance(order, bool):
        return (0, float(order), created_key, str(obj.get("objectId", "")))
    return (1, 0.0, created_key, str(obj.get("objectId", "")))


def slide_items(objects: Iterable[Mapping[str, Any]], media: _Media, problems: list[str],
                id_prefix: str = "") -> list[dict[str, Any]]:
    """SteleDiashowObjects -> image/video items (ordered by `order`, then `createdAt`)."""
    items: list[dict[str, Any]] = []
    undated = 0
    for obj in sorted(objects, key=_slide_key):
        oid = str(obj.get("objectId") or "?")
        what = f"SteleDiashowObject {oid}"
        start, end = decode_date(obj.get("startDate")), decode_date(obj.get("endDate"))
        if start is None or end is None:
            undated += 1
            continue
        found = media.add(obj.get("file"), what)
        if found is None:
            continue
        ref, ext = found
        is_video = ext in VIDEO_EXTENSIONS
        item: dict[str, Any] = {"type": "video" if is_video else "image", "id": f"{id_prefix}{oid}"[:128],
                                "src": ref}
        duration = _number(obj.get("duration"))
        if duration is not None:
            item["duration"] = duration
        elif not is_video:
            item["duration"] = DEFAULT_SLIDE_S
        valid: dict[str, Any] = {"start": _iso(start), "end": _iso(end)}
        if days := _weekdays(obj.get("weekdays"), what, problems):
            valid["weekdays"] = days
        if times := _times(obj, what, problems):
            valid["times"] = times
        item["valid"] = valid
        fit = obj.get("fit")
        if fit is not None:
            if fit in ("contain", "cover", "stretch"):
                item["fit"] = fit
            else:
                problems.append(f"{what}.fit: '{fit}' is not contain, cover or stretch; ignored")
        transition = obj.get("transition")
        if transition is not None:
            if is_video:
                pass  # videos have no transition of their own
            elif transition in ("cut", "crossfade"):
                item["transition"] = transition
            else:
                problems.append(f"{what}.transition: '{transition}' is not cut or crossfade; ignored")
        items.append(item)
    if undated:
        problems.append(f"{undated} SteleDiashowObject(s) without startDate/endDate are hidden "
                        "(as in the old stele client); give them both dates to show them")
    return items


# ------------------------------------------------------------------------------------------------ layouts
@dataclass
class _Frame:
    width: int
    height: int
    header: int
    footer: int

    @property
    def body_y(self) -> int:
        return self.header

    @property
    def body_h(self) -> int:
        return self.height - self.header - self.footer


def _frame(canvas: tuple[int, int], header: bool, footer: bool) -> _Frame:
    w, h = canvas
    return _Frame(w, h, max(80, h // 12) if header else 0, max(60, h // 18) if footer else 0)


def _chrome_zones(frame: _Frame, feeds: dict[str, dict[str, Any]], twin: bool = False,
                  logo: str | None = None) -> list[dict[str, Any]]:
    """Header (logo, city name, clock; with a digital twin its newest messages) and footer (ticker) zones.
    *logo*: media reference of the logo image, shown left of the city name."""
    zones: list[dict[str, Any]] = []
    if frame.header:
        clock_w = max(240, frame.width // 4)
        font = max(24, frame.header // 2)
        logo_w = min(frame.header * 5 // 2, frame.width // 6) if logo else 0  # room for a wide city logo
        # with a digital twin, the header is city | newest messages | clock, as the old client showed it
        city_w = max(240, frame.width // 4) if twin else frame.width - clock_w - logo_w
        if logo:  # the logo inset by a margin, over a backdrop in the header's colour
            pad = max(4, frame.header // 8)
            zones.append({"id": "logo-backdrop", "x": 0, "y": 0, "width": logo_w, "height": frame.header, "z": 1,
                          "background": "#003a70",
                          "items": [{"type": "text", "id": "logo-backdrop", "duration": WIDGET_HOLD_S, "text": ""}]})
            zones.append({"id": "logo", "x": pad, "y": pad, "width": logo_w - 2 * pad, "height": frame.header - 2 * pad,
                          "z": 2, "background": "#003a70",
                          "items": [{"type": "image", "id": "logo", "src": logo, "duration": WIDGET_HOLD_S,
                                     "fit": "contain"}]})
        if twin:
            feeds.setdefault("twin", {"type": "twin", "max_items": 3})
            zones.append({"id": "messages", "x": logo_w + city_w, "y": 0,
                          "width": frame.width - clock_w - city_w - logo_w,
                          "height": frame.header, "z": 1, "background": "#003a70",
                          "items": [{"type": "widget", "id": "twin", "duration": WIDGET_HOLD_S,
                                     "widget": "twin_messages", "feed": "twin"}]})
        zones.append({"id": "header", "x": logo_w, "y": 0, "width": city_w, "height": frame.header,
                      "z": 1, "background": "#003a70",
                      "items": [{"type": "text", "id": "city", "duration": WIDGET_HOLD_S, "text": "{city}",
                                 "font_size": font, "bold": True, "valign": "middle", "padding": 32}]})
        zones.append({"id": "clock", "x": frame.width - clock_w, "y": 0, "width": clock_w, "height": frame.header,
                      "z": 1, "background": "#003a70",
                      "items": [{"type": "clock", "id": "clock", "duration": WIDGET_HOLD_S, "format": "HH:mm",
                                 "font_size": font, "bold": True}]})
    if frame.footer:
        feeds.setdefault("press", {"type": "press"})
        zones.append({"id": "footer", "x": 0, "y": frame.height - frame.footer, "width": frame.width,
                      "height": frame.footer, "z": 1, "background": "#ffcc00",
                      "items": [{"type": "widget", "id": "ticker", "duration": WIDGET_HOLD_S,
                                 "widget": "news_ticker", "feed": "press"}]})
    return zones


def _empty(item_id: str) -> dict[str, Any]:
    return {"type": "widget", "id": item_id, "duration": WIDGET_HOLD_S, "widget": "empty"}


class _Translator:
    def __init__(self, content: HubContent, options: TranslateOptions) -> None:
        self.content = content
        self.options = options
        self.problems: list[str] = []
        self.media = _Media(options, self.problems)
        self.feeds: dict[str, dict[str, Any]] = {}
        self.location = decode_geopoint(content.screen.get("location"))
        self._logo_refused = False

    # ---- pieces
    def slides_of(self, config: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
        dia_id = pointer_id(config.get("diashowConfig"))
        if dia_id is None:
            self.problems.append(f"SteleLayoutConfig {config.get('objectId')}: no diashowConfig; slideshow empty")
            return []
        return slide_items(self.content.slides.get(dia_id, []), self.media, self.problems, prefix)

    def tile_items(self, type_name: str | None, tile: Mapping[str, Any], position: int,
                   config: Mapping[str, Any]) -> list[dict[str, Any]]:
        zid = f"tile{position}"
        if type_name in TILE_WIDGETS:
            widget, feed = TILE_WIDGETS[type_name]
            item: dict[str, Any] = {"type": "widget", "id": f"{zid}-{widget}", "duration": WIDGET_HOLD_S,
                                    "widget": widget}
            needs_location = feed in LOCATED_FEEDS or widget in ("map", "pois")
            if needs_location and self.location is None:
                self.problems.append(f"SteleScreen {self.content.screen.get('objectId')}: tile '{type_name}' at "
                                     f"position {position} needs the screen's location (GeoPoint); empty tile")
                return [_empty(f"{zid}-empty")]
            if feed is not None:
                item["feed"] = feed
                spec: dict[str, Any] = {"type": feed}
                if feed in LOCATED_FEEDS and self.location is not None:
                    spec.update(lat=self.location[0], lon=self.location[1])
                self.feeds.setdefault(feed, spec)
            elif self.location is not None:
                item["options"] = {"lat": self.location[0], "lon": self.location[1]}
            return [item]
        if type_name == "diashow":
            return self.slides_of(config, f"{zid}-")
        if type_name == "aushangsfahrplan":
            return self.timetable_items(tile, position)
        raw = tile.get("tileType")
        shown = raw.get("name") if isinstance(raw, Mapping) and isinstance(raw.get("name"), str) else None
        shown = shown or type_name or "(ohne Typ)"
        self.problems.append(f"tile type '{shown}' at position {position} is not supported; empty tile")
        return [_empty(f"{zid}-empty")]

    def timetable_items(self, tile: Mapping[str, Any], position: int) -> list[dict[str, Any]]:
        sources: list[Any] = []
        conf = tile.get("config")
        if isinstance(conf, Mapping):
            for key in ("file", "pdf", "url"):
                if conf.get(key) is not None:
                    sources.append(conf[key])
            if isinstance(conf.get("files"), list):
                sources.extend(conf["files"])
        elif isinstance(conf, list):
            sources.extend(conf)
        elif conf is not None:
            sources.append(conf)
        if not sources:
            sources = list(self.content.timetables)
        items = []
        for i, src in enumerate(sources):
            found = self.media.add(src, f"tile 'Aushangsfahrplan' at position {position}, file {i + 1}")
            if found is not None:
                items.append({"type": "image", "id": f"tile{position}-plan{i + 1}", "src": found[0],
                              "duration": TIMETABLE_S})
        if not items:
            self.problems.append(f"tile 'Aushangsfahrplan' at position {position}: no timetable PDF found; "
                                 "empty tile")
            return [_empty(f"tile{position}-empty")]
        return items

    def logo(self) -> str | None:
        """Media reference of the header logo: ``branding.logo`` (an http(s) address), else the logo of the
        district the screen stands in; through the cache like every other file."""
        configured = self.options.logo.strip()
        if configured:
            if not configured.startswith(("http://", "https://")):
                if not self._logo_refused:
                    self.problems.append(f"branding.logo: '{configured[:200]}' is not an http(s) address; the hub's "
                                         "header shows files from the cache only (give the logo's address on the "
                                         "hub); no logo")
                    self._logo_refused = True
                return None
            found = self.media.add(configured, "branding.logo")
        elif self.content.district_logo is not None:
            found = self.media.add(self.content.district_logo, "District.logo")
        else:
            return None
        return found[0] if found else None

    # ---- layouts
    def layout(self, config: Mapping[str, Any], kind: str) -> dict[str, Any]:
        cid = str(config.get("objectId") or "?")
        custom = config.get("layout")
        if custom is not None:
            if isinstance(custom, Mapping) and (isinstance(custom.get("zones"), list) or "template" in custom):
                return self.custom_layout(config, dict(custom))
            self.problems.append(f"SteleLayoutConfig {cid}.layout: not an osc-player layout (needs 'zones' or "
                                 "'template'); ignored")
        template = config.get("template")
        if template is not None:
            if isinstance(template, str) and template.strip():
                slides = self.slides_of(config, "") if config.get("diashowConfig") is not None else None
                layout: dict[str, Any] = {"template": template.strip()}
                layout["zones"] = [{"id": "main", "items": slides}] if slides is not None else []
                return layout
            self.problems.append(f"SteleLayoutConfig {cid}.template: expected a layout name; ignored")
        frame = _frame(self.options.canvas, config.get("showHeader") is True, config.get("showFooter") is True)
        zones = _chrome_zones(frame, self.feeds, self.options.twin, self.logo() if frame.header else None)
        if kind == DIASHOW:
            zones.insert(0, {"id": "main", "x": 0, "y": frame.body_y, "width": frame.width,
                             "height": frame.body_h, "z": 0, "background": "#000000",
                             "items": self.slides_of(config, "")})
        else:
            zones[0:0] = self.grid_zones(config, frame)
        return {"width": frame.width, "height": frame.height, "background": "#000000", "zones": zones}

    def custom_layout(self, config: Mapping[str, Any], layout: dict[str, Any]) -> dict[str, Any]:
        zones = []
        raw_zones = layout.get("zones")
        for zone in raw_zones if isinstance(raw_zones, list) else []:
            if isinstance(zone, Mapping) and zone.get("items") == "diashow":
                zone = dict(zone, items=self.slides_of(config, ""))
            elif isinstance(zone, Mapping) and isinstance(zone.get("items"), list):
                zone = dict(zone, items=[self.custom_item(i) for i in zone["items"]])
            zones.append(zone)
        if "zones" in layout:
            layout["zones"] = zones
        extra = config.get("feeds")
        if isinstance(extra, Mapping):
            for name, spec in extra.items():
                if isinstance(spec, Mapping):
                    self.feeds[str(name)] = dict(spec)
        return layout

    def custom_item(self, item: Any) -> Any:
        """Media in an admin-written layout: absolute URLs go through the host check and the cache."""
        if not isinstance(item, Mapping) or item.get("type") not in ("image", "video"):
            return item
        src = item.get("src")
        if isinstance(src, str | Mapping):
            found = self.media.add(src, f"layout item {item.get('id', '?')}")
            if found is not None:
                return dict(item, src=found[0])
        return item

    def grid_zones(self, config: Mapping[str, Any], frame: _Frame) -> list[dict[str, Any]]:
        cid = config.get("objectId")
        grid_id = pointer_id(config.get("gridConfig"))
        positions: dict[int, Mapping[str, Any]] = {}
        if grid_id is None:
            self.problems.append(f"SteleLayoutConfig {cid}: no gridConfig; all tiles empty")
        for row in self.content.tiles.get(grid_id or "", []):
            pos = row.get("position")
            if isinstance(pos, float) and pos.is_integer():
                pos = int(pos)
            if not isinstance(pos, int) or isinstance(pos, bool) or not 1 <= pos <= 4:
                self.problems.append(f"SteleTilePosition {row.get('objectId')}: position {pos!r} is not 1–4; "
                                     "skipped")
                continue
            if pos in positions:
                self.problems.append(f"SteleTilePosition {row.get('objectId')}: position {pos} is taken twice; "
                                     "the first one is used")
                continue
            positions[pos] = row
        half_w, half_h = frame.width // 2, frame.body_h // 2
        zones = []
        for pos in range(1, 5):
            col, line = (pos - 1) % 2, (pos - 1) // 2
            placed = positions.get(pos)
            if placed is None:
                items = [_empty(f"tile{pos}-empty")]
            else:
                tile = placed.get("tile")
                if not isinstance(tile, Mapping) or tile.get("__type") == "Pointer":
                    self.problems.append(f"SteleTilePosition {placed.get('objectId')}: tile missing or deleted; "
                                         "empty tile")
                    items = [_empty(f"tile{pos}-empty")]
                else:
                    items = self.tile_items(name_of(tile.get("tileType")), tile, pos, config)
            zones.append({"id": f"tile{pos}", "x": col * half_w, "y": frame.body_y + line * half_h,
                          "width": frame.width - half_w if col else half_w,
                          "height": frame.body_h - half_h if line else half_h,
                          "z": 0, "background": "#0b2540", "items": items})
        return zones

    # ---- schedule
    def schedule_entries(self, layouts: dict[str, Any], default_kind: str) -> list[dict[str, Any]]:
        entries = []
        for row in self.content.schedules:
            sid = str(row.get("objectId") or "?")
            what = f"SteleSchedule {sid}"
            cid = pointer_id(row.get("layoutConfig"))
            config = self.content.configs.get(cid or "")
            if config is None:
                self.problems.append(f"{what}: layoutConfig missing or deleted; entry skipped")
                continue
            kind = TYPE_NAMES.get(name_of(row.get("layoutType")) or "")
            if kind is None:
                kind = GRID if config.get("gridConfig") is not None and config.get("diashowConfig") is None \
                    else (DIASHOW if config.get("diashowConfig") is not None else default_kind)
            name = f"config-{cid}-{kind}"
            if name not in layouts:
                layouts[name] = self.layout(config, kind)
            entry: dict[str, Any] = {"id": f"schedule-{sid}"[:128], "layout": name}
            prio = row.get("priority")
            if isinstance(prio, int | float) and not isinstance(prio, bool) and math.isfinite(prio):
                entry["priority"] = int(prio)
            mode = row.get("mode")
            if mode in ("normal", "overlay", "interrupt"):
                entry["mode"] = mode
            elif row.get("interrupt") is True:
                entry["mode"] = "interrupt"
            start, end = decode_date(row.get("startDate")), decode_date(row.get("endDate"))
            if start:
                entry["start"] = _iso(start)
            if end:
                entry["end"] = _iso(end)
            if days := _weekdays(row.get("weekdays"), what, self.problems):
                entry["weekdays"] = days
            if times := _times(row, what, self.problems):
                entry["times"] = times
            entries.append(entry)
        return entries


def power_schedule(screen: Mapping[str, Any], problems: list[str]) -> dict[str, Any] | None:
    """*Extension*: the display's on/off times from the SteleScreen row, as the screen document's
    ``power_schedule`` (player.toml's format); None when the row has none (the player's own file applies).

    ``displaySchedule`` wins over ``displayOn``/``displayOff``. It is an Array of ``{weekdays, timeFrom, timeTo}``
    (as slideshow objects; no weekdays: every day) or an Object in player.toml's format
    (``{"mon-fri": "06:00-22:00", "sun": "off"}``); empty means always on. ``displayOn``/``displayOff``
    (``"HH:MM"``) are one window every day (off before on: past midnight). Unusable: one problem line, None."""
    what = f"SteleScreen {screen.get('objectId')}"
    raw = screen.get("displaySchedule")
    result: dict[str, Any] | None
    if raw is not None:
        what += ".displaySchedule"
        if isinstance(raw, Mapping):
            result = {str(k): v for k, v in raw.items()}
        elif isinstance(raw, list):
            result = {}
            for i, entry in enumerate(raw):
                where = f"{what}[{i}]"
                if not isinstance(entry, Mapping):
                    problems.append(f"{where}: expected an object {{weekdays, timeFrom, timeTo}}; ignored")
                    continue
                days = _weekdays(entry.get("weekdays"), where, problems) or list(_WEEKDAY_KEYS)
                times = _times(entry, where, problems)
                if not times and (entry.get("timeFrom") is not None or entry.get("timeTo") is not None):
                    continue  # a bad time: the entry is skipped (the line says so)
                window = f"{times[0]['from']}-{times[0]['to']}" if times else "00:00-24:00"
                for day in days:
                    result.setdefault(day, []).append(window)
            if raw and not result:
                problems.append(f"{what}: no usable entry; the player's own power schedule applies")
                return None
        else:
            problems.append(f"{what}: expected an Array or Object, got {type(raw).__name__}; ignored")
            return None
    else:
        on, off = screen.get("displayOn"), screen.get("displayOff")
        if on is None and off is None:
            return None
        what += ".displayOn/displayOff"
        times = _times({"timeFrom": on, "timeTo": off}, what, problems)
        if on is None or off is None or not times:
            if on is None or off is None:
                problems.append(f"{what}: both times are needed (HH:MM); ignored")
            return None
        result = {"daily": f"{times[0]['from']}-{times[0]['to']}"}
    try:
        PowerSchedule(result or None)
    except (ValueError, TypeError, AttributeError) as exc:
        problems.append(f"{what}: {exc}; the player's own power schedule applies")
        return None
    return result


def placeholder_document(name: str, timezone: str = "Europe/Berlin") -> dict[str, Any]:
    """A valid document for results whose `setup` is set (the sync ignores it)."""
    return {"version": 1, "name": name or "Bildschirm",
            "layouts": {"main": {"template": "fullscreen-slideshow"}},
            "schedule": {"default": "main", "timezone": timezone}}


def translate(content: HubContent, options: TranslateOptions) -> Translation:
    """The screen document for a ready screen (see :func:`screen_status`)."""
    status = screen_status(content.screen)
    t = _Translator(content, options)
    name = content.screen.get("name") if isinstance(content.screen.get("name"), str) else None
    config = content.configs.get(status.config_id or "")
    if config is None:
        t.problems.append(f"SteleScreen {content.screen.get('objectId')}: layoutConfig missing or deleted")
        config = {"objectId": status.config_id}
    kind = status.kind or DIASHOW
    layouts: dict[str, Any] = {"main": t.layout(config, kind)}
    entries = t.schedule_entries(layouts, kind)
    document: dict[str, Any] = {
        "version": 1,
        "name": (name or "Bildschirm")[:200],
        "layouts": layouts,
        "schedule": {"default": "main", "timezone": options.timezone, "entries": entries},
    }
    if t.feeds:
        document["feeds"] = t.feeds
    power = power_schedule(content.screen, t.problems)
    if power is not None:
        document["power_schedule"] = power
    return Translation(document=document, media=t.media.specs, problems=t.problems)
