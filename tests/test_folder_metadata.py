"""A change to a file's metadata only (chmod, chown, a hard link, extended attributes: Samba's DOSATTRIB, backup
tools) gives it a new ctime, so a new stamp (folder.file_stamp), while its bytes, size and modification time stay.
Such a change must not cost what a replacement costs: ``screen.json`` and PDFs are compared with what was loaded
and nothing is published again; a large video is compared with its copy by a sample, not read in full. A real
replacement of the same size and time is still noticed (see also tests/test_folder_replaced.py).

Real files in tmp directories; what is read is counted by the kernel (/proc/self/io rchar: the bytes this process
got from read calls, all threads together).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from pytestqt.qtbot import QtBot

from player.sources.folder import FolderSource, file_stamp
from player.sources.folder_copy import STAMPS_FILE, FolderCopy, _sample, copy_dir, referenced_files
from player.sources.folder_copy import _same_bytes as same_bytes
from screens import one_zone, write_screen
from test_folder_copy import fast_checks, playing  # noqa: F401 - fast_checks is a fixture
from test_folder_pdf import _pdf
from test_folder_replaced import bmp, centre, pdf_stick, replace_by_rename, replace_in_place, stick

MIB = 1024 * 1024
BIG = 200 * MIB  # a video well above folder_copy.SAMPLED_ABOVE (sparse: no 200 MB on the disk)
SAMPLE = 2 * MIB + 32 * 256 * 1024  # what the sampled compare reads of one file
NO_STOP = threading.Event()


def rchar() -> int:
    """Bytes this process has read so far (all threads): the kernel's count."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def chmod(path: Path) -> None:
    """A metadata-only change: same bytes, size, modification time and inode; a new ctime."""
    before = file_stamp(path)
    assert before is not None
    os.chmod(path, 0o600 if path.stat().st_mode & 0o077 else 0o644)
    after = file_stamp(path)
    assert after is not None and after[:3] == before[:3] and after != before


def kept_stamp(copy: Path, key: str) -> list[int] | None:
    """The stamp the copy keeps for *key* (the stamp of the file its copy was made from, or was found equal to)."""
    try:
        return json.loads((copy / STAMPS_FILE).read_bytes())["files"].get(key)
    except (OSError, ValueError):
        return None


