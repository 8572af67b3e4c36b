"""A file on the stick or share replaced by another of the same size with the same modification time (``cp -p``,
``rsync -t``, a re-exported picture, tools that keep times) is noticed: copied again, its PDF page rendered again.

The stamp of a file is size, modification time, inode number and ctime (folder.file_stamp); the copy keeps the stamp
of the file each copy was made from. Real files in tmp directories; the equal times are forced with os.utime.
"""

from __future__ import annotations

import io
import json
import os
import threading
from pathlib import Path

from PIL import Image
from pytestqt.qtbot import QtBot

from player.layouts import load_screen
from player.sources.folder import FOLDER_PDF_DIR, FolderSource, folder_media, pages_dir
from player.sources.folder_copy import STAMPS_FILE, FolderCopy, copy_dir, mark_in_use, referenced_files
from screens import one_zone, write_screen
from test_folder_copy import fast_checks, playing  # noqa: F401 - fast_checks is a fixture
from test_folder_pdf import _pdf

NO_STOP = threading.Event()


def bmp(color: tuple[int, int, int], size: tuple[int, int] = (160, 90)) -> bytes:
    """An uncompressed picture: every colour gives the same number of bytes."""
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "BMP")
    return buf.getvalue()


def stick(tmp_path: Path) -> Path:
    folder = tmp_path / "media" / "usb" / "inhalte"
    (folder / "bilder").mkdir(parents=True)
    (folder / "bilder" / "rot.bmp").write_bytes(bmp((255, 0, 0)))
    (folder / "bilder" / "blau.bmp").write_bytes(bmp((0, 0, 255)))
    write_screen(folder, one_zone([{"type": "image", "src": "bilder/rot.bmp", "duration": 1},
                                   {"type": "image", "src": "bilder/blau.bmp", "duration": 1}],
                                  width=320, height=180))
    return folder


def replace_in_place(path: Path, data: bytes) -> None:
    """What ``cp -p`` does: the same file rewritten, its old times set again (same inode, new ctime)."""
    st = path.stat()
    assert len(data) == st.st_size and data != path.read_bytes()
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def replace_by_rename(path: Path, data: bytes) -> None:
    """What ``rsync -t`` does: a new file with the old times, renamed over the old one (new inode, new ctime)."""
    st = path.stat()
    assert len(data) == st.st_size and data != path.read_bytes()
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp, path)


def same_again(path: Path) -> None:
    """The same bytes and times under a new inode (as after re-plugging a FAT stick: new inode numbers)."""
    st = path.stat()
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(path.read_bytes())
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp, path)
    assert path.stat().st_ino != st.st_ino


def copy_of(tmp_path: Path, folder: Path) -> tuple[FolderSource, FolderCopy]:
    source = FolderSource(folder)
    return source, FolderCopy(source, tmp_path / "cache", quota_bytes=10 * 1024 * 1024)


def update(source: FolderSource, copy: FolderCopy) -> list[str]:
    return copy.update(referenced_files(source, source.load().screen), lambda _r, _p: None, NO_STOP)


def test_a_picture_rewritten_with_its_old_size_and_time_is_copied_again(tmp_path: Path) -> None:
    folder = stick(tmp_path)
    source, copy = copy_of(tmp_path, folder)
    assert update(source, copy) == []
    red = folder / "bilder" / "rot.bmp"
    replace_in_place(red, bmp((255, 128, 0)))
    files = referenced_files(source, source.load().screen)
    assert "bilder/rot.bmp" not in FolderCopy(source, tmp_path / "cache", 10 * 1024 * 1024).ready(files)
    assert update(source, copy) == []
    assert (copy.root / "bilder" / "rot.bmp").read_bytes() == red.read_bytes()


def test_a_picture_renamed_into_place_with_its_old_size_and_time_is_copied_again(tmp_path: Path) -> None:
    folder = stick(tmp_path)
    source, copy = copy_of(tmp_path, folder)
    assert update(source, copy) == []
    replace_by_rename(folder / "bilder" / "blau.bmp", bmp((0, 200, 0)))
    assert update(source, copy) == []
    assert (copy.root / "bilder" / "blau.bmp").read_bytes() == bmp((0, 200, 0))


def test_a_document_replaced_with_its_old_size_and_time_is_copied_again(tmp_path: Path) -> None:
    folder = stick(tmp_path)
    source, copy = copy_of(tmp_path, folder)
    assert update(source, copy) == []
    doc = folder / "screen.json"
    text = doc.read_text(encoding="utf-8")
    swapped = text.replace("rot.bmp", "tmp.bmp").replace("blau.bmp", "rot.bmp").replace("tmp.bmp", "blau.bmp")
    replace_by_rename(doc, swapped.encode())
    assert update(source, copy) == []
    assert (copy.root / "screen.json").read_text(encoding="utf-8") == swapped


