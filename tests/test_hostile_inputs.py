"""Hostile input suite: documents, hub objects, file names, URLs and media made to break the player.

Every case ends in a clear one-line error (or a defect: the part is dropped, the rest plays), never another
exception, never a traceback in the output, never a file written outside the player's state/cache directories.
"""

from __future__ import annotations

import io
import json
import logging
import os
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from player.cache import ContentCache
from player.feeds.factory import build_feeds
from player.feeds.sample import SampleError, SampleFeed
from player.layouts import (
    MAX_ITEMS_PER_ZONE,
    MAX_TEXT,
    DocumentError,
    Loaded,
    load_screen,
    load_screen_dict,
    read_json,
)
from player.model import TextItem
from player.prepare import PrepareError, prepare_files, render_pdf, scale_image
from player.sources.base import SourceError
from player.sources.folder import FolderSource
from player.sources.http import HttpSource
from player.sources.stele import HubContent, TranslateOptions, translate
from screens import ROOT, one_zone, solid_image

try:
    from tests.httpfaults import FaultServer
except ImportError:  # tests/ is not a package
    from httpfaults import FaultServer  # type: ignore[no-redef]

DATA = Path(__file__).resolve().parent / "data" / "hostile"
HUB = "https://hub.example.org/parse"
OPTS = TranslateOptions(hub_url=HUB)
CLI = [sys.executable, "-m", "player.cli"]


def one_line(lines: list[str] | tuple[str, ...]) -> None:
    assert lines
    for line in lines:
        assert line and "\n" not in line and "\r" not in line and "\x00" not in line, repr(line[:200])
        line.encode("utf-8")
        assert "Traceback" not in line and len(line) < 2000, line[:200]


def doc_with_items(items: list[Any]) -> dict[str, Any]:
    return one_zone(items)


def load_ok(doc: Any) -> Loaded:
    loaded = load_screen_dict(doc, "hostile.json")
    one_line(loaded.defects) if loaded.defects else None
    return loaded


def load_fails(doc: Any) -> list[str]:
    with pytest.raises(DocumentError) as info:
        load_screen_dict(doc, "hostile.json")
    one_line(info.value.lines)
    return info.value.lines


def deep(levels: int, leaf: Any = 1) -> Any:
    node = leaf
    for _ in range(levels):
        node = [node]
    return node


# ------------------------------------------------------------------------------------------ wrong types
@pytest.mark.parametrize("value", [None, True, 0, -1, 1.5, float("inf"), "x", [], {}, [1, "a"], {"a": [1]}])
def test_wrong_types_at_every_level_of_a_document(value: Any) -> None:
    """The value put in place of the root, screen keys, a layout, a zone, an item and item fields."""
    base = doc_with_items([{"type": "text", "text": "ok", "valid": {"weekdays": ["mo"]}}])
    base["schedule"] = {"default": "main", "entries": [{"layout": "main", "times": [{"from": "08:00",
                                                                                      "to": "09:00"}]}]}
    targets: list[tuple[str, ...]] = [("version",), ("name",), ("layouts",), ("layouts", "main"),
                                      ("layouts", "main", "zones"), ("layouts", "main", "width"),
                                      ("schedule",), ("schedule", "entries"), ("schedule", "default"),
                                      ("feeds",)]
    for target in targets:
        doc = json.loads(json.dumps(base))
        node = doc
        for key in target[:-1]:
            node = node[key]
        node[target[-1]] = value
        try:
            load_ok(doc)
        except DocumentError as exc:
            one_line(exc.lines)
            assert all("$" in line for line in exc.lines)
    zone = base["layouts"]["main"]["zones"][0]
    for key in ("id", "x", "y", "width", "height", "z", "loop", "background", "items"):
        doc = json.loads(json.dumps(base))
        doc["layouts"]["main"]["zones"][0][key] = value
        load_ok(doc)
    for key in ("type", "id", "duration", "valid", "text", "font_size", "color", "bold", "align", "wrap"):
        doc = json.loads(json.dumps(base))
        doc["layouts"]["main"]["zones"][0]["items"][0][key] = value
        load_ok(doc)
    for key in ("start", "end", "weekdays", "times"):
        doc = json.loads(json.dumps(base))
        doc["schedule"]["entries"][0][key] = value
        doc["layouts"]["main"]["zones"][0]["items"][0]["valid"][key] = value
        load_ok(doc)
    assert zone["items"]
    assert load_ok(json.loads(json.dumps(base))).defects == []


