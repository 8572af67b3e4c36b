"""Fault: cache files damaged on disk between two runs (a flipped byte, a truncated file, a deleted file, a
corrupt index.sqlite). The next start detects the damage, fetches what is needed again and shows the content;
afterwards nothing in the cache is corrupt.

tests/test_cache.py covers ContentCache.verify/check_consistency on their own; this is the whole start-up path
(ContentController: recover, boot, sync) with the window showing the result.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from faultkit import BLUE, GREEN, RED, assert_cache_sound, close_to, image_doc, load, solid_png, write_config
from player.snapshots import SnapshotStore
from player.sync import SyncService

try:
    from tests.httpfaults import FaultServer
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from httpfaults import FaultServer  # type: ignore[no-redef]

FILES = {"/s/a.png": solid_png(RED, seed=1), "/s/b.png": solid_png(GREEN), "/s/c.png": solid_png(BLUE)}
REFS = ["a.png", "b.png", "c.png"]


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 8):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(os.path.getsize(path) // 2)


def delete(path: Path) -> None:
    path.unlink()


def corrupt_index(cache_dir: Path) -> None:
    index = cache_dir / "index.sqlite"
    with open(index, "r+b") as fh:
        fh.write(os.urandom(4096))


DAMAGE: dict[str, Callable[[Path], None]] = {"flipped": flip, "truncated": truncate, "deleted": delete}


def _start_and_show(qtbot: QtBot, config_path: Path) -> None:
    """A fresh player start (recover, boot, sync) in a window; waits until the first picture (red) is on screen."""
    from player.clock import SystemClock
    from player.ui.app import make_window
    from player.ui.runtime import attach_content

    config = load(config_path)
    window = make_window(config, SystemClock(), (320, 180))
    window.setFixedSize(320, 180)
    qtbot.addWidget(window)
    window.show()
    controller = attach_content(window, config)

    def red_on_screen() -> bool:
        if window.main is None or not all(s.has_first_frame for s in window._stages()):
            return False
        c = window.grab().toImage().pixelColor(160, 90)
        return close_to((c.red(), c.green(), c.blue()), RED)

    try:
        qtbot.waitUntil(red_on_screen, timeout=30_000)
        store = SnapshotStore(config.cache_dir)
        # the sync after boot has run (and repaired what boot could not show) before we look at the cache
        qtbot.waitUntil(lambda: controller.service is not None and controller.service.last_outcome is not None,
                        timeout=30_000)
        assert controller.service is not None and controller.service.last_outcome is not None
        assert controller.service.last_outcome.ok, controller.service.last_outcome
        qtbot.waitUntil(lambda: store.on_screen_id() == store.current_id(), timeout=10_000)
    finally:
        controller.stop()
        window._allow_close = True


@pytest.mark.parametrize("damage", [*DAMAGE, "index", "all"])
def test_damaged_cache_is_detected_refetched_and_shown(qtbot: QtBot, tmp_path: Path, damage: str) -> None:
    with FaultServer(FILES) as srv:
        srv.set_file("/s/screen.json", json.dumps(image_doc(REFS)).encode(), "application/json")
        config_path = write_config(tmp_path, srv.url("/s/screen.json"))
        config = load(config_path)
        service = SyncService.from_config(config)
        try:
            service.recover()
            outcome = service.sync_once()
            assert outcome.result == "published" and outcome.snapshot_id
            service.mark_on_screen(outcome.snapshot_id)
        finally:
            service.close()
        files = assert_cache_sound(config.cache_dir)

        # between the runs: damage
        cached = {ref: config.cache_dir / "files" / sha[:2] / sha for ref, sha in files.items()}
        if damage in DAMAGE:
            DAMAGE[damage](cached["a.png"])
            damaged = ["a.png"]
        elif damage == "index":
            corrupt_index(config.cache_dir)
            damaged = []
        else:
            flip(cached["a.png"])
            truncate(cached["b.png"])
            delete(cached["c.png"])
            corrupt_index(config.cache_dir)
            damaged = REFS
        before = {ref: srv.count(f"/s/{ref}", status=200) for ref in REFS}

        _start_and_show(qtbot, config_path)

        after = assert_cache_sound(config.cache_dir)
        assert after == files  # the same content again, complete and verified
        refetched = [ref for ref in REFS if srv.count(f"/s/{ref}", status=200) > before[ref]]
        assert refetched == damaged
        if damage == "index":
            assert list(config.cache_dir.glob("index.corrupt-*.sqlite")), "the damaged index was not set aside"
