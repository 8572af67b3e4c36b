"""systemd notification protocol (sd_notify) spoken directly over ``NOTIFY_SOCKET``.

systemd passes the path of a datagram socket in ``NOTIFY_SOCKET``; a service sends
newline-separated ``KEY=VALUE`` assignments to it.  A name starting with ``@`` is a Linux
abstract socket (the ``@`` stands for a leading NUL byte).  Without ``NOTIFY_SOCKET`` (player
started by hand, in tests, in a container) every method is a no-op.

The watchdog works like this: the unit sets ``WatchdogSec=``; systemd then exports
``WATCHDOG_USEC`` (and ``WATCHDOG_PID``) and kills/restarts the service when no ``WATCHDOG=1``
arrives within that time.  The UI calls :meth:`SdNotifier.watchdog` from a timer on the GUI
thread at half of :meth:`SdNotifier.watchdog_interval`, so a GUI thread that hangs stops the
pings and gets the player restarted.

Sending never blocks and never raises: a missing or full socket is logged once and ignored,
because the screen must keep playing whatever happens to the service manager.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket

log = logging.getLogger(__name__)

__all__ = ["SdNotifier"]

# systemd truncates STATUS= at a few KiB; keep status lines short and single-line.
_MAX_STATUS_CHARS = 200


class SdNotifier:
    """Minimal sd_notify client.

    ``env`` defaults to ``os.environ``; ``pid`` defaults to ``os.getpid()`` (both injectable for tests).
    """

    def __init__(self, env: Mapping[str, str] | None = None, pid: int | None = None) -> None:
        self._env: Mapping[str, str] = os.environ if env is None else env
        self._pid = os.getpid() if pid is None else pid
        raw = self._env.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = self._parse_address(raw)
        self._sock: socket.socket | None = None
        self._warned = False

    @staticmethod
    def _parse_address(raw: str) -> str | bytes | None:
        if not raw:
            return None
        if raw.startswith("@"):
            # abstract namespace: leading NUL byte instead of '@'
            return b"\0" + raw[1:].encode()
        if raw.startswith("/"):
            return raw
        # vsock:... and other forms are not used on a kiosk; ignore them
        log.warning("NOTIFY_SOCKET=%r is not a unix socket path; systemd notifications disabled", raw)
        return None

    @property
    def enabled(self) -> bool:
        """True when systemd asked for notifications (``NOTIFY_SOCKET`` is a usable unix socket)."""
        return self._address is not None

    def notify(self, message: str) -> bool:
        """Send one raw notification (``KEY=VALUE`` lines). Returns True when it was sent."""
        if self._address is None:
            return False
        try:
            if self._sock is None:
                import socket  # loaded on first use: only under systemd (docs/performance.md)

                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                sock.setblocking(False)
                self._sock = sock
            self._sock.sendto(message.encode("utf-8"), self._address)
        except OSError as exc:
            if not self._warned:
                log.warning("systemd notification to %s failed: %s", self._env.get("NOTIFY_SOCKET"), exc)
                self._warned = True
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Tell systemd the service is up (``READY=1``): call once the first frame is on screen."""
        message = "READY=1"
        if status:
            message += "\nSTATUS=" + _one_line(status)
        return self.notify(message)

    def watchdog(self) -> bool:
        """Keep-alive ping (``WATCHDOG=1``). Cheap and non-blocking: safe on the GUI thread."""
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        """Free-form status shown by ``systemctl status osc-player`` (e.g. what is playing)."""
        return self.notify("STATUS=" + _one_line(text))

    def stopping(self) -> bool:
        """Tell systemd the service is shutting down (``STOPPING=1``)."""
        return self.notify("STOPPING=1")

    def watchdog_interval(self) -> float | None:
        """Watchdog timeout in seconds, or None when no watchdog is expected for this process.

        Read from ``WATCHDOG_USEC``; if ``WATCHDOG_PID`` is set and names another process, the
        watchdog is not ours (e.g. inherited by a child) and None is returned.
        """
        usec = self._env.get("WATCHDOG_USEC", "")
        try:
            value = int(usec)
        except ValueError:
            return None
        if value <= 0:
            return None
        pid = self._env.get("WATCHDOG_PID", "")
        if pid:
            try:
                if int(pid) != self._pid:
                    return None
            except ValueError:
                return None
        return value / 1_000_000

    def ping_interval(self) -> float | None:
        """Recommended ping period in seconds: half the watchdog interval (None without watchdog)."""
        interval = self.watchdog_interval()
        return None if interval is None else interval / 2

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> SdNotifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) > _MAX_STATUS_CHARS:
        flat = flat[: _MAX_STATUS_CHARS - 1] + "…"
    return flat
