"""Media types by content: real files made by ffmpeg and Pillow, named like something else, are retyped or refused.

The hub names a file's type only by its extension (as the old client did); after the download the player looks at
the first bytes. A video called .jpg plays as a video, a picture called .mp4 is shown as a picture, and an HTML
error page saved as .jpg is left out with one log line.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from faultkit import load, write_config
from httpfaults import FaultServer
from player.cache import ContentCache
from player.layouts import load_screen_dict
from player.prepare import build_resolver, correct_media_kinds, prepare_files, sniff_bytes, sniff_kind
from player.snapshots import SnapshotStore
from player.sync import SyncService
from screens import require_tool

HTML_PAGE = (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
             b"<body><h1>502 Bad Gateway</h1></body></html>\n")


def picture(fmt: str, size: tuple[int, int] = (32, 24)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buf, fmt)
    return buf.getvalue()


_VIDEO_ARGS = {  # container -> codec arguments ffmpeg has everywhere (no optional encoders needed)
    "mp4": ["-c:v", "mpeg4"],
    "mov": ["-c:v", "mpeg4"],
    "mkv": ["-c:v", "mpeg4"],
    "webm": ["-c:v", "libvpx", "-b:v", "100k"],
    "avi": ["-c:v", "mpeg4"],
    "ts": ["-c:v", "mpeg2video", "-f", "mpegts"],
    "mpg": ["-c:v", "mpeg1video", "-f", "mpeg"],
    "ogv": ["-c:v", "libtheora"],
    "flv": ["-c:v", "flv"],
    "wmv": ["-c:v", "wmv2", "-f", "asf"],
    "h264": ["-c:v", "libx264", "-f", "h264"],
}


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    ffmpeg = require_tool("ffmpeg")
    out = tmp_path_factory.mktemp("videos")
    made: dict[str, bytes] = {}
    for ext, args in _VIDEO_ARGS.items():
        path = out / f"clip.{ext}"
        proc = subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=64x48:r=25:d=0.3",
                               *args, str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, f"ffmpeg could not make a .{ext}: {proc.stderr.strip()}"
        made[ext] = path.read_bytes()
    return made


@pytest.mark.parametrize("ext", sorted(_VIDEO_ARGS))
def test_real_videos_are_sniffed_as_video(videos: dict[str, bytes], ext: str) -> None:
    assert sniff_bytes(videos[ext][:1024]) == "video"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"])
def test_real_pictures_are_sniffed_as_image(fmt: str) -> None:
    assert sniff_bytes(picture(fmt)[:1024]) == "image"


def test_pdf_html_empty_and_svg(tmp_path: Path) -> None:
    assert sniff_bytes(picture("PDF")[:1024]) == "pdf"
    assert sniff_bytes(HTML_PAGE) == "other"
    assert sniff_bytes(b"  <html><body>Wartung</body></html>") == "other"
    assert sniff_bytes(b"") == "empty"
    assert sniff_bytes(b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>') == "image"
    assert sniff_bytes(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00") == "image"  # AVIF is a picture in ISO-BMFF
    # a file without known magic that the picture library still reads counts as a picture (no regression)
    ico = tmp_path / "logo.bin"
    Image.new("RGB", (16, 16)).save(ico, "ICO")
    assert sniff_bytes(ico.read_bytes()[:1024]) == "other" and sniff_kind(ico) == "image"
    text = tmp_path / "notiz.jpg"
    text.write_bytes(b"Hallo Welt, das ist kein Bild\n" * 10)
    assert sniff_kind(text) == "other"


# ------------------------------------------------------------------------------------------------ retyping
def doc(items: list[dict]) -> dict:
    return {"version": 1, "layouts": {"main": {"width": 1920, "height": 1080, "zones": [
        {"id": "z", "x": 0, "y": 0, "width": 1920, "height": 1080, "items": items}]}}}


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[ContentCache]:
    c = ContentCache(tmp_path / "cache", 200_000_000)
    yield c
    c.close()


def test_mislabelled_files_are_retyped_or_refused(cache: ContentCache, videos: dict[str, bytes]) -> None:
    document = doc([
        {"type": "image", "id": "a", "src": "media/film.jpg", "duration": 12, "transition": "crossfade"},
        {"type": "video", "id": "b", "src": "media/bild.mp4", "loop": True, "volume": 30, "fit": "cover"},
        {"type": "image", "id": "c", "src": "media/fehler.jpg", "duration": 10},
        {"type": "video", "id": "c2", "src": "media/fehler.mp4"},
        {"type": "image", "id": "d", "src": "media/echt.png", "duration": 10},
        {"type": "video", "id": "e", "src": "media/echt.webm"},
        {"type": "video", "id": "f", "src": "media/plan.mp4"},
    ])
    files = {"media/film.jpg": cache.put_bytes(videos["mp4"]), "media/bild.mp4": cache.put_bytes(picture("JPEG")),
             "media/fehler.jpg": cache.put_bytes(HTML_PAGE), "media/fehler.mp4": cache.put_bytes(HTML_PAGE + b" "),
             "media/echt.png": cache.put_bytes(picture("PNG")), "media/echt.webm": cache.put_bytes(videos["webm"]),
             "media/plan.mp4": cache.put_bytes(picture("PDF"))}
    screen = load_screen_dict(document, "test").screen
    kinds = correct_media_kinds(cache, document, screen, files)

    assert kinds.document is not None and kinds.refused == {"media/fehler.jpg", "media/fehler.mp4"}
    items = {i["id"]: i for i in kinds.document["layouts"]["main"]["zones"][0]["items"]}
    assert items["a"] == {"type": "video", "id": "a", "src": "media/film.jpg", "duration": 12}
    assert items["b"] == {"type": "image", "id": "b", "src": "media/bild.mp4", "fit": "cover"}
    assert items["f"]["type"] == "image"  # a PDF: its first page, like any .pdf slide
    assert items["d"] == document["layouts"]["main"]["zones"][0]["items"][4]
    assert items["e"]["type"] == "video"
    # one line per file: the video named file here, the picture by prepare_files (same words)
    assert len(kinds.lines) == 4 and all("\n" not in line for line in kinds.lines)
    assert any("'media/fehler.mp4'" in line and "<!DOCTYPE html>" in line and "not shown" in line
               for line in kinds.lines)
    assert not any("fehler.jpg" in line for line in kinds.lines)
    fixed = load_screen_dict(kinds.document, "test")
    assert fixed.defects == []
    assert document["layouts"]["main"]["zones"][0]["items"][0]["type"] == "image"  # the input is not changed

    prepared = prepare_files(cache, fixed.screen, files)
    assert "<!DOCTYPE html>" in prepared.refused["media/fehler.jpg"]
    assert "media/bild.mp4" not in prepared.refused  # now a picture: scaled like one
    resolver = build_resolver(cache, fixed.screen, files)
    assert resolver.paths["media/fehler.jpg"] is None and resolver.paths["media/fehler.mp4"] is None
    assert resolver.paths["media/film.jpg"] is not None and resolver.paths["media/echt.webm"] is not None


def test_correct_files_change_nothing(cache: ContentCache, videos: dict[str, bytes]) -> None:
    document = doc([{"type": "image", "src": "media/a.png"}, {"type": "video", "src": "media/b.mkv"}])
    files = {"media/a.png": cache.put_bytes(picture("PNG")), "media/b.mkv": cache.put_bytes(videos["mkv"])}
    kinds = correct_media_kinds(cache, document, load_screen_dict(document, "test").screen, files)
    assert kinds.document is None and kinds.lines == [] and kinds.refused == set()


# ------------------------------------------------------------------------------------------------ sync
def test_sync_publishes_corrected_types_and_logs_each_problem_once(tmp_path: Path, videos: dict[str, bytes],
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    screen = doc([{"type": "image", "id": "film", "src": "film.jpg", "duration": 5},
                  {"type": "image", "id": "fehler", "src": "fehler.jpg", "duration": 5},
                  {"type": "image", "id": "bild", "src": "bild.png", "duration": 5}])
    files = {"/screen.json": json.dumps(screen).encode(), "/film.jpg": videos["mp4"], "/fehler.jpg": HTML_PAGE,
             "/bild.png": picture("PNG")}
    with FaultServer(files) as srv:
        config = load(write_config(tmp_path, srv.url("/screen.json")))
        service = SyncService.from_config(config)
        try:
            with caplog.at_level(logging.INFO):
                first = service.sync_once()
                assert first.result == "published", first
                srv.change_etag("/screen.json")  # the same document again, fetched in full
                assert service.sync_once().result == "unchanged"
            booted = service.boot()  # what the screen gets, now and after a restart
            assert booted is not None
            assert booted.resolver.paths["fehler.jpg"] is None  # the error page never reaches the screen
            assert booted.resolver.paths["film.jpg"] is not None
        finally:
            service.close()
    snap = SnapshotStore(config.cache_dir).load_current()
    assert snap is not None
    items = snap.document["layouts"]["main"]["zones"][0]["items"]
    assert [(i["id"], i["type"]) for i in items] == [("film", "video"), ("fehler", "image"), ("bild", "image")]
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len([p for p in problems if "fehler.jpg" in p]) == 1, problems  # one line, not one per sync
    assert len([p for p in problems if "film.jpg" in p and "video" in p]) == 1, problems


def test_a_declared_video_of_a_container_not_known_here_is_left_to_vlc(cache: ContentCache) -> None:
    """Sniffing refuses a declared video only on evidence (empty, or text such as an error page): a binary file of
    a kind this list does not know goes to VLC, which skips it within 2 s if it cannot play it."""
    import random

    rnd = random.Random(3)
    unknown = b"\x12\x34\x56\x78" + bytes(rnd.getrandbits(8) for _ in range(4000))
    document = doc([{"type": "video", "id": "u", "src": "media/clip.xyz"},
                    {"type": "video", "id": "j", "src": "media/answer.mp4"}])
    files = {"media/clip.xyz": cache.put_bytes(unknown), "media/answer.mp4": cache.put_bytes(b'{"error": "gone"}' * 40)}
    kinds = correct_media_kinds(cache, document, load_screen_dict(document, "test").screen, files)
    assert kinds.refused == {"media/answer.mp4"}
    assert len(kinds.lines) == 1 and "answer.mp4" in kinds.lines[0]
