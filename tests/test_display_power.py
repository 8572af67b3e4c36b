"""Display power backends against fake commands on PATH, auto-choice, and the weekly schedule."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from player.system.display_power import (
    CecDisplayPower,
    DisplayPowerError,
    NullDisplayPower,
    PowerSchedule,
    VcgencmdDisplayPower,
    WlrRandrDisplayPower,
    XsetDisplayPower,
    choose_backend,
)

BERLIN = ZoneInfo("Europe/Berlin")


class FakeBin:
    """A directory of fake commands that log '<name> <argv...>' (and DISPLAY for xset) to one file."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "bin"
        self.dir.mkdir()
        self.log = root / "calls.log"
        self.log.touch()

    def add(self, name: str, stdout: str = "", exit_code: int = 0, extra: str = "") -> str:
        path = self.dir / name
        path.write_text(
            "#!/bin/sh\n"
            f'echo "{name} $*{extra}" >> "{self.log}"\n'
            f"cat <<'OUT'\n{stdout}\nOUT\n"
            f"exit {exit_code}\n"
        )
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return str(path)

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines()

    @property
    def which(self) -> Callable[[str], str | None]:
        return lambda name: shutil.which(name, path=str(self.dir))


@pytest.fixture
def fake(tmp_path: Path) -> FakeBin:
    return FakeBin(tmp_path)


def test_vcgencmd_calls(fake: FakeBin) -> None:
    exe = fake.add("vcgencmd", stdout="display_power=0")
    power = VcgencmdDisplayPower(exe)
    power.off()
    power.on()
    assert power.is_on() is False
    assert fake.calls() == ["vcgencmd display_power 0", "vcgencmd display_power 1", "vcgencmd display_power"]
    with_id = VcgencmdDisplayPower(exe, display_id=7)
    with_id.off()
    with_id.is_on()
    assert fake.calls()[-2:] == ["vcgencmd display_power 0 7", "vcgencmd display_power -1 7"]


def test_xset_calls_use_the_display(fake: FakeBin) -> None:
    exe = fake.add("xset", stdout="DPMS (Energy Star):\n  Monitor is Off", extra=" DISPLAY=$DISPLAY")
    power = XsetDisplayPower(exe, env={"PATH": os.environ["PATH"], "DISPLAY": ":7"})
    power.off()
    power.on()
    assert power.is_on() is False
    assert fake.calls() == [
        "xset dpms force off DISPLAY=:7",
        "xset dpms force on DISPLAY=:7",
        "xset s off -dpms DISPLAY=:7",
        "xset q DISPLAY=:7",
    ]


def test_xset_defaults_to_display_0_and_dpms_disabled_means_on(fake: FakeBin) -> None:
    exe = fake.add(
        "xset",
        stdout="DPMS (Energy Star):\n  Server does not have the DPMS Extension\n  DPMS is Disabled",
        extra=" DISPLAY=$DISPLAY",
    )
    power = XsetDisplayPower(exe, env={"PATH": os.environ["PATH"]})
    assert power.is_on() is True
    assert fake.calls() == ["xset q DISPLAY=:0"]


def test_cec_registers_once_then_switches_the_tv(fake: FakeBin) -> None:
    exe = fake.add("cec-ctl", stdout="\tpwr-state: standby (0x01)")
    power = CecDisplayPower(exe, device="/dev/cec1")
    power.on()
    power.off()
    assert power.is_on() is False
    assert fake.calls() == [
        "cec-ctl -d /dev/cec1 --playback --osd-name osc-player",
        "cec-ctl -d /dev/cec1 --to 0 --image-view-on",
        "cec-ctl -d /dev/cec1 --to 0 --standby",
        "cec-ctl -d /dev/cec1 --to 0 --give-device-power-status",
    ]


def test_wlr_randr_finds_the_output_and_remembers_it(fake: FakeBin) -> None:
    exe = fake.add(
        "wlr-randr", stdout='[{"name": "HDMI-A-1", "enabled": true}, {"name": "HDMI-A-2", "enabled": false}]'
    )
    power = WlrRandrDisplayPower(exe)
    power.off()
    power.on()
    assert power.is_on() is True
    assert fake.calls() == [
        "wlr-randr --json",
        "wlr-randr --output HDMI-A-1 --off",
        "wlr-randr --output HDMI-A-1 --on",
        "wlr-randr --json",
    ]
    named = WlrRandrDisplayPower(exe, output="HDMI-A-2")
    named.off()
    assert named.is_on() is False
    assert fake.calls()[-2:] == ["wlr-randr --output HDMI-A-2 --off", "wlr-randr --json"]


def test_failing_command_raises_one_clear_line(fake: FakeBin) -> None:
    exe = fake.add("xset", stdout='xset:  unable to open display ":0"', exit_code=1)
    power = XsetDisplayPower(exe)
    with pytest.raises(
        DisplayPowerError, match=r"xset dpms force off failed with exit code 1: .*unable to open"
    ):
        power.off()
    assert power.is_on() is None


