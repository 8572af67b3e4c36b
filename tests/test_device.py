"""Device facts from a fake /proc + /sys tree, canned `ip -j` output, and the real machine."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from player.system import device
from player.system.device import (
    collect_device_facts,
    cpu_temperature,
    disk_space,
    load_average,
    memory,
    primary_ipv4,
    uptime_seconds,
)

ADDR = [
    {
        "ifname": "lo",
        "flags": ["LOOPBACK", "UP"],
        "addr_info": [{"family": "inet", "local": "127.0.0.1", "scope": "host"}],
    },
    {
        "ifname": "docker0",
        "flags": ["UP"],
        "addr_info": [{"family": "inet", "local": "172.17.0.1", "scope": "global"}],
    },
    {
        "ifname": "wlan0",
        "flags": ["UP"],
        "addr_info": [
            {"family": "inet", "local": "169.254.3.3", "scope": "link"},
            {"family": "inet", "local": "10.20.30.40", "scope": "global"},
        ],
    },
]


def fake_ip(routes: list[dict[str, object]], addr: list[dict[str, object]] = ADDR):
    calls: list[list[str]] = []

    def run(argv: Sequence[str]) -> str | None:
        calls.append(list(argv))
        if list(argv[:4]) == ["ip", "-j", "-4", "addr"]:
            return json.dumps(addr)
        if list(argv[:4]) == ["ip", "-j", "-4", "route"]:
            return json.dumps(routes)
        return None

    return run, calls


def test_primary_ipv4_follows_the_default_route() -> None:
    run, calls = fake_ip([{"dst": "default", "gateway": "10.20.30.1", "dev": "wlan0"}])
    assert primary_ipv4(run) == "10.20.30.40"
    assert calls == [["ip", "-j", "-4", "addr", "show"], ["ip", "-j", "-4", "route", "show", "default"]]


def test_primary_ipv4_prefers_lowest_metric_and_prefsrc() -> None:
    run, _ = fake_ip(
        [
            {"dst": "default", "dev": "docker0", "metric": 600},
            {"dst": "default", "dev": "wlan0", "metric": 100},
        ]
    )
    assert primary_ipv4(run) == "10.20.30.40"
    run, _ = fake_ip([{"dst": "default", "dev": "wlan0", "prefsrc": "10.20.30.41"}])
    assert primary_ipv4(run) == "10.20.30.41"


def test_primary_ipv4_without_default_route_or_ip_tool() -> None:
    run, _ = fake_ip([])
    assert primary_ipv4(run) == "172.17.0.1"  # first global address
    run, _ = fake_ip([], addr=ADDR[:1])
    assert primary_ipv4(run) is None  # only loopback: offline
    assert primary_ipv4(lambda argv: None) is None
    assert primary_ipv4(lambda argv: "not json") is None


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "proc/device-tree").mkdir(parents=True)
    (root / "sys/class/thermal/thermal_zone0").mkdir(parents=True)
    (root / "proc/uptime").write_text("12345.67 40000.00\n")
    (root / "proc/loadavg").write_text("0.52 0.31 0.20 1/234 5678\n")
    (root / "proc/meminfo").write_text(
        "MemTotal:        3884376 kB\nMemFree:          512000 kB\nMemAvailable:    2000000 kB\n"
    )
    (root / "sys/class/thermal/thermal_zone0/temp").write_text("48312\n")
    (root / "proc/device-tree/model").write_bytes(b"Raspberry Pi 4 Model B Rev 1.5\0")
    return root


def test_reads_from_proc_and_sys(fake_root: Path) -> None:
    assert uptime_seconds(fake_root) == 12345.67
    assert load_average(fake_root) == (0.52, 0.31, 0.20)
    assert memory(fake_root) == (3884376 * 1024, 2000000 * 1024)
    assert cpu_temperature(fake_root) == 48.3
    assert device.device_model(fake_root) == "Raspberry Pi 4 Model B Rev 1.5"


def test_missing_files_give_none(tmp_path: Path) -> None:
    assert uptime_seconds(tmp_path) is None
    assert load_average(tmp_path) is None
    assert memory(tmp_path) is None
    assert cpu_temperature(tmp_path) is None  # no thermal zone (VMs, some PCs)
    assert device.device_model(tmp_path) is None
    assert disk_space(tmp_path / "nope") is None


def test_garbage_gives_none(fake_root: Path) -> None:
    (fake_root / "sys/class/thermal/thermal_zone0/temp").write_text("n/a\n")
    (fake_root / "proc/uptime").write_text("\n")
    assert cpu_temperature(fake_root) is None
    assert uptime_seconds(fake_root) is None


def test_collect_all_facts(fake_root: Path, tmp_path: Path) -> None:
    run, _ = fake_ip([{"dst": "default", "dev": "wlan0"}])
    facts = collect_device_facts(disk_path=tmp_path, root=fake_root, run=run)
    usage = shutil.disk_usage(tmp_path)
    assert facts.ipv4 == "10.20.30.40"
    assert facts.cpu_temp_c == 48.3
    assert facts.mem_available_bytes == 2000000 * 1024
    assert facts.disk_total_bytes == usage.total
    assert facts.disk_free_bytes is not None and abs(facts.disk_free_bytes - usage.free) < 64 * 1024 * 1024
    data = facts.as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["hostname"] == os.uname().nodename
    assert data["model"] == "Raspberry Pi 4 Model B Rev 1.5"
    missing = collect_device_facts(disk_path=tmp_path / "absent", root=fake_root, run=run)
    assert missing.disk_free_bytes is None


@pytest.mark.skipif(not Path("/proc/uptime").exists(), reason="needs Linux /proc")
def test_real_machine_reads() -> None:
    facts = collect_device_facts(disk_path="/")
    assert facts.uptime_s is not None and facts.uptime_s > 0
    assert facts.mem_total_bytes is not None and facts.mem_total_bytes > facts.mem_available_bytes  # type: ignore[operator]
    assert facts.load_1m is not None
    assert facts.disk_total_bytes is not None and facts.disk_total_bytes > 0
    if shutil.which("ip"):
        ip = facts.ipv4
        assert ip is None or (ip.count(".") == 3 and not ip.startswith("127."))
