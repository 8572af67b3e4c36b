"""Screen documents: good ones load into the model, bad ones give one line per problem naming file and JSON path."""

from __future__ import annotations

import json
from datetime import datetime, time
from pathlib import Path

import pytest

from player.layouts import TEMPLATES_DIR, DocumentError, load_screen, load_screen_dict, template_names
from player.model import (
    ClockItem,
    EntryMode,
    Fit,
    ImageItem,
    QrItem,
    TextItem,
    TickerItem,
    VideoItem,
    WidgetItem,
)
from screens import DEMO_DIR, one_zone, write_screen


def test_bundled_templates_load_without_problems() -> None:
    assert set(template_names()) == {"info-landscape", "stele-portrait", "fullscreen-slideshow"}
    sizes = {}
    for name in template_names():
        loaded = load_screen(TEMPLATES_DIR / f"{name}.json", strict=True)
        layout = next(iter(loaded.screen.layouts.values()))
        sizes[name] = (layout.width, layout.height)
        for zone in layout.zones:  # every zone lies inside the canvas
            assert 0 <= zone.x and zone.x + zone.width <= layout.width
            assert 0 <= zone.y and zone.y + zone.height <= layout.height
    assert sizes == {"info-landscape": (1920, 1080), "stele-portrait": (1080, 1920),
                     "fullscreen-slideshow": (1920, 1080)}


def test_demo_loads_with_every_item_kind_it_uses() -> None:
    loaded = load_screen(DEMO_DIR / "screen.json", strict=True)
    screen = loaded.screen
    assert screen.schedule.default_layout == "info"
    info = screen.layouts["info"]
    zones = {z.id: z for z in info.zones}
    assert set(zones) == {"header", "clock", "main", "side", "footer"}  # from the template
    assert all(isinstance(i, ImageItem) for i in zones["main"].items)  # overridden by the screen
    assert isinstance(zones["footer"].items[0], TickerItem)
    assert isinstance(zones["clock"].items[0], ClockItem)
    assert {"media/weihnachtsmarkt.jpg", "media/bibliothek.jpg"} <= screen.media_refs()


def test_all_item_fields_reach_the_model() -> None:
    doc = one_zone([
        {"type": "image", "id": "i", "src": "a.jpg", "fit": "cover", "transition": "crossfade", "duration": 5},
        {"type": "video", "id": "v", "src": "b.mp4", "volume": 30, "loop": True},
        {"type": "text", "id": "t", "text": "Grüße", "font_size": 30, "color": "#ff0000", "align": "right",
         "valign": "bottom", "wrap": False, "bold": True},
        {"type": "ticker", "id": "k", "text": "x", "speed": 80},
        {"type": "clock", "id": "c", "format": "HH:mm:ss", "timezone": "Europe/Berlin"},
        {"type": "qr", "id": "q", "data": "https://example.org", "caption": "Mehr"},
        {"type": "widget", "id": "w", "widget": "departures", "feed": "bus", "options": {"rows": 6}},
        {"type": "text", "id": "valid", "text": "x", "valid": {"start": "2026-12-01", "end": "2026-12-24",
                                                               "weekdays": ["mo", "fri"],
                                                               "times": [{"from": "22:00", "to": "02:00"}]}},
    ])
    screen = load_screen_dict(doc, "screen.json", strict=True).screen
    items = {i.id: i for i in screen.layouts["main"].zones[0].items}
    assert isinstance(items["i"], ImageItem) and items["i"].fit is Fit.COVER and items["i"].duration == 5
    assert isinstance(items["v"], VideoItem) and items["v"].duration is None and items["v"].volume == 30
    assert isinstance(items["t"], TextItem) and items["t"].style.color == "#ff0000" and not items["t"].wrap
    assert isinstance(items["k"], TickerItem) and items["k"].speed == 80
    assert isinstance(items["c"], ClockItem) and items["c"].shows_seconds
    assert isinstance(items["q"], QrItem) and items["q"].caption == "Mehr"
    assert isinstance(items["w"], WidgetItem) and items["w"].options == {"rows": 6}
    v = items["valid"].validity
    assert v.start == datetime(2026, 12, 1) and v.end == datetime(2026, 12, 25)  # end date includes the day
    assert v.weekdays == frozenset({0, 4})
    assert v.windows[0].start == time(22) and v.windows[0].crosses_midnight