def test_new_inode_numbers_for_unchanged_files_read_them_once_and_copy_nothing(tmp_path: Path) -> None:
    """Re-plugging a FAT stick gives every file a new inode number: the files are compared with their copies once
    (their stamps are then kept), not copied again."""
    folder = stick(tmp_path)
    source, copy = copy_of(tmp_path, folder)
    assert update(source, copy) == []
    copies = [copy.root / "screen.json", copy.root / "bilder" / "rot.bmp", copy.root / "bilder" / "blau.bmp"]
    before = [path.stat().st_ino for path in copies]
    kept = (copy.root / STAMPS_FILE).read_text(encoding="utf-8")
    for path in (folder / "screen.json", folder / "bilder" / "rot.bmp", folder / "bilder" / "blau.bmp"):
        same_again(path)
    fresh = FolderCopy(source, tmp_path / "cache", 10 * 1024 * 1024)  # as after a restart
    assert update(source, fresh) == []
    assert [path.stat().st_ino for path in copies] == before  # nothing copied again
    assert (copy.root / STAMPS_FILE).read_text(encoding="utf-8") != kept  # the new stamps are kept
    assert fresh.ready(referenced_files(source, source.load().screen)).keys() == {"bilder/rot.bmp", "bilder/blau.bmp"}


def test_a_copy_from_before_the_stamps_is_taken_over_and_a_replaced_file_still_found(tmp_path: Path) -> None:
    """A copy made by an earlier version has no stamps (or a damaged stamps file): its unchanged files are compared
    once and kept, a file replaced with the same size and time is copied again; no error."""
    folder = stick(tmp_path)
    source, copy = copy_of(tmp_path, folder)
    assert update(source, copy) == []
    red_copy, blue_copy = copy.root / "bilder" / "rot.bmp", copy.root / "bilder" / "blau.bmp"
    red_ino = red_copy.stat().st_ino
    for blue, stamps in enumerate((
            None, b"{not json", json.dumps({"files": {"bilder/rot.bmp": [1, 2]}}).encode(),
            json.dumps({"version": 1, "files": {"bilder/rot.bmp": [1, 2], "bilder/blau.bmp": "x"}}).encode())):
        if stamps is None:
            (copy.root / STAMPS_FILE).unlink()
        else:
            (copy.root / STAMPS_FILE).write_bytes(stamps)
        replace_in_place(folder / "bilder" / "blau.bmp", bmp((0, 0, 200 - 40 * blue)))
        fresh = FolderCopy(source, tmp_path / "cache", 10 * 1024 * 1024)
        assert update(source, fresh) == []
        assert blue_copy.read_bytes() == (folder / "bilder" / "blau.bmp").read_bytes()
        assert red_copy.stat().st_ino == red_ino  # the same copy, not copied again
        assert json.loads((copy.root / STAMPS_FILE).read_bytes())["version"] == 1


def test_the_stamps_file_is_no_reference_and_stays_through_pruning(tmp_path: Path) -> None:
    folder = stick(tmp_path)
    write_screen(folder, one_zone([{"type": "image", "src": "bilder/rot.bmp", "duration": 1},
                                   {"type": "image", "src": STAMPS_FILE, "duration": 1}]))
    source, copy = copy_of(tmp_path, folder)
    (folder / STAMPS_FILE).write_bytes(b"a picture named like the stamps")
    assert copy.target(STAMPS_FILE) is None and copy.target(f"{STAMPS_FILE}/x.png") is None
    assert update(source, copy) == []
    assert json.loads((copy.root / STAMPS_FILE).read_bytes())["files"].keys() == {"bilder/rot.bmp", "screen.json"}


def test_the_5s_check_notices_a_picture_renamed_into_place_with_its_old_size_and_time(
        qtbot: QtBot, tmp_path: Path, fast_checks: None) -> None:  # noqa: F811
    folder = stick(tmp_path)
    with playing(qtbot, tmp_path, folder) as (published, copy, _cache_dir):
        new = bmp((255, 128, 0))
        replace_by_rename(folder / "bilder" / "rot.bmp", new)
        qtbot.waitUntil(lambda: (copy / "bilder" / "rot.bmp").read_bytes() == new, timeout=15_000)
        assert len(published) == 1  # copied again without a rebuild


