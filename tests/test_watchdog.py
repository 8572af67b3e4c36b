"""SdNotifier against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from player.system.watchdog import SdNotifier


def _recv(server: socket.socket) -> str:
    return server.recv(4096).decode()


def test_messages_arrive_exactly_as_systemd_expects(notify_socket: tuple[socket.socket, str]) -> None:
    server, path = notify_socket
    with SdNotifier(env={"NOTIFY_SOCKET": path}) as notifier:
        assert notifier.enabled
        assert notifier.ready()
        assert notifier.watchdog()
        assert notifier.status("Layout Rathaus Foyer\n  – Video intro.mp4")
        assert notifier.stopping()
        assert notifier.ready(status="erstes Bild")
    assert _recv(server) == "READY=1"
    assert _recv(server) == "WATCHDOG=1"
    assert _recv(server) == "STATUS=Layout Rathaus Foyer – Video intro.mp4"
    assert _recv(server) == "STOPPING=1"
    assert _recv(server) == "READY=1\nSTATUS=erstes Bild"


def test_abstract_socket_address() -> None:
    name = f"osc-player-test-{os.getpid()}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(b"\0" + name.encode())
    server.settimeout(2)
    try:
        notifier = SdNotifier(env={"NOTIFY_SOCKET": "@" + name})
        assert notifier.watchdog()
        assert _recv(server) == "WATCHDOG=1"
        notifier.close()
    finally:
        server.close()


def test_long_status_is_truncated_to_one_line(notify_socket: tuple[socket.socket, str]) -> None:
    server, path = notify_socket
    notifier = SdNotifier(env={"NOTIFY_SOCKET": path})
    notifier.status("x" * 1000)
    msg = _recv(server)
    assert msg.startswith("STATUS=xxx")
    assert len(msg) <= len("STATUS=") + 200
    assert "\n" not in msg


def test_noop_without_notify_socket() -> None:
    notifier = SdNotifier(env={})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False
    assert notifier.watchdog_interval() is None
    assert notifier.ping_interval() is None


def test_vanished_socket_does_not_raise(tmp_path: Path) -> None:
    notifier = SdNotifier(env={"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert notifier.enabled
    assert notifier.watchdog() is False  # logged, not raised: the screen keeps playing


def test_watchdog_interval_from_environment() -> None:
    env = {"NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}
    assert SdNotifier(env=env, pid=4242).watchdog_interval() == 30.0
    assert SdNotifier(env=env, pid=4242).ping_interval() == 15.0
    # the watchdog belongs to another process (inherited environment)
    assert SdNotifier(env=env, pid=1).watchdog_interval() is None
    # without WATCHDOG_PID it is ours
    assert SdNotifier(env={"WATCHDOG_USEC": "5000000"}).watchdog_interval() == 5.0
    for bad in ("", "0", "-5", "abc"):
        assert SdNotifier(env={"WATCHDOG_USEC": bad}).watchdog_interval() is None


def test_default_environment_and_pid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = SdNotifier()
    assert notifier.watchdog_interval() == 2.0
    assert not notifier.enabled
