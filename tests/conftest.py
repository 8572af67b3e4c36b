"""Shared test set-up: Qt runs offscreen unless a test starts its own X server (in a subprocess)."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A real AF_UNIX datagram socket standing in for systemd's: (server socket, its path for NOTIFY_SOCKET)."""
    path = tmp_path / "notify.sock"
    if len(str(path)) > 100:  # sun_path is limited to 108 bytes
        path = Path(tempfile.mkdtemp(prefix="sdn")) / "n.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(2)
    yield server, str(path)
    server.close()
