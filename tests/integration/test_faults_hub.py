"""Fault: the hub (Parse Server) is killed with SIGKILL in the middle of a sync of the hub source, then started
again. The old snapshot stays published and on screen, the cache stays sound, and the next sync publishes the new
content. Two moments: while the source asks the hub (after the first request of the sync), and while a picture is
being downloaded from the hub.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from faultkit import BLUE, assert_cache_sound, close_to, preview_rgb, solid_png
from hubserver import TestHub
from integration.test_player_hub import activate_with_red_slide, player_config
from player.snapshots import SnapshotStore
from player.sync import SyncProgress, SyncService

BIG_BLUE = solid_png(BLUE, (3000, 2400), noise_rows=900, seed=9)  # ~8 MB (noise on top, blue centre)


class KillingSession(requests.Session):
    """A real session that kills the hub right after the n-th request once armed (the request itself succeeds)."""

    def __init__(self, hub: TestHub) -> None:
        super().__init__()
        self.hub = hub
        self.armed_after: int | None = None
        self.killed = threading.Event()

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        resp = super().request(method, url, *args, **kwargs)
        if self.armed_after is not None and not self.killed.is_set():
            self.armed_after -= 1
            if self.armed_after <= 0:
                self.hub.kill()
                self.killed.set()
        return resp


@pytest.mark.parametrize("moment", ["asking", "downloading"])
def test_hub_killed_during_sync_old_content_stays_then_sync_completes(qapp, clean_hub: TestHub,  # noqa: ANN001
                                                                      tmp_path: Path, moment: str) -> None:
    hub = clean_hub
    config = player_config(hub, tmp_path, live_query=False, poll_s=600)
    config_path = tmp_path / "player.toml"
    killed = threading.Event()

    def on_progress(p: SyncProgress) -> None:  # on the download thread: the response for the picture has begun
        if moment == "downloading" and armed.is_set() and p.files_done == 0 and not killed.is_set():
            hub.kill()
            killed.set()

    armed = threading.Event()
    service = SyncService.from_config(config, on_progress=on_progress)
    session = KillingSession(hub)
    service.source.client.session = session  # type: ignore[attr-defined]
    try:
        service.recover()
        assert service.sync_once().result == "setup"  # registers the screen
        uuid = (tmp_path / "state" / "device-id").read_text().strip()
        activate_with_red_slide(hub, uuid)
        first = service.sync_once()
        assert first.result == "published" and first.snapshot_id, first
        service.mark_on_screen(first.snapshot_id)
        assert close_to(preview_rgb(config_path), (230, 0, 0))

        # the administrator replaces the picture by a big blue one
        (slide,) = hub.query("SteleDiashowObject")
        hub.rest("PUT", f"/classes/SteleDiashowObject/{slide['objectId']}",
                 {"file": hub.upload_file("blau.png", BIG_BLUE, "image/png")})
        if moment == "asking":
            session.armed_after = 1
        else:
            armed.set()
        outcome = service.sync_once()
        assert killed.is_set() or session.killed.is_set(), "the hub was not killed during the sync"
        assert not hub.running
        assert outcome.result == "failed", outcome
        store = SnapshotStore(config.cache_dir)
        assert store.current_id() == first.snapshot_id
        assert close_to(preview_rgb(config_path), (230, 0, 0))  # the old content is what the screen shows
        assert_cache_sound(config.cache_dir)

        hub.start()
        second = service.sync_once()
        assert second.result == "published" and second.snapshot_id != first.snapshot_id, second
        assert second.snapshot_id is not None
        service.mark_on_screen(second.snapshot_id)
        assert close_to(preview_rgb(config_path), BLUE)
        assert len(assert_cache_sound(config.cache_dir)) == 1
    finally:
        service.close()
        if not hub.running:
            hub.start()