def test_unknown_keys_are_defects_not_errors() -> None:
    doc = doc_with_items([{"type": "text", "text": "a", "<script>": 1, "kaputt": {"x": [1]}}])
    doc["zusatz"] = True
    loaded = load_ok(doc)
    assert any("unknown key" in line and "zusatz" in line for line in loaded.defects)
    assert any("<script>" in line for line in loaded.defects)


# ------------------------------------------------------------------------------------- depth and size
def test_deep_nesting_10000_levels_in_a_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "screen.json"
    path.write_text('{"layouts": ' + "[" * 10_000 + "]" * 10_000 + "}", encoding="utf-8")
    with pytest.raises(DocumentError) as info:
        load_screen(path)
    one_line(info.value.lines)
    assert str(path) in info.value.lines[0]


def test_deep_nesting_10000_levels_as_an_object_is_refused() -> None:
    lines = load_fails({"layouts": {"main": {"zones": [{"items": [{"type": "widget", "widget": "news",
                                                                   "options": deep(10_000)}]}]}}})
    assert "nested deeper than" in lines[0]


class _FakeDownloader:
    """fetch_document only: returns the given bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def fetch_document(self, url: str, max_bytes: int | None = None) -> Any:
        import hashlib
        from types import SimpleNamespace

        return SimpleNamespace(data=self.data, sha=hashlib.sha256(self.data).hexdigest())


@pytest.mark.parametrize("body", [b"[" * 10_000 + b"]" * 10_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
                                  b"\xff\xfe not json", b"", b"[1, 2", b'"just a string"', b"\x00" * 100])
def test_http_source_refuses_broken_json_with_one_line(body: bytes) -> None:
    source = HttpSource("https://example.org/s/screen.json", _FakeDownloader(body))  # type: ignore[arg-type]
    with pytest.raises(SourceError) as info:
        source.fetch(None)
    one_line(info.value.lines)
    assert "example.org" in info.value.lines[0]


def _timed(label: str, fn: Any) -> Any:
    t0 = time.perf_counter()
    result = fn()
    print(f"{label}: {time.perf_counter() - t0:.2f} s")  # bounded loading: reported, not asserted
    return result


def test_huge_arrays_are_capped() -> None:
    n = 1_000_000
    loaded = _timed("1M items", lambda: load_ok(doc_with_items([{"type": "text", "text": "x"}] * n)))
    zone = loaded.screen.layouts["main"].zones[0]
    assert len(zone.items) == MAX_ITEMS_PER_ZONE
    assert any(f"{n} items; only the first {MAX_ITEMS_PER_ZONE}" in line for line in loaded.defects)

    doc = doc_with_items([{"type": "text", "text": "x"}])
    doc["schedule"] = {"default": "main", "entries": [{"layout": "main", "weekdays": ["mo"] * n}]
                       + [{"layout": "main"}] * n}
    loaded = _timed("1M entries, 1M weekdays", lambda: load_ok(doc))
    assert len(loaded.screen.schedule.entries) <= 100_000

    doc = doc_with_items([{"type": "text", "text": "x"}])
    doc["layouts"].update({f"l{i}": doc["layouts"]["main"] for i in range(n)})
    doc["schedule"] = {"default": "main"}
    loaded = _timed("1M layouts", lambda: load_ok(doc))
    assert len(loaded.screen.layouts) <= 256

    doc = one_zone([{"type": "text", "text": "x"}])
    doc["layouts"]["main"]["zones"] = [{"items": []}] * n
    loaded = _timed("1M zones", lambda: load_ok(doc))
    assert len(loaded.screen.layouts["main"].zones) <= 64

    doc = doc_with_items([{"type": "text", "text": "x", "valid": {"times": [{"from": "08:00", "to": "09:00"}] * n,
                                                                  "weekdays": ["mo"] * n}}])
    loaded = _timed("1M times", lambda: load_ok(doc))
    item = loaded.screen.layouts["main"].zones[0].items[0]
    assert len(item.validity.windows) <= 48


def test_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "screen.json"
    with open(path, "wb") as fh:
        fh.truncate(25_000_000)  # sparse: costs no disk
    with pytest.raises(DocumentError) as info:
        read_json(path)
    one_line(info.value.lines)
    assert "more than" in info.value.lines[0]


# --------------------------------------------------------------------------------------------- unicode
UNICODE_TEXTS = {
    "rtl": "\u202eabc.exe \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "zwj": "a\u200db\u200c\u200bc\ufeff",
    "emoji_zwj": "👩\u200d👩\u200d👧\u200d👦 🏳️\u200d🌈 👍🏽",
    "lone_surrogate": "vor \ud800 mitte \udfff nach",
    "nul": "a\x00b",
    "combining": "Z\u0351\u0354\u0308" * 200,
}


@pytest.mark.parametrize("name", sorted(UNICODE_TEXTS))
def test_unicode_edge_cases_load(name: str) -> None:
    text = UNICODE_TEXTS[name]
    doc = doc_with_items([{"type": "text", "id": "t", "text": text}, {"type": "ticker", "text": text},
                          {"type": "qr", "data": text, "caption": text}])
    doc["name"] = text
    doc["layouts"][text] = doc["layouts"]["main"]
    doc["feeds"] = {text: {"type": "sample", "file": text}}
    doc["schedule"] = {"default": "main", "entries": [{"layout": text, "weekdays": [text]}]}
    loaded = load_ok(json.loads(json.dumps(doc)))  # through JSON: "\ud800" as the HTTP source sees it
    assert isinstance(loaded.screen.layouts["main"].zones[0].items[0], TextItem)


def test_one_megabyte_single_line_string_is_cut_with_a_defect() -> None:
    big = "x" * 1_000_000
    doc = doc_with_items([{"type": "text", "text": big}, {"type": "image", "src": big}])
    doc[big] = 1  # an unknown key a megabyte long: the defect line stays short
    loaded = load_ok(doc)
    item = loaded.screen.layouts["main"].zones[0].items[0]
    assert isinstance(item, TextItem) and len(item.text) == MAX_TEXT
    assert any("cut" in line for line in loaded.defects)
    assert max(len(line) for line in loaded.defects) < 500


def test_problem_lines_from_hostile_keys_stay_one_line() -> None:
    doc = doc_with_items([{"type": "text", "text": "a", "b\nc": 1, "\x00": 2, "\ud800": 3, "\u2028": 4}])
    doc["schedule"] = {"default": "nope\nFAKE LOG LINE"}
    lines = load_fails(doc)
    assert any("\\x0a" in line for line in lines)


def test_preview_renders_hostile_text(tmp_path: Path) -> None:
    """`osc-player preview` of a text item with RTL override, ZWJ emoji, a lone surrogate and a NUL exits 0."""
    text = "".join(UNICODE_TEXTS.values()) + "<b>kein</b> <script>alert(1)</script>" + "y" * 30_000
    folder = tmp_path / "content"
    doc = one_zone([{"type": "text", "id": "t", "text": text, "font_size": 48},
                    {"type": "ticker", "id": "k", "text": text}], zone={"id": "main", "height": 900})
    doc["layouts"]["main"]["zones"].append({"id": "tick", "x": 0, "y": 900, "width": 1920, "height": 180,
                                            "items": [{"type": "ticker", "id": "k2", "text": text}]})
    folder.mkdir()
    (folder / "screen.json").write_text(json.dumps(doc), encoding="utf-8")  # ensure_ascii: "\ud800" escaped
    out = tmp_path / "out" / "preview.png"
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home")}
    before = _tree(tmp_path)
    res = subprocess.run([*CLI, "preview", "--source", str(folder), "--at", "2026-01-01T12:00:00+01:00",
                          "--out", str(out), "--size", "960x540"], capture_output=True, text=True, timeout=120,
                         cwd=ROOT, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout
    assert out.is_file()
    written = _tree(tmp_path) - before
    assert {p for p in written if not p.startswith(("out/", "home/"))} == set(), written


# --------------------------------------------------------------------------------- paths and schemes
HOSTILE_SRCS = ["../../etc/passwd", "/etc/passwd", "media/../../x.png", "..\\..\\x.png", "media\\..\\..\\x.png",
                "C:\\Windows\\x.png", "file:///etc/passwd", "javascript:alert(1)", "data:image/png;base64,AAAA",
                "ftp://example.org/x.png", "a\x00b.png", "media/\n../x.png", "\\etc\\passwd"]


@pytest.mark.parametrize("src", HOSTILE_SRCS)
def test_hostile_media_references_are_defects(src: str) -> None:
    loaded = load_ok(doc_with_items([{"type": "image", "src": src}, {"type": "video", "src": src},
                                     {"type": "text", "text": "rest"}]))
    assert len(loaded.screen.layouts["main"].zones[0].items) == 1, loaded.defects
    assert loaded.screen.media_refs() == set()
    assert len(loaded.defects) == 2


@pytest.mark.parametrize("src", ["%2e%2e/%2e%2e/etc/passwd", "media/%2e%2e/%2e%2e/x.png", "link/passwd",
                                 "loop.png", "media/../media/ok.png"])
def test_folder_source_keeps_references_inside_the_folder(tmp_path: Path, src: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "passwd"
    secret.write_text("root:x:0:0", encoding="utf-8")
    folder = tmp_path / "content"
    solid_image(folder / "media" / "ok.png", (0, 255, 0))
    (folder / "link").symlink_to(outside, target_is_directory=True)
    (folder / "loop.png").symlink_to("loop.png")
    source = FolderSource(folder)
    assert source.resolve(src) in (None, (folder / "media" / "ok.png").resolve())
    assert source.resolve("link/passwd") is None and secret.is_file()
    assert source.resolve("a\x00b") is None
    assert source.resolve("loop.png") is None


@pytest.mark.parametrize("ref", ["../x.png", "..\\x.png", "media/%2e%2e/%2e%2e/x.png", "/etc/passwd",
                                 "file:///etc/passwd", "javascript:alert(1)", "data:,x", "ftp://example.org/x",
                                 "a\x00b", "https://user:pw@example.org/x.png", "https://evil.example/x.png",
                                 "//evil.example/x.png"])
def test_http_source_refuses_hostile_media_urls(ref: str) -> None:
    source = HttpSource("https://example.org/s/screen.json", _FakeDownloader(b"{}"))  # type: ignore[arg-type]
    url, why = source.media_url(ref)
    assert url is None and why and "\n" not in why


@pytest.mark.parametrize("url", ["file:///etc/passwd", "javascript:alert(1)", "data:text/html,<b>x</b>",
                                 "ftp://example.org/", "about:blank", "  http://example.org"])
def test_web_items_take_only_http_urls(url: str) -> None:
    loaded = load_ok(doc_with_items([{"type": "web", "url": url}, {"type": "text", "text": "rest"}]))
    assert len(loaded.screen.layouts["main"].zones[0].items) == 1
    assert any("not an http(s) URL" in line for line in loaded.defects)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "javascript:alert(1)", "data:application/json,[]",
                                 "ftp://example.org/news.json"])
def test_feed_urls_with_other_schemes_are_refused(url: str) -> None:
    built = build_feeds({"news": {"type": "generic", "url": url, "items": "items"}})
    assert built.feeds == []
    one_line(built.problems)


@pytest.mark.parametrize("file", ["../../etc/passwd", "/etc/passwd", "..\\x.json", "c:x.json", "link/x.json"])
def test_sample_feed_files_stay_inside_the_content_folder(tmp_path: Path, file: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.json").write_text("{}", encoding="utf-8")
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(SampleError):
        SampleFeed(folder, file).read()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "javascript:alert(1)", "data:image/png;base64,AAAA",
                                 "ftp://hub.example.org/x.png", "https://evil.example/x.png"])
def test_hub_files_with_other_schemes_or_hosts_are_refused(url: str) -> None:
    content = _hub_diashow([{"objectId": "s1", "file": {"__type": "File", "name": "x.png", "url": url},
                             "startDate": _date("2025-01-01T00:00:00Z"), "endDate": _date("2030-01-01T00:00:00Z")},
                            _slide("ok", "ok.png")])
    result = translate(content, OPTS)
    assert [spec.url for spec in result.media.values()] == [f"{HUB}/files/app/ok.png"]
    assert any("s1" in line for line in result.problems)
    layout = load_ok(result.document).screen.layouts["main"]
    assert [i.id for z in layout.zones for i in z.items if z.id == "main"] == ["ok"]


def test_hub_file_names_cannot_escape_the_media_folder() -> None:
    names = ["../../etc/passwd", "/etc/passwd", "..", "a\x00b.png", "..\\..\\x.png", "%2e%2e%2fx.png",
             "<script>alert(1)</script>.png", "\u202egnp.exe", "x" * 5000 + ".png"]
    slides = [_slide(f"s{i}", name) for i, name in enumerate(names)]
    for i, s in enumerate(slides):
        s["file"]["url"] = f"{HUB}/files/app/{i}.png"
    result = translate(_hub_diashow(slides), OPTS)
    assert len(result.media) == len(names)
    for ref in result.media:
        assert ref.startswith("media/") and "/" not in ref[len("media/"):] and ".." not in ref
        assert "\x00" not in ref and "\\" not in ref and len(ref) <= 140
    assert load_ok(result.document).defects == []


# ---------------------------------------------------------------------------------------------- hub
def _date(iso: str) -> dict[str, str]:
    return {"__type": "Date", "iso": iso}


def _obj(cls: str, oid: str, **fields: Any) -> dict[str, Any]:
    return {"__type": "Object", "className": cls, "objectId": oid, **fields}


def _ptr(cls: str, oid: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": cls, "objectId": oid}


def _slide(oid: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"objectId": oid, "file": {"__type": "File", "name": name, "url": f"{HUB}/files/app/{name}"},
            "startDate": _date("2025-01-01T00:00:00Z"), "endDate": _date("2030-01-01T00:00:00Z"), **extra}


def _screen(kind: str = "Diashow", **extra: Any) -> dict[str, Any]:
    return {"objectId": "scr1", "name": "Linde", "state": _obj("SteleScreenState", "st", name="Aktiv"),
            "layoutType": _obj("SteleLayoutType", "lt", name=kind), "layoutConfig": _obj("SteleLayoutConfig", "cfg1"),
            **extra}


def _hub_diashow(slides: list[dict[str, Any]], **screen: Any) -> HubContent:
    return HubContent(screen=_screen(**screen), configs={"cfg1": {"objectId": "cfg1",
                                                                  "diashowConfig": _ptr("SteleDiashowConfig", "d")}},
                      slides={"d": slides})


def _translated(content: HubContent) -> tuple[Any, Loaded]:
    result = translate(content, OPTS)
    for line in result.problems:
        assert isinstance(line, str) and line
    return result, load_ok(result.document)


def test_hub_pointers_to_deleted_objects() -> None:
    content = HubContent(
        screen=_screen("Touchscreen"),
        configs={"cfg1": {"objectId": "cfg1", "gridConfig": _ptr("SteleGridConfig", "g"),
                          "diashowConfig": _ptr("SteleDiashowConfig", "gone")}},
        tiles={"g": [{"objectId": "tp1", "position": 1, "tile": _ptr("SteleTile", "deleted")},
                     {"objectId": "tp2", "position": 2, "tile": None},
                     {"objectId": "tp3", "position": 3, "tile": _obj("SteleTile", "t", tileType=_ptr("T", "x"))},
                     {"objectId": "tp4", "position": 4, "tile": _obj("SteleTile", "t4")}]},
        schedules=[{"objectId": "sch1", "layoutConfig": _ptr("SteleLayoutConfig", "deleted")},
                   {"objectId": "sch2"}])
    result, loaded = _translated(content)
    assert any("deleted" in line for line in result.problems)
    assert any("sch1" in line for line in result.problems) and any("sch2" in line for line in result.problems)
    assert len(loaded.screen.layouts["main"].zones) == 4
    # the screen's own config deleted: a bare pointer left by include
    bare = HubContent(screen=_screen(layoutConfig=_ptr("SteleLayoutConfig", "cfg1")))
    _, loaded = _translated(bare)
    assert loaded.screen.layouts


@pytest.mark.parametrize("position", [0, 5, -1, "1", 1.5, None, True, [1], {"n": 1}, 1e308, float("nan")])
def test_hub_grid_positions_out_of_range(position: Any) -> None:
    rows = [{"objectId": "bad", "position": position,
             "tile": _obj("SteleTile", "t", tileType=_obj("SteleTileType", "tt", name="Wetter"))},
            {"objectId": "good", "position": 2,
             "tile": _obj("SteleTile", "t2", tileType=_obj("SteleTileType", "tt", name="<b>Neu</b>"))}]
    content = HubContent(screen=_screen("Touchscreen"), configs={"cfg1": {"objectId": "cfg1", "gridConfig":
                                                                          _ptr("SteleGridConfig", "g")}},
                         tiles={"g": rows})
    result, loaded = _translated(content)
    assert any("bad" in line and "1–4" in line for line in result.problems)
    assert [z.id for z in loaded.screen.layouts["main"].zones] == ["tile1", "tile2", "tile3", "tile4"]


def test_hub_wrong_types_and_missing_fields() -> None:
    slides = [{"objectId": "a"}, {"objectId": "b", "file": "not a file", "startDate": 5, "endDate": []},
              _slide("c", "c.png", duration="zehn", weekdays="mo", timeFrom=8, timeTo="25:00", fit=["x"],
                     transition={"a": 1}, order="1"),
              _slide("d", "d.png", duration=float("inf"), weekdays=[0, 8, "xx", None, True], order=float("nan")),
              {"objectId": ["x"], "file": {"__type": "File"}, "startDate": _date("x"), "endDate": None}]
    content = _hub_diashow(slides, name=["not", "text"], location={"__type": "GeoPoint", "latitude": "x"})
    content.schedules = [{"objectId": 5, "layoutConfig": _ptr("SteleLayoutConfig", "cfg1"), "priority": float("inf"),
                          "mode": ["interrupt"], "weekdays": {"mo": 1}, "startDate": "gestern", "timeFrom": "8"},
                         {"objectId": "p", "layoutConfig": _ptr("SteleLayoutConfig", "cfg1"), "priority": 1e300}]
    content.configs["cfg1"].update(showHeader="ja", showFooter=1, template=["x"], layout={"zones": 5})
    result, loaded = _translated(content)
    ids = [i.id for z in loaded.screen.layouts["main"].zones for i in z.items]
    assert sorted(ids) == ["c", "d"]


@pytest.mark.parametrize("iso", ["0000-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00Z",
                                 "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-12:00", "10000-01-01T00:00:00Z",
                                 "2025-02-30T00:00:00Z", "x" * 100])
def test_hub_dates_at_the_edges(iso: str) -> None:
    slides = [_slide("edge-start", "a.png", startDate=_date(iso)), _slide("edge-end", "b.png", endDate=_date(iso)),
              _slide("ok", "c.png")]
    content = _hub_diashow(slides)
    content.configs["cfg2"] = {"objectId": "cfg2", "diashowConfig": _ptr("SteleDiashowConfig", "d")}
    content.schedules = [{"objectId": "s", "layoutConfig": _ptr("SteleLayoutConfig", "cfg2"),
                          "startDate": _date(iso), "endDate": _date(iso)}]
    _, loaded = _translated(content)
    ids = [i.id for z in loaded.screen.layouts["main"].zones for i in z.items]
    assert "ok" in ids
    from datetime import UTC, datetime

    from player.schedule import next_change, resolve
    for at in (datetime(2025, 6, 1, tzinfo=UTC), datetime(9998, 1, 1, tzinfo=UTC)):
        assert resolve(loaded.screen.schedule, at).layout in loaded.screen.layouts
        next_change(loaded.screen.schedule, at)


def test_hub_names_with_html_and_script_stay_text() -> None:
    name = '<script>alert("x")</script><img src=x onerror=alert(1)>\n\u202eLinde'
    slides = [_slide("s1", "<b>x</b>.png"), _slide("<script>", "y.png")]
    result, loaded = _translated(_hub_diashow(slides, name=name))
    assert loaded.screen.name == name[:200]
    assert all(ref.startswith("media/") and "<" not in ref for ref in result.media)


def test_hub_10000_slides_are_translated_and_capped() -> None:
    slides = [_slide(f"s{i}", f"bild{i}.jpg", order=i) for i in range(10_500)]
    result, loaded = _timed("10500 slides", lambda: _translated(_hub_diashow(slides)))
    zone = next(z for z in loaded.screen.layouts["main"].zones if z.id == "main")
    assert len(zone.items) == MAX_ITEMS_PER_ZONE
    assert len(loaded.screen.media_refs()) <= MAX_ITEMS_PER_ZONE + 4
    assert len(result.media) == 10_500  # the sync only downloads what the loaded screen references


# ---------------------------------------------------------------------------------------------- media
def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A small PNG whose header declares width x height (the IDAT holds only a few rows)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    raw = zlib.compress(b"\x00" * (width + 1) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    """The first 40 % of a 2400x1600 JPEG (larger than the screen, so prepare must decode it to scale it)."""
    buf = io.BytesIO()
    Image.linear_gradient("L").resize((2400, 1600)).convert("RGB").save(buf, "JPEG", quality=85)
    data = buf.getvalue()
    return data[: len(data) * 2 // 5]


def pdf_bomb(pages: int = 3000, box: tuple[float, float] = (100_000, 100_000)) -> bytes:
    """A PDF with *pages* pages of MediaBox *box* pt (raw PDF syntax, correct xref offsets)."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    content_id = 3 + pages
    for _ in range(pages):
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {box[0]:g} {box[1]:g}] "
                       f"/Contents {content_id} 0 R >>".encode())
    stream = b"0 0 1 rg 0 0 100 100 re f"
    objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@pytest.fixture