def test_schedule_entries_are_read() -> None:
    doc = one_zone([{"type": "text", "text": "x"}])
    doc["layouts"]["alarm"] = doc["layouts"]["main"]
    doc["schedule"] = {"default": "main", "entries": [
        {"id": "a", "layout": "alarm", "mode": "interrupt", "priority": 9, "start": "2026-12-01T10:00:00+01:00"}]}
    schedule = load_screen_dict(doc, "s.json", strict=True).screen.schedule
    assert schedule.default_layout == "main"
    entry = schedule.entries[0]
    assert entry.mode is EntryMode.INTERRUPT and entry.priority == 9
    assert entry.validity.start is not None and entry.validity.start.utcoffset() is not None


@pytest.mark.parametrize(("doc", "expected"), [
    ([], "s.json: $: the document must be a JSON object, got array"),
    ({"version": 1}, "s.json: $.layouts: missing"),
    ({"layouts": {"a": {"zones": "x"}}}, "s.json: $.layouts.a.zones: expected array, got string"),
    ({"layouts": {"a": {"width": "wide", "zones": []}}}, "s.json: $.layouts.a.width: expected integer"),
    ({"layouts": {"a": {"zones": []}}, "schedule": {"default": "b"}}, "s.json: $.schedule.default: unknown layout 'b'"),
    ({"version": 2, "layouts": {"a": {"zones": []}}}, "s.json: $.version: version 2 is not supported"),
    ({"layouts": {"a": {"template": "nope"}}}, "s.json: $.layouts.a.template: unknown template 'nope'"),
])
def test_unusable_documents_raise_with_one_line_per_problem(doc: object, expected: str) -> None:
    with pytest.raises(DocumentError) as err:
        load_screen_dict(doc, "s.json")
    assert any(line.startswith(expected) for line in err.value.lines), err.value.lines
    assert all(line.startswith("s.json: $") and "\n" not in line for line in err.value.lines)


@pytest.mark.parametrize(("item", "expected"), [
    ({"type": "hologram"}, "$.layouts.main.zones[0].items[0].type: unknown item type 'hologram'"),
    ({"type": "image"}, "$.layouts.main.zones[0].items[0].src: missing"),
    ({"type": "image", "src": "../../etc/passwd"}, "$.layouts.main.zones[0].items[0].src: '../../etc/passwd'"),
    ({"type": "image", "src": "file:///etc/passwd"}, "only relative paths and http(s) URLs"),
    ({"type": "web", "url": "javascript:alert(1)"}, "is not an http(s) URL"),
    ({"type": "text", "text": "x", "color": "red"}, "$.layouts.main.zones[0].items[0].color: 'red' is not a colour"),
    ({"type": "text", "text": "x", "duration": -3}, "$.layouts.main.zones[0].items[0].duration: -3 is out of range"),
    ({"type": "text", "text": "x", "colour": "#fff"}, "$.layouts.main.zones[0].items[0].colour: unknown key"),
    ({"type": "text", "valid": {"times": [{"from": "25:00", "to": "26:00"}]}}, "times[0].from: '25:00' is not a time"),
    ({"type": "text", "valid": {"start": "2026-12-24", "end": "2026-12-01"}}, "valid.end: end is not after start"),
    ({"type": "widget", "widget": "teleporter"}, "unknown widget 'teleporter'"),
])
def test_defects_are_reported_and_the_rest_plays(item: dict, expected: str) -> None:
    doc = one_zone([item, {"type": "text", "id": "ok", "text": "still here"}])
    loaded = load_screen_dict(doc, "s.json")  # lenient, as the player loads
    assert any(expected in line for line in loaded.defects), loaded.defects
    assert loaded.screen.layouts["main"].zones[0].items[-1].id == "ok"
    with pytest.raises(DocumentError):  # validate is strict
        load_screen_dict(doc, "s.json", strict=True)


