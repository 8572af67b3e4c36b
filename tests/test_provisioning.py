"""Provisioning: shellcheck, install.sh --dry-run behaviour, cloud-init template, Ansible syntax + lint,
and (slow) a real install.sh run in a Debian chroot made with debootstrap."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PROV = REPO / "provisioning"
INSTALL = PROV / "install.sh"
IN_CI = os.environ.get("CI", "").lower() == "true"
TOOLS_VENV = Path(os.environ.get("OSC_TOOLS_VENV", "/work/tools-venv"))


def need_tool(name: str, hint: str = "run provisioning/dev-tools.sh") -> str:
    path = shutil.which(name) or (
        str(TOOLS_VENV / "bin" / name) if (TOOLS_VENV / "bin" / name).exists() else None
    )
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is missing in CI: {hint}")
        pytest.skip(f"{name} not installed ({hint})")
    return path


def dry_run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["bash", str(INSTALL), "--dry-run", "--no-apt", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def written_config_text(output: str) -> str:
    """The player.toml content that --dry-run prints."""
    match = re.search(r"\+ content of /etc/osc-player/player.toml:\n((?:    .*\n|\n)*)", output)
    assert match, output
    return "\n".join(line[4:] for line in match.group(1).splitlines())


def written_config(output: str) -> dict[str, object]:
    """The player.toml content that --dry-run prints, parsed as TOML."""
    return tomllib.loads(written_config_text(output))


@pytest.mark.parametrize("script", ["install.sh", "dev-tools.sh"])
def test_shellcheck_clean(script: str) -> None:
    exe = need_tool("shellcheck", "run provisioning/dev-tools.sh (Debian package shellcheck)")
    result = subprocess.run(
        [exe, str(PROV / script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout


def test_dry_run_writes_config_from_arguments(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("s3cr3t-key\n")
    result = dry_run(
        "--hub-url", "https://hub.example.org/parse",
        "--app-id", "musterstadt",
        "--city", 'Neu "Muster" \\ Stadt',
        "--screen-name", "Rathaus Foyer",
        "--power-backend", "cec",
        "--schedule", "mon-fri=06:00-22:00;fri=22:00-02:00;sun=off",
        "--api-key-file", str(key),
    )  # fmt: skip
    config = written_config(result.stdout)
    assert config["hub"] == {
        "url": "https://hub.example.org/parse",
        "app_id": "musterstadt",
        "secrets_file": "/etc/osc-player/secrets.toml",
    }
    assert config["player"]["city"] == 'Neu "Muster" \\ Stadt'  # type: ignore[index]
    assert config["player"]["screen_name"] == "Rathaus Foyer"  # type: ignore[index]
    assert config["source"] == {"type": "hub"}
    assert config["display"] == {  # type: ignore[comparison-overlap]
        "power_backend": "cec",
        "power_schedule": {"mon-fri": "06:00-22:00", "fri": "22:00-02:00", "sun": "off"},
    }
    # and the player itself reads it without a single complaint
    from player.config import load_config

    toml_path = tmp_path / "player.toml"
    toml_path.write_text(written_config_text(result.stdout), encoding="utf-8")
    loaded = load_config(toml_path, env={})
    assert loaded.problems == ()
    assert loaded["display"]["power_backend"] == "cec" and loaded["source"]["type"] == "hub"
    out = result.stdout
    # the secret is never printed, and its file is private to the player user
    assert "s3cr3t" not in out and "s3cr3t" not in result.stderr
    assert "+ write /etc/osc-player/secrets.toml (mode 0600, owner osc-player:osc-player)" in out
    for dest in (
        "/etc/systemd/system/osc-player.service",
        "/etc/systemd/system/osc-kiosk-x.service",
        "/etc/systemd/journald.conf.d/50-osc-player.conf",
        "/etc/systemd/system.conf.d/50-osc-player-watchdog.conf",
        "/etc/sudoers.d/osc-player",
        "/etc/polkit-1/rules.d/50-osc-player.rules",
    ):
        assert f"+ write {dest} " in out, dest
    assert "+ systemctl enable osc-kiosk-x.service osc-player.service" in out
    assert "python3 -m venv /opt/osc-player/venv" in out or "/opt/osc-player/venv/bin/pip install" in out


def test_the_schedule_written_is_one_the_player_accepts() -> None:
    from player.system.display_power import PowerSchedule

    config = written_config(dry_run("--schedule", "mon-fri=06:00-12:00, 13:00-22:00;sat,sun=off").stdout)
    PowerSchedule(config["display"]["power_schedule"])  # type: ignore[index]


def test_folder_source() -> None:
    config = written_config(dry_run("--folder", "/srv/signage").stdout)
    assert config["source"] == {"type": "folder", "path": "/srv/signage"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hub-url", "hub.example.org"], "must start with https://"),
        (["--power-backend", "hdmi"], "is not one of auto|vcgencmd"),
        (["--schedule", "mon-fri=6 bis 22"], "must look like mon-fri=06:00-22:00"),
        (["--api-key-file", "/nonexistent/key"], "is not readable"),
        (["--bogus"], "unknown option --bogus"),
        (["--city"], "--city needs a value"),
        (["--city", "a\tb"], "control characters"),
    ],
)
def test_bad_arguments_give_one_clear_line(args: list[str], message: str) -> None:
    result = dry_run(*args, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_sudoers_rule_is_valid_and_narrow() -> None:
    sudoers = PROV / "files" / "sudoers-osc-player"
    rules = [line for line in sudoers.read_text().splitlines() if line and not line.startswith("#")]
    assert rules == [
        "osc-player ALL=(root) NOPASSWD: /usr/bin/systemctl reboot, /usr/bin/systemctl restart osc-player, "
        "/usr/bin/systemctl restart osc-player.service"
    ]
    visudo = shutil.which("visudo") or ("/usr/sbin/visudo" if Path("/usr/sbin/visudo").exists() else None)
    if visudo:
        result = subprocess.run([visudo, "-cqf", str(sudoers)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr


def test_help_lists_every_option() -> None:
    result = subprocess.run(["bash", str(INSTALL), "--help"], capture_output=True, text=True, check=True)
    handled = set(re.findall(r"^\s+(--[a-z-]+)\)", INSTALL.read_text(), re.M))
    assert handled, "no options found"
    for option in handled:
        assert option in result.stdout, option


def test_cloud_init_user_data() -> None:
    text = (PROV / "cloud-init" / "user-data").read_text()
    assert text.startswith("#cloud-config\n")
    # every option the template passes to install.sh exists
    handled = set(re.findall(r"^\s+(--[a-z-]+)\)", INSTALL.read_text(), re.M))
    used = set(re.findall(r"^\s+- (--[a-z-]+)\s*$", text, re.M))
    assert used and used <= handled, used - handled
    placeholders = set(re.findall(r"@@[A-Z_]+@@", text))
    documented = set(re.findall(r"#\s+(@@[A-Z_]+@@)", text))
    assert placeholders == documented
    python = TOOLS_VENV / "bin" / "python"
    if python.exists():
        code = (
            "import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); assert d['runcmd'] and d['write_files']"
        )
        subprocess.run([str(python), "-c", code, str(PROV / "cloud-init" / "user-data")], check=True)


def test_ansible_syntax_check() -> None:
    exe = need_tool("ansible-playbook")
    result = subprocess.run(
        [exe, "--syntax-check", "site.yml"],
        cwd=PROV / "ansible",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint() -> None:
    exe = need_tool("ansible-lint")
    result = subprocess.run(
        [exe, "--offline", "-p", "site.yml", "roles/"],
        cwd=PROV / "ansible",
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "NO_COLOR": "1", "PATH": f"{TOOLS_VENV / 'bin'}:{os.environ['PATH']}"},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


# ---- slow: a real run in a Debian chroot ------------------------------------------------------


def _host_mirror() -> str | None:
    """The Debian mirror this machine's apt already uses (never hard-coded here)."""
    for path in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")):
        if path.exists():
            match = re.search(
                r"^(?:URIs:\s*|deb\s+(?:\[[^]]*\]\s+)?)(\S+/debian)/?\s", path.read_text(), re.M
            )
            if match:
                return match.group(1)
    return None


