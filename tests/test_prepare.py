"""Preparation at sync time: pictures scaled to their largest zone, EXIF orientation, PDF first pages, limits."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from player.cache import ContentCache
from player.layouts import load_screen_dict
from player.prepare import (
    PrepareError,
    build_resolver,
    prepare_files,
    prepare_one,
    render_pdf,
    target_boxes,
    variant_for,
)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[ContentCache]:
    c = ContentCache(tmp_path / "cache", 200_000_000)
    yield c
    c.close()


def put(cache: ContentCache, data: bytes) -> str:
    return cache.put_bytes(data)


def jpeg(size: tuple[int, int], color: tuple[int, int, int] = (200, 30, 30), orientation: int | None = None) -> bytes:
    img = Image.new("RGB", size, color)
    buf = io.BytesIO()
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        img.save(buf, "JPEG", exif=exif.tobytes())
    else:
        img.save(buf, "JPEG")
    return buf.getvalue()


def pdf(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PDF")  # one page of size x size points (72 dpi)
    return buf.getvalue()


def two_zone_doc(src: str) -> dict:
    return {"version": 1, "layouts": {
        "a": {"width": 1920, "height": 1080, "zones": [
            {"id": "small", "x": 0, "y": 0, "width": 400, "height": 200, "items": [{"type": "image", "src": src}]},
            {"id": "big", "x": 0, "y": 200, "width": 800, "height": 400, "items": [{"type": "image", "src": src}]},
        ]},
        "b": {"width": 1080, "height": 1920, "background_image": "bg.jpg", "zones": [
            {"id": "v", "x": 0, "y": 0, "width": 1080, "height": 1920,
             "items": [{"type": "video", "src": "clip.mp4"}]}]},
    }, "schedule": {"default": "a"}}


def test_target_box_is_the_largest_zone_per_picture() -> None:
    screen = load_screen_dict(two_zone_doc("p.jpg"), "t").screen
    assert target_boxes(screen) == {"p.jpg": (800, 400), "bg.jpg": (1080, 1920)}  # videos are not prepared


def test_picture_is_scaled_to_its_largest_zone(cache: ContentCache) -> None:
    screen = load_screen_dict(two_zone_doc("p.jpg"), "t").screen
    src = put(cache, jpeg((4000, 2000)))
    prepared = prepare_files(cache, screen, {"p.jpg": src})
    assert prepared.refused == {} and prepared.created == 1
    derived = prepared.derived["p.jpg"]
    with Image.open(cache.path_of(derived)) as img:
        assert img.size == (800, 400)
    resolver = build_resolver(cache, screen, {"p.jpg": src})
    assert resolver("p.jpg") == cache.path_of(derived)
    # cached by (hash, target size): a second run makes nothing new
    again = prepare_files(cache, screen, {"p.jpg": src})
    assert again.created == 0 and again.derived == prepared.derived


def test_small_upright_picture_is_used_as_it_is(cache: ContentCache) -> None:
    screen = load_screen_dict(two_zone_doc("p.jpg"), "t").screen
    src = put(cache, jpeg((300, 150)))
    assert prepare_files(cache, screen, {"p.jpg": src}).derived == {}
    assert build_resolver(cache, screen, {"p.jpg": src})("p.jpg") == cache.path_of(src)


def test_exif_orientation_is_applied(cache: ContentCache) -> None:
    src = put(cache, jpeg((400, 200), orientation=6))  # stored landscape, shown rotated: portrait
    derived = prepare_one(cache, src, (1000, 1000))
    assert derived is not None
    with Image.open(cache.path_of(derived)) as img:
        assert img.size == (200, 400)


def test_pdf_first_page_is_rendered_at_zone_size(cache: ContentCache) -> None:
    screen = load_screen_dict(two_zone_doc("plan.pdf"), "t").screen
    src = put(cache, pdf((1600, 800), (0, 128, 255)))
    prepared = prepare_files(cache, screen, {"plan.pdf": src})
    assert prepared.refused == {}
    path = build_resolver(cache, screen, {"plan.pdf": src})("plan.pdf")
    assert path == cache.path_of(prepared.derived["plan.pdf"])
    with Image.open(path) as img:
        assert img.size == (800, 400)
        r, g, b = img.convert("RGB").getpixel((400, 200))
        assert abs(r - 0) < 8 and abs(g - 128) < 8 and abs(b - 255) < 8


def test_unrendered_pdf_is_never_handed_to_the_screen(cache: ContentCache) -> None:
    screen = load_screen_dict(two_zone_doc("plan.pdf"), "t").screen
    src = put(cache, pdf((100, 100), (0, 0, 0)))
    assert build_resolver(cache, screen, {"plan.pdf": src})("plan.pdf") is None


ABSURD_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>"
              b"endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 900000 900000]>>endobj\n"
              b"trailer<</Root 1 0 R>>\n%%EOF\n")


def test_pdf_with_absurd_page_size_is_refused(cache: ContentCache) -> None:
    screen = load_screen_dict(two_zone_doc("plan.pdf"), "t").screen
    src = put(cache, ABSURD_PDF)
    prepared = prepare_files(cache, screen, {"plan.pdf": src})
    assert list(prepared.refused) == ["plan.pdf"]
    assert "absurd page size 900000x900000 pt" in prepared.refused["plan.pdf"]
    assert "\n" not in prepared.refused["plan.pdf"]


def test_pdf_render_that_takes_too_long_is_refused(cache: ContentCache, tmp_path: Path) -> None:
    src = put(cache, pdf((200, 200), (0, 0, 0)))
    with pytest.raises(PrepareError, match="took longer than 0 s"):
        render_pdf(cache.path_of(src), (100, 100), tmp_path, timeout=0.001)
    assert list(tmp_path.glob("*.png")) == []


def test_broken_pdf_is_refused_with_one_line(cache: ContentCache, tmp_path: Path) -> None:
    src = put(cache, b"%PDF-1.4\n garbage garbage")
    with pytest.raises(PrepareError) as info:
        render_pdf(cache.path_of(src), (100, 100), tmp_path)
    assert "\n" not in str(info.value) and "PDF" in str(info.value)


def test_decompression_bomb_is_refused(cache: ContentCache) -> None:
    buf = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buf, "PNG")  # 100 Mpx, tiny file
    src = put(cache, buf.getvalue())
    with pytest.raises(PrepareError, match="decompression bomb"):
        prepare_one(cache, src, (800, 400))


def test_broken_picture_is_refused(cache: ContentCache) -> None:
    src = put(cache, b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(PrepareError, match="cannot decode"):
        prepare_one(cache, src, (800, 400))


def test_derived_variant_names_target_size() -> None:
    assert variant_for((800, 400)) == "screen:800x400"