def test_hanging_command_times_out(fake: FakeBin) -> None:
    exe = fake.add("vcgencmd")
    path = Path(exe)
    path.write_text(path.read_text().replace("cat <<", "sleep 5\ncat <<"))  # hangs after logging
    power = VcgencmdDisplayPower(exe, timeout=0.3)
    with pytest.raises(DisplayPowerError, match="did not finish within 0.3 s"):
        power.off()


def _pi_root(tmp_path: Path, kms: bool) -> Path:
    root = tmp_path / "root"
    (root / "proc/device-tree").mkdir(parents=True)
    (root / "proc/device-tree/model").write_bytes(b"Raspberry Pi 4 Model B Rev 1.5\0")
    if kms:
        (root / "sys/module/vc4").mkdir(parents=True)
    return root


def test_auto_choice(fake: FakeBin, tmp_path: Path) -> None:
    for name in ("vcgencmd", "wlr-randr", "xset", "cec-ctl"):
        fake.add(name)
    empty = tmp_path / "empty"
    empty.mkdir()
    pi_legacy = _pi_root(tmp_path / "a", kms=False)
    pi_kms = _pi_root(tmp_path / "b", kms=True)

    def pick(env: dict[str, str], root: Path) -> str:
        return choose_backend("auto", which=fake.which, env=env, root=root).name

    assert pick({"DISPLAY": ":0"}, pi_legacy) == "vcgencmd"
    # under the KMS driver vcgencmd display_power does nothing: use the session's tool
    assert pick({"DISPLAY": ":0"}, pi_kms) == "xset"
    assert pick({"WAYLAND_DISPLAY": "wayland-1", "DISPLAY": ":0"}, empty) == "wlr-randr"
    assert pick({"DISPLAY": ":0"}, empty) == "xset"
    assert pick({}, empty) == "none"
    (empty / "dev").mkdir()
    (empty / "dev/cec0").touch()
    assert pick({}, empty) == "cec"
    # a tool that is not installed is skipped
    (fake.dir / "xset").unlink()
    assert pick({"DISPLAY": ":0"}, empty) == "cec"
    assert fake.calls() == []  # choosing runs nothing


def test_explicit_choice_and_errors(fake: FakeBin, tmp_path: Path) -> None:
    fake.add("cec-ctl")
    power = choose_backend(
        "cec", which=fake.which, env={"DISPLAY": ":0"}, root=tmp_path, cec_device="/dev/cec1"
    )
    assert isinstance(power, CecDisplayPower) and power.device == "/dev/cec1"
    assert isinstance(choose_backend("none", which=fake.which, env={}), NullDisplayPower)
    with pytest.raises(DisplayPowerError, match="xset is not installed"):
        choose_backend("xset", which=fake.which, env={"DISPLAY": ":0"})
    with pytest.raises(ValueError, match="'hdmi' is unknown"):
        choose_backend("hdmi", which=fake.which, env={})


def test_null_backend_remembers_state() -> None:
    power = NullDisplayPower()
    assert power.is_on() is True
    power.off()
    assert power.is_on() is False


# ---- schedule ---------------------------------------------------------------------------------