@pytest.mark.slow
@pytest.mark.parametrize("suite", ["bookworm", "trixie"])  # Debian 12 and 13 (Pi OS is built on them)
def test_install_sh_for_real_in_a_debootstrap_chroot(tmp_path_factory: pytest.TempPathFactory, suite: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("debootstrap and chroot need root")
    debootstrap = need_tool("debootstrap", "run provisioning/dev-tools.sh (Debian package debootstrap)")
    mirror = _host_mirror()
    if mirror is None:
        pytest.skip("no Debian mirror configured on this machine")
    keep = os.environ.get("OSC_CHROOT_DIR")  # a developer's reusable chroots: <dir>/<suite>
    root = Path(keep) / suite if keep else tmp_path_factory.mktemp(f"chroot-{suite}") / "root"
    if not (root / "usr/bin/apt-get").exists():
        subprocess.run(
            [debootstrap, "--variant=minbase", "--include=ca-certificates,systemd,systemd-sysv,dbus",
             suite, str(root), mirror],
            check=True, timeout=1800, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    # this machine's CA bundle (it may hold a local proxy's CA), for pip inside the chroot only
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", root / "etc/osc-test-ca.crt")
    src = root / "opt/osc-player-src"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(
        REPO,
        src,
        ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", ".pytest_cache"),
    )
    if not (src / "README.md").exists():
        (src / "README.md").write_text("osc-player\n")
    (root / "root/key").write_text("chroot-test-key\n")
    proc = root / "proc"
    subprocess.run(["mount", "-t", "proc", "proc", str(proc)], check=True)
    env = {k: v for k, v in os.environ.items() if k.startswith("PIP_") and k != "PIP_FIND_LINKS"}
    env.update(PIP_CERT="/etc/osc-test-ca.crt", SSL_CERT_FILE="/etc/osc-test-ca.crt")
    env.update(PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG="C.UTF-8")
    args = [
        "/opt/osc-player-src/provisioning/install.sh", "--source", "/opt/osc-player-src",
        "--hub-url", "https://hub.example.org/parse", "--app-id", "chroot", "--city", "Teststadt",
        "--api-key-file", "/root/key", "--schedule", "mon-fri=06:00-22:00", "--timezone", "Europe/Berlin",
        "--no-start",
    ]  # fmt: skip
    try:
        first = subprocess.run(
            ["chroot", str(root), *args], capture_output=True, text=True, timeout=3000, env=env, check=False
        )
        assert first.returncode == 0, first.stdout[-5000:] + first.stderr[-5000:]
        second = subprocess.run(
            ["chroot", str(root), *args], capture_output=True, text=True, timeout=1200, env=env, check=False
        )
        assert second.returncode == 0, second.stdout[-5000:] + second.stderr[-5000:]
    finally:
        subprocess.run(["umount", "-l", str(proc)], check=False)

    # idempotent: the second run rewrote nothing and installed no packages
    assert "wrote " not in second.stdout, second.stdout
    assert "installing packages" not in second.stdout
    assert (root / "opt/osc-player/venv/bin/osc-player").exists()
    config = tomllib.loads((root / "etc/osc-player/player.toml").read_text())
    assert config["hub"]["app_id"] == "chroot"
    secrets = root / "etc/osc-player/secrets.toml"
    assert secrets.stat().st_mode & 0o777 == 0o600
    passwd = (root / "etc/passwd").read_text()
    uid = re.search(r"^osc-player:x:(\d+):", passwd, re.M)
    assert uid and secrets.stat().st_uid == int(uid.group(1))
    wants = root / "etc/systemd/system/multi-user.target.wants"
    assert (wants / "osc-player.service").is_symlink() and (wants / "osc-kiosk-x.service").is_symlink()
    assert (root / "etc/systemd/system/default.target").resolve().name == "multi-user.target"
    assert (root / "etc/sudoers.d/osc-player").stat().st_mode & 0o777 == 0o440
    groups = (root / "etc/group").read_text()
    assert re.search(r"^video:.*osc-player", groups, re.M)
    # the installed player imports in its venv and the unit's ExecStart points at it
    check = subprocess.run(
        ["chroot", str(root), "/opt/osc-player/venv/bin/python", "-c", "import player.system.watchdog"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