def sparse(path: Path, size: int, head: bytes = b"", mtime_ns: int | None = None) -> None:
    """A file of *size* bytes, *head* at its start and holes after (no room taken on the disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(size)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def video_stick(tmp_path: Path, cache: Path, size: int = BIG) -> tuple[Path, Path]:
    """A folder with a large video and a copy of it already made (sparse as well: a copy made before the stamps
    were kept), so no test writes 200 MB. Returns (folder, the video)."""
    folder = tmp_path / "stick"
    video = folder / "film.mp4"
    head = b"\x00\x00\x00\x18ftypmp42" + os.urandom(4096)
    sparse(video, size, head)
    old = video.stat().st_mtime_ns - 3600 * 10**9
    os.utime(video, ns=(old, old))
    write_screen(folder, one_zone([{"type": "video", "src": "film.mp4", "duration": 5}], width=320, height=180))
    doc = folder / "screen.json"
    os.utime(doc, ns=(old, old))
    sparse(copy_dir(cache, folder) / "film.mp4", size, head, old)
    return folder, video


# ---------------------------------------------------------------------------------------------- the copy


def test_chmod_on_a_large_video_reads_only_a_sample_of_it_and_its_copy(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    folder, video = video_stick(tmp_path, cache)
    source = FolderSource(folder)
    files = referenced_files(source, source.load().screen)
    copy = FolderCopy(source, cache, quota_bytes=1000 * MIB)
    target = copy.root / "film.mp4"
    ino = target.stat().st_ino
    assert copy.update(files, lambda _r, _p: None, NO_STOP) == []  # the old copy is taken over: compared, kept
    assert target.stat().st_ino == ino
    chmod(video)
    before = rchar()
    assert copy.update(files, lambda _r, _p: None, NO_STOP) == []
    read = rchar() - before
    assert 2 * SAMPLE <= read < 2 * SAMPLE + 2 * MIB, read  # both files sampled; 2 x 200 MB before
    assert target.stat().st_ino == ino  # not copied again
    assert kept_stamp(copy.root, "film.mp4") == list(file_stamp(video) or ())
    assert copy.ready(files) == {"film.mp4": target}


def test_a_large_video_replaced_with_its_old_size_and_time_is_still_copied_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    folder, video = video_stick(tmp_path, cache, size=72 * MIB)
    source = FolderSource(folder)
    files = referenced_files(source, source.load().screen)
    copy = FolderCopy(source, cache, quota_bytes=1000 * MIB)
    assert copy.update(files, lambda _r, _p: None, NO_STOP) == []
    other = b"\x00\x00\x00\x18ftypisom" + os.urandom(4096)  # another encoding: another header
    st = video.stat()
    with open(video, "r+b") as fh:
        fh.write(other)
    os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (video.stat().st_size, video.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert copy.update(files, lambda _r, _p: None, NO_STOP) == []
    with open(copy.root / "film.mp4", "rb") as fh:
        assert fh.read(len(other)) == other


def test_the_sampled_compare_stops_at_the_first_difference_and_sees_one_in_a_sampled_block(tmp_path: Path) -> None:
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    sparse(a, BIG, b"A" * 1000)
    sparse(b, BIG, b"B" * 1000)
    before = rchar()
    assert not same_bytes(a, b, NO_STOP)
    assert rchar() - before <= 2 * MIB + 64 * 1024  # the first megabyte of each, not the rest
    sparse(b, BIG, b"A" * 1000)
    assert same_bytes(a, b, NO_STOP)
    blocks = sorted(_sample(BIG))
    assert len(blocks) == 34 and sum(length for _o, length in blocks) == SAMPLE
    middle = blocks[len(blocks) // 2]
    with open(b, "r+b") as fh:  # between two sampled blocks: missed (the trade-off docs/sync.md describes)
        fh.seek(middle[0] - 4096)
        fh.write(b"x" * 4096)
    assert same_bytes(a, b, NO_STOP)
    with open(b, "r+b") as fh:  # in a sampled block in the middle of the file: found
        fh.seek(middle[0] + middle[1] - 1)
        fh.write(b"x")
    assert not same_bytes(a, b, NO_STOP)


def test_files_below_the_sample_size_are_compared_in_full(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    data = os.urandom(20 * MIB)
    a.write_bytes(data)
    b.write_bytes(data[:13 * MIB + 7] + b"x" + data[13 * MIB + 8:])  # one byte, anywhere
    assert not same_bytes(a, b, NO_STOP)
    b.write_bytes(data)
    assert same_bytes(a, b, NO_STOP)


# ---------------------------------------------------------------------------------------------- the running player


def test_chmod_on_screen_json_publishes_nothing_new(qtbot: QtBot, tmp_path: Path, fast_checks: None) -> None:  # noqa: F811
    folder = stick(tmp_path)
    with playing(qtbot, tmp_path, folder) as (published, copy, _cache_dir):
        chmod(folder / "screen.json")
        # a real change after it, waited for: by then the check has looked at screen.json several times
        new = bmp((255, 128, 0))
        replace_by_rename(folder / "bilder" / "rot.bmp", new)
        qtbot.waitUntil(lambda: (copy / "bilder" / "rot.bmp").read_bytes() == new, timeout=15_000)
        qtbot.waitUntil(lambda: kept_stamp(copy, "screen.json") == list(file_stamp(folder / "screen.json") or ()),
                        timeout=15_000)  # the copy completes with the document's new stamp
        assert len(published) == 1  # loaded once, at start


def test_screen_json_replaced_with_its_old_size_and_time_is_still_loaded_again(
        qtbot: QtBot, tmp_path: Path, fast_checks: None) -> None:  # noqa: F811
    folder = stick(tmp_path)
    doc = folder / "screen.json"
    text = doc.read_text(encoding="utf-8")
    swapped = text.replace("rot.bmp", "tmp.bmp").replace("blau.bmp", "rot.bmp").replace("tmp.bmp", "blau.bmp")
    with playing(qtbot, tmp_path, folder) as (published, copy, _cache_dir):
        replace_in_place(doc, swapped.encode())
        qtbot.waitUntil(lambda: len(published) == 2, timeout=15_000)
        qtbot.waitUntil(lambda: (copy / "screen.json").read_text(encoding="utf-8") == swapped, timeout=15_000)
        replace_by_rename(doc, text.encode())
        qtbot.waitUntil(lambda: len(published) == 3, timeout=15_000)
        qtbot.waitUntil(lambda: (copy / "screen.json").read_text(encoding="utf-8") == text, timeout=15_000)


def test_chmod_on_a_pdf_publishes_nothing_new_and_renders_nothing(
        qtbot: QtBot, tmp_path: Path, fast_checks: None) -> None:  # noqa: F811
    source = pdf_stick(tmp_path, (0, 0, 255))
    pdf = source.root / "fahrplan.pdf"
    with playing(qtbot, tmp_path, source.root) as (published, copy, _cache_dir):
        page = published[-1]("fahrplan.pdf")
        assert page is not None
        rendered = page.stat().st_mtime_ns
        chmod(pdf)
        qtbot.waitUntil(lambda: kept_stamp(copy, "fahrplan.pdf") == list(file_stamp(pdf) or ()), timeout=15_000)
        assert len(published) == 1
        assert page.stat().st_mtime_ns == rendered and sorted(page.parent.iterdir()) == [page]


def test_a_pdf_rewritten_in_place_with_its_old_size_and_time_still_gets_its_new_page(
        qtbot: QtBot, tmp_path: Path, fast_checks: None) -> None:  # noqa: F811
    source = pdf_stick(tmp_path, (0, 0, 255))
    with playing(qtbot, tmp_path, source.root) as (published, _copy, _cache_dir):
        first = published[-1]("fahrplan.pdf")
        replace_in_place(source.root / "fahrplan.pdf", _pdf((255, 0, 0)))
        qtbot.waitUntil(lambda: published[-1]("fahrplan.pdf") not in (None, first), timeout=15_000)
        assert centre(published[-1]("fahrplan.pdf"))[0] > 200


def test_chmod_on_a_picture_publishes_nothing_new_and_copies_nothing(
        qtbot: QtBot, tmp_path: Path, fast_checks: None) -> None:  # noqa: F811
    folder = stick(tmp_path)
    red = folder / "bilder" / "rot.bmp"
    with playing(qtbot, tmp_path, folder) as (published, copy, _cache_dir):
        ino = (copy / "bilder" / "rot.bmp").stat().st_ino
        chmod(red)
        qtbot.waitUntil(lambda: kept_stamp(copy, "bilder/rot.bmp") == list(file_stamp(red) or ()), timeout=15_000)
        assert len(published) == 1
        assert (copy / "bilder" / "rot.bmp").stat().st_ino == ino
        assert published[0]("bilder/rot.bmp") == copy / "bilder" / "rot.bmp"


def test_chmod_on_a_large_video_while_playing_reads_only_a_sample(
        qtbot: QtBot, tmp_path: Path, fast_checks: None) -> None:  # noqa: F811
    folder, video = video_stick(tmp_path, tmp_path / "cache")
    with playing(qtbot, tmp_path, folder) as (published, copy, cache_dir):
        assert copy == copy_dir(cache_dir, folder) and (copy / "film.mp4").stat().st_blocks < 64  # taken over
        qtbot.waitUntil(lambda: kept_stamp(copy, "film.mp4") is not None, timeout=15_000)
        before = rchar()
        chmod(video)
        qtbot.waitUntil(lambda: kept_stamp(copy, "film.mp4") == list(file_stamp(video) or ()), timeout=15_000)
        read = rchar() - before
        assert read < 2 * SAMPLE + 8 * MIB, read  # 2 x 200 MB before
        assert len(published) == 1
