"""Hub faults against the REAL Parse Server: HTTP 500, invalid JSON, a 50 MB body, a hub that never answers, a file
URL redirecting to another host, and pointers to deleted objects — through the real player sync
(player/sync.py + player/sources/parse_hub.py).

The faults come from the fault switch in front of Parse Server (tests/hub/server.js, ``TestHub.fault``); it only
touches requests without the master key, i.e. the player's, never the test's own administrator calls.
Each case: the last good snapshot stays published and on screen, the retries reach the hub (counted by the
switch) but the incident is ONE log line, and once the hub is healthy the next sync publishes the change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from faultkit import BLUE, close_to, preview_rgb, solid_png
from httpfaults import AnswerServer
from hubserver import TestHub
from integration.test_hub_source import make, pointer, relate
from integration.test_player_hub import activate_with_red_slide, player_config
from player.snapshots import SnapshotStore
from player.sync import SyncService

RED = (230, 0, 0)
REST = "^/(batch|classes|functions|login|users)"  # the player's REST calls (not the file downloads)


@dataclass
class Screen:
    hub: TestHub
    service: SyncService
    config: Any
    config_path: Path
    first: str  # the snapshot on screen before the fault

    def on_screen(self) -> tuple[int, int, int]:
        return preview_rgb(self.config_path)

    def current(self) -> str | None:
        return SnapshotStore(self.config.cache_dir).current_id()


def start_screen(hub: TestHub, tmp_path: Path, **config: Any) -> Screen:
    """A player sync (no LiveQuery, long poll: only the test drives it) showing a red slide from the hub."""
    cfg = player_config(hub, tmp_path, live_query=False, poll_s=600)
    if config:
        cfg["hub"].update(config)
    service = SyncService.from_config(cfg)
    service.source.client.timeout = (2, 2)  # type: ignore[attr-defined]  # "never answers" = 2 s here
    service.recover()
    assert service.sync_once().result == "setup"  # registers the screen
    activate_with_red_slide(hub, (tmp_path / "state" / "device-id").read_text().strip())
    first = service.sync_once()
    assert first.result == "published" and first.snapshot_id, first
    service.mark_on_screen(first.snapshot_id)
    screen = Screen(hub, service, cfg, tmp_path / "player.toml", first.snapshot_id)
    assert close_to(screen.on_screen(), RED)
    return screen


@pytest.fixture
def screen(clean_hub: TestHub, tmp_path: Path) -> Iterator[Screen]:
    s = start_screen(clean_hub, tmp_path)
    try:
        yield s
    finally:
        s.service.close()
        clean_hub.clear_faults()


def replace_slide_by_blue(hub: TestHub) -> None:
    (slide,) = hub.query("SteleDiashowObject")
    hub.rest("PUT", f"/classes/SteleDiashowObject/{slide['objectId']}",
             {"file": hub.upload_file("blau.png", solid_png(BLUE), "image/png")})


def problem_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("player")]


@pytest.mark.parametrize(("mode", "options", "words"), [
    ("status", {"status": 500}, "HTTP 500"),
    ("badjson", {}, "JSON"),
    ("huge", {"bytes": 50 * 1024 * 1024}, "limit"),
    ("hang", {}, "no answer in time"),
], ids=["http-500", "invalid-json", "50-MB-body", "never-answers"])
def test_hub_fault_keeps_last_good_content_one_line_per_incident(screen: Screen, caplog: pytest.LogCaptureFixture,
                                                                  mode: str, options: dict[str, Any],
                                                                  words: str) -> None:
    hub = screen.hub
    replace_slide_by_blue(hub)  # an administrator's change is waiting, but the hub breaks down
    hub.fault(mode, path=REST, **options)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        for attempt in range(3):  # the sync loop's retries (with backoff in run_forever)
            outcome = screen.service.sync_once()
            assert outcome.result == "failed", (attempt, outcome)
            assert words in outcome.message and hub.url in outcome.message, outcome.message
            assert "\n" not in outcome.message
    assert hub.fault_hits() >= 3  # every retry really reached the (broken) hub
    assert screen.current() == screen.first  # the last good snapshot stays published ...
    assert close_to(screen.on_screen(), RED)  # ... and on screen
    lines = problem_lines(caplog)
    assert len(lines) == 1 and words in lines[0], lines  # one line for the incident, not one per retry

    hub.clear_faults()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        healed = screen.service.sync_once()
    assert healed.result == "published", healed
    assert healed.snapshot_id is not None
    screen.service.mark_on_screen(healed.snapshot_id)
    assert close_to(screen.on_screen(), BLUE)
    assert any("working again" in r.getMessage() for r in caplog.records)


def test_fault_on_the_file_download_keeps_last_good_content(screen: Screen, caplog: pytest.LogCaptureFixture) -> None:
    hub = screen.hub
    replace_slide_by_blue(hub)
    hub.fault("status", status=503, path="^/files/")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        for _ in range(2):
            assert screen.service.sync_once().result == "failed"
    assert hub.fault_hits() >= 2
    assert screen.current() == screen.first and close_to(screen.on_screen(), RED)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and all("503" in e or "could not be downloaded" in e for e in errors), errors
    assert len({e for e in errors}) == len(errors) <= 2  # the incident's lines once, not again per retry
    hub.clear_faults()
    assert screen.service.sync_once().result == "published"


# ------------------------------------------------------------------------------------------------ redirects
def _other_host() -> AnswerServer:
    """Another "host" (localhost, another port) that would serve a picture."""
    return AnswerServer(lambda _path: (200, {"Content-Type": "image/png"}, solid_png(BLUE)))


def test_hub_file_redirecting_to_another_host_is_refused(screen: Screen, caplog: pytest.LogCaptureFixture) -> None:
    hub = screen.hub
    other = _other_host()
    try:
        replace_slide_by_blue(hub)
        # the hub's own file URL answers 302 to "localhost:<other port>" — not the hub's host (127.0.0.1)
        hub.fault("redirect", path="^/files/", location=f"http://localhost:{other.port}/{{path}}")
        caplog.clear()
        with caplog.at_level(logging.INFO):
            for _ in range(2):
                outcome = screen.service.sync_once()
                assert outcome.result == "failed", outcome
        assert other.hits == []  # the other host was never asked
        assert screen.current() == screen.first and close_to(screen.on_screen(), RED)
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        refused = [e for e in errors if "localhost" in e and "allowed_file_hosts" in e]
        assert len(refused) == 1, errors  # one clear line naming the host and the setting
    finally:
        other.close()


def test_redirect_to_an_allowed_host_is_followed(clean_hub: TestHub, tmp_path: Path) -> None:
    other = _other_host()
    screen = start_screen(clean_hub, tmp_path, allowed_file_hosts=["localhost"])
    try:
        replace_slide_by_blue(clean_hub)
        clean_hub.fault("redirect", path="^/files/", location=f"http://localhost:{other.port}/{{path}}")
        outcome = screen.service.sync_once()
        assert outcome.result == "published", outcome
        assert other.hits
        assert outcome.snapshot_id is not None
        screen.service.mark_on_screen(outcome.snapshot_id)
        assert close_to(screen.on_screen(), BLUE)
    finally:
        screen.service.close()
        clean_hub.clear_faults()
        other.close()


# ------------------------------------------------------------------------------------------------ deleted pointers
def test_deleted_diashow_config_keeps_last_good_content(screen: Screen, caplog: pytest.LogCaptureFixture) -> None:
    hub = screen.hub
    (dia,) = hub.query("SteleDiashowConfig")
    hub.rest("DELETE", f"/classes/SteleDiashowConfig/{dia['objectId']}")  # the layout config still points to it
    caplog.clear()
    with caplog.at_level(logging.INFO):
        for _ in range(2):
            outcome = screen.service.sync_once()
            assert outcome.result == "failed", outcome
            assert "deleted" in outcome.message and dia["objectId"] in outcome.message
    assert screen.current() == screen.first and close_to(screen.on_screen(), RED)  # not blanked
    assert len(problem_lines(caplog)) == 1

    # the administrator points the config to a new slideshow: shown
    blue = make(hub, "SteleDiashowObject", {"file": hub.upload_file("blau.png", solid_png(BLUE), "image/png"),
                                            "duration": 30, "startDate": {"__type": "Date", "iso": "2020-01-01T00:00:00Z"},
                                            "endDate": {"__type": "Date", "iso": "2040-01-01T00:00:00Z"}})
    new_dia = make(hub, "SteleDiashowConfig", {"name": "Neu"})
    relate(hub, "SteleDiashowConfig", new_dia, "diashowObjects", "SteleDiashowObject", [blue])
    (cfg,) = hub.query("SteleLayoutConfig")
    hub.rest("PUT", f"/classes/SteleLayoutConfig/{cfg['objectId']}",
             {"diashowConfig": pointer("SteleDiashowConfig", new_dia)})
    healed = screen.service.sync_once()
    assert healed.result == "published" and healed.snapshot_id is not None, healed
    screen.service.mark_on_screen(healed.snapshot_id)
    assert close_to(screen.on_screen(), BLUE)


def test_deleted_layout_config_and_slide_keep_the_screen_working(screen: Screen) -> None:
    hub = screen.hub
    # a slide object deleted (its relation entry dangles): the rest is published, nothing crashes
    extra = make(hub, "SteleDiashowObject", {"file": hub.upload_file("blau.png", solid_png(BLUE), "image/png"),
                                             "duration": 5, "startDate": {"__type": "Date", "iso": "2020-01-01T00:00:00Z"},
                                             "endDate": {"__type": "Date", "iso": "2040-01-01T00:00:00Z"}})
    (dia,) = hub.query("SteleDiashowConfig")
    relate(hub, "SteleDiashowConfig", dia["objectId"], "diashowObjects", "SteleDiashowObject", [extra])
    two = screen.service.sync_once()
    assert two.result == "published", two
    hub.rest("DELETE", f"/classes/SteleDiashowObject/{extra}")
    one = screen.service.sync_once()
    assert one.result == "published", one
    snap = SnapshotStore(screen.config.cache_dir).load_current()
    assert snap is not None and len(snap.document["layouts"]["main"]["zones"][0]["items"]) == 1

    # the layout config itself deleted: the screen says "not configured", the last content stays published
    (cfg,) = hub.query("SteleLayoutConfig")
    hub.rest("DELETE", f"/classes/SteleLayoutConfig/{cfg['objectId']}")
    outcome = screen.service.sync_once()
    assert outcome.result == "setup" and "Layout-Konfiguration" in outcome.message, outcome
    assert screen.current() == one.snapshot_id
