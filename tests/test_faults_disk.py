"""Fault: the disk is full.

- The cache directory on a small filesystem (8 MB tmpfs, or a loop-mounted ext4 image) and a snapshot larger than
  the free space, while the configured quota (200 MB) would allow it: the snapshot is refused with one clear log
  line, the old content stays published and on screen, the disk is not left full, and the cache stays sound.
- The state directory on a full filesystem: no crash; the player publishes and shows content all the same.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from faultkit import (
    BLUE,
    RED,
    assert_cache_sound,
    close_to,
    fill,
    free_bytes,
    image_doc,
    load,
    preview_rgb,
    small_filesystem,
    solid_png,
    write_config,
)
from player.snapshots import SnapshotStore
from player.sync import SyncService

try:
    from tests.httpfaults import FaultServer
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from httpfaults import FaultServer  # type: ignore[no-redef]

MIB = 1024 * 1024
RED_PNG = solid_png(RED)
BIG_PNG = solid_png(BLUE, (2000, 1600), noise_rows=1500, seed=3)  # ~9 MB: more than the whole small disk


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("announced", [True, False], ids=["size-announced", "no-content-length"])
def test_snapshot_larger_than_the_free_disk_is_refused_and_old_content_stays(
        qapp, tmp_path: Path, caplog: pytest.LogCaptureFixture, announced: bool) -> None:  # noqa: ANN001
    """With Content-Length the file is refused before its first byte is written; without, when writing fails."""
    assert len(BIG_PNG) > 8 * MIB
    with small_filesystem(tmp_path / "cache", 8) as cache_dir, \
            FaultServer({"/s/red.png": RED_PNG, "/s/big.png": BIG_PNG}) as srv:
        if not announced:
            srv.fault("/s/big.png", omit_length=True)
        srv.set_file("/s/screen.json", json.dumps(image_doc(["red.png"])).encode(), "application/json")
        config_path = write_config(tmp_path, srv.url("/s/screen.json"), cache_dir=cache_dir, quota_mb=200)
        config = load(config_path)
        service = SyncService.from_config(config)
        try:
            service.recover()
            first = service.sync_once()
            assert first.result == "published"
            assert first.snapshot_id is not None
            service.mark_on_screen(first.snapshot_id)
            free_before = free_bytes(cache_dir)

            srv.set_file("/s/screen.json", json.dumps(image_doc(["red.png", "big.png"])).encode(), "application/json")
            caplog.clear()
            caplog.set_level(logging.INFO)
            outcomes = [service.sync_once() for _ in range(2)]
            for outcome in outcomes:
                assert outcome.result == "refused", outcome
                assert "disk" in outcome.message and "current content stays" in outcome.message, outcome.message
                assert ("no room on disk: the file has 8.6 MB" in outcome.message) == announced, outcome.message
            errors = _errors(caplog)
            assert len(errors) == 1, errors  # one clear line for the incident, not one per attempt or retry
            assert "no space left" in errors[0].lower() or "disk" in errors[0].lower()
            assert not any("unexpected" in r.getMessage() or r.exc_info for r in caplog.records)
            # a full disk is not a network problem: no retries (at most one try per sync; the second sync may be
            # refused before its download when the disk fills up at the index instead)
            assert 1 <= srv.count("/s/big.png") <= 2, "a full disk is not a network problem: no retries"
            # nothing of the failed attempt fills the disk afterwards
            assert not list((cache_dir / "tmp").iterdir())
            assert free_bytes(cache_dir) >= free_before - 64 * 1024
            store = SnapshotStore(cache_dir)
            assert store.current_id() == first.snapshot_id
        finally:
            service.close()
        assert set(assert_cache_sound(cache_dir)) == {"red.png"}
        assert close_to(preview_rgb(config_path), RED)

        # once the content fits again, the next sync works on the same disk
        srv.set_file("/s/screen.json", json.dumps(image_doc(["red.png"], duration=31)).encode(), "application/json")
        service = SyncService.from_config(config)
        try:
            service.recover()
            assert service.sync_once().result == "published"
        finally:
            service.close()
        assert_cache_sound(cache_dir)


def test_a_download_keeps_part_of_the_disk_free(tmp_path: Path) -> None:
    """A file the server announces larger than the disk's free space less what is kept free (5 % of a small disk)
    is refused before its first byte is written, and a retry is not made; one that fits is stored."""
    from player.cache import ContentCache
    from player.fetch import NO_ROOM, Downloader, FetchError

    with small_filesystem(tmp_path / "cache", 8) as cache_dir:
        cache = ContentCache(cache_dir, quota_bytes=200 * MIB)
        fill(cache_dir, leave_bytes=3 * MIB)
        writable, kept = _room(cache_dir)
        assert kept == int(8 * MIB * 0.05) and writable == free_bytes(cache_dir) - kept
        too_big, fits = bytes(writable + kept // 2), bytes(writable - 256 * 1024)  # the first fits the free space
        with FaultServer({"/too-big.bin": too_big, "/fits.bin": fits}) as srv, \
                Downloader(cache, retries=2, backoff_base=0.001) as downloader:
            free_before = free_bytes(cache_dir)
            with pytest.raises(FetchError) as err:
                downloader.fetch(srv.url("/too-big.bin"))
            assert err.value.problem.startswith(NO_ROOM) and not err.value.retryable, err.value
            assert srv.count("/too-big.bin") == 1
            assert free_bytes(cache_dir) >= free_before - 64 * 1024  # nothing of it written
            assert not [p for p in (cache_dir / "tmp").iterdir() if p.stat().st_size]
            result = downloader.fetch(srv.url("/fits.bin"))
            assert result.size == len(fits) and cache.has(result.sha)
        cache.close()


def test_downloads_started_together_do_not_count_on_the_same_free_space(tmp_path: Path) -> None:
    """Two files that each fit the room on the disk but not both, downloaded at the same time (slowed, so both have
    begun before either ends): one is stored, the other refused before its first byte; the disk keeps its part."""
    from player.cache import ContentCache
    from player.fetch import NO_ROOM, Downloader, FetchError, FetchResult

    with small_filesystem(tmp_path / "cache", 8) as cache_dir:
        cache = ContentCache(cache_dir, quota_bytes=200 * MIB)
        fill(cache_dir, leave_bytes=3 * MIB)
        writable, kept = _room(cache_dir)
        each = writable * 6 // 10
        files = {"/a.bin": bytes([1]) * each, "/b.bin": bytes([2]) * each}
        with FaultServer(files) as srv, Downloader(cache, max_parallel=2, retries=0) as downloader:
            for path in files:
                srv.fault(path, delay=0.01)  # ~16 KB every 10 ms: each download runs for about a second
            results = downloader.fetch_many([srv.url(path) for path in files])
        stored = [r for r in results.values() if isinstance(r, FetchResult)]
        refused = [r for r in results.values() if isinstance(r, FetchError)]
        assert len(stored) == 1 and len(refused) == 1, results
        assert refused[0].problem.startswith(NO_ROOM), refused[0]
        assert free_bytes(cache_dir) >= kept
        assert cache.has(stored[0].sha)
        cache.close()


def test_one_line_for_the_incident_whatever_else_downloads(qapp, tmp_path: Path,  # noqa: ANN001
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """The first sync refuses one of two files while the other still downloads, later syncs while nothing else
    does: the same incident, one error line."""
    with small_filesystem(tmp_path / "cache", 8) as cache_dir:
        fill(cache_dir, leave_bytes=4 * MIB)
        each = _room(cache_dir)[0] * 6 // 10
        files = {"/s/a.png": bytes([1]) * each, "/s/b.png": bytes([2]) * each}
        with FaultServer(files) as srv:
            for path in files:
                srv.fault(path, delay=0.01)
            srv.set_file("/s/screen.json", json.dumps(image_doc(["a.png", "b.png"])).encode(), "application/json")
            config = load(write_config(tmp_path, srv.url("/s/screen.json"), cache_dir=cache_dir, quota_mb=200))
            service = SyncService.from_config(config)
            try:
                service.recover()
                caplog.set_level(logging.INFO)
                outcomes = [service.sync_once() for _ in range(3)]
            finally:
                service.close()
        assert [o.result for o in outcomes] == ["refused"] * 3, outcomes
        assert len(_errors(caplog)) == 1, _errors(caplog)


def _room(directory: Path) -> tuple[int, int]:
    """(bytes downloads may still write, bytes they leave free) on *directory*'s filesystem."""
    from player.system.device import disk_room

    room = disk_room(directory)
    assert room is not None
    return room


