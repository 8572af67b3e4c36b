"""Rotation through the display server, with fake xrandr / wlr-randr commands that record their calls."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from player.system.rotation import RotationError, rotate_display


def fake(tmp_path: Path, name: str, listing: str) -> tuple[Path, Path]:
    log = tmp_path / f"{name}.log"
    exe = tmp_path / name
    exe.write_text(f'#!/bin/sh\necho "$@" >> {log}\ncat <<"END"\n{listing}\nEND\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe, log


def test_xrandr_rotates_the_connected_output(tmp_path: Path) -> None:
    exe, log = fake(tmp_path, "xrandr", "Screen 0: minimum 8 x 8\nHDMI-2 disconnected\nHDMI-1 connected primary 1920x1080+0+0")
    said = rotate_display(90, env={"DISPLAY": ":0", "PATH": "/usr/bin:/bin"},
                          which=lambda n: str(exe) if n == "xrandr" else None)
    assert said == "output HDMI-1 turned to 90° (xrandr)"
    assert log.read_text().splitlines() == ["--query", "--output HDMI-1 --rotate left"]


def test_wayland_uses_wlr_randr(tmp_path: Path) -> None:
    exe, log = fake(tmp_path, "wlr-randr", 'HDMI-A-1 "Some Monitor"\n  Enabled: yes')
    rotate_display(270, env={"WAYLAND_DISPLAY": "wayland-1", "PATH": "/usr/bin:/bin"}, which=lambda n: str(exe) if n == "wlr-randr" else None)
    assert log.read_text().splitlines()[-1] == "--output HDMI-A-1 --transform 270"


def test_no_tool_gives_one_clear_line() -> None:
    with pytest.raises(RotationError) as err:
        rotate_display(90, env={}, which=lambda _n: None)
    assert "neither xrandr" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(RotationError):
        rotate_display(45, env={}, which=lambda _n: None)