def test_zone_outside_the_canvas_is_dropped_and_partly_outside_is_cut() -> None:
    doc = one_zone([{"type": "text", "text": "x"}], zone={"x": 1800, "width": 400})
    doc["layouts"]["main"]["zones"].append({"id": "gone", "x": 5000, "y": 0, "width": 100, "height": 100})
    loaded = load_screen_dict(doc, "s.json")
    zones = loaded.screen.layouts["main"].zones
    assert [z.id for z in zones] == ["main"]
    assert zones[0].x == 1800 and zones[0].width == 120
    assert any("'gone'" in line and "outside the canvas" in line for line in loaded.defects)
    assert any("'main'" in line and "cut to fit" in line for line in loaded.defects)


def test_hostile_nesting_and_broken_json_are_one_line(tmp_path: Path) -> None:
    deep: object = "x"
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(DocumentError) as err:
        load_screen_dict({"layouts": {"a": {"zones": []}}, "feeds": {"x": {"y": deep}}}, "s.json")
    assert err.value.lines == ["s.json: $: nested deeper than 32 levels; refusing to read it"]
    bad = tmp_path / "screen.json"
    bad.write_text('{"layouts": {', encoding="utf-8")
    with pytest.raises(DocumentError) as err2:
        load_screen(bad)
    assert len(err2.value.lines) == 1 and "not valid JSON" in err2.value.lines[0]
    (tmp_path / "latin1.json").write_bytes('{"name": "Gr\xfc\xdfe"}'.encode("latin-1"))
    with pytest.raises(DocumentError) as err3:
        load_screen(tmp_path / "latin1.json")
    assert "not UTF-8" in err3.value.lines[0]


def test_template_zones_are_overridden_by_id(tmp_path: Path) -> None:
    doc = {"version": 1, "layouts": {"x": {"template": "stele-portrait", "background": "#112233", "zones": [
        {"id": "main", "items": [{"type": "text", "id": "mine", "text": "Hallo"}]}]}}}
    path = write_screen(tmp_path, doc)
    layout = load_screen(path, strict=True).screen.layouts["x"]
    zones = {z.id: z for z in layout.zones}
    assert (layout.width, layout.height, layout.background) == (1080, 1920, "#112233")
    assert [i.id for i in zones["main"].items] == ["mine"]
    assert zones["main"].rect == (0, 160, 1080, 1080)  # geometry from the template
    assert zones["footer"].items[0].kind == "ticker"


def test_schema_file_is_valid_json() -> None:
    json.loads((TEMPLATES_DIR / "layout.schema.json").read_text(encoding="utf-8"))


def _scheduled(*entries: dict) -> dict:
    doc = one_zone([{"type": "text", "text": "x"}])
    doc["layouts"]["night"] = doc["layouts"]["main"]
    doc["schedule"] = {"default": "main", "entries": [
        {"id": "ok", "layout": "night", "times": [{"from": "22:00", "to": "06:00"}]}, *entries]}
    return doc


