"""A folder source (USB stick, mounted share) plays on from its copy when the folder goes away.

Real files in tmp directories; "pulling the stick" is moving the folder away. The window cases look at the pixels.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from player.atomic import copy_file_atomic
from player.clock import SystemClock
from player.feeds.sample import SampleFeed
from player.sources.folder import FolderSource
from player.sources.folder_copy import STAMPS_FILE, FolderCopy, copy_dir, referenced_files
from player.ui.app import DEMO_DIR, make_window
from player.ui.runtime import ContentController, attach_content
from screens import one_zone, solid_image, write_screen
from test_sync import write_config

RED, BLUE = (255, 0, 0), (0, 0, 255)
NO_STOP = threading.Event()


def stick(tmp_path: Path) -> Path:
    folder = tmp_path / "media" / "usb" / "inhalte"
    solid_image(folder / "bilder" / "rot.png", RED)
    solid_image(folder / "bilder" / "blau.png", BLUE)
    write_screen(folder, one_zone([{"type": "image", "src": "bilder/rot.png", "duration": 1},
                                   {"type": "image", "src": "bilder/blau.png", "duration": 1}],
                                  width=320, height=180))
    return folder


def started_and_copied(qtbot: QtBot, config, folder: Path) -> tuple[ContentController, Path]:  # noqa: ANN001
    """A running controller for *folder* whose first copy is complete, and where that copy is."""
    controller = ContentController(config, folder=folder)
    controller.start()
    copy = copy_dir(config.cache_dir, folder)
    try:
        qtbot.waitUntil(lambda: (copy / "screen.json").is_file(), timeout=10_000)
    except BaseException:
        controller.stop()
        raise
    return controller, copy


def copy_of(tmp_path: Path, folder: Path) -> tuple[FolderSource, FolderCopy]:
    """The folder as a source and its copy below tmp_path/cache (10 MiB quota)."""
    source = FolderSource(folder)
    return source, FolderCopy(source, tmp_path / "cache", quota_bytes=10 * 1024 * 1024)


def centre_is(window, rgb: tuple[int, int, int]) -> bool:  # noqa: ANN001
    px = window.grab().toImage().pixelColor(window.width() // 2, window.height() // 2)
    return all(abs(a - b) < 40 for a, b in zip((px.red(), px.green(), px.blue()), rgb, strict=True))


def test_pulling_the_stick_keeps_both_pictures_playing(qtbot: QtBot, tmp_path: Path, caplog) -> None:  # noqa: ANN001
    folder = stick(tmp_path)
    config = write_config(tmp_path, source={"type": "folder", "path": str(folder)})
    window = make_window(config, SystemClock(), (320, 180))
    qtbot.addWidget(window)
    window.show()
    controller = attach_content(window, config, folder)
    try:
        copy = copy_dir(config.cache_dir, folder)
        qtbot.waitUntil(lambda: (copy / "screen.json").is_file(), timeout=10_000)
        assert (copy / "bilder" / "rot.png").read_bytes() == (folder / "bilder" / "rot.png").read_bytes()
        shutil.move(folder, tmp_path / "abgezogen")  # the stick is pulled
        with caplog.at_level(logging.ERROR):
            qtbot.waitUntil(lambda: any("screen.json" in r.getMessage() for r in caplog.records), timeout=15_000)
            for _ in range(2):  # each picture decoded again after the pull, twice: from the copy
                qtbot.waitUntil(lambda: centre_is(window, RED), timeout=10_000)
                qtbot.waitUntil(lambda: centre_is(window, BLUE), timeout=10_000)
        assert sum("screen.json" in r.getMessage() for r in caplog.records) == 1  # one line for the incident
    finally:
        controller.stop()


def test_starting_without_the_stick_shows_the_last_copy(qtbot: QtBot, tmp_path: Path) -> None:
    folder = stick(tmp_path)
    config = write_config(tmp_path, source={"type": "folder", "path": str(folder)})
    first, _copy = started_and_copied(qtbot, config, folder)
    first.stop()
    shutil.rmtree(tmp_path / "media")
    again = ContentController(config, folder=folder)
    try:
        with qtbot.waitSignal(again.published, timeout=10_000) as blocker:
            again.start()
        screen, resolver = blocker.args
        assert screen.layouts["main"].zones[0].items[0].src == "bilder/rot.png"
        path = resolver("bilder/rot.png")
        assert path is not None and path.is_relative_to(copy_dir(config.cache_dir, folder))
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        again.stop()


def test_a_broken_document_at_start_shows_the_last_copy(qtbot: QtBot, tmp_path: Path, caplog) -> None:  # noqa: ANN001
    """The power went while staff saved screen.json on the stick: after the restart the document is half written.
    The screen shows the copy (the last document that loaded) instead of the error screen, says why in the log,
    and loads the folder's document once it is whole again."""
    folder = stick(tmp_path)
    config = write_config(tmp_path, source={"type": "folder", "path": str(folder)})
    first, _copy = started_and_copied(qtbot, config, folder)
    first.stop()
    whole = (folder / "screen.json").read_text(encoding="utf-8")
    (folder / "screen.json").write_text(whole[: len(whole) // 2], encoding="utf-8")
    again = ContentController(config, folder=folder)
    failed: list[object] = []
    again.failed.connect(failed.append)
    try:
        with caplog.at_level(logging.ERROR), qtbot.waitSignal(again.published, timeout=10_000) as blocker:
            again.start()
        screen, resolver = blocker.args
        assert screen.layouts["main"].zones[0].items[0].src == "bilder/rot.png" and failed == []
        path = resolver("bilder/rot.png")
        assert path is not None and path.is_relative_to(copy_dir(config.cache_dir, folder))
        lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(lines) == 1 and "not valid JSON" in lines[0] and "showing the copy kept in" in lines[0], lines
        (folder / "screen.json").write_text(whole.replace("bilder/rot.png", "bilder/blau.png", 1), encoding="utf-8")
        with qtbot.waitSignal(again.published, timeout=15_000) as blocker:
            again.sync_now()
        assert blocker.args[0].layouts["main"].zones[0].items[0].src == "bilder/blau.png"
    finally:
        again.stop()


def test_without_stick_and_without_copy_the_error_screen_says_so(qtbot: QtBot, tmp_path: Path) -> None:
    folder = tmp_path / "nie-eingesteckt"
    config = write_config(tmp_path, source={"type": "folder", "path": str(folder)})
    controller = ContentController(config, folder=folder)
    try:
        with qtbot.waitSignal(controller.failed, timeout=10_000) as blocker:
            controller.start()
        assert blocker.args[0] == [f"{folder / 'screen.json'}: $: file not found"]
    finally:
        controller.stop()


def test_changed_files_are_copied_again_and_dropped_ones_removed(tmp_path: Path) -> None:
    folder = stick(tmp_path)
    source, copy = copy_of(tmp_path, folder)

    def update() -> list[str]:
        screen = source.load().screen
        return copy.update({ref: source.resolve(ref) for ref in screen.media_refs()}, lambda _r, _p: None, NO_STOP)

    assert update() == []
    red_copy = copy.root / "bilder" / "rot.png"
    before = red_copy.stat().st_mtime_ns
    assert update() == []
    assert red_copy.stat().st_mtime_ns == before  # unchanged: not copied again
    solid_image(folder / "bilder" / "rot.png", (200, 0, 0), size=(320, 180))  # same name, new picture
    assert update() == []
    assert red_copy.read_bytes() == (folder / "bilder" / "rot.png").read_bytes()
    write_screen(folder, one_zone([{"type": "image", "src": "bilder/blau.png", "duration": 1}]))
    assert update() == []
    assert not red_copy.exists() and (copy.root / "bilder" / "blau.png").is_file()
    assert sorted(p.name for p in copy.root.rglob("*") if p.name != STAMPS_FILE) == ["bilder", "blau.png",
                                                                                   "screen.json"]


def test_what_does_not_fit_plays_from_the_folder_and_the_last_complete_copy_stays(tmp_path: Path) -> None:
    folder = stick(tmp_path)
    source, copy = copy_of(tmp_path, folder)
    files = {ref: source.resolve(ref) for ref in source.load().screen.media_refs()}
    assert copy.update(files, lambda _r, _p: None, NO_STOP) == []
    kept_doc = (copy.root / "screen.json").read_bytes()
    solid_image(folder / "bilder" / "gross.png", (0, 200, 0), size=(1600, 900))
    write_screen(folder, one_zone([{"type": "image", "src": "bilder/gross.png", "duration": 1}]))
    files = {ref: source.resolve(ref) for ref in source.load().screen.media_refs()}
    small = FolderCopy(source, tmp_path / "cache", quota_bytes=(copy.root / "screen.json").stat().st_size + 2000)
    copied: list[str] = []
    problems = small.update(files, lambda ref, _p: copied.append(ref), NO_STOP)
    assert len(problems) == 1 and "not copied: gross.png" in problems[0], problems
    assert "do not fit into cache.quota_mb" in problems[0]
    assert copied == []
    assert (copy.root / "screen.json").read_bytes() == kept_doc  # still the last complete state
    assert (copy.root / "bilder" / "rot.png").is_file()
    assert not list(copy.root.rglob("*.tmp"))


def test_an_unwritable_cache_gives_one_line_and_the_folder_plays(qtbot: QtBot, tmp_path: Path, caplog) -> None:  # noqa: ANN001
    if os.geteuid() == 0:
        blocker_file = tmp_path / "cache"
        blocker_file.write_text("a file where the cache directory should be")  # even root cannot mkdir below it
    else:
        (tmp_path / "cache").mkdir(mode=0o500)
    folder = stick(tmp_path)
    config = write_config(tmp_path, source={"type": "folder", "path": str(folder)})
    controller = ContentController(config, folder=folder)
    try:
        with caplog.at_level(logging.WARNING), qtbot.waitSignal(controller.published, timeout=10_000) as blocker:
            controller.start()
        _screen, resolver = blocker.args
        assert resolver("bilder/rot.png") == (folder / "bilder" / "rot.png").resolve()
        qtbot.waitUntil(lambda: any("cannot keep a copy" in r.getMessage() for r in caplog.records), timeout=5000)
        assert sum("cannot keep a copy" in r.getMessage() for r in caplog.records) == 1
    finally:
        controller.stop()


def test_the_built_in_demo_is_not_copied(qtbot: QtBot, tmp_path: Path) -> None:
    config = write_config(tmp_path, source={"type": "folder", "path": str(DEMO_DIR)})
    controller = ContentController(config, folder=DEMO_DIR)
    try:
        with qtbot.waitSignal(controller.published, timeout=10_000):
            controller.start()
    finally:
        controller.stop()
    assert not (config.cache_dir / "folder-copy").exists()


def test_a_failed_copy_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "copy" / "bild.png"
    target.parent.mkdir()
    target.write_bytes(b"old")
    with pytest.raises(FileNotFoundError):
        copy_file_atomic(tmp_path / "gone.png", target)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["bild.png"]
    source = tmp_path / "neu.png"
    source.write_bytes(b"new content")
    os.utime(source, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    copy_file_atomic(source, target)
    assert target.read_bytes() == b"new content"
    assert target.stat().st_mtime_ns == 1_700_000_000_000_000_000


def test_references_switch_to_the_copy_once_it_is_complete(qtbot: QtBot, tmp_path: Path) -> None:
    """Not only after the folder went away: a stick can be pulled in the middle of reading a picture."""
    folder = stick(tmp_path)
    with playing(qtbot, tmp_path, folder) as (published, copy, _cache_dir):
        resolver = published[-1]
        qtbot.waitUntil(lambda: resolver("bilder/rot.png") == copy / "bilder" / "rot.png", timeout=10_000)
        qtbot.waitUntil(lambda: resolver("bilder/blau.png") == copy / "bilder" / "blau.png", timeout=10_000)


def test_two_spellings_of_one_file_both_switch_to_the_copy(tmp_path: Path) -> None:
    folder = stick(tmp_path)
    source, copy = copy_of(tmp_path, folder)
    files = {"bilder/rot.png": source.resolve("bilder/rot.png"), "./bilder/rot.png": source.resolve("./bilder/rot.png")}
    switched: list[str] = []
    assert copy.update(files, lambda ref, _p: switched.append(ref), NO_STOP) == []
    assert sorted(switched) == ["./bilder/rot.png", "bilder/rot.png"]
    switched.clear()
    assert copy.update(files, lambda ref, _p: switched.append(ref), NO_STOP) == []  # unchanged: still both
    assert sorted(switched) == ["./bilder/rot.png", "bilder/rot.png"]


def test_a_reference_named_like_the_document_cannot_replace_its_copy(tmp_path: Path) -> None:
    folder = stick(tmp_path)
    copy = FolderCopy(FolderSource(folder), tmp_path / "cache", quota_bytes=10 * 1024 * 1024)
    assert copy.target("screen.json") is None and copy.target("./bilder/../screen.json") is None
    assert copy.target("../elsewhere.png") is None
    assert copy.target("bilder/rot.png") == copy.root / "bilder" / "rot.png"


def test_a_stick_pulled_during_the_copy_gives_one_line(tmp_path: Path) -> None:
    folder = stick(tmp_path)
    for n in range(6):
        solid_image(folder / "bilder" / f"extra{n}.png", (n * 40, 0, 0))
    source, copy = copy_of(tmp_path, folder)
    files = {f"bilder/extra{n}.png": source.resolve(f"bilder/extra{n}.png") for n in range(6)}
    shutil.move(folder, tmp_path / "abgezogen")
    problems = copy.update(files, lambda _r, _p: None, NO_STOP)
    assert len(problems) == 1 and "went away" in problems[0], problems


def test_new_pictures_in_place_of_old_ones_fit_the_same_quota(tmp_path: Path) -> None:
    """The old files are about to be removed: they do not count against the new ones (the copy used to refuse
    every new set of about the same size as the last, for good)."""
    folder = tmp_path / "stick"
    (folder / "a.bin").parent.mkdir(parents=True)
    (folder / "a.bin").write_bytes(os.urandom(600_000))
    (folder / "b.bin").write_bytes(os.urandom(600_000))
    source = FolderSource(folder)
    copy = FolderCopy(source, tmp_path / "cache", quota_bytes=1_000_000)
    write_screen(folder, one_zone([{"type": "image", "src": "a.bin", "duration": 1}]))
    assert copy.update({"a.bin": folder / "a.bin"}, lambda _r, _p: None, NO_STOP) == []
    write_screen(folder, one_zone([{"type": "image", "src": "b.bin", "duration": 1}]))
    assert copy.update({"b.bin": folder / "b.bin"}, lambda _r, _p: None, NO_STOP) == []
    assert sorted(p.name for p in copy.root.iterdir() if p.name != STAMPS_FILE) == ["b.bin", "screen.json"]


def test_a_file_still_being_written_is_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another program writes the file while it is copied (an upload to the share): the copy is dropped, the old
    one stays, and the next load copies the finished file."""
    import player.atomic

    source = tmp_path / "video.mp4"
    source.write_bytes(b"first half")
    target = tmp_path / "copy" / "video.mp4"
    real = shutil.copyfileobj

    def copy_while_written(fin, fout, length=0):  # noqa: ANN001, ANN202
        real(fin, fout, length)
        with open(source, "ab") as fh:
            fh.write(b" and the second half")

    monkeypatch.setattr(player.atomic.shutil, "copyfileobj", copy_while_written)
    with pytest.raises(OSError, match="changed while it was copied"):
        copy_file_atomic(source, target)
    assert not target.exists() and not list(target.parent.iterdir())
    monkeypatch.setattr(player.atomic.shutil, "copyfileobj", real)
    copy_file_atomic(source, target)
    assert target.read_bytes() == b"first half and the second half"


@pytest.fixture
def fast_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder is checked every 0.2 s instead of 5 s (read at each wait): the cases below wait for checks."""
    import player.ui.runtime

    monkeypatch.setattr(player.ui.runtime, "FOLDER_CHECK_S", 0.2)


@contextlib.contextmanager
def playing(qtbot: QtBot, tmp_path: Path, folder: Path) -> Iterator[tuple[list, Path, Path]]:
    """A controller playing *folder* until its first copy is complete: (resolvers published so far, the copy,
    the cache directory). Stopped on leaving."""
    config = write_config(tmp_path, source={"type": "folder", "path": str(folder)})
    controller = ContentController(config, folder=folder)
    published: list = []
    controller.published.connect(lambda _screen, resolver: published.append(resolver))
    copy = copy_dir(config.cache_dir, folder)
    controller.start()
    try:
        qtbot.waitUntil(lambda: (copy / "screen.json").is_file(), timeout=10_000)
        yield published, copy, config.cache_dir
    finally:
        controller.stop()


def test_a_picture_replaced_under_the_same_name_is_copied_again_without_a_rebuild(
        qtbot: QtBot, tmp_path: Path, fast_checks: None) -> None:
    folder = stick(tmp_path)
    with playing(qtbot, tmp_path, folder) as (published, copy, cache_dir):
        solid_image(folder / "bilder" / "rot.png", (255, 128, 0), size=(200, 100))  # the document is unchanged
        new = (folder / "bilder" / "rot.png").read_bytes()
        qtbot.waitUntil(lambda: (copy / "bilder" / "rot.png").read_bytes() == new, timeout=15_000)
        assert len(published) == 1  # copied again; the screen was not rebuilt
        assert published[0]("bilder/rot.png") == copy / "bilder" / "rot.png"


def test_sample_feed_files_are_copied_and_read_from_the_copy_without_the_stick(qtbot: QtBot, tmp_path: Path) -> None:
    folder = stick(tmp_path)
    shutil.copy(DEMO_DIR / "data" / "weather.json", folder / "wetter.json")
    doc = one_zone([{"type": "widget", "widget": "weather", "feed": "wetter", "duration": 5}], width=320, height=180,
                   feeds={"wetter": {"type": "sample", "file": "wetter.json"}})
    write_screen(folder, doc)
    config = write_config(tmp_path, source={"type": "folder", "path": str(folder)})
    first, copy = started_and_copied(qtbot, config, folder)
    try:
        assert (copy / "wetter.json").read_bytes() == (folder / "wetter.json").read_bytes()
    finally:
        first.stop()
    shutil.rmtree(folder)
    again = ContentController(config, folder=folder)
    try:
        with qtbot.waitSignal(again.published, timeout=10_000) as blocker:
            again.start()
        # the stick first: the feeds (kept while their config is the same) read it again once it is back
        assert blocker.args[1].content_dir == [folder, copy]
        feed = SampleFeed(blocker.args[1].content_dir, "wetter.json")
        assert feed.read() == json.loads((copy / "wetter.json").read_text(encoding="utf-8"))
        folder.mkdir(parents=True)
        (folder / "wetter.json").write_text('{"zurueck": true}', encoding="utf-8")  # the stick is back
        assert feed.read() == {"zurueck": True}
    finally:
        again.stop()


def test_sample_feeds_read_the_folder_then_the_copy_and_a_rewritten_file_does_not_rebuild(
        qtbot: QtBot, tmp_path: Path, fast_checks: None) -> None:
    """The feeds re-read their file on every fetch: from the folder while it is there (a script may rewrite it
    every few seconds), else from the copy (a pulled stick). A rewritten data file is copied again without
    rebuilding the screen (that would restart every zone)."""
    folder = stick(tmp_path)
    shutil.copy(DEMO_DIR / "data" / "weather.json", folder / "wetter.json")
    write_screen(folder, one_zone([{"type": "widget", "widget": "weather", "feed": "wetter", "duration": 5}],
                                  width=320, height=180, feeds={"wetter": {"type": "sample", "file": "wetter.json"}}))
    with playing(qtbot, tmp_path, folder) as (published, copy, cache_dir):
        assert published[0].content_dir == [folder, copy]
        feed = SampleFeed(published[0].content_dir, "wetter.json")
        data = (folder / "wetter.json").read_text(encoding="utf-8").replace("Musterstadt", "Beispielstadt")
        (folder / "wetter.json").write_text(data, encoding="utf-8")
        assert feed.read() == json.loads(data)  # the folder's file at once
        qtbot.waitUntil(lambda: (copy / "wetter.json").read_text(encoding="utf-8") == data, timeout=15_000)
        assert len(published) == 1
        shutil.move(folder, tmp_path / "abgezogen")
        assert feed.read() == json.loads(data)  # the copy, with the stick gone


def test_a_picture_that_appears_later_is_shown_and_copied(qtbot: QtBot, tmp_path: Path, fast_checks: None) -> None:
    folder = stick(tmp_path)
    write_screen(folder, one_zone([{"type": "image", "src": "bilder/rot.png", "duration": 1},
                                   {"type": "image", "src": "bilder/spaeter.png", "duration": 1}]))
    with playing(qtbot, tmp_path, folder) as (published, copy, cache_dir):
        assert published[-1]("bilder/spaeter.png") is None
        solid_image(folder / "bilder" / "spaeter.png", (0, 200, 0))
        qtbot.waitUntil(lambda: published[-1]("bilder/spaeter.png") == copy / "bilder" / "spaeter.png",
                        timeout=15_000)


def test_a_changed_pdf_is_rendered_again(qtbot: QtBot, tmp_path: Path, fast_checks: None) -> None:
    from test_folder_pdf import _pdf

    folder = stick(tmp_path)
    (folder / "fahrplan.pdf").write_bytes(_pdf((0, 0, 255)))
    write_screen(folder, one_zone([{"type": "image", "src": "fahrplan.pdf", "duration": 5}], width=320, height=180))
    with playing(qtbot, tmp_path, folder) as (published, copy, cache_dir):
        first = published[-1]("fahrplan.pdf")
        assert first is not None and first.suffix == ".png" and first.is_relative_to(cache_dir / "folder-pdf")
        (folder / "fahrplan.pdf").write_bytes(_pdf((200, 0, 0)))
        qtbot.waitUntil(lambda: published[-1]("fahrplan.pdf") not in (None, first), timeout=15_000)
        assert published[-1]("fahrplan.pdf").suffix == ".png"  # a page, never the PDF itself


def test_a_failed_copy_is_tried_again(qtbot: QtBot, tmp_path: Path, caplog, fast_checks: None,  # noqa: ANN001
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import player.ui.runtime

    monkeypatch.setattr(player.ui.runtime, "COPY_RETRY_MIN_S", 0.5)
    folder = stick(tmp_path)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "folder-copy").write_text("in the way")  # the copy cannot be made: one line
    config = write_config(tmp_path, source={"type": "folder", "path": str(folder)})
    controller = ContentController(config, folder=folder)
    copy = copy_dir(config.cache_dir, folder)
    with caplog.at_level(logging.WARNING):
        controller.start()
        try:
            qtbot.waitUntil(lambda: any("cannot keep a copy" in r.getMessage() for r in caplog.records),
                            timeout=10_000)
            (tmp_path / "cache" / "folder-copy").unlink()  # the problem goes away
            qtbot.waitUntil(lambda: (copy / "screen.json").is_file(), timeout=15_000)
        finally:
            controller.stop()
    assert sum("cannot keep a copy" in r.getMessage() for r in caplog.records) == 1


def test_a_nul_in_a_sample_file_name_is_one_line_and_the_screen_plays(qtbot: QtBot, tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    folder = stick(tmp_path)
    write_screen(folder, one_zone([{"type": "image", "src": "bilder/rot.png", "duration": 5}], width=320, height=180,
                                  feeds={"wetter": {"type": "sample", "file": "w\u0000.json"}}))
    config = write_config(tmp_path, source={"type": "folder", "path": str(folder)})
    window = make_window(config, SystemClock(), (320, 180))
    qtbot.addWidget(window)
    with caplog.at_level(logging.DEBUG):
        controller = attach_content(window, config, folder)
        try:
            qtbot.waitUntil(lambda: window.screen_model is not None, timeout=10_000)
            assert window.ctx.resolve_media("bilder/rot.png") is not None
            qtbot.waitUntil(lambda: (copy_dir(config.cache_dir, folder) / "screen.json").is_file(), timeout=10_000)
            qtbot.waitUntil(lambda: any("null byte" in r.getMessage() for r in caplog.records), timeout=10_000)
        finally:
            controller.stop()
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum("null byte" in line for line in lines) == 1, lines  # the feed's fetch, once
    assert not [line for line in lines if "folder source" in line], lines  # the folder checks did not fail


def test_a_document_saved_during_the_copy_is_not_copied_with_the_old_files(tmp_path: Path) -> None:
    folder = stick(tmp_path)
    source, copy = copy_of(tmp_path, folder)
    loaded_stamp = (source.document_path.stat().st_size, source.document_path.stat().st_mtime_ns)
    files = referenced_files(source, source.load().screen)
    write_screen(folder, one_zone([{"type": "image", "src": "bilder/neu.png", "duration": 1}]))  # saved meanwhile
    os.utime(source.document_path, ns=(1, loaded_stamp[1] + 1_000_000))
    assert copy.update(files, lambda _r, _p: None, NO_STOP, loaded_stamp) == []
    assert copy.source_of_copy() is None  # no document that would name files the copy does not have


def test_an_old_file_in_the_way_of_a_new_folder_is_replaced(tmp_path: Path) -> None:
    folder = stick(tmp_path)
    source, copy = copy_of(tmp_path, folder)
    copy.root.mkdir(parents=True)
    (copy.root / "bilder").write_bytes(b"a file of an older document")
    files = referenced_files(source, source.load().screen)
    assert copy.update(files, lambda _r, _p: None, NO_STOP) == []
    assert (copy.root / "bilder" / "rot.png").is_file()


def test_a_short_disk_makes_room_from_what_is_about_to_go_and_says_what_does_not_fit(tmp_path: Path) -> None:
    from faultkit import small_filesystem

    folder = tmp_path / "stick"
    folder.mkdir()
    for name in ("a.bin", "b.bin", "c.bin"):
        (folder / name).write_bytes(os.urandom(1_500_000))
    (folder / "d.bin").write_bytes(os.urandom(5_000_000))
    source = FolderSource(folder)
    with small_filesystem(tmp_path / "cache", 4) as cache:
        copy = FolderCopy(source, cache, quota_bytes=100 * 1024 * 1024)
        write_screen(folder, one_zone([{"type": "image", "src": "a.bin", "duration": 1}]))
        assert copy.update({"a.bin": folder / "a.bin"}, lambda _r, _p: None, NO_STOP) == []
        write_screen(folder, one_zone([{"type": "image", "src": "b.bin", "duration": 1},
                                       {"type": "image", "src": "c.bin", "duration": 1}]))
        files = {"b.bin": folder / "b.bin", "c.bin": folder / "c.bin"}
        assert copy.update(files, lambda _r, _p: None, NO_STOP) == []  # a.bin had to go first for c.bin
        assert sorted(p.name for p in copy.root.iterdir() if p.name != STAMPS_FILE) == ["b.bin", "c.bin",
                                                                                        "screen.json"]
        problems = copy.update({"d.bin": folder / "d.bin"}, lambda _r, _p: None, NO_STOP)
        assert len(problems) == 1 and "d.bin (5.0 MB do not fit on the disk)" in problems[0], problems
        assert not list(copy.root.rglob("*.tmp"))
        # making room could not have helped: the last complete copy is still there
        assert sorted(p.name for p in copy.root.iterdir() if p.name != STAMPS_FILE) == ["b.bin", "c.bin",
                                                                                        "screen.json"]
        assert copy.source_of_copy() is not None


UNREADABLE = """
import json, os, sys, threading
from pathlib import Path
from player.sources.folder import FolderSource
from player.sources.folder_copy import FolderCopy, referenced_files
import encodings.latin_1, encodings.ascii  # what the service user could not import later
folder, cache = Path(sys.argv[1]), Path(sys.argv[2])
source = FolderSource(folder)
loaded = source.load()
os.setgid(65534)
os.setuid(65534)  # the service user: permissions count (root reads any file)
copy = FolderCopy(source, cache, 10 << 20)
copied = []
problems = copy.update(referenced_files(source, loaded.screen), lambda ref, _path: copied.append(ref),
                       threading.Event())
print(json.dumps({"problems": problems, "copied": copied}))
"""


def test_a_file_the_player_may_not_read_is_skipped_and_the_rest_copied() -> None:
    """b.png belongs to another user of the share (mode 000). Before, its EACCES was taken for the copy's disk and
    the copy stopped there: c.png and d.png were never copied (gone with the stick), the log blamed the cache."""
    import subprocess
    import sys
    import tempfile

    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("this test switches to the service user 'nobody' and needs root (CI runs as root)")
        pytest.skip("needs root to switch to the service user")
    base = Path(tempfile.mkdtemp(prefix="osc-unreadable-"))  # not below pytest's tmp_path: 'nobody' cannot enter it
    try:
        os.chmod(base, 0o777)
        folder = base / "stick"
        for name in "abcd":
            solid_image(folder / f"{name}.png", (255, 0, 0))
        write_screen(folder, one_zone([{"type": "image", "src": f"{n}.png", "duration": 1} for n in "abcd"]))
        os.chmod(folder / "b.png", 0)
        (base / "cache").mkdir(mode=0o777)
        os.chmod(base / "cache", 0o777)
        res = subprocess.run([sys.executable, "-c", UNREADABLE, str(folder), str(base / "cache")],
                             capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
        assert res.returncode == 0, res.stderr[-2000:]
        result = json.loads(res.stdout)
        assert result["copied"] == ["a.png", "c.png", "d.png"], result
        assert len(result["problems"]) == 1 and "b.png" in result["problems"][0], result
        assert "play from the folder while it is there" in result["problems"][0], result
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _within(seconds: float, fn):  # noqa: ANN001, ANN202
    """fn() on a thread: what it returned or raised, or a failure if it still runs after *seconds* (it hangs)."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "blocked: a FIFO was opened as if it were a file"
    return box


def test_a_fifo_on_the_share_is_refused_not_waited_for(tmp_path: Path) -> None:
    """A named pipe where the document or a picture should be (possible on shares with unix file types): opening it
    the plain way waits for a writer, for ever, and took the content thread (or a decode worker) with it."""
    from player.layouts import DocumentError, read_json
    from player.model import Fit
    from player.ui.imaging import ImageError, decode_for_zone

    folder = stick(tmp_path)
    os.mkfifo(tmp_path / "pipe")
    result = _within(30, lambda: read_json(tmp_path / "pipe"))
    assert isinstance(result.get("error"), DocumentError) and "not a regular file" in str(result["error"]), result
    result = _within(30, lambda: decode_for_zone(tmp_path / "pipe", 320, 180, Fit.COVER))
    assert isinstance(result.get("error"), ImageError), result
    result = _within(30, lambda: copy_file_atomic(tmp_path / "pipe", folder / "kopie.png"))
    assert isinstance(result.get("error"), OSError) and not (folder / "kopie.png").exists(), result
    assert sorted(p.name for p in folder.iterdir()) == ["bilder", "screen.json"]  # no temp file left behind


def test_a_name_written_by_a_mac_is_found_under_the_name_the_document_uses(tmp_path: Path) -> None:
    """A Mac writes "Bäume" with a + combining diaeresis (NFD); the document, typed elsewhere, has the single
    character ä (NFC). Both are the same name to a person; before, the picture was "not available"."""
    import unicodedata

    folder = tmp_path / "stick"
    nfd = unicodedata.normalize("NFD", "Grünflächen/Bäume im Park.png")
    solid_image(folder / nfd, RED)
    ref = unicodedata.normalize("NFC", "Grünflächen/Bäume im Park.png")
    assert ref != nfd and not (folder / ref).exists()
    write_screen(folder, one_zone([{"type": "image", "src": ref, "duration": 1}], width=320, height=180))
    source, copy = copy_of(tmp_path, folder)
    assert source.resolve(ref) == (folder / nfd).resolve()
    solid_image(tmp_path / unicodedata.normalize("NFD", "Äußeres.png"), RED)  # beside the folder, not in it
    assert source.resolve(unicodedata.normalize("NFC", "../Äußeres.png")) is None
    assert source.resolve(unicodedata.normalize("NFC", "Grünflächen/../../Äußeres.png")) is None
    files = referenced_files(source, source.load().screen)
    copied: list[str] = []
    assert copy.update(files, lambda r, _p: copied.append(r), NO_STOP) == [] and copied == [ref]


def test_a_copy_in_use_is_marked_so_another_player_keeps_it(qtbot: QtBot, tmp_path: Path, fast_checks: None,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A stick that stays unchanged for weeks: its copy is not updated, so its time said "not played for a week" and
    a player started on another folder with the same cache (staff trying a layout) removed it. The playing player
    now marks its copy as in use (hourly; here at every check)."""
    import time

    import player.sources.folder_copy

    folder = stick(tmp_path)
    config = write_config(tmp_path, source={"type": "folder", "path": str(folder)})
    controller, copy = started_and_copied(qtbot, config, folder)
    try:
        week_ago = time.time() - 8 * 86400
        os.utime(copy, (week_ago, week_ago))
        monkeypatch.setattr(player.sources.folder_copy, "IN_USE_MARK_S", 0.0)
        qtbot.waitUntil(lambda: copy.stat().st_mtime > time.time() - 3600, timeout=10_000)
        other = stick(tmp_path / "andere")
        source, other_copy = copy_of(tmp_path / "andere", other)
        other_copy.root = copy_dir(config.cache_dir, other)  # the same cache as the playing player
        assert other_copy.update(referenced_files(source, source.load().screen), lambda *_: None, NO_STOP) == []
        assert (copy / "screen.json").is_file() and (copy / "bilder" / "rot.png").is_file()
    finally:
        controller.stop()



def test_a_mac_written_picture_replaced_on_the_stick_is_copied_again(qtbot: QtBot, tmp_path: Path,
                                                                     fast_checks: None) -> None:
    """The picture's name on the stick is in decomposed Unicode (a Mac), the document's in the usual form: the
    5 s check must look at the file the load found, or a new version of it is never noticed."""
    import unicodedata

    folder = tmp_path / "stick"
    nfd = folder / unicodedata.normalize("NFD", "Bäume.png")
    solid_image(nfd, RED)
    write_screen(folder, one_zone([{"type": "image", "src": "Bäume.png", "duration": 1}], width=320, height=180))
    with playing(qtbot, tmp_path, folder) as (published, copy, _cache_dir):
        solid_image(nfd, BLUE, size=(200, 100))
        new = nfd.read_bytes()
        qtbot.waitUntil(lambda: (copy / "Bäume.png").read_bytes() == new, timeout=15_000)
        assert len(published) == 1