def test_full_state_dir_does_not_stop_the_player(qtbot: QtBot, tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    from player.clock import SystemClock
    from player.ui.app import make_window
    from player.ui.runtime import attach_content

    blue = solid_png(BLUE)
    with small_filesystem(tmp_path / "state", 1) as state_dir, \
            FaultServer({"/s/red.png": RED_PNG, "/s/blue.png": blue}) as srv:
        srv.set_file("/s/screen.json", json.dumps(image_doc(["red.png"])).encode(), "application/json")
        config_path = write_config(tmp_path, srv.url("/s/screen.json"), state_dir=state_dir)
        config = load(config_path)
        filler = fill(state_dir)
        assert free_bytes(state_dir) < 4096
        caplog.set_level(logging.INFO)

        window = make_window(config, SystemClock(), (320, 180))
        window.setFixedSize(320, 180)
        qtbot.addWidget(window)
        window.show()
        controller = attach_content(window, config)

        def centre() -> tuple[int, int, int]:
            c = window.grab().toImage().pixelColor(160, 90)
            return c.red(), c.green(), c.blue()

        try:
            qtbot.waitUntil(lambda: window.main is not None and close_to(centre(), RED), timeout=30_000)
            srv.set_file("/s/screen.json", json.dumps(image_doc(["blue.png"])).encode(), "application/json")
            controller.sync_now()
            qtbot.waitUntil(lambda: close_to(centre(), BLUE), timeout=30_000)
            assert controller.service is not None
            assert controller.service.last_outcome is not None and controller.service.last_outcome.ok
            assert controller.service.write_status(force=True) is False  # cannot write, says so, no exception
        finally:
            controller.stop()
            window._allow_close = True
        messages = [r.getMessage() for r in caplog.records]
        assert any("cannot" in m and str(state_dir) in m for m in messages), messages
        assert not any(r.exc_info or "unexpected" in r.getMessage() for r in caplog.records), messages
        filler.unlink()
        assert_cache_sound(config.cache_dir)


def test_a_picture_s_copy_for_the_screen_leaves_the_disk_s_last_share_free(tmp_path: Path) -> None:
    """Pictures scaled (and PDFs rendered) for their zone leave the disk's last 5 % free, as downloads do: a copy
    that would take some of it is removed and refused with one line, and the picture plays from its original."""
    import io

    from player.cache import ContentCache
    from player.layouts import load_screen_dict
    from player.prepare import build_resolver, prepare_files
    from screens import one_zone, photo_like

    screen = load_screen_dict(one_zone([{"type": "image", "src": "p.jpg", "fit": "cover"}], 800, 600), "t").screen
    buf = io.BytesIO()
    photo_like((2400, 1600)).save(buf, "JPEG", quality=90)
    with small_filesystem(tmp_path / "cache", 8) as cache_dir:
        cache = ContentCache(cache_dir, 10**12)
        sha = cache.put_bytes(buf.getvalue())
        keep = _room(cache_dir)[1]
        filler = fill(cache_dir, leave_bytes=keep + 20_000)  # 20 kB writable: less than the copy, which fits in keep
        prepared = prepare_files(cache, screen, {"p.jpg": sha})
        assert list(prepared.refused) == ["p.jpg"] and "no room on disk" in prepared.refused["p.jpg"], prepared
        assert _room(cache_dir)[0] > 0 and list(cache.tmp_dir.iterdir()) == []
        assert build_resolver(cache, screen, {"p.jpg": sha})("p.jpg") == cache.path_of(sha)
        filler.unlink()
        filler = fill(cache_dir, leave_bytes=20_000)  # the disk itself full: the partial copy is not left behind
        prepared = prepare_files(cache, screen, {"p.jpg": sha})
        assert list(prepared.refused) == ["p.jpg"] and list(cache.tmp_dir.iterdir()) == [], prepared
        filler.unlink()  # room again: the next sync makes the copy
        prepared = prepare_files(cache, screen, {"p.jpg": sha})
        assert prepared.refused == {} and prepared.created == 1


def test_a_pdf_page_refused_for_room_is_rendered_once_there_is_room(tmp_path: Path) -> None:
    """A timetable PDF whose page (rendered at sync for its zone) does not fit the disk's room is refused; once there
    is room, the next sync renders it and shows the snapshot again although the source is unchanged. Before, the
    timetable stayed blank until the source's content changed, also across restarts."""
    import io

    from player.content import Content
    from screens import photo_like

    buf = io.BytesIO()
    photo_like((1600, 900)).save(buf, "PDF", resolution=72)  # a page full of detail: its rendering is large
    with small_filesystem(tmp_path / "cache", 8) as cache_dir, FaultServer({"/s/plan.pdf": buf.getvalue()}) as srv:
        srv.set_file("/s/screen.json", json.dumps(image_doc(["plan.pdf"])).encode(), "application/json")
        config = load(write_config(tmp_path, srv.url("/s/screen.json"), cache_dir=cache_dir))
        published: list[Content] = []
        service = SyncService.from_config(config, on_published=published.append)
        try:
            service.recover()
            filler = fill(cache_dir, leave_bytes=_room(cache_dir)[1] + len(buf.getvalue()) + 200_000)
            assert service.sync_once().result == "published"
            assert published[-1].resolver("plan.pdf") is None  # refused: no room for the page
            assert service.sync_once().result == "unchanged" and len(published) == 1  # still no room: nothing new
            filler.unlink()
            assert service.sync_once().result == "unchanged"
            assert len(published) == 2, "the page was not rendered although there is room now"
            page = published[-1].resolver("plan.pdf")
            assert page is not None and page.is_file()
        finally:
            service.close()
