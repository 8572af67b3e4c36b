"""The whole player against the real hub: setup screen on first start, content on screen by itself once an
administrator activates the screen (pushed by LiveQuery, or found by polling), status row written, and the last
snapshot shown when the hub is gone at the next start."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from pathlib import Path
from typing import Any

import pytest

from hubserver import TestHub
from integration.test_hub_source import make, png, relate
from player.config import load_config
from player.parse_rest import parse_date, pointer
from player.system.display_power import NullDisplayPower, PowerSchedule
from player.ui.app import attach_reporting, make_window
from player.ui.power import DisplayPowerController
from player.ui.runtime import attach_content

log = logging.getLogger(__name__)
RED_PNG = png(64, 36, (230, 0, 0))


def player_config(hub: TestHub, tmp_path: Path, live_query: bool, poll_s: int) -> Any:
    secrets = tmp_path / "hub-secrets.toml"
    secrets.write_text(f'rest_key = "{hub.rest_key}"\n')
    secrets.chmod(0o600)
    toml = tmp_path / "player.toml"
    toml.write_text(f"""
[player]
state_dir = "{tmp_path / 'state'}"
cache_dir = "{tmp_path / 'cache'}"
city = "Teststadt"
[source]
type = "hub"
[hub]
url = "{hub.url}"
app_id = "{hub.app_id}"
secrets_file = "{secrets}"
live_query = {'true' if live_query else 'false'}
poll_interval_s = {poll_s}
[report]
status_interval_s = 1
""")
    config = load_config(toml, env={})
    assert config.problems == ()
    return config


def start_player(qtbot, config: Any):  # noqa: ANN001, ANN201
    from player.clock import SystemClock

    window = make_window(config, SystemClock(), (480, 270))
    qtbot.addWidget(window)
    window.show()
    power = DisplayPowerController(window, PowerSchedule(None), NullDisplayPower(), SystemClock(),
                                   window.ctx.timezone, window.ctx.bridge)
    controller = attach_content(window, config, folder=None)
    reporting = attach_reporting(config, window, controller, power)
    return window, controller, reporting


def activate_with_red_slide(hub: TestHub, uuid: str) -> None:
    slide = make(hub, "SteleDiashowObject", {"file": hub.upload_file("rot.png", RED_PNG, "image/png"),
                                            "duration": 30, "startDate": parse_date_str("2020-01-01T00:00:00Z"),
                                            "endDate": parse_date_str("2040-01-01T00:00:00Z")})
    dia = make(hub, "SteleDiashowConfig", {"name": "Dias"})
    relate(hub, "SteleDiashowConfig", dia, "diashowObjects", "SteleDiashowObject", [slide])
    cfg = make(hub, "SteleLayoutConfig", {"name": "Test", "showHeader": False, "showFooter": False,
                                          "diashowConfig": pointer("SteleDiashowConfig", dia)})
    state = make(hub, "SteleScreenState", {"name": "Aktiv"})
    kind = make(hub, "SteleLayoutType", {"name": "Diashow"})
    (row,) = hub.query("SteleScreen", {"uuid": uuid})
    hub.rest("PUT", f"/classes/SteleScreen/{row['objectId']}", {
        "state": pointer("SteleScreenState", state), "layoutType": pointer("SteleLayoutType", kind),
        "layoutConfig": pointer("SteleLayoutConfig", cfg)})


def parse_date_str(iso: str) -> dict[str, str]:
    from datetime import datetime

    return parse_date(datetime.fromisoformat(iso.replace("Z", "+00:00")))


def red_on_screen(window) -> bool:  # noqa: ANN001
    if window.main is None:
        return False
    c = window.grab().toImage().pixelColor(240, 135)
    return c.red() > 200 and c.green() < 40 and c.blue() < 40


@pytest.mark.parametrize(("live_query", "poll_s"), [(True, 600), (False, 1)], ids=["livequery", "polling"])
def test_setup_screen_then_content_after_activation(qtbot, clean_hub: TestHub, tmp_path: Path,
                                                    live_query: bool, poll_s: int) -> None:
    config = player_config(clean_hub, tmp_path, live_query, poll_s)
    window, controller, reporting = start_player(qtbot, config)
    try:
        # first start: the screen registers itself and shows the setup screen with its name and id
        qtbot.waitUntil(lambda: window.message.isVisible() and "eingerichtet" in window.message.title, timeout=20000)
        id_file = tmp_path / "state" / "device-id"
        qtbot.waitUntil(id_file.exists, timeout=20000)
        uuid = id_file.read_text().strip()
        qtbot.waitUntil(lambda: len(clean_hub.query("SteleScreen", {"uuid": uuid})) == 1, timeout=20000)
        (row,) = clean_hub.query("SteleScreen", {"uuid": uuid})
        # the hub answered: the setup screen says so, with the time of its last answer in local time
        qtbot.waitUntil(lambda: "Netzwerk: verbunden" in window.message.lines, timeout=20000)
        assert any(row["name"] in line for line in window.message.lines)
        assert window.message.qr_data == uuid
        assert any(re.fullmatch(r"Letzter Kontakt: \d\d\.\d\d\.\d{4}, \d\d:\d\d Uhr", line)
                   for line in window.message.lines), window.message.lines
        if live_query:  # give the push channel time to subscribe before the administrator acts
            time.sleep(1.0)
        t0 = time.monotonic()
        activate_with_red_slide(clean_hub, uuid)
        qtbot.waitUntil(lambda: red_on_screen(window), timeout=20000)
        took = time.monotonic() - t0
        log.warning("hub change -> on screen (%s): %.2f s", "LiveQuery" if live_query else f"polling {poll_s}s", took)
        print(f"\nhub change -> content on screen ({'LiveQuery' if live_query else 'polling'}): {took:.2f} s")
        assert not window.message.isVisible()
        # the status row of this screen appears (one row per screen), with the cache use and the last sync result
        qtbot.waitUntil(lambda: len(clean_hub.query("SteleScreenStatus", {"uuid": uuid})) == 1, timeout=20000)

        def status_row() -> dict[str, Any]:
            (status,) = clean_hub.query("SteleScreenStatus", {"uuid": uuid})
            return status

        qtbot.waitUntil(lambda: status_row().get("cacheBytes", 0) >= len(RED_PNG) and
                        status_row().get("lastSync", {}).get("result") in ("published", "unchanged"), timeout=20000)
        last = status_row()["lastSync"]
        assert last["ok"] is True and last["at"] and last["lastContact"]
        # proof of play: the red slide's play, with the hash of the file that was shown
        assert reporting is not None
        qtbot.waitUntil(lambda: reporting.reporting is not None, timeout=20000)
        reporting.reporting.proof.close_all()  # the play on screen ends now (else only after its 30 s)
        reporting.reporting.loop.wake()
        qtbot.waitUntil(lambda: bool(clean_hub.query("SteleProofOfPlay", {"screenUuid": uuid})), timeout=20000)
        plays = clean_hub.query("SteleProofOfPlay", {"screenUuid": uuid})
        assert {p.get("fileHash") for p in plays} == {hashlib.sha256(RED_PNG).hexdigest()}, plays
    finally:
        if reporting is not None:
            reporting.stop()
        controller.stop()
        window._allow_close = True

    # next start with the hub gone: the last snapshot is on screen at once, no setup screen
    clean_hub.stop()
    try:
        window2, controller2, reporting2 = start_player(qtbot, config)
        try:
            qtbot.waitUntil(lambda: red_on_screen(window2), timeout=20000)
            assert not window2.message.isVisible()  # the failed sync (hub gone) never covers the content
            qtbot.wait(1500)  # a retry fails again meanwhile
            assert red_on_screen(window2) and not window2.message.isVisible()
        finally:
            if reporting2 is not None:
                reporting2.stop()
            controller2.stop()
            window2._allow_close = True
    finally:
        clean_hub.start()
