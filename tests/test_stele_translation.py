"""Translation of Stele* hub objects into the screen document (pure, fixture objects)."""

from __future__ import annotations

from typing import Any

import pytest

from player.layouts import load_screen_dict
from player.model import ImageItem, VideoItem, WidgetItem
from player.sources.stele import HubContent, TranslateOptions, screen_status, translate

HUB = "https://hub.example.org/parse"
OPTS = TranslateOptions(hub_url=HUB)


def ptr(cls: str, oid: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": cls, "objectId": oid}


def obj(cls: str, oid: str, **fields: Any) -> dict[str, Any]:
    return {"__type": "Object", "className": cls, "objectId": oid, **fields}


def date(iso: str) -> dict[str, str]:
    return {"__type": "Date", "iso": iso}


def file(name: str, host: str = "hub.example.org") -> dict[str, str]:
    return {"__type": "File", "name": name, "url": f"https://{host}/parse/files/app/{name}"}


def screen(state: str = "Aktiv", kind: str = "Diashow", **extra: Any) -> dict[str, Any]:
    return {"objectId": "scr1", "uuid": "u-1", "name": "Fröhliche Linde 7",
            "state": obj("SteleScreenState", "st1", name=state),
            "layoutType": obj("SteleLayoutType", "lt1", name=kind),
            "layoutConfig": obj("SteleLayoutConfig", "cfg1"), **extra}


def slide(oid: str, name: str, created: str, start: str | None = "2025-01-01T00:00:00.000Z",
          end: str | None = "2030-01-01T00:00:00.000Z", **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"objectId": oid, "file": file(name), "duration": 8, "createdAt": created, **extra}
    if start:
        row["startDate"] = date(start)
    if end:
        row["endDate"] = date(end)
    return row


def load(doc: dict[str, Any]) -> Any:
    loaded = load_screen_dict(doc, "hub", strict=True)  # strict: any defect fails
    return loaded.screen


def diashow_content(slides: list[dict[str, Any]], **config: Any) -> HubContent:
    return HubContent(screen=screen(), configs={"cfg1": {"objectId": "cfg1",
                                                         "diashowConfig": ptr("SteleDiashowConfig", "dia1"),
                                                         **config}},
                      slides={"dia1": slides})


def test_status_new_and_old_names() -> None:
    assert screen_status(screen("Aktiv", "Diashow")).ready
    assert screen_status(screen("ACTIVE", "GRID")).kind == "grid"
    assert screen_status(screen("ACTIVE", "DIASHOW")).kind == "diashow"
    assert screen_status(screen("Aktiv", "Touchscreen")).kind == "grid"
    inactive = screen_status(screen("INACTIVE"))
    assert not inactive.ready and "INACTIVE".lower() in inactive.message.lower()
    fresh = screen_status({"objectId": "x", "uuid": "u", "name": "n"})
    assert not fresh.ready and "Freischaltung" in fresh.message
    no_config = screen_status({**screen(), "layoutConfig": None})
    assert not no_config.ready and "Layout-Konfiguration" in no_config.message


def test_diashow_items_order_types_and_validity() -> None:
    slides = [
        slide("b", "b_plakat.png", "2025-01-02T00:00:00Z"),
        slide("a", "a_film.mp4", "2025-01-03T00:00:00Z", order=1),
        slide("c", "c_flyer.PDF", "2025-01-01T00:00:00Z", duration=None),
        slide("d", "d_ohne_datum.jpg", "2025-01-01T00:00:00Z", end=None),  # hidden like the old client
    ]
    result = translate(diashow_content(slides), OPTS)
    scr = load(result.document)
    (zone,) = scr.layouts["main"].zones
    assert [i.id for i in zone.items] == ["a", "c", "b"]  # order first, then createdAt
    video, pdf, image = zone.items
    assert isinstance(video, VideoItem) and video.duration == 8
    assert isinstance(pdf, ImageItem) and pdf.src.endswith(".PDF") and pdf.duration == 10
    assert isinstance(image, ImageItem)
    assert image.validity.start is not None and image.validity.start.year == 2025
    assert image.validity.end is not None and image.validity.end.year == 2030
    assert set(result.media) == {video.src, pdf.src, image.src}
    assert result.media[image.src].url == "https://hub.example.org/parse/files/app/b_plakat.png"
    assert any("without startDate/endDate are hidden" in p for p in result.problems)


def test_diashow_extensions_weekdays_times_fit_transition() -> None:
    row = slide("e", "e.jpg", "2025-01-01T00:00:00Z", weekdays=["mo", "Fr", 7], timeFrom="7:30", timeTo="18:00",
                fit="cover", transition="crossfade")
    scr = load(translate(diashow_content([row]), OPTS).document)
    (item,) = scr.layouts["main"].zones[0].items
    assert item.validity.weekdays == frozenset({0, 4, 6})
    assert (item.validity.windows[0].start.hour, item.validity.windows[0].start.minute) == (7, 30)
    assert item.fit.value == "cover" and item.transition.value == "crossfade"


def test_foreign_file_host_refused_unless_allowed() -> None:
    rows = [slide("x", "x.jpg", "2025-01-01T00:00:00Z")]
    rows[0]["file"] = file("x.jpg", host="evil.example.com")
    result = translate(diashow_content(rows), OPTS)
    assert result.media == {} and any("evil.example.com" in p for p in result.problems)
    allowed = translate(diashow_content(rows), TranslateOptions(HUB, allowed_file_hosts=["evil.example.com"]))
    assert len(allowed.media) == 1


def test_header_footer_zones() -> None:
    result = translate(diashow_content([slide("a", "a.jpg", "2025-01-01T00:00:00Z")], showHeader=True,
                                       showFooter=True), OPTS)
    scr = load(result.document)
    zones = {z.id: z for z in scr.layouts["main"].zones}
    assert set(zones) == {"main", "header", "clock", "footer"}
    assert zones["main"].y == zones["header"].height
    assert zones["main"].y + zones["main"].height == zones["footer"].y
    (ticker,) = zones["footer"].items
    assert isinstance(ticker, WidgetItem) and ticker.widget == "news_ticker" and ticker.feed == "press"
    assert result.document["feeds"]["press"] == {"type": "press"}


def test_header_shows_the_newest_digital_twin_messages_when_a_broker_is_configured() -> None:
    content = diashow_content([slide("a", "a.jpg", "2025-01-01T00:00:00Z")], showHeader=True, showFooter=True)
    assert "twin" not in translate(content, OPTS).document.get("feeds", {})  # no broker: header as before
    result = translate(content, TranslateOptions(HUB, twin=True))
    scr = load(result.document)
    zones = {z.id: z for z in scr.layouts["main"].zones}
    assert set(zones) == {"main", "header", "messages", "clock", "footer"}
    # city | messages | clock side by side, the whole width, no overlap
    assert zones["header"].x + zones["header"].width == zones["messages"].x
    assert zones["messages"].x + zones["messages"].width == zones["clock"].x
    assert zones["clock"].x + zones["clock"].width == 1920
    assert zones["messages"].height == zones["header"].height
    (widget,) = zones["messages"].items
    assert isinstance(widget, WidgetItem) and widget.widget == "twin_messages" and widget.feed == "twin"
    assert result.document["feeds"]["twin"] == {"type": "twin", "max_items": 3}


def grid_content(tiles: list[tuple[int, str | None]], location: bool = True) -> HubContent:
    rows = []
    for i, (pos, type_name) in enumerate(tiles):
        tile = obj("SteleTile", f"t{i}", tileType=obj("SteleTileType", f"tt{i}", name=type_name))
        rows.append({"objectId": f"p{i}", "position": pos, "tile": tile})
    extra = {"location": {"__type": "GeoPoint", "latitude": 49.87, "longitude": 8.65}} if location else {}
    return HubContent(
        screen=screen("ACTIVE", "GRID", **extra),
        configs={"cfg1": {"objectId": "cfg1", "gridConfig": ptr("SteleGridConfig", "g1"),
                          "diashowConfig": ptr("SteleDiashowConfig", "dia1")}},
        slides={"dia1": [slide("s1", "s1.png", "2025-01-01T00:00:00Z")]},
        tiles={"g1": rows})


def test_grid_tiles_to_widgets_and_feeds() -> None:
    result = translate(grid_content([(1, "Wetter"), (2, "Busabfahrten"), (3, "Diashow"), (4, "Politik")]), OPTS)
    scr = load(result.document)
    zones = {z.id: z for z in scr.layouts["main"].zones}
    assert [zones[f"tile{p}"].x for p in (1, 2, 3, 4)] == [0, 960, 0, 960]
    assert zones["tile1"].y == zones["tile2"].y < zones["tile3"].y == zones["tile4"].y
    assert zones["tile1"].items[0].widget == "weather" and zones["tile1"].items[0].feed == "weather"
    assert zones["tile2"].items[0].widget == "departures"
    assert isinstance(zones["tile3"].items[0], ImageItem)
    assert zones["tile4"].items[0].widget == "empty"
    assert result.document["feeds"]["departures"] == {"type": "departures", "lat": 49.87, "lon": 8.65}
    assert result.document["feeds"]["weather"]["type"] == "weather"
    assert [p for p in result.problems if "Politik" in p] == [
        "tile type 'Politik' at position 4 is not supported; empty tile"]


@pytest.mark.parametrize("name,widget", [("Pressemitteilungen", "news"), ("Umwelt", "sensors"), ("Karte", "map"),
                                         ("POIs", "pois")])
def test_other_tile_types(name: str, widget: str) -> None:
    scr = load(translate(grid_content([(1, name)]), OPTS).document)
    assert scr.layouts["main"].zones[0].items[0].widget == widget


def test_map_and_poi_tiles_share_one_located_places_feed() -> None:
    result = translate(grid_content([(1, "Karte"), (2, "POIs")]), OPTS)
    zones = {z.id: z for z in load(result.document).layouts["main"].zones}
    assert (zones["tile1"].items[0].widget, zones["tile1"].items[0].feed) == ("map", "pois")
    assert (zones["tile2"].items[0].widget, zones["tile2"].items[0].feed) == ("pois", "pois")
    assert result.document["feeds"]["pois"] == {"type": "pois", "lat": 49.87, "lon": 8.65}


def test_grid_without_location_and_deleted_tile() -> None:
    content = grid_content([(1, "Wetter"), (2, "Wetter")], location=False)
    content.tiles["g1"][1]["tile"] = ptr("SteleTile", "gone")
    content.tiles["g1"].append({"objectId": "bad", "position": 9})
    result = translate(content, OPTS)
    scr = load(result.document)
    assert all(z.items[0].widget == "empty" for z in scr.layouts["main"].zones)
    assert any("needs the screen's location" in p for p in result.problems)
    assert any("tile missing or deleted" in p for p in result.problems)
    assert any("position 9 is not 1–4" in p for p in result.problems)


def test_timetable_tile_uses_pdf_images() -> None:
    content = grid_content([(1, "Aushangsfahrplan")])
    content.timetables = [file("linie1.pdf")]
    result = translate(content, OPTS)
    (item,) = load(result.document).layouts["main"].zones[0].items
    assert isinstance(item, ImageItem) and item.src.endswith(".pdf") and item.src in result.media


def test_missing_layout_config_and_missing_diashow_config() -> None:
    content = HubContent(screen=screen(), configs={"cfg1": {"objectId": "cfg1"}})
    result = translate(content, OPTS)
    assert load(result.document).layouts["main"].zones[0].items == ()
    assert any("no diashowConfig" in p for p in result.problems)


def test_template_and_layout_extensions() -> None:
    content = diashow_content([slide("a", "a.jpg", "2025-01-01T00:00:00Z")], template="info-landscape")
    scr = load(translate(content, OPTS).document)
    main = next(z for z in scr.layouts["main"].zones if z.id == "main")
    assert [i.id for i in main.items] == ["a"]
    custom = {"width": 1080, "height": 1920, "zones": [
        {"id": "top", "x": 0, "y": 0, "width": 1080, "height": 960, "items": "diashow"},
        {"id": "bottom", "x": 0, "y": 960, "width": 1080, "height": 960, "items": [
            {"type": "widget", "id": "bus", "widget": "departures", "feed": "bus"},
            {"type": "image", "id": "logo", "src": "https://hub.example.org/parse/files/app/logo.png"}]}]}
    result = translate(diashow_content([slide("a", "a.jpg", "2025-01-01T00:00:00Z")], layout=custom,
                                       feeds={"bus": {"type": "departures", "lat": 1.0, "lon": 2.0}}), OPTS)
    scr = load(result.document)
    zones = {z.id: z for z in scr.layouts["main"].zones}
    assert [i.id for i in zones["top"].items] == ["a"]
    assert zones["bottom"].items[1].src == "media/logo.png" and "media/logo.png" in result.media
    assert result.document["feeds"]["bus"]["type"] == "departures"


def test_schedule_extension() -> None:
    content = diashow_content([slide("a", "a.jpg", "2025-01-01T00:00:00Z")])
    content.configs["cfg2"] = {"objectId": "cfg2", "diashowConfig": ptr("SteleDiashowConfig", "dia2")}
    content.slides["dia2"] = [slide("n", "nacht.jpg", "2025-01-01T00:00:00Z")]
    content.schedules = [
        {"objectId": "sch1", "screen": ptr("SteleScreen", "scr1"), "layoutConfig": ptr("SteleLayoutConfig", "cfg2"),
         "priority": 5, "weekdays": ["sa", "so"], "timeFrom": "20:00", "timeTo": "06:00", "interrupt": True,
         "startDate": date("2025-06-01T00:00:00Z")},
        {"objectId": "sch2", "layoutConfig": ptr("SteleLayoutConfig", "deleted")},
    ]
    result = translate(content, OPTS)
    scr = load(result.document)
    (entry,) = scr.schedule.entries
    assert entry.priority == 5 and entry.mode.value == "interrupt"
    assert entry.validity.weekdays == frozenset({5, 6}) and entry.validity.start is not None
    assert [i.id for i in scr.layouts[entry.layout].zones[0].items] == ["n"]
    assert any("sch2" in p for p in result.problems)


def test_header_shows_the_configured_logo_left_of_the_city_name_through_the_cache() -> None:
    content = diashow_content([slide("a", "a.jpg", "2025-01-01T00:00:00Z")], showHeader=True)
    logo_url = "https://hub.example.org/parse/files/app/wappen.png"
    result = translate(content, TranslateOptions(HUB, logo=logo_url))
    assert result.problems == []
    scr = load(result.document)
    zones = {z.id: z for z in scr.layouts["main"].zones}
    (logo,) = zones["logo"].items
    assert isinstance(logo, ImageItem) and result.media[logo.src].url == logo_url  # downloaded like a slide
    backdrop = zones["logo-backdrop"]
    # inside its backdrop, above it, in the header row; the city name starts right of it, the clock stays right
    assert backdrop.x == 0 and backdrop.height == zones["header"].height
    assert backdrop.x < zones["logo"].x and zones["logo"].x + zones["logo"].width < backdrop.width
    assert zones["logo"].y > 0 and zones["logo"].y + zones["logo"].height < backdrop.height
    assert zones["logo"].z > backdrop.z
    assert zones["header"].x == backdrop.width
    assert zones["header"].x + zones["header"].width == zones["clock"].x
    assert zones["clock"].x + zones["clock"].width == 1920
    # no header, no logo; no logo configured and no district: the header as before
    assert "logo" not in {z.id for z in load(translate(diashow_content(
        [slide("a", "a.jpg", "2025-01-01T00:00:00Z")]), TranslateOptions(HUB, logo=logo_url)).document)
        .layouts["main"].zones}
    assert {z.id for z in load(translate(content, OPTS).document).layouts["main"].zones} == \
        {"main", "header", "clock"}


def test_header_logo_from_the_district_and_refusals() -> None:
    content = diashow_content([slide("a", "a.jpg", "2025-01-01T00:00:00Z")], showHeader=True)
    content.district_logo = file("bezirk.svg.png")
    result = translate(content, OPTS)
    scr = load(result.document)
    (logo,) = {z.id: z for z in scr.layouts["main"].zones}["logo"].items
    assert result.media[logo.src].url.endswith("/bezirk.svg.png")
    # the configured logo wins over the district's
    own = translate(content, TranslateOptions(HUB, logo="https://hub.example.org/parse/files/app/stadt.png"))
    assert any(spec.url.endswith("/stadt.png") for spec in own.media.values())
    assert not any(spec.url.endswith("/bezirk.svg.png") for spec in own.media.values())
    # a local path cannot reach the screen through the cache: one line, no logo, the rest as before
    local = translate(content, TranslateOptions(HUB, logo="/etc/osc-player/logo.png"))
    assert [p for p in local.problems if "branding.logo" in p] == [local.problems[0]] and len(local.problems) == 1
    assert "logo" not in {z.id for z in load(local.document).layouts["main"].zones}
    # a logo on a foreign host is refused like any file
    foreign = translate(content, TranslateOptions(HUB, logo="https://evil.example.com/x.png"))
    assert any("evil.example.com" in p for p in foreign.problems)
    assert "logo" not in {z.id for z in load(foreign.document).layouts["main"].zones}


def test_logo_with_a_digital_twin_keeps_the_header_row_without_gaps() -> None:
    content = diashow_content([slide("a", "a.jpg", "2025-01-01T00:00:00Z")], showHeader=True)
    result = translate(content, TranslateOptions(HUB, twin=True, logo="https://hub.example.org/parse/files/app/l.png"))
    zones = {z.id: z for z in load(result.document).layouts["main"].zones}
    row = sorted((zones[k] for k in ("logo-backdrop", "header", "messages", "clock")), key=lambda z: z.x)
    assert row[0].x == 0 and row[-1].x + row[-1].width == 1920
    assert all(a.x + a.width == b.x for a, b in zip(row, row[1:], strict=False))
