"""The display power schedule from the real hub (SteleScreen.displaySchedule extension): a playing screen goes dark
when an administrator sets a schedule that says "off now", and comes back with player.toml's schedule (here: always
on) when the field is deleted again. The display is switched through a fake `xset` that records its calls."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hubserver import TestHub
from integration.test_player_hub import activate_with_red_slide, player_config, red_on_screen
from player.clock import SystemClock
from player.system.display_power import PowerSchedule, XsetDisplayPower
from player.ui.app import follow_power_schedule, make_window
from player.ui.power import DisplayPowerController
from player.ui.runtime import attach_content


def fake_xset(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "xset.log"
    exe = tmp_path / "bin" / "xset"
    exe.parent.mkdir()
    exe.write_text(f'#!/bin/sh\necho "$@" >> {log}\n[ "$1" = q ] && echo "  Monitor is On"\nexit 0\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe, log


def test_power_schedule_from_the_hub_switches_the_display(qtbot, clean_hub: TestHub, tmp_path: Path) -> None:
    config = player_config(clean_hub, tmp_path, live_query=False, poll_s=1)
    exe, calls = fake_xset(tmp_path)
    window = make_window(config, SystemClock(), (480, 270))
    qtbot.addWidget(window)
    window.show()
    tz = ZoneInfo(config.timezone)
    power = DisplayPowerController(window, PowerSchedule(None), XsetDisplayPower(str(exe), display=":0"),
                                   SystemClock(), tz, window.ctx.bridge)
    power.start()
    controller = attach_content(window, config, folder=None)
    follow_power_schedule(power, controller, window)
    try:
        id_file = tmp_path / "state" / "device-id"
        qtbot.waitUntil(id_file.exists, timeout=20000)
        uuid = id_file.read_text().strip()
        qtbot.waitUntil(lambda: len(clean_hub.query("SteleScreen", {"uuid": uuid})) == 1, timeout=20000)
        activate_with_red_slide(clean_hub, uuid)
        qtbot.waitUntil(lambda: red_on_screen(window), timeout=20000)
        assert power.on is True and power.schedule_origin == "config"

        (row,) = clean_hub.query("SteleScreen", {"uuid": uuid})
        day = (datetime.now(tz) + timedelta(days=2)).date()  # on only two days from now: off now
        clean_hub.rest("PUT", f"/classes/SteleScreen/{row['objectId']}", {
            "displaySchedule": [{"weekdays": [day.isoweekday()], "timeFrom": "00:00", "timeTo": "24:00"}]})
        qtbot.waitUntil(lambda: power.on is False, timeout=20000)
        assert power.schedule_origin == "content" and window.paused and window.main is None
        assert power.next_change is not None and power.next_change.date() == day
        qtbot.waitUntil(lambda: calls.exists() and "dpms force off" in calls.read_text(), timeout=5000)

        clean_hub.rest("PUT", f"/classes/SteleScreen/{row['objectId']}", {"displaySchedule": {"__op": "Delete"}})
        qtbot.waitUntil(lambda: power.on is True, timeout=20000)
        assert power.schedule_origin == "config"
        qtbot.waitUntil(lambda: red_on_screen(window), timeout=20000)
        qtbot.waitUntil(lambda: "dpms force on" in calls.read_text(), timeout=5000)
    finally:
        controller.stop()
        window._allow_close = True
