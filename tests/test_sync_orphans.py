"""Temp files left by a killed process are found by the owner in their name, not by their time: recover() sweeps
them from cache_dir/tmp, the snapshot directory and state_dir even when the clock was set back after they were
written, and leaves the in-flight files of a process that still runs alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from player.atomic import owner_alive, sweep_orphan_temps, temp_owner, temp_prefix
from test_sync import FaultServer, make_env

REPO = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import sys, tempfile
    from player.atomic import temp_prefix
    from player.cache import ContentCache
    cache = ContentCache(sys.argv[1], 10**8)
    names = [cache.new_temp_path(), cache.new_temp_path(".jpg")]
    for directory, stem in ((sys.argv[2], ".sync-status.json"), (sys.argv[3], ".current")):
        fd, name = tempfile.mkstemp(prefix=temp_prefix(stem), suffix=".tmp", dir=directory)
        names.append(name)
    print(" ".join(map(str, names)), flush=True)
    sys.stdin.read()  # stay alive until the test closes stdin
""")


def start_writer(cache_dir: Path, state_dir: Path, snap_dir: Path) -> tuple[subprocess.Popen[str], list[Path]]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(cache_dir), str(state_dir), str(snap_dir)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None
    names = [Path(n) for n in proc.stdout.readline().split()]
    assert len(names) == 4, "the writer did not report its temp files"
    return proc, names


def set_clock_back(paths: list[Path]) -> None:
    """The files were written 'in the future': a Pi without RTC whose clock was set back after they were made."""
    future = time.time() + 30 * 24 * 3600
    for p in paths:
        os.utime(p, (future, future))


def test_recover_sweeps_a_killed_writers_temp_files_and_keeps_a_running_ones(tmp_path: Path) -> None:
    with FaultServer({}) as srv:
        env = make_env(srv, tmp_path)
        try:
            state_dir, snap_dir = env.config.state_dir, env.store.dir
            state_dir.mkdir(parents=True, exist_ok=True)
            killed, dead_files = start_writer(env.cache.root, state_dir, snap_dir)
            killed.send_signal(signal.SIGKILL)
            killed.wait(10)
            running, live_files = start_writer(env.cache.root, state_dir, snap_dir)
            mine = env.cache.new_temp_path()
            resumable = [env.cache.tmp_dir / ("1" * 64 + ".part"), env.cache.tmp_dir / ("1" * 64 + ".part.json")]
            for p in resumable:
                p.write_bytes(b"{}")
            set_clock_back([*dead_files, *live_files, mine, *resumable])
            try:
                assert all(p.exists() for p in dead_files + live_files)
                assert env.service.recover()
                assert [p for p in dead_files if p.exists()] == [], "orphans of the killed process remain"
                assert all(p.exists() for p in live_files), "in-flight files of a running process were deleted"
                assert mine.exists() and all(p.exists() for p in resumable)
            finally:
                assert running.stdin is not None
                running.stdin.close()
                running.wait(10)
            env.service.recover()
            assert [p for p in live_files if p.exists()] == [], "the writer has exited: its files are orphans now"
            assert mine.exists()
        finally:
            env.close()


def test_owner_marks_tell_a_reused_pid_and_another_boot_apart(tmp_path: Path) -> None:
    me = temp_owner()
    pid, ticks, boot = me.split("-")
    assert owner_alive(me)
    assert not owner_alive(f"{pid}-{int(ticks) + 1}-{boot}"), "same pid, other start time: a reused pid"
    assert not owner_alive(f"{pid}-{ticks}-{'f' * 12 if boot != 'f' * 12 else 'e' * 12}"), "written before a reboot"
    assert not owner_alive("garbage")
    assert temp_prefix(".x.json") == f".x.json.osc-{me}."
    reused = tmp_path / f".x.json.osc-{pid}-{int(ticks) + 1}-{boot}.abcdefgh.tmp"
    reused.write_bytes(b"")
    other = tmp_path / ".x.json.tmp-notours"
    other.write_bytes(b"")
    assert sweep_orphan_temps(tmp_path) == [reused]
    assert other.exists()


def test_a_writer_hidden_from_proc_counts_as_alive(monkeypatch) -> None:  # noqa: ANN001
    """The unit's ProtectProc=invisible hides other users' processes (a `sudo osc-player sync --once`): no /proc
    entry must not mean "gone" while the pid still exists. The hiding is the edge simulated here."""
    import os

    from player import atomic

    monkeypatch.setattr(atomic, "_proc_start", lambda _pid: None)
    boot = atomic._boot_id()
    assert atomic.owner_alive(f"{os.getppid()}-1-{boot}")  # a live process we cannot see in /proc
    assert not atomic.owner_alive(f"{4_000_000 + 12_345}-1-{boot}")  # beyond pid_max: certainly gone