def pdf_stick(tmp_path: Path, color: tuple[int, int, int]) -> FolderSource:
    folder = tmp_path / "stick"
    folder.mkdir(parents=True)
    (folder / "fahrplan.pdf").write_bytes(_pdf(color))
    write_screen(folder, one_zone([{"type": "image", "src": "fahrplan.pdf", "duration": 60}], 640, 360))
    return FolderSource(folder)


def centre(path: Path | None) -> tuple[int, int, int]:
    assert path is not None
    with Image.open(path) as img:
        return img.convert("RGB").getpixel((img.width // 2, img.height // 2))


def test_a_pdf_replaced_with_its_old_size_and_time_gets_its_new_page(tmp_path: Path) -> None:
    source = pdf_stick(tmp_path, (0, 0, 255))
    screen = load_screen(source.document_path).screen
    first, _ = folder_media(source, screen, tmp_path / "cache")
    assert centre(first("fahrplan.pdf"))[2] > 200
    replace_in_place(source.root / "fahrplan.pdf", _pdf((255, 0, 0)))
    again, problems = folder_media(source, screen, tmp_path / "cache")
    assert problems == [] and centre(again("fahrplan.pdf"))[0] > 200
    assert not first("fahrplan.pdf").exists()  # the old page goes


def test_the_5s_check_notices_a_pdf_renamed_into_place_with_its_old_size_and_time(
        qtbot: QtBot, tmp_path: Path, fast_checks: None) -> None:  # noqa: F811
    source = pdf_stick(tmp_path, (0, 0, 255))
    with playing(qtbot, tmp_path, source.root) as (published, _copy, _cache_dir):
        first = published[-1]("fahrplan.pdf")
        replace_by_rename(source.root / "fahrplan.pdf", _pdf((255, 0, 0)))
        qtbot.waitUntil(lambda: published[-1]("fahrplan.pdf") not in (None, first), timeout=15_000)
        assert centre(published[-1]("fahrplan.pdf"))[0] > 200


def test_two_folders_on_one_cache_keep_their_own_pdf_pages(tmp_path: Path) -> None:
    """A second player (or ``preview``) on another folder with the same cache: before, its load removed the first
    player's pages from the shared directory, and the first screen lost its timetable."""
    cache = tmp_path / "cache"
    one, two = pdf_stick(tmp_path / "a", (0, 0, 255)), pdf_stick(tmp_path / "b", (0, 160, 0))
    first, _ = folder_media(one, load_screen(one.document_path).screen, cache)
    second, _ = folder_media(two, load_screen(two.document_path).screen, cache)
    assert first("fahrplan.pdf") != second("fahrplan.pdf")
    assert centre(first("fahrplan.pdf"))[2] > 200 and centre(second("fahrplan.pdf"))[1] > 120  # both still there
    assert first("fahrplan.pdf").parent == pages_dir(cache, one.root) != pages_dir(cache, two.root)


def test_the_copy_shows_its_folders_pages_and_old_pages_are_cleaned_up(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    source = pdf_stick(tmp_path, (0, 0, 255))
    screen = load_screen(source.document_path).screen
    shared = cache / FOLDER_PDF_DIR
    shared.mkdir(parents=True)
    (shared / ("0" * 32 + ".png")).write_bytes(b"a page kept before one directory per folder")
    elsewhere = shared / "another_folder-0123abcd"
    elsewhere.mkdir()
    (elsewhere / ("1" * 32 + ".png")).write_bytes(b"a page of a folder not played for a week")
    week_ago = os.stat(elsewhere).st_mtime - 8 * 86400
    os.utime(elsewhere, (week_ago, week_ago))
    first, _ = folder_media(source, screen, cache)
    page = first("fahrplan.pdf")
    assert page is not None and sorted(p.name for p in shared.iterdir()) == [page.parent.name]
    copy = FolderCopy(source, cache, 10 * 1024 * 1024)
    assert copy.update(referenced_files(source, screen), lambda _r, _p: None, NO_STOP) == []
    kept = copy.source_of_copy()
    assert kept is not None
    stamp = page.stat().st_mtime_ns
    again, problems = folder_media(kept, load_screen(kept.document_path).screen, cache)
    assert problems == [] and again("fahrplan.pdf") == page and page.stat().st_mtime_ns == stamp  # not rendered anew
    os.utime(page.parent, (week_ago, week_ago))
    mark_in_use(cache, source.root)  # a player playing the folder (or its copy) marks its pages too
    assert page.parent.stat().st_mtime > week_ago + 86400
    assert copy_dir(cache, source.root).name == page.parent.name