@pytest.mark.parametrize(("entry", "expected"), [
    ({"id": "b", "layout": "night", "start": "2026-12-24T10:00", "end": "2026-12-24T09:00"},
     ["s.json: $.schedule.entries[1].end: end is not after start: never active; entry skipped"]),
    ({"id": "b", "layout": "night", "start": "2026-12-24", "end": "2026-12-22"},
     ["s.json: $.schedule.entries[1].end: end is not after start: never active; entry skipped"]),
    ({"id": "b", "layout": "nebula"},
     ["s.json: $.schedule.entries[1].layout: unknown layout 'nebula' (defined: main, night); entry skipped"]),
    ({"id": "b", "layout": "night", "times": [{"from": "25:00", "to": "06:00"}]},
     ["s.json: $.schedule.entries[1].times[0].from: '25:00' is not a time of day (HH:MM); entry skipped"]),
    ({"id": "b", "layout": "night", "weekdays": ["mo", "funday"]},
     ["s.json: $.schedule.entries[1].weekdays[1]: 'funday' is not a weekday (mon..sun or mo..so); entry skipped"]),
    ({"id": "b", "layout": "night", "start": "2026-05-04", "end": "2026-05-08", "weekdays": ["sa"]},
     ["s.json: $.schedule.entries[1]: never active (no allowed weekday/time window inside its date range); "
      "entry skipped"]),
    ({"id": "b", "layout": "nebula", "times": [{"from": "08:00", "to": "12:60"}]},  # two problems, two lines
     ["s.json: $.schedule.entries[1].times[0].to: '12:60' is not a time of day (HH:MM); entry skipped",
      "s.json: $.schedule.entries[1].layout: unknown layout 'nebula' (defined: main, night); entry skipped"]),
    ({"id": "ok", "layout": "night", "weekdays": ["sa"]},  # kept: the id only names it
     ["s.json: $.schedule.entries[1].id: duplicate id 'ok'"]),
])
def test_bad_schedule_entries_give_exactly_one_line_per_problem(tmp_path: Path, capsys, entry: dict,
                                                                expected: list[str]) -> None:
    from player.cli import main

    loaded = load_screen_dict(_scheduled(entry), "s.json")  # lenient, as the player loads
    assert loaded.defects == expected
    kept = [e.id for e in loaded.screen.schedule.entries]
    assert kept == (["ok", "ok"] if "duplicate" in expected[0] else ["ok"])  # the bad entry is skipped
    path = write_screen(tmp_path, _scheduled(entry))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [line.replace("s.json", str(path), 1) for line in expected]


def test_a_bad_default_layout_is_one_line_and_the_document_is_unusable() -> None:
    doc = _scheduled()
    doc["schedule"]["default"] = "nebula"
    with pytest.raises(DocumentError) as err:
        load_screen_dict(doc, "s.json")
    assert err.value.lines == ["s.json: $.schedule.default: unknown layout 'nebula' (defined: main, night)"]
    doc["schedule"]["default"] = 7
    with pytest.raises(DocumentError) as err:
        load_screen_dict(doc, "s.json")
    assert err.value.lines == ["s.json: $.schedule.default: expected string, got integer 7"]


def test_a_date_only_end_includes_that_day() -> None:
    """``"end": "2026-12-26"`` means up to the end of 26 December: the entry ends at the next local midnight."""
    from zoneinfo import ZoneInfo

    from player.schedule import next_change, resolve

    berlin = ZoneInfo("Europe/Berlin")
    doc = _scheduled({"id": "xmas", "layout": "night", "priority": 5, "start": "2026-12-24", "end": "2026-12-26"})
    schedule = load_screen_dict(doc, "s.json", strict=True).screen.schedule
    xmas = schedule.entries[1]
    assert (xmas.validity.start, xmas.validity.end) == (datetime(2026, 12, 24), datetime(2026, 12, 27))
    assert resolve(schedule, datetime(2026, 12, 26, 23, 59, 59, tzinfo=berlin)).entry_ids == ("xmas",)
    assert next_change(schedule, datetime(2026, 12, 26, 12, 0, tzinfo=berlin)) == datetime(2026, 12, 27, 0, 0,
                                                                                           tzinfo=berlin)
    assert resolve(schedule, datetime(2026, 12, 27, 0, 0, tzinfo=berlin)).entry_ids == ("ok",)  # night again
    # with a time the end is exclusive, as written
    doc = _scheduled({"id": "xmas", "layout": "night", "start": "2026-12-24", "end": "2026-12-26T00:00"})
    end = load_screen_dict(doc, "s.json", strict=True).screen.schedule.entries[1].validity.end
    assert end == datetime(2026, 12, 26)
