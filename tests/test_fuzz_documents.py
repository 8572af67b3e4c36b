"""Fuzz targets (hypothesis): screen-document loading and hub translation never fail with anything but their
own one-line errors.

* ``player.layouts.load_screen_dict`` over mutations of the demo document and the bundled templates (values
  replaced by other JSON types, keys deleted, unknown keys added) and over arbitrary JSON: a ``Loaded`` or a
  ``DocumentError``, every line one line; a loaded schedule can be resolved.
* ``player.sources.stele.translate`` over mutations of a valid diashow / grid / scheduled hub content: a
  ``Translation`` whose problems are strings, and whose document loads (``Loaded`` or ``DocumentError``).

Example counts stay moderate for a 2-core CI; deadline None (the first examples import and compile).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from player.layouts import TEMPLATES_DIR, DocumentError, Loaded, load_screen_dict, template_names
from player.schedule import next_change, resolve
from player.sources.base import SourceError
from player.sources.stele import HubContent, TranslateOptions, Translation, screen_status, translate

ROOT = Path(__file__).resolve().parent.parent
DEMO = json.loads((ROOT / "player" / "demo" / "screen.json").read_text(encoding="utf-8"))
TEMPLATES = [json.loads((TEMPLATES_DIR / f"{n}.json").read_text(encoding="utf-8")) for n in template_names()]
BASES = [DEMO, *TEMPLATES]
HUB = "https://hub.example.org/parse"
OPTS = TranslateOptions(hub_url=HUB, allowed_file_hosts=("cdn.example.org",))
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.data_too_large])

# ------------------------------------------------------------------------------------------------ strategies
SPECIAL_TEXT = st.sampled_from([
    "", " ", "\x00", "\ud800", "\udfff", "a\nb", "\u202eevil.png", "\u200d", "👩\u200d👩\u200d👧\u200d👦",
    "../../etc/passwd", "/etc/passwd", "media/../../x", "..\\..\\x", "%2e%2e/x", "file:///etc/passwd",
    "javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "ftp://example.org/x",
    "<script>alert(1)</script>", "24:00", "25:99", "0001-01-01", "9999-12-31", "9999-12-31T23:59:59-05:00",
    "0001-01-01T00:00:00+14:00", "2025-02-30", "#12345", "#ff00ff", "Europe/Nowhere", "../../../etc/localtime",
    "main", "image", "video", "text", "widget", "web", "qr", "ticker", "clock", "interrupt", "overlay",
])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-2, max_value=20_000),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30), SPECIAL_TEXT,
)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=8), SPECIAL_TEXT), inner, max_size=4)),
    max_leaves=12)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, (*prefix, i)))
    return out


def _mutate_once(doc: Any, data: st.DataObject) -> Any:
    paths = _paths(doc)
    path = data.draw(st.sampled_from(paths), label="path")
    action = data.draw(st.sampled_from(["replace", "delete", "add_key", "append"]), label="action")
    if not path:
        return data.draw(JSON, label="root") if action == "replace" else doc
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "replace":
        parent[last] = data.draw(JSON, label="value")
    elif action == "delete":
        del parent[last]
    elif action == "add_key" and isinstance(parent[last], dict):
        parent[last][data.draw(st.one_of(st.text(max_size=10), SPECIAL_TEXT), label="key")] = data.draw(JSON)
    elif action == "append" and isinstance(parent[last], list):
        parent[last].append(data.draw(JSON, label="item"))
    return doc


def mutated(base: Any, data: st.DataObject, max_mutations: int = 4) -> Any:
    doc = copy.deepcopy(base)
    for _ in range(data.draw(st.integers(1, max_mutations), label="mutations")):
        doc = _mutate_once(doc, data)
    return doc


# ------------------------------------------------------------------------------------------------- checks
def one_line(lines: list[str]) -> None:
    assert lines, "an error must say what is wrong"
    for line in lines:
        assert isinstance(line, str) and line
        assert "\n" not in line and "\r" not in line and "\x00" not in line, repr(line)
        line.encode("utf-8")  # loggable: no lone surrogates
        assert "Traceback" not in line


def check_load(doc: Any, origin: str = "fuzz.json") -> Loaded | None:
    try:
        loaded = load_screen_dict(doc, origin)
    except DocumentError as exc:
        one_line(exc.lines)
        assert all(line.startswith(origin) for line in exc.lines)
        return None
    assert isinstance(loaded, Loaded)
    if loaded.defects:
        one_line(loaded.defects)
    screen = loaded.screen
    assert 1 <= len(screen.layouts) <= 256
    for layout in screen.layouts.values():
        assert len(layout.zones) <= 2 * 64  # at most 64 from the document, plus those of a template
        for zone in layout.zones:
            assert len(zone.items) <= 10_000
            assert 0 <= zone.x and zone.x + zone.width <= layout.width
            assert 0 <= zone.y and zone.y + zone.height <= layout.height
    for ref in screen.media_refs():  # what reaches the disk or network
        assert "\x00" not in ref
        assert ref.startswith(("http://", "https://")) or (not ref.startswith("/") and ".." not in
                                                             ref.replace("\\", "/").split("/"))
    now = datetime(2025, 6, 1, 12, tzinfo=UTC)
    for at in (now, datetime(2001, 1, 1, tzinfo=UTC), datetime(2099, 12, 31, 23, 59, tzinfo=UTC)):
        on = resolve(screen.schedule, at)
        assert on.layout in screen.layouts
        nxt = next_change(screen.schedule, at)
        assert nxt is None or nxt > at
    return loaded


# ---------------------------------------------------------------------------------------------- documents
@FUZZ
@given(st.data())
def test_mutated_documents_load_or_fail_cleanly(data: st.DataObject) -> None:
    base = data.draw(st.sampled_from(BASES), label="base")
    check_load(mutated(base, data))


@FUZZ
@given(JSON)
def test_arbitrary_json_loads_or_fails_cleanly(doc: Any) -> None:
    check_load(doc)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_mutated_documents_survive_a_json_round_trip(data: st.DataObject) -> None:
    """What the HTTP source sees: the bytes of a mutated document, parsed again (NaN/Infinity included)."""
    doc = mutated(DEMO, data)
    check_load(json.loads(json.dumps(doc)))


# ---------------------------------------------------------------------------------------------- hub content
def ptr(cls: str, oid: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": cls, "objectId": oid}


def obj(cls: str, oid: str, **fields: Any) -> dict[str, Any]:
    return {"__type": "Object", "className": cls, "objectId": oid, **fields}


def hub_file(name: str, host: str = "hub.example.org") -> dict[str, str]:
    return {"__type": "File", "name": name, "url": f"https://{host}/parse/files/app/{name}"}


def date(iso: str) -> dict[str, str]:
    return {"__type": "Date", "iso": iso}


def base_content(kind: str) -> dict[str, Any]:
    """A valid hub content (as plain JSON, so it can be mutated): screen, config, slides, tiles, schedules."""
    screen = {"objectId": "scr1", "uuid": "u-1", "name": "Linde",
              "state": obj("SteleScreenState", "st1", name="Aktiv"),
              "layoutType": obj("SteleLayoutType", "lt1", name=kind),
              "layoutConfig": obj("SteleLayoutConfig", "cfg1"),
              "location": {"__type": "GeoPoint", "latitude": 48.4, "longitude": 9.1}}
    slides = [{"objectId": f"s{i}", "file": hub_file(name), "duration": 8, "order": i,
               "createdAt": "2025-01-01T00:00:00.000Z", "startDate": date("2025-01-01T00:00:00.000Z"),
               "endDate": date("2030-01-01T00:00:00.000Z"), "weekdays": ["mo", "di"], "timeFrom": "08:00",
               "timeTo": "18:00", "fit": "cover", "transition": "crossfade"}
              for i, name in enumerate(["a.jpg", "b.mp4", "c.pdf"])]
    tiles = [{"objectId": f"tp{pos}", "position": pos,
              "tile": obj("SteleTile", f"t{pos}", tileType=obj("SteleTileType", f"tt{pos}", name=name),
                          config={"file": hub_file("plan.pdf")} if name == "Aushangsfahrplan" else None)}
             for pos, name in ((1, "Wetter"), (2, "Busabfahrten"), (3, "Diashow"), (4, "Aushangsfahrplan"))]
    return {
        "screen": screen,
        "configs": {"cfg1": {"objectId": "cfg1", "showHeader": True, "showFooter": True,
                             "diashowConfig": ptr("SteleDiashowConfig", "dia1"),
                             "gridConfig": ptr("SteleGridConfig", "grid1")},
                    "cfg2": {"objectId": "cfg2", "layout": {"template": "fullscreen-slideshow",
                                                            "zones": [{"id": "main", "items": "diashow"}]}}},
        "slides": {"dia1": slides},
        "tiles": {"grid1": tiles},
        "schedules": [{"objectId": "sch1", "layoutConfig": ptr("SteleLayoutConfig", "cfg2"), "priority": 5,
                       "mode": "interrupt", "startDate": date("2025-06-01T00:00:00.000Z"),
                       "endDate": date("2025-06-02T00:00:00.000Z"), "weekdays": [1, 2, 3]}],
        "timetables": [hub_file("line1.pdf")],
    }


def content_from(raw: Any) -> HubContent:
    """HubContent as parse_hub builds it: rows are dicts (ParseClient.query drops anything else)."""
    raw = raw if isinstance(raw, dict) else {}

    def rows(value: Any) -> list[dict[str, Any]]:
        return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []

    def by_id(value: Any) -> dict[str, list[dict[str, Any]]]:
        return {str(k): rows(v) for k, v in value.items()} if isinstance(value, dict) else {}

    screen = raw.get("screen") if isinstance(raw.get("screen"), dict) else {}
    configs = raw.get("configs")
    return HubContent(screen=screen,
                      configs={str(k): v for k, v in configs.items() if isinstance(v, dict)}
                      if isinstance(configs, dict) else {},
                      slides=by_id(raw.get("slides")), tiles=by_id(raw.get("tiles")),
                      schedules=rows(raw.get("schedules")),
                      timetables=raw["timetables"] if isinstance(raw.get("timetables"), list) else [])


def check_translate(content: HubContent) -> Translation | None:
    screen_status(content.screen)
    try:
        result = translate(content, OPTS)
    except SourceError as exc:
        one_line(exc.lines)
        return None
    assert isinstance(result, Translation)
    for line in result.problems:
        assert isinstance(line, str) and line
    for ref, spec in result.media.items():
        assert ref.startswith("media/") and ".." not in ref.split("/") and "\x00" not in ref
        assert spec.url.startswith(("http://", "https://"))
    json.dumps(result.document)  # the document is plain JSON
    check_load(result.document, "hub")
    return result


@FUZZ
@given(st.data())
def test_mutated_hub_content_translates_or_fails_cleanly(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["Diashow", "Touchscreen", "grid"]), label="kind")
    check_translate(content_from(mutated(base_content(kind), data, max_mutations=5)))


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=12), JSON, max_size=6), st.lists(st.dictionaries(
    st.sampled_from(["objectId", "position", "tile", "priority", "mode", "layoutConfig", "startDate", "endDate",
                     "weekdays", "timeFrom", "timeTo", "file", "duration", "order", "createdAt"]), JSON),
    max_size=5))
def test_arbitrary_hub_rows_translate_or_fail_cleanly(extra: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    raw = base_content("Touchscreen")
    raw["screen"].update(extra)
    raw["tiles"]["grid1"].extend(rows)
    raw["slides"]["dia1"].extend(rows)
    raw["schedules"].extend(rows)
    check_translate(content_from(raw))


def test_base_contents_are_valid() -> None:
    """The fuzz bases themselves translate without problems beyond the expected ones."""
    for kind in ("Diashow", "Touchscreen"):
        result = check_translate(content_from(base_content(kind)))
        assert result is not None and result.media
    demo = check_load(DEMO)
    assert demo is not None and not demo.defects