def hostile_files(tmp_path: Path) -> dict[str, Path]:
    """The hostile media: the small ones from tests/data/hostile, the big ones generated."""
    out = {"bomb.png": DATA / "bomb-30000x30000.png", "truncated.jpg": DATA / "truncated.jpg",
           "pdf-box.pdf": DATA / "mediabox-100000pt.pdf"}
    generated = {"pdf-pages.pdf": pdf_bomb(5000, (595, 842)), "empty.png": b"", "garbage.png": os.urandom(4096),
                 "pdf-garbage.pdf": b"%PDF-1.7\n" + os.urandom(2000)}
    for name, data in generated.items():
        path = tmp_path / "src" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        out[name] = path
    return out


def test_hostile_data_files_are_what_they_claim() -> None:
    assert (DATA / "bomb-30000x30000.png").read_bytes() == png_bomb()
    assert (DATA / "mediabox-100000pt.pdf").read_bytes() == pdf_bomb(3, (100_000, 100_000))
    assert (DATA / "bomb-30000x30000.png").stat().st_size < 10_000
    assert (DATA / "truncated.jpg").stat().st_size < 100_000


def test_decompression_bomb_and_truncated_images_are_refused(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(PrepareError) as info:
        scale_image(DATA / "bomb-30000x30000.png", (1920, 1080), out_dir)
    assert "decompression bomb" in str(info.value) and "900000000" in str(info.value).replace("30000x30000", "")
    with pytest.raises(PrepareError) as info:
        scale_image(DATA / "truncated.jpg", (1920, 1080), out_dir)
    assert "cannot decode" in str(info.value)
    one_line([str(info.value)])
    assert list(out_dir.iterdir()) == []


def test_decompression_bomb_is_refused_by_the_screen_decoder(qapp: Any) -> None:
    from player.model import Fit
    from player.ui.imaging import ImageError, decode_for_zone

    with pytest.raises(ImageError) as info:
        decode_for_zone(DATA / "bomb-30000x30000.png", 1920, 1080, Fit.CONTAIN)
    one_line([str(info.value)])
    with pytest.raises(ImageError):
        decode_for_zone(DATA / "truncated.jpg", 1920, 1080, Fit.CONTAIN)


def test_pdf_bombs_are_refused_or_rendered_within_limits(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(PrepareError) as info:
        render_pdf(DATA / "mediabox-100000pt.pdf", (1920, 1080), out_dir, timeout=60)
    assert "absurd page size" in str(info.value)
    one_line([str(info.value)])
    many = tmp_path / "pages.pdf"
    many.write_bytes(pdf_bomb(5000, (595, 842)))
    t0 = time.perf_counter()
    page = render_pdf(many, (960, 540), out_dir, timeout=60)  # only the first page is rendered
    print(f"5000-page PDF: first page in {time.perf_counter() - t0:.2f} s")
    with Image.open(page) as img:
        assert img.width * img.height <= 40_000_000
    page.unlink()
    assert list(out_dir.iterdir()) == []


def test_prepare_files_reports_every_hostile_file_and_writes_only_into_the_cache(
        tmp_path: Path, hostile_files: dict[str, Path]) -> None:
    cache = ContentCache(tmp_path / "cache", 500_000_000)
    try:
        files = {}
        for name, path in hostile_files.items():
            files[f"media/{name}"] = cache.put_bytes(path.read_bytes())  # put_file would move the file
        doc = doc_with_items([{"type": "image", "src": ref} for ref in files])
        screen = load_ok(doc).screen
        before = _tree(tmp_path)
        prepared = prepare_files(cache, screen, files)
        written = {p for p in _tree(tmp_path) - before if not p.startswith("cache/")}
        assert written == set()
        assert set(prepared.refused) | set(prepared.derived) >= set(files) - {"media/empty.png"}
        for ref in ("media/bomb.png", "media/truncated.jpg", "media/pdf-box.pdf", "media/garbage.png",
                    "media/pdf-garbage.pdf"):
            assert ref in prepared.refused, prepared.refused
        one_line(list(prepared.refused.values()))
        assert "media/pdf-pages.pdf" in prepared.derived
    finally:
        cache.close()


# -------------------------------------------------------------------- end to end: sync writes nothing outside
def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


@pytest.fixture
def hostile_server() -> Iterator[FaultServer]:
    files = {"/s/media/bomb.png": (DATA / "bomb-30000x30000.png").read_bytes(),
             "/s/media/truncated.jpg": (DATA / "truncated.jpg").read_bytes(),
             "/s/media/box.pdf": (DATA / "mediabox-100000pt.pdf").read_bytes(),
             "/s/media/ok.png": _png_bytes()}
    with FaultServer(files) as server:
        yield server


def _png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 36), (0, 128, 0)).save(buf, "PNG")
    return buf.getvalue()


