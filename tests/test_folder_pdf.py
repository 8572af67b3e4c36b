"""A PDF in a folder source (a timetable on a USB stick, as the steles show them) is shown as its first page,
rendered once off the GUI thread to cover its zone, like the sync does for remote sources. A broken PDF is one
line and the item is skipped; the rest plays."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from player.layouts import load_screen
from player.sources.folder import FolderSource, render_pdfs
from screens import one_zone

ROOT = Path(__file__).resolve().parent.parent


def _pdf(color: tuple[int, int, int], size: tuple[int, int] = (300, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PDF")
    return buf.getvalue()


def _folder(tmp_path: Path, pdf: bytes, name: str = "fahrplan.pdf") -> FolderSource:
    folder = tmp_path / "stick"
    folder.mkdir()
    (folder / name).write_bytes(pdf)
    doc = one_zone([{"type": "image", "id": "plan", "src": name, "duration": 60}], 640, 360)
    (folder / "screen.json").write_text(json.dumps(doc), encoding="utf-8")
    return FolderSource(folder)


def test_first_page_rendered_once_to_cover_the_zone(tmp_path: Path) -> None:
    source = _folder(tmp_path, _pdf((0, 0, 255)))
    screen = load_screen(source.document_path).screen
    out = tmp_path / "cache" / "folder-pdf"
    rendered, problems = render_pdfs(source, screen, out)
    assert problems == []
    picture = rendered["fahrplan.pdf"]
    assert picture is not None and picture.parent == out
    with Image.open(picture) as img:
        assert img.width >= 640 and img.height >= 360  # covers the 640x360 zone
        r, g, b = img.convert("RGB").getpixel((img.width // 2, img.height // 2))
        assert b > 200 and r < 60 and g < 60
    stamp = picture.stat().st_mtime_ns
    again, _ = render_pdfs(source, screen, out)
    assert again["fahrplan.pdf"] == picture and picture.stat().st_mtime_ns == stamp  # not rendered again
    assert sorted(p.name for p in out.iterdir()) == [picture.name]  # no temp file left


def test_a_changed_pdf_is_rendered_again_and_the_old_picture_goes(tmp_path: Path) -> None:
    source = _folder(tmp_path, _pdf((0, 0, 255)))
    screen = load_screen(source.document_path).screen
    out = tmp_path / "cache" / "folder-pdf"
    first = render_pdfs(source, screen, out)[0]["fahrplan.pdf"]
    (source.root / "fahrplan.pdf").write_bytes(_pdf((255, 0, 0), (310, 200)))
    second = render_pdfs(source, screen, out)[0]["fahrplan.pdf"]
    assert second is not None and second != first
    assert [p.name for p in out.iterdir()] == [second.name]


def test_a_broken_pdf_is_one_line_and_not_shown(tmp_path: Path) -> None:
    source = _folder(tmp_path, b"<html>404 Not Found</html>")
    screen = load_screen(source.document_path).screen
    rendered, problems = render_pdfs(source, screen, tmp_path / "cache" / "folder-pdf")
    assert rendered == {"fahrplan.pdf": None}
    assert len(problems) == 1 and "fahrplan.pdf" in problems[0] and "\n" not in problems[0]


def test_preview_of_a_folder_with_a_pdf_shows_its_page(tmp_path: Path) -> None:
    source = _folder(tmp_path, _pdf((0, 160, 0)))
    cfg = tmp_path / "player.toml"
    cfg.write_text(f'[player]\nstate_dir = "{tmp_path}/state"\ncache_dir = "{tmp_path}/cache"\n', encoding="utf-8")
    png = tmp_path / "x.png"
    run = subprocess.run([sys.executable, "-m", "player.cli", "preview", "--config", str(cfg), "--source",
                          str(source.root), "--at", "2026-12-01T10:00:00+01:00", "--out", str(png),
                          "--size", "640x360"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert run.returncode == 0, run.stderr[-2000:]
    with Image.open(png) as img:
        r, g, b = img.convert("RGB").getpixel((320, 180))
    assert g > 120 and r < 60 and b < 60, (r, g, b)


def test_the_folder_copy_of_a_pdf_is_not_rendered_again(tmp_path: Path) -> None:
    """Started without the stick, the player shows the folder's copy (player/sources/folder_copy.py): its PDF is the
    same picture, not a new render (the copy keeps the file's time)."""
    import threading

    from player.sources.folder_copy import FolderCopy, referenced_files

    source = _folder(tmp_path, _pdf((0, 0, 255)))
    screen = load_screen(source.document_path).screen
    out = tmp_path / "cache" / "folder-pdf"
    first, _ = render_pdfs(source, screen, out)
    copy = FolderCopy(source, tmp_path / "cache", quota_bytes=10 * 1024 * 1024)
    assert copy.update(referenced_files(source, screen), lambda _r, _p: None, threading.Event()) == []
    kept = copy.source_of_copy()
    assert kept is not None
    stamp = next(iter(first.values())).stat().st_mtime_ns
    again, problems = render_pdfs(kept, load_screen(kept.document_path).screen, out)
    assert problems == [] and again == first
    assert next(iter(again.values())).stat().st_mtime_ns == stamp  # the same file, not rendered anew
