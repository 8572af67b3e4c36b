"""ContentController + PlayerWindow: boot from the last snapshot with the server gone, first sync, folder source."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from player.clock import FakeClock
from player.snapshots import SnapshotStore
from player.sources.folder_copy import copy_dir
from player.ui.app import make_window
from player.ui.runtime import ContentController, attach_content
from player.ui.screens import SetupInfo
from player.ui.window import PlayerWindow
from screens import one_zone, solid_image, write_screen
from test_sync import RED, make_env, screen_doc, write_config

try:
    from tests.httpfaults import FaultServer
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from httpfaults import FaultServer  # type: ignore[no-redef]

# Tomorrow 10:00 UTC: after every snapshot the sync writes during the test (a fixed date would fall behind them one
# day and the window would then distrust its clock), and a whole hour away from midnight.
AT = (datetime.now(UTC) + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)


def window_for(qtbot: QtBot, config) -> PlayerWindow:  # noqa: ANN001
    window = make_window(config, FakeClock(AT), (320, 180))
    window.setFixedSize(320, 180)
    qtbot.addWidget(window)
    window.show()
    return window


def first_frame(window: PlayerWindow) -> bool:
    return window.main is not None and all(s.has_first_frame for s in window._stages())


def center_pixel(window: PlayerWindow) -> QColor:
    image = window.grab().toImage()
    return image.pixelColor(image.width() // 2, image.height() // 2)


def close_enough(c: QColor, rgb: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 12 for a, b in zip((c.red(), c.green(), c.blue()), rgb, strict=True))


def test_boot_with_server_gone_shows_last_snapshot(qtbot: QtBot, tmp_path: Path) -> None:
    with FaultServer({"/s/media/red.png": RED}) as srv:
        srv.set_file("/s/screen.json", json.dumps(screen_doc(["media/red.png"])).encode(), "application/json")
        env = make_env(srv, tmp_path)
        assert env.service.sync_once().result == "published"
        env.close()
    # the server is gone now; a fresh player boots
    config = write_config(tmp_path, srv.url("/s/screen.json"))
    window = window_for(qtbot, config)
    with qtbot.waitSignal(window.first_frame, timeout=10_000):
        controller = attach_content(window, config)
    try:
        qtbot.waitUntil(lambda: first_frame(window), timeout=10_000)
        assert close_enough(center_pixel(window), (255, 0, 0))
        # the sync fails in the background; the screen keeps the snapshot
        failed: list[list[str]] = []
        controller.failed.connect(failed.append)
        controller.sync_now()
        qtbot.waitUntil(lambda: bool(failed), timeout=20_000)
        assert "127.0.0.1" in failed[0][0]
        assert close_enough(center_pixel(window), (255, 0, 0))
        store = SnapshotStore(config.cache_dir)
        qtbot.waitUntil(lambda: store.on_screen_id() == store.current_id(), timeout=5_000)
    finally:
        controller.stop()


def test_first_sync_shows_progress_then_content(qtbot: QtBot, tmp_path: Path) -> None:
    with FaultServer({"/s/media/red.png": RED}) as srv:
        srv.set_file("/s/screen.json", json.dumps(screen_doc(["media/red.png"])).encode(), "application/json")
        config = write_config(tmp_path, srv.url("/s/screen.json"))
        controller = ContentController(config)
        setups: list[SetupInfo] = []
        controller.setup_needed.connect(setups.append)
        progress: list[tuple[int, int]] = []
        controller.progress.connect(lambda d, t: progress.append((d, t)))
        try:
            with qtbot.waitSignal(controller.published, timeout=20_000) as blocker:
                controller.start()
            screen, resolver = blocker.args
            assert resolver.snapshot_id is not None
            assert resolver("media/red.png").read_bytes() == RED
            assert screen.media_refs() == {"media/red.png"}
            assert setups and setups[0].progress is None  # nothing cached yet: setup screen at once
            assert any(s.progress == (1, 1) for s in setups)
            assert progress[-1] == (1, 1)
            # bytes too, and the network state and the time of the source's answer (local time, German)
            last = next(s for s in reversed(setups) if s.progress == (1, 1))
            assert last.progress_bytes == (len(RED), len(RED))
            assert last.network == "verbunden"
            assert re.fullmatch(r"\d\d\.\d\d\.\d{4}, \d\d:\d\d Uhr", last.last_contact)
            assert last.detail.startswith("Inhalte werden geladen: 1 von 1 Dateien, 0,0 von 0,0 MB")
        finally:
            controller.stop()


def test_folder_source_is_loaded_off_thread_and_reloaded_on_request(qtbot: QtBot, tmp_path: Path) -> None:
    folder = tmp_path / "content"
    solid_image(folder / "blue.png", (0, 0, 255))
    write_screen(folder, one_zone([{"type": "image", "src": "blue.png"}]))
    config = write_config(tmp_path, source={"type": "folder", "path": str(folder)})
    controller = ContentController(config, folder=folder)
    try:
        with qtbot.waitSignal(controller.published, timeout=10_000) as blocker:
            controller.start()
        _screen, resolver = blocker.args
        # the folder's file, or already its copy (player/sources/folder_copy.py; both are the same picture)
        assert resolver("blue.png") in {(folder / "blue.png").resolve(),
                                        copy_dir(config.cache_dir, folder) / "blue.png"}
        assert resolver("missing.png") is None
        (folder / "screen.json").write_text("{broken", encoding="utf-8")
        with qtbot.waitSignal(controller.failed, timeout=10_000) as failed:
            controller.sync_now()
        assert "screen.json" in failed.args[0][0]
    finally:
        controller.stop()


def test_unknown_source_gives_one_clear_line(qtbot: QtBot, tmp_path: Path) -> None:
    config = write_config(tmp_path, source={"type": "http", "url": ""})
    controller = ContentController(config)
    try:
        with qtbot.waitSignal(controller.failed, timeout=5_000) as blocker:
            controller.start()
        assert blocker.args[0] == ["source.url is empty: set it to the http(s) address of screen.json "
                                   "(source.type = http)"]
    finally:
        controller.stop()