def _sync_env(tmp_path: Path, url: str) -> Any:
    from player.config import load_config
    from player.fetch import Downloader
    from player.snapshots import SnapshotStore
    from player.sync import SyncService

    conf = tmp_path / "player.toml"
    conf.write_text(f'[player]\nstate_dir = "{tmp_path / "state"}"\ncache_dir = "{tmp_path / "cache"}"\n'
                    f'[source]\ntype = "http"\nurl = "{url}"\n', encoding="utf-8")
    config = load_config(conf, env={})
    cache = ContentCache(config.cache_dir, 200_000_000)
    dl = Downloader(cache, retries=0, timeout=(5, 10))
    source = HttpSource(url, dl)
    errors: list[list[str]] = []
    service = SyncService(config, source, cache, dl, SnapshotStore(config.cache_dir), on_error=errors.append)
    return service, errors, cache, dl


def test_sync_of_a_hostile_document_writes_only_into_state_and_cache(
        tmp_path: Path, hostile_server: FaultServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    text = "".join(UNICODE_TEXTS.values())
    items: list[dict[str, Any]] = [{"type": "image", "src": src} for src in HOSTILE_SRCS]
    items += [{"type": "image", "src": f"media/{n}"} for n in ("bomb.png", "truncated.jpg", "box.pdf", "ok.png")]
    items += [{"type": "text", "text": text}, {"type": "web", "url": "javascript:alert(1)"}]
    doc = one_zone(items)
    doc["feeds"] = {"x": {"type": "sample", "file": "../../etc/passwd"}}
    hostile_server.set_file("/s/screen.json", json.dumps(doc).encode(), "application/json")
    work = tmp_path / "work"
    work.mkdir()
    service, errors, cache, dl = _sync_env(work, hostile_server.url("/s/screen.json"))
    before = _tree(tmp_path)
    try:
        outcome = service.sync_once()
        assert outcome.result == "published", outcome
        content = service.boot()
        assert content is not None
        shown = [i.id for z in content.screen.layouts["main"].zones for i in z.items]
        assert len(shown) == 5  # the 4 served media items (3 refused at prepare time, see defects) + the text
        assert any("decompression bomb" in line for line in content.defects) or \
            any("decompression bomb" in r.getMessage() for r in caplog.records)
        assert content.resolver("media/box.pdf") is None
        # a second sync of the same document (lone surrogate and all) is unchanged, not an error
        assert service.sync_once().result == "unchanged"
    finally:
        dl.close()
        cache.close()
    written = _tree(tmp_path) - before
    outside = {p for p in written if not p.startswith(("work/state/", "work/cache/"))}
    assert outside == set(), outside
    assert not any("passwd" in r.path or "evil" in r.path for r in hostile_server.records)
    assert errors == []
    for record in caplog.records:
        assert record.exc_info is None, record.getMessage()
        one_line([record.getMessage()])
