"""Fault: the HTTP server is killed (SIGKILL, sockets reset) in the middle of a sync and started again.

The old snapshot stays published and on screen, the cache stays sound, and the sync loop publishes the new content
by itself once the server is back (resuming the interrupted download). tests/test_sync.py covers dropped
connections and 500s from a live server; this is the server process dying.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from faultkit import (
    BLUE,
    RED,
    ServerProcess,
    assert_cache_sound,
    close_to,
    image_doc,
    load,
    preview_rgb,
    solid_png,
    wait_for,
    write_config,
)
from player.snapshots import SnapshotStore
from player.sync import Content, SyncProgress, SyncService

BLOCK_AT = 200_000


def _write_site(root: Path, doc_srcs: list[str]) -> None:
    import json

    root.mkdir(parents=True, exist_ok=True)
    (root / "red.png").write_bytes(solid_png(RED))
    # big enough that the body is still being sent when the server dies; the centre stays solid blue
    (root / "blue.png").write_bytes(solid_png(BLUE, (800, 600), noise_rows=300, seed=1))
    (root / "screen.json").write_text(json.dumps(image_doc(doc_srcs)), encoding="utf-8")


def test_server_killed_mid_download_old_snapshot_stays_then_sync_completes(qapp, tmp_path: Path,  # noqa: ANN001
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "site"
    _write_site(root, ["red.png"])
    assert (root / "blue.png").stat().st_size > 2 * BLOCK_AT
    server = ServerProcess(root).start()
    published: list[Content] = []
    errors: list[list[str]] = []
    progress: list[SyncProgress] = []
    got_published = threading.Condition()

    def on_published(content: Content) -> None:
        with got_published:
            published.append(content)
            got_published.notify_all()

    try:
        config_path = write_config(tmp_path, server.url("/screen.json"))
        config = load(config_path)
        service = SyncService.from_config(config, on_published=on_published, on_error=errors.append,
                                          on_progress=progress.append)
        service.recover()
        stop = threading.Event()
        loop = threading.Thread(target=service.run_forever, args=(stop,), daemon=True)
        loop.start()
        try:
            with got_published:
                assert got_published.wait_for(lambda: len(published) == 1, 30)
            first = published[0].snapshot
            assert first is not None
            service.mark_on_screen(first.id)
            assert close_to(preview_rgb(config_path), RED)

            # the document changes to a big picture; the server stops sending after BLOCK_AT bytes of it ...
            server.kill()
            _write_site(root, ["blue.png"])
            server.start({"/blue.png": {"block_after": BLOCK_AT}})
            progress.clear()
            caplog.set_level(logging.INFO)
            service.wake()
            # the response has begun (progress is throttled, so bytes may not show; the server cannot get past
            # BLOCK_AT, so the body is certainly unfinished when it dies)
            wait_for(lambda: any(p.files_total == 1 and p.files_done == 0 for p in progress),
                     30, "the download of blue.png to start")
            # ... and dies mid-body (the kernel resets its sockets)
            n_errors = len(errors)
            server.kill()
            wait_for(lambda: len(errors) > n_errors, 60, "the sync to fail")
            assert service.last_outcome is not None and service.last_outcome.result == "failed"
            store = SnapshotStore(config.cache_dir)
            assert store.current_id() == first.id and len(published) == 1
            assert close_to(preview_rgb(config_path), RED)  # the old content is still what the screen shows
            assert_cache_sound(config.cache_dir)
            assert list((config.cache_dir / "tmp").glob("*.part")), "the partial download was not kept"

            # the server comes back on the same port; the loop retries by itself (backoff) and completes
            server.start({})
            with got_published:
                assert got_published.wait_for(lambda: len(published) == 2, 60)
            second = published[1].snapshot
            assert second is not None and second.id != first.id
            service.mark_on_screen(second.id)
            assert store.current_id() == second.id
            assert close_to(preview_rgb(config_path), BLUE)
            files = assert_cache_sound(config.cache_dir)
            assert set(files) == {"blue.png"}
            assert any("resuming" in r.getMessage() and "blue.png" in r.getMessage() for r in caplog.records)
            assert not list((config.cache_dir / "tmp").glob("*.part"))
        finally:
            service.stop()
            loop.join(30)
            service.close()
    finally:
        server.kill()
