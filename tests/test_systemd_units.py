"""The unit files: `systemd-analyze verify` (on a temp copy with stub executables) and key settings."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

SYSTEMD_DIR = Path(__file__).resolve().parent.parent / "systemd"
UNITS = ("osc-player.service", "osc-kiosk-x.service")
IN_CI = os.environ.get("CI", "").lower() == "true"


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is missing in CI: run provisioning/dev-tools.sh (Debian package systemd)")
        pytest.skip(f"{name} not installed (provisioning/dev-tools.sh installs it)")
    return path


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """section -> key -> values in order (keys may repeat, as in systemd)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: {line!r} outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: {line!r} is not key=value"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = unit[section][key]
    assert len(values) == 1, f"{key} set {len(values)} times"
    return values[0]


def stubbed_copy(tmp_path: Path) -> list[Path]:
    """Copies of the units whose absolute executables (not on this machine) point at a stub."""
    stub = tmp_path / "bin" / "stub"
    stub.parent.mkdir()
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    copies = []
    for name in UNITS:
        text = (SYSTEMD_DIR / name).read_text()
        for exe in ("/opt/osc-player/venv/bin/osc-player", "/usr/bin/Xorg"):
            if not Path(exe).exists():
                text = text.replace(exe, str(stub))
        copy = tmp_path / name
        copy.write_text(text)
        copies.append(copy)
    return copies


def verify(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    exe = need_tool("systemd-analyze")
    return subprocess.run(
        [exe, "verify", "--man=no", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    result = verify(stubbed_copy(tmp_path))
    output = (result.stdout + result.stderr).strip()
    # verify exits 0 on unknown keys or bad values and only warns: any output is a failure
    assert result.returncode == 0 and output == "", output


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    copies = stubbed_copy(tmp_path)
    broken = copies[0]
    broken.write_text(broken.read_text().replace("Restart=always", "Restart=sometimes\nWatchdogSecs=30"))
    result = verify([broken])
    output = result.stdout + result.stderr
    assert "restart specifier" in output and "WatchdogSecs" in output


def test_player_unit_settings() -> None:
    unit = parse_unit(SYSTEMD_DIR / "osc-player.service")
    svc = unit["Service"]
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "WatchdogSec": "30",
        "Restart": "always",
        "RestartSec": "2",
        "User": "osc-player",
        "ExecStart": "/opt/osc-player/venv/bin/osc-player run --config /etc/osc-player/player.toml",
        "StateDirectory": "osc-player",
        "CacheDirectory": "osc-player",
        "ConfigurationDirectory": "osc-player",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectControlGroups": "yes",
        "RestrictNamespaces": "yes",
        "LockPersonality": "yes",
        "RestrictRealtime": "yes",
        "SystemCallArchitectures": "native",
    }
    for key, value in expected.items():
        assert one(unit, "Service", key) == value, key
    env = " ".join(svc["Environment"])
    assert "DISPLAY=:0" in env.split() and "QT_QPA_PLATFORM=xcb" in env.split()
    # ProtectSystem=strict: nothing writable but the state/cache dirs and the X socket bind
    assert "ReadWritePaths" not in svc
    assert svc["BindPaths"] == ["/tmp/.X11-unix"]
    # must not cut the player off its GPU, video, CEC devices or Qt's JIT
    for forbidden in ("PrivateDevices", "MemoryDenyWriteExecute", "PrivateUsers", "ProcSubset"):
        assert forbidden not in svc, forbidden
    assert "AF_UNIX" in one(unit, "Service", "RestrictAddressFamilies")
    # what `systemd-analyze security` suggested and X11/VLC/DRM tolerate; the rest is explained in the unit
    assert one(unit, "Service", "PrivateMounts") == "yes"
    assert one(unit, "Service", "UMask") == "0077"
    assert svc["SystemCallFilter"] == ["@system-service", "~@privileged"]
    comment = (SYSTEMD_DIR / "osc-player.service").read_text().split("# Not set on purpose:", 1)[1]
    for reasoned in ("DevicePolicy", "DeviceAllow", "~@resources", "PrivateDevices", "MemoryDenyWriteExecute"):
        assert reasoned in comment, reasoned
    assert "osc-kiosk-x.service" in one(unit, "Unit", "Requires")
    assert "osc-kiosk-x.service" in one(unit, "Unit", "After")
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def test_kiosk_x_unit_settings() -> None:
    unit = parse_unit(SYSTEMD_DIR / "osc-kiosk-x.service")
    argv = one(unit, "Service", "ExecStart").split()
    assert argv[0] == "/usr/bin/Xorg" and argv[1] == ":0" and "vt1" in argv
    assert "-nocursor" in argv and "-dpms" in argv
    assert argv[argv.index("-s") + 1] == "0"
    assert argv[argv.index("-nolisten") + 1] == "tcp"
    assert "getty@tty1.service" in one(unit, "Unit", "Conflicts")
    assert one(unit, "Service", "Restart") == "always"
    # readiness waits for the X socket osc-player binds into its private /tmp
    assert "/tmp/.X11-unix/X0" in one(unit, "Service", "ExecStartPost")


def test_kiosk_x_ready_check_waits_for_the_socket(tmp_path: Path) -> None:
    """Run the ExecStartPost shell snippet with the socket path pointed into tmp_path."""
    unit = parse_unit(SYSTEMD_DIR / "osc-kiosk-x.service")
    post = one(unit, "Service", "ExecStartPost")
    match = re.fullmatch(r"/bin/sh -c '(.*)'", post)
    assert match
    script = match.group(1).replace("/tmp/.X11-unix/X0", str(tmp_path / "X0")).replace("-gt 100", "-gt 5")
    missing = subprocess.run(["/bin/sh", "-c", script], timeout=30, check=False)
    assert missing.returncode == 1

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(tmp_path / "X0"))
    try:
        present = subprocess.run(["/bin/sh", "-c", script], timeout=30, check=False)
        assert present.returncode == 0
    finally:
        sock.close()


def test_journald_and_watchdog_dropins() -> None:
    journald = parse_unit(SYSTEMD_DIR / "journald.conf.d/50-osc-player.conf")
    assert one(journald, "Journal", "Storage") == "volatile"
    assert one(journald, "Journal", "RuntimeMaxUse")
    assert one(journald, "Journal", "SystemMaxUse")
    manager = parse_unit(SYSTEMD_DIR / "system.conf.d/50-osc-player-watchdog.conf")
    seconds = int(one(manager, "Manager", "RuntimeWatchdogSec"))
    assert 0 < seconds <= 15  # the Pi's bcm2835 watchdog cannot do more than ~15 s


def test_security_exposure_stays_low(tmp_path: Path) -> None:
    exe = need_tool("systemd-analyze")
    copy = stubbed_copy(tmp_path)[0]
    result = subprocess.run(
        [exe, "security", "--offline=true", "--threshold=30", str(copy)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert match, result.stdout[-2000:] + result.stderr
    assert float(match.group(1)) <= 3.0, result.stdout[-3000:]
