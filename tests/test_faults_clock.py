"""Fault: the wall clock jumps forwards and backwards by hours (NTP after a long offline time, a wrong RTC).

- The window re-resolves the schedule on each jump and always shows a picture (never a blank screen);
  tests/test_window_schedule.py checks one jump of a text layout, here it is a series of jumps with images.
- The sync loop's waits come from the backoff and the interval, never from the wall clock; ``next_sync`` follows
  the clock as it is. Snapshots published while the clock ran backwards (ids and times earlier than the previous
  snapshot's) are still the current one after a restart, and the cache stays sound.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pytestqt.qtbot import QtBot

from faultkit import BLUE, RED, assert_cache_sound, close_to, image_doc, load, solid_png, write_config
from player.cache import ContentCache
from player.clock import FakeClock
from player.fetch import Downloader
from player.layouts import load_screen_dict
from player.snapshots import SnapshotStore, snapshot_pin
from player.sources.http import HttpSource
from player.sync import SyncService
from screens import solid_image

try:
    from tests.httpfaults import FaultServer
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from httpfaults import FaultServer  # type: ignore[no-redef]

HOUR = 3600.0
START = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)  # 12:00 in Berlin


def day_night_doc() -> dict:
    def layout(src: str) -> dict:
        return {"width": 320, "height": 180, "background": "#000000",
                "zones": [{"id": "z", "x": 0, "y": 0, "width": 320, "height": 180,
                           "items": [{"type": "image", "src": src, "duration": 10}]}]}
    return {"version": 1, "layouts": {"day": layout("red.png"), "night": layout("blue.png")},
            "schedule": {"default": "day", "entries": [
                {"id": "n", "layout": "night", "times": [{"from": "22:00", "to": "06:00"}]}]}}


def test_window_keeps_showing_pictures_through_clock_jumps(qtbot: QtBot, tmp_path: Path) -> None:
    from player.ui.app import make_window

    red = solid_image(tmp_path / "red.png", RED)
    blue = solid_image(tmp_path / "blue.png", BLUE)
    files = {"red.png": red, "blue.png": blue}
    clock = FakeClock(START)
    config = load(write_config(tmp_path, "http://127.0.0.1:9/screen.json"))
    window = make_window(config, clock, (320, 180))
    window.setFixedSize(320, 180)
    qtbot.addWidget(window)
    window.show()
    window.show_screen(load_screen_dict(day_night_doc(), "s.json").screen, files.get)

    def centre() -> tuple[int, int, int]:
        c = window.grab().toImage().pixelColor(160, 90)
        return c.red(), c.green(), c.blue()

    def expect(colour: tuple[int, int, int]) -> None:
        qtbot.waitUntil(lambda: window.main is not None and all(s.has_first_frame for s in window._stages())
                        and close_to(centre(), colour), timeout=5000)

    expect(RED)
    # Berlin local times after each jump: 23:00, 13:00, 01:00, 10:00 (next day), 02:00 (previous day), 12:00
    for jump_h, colour in [(11, BLUE), (-10, RED), (12, BLUE), (9, RED), (-32, BLUE), (10, RED)]:
        clock.advance(jump_h * HOUR)
        window._check_clock_jump()
        expect(colour)
    window._allow_close = True


class JumpingWake(threading.Event):
    """Stands in for the sync loop's wake event: records each wait, then jumps the clock instead of waiting."""

    def __init__(self, service: SyncService, clock: FakeClock, jumps: list[float], stop: threading.Event) -> None:
        super().__init__()
        self.service, self.clock, self.jumps, self.stop = service, clock, list(jumps), stop
        self.waits: list[tuple[float, str]] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        outcome = self.service.last_outcome
        assert outcome is not None
        assert self.service.next_sync == self.clock.now() + timedelta(seconds=timeout)
        self.waits.append((timeout, outcome.result))
        self.clock.advance(self.jumps.pop(0))
        if not self.jumps:
            self.stop.set()
        return False


def test_sync_loop_and_snapshots_are_not_confused_by_clock_jumps(tmp_path: Path) -> None:
    red, blue = solid_png(RED), solid_png(BLUE)
    with FaultServer({"/s/red.png": red, "/s/blue.png": blue}) as srv:
        srv.set_file("/s/screen.json", json.dumps(image_doc(["red.png"])).encode(), "application/json")
        config = load(write_config(tmp_path, srv.url("/s/screen.json")))  # retry 1..4 s, interval 60 s
        clock = FakeClock(START)

        def service_for() -> SyncService:
            cache = ContentCache(config.cache_dir, 50_000_000)
            dl = Downloader(cache, retries=0)
            source = HttpSource(config["source"]["url"], dl)
            return SyncService(config, source, cache, dl, SnapshotStore(config.cache_dir), clock=clock)

        service = service_for()
        try:
            first = service.sync_once()
            assert first.result == "published" and first.snapshot_id
            service.mark_on_screen(first.snapshot_id)

            # the clock runs back by six hours; the document changes; then three failed attempts while the clock
            # keeps jumping both ways, and a success
            clock.advance(-6 * HOUR)
            srv.set_file("/s/screen.json", json.dumps(image_doc(["blue.png"])).encode(), "application/json")
            srv.fault("/s/screen.json", fail_next=3)
            stop = threading.Event()
            wake = JumpingWake(service, clock, [5 * HOUR, -9 * HOUR, 2 * HOUR, -1 * HOUR], stop)
            service._wake = wake
            service.run_forever(stop)
            results = [r for _, r in wake.waits]
            assert results == ["failed", "failed", "failed", "published"]
            for n, (delay, _) in enumerate(wake.waits[:3], start=1):
                base = min(4.0, 1.0 * 2 ** (n - 1))  # backoff by failures, whatever the clock did
                assert base / 2 <= delay <= base
            assert wake.waits[3][0] == 60.0
            second = service.last_outcome
            assert second is not None and second.snapshot_id
            service.mark_on_screen(second.snapshot_id)
            store = SnapshotStore(config.cache_dir)
            snaps = {s.id: s for s in store.load_all()}
            assert snaps[second.snapshot_id].created < snaps[first.snapshot_id].created  # made while the clock was back
        finally:
            service.close()

        # a restart: the current snapshot is the newer one by publication, not by its (earlier) timestamp
        service = service_for()
        try:
            service.recover()
            content = service.boot()
            assert content is not None and content.snapshot is not None
            assert content.snapshot.id == second.snapshot_id
            assert content.resolver("blue.png") is not None
            assert snapshot_pin(second.snapshot_id) in service.cache.pin_sets()
            assert service.sync_once().result == "unchanged"
        finally:
            service.close()
        assert set(assert_cache_sound(config.cache_dir)) == {"blue.png"}