def at(text: str, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


OFFICE = PowerSchedule({"mon-fri": "06:00-22:00", "sat": "08:00-12:00, 13:00-20:00", "sun": "off"})


def test_weekday_window() -> None:
    # 2024-03-06 is a Wednesday
    state = OFFICE.state_at(at("2024-03-06 05:59"))
    assert (state.on, state.next_change) == (False, at("2024-03-06 06:00"))
    state = OFFICE.state_at(at("2024-03-06 06:00"))
    assert (state.on, state.next_change) == (True, at("2024-03-06 22:00"))
    state = OFFICE.state_at(at("2024-03-06 22:00"))
    assert (state.on, state.next_change) == (False, at("2024-03-07 06:00"))


def test_saturday_lunch_break_and_off_sunday() -> None:
    assert OFFICE.state_at(at("2024-03-09 12:30")) == OFFICE.state_at(at("2024-03-09 12:00"))
    state = OFFICE.state_at(at("2024-03-09 12:30"))
    assert (state.on, state.next_change) == (False, at("2024-03-09 13:00"))
    # Saturday evening -> off until Monday 06:00 (Sunday off)
    state = OFFICE.state_at(at("2024-03-09 20:00"))
    assert (state.on, state.next_change) == (False, at("2024-03-11 06:00"))


def test_midnight_crossing_window() -> None:
    night = PowerSchedule({"fri": "18:00-02:00", "sat": "10:00-12:00"})
    # Friday 2024-03-08 23:00 -> on until Saturday 02:00
    state = night.state_at(at("2024-03-08 23:00"))
    assert (state.on, state.next_change) == (True, at("2024-03-09 02:00"))
    state = night.state_at(at("2024-03-09 01:59"))
    assert state.on
    state = night.state_at(at("2024-03-09 02:00"))
    assert (state.on, state.next_change) == (False, at("2024-03-09 10:00"))
    # Thursday night is off: the window belongs to the day it starts on
    assert not night.is_on(at("2024-03-08 01:00"))


def test_adjacent_windows_merge_into_one_change() -> None:
    schedule = PowerSchedule({"mon": "18:00-24:00", "tue": "00:00-06:00"})
    state = schedule.state_at(at("2024-03-04 20:00"))  # Monday
    assert (state.on, state.next_change) == (True, at("2024-03-05 06:00"))


def test_dst_spring_forward_in_berlin() -> None:
    # Sunday 2024-03-31: clocks jump 02:00 CET -> 03:00 CEST; the day has 23 hours
    schedule = PowerSchedule({"daily": "07:00-21:00"})
    state = schedule.state_at(at("2024-03-30 22:00"))
    assert state.next_change == at("2024-03-31 07:00")
    assert state.next_change is not None
    assert state.next_change.utcoffset() == timedelta(hours=2)
    assert state.next_change.astimezone(UTC) - at("2024-03-30 22:00").astimezone(UTC) == timedelta(
        hours=8
    )  # not 9: an hour is skipped
    # a window starting inside the skipped hour starts when the clock jumps
    gap = PowerSchedule({"sun": "02:30-05:00"})
    state = gap.state_at(at("2024-03-31 01:00"))
    assert state.next_change is not None
    assert state.next_change.astimezone(UTC) == datetime(2024, 3, 31, 1, 0, tzinfo=UTC)
    assert gap.is_on(at("2024-03-31 03:10"))


def test_dst_fall_back_in_berlin() -> None:
    # Sunday 2024-10-27: 03:00 CEST -> 02:00 CET; the day has 25 hours
    schedule = PowerSchedule({"daily": "06:00-22:00"})
    state = schedule.state_at(at("2024-10-26 23:00"))
    assert state.next_change == at("2024-10-27 06:00")
    assert state.next_change is not None
    assert state.next_change.utcoffset() == timedelta(hours=1)
    assert state.next_change.astimezone(UTC) - at("2024-10-26 23:00").astimezone(UTC) == timedelta(
        hours=8
    )  # 7 wall hours + 1
    # off from 01:30 to 02:30 wall time: 02:30 happens twice, the first one ends the window
    ambiguous = PowerSchedule({"sun": "01:30-02:30"})
    state = ambiguous.state_at(at("2024-10-27 01:45"))
    assert state.on
    assert state.next_change is not None
    assert state.next_change.astimezone(UTC) == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)


def test_schedule_zone_differs_from_the_instant_zone() -> None:
    schedule = PowerSchedule({"daily": "06:00-22:00"}, tz=BERLIN)
    when = datetime(2024, 7, 1, 3, 30, tzinfo=UTC)  # 05:30 in Berlin (CEST)
    state = schedule.state_at(when)
    assert not state.on
    assert state.next_change == datetime(2024, 7, 1, 4, 0, tzinfo=UTC)
    assert state.next_change is not None and state.next_change.tzinfo is UTC


def test_always_on_and_never_on() -> None:
    assert PowerSchedule({}).state_at(at("2024-03-06 03:00")) == PowerSchedule(None).state_at(
        at("2024-01-01 00:00")
    )
    state = PowerSchedule({}).state_at(at("2024-03-06 03:00"))
    assert (state.on, state.next_change) == (True, None)
    state = PowerSchedule({"daily": "00:00-24:00"}).state_at(at("2024-03-31 02:59"))
    assert (state.on, state.next_change) == (True, None)
    state = PowerSchedule({"daily": "off"}).state_at(at("2024-03-06 12:00"))
    assert (state.on, state.next_change) == (False, None)


def test_wrapping_day_range_and_lists() -> None:
    schedule = PowerSchedule({"fri-mon": ["09:00-10:00"], "wed,thu": "11:00-12:00"})
    assert schedule.is_on(at("2024-03-11 09:30"))  # Monday
    assert schedule.is_on(at("2024-03-10 09:30"))  # Sunday
    assert not schedule.is_on(at("2024-03-12 09:30"))  # Tuesday
    assert schedule.is_on(at("2024-03-07 11:30"))  # Thursday


def test_a_week_minute_by_minute_agrees_with_next_change() -> None:
    schedule = PowerSchedule({"mon-fri": "06:00-22:00", "sat": "23:00-01:00"})
    t = at("2024-10-21 00:00")
    end = t + timedelta(days=8)
    state = schedule.state_at(t)
    while t < end:
        assert schedule.is_on(t) == state.on, t
        if state.next_change is not None and t + timedelta(minutes=15) >= state.next_change:
            t = state.next_change
            new = schedule.state_at(t)
            assert new.on != state.on, t
            state = new
        else:
            t += timedelta(minutes=15)


@pytest.mark.parametrize(
    ("windows", "message"),
    [
        ({"mo-fr": "06:00-22:00"}, "'mo-fr'"),
        ({"moon": "06:00-22:00"}, "'moon' is not a day"),
        ({"mon": "6-22"}, "is not a window"),
        ({"mon": "06:00-25:00"}, "outside 00:00-24:00"),
        ({"mon": "06:00-06:00"}, "start equals end"),
    ],
)
def test_bad_schedules_name_the_field(windows: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PowerSchedule(windows)


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        OFFICE.state_at(datetime(2024, 3, 6, 12, 0))
