"""Feeds on screen: the factory, the sample feed, the FeedHub (worker thread -> GUI thread), a restart without
network (last value, marked stale), and a severe warning becoming an overlay/interrupt and going away."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QThread

from player.clock import FakeClock
from player.feeds.base import Feed, FeedState
from player.feeds.departures import Departures
from player.feeds.factory import build_feeds
from player.feeds.sample import SampleError, SampleFeed, sample_value
from player.feeds.warnings import Warnings
from player.layouts import load_screen_dict
from player.model import EntryMode
from screens import DEMO_DIR
from test_widgets_screens import close, content_folder, render_folder

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 10:00 Berlin


# ------------------------------------------------------------------------------------------------- factory
def test_factory_builds_known_feeds_and_skips_bad_ones_with_one_line_each(caplog: pytest.LogCaptureFixture,
                                                                          tmp_path: Path) -> None:
    section = {
        "bus": {"type": "departures", "lat": 49.87, "lon": 8.65, "interval_s": 30},
        "nina": {"type": "warnings", "base_url": "http://127.0.0.1:9/api31", "regions": ["064110000000"],
                 "severe": "interrupt"},
        "news": {"type": "generic", "url": "http://127.0.0.1:9/news.json", "items": "/data",
                 "fields": {"title": "headline"}},
        "demo": {"type": "sample", "file": "data/departures.json"},
        "odd": {"type": "teletext"},
        "typo": {"type": "generic", "url": "http://127.0.0.1:9/x", "intervall_s": 5},
        "neg": {"type": "generic", "url": "http://127.0.0.1:9/x", "interval_s": -5},
        "str": {"type": "warnings", "base_url": "http://x", "regions": ["12"], "interval_s": "oft"},
        "ars": {"type": "warnings", "base_url": "http://x", "regions": ["12"]},
        "escape": {"type": "sample", "file": "../../etc/passwd"},
        "abs": {"type": "sample", "file": "/etc/passwd"},
        "notobj": 5,
    }
    with caplog.at_level(logging.WARNING, logger="player.feeds.factory"):
        built = build_feeds(section, client=None, content_dir=tmp_path)
    names = [f.name for f in built.feeds]
    assert names == ["nina", "news", "demo"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 9 == len(built.problems)  # 8 bad feeds, one line for the hub feed without a hub
    assert any("'odd'" in line and "unknown type" in line for line in lines)
    assert any("'typo'" in line and "intervall_s" in line for line in lines)
    assert any("'str'" in line and "interval_s" in line for line in lines)
    assert any("'escape'" in line and "inside the content folder" in line for line in lines)
    assert any("'bus'" in line and "hub" in line for line in lines)


def test_factory_with_a_hub_client_builds_hub_feeds() -> None:
    client = object()  # the feeds only keep it; nothing is fetched here
    built = build_feeds({"bus": {"type": "departures", "lat": 1, "lon": 2}, "wetter": {"type": "weather", "lat": 1,
                         "lon": 2}, "presse": {"type": "news"}, "termine": {"type": "events"},
                         "umwelt": {"type": "sensors", "stations": ["Rathaus"]}}, client=client)
    assert sorted(f.name for f in built.feeds) == ["bus", "presse", "termine", "umwelt", "wetter"]
    assert all(getattr(f, "client", None) is client for f in built.feeds)


# --------------------------------------------------------------------------------------------- sample feed
def test_sample_departures_count_down_on_the_wall_clock() -> None:
    doc = json.loads((DEMO_DIR / "data" / "departures.json").read_text(encoding="utf-8"))
    first = sample_value(doc, NOW)
    later = sample_value(doc, NOW + timedelta(minutes=3))
    assert isinstance(first, Departures) and first.stop_name == "Rathausplatz"
    assert len(first.departures) >= 10
    trip = next(d for d in first.departures if d.line == "3" and d.destination == "Hauptbahnhof")
    assert trip.planned == NOW + timedelta(minutes=2)  # every 10 min at :02 -> 10:02 Berlin
    assert trip in later.departures or trip.expected < NOW + timedelta(minutes=3)
    assert any(d.cancelled for d in sample_value(doc, NOW + timedelta(hours=2)).departures) or \
        any(d.cancelled for d in first.departures)


@pytest.mark.parametrize("name", ["departures", "weather", "news", "events", "sensors", "warnings"])
def test_every_demo_sample_gives_the_dataclass_of_the_real_feed(name: str) -> None:
    feed = SampleFeed(DEMO_DIR, f"data/{name}.json", name=name, clock=lambda: NOW)
    value = feed.fetch()
    assert type(value).__module__.startswith("player.feeds.")
    assert feed.from_json(json.loads(json.dumps(feed.to_json(value)))) == value  # persists like the real ones


def test_sample_files_must_stay_inside_the_folder(tmp_path: Path) -> None:
    outside = tmp_path / "secret.json"
    outside.write_text('{"kind": "generic", "items": [{"title": "geheim"}]}', encoding="utf-8")
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "link.json").symlink_to(outside)
    with pytest.raises(SampleError):
        SampleFeed(folder, "../secret.json")
    with pytest.raises(SampleError, match="inside the content folder"):
        SampleFeed(folder, "link.json").fetch()  # a symlink out of the folder is refused at read time
    with pytest.raises(SampleError, match="unknown sample kind"):
        sample_value({"kind": "lottery"}, NOW)


# -------------------------------------------------------------------------------------------------- hub
class _Counter(Feed[Any]):
    value_type = Warnings

    def __init__(self) -> None:
        super().__init__("count", interval_s=3600, timeout_s=1, stale_after_s=60)
        self.threads: list[str] = []

    def fetch(self) -> Any:
        self.threads.append(threading.current_thread().name)
        return Warnings(items=())


def test_feed_hub_delivers_worker_updates_on_the_gui_thread(qtbot: Any) -> None:
    from player.ui.live import FeedHub

    feed = _Counter()
    hub = FeedHub([feed], state_dir=None, clock=lambda: NOW)
    seen: list[tuple[str, bool]] = []
    gui = QThread.currentThread()

    def receiver(name: str, state: FeedState[Any]) -> None:
        seen.append((name, QThread.currentThread() is gui))

    hub.subscribe("count", receiver)
    with qtbot.waitSignal(hub.updated, timeout=5000):
        hub.start()
    hub.stop()
    assert seen and seen[0] == ("count", True)
    assert feed.threads and feed.threads[0] != threading.current_thread().name  # fetched off the GUI thread
    late: list[str] = []
    hub.subscribe("count", lambda name, state: late.append(name))
    assert late == ["count"]  # a new subscriber gets the current state at once


# -------------------------------------------------------------------------------------------- restart
class _Handler(BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_args: Any) -> None:
        pass


def test_restart_without_network_shows_the_saved_value_marked_stale(tmp_path: Path, qapp: Any) -> None:
    _Handler.body = json.dumps({"data": [{"headline": "Rathaus heute ab 12 Uhr geschlossen"}]}).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/news.json"
    doc = {"version": 1, "feeds": {"presse": {"type": "generic", "url": url, "items": "/data",
                                              "fields": {"title": "headline"}, "stale_after_s": 600,
                                              "timeout_s": 2}},
           "layouts": {"main": {"width": 800, "height": 600, "zones": [
               {"id": "z", "x": 0, "y": 0, "width": 800, "height": 600, "items": [
                   {"type": "widget", "id": "liste", "widget": "news", "feed": "presse", "duration": 60}]}]}}}
    folder = content_folder(tmp_path / "screen", doc)
    state = tmp_path / "state"
    from player.ui.live import FeedHub
    from player.ui.widgets.base import LiveWidget

    try:  # first boot, network up: the value is fetched and saved
        built = build_feeds(doc["feeds"], content_dir=folder, clock=lambda: NOW)
        first = FeedHub(built.feeds, state_dir=state / "feeds", clock=lambda: NOW)
        first.refresh_sync(persist=True)
        assert first.state("presse").error is None
    finally:
        server.shutdown()
        server.server_close()
    assert (state / "feeds" / "feed-presse.json").is_file()
    # second boot, 40 minutes later, nothing answers on that port any more
    _, window = render_folder(folder, (800, 600), at=NOW + timedelta(minutes=40), state_dir=state)
    try:
        texts = [run.text for view in window.findChildren(LiveWidget) for run in view.runs]
        assert "Rathaus heute ab 12 Uhr geschlossen" in " ".join(texts)
        assert "Stand: 10:00" in texts
    finally:
        close(window)


# ------------------------------------------------------------------------------------------ warnings
def _warning_doc(severity: str, mode: str, expires_in: int = 60) -> dict[str, Any]:
    return {"kind": "warnings", "items": [{"id": "w1", "severity": severity, "headline": "Unwetter: Orkanböen",
                                           "description": "Orkanartige Böen um 110 km/h.", "provider": "DWD",
                                           "instruction": "Bleiben Sie in Gebäuden.", "expires_in_min": expires_in}]}


@pytest.mark.parametrize("mode", ["overlay", "interrupt"])
def test_severe_warning_becomes_overlay_or_interrupt_and_goes_away(tmp_path: Path, qtbot: Any, mode: str) -> None:
    folder = tmp_path / "screen"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "warn.json").write_text(json.dumps(_warning_doc("Severe", mode)), encoding="utf-8")
    doc = {"version": 1, "feeds": {"nina": {"type": "sample", "file": "data/warn.json", "severe": mode}},
           "layouts": {"main": {"width": 1920, "height": 1080, "background": "#123456", "zones": []}}}
    (folder / "screen.json").write_text(json.dumps(doc), encoding="utf-8")
    from player.config import load_config
    from player.ui.app import make_window, wait_until
    from player.ui.live import attach_feeds

    clock = FakeClock(NOW)
    config = load_config(env={}, overrides={"player": {"state_dir": str(tmp_path / "state")}})
    window = make_window(config, clock, (1920, 1080))
    window.setFixedSize(1920, 1080)
    window.show()
    screen = load_screen_dict(doc, "screen.json").screen
    attach_feeds(window, screen, config, folder, sync=True)
    window.show_screen(screen, lambda _r: None)
    try:
        entries = window.extra_entries
        assert len(entries) == 1 and entries[0].mode == EntryMode(mode)
        if mode == "overlay":
            assert wait_until(lambda: len(window.overlays) == 1, 3000)
            stage = window.overlays[0]
        else:
            assert wait_until(lambda: window.interrupt is not None, 3000)
            stage = window.interrupt
        image = window.grab().toImage()
        view = stage.zones[0].current
        assert view is not None and "Unwetter: Orkanböen" in [r.text for r in view.runs]
        top = image.pixelColor(960, 5)
        assert top.red() > 150 and top.green() < 80  # the red of a severe warning across the top
        # the warning is withdrawn: the next fetch has no severe warning -> the entry goes away
        (folder / "data" / "warn.json").write_text(json.dumps(_warning_doc("Minor", mode)), encoding="utf-8")
        hub = window.ctx.extras["feeds"]
        hub.refresh_sync()
        assert window.extra_entries == ()
        assert wait_until(lambda: not window.overlays and window.interrupt is None, 3000)
    finally:
        close(window)


def test_severe_warning_expires_by_itself(tmp_path: Path, qtbot: Any) -> None:
    folder = tmp_path / "screen"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "warn.json").write_text(json.dumps(_warning_doc("Extreme", "overlay", 1)), encoding="utf-8")
    doc = {"version": 1, "feeds": {"nina": {"type": "sample", "file": "data/warn.json"}},
           "layouts": {"main": {"width": 1920, "height": 1080, "zones": []}}}
    from player.config import load_config
    from player.ui.app import make_window
    from player.ui.live import attach_feeds

    clock = FakeClock(NOW)
    config = load_config(env={}, overrides={"player": {"state_dir": str(tmp_path / "state")}})
    window = make_window(config, clock, (960, 540))
    screen = load_screen_dict(doc, "screen.json").screen
    attach_feeds(window, screen, config, folder, sync=True)
    window.show_screen(screen, lambda _r: None)
    try:
        assert len(window.extra_entries) == 1
        watch = window.ctx.extras["severe_warnings"]
        assert 0 < watch._expiry.remainingTime() <= 60_100  # armed for the expiry, not polling
        clock.advance(61)
        watch.reevaluate()
        assert window.extra_entries == ()
    finally:
        close(window)
