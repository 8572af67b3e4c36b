"""The display power schedule from the hub (SteleScreen extension): translated into the screen document's
``power_schedule``, carried by the snapshot, applied by the player on each new snapshot; a screen (or hub) without
one keeps player.toml's schedule."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from player.clock import FakeClock
from player.layouts import load_screen_dict
from player.sources.stele import HubContent, TranslateOptions, translate
from player.system.display_power import PowerSchedule, XsetDisplayPower
from player.ui.bridge import WorkerBridge
from player.ui.power import DisplayPowerController
from screens import one_zone
from test_display_power_ui import shown_window

BERLIN = ZoneInfo("Europe/Berlin")
OPTS = TranslateOptions(hub_url="https://hub.example.org/parse")


def stele(**extra: Any) -> HubContent:
    row = {"objectId": "scr1", "uuid": "u-1", "name": "Linde",
           "state": {"__type": "Object", "className": "S", "objectId": "s1", "name": "Aktiv"},
           "layoutType": {"__type": "Object", "className": "T", "objectId": "t1", "name": "Diashow"},
           "layoutConfig": {"__type": "Object", "className": "SteleLayoutConfig", "objectId": "cfg1"}, **extra}
    return HubContent(screen=row, configs={"cfg1": {"objectId": "cfg1"}})


def power_of(**extra: Any) -> tuple[dict[str, Any] | None, list[str]]:
    translation = translate(stele(**extra), OPTS)
    screen = load_screen_dict(translation.document, "hub", strict=True).screen  # the document stays valid
    return screen.power_schedule, [line for line in translation.problems if line.startswith("SteleScreen ")]


def on_at(windows: dict[str, Any], iso: str) -> bool:
    return PowerSchedule(windows or None).is_on(datetime.fromisoformat(iso).replace(tzinfo=BERLIN))


def test_a_hub_without_the_fields_gives_no_power_schedule() -> None:
    power, problems = power_of()
    assert power is None and problems == []


def test_display_on_and_off_are_one_window_every_day() -> None:
    power, problems = power_of(displayOn="6:30", displayOff="22:00")
    assert problems == [] and power == {"daily": "06:30-22:00"}
    assert on_at(power, "2026-12-06T06:30") and not on_at(power, "2026-12-06T22:00")
    night, _ = power_of(displayOn="18:00", displayOff="02:00")  # off before on: past midnight
    assert night is not None and on_at(night, "2026-12-07T01:00") and not on_at(night, "2026-12-07T03:00")


def test_weekly_list_like_slideshow_objects() -> None:
    power, problems = power_of(displaySchedule=[
        {"weekdays": ["mo", "di", "mi", "do", "fr"], "timeFrom": "06:00", "timeTo": "22:00"},
        {"weekdays": ["sa"], "timeFrom": "08:00", "timeTo": "14:00"},
        {"weekdays": [6], "timeFrom": "16:00", "timeTo": "20:00"},  # 6 = Saturday: a second window
    ])
    assert problems == []
    assert power is not None
    assert on_at(power, "2026-12-04T21:59") and not on_at(power, "2026-12-04T22:00")  # Friday
    assert on_at(power, "2026-12-05T13:00") and not on_at(power, "2026-12-05T15:00")  # Saturday
    assert on_at(power, "2026-12-05T17:00")
    assert not on_at(power, "2026-12-06T12:00")  # Sunday is not listed: off


def test_object_in_player_toml_format_and_empty_means_always_on() -> None:
    power, problems = power_of(displaySchedule={"mon-fri": "07:00-19:00", "sun": "off"},
                               displayOn="01:00", displayOff="02:00")  # displaySchedule wins
    assert problems == [] and power == {"mon-fri": "07:00-19:00", "sun": "off"}
    always, problems = power_of(displaySchedule=[])
    assert problems == [] and always == {}


@pytest.mark.parametrize(("fields", "says"), [
    ({"displayOn": "06:00"}, "both times are needed"),
    ({"displayOn": "25:00", "displayOff": "22:00"}, "not a time"),
    ({"displayOn": "06:00", "displayOff": "06:00"}, "empty"),
    ({"displaySchedule": "06:00-22:00"}, "expected an Array or Object"),
    ({"displaySchedule": {"werktags": "06:00-22:00"}}, "is not a day"),
    ({"displaySchedule": [{"timeFrom": "6 Uhr"}]}, "no usable entry"),
])
def test_unusable_fields_are_one_line_and_leave_the_players_schedule(fields: dict[str, Any], says: str) -> None:
    power, problems = power_of(**fields)
    assert power is None
    assert any(says in line and "SteleScreen scr1" in line for line in problems), problems


def fake_xset(tmp_path: Path) -> Path:
    log = tmp_path / "calls.log"
    exe = tmp_path / "bin" / "xset"
    exe.parent.mkdir()
    exe.write_text(f'#!/bin/sh\necho "$@" >> {log}\n[ "$1" = q ] && echo "  Monitor is On"\nexit 0\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


def test_each_new_snapshot_brings_its_power_schedule_and_none_falls_back_to_the_file(qtbot, tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 19, 0, tzinfo=UTC))  # 20:00 in Berlin, a Tuesday
    bridge = WorkerBridge()
    window = shown_window(qtbot, clock, bridge)
    log = tmp_path / "calls.log"
    power = DisplayPowerController(window, PowerSchedule({"daily": "06:00-22:00"}), XsetDisplayPower(
        str(fake_xset(tmp_path)), display=":0"), clock, BERLIN, bridge)
    with qtbot.waitSignal(power.backend_done, timeout=5000):
        power.start()
    assert power.on is True and power.schedule_origin == "config"

    def snapshot(**extra: Any) -> Any:
        doc = one_zone([{"type": "text", "text": "Hallo"}])
        return load_screen_dict({**doc, **extra}, "snapshot").screen

    # the hub says: off from 19:00 -> the display goes off at once, and the next change is tomorrow 07:00
    with qtbot.waitSignal(power.backend_done, timeout=5000) as done:
        power.take_screen(snapshot(power_schedule={"daily": "07:00-19:00"}), None)
    assert done.args == [False] and power.on is False and window.paused
    assert power.schedule_origin == "content"
    assert power.next_change == datetime(2026, 12, 2, 7, 0, tzinfo=BERLIN)
    assert "dpms force off" in log.read_text()

    calls = log.read_text()
    power.take_screen(snapshot(power_schedule={"daily": "07:00-19:00"}), None)  # same again: nothing happens
    assert log.read_text() == calls and power.on is False

    # the hub's field is removed: player.toml's schedule (on until 22:00) is back
    with qtbot.waitSignal(power.backend_done, timeout=5000) as done:
        power.take_screen(snapshot(), None)
    assert done.args == [True] and power.on is True and not window.paused
    assert power.schedule_origin == "config"
    assert power.next_change == datetime(2026, 12, 1, 22, 0, tzinfo=BERLIN)

    # unusable schedule in a snapshot (e.g. a hand-written screen.json): one log line, the file's rules stay
    power.take_screen(snapshot(power_schedule={"someday": "07:00-19:00"}), None)
    assert power.schedule_origin == "config" and power.on is True
    window._allow_close = True
