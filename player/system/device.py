"""Device facts for status reports: hostname, primary IPv4, uptime, disk, CPU temperature, memory, load.

Pure reads: ``/proc``, ``/sys``, ``statvfs`` and ``ip -j`` (iproute2, which only asks the kernel).
Nothing here sends a packet.  Each fact is best effort: a fact that cannot be read is ``None``, never
an exception.  Reads are quick but touch the disk and run ``ip``: collect from a worker thread.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = [
    "DeviceFacts",
    "collect_device_facts",
    "cpu_temperature",
    "device_model",
    "disk_room",
    "disk_space",
    "hostname",
    "load_average",
    "memory",
    "primary_ipv4",
    "uptime_seconds",
]

RunCommand = Callable[[Sequence[str]], str | None]


@dataclass(frozen=True)
class DeviceFacts:
    hostname: str
    ipv4: str | None
    uptime_s: float | None
    disk_free_bytes: int | None
    disk_total_bytes: int | None
    cpu_temp_c: float | None
    mem_total_bytes: int | None
    mem_available_bytes: int | None
    load_1m: float | None
    load_5m: float | None
    load_15m: float | None
    model: str | None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready mapping for heartbeat/status reports."""
        return asdict(self)


def _run(argv: Sequence[str]) -> str | None:
    exe = shutil.which(argv[0])
    if exe is None:
        return None
    import subprocess  # loaded on first use, as socket below: docs/performance.md

    try:
        done = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("%s failed: %s", argv[0], exc)
        return None
    return done.stdout if done.returncode == 0 else None


def hostname() -> str:
    import socket

    return socket.gethostname()


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def _global_ipv4_by_dev(addr_json: str) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for link in json.loads(addr_json):
        if "LOOPBACK" in link.get("flags", []):
            continue
        for info in link.get("addr_info", []):
            if info.get("family") == "inet" and info.get("scope") == "global" and info.get("local"):
                result.setdefault(link.get("ifname", ""), []).append(info["local"])
    return result


def primary_ipv4(run: RunCommand = _run) -> str | None:
    """The IPv4 address of the interface holding the default route (else the first global IPv4).

    Read from ``ip -j -4 route show default`` and ``ip -j -4 addr show``: the kernel's tables, no traffic.
    """
    try:
        addr_out = run(["ip", "-j", "-4", "addr", "show"])
        if not addr_out:
            return None
        by_dev = _global_ipv4_by_dev(addr_out)
        route_out = run(["ip", "-j", "-4", "route", "show", "default"]) or "[]"
        routes = sorted(json.loads(route_out), key=lambda r: int(r.get("metric", 0)))
        for route in routes:
            if route.get("prefsrc"):
                return str(route["prefsrc"])
            addresses = by_dev.get(route.get("dev", ""))
            if addresses:
                return addresses[0]
        for addresses in by_dev.values():
            return addresses[0]
    except (ValueError, TypeError, AttributeError) as exc:
        log.debug("could not parse ip -j output: %s", exc)
    return None


def uptime_seconds(root: Path = Path("/")) -> float | None:
    text = _read(root / "proc/uptime")
    try:
        return float(text.split()[0]) if text else None
    except (ValueError, IndexError):
        return None


KEEP_FREE_SHARE = 0.05  # share of a disk that downloads and the folder copy leave free (the system's logs, the state)


def disk_space(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(free bytes available to unprivileged users, total bytes) of the filesystem holding ``path``."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize


NO_ROOM = "no room on disk"  # how a refusal for want of disk room begins (fetch, prepare); sync.py looks for it


def in_mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


def disk_room(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(bytes that may still be written on ``path``'s filesystem, bytes left free there), or None when unknown.

    Downloads and the folder copy leave ``KEEP_FREE_SHARE`` of the disk free; this is the one place that says so."""
    space = disk_space(path)
    if space is None:
        return None
    free, total = space
    keep = int(total * KEEP_FREE_SHARE)
    return free - keep, keep


def cpu_temperature(root: Path = Path("/")) -> float | None:
    """CPU temperature in °C from thermal zone 0 (millidegrees in sysfs), None if there is none."""
    text = _read(root / "sys/class/thermal/thermal_zone0/temp")
    try:
        return round(int(text.strip()) / 1000, 1) if text else None
    except ValueError:
        return None


def memory(root: Path = Path("/")) -> tuple[int, int] | None:
    """(total bytes, available bytes) from /proc/meminfo."""
    text = _read(root / "proc/meminfo")
    if not text:
        return None
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            factor = 1024 if len(parts) > 1 and parts[1] == "kB" else 1
            values[key] = int(parts[0]) * factor
    if "MemTotal" not in values:
        return None
    available = values.get("MemAvailable", values.get("MemFree", 0))
    return values["MemTotal"], available


def load_average(root: Path = Path("/")) -> tuple[float, float, float] | None:
    text = _read(root / "proc/loadavg")
    try:
        if not text:
            return None
        one, five, fifteen = (float(x) for x in text.split()[:3])
    except ValueError:
        return None
    return one, five, fifteen


def device_model(root: Path = Path("/")) -> str | None:
    """E.g. "Raspberry Pi 4 Model B Rev 1.5" (device tree), else the DMI product name."""
    for rel in ("proc/device-tree/model", "sys/class/dmi/id/product_name"):
        text = _read(root / rel)
        if text and text.strip("\0 \n"):
            return text.strip("\0 \n")
    return None


def collect_device_facts(
    disk_path: str | os.PathLike[str] = "/var/cache/osc-player",
    root: Path = Path("/"),
    run: RunCommand = _run,
) -> DeviceFacts:
    """All facts at once. ``disk_path``: the cache directory (its filesystem's free space is reported)."""
    disk = disk_space(disk_path) if os.path.exists(disk_path) else None
    mem = memory(root)
    load = load_average(root)
    return DeviceFacts(
        hostname=hostname(),
        ipv4=primary_ipv4(run),
        uptime_s=uptime_seconds(root),
        disk_free_bytes=disk[0] if disk else None,
        disk_total_bytes=disk[1] if disk else None,
        cpu_temp_c=cpu_temperature(root),
        mem_total_bytes=mem[0] if mem else None,
        mem_available_bytes=mem[1] if mem else None,
        load_1m=load[0] if load else None,
        load_5m=load[1] if load else None,
        load_15m=load[2] if load else None,
        model=device_model(root),
    )
