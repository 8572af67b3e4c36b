"""One sync per cache at a time, across processes: the flock on cache_dir/sync.lock. A second `osc-player sync
--once` refuses with one line while another process syncs, and touches none of that process's files."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from player.atomic import temp_owner
from player.cache import ContentCache
from player.cli import EXIT_BUSY
from player.snapshots import SnapshotStore
from player.sync import STATUS_FILE, SYNC_LOCK_FILE
from test_sync import BLUE, GREEN, NOISE, RED, FaultServer, make_env, screen_doc, write_config

REPO = Path(__file__).resolve().parents[1]


def cli(config_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "player.cli", *args, "--config", str(config_path)]


def cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_second_sync_process_refuses_while_the_first_syncs(tmp_path: Path) -> None:
    files = {"/s/a.png": NOISE, "/s/b.png": RED}
    with FaultServer(files) as srv:
        srv.set_file("/s/screen.json", json.dumps(screen_doc(["a.png", "b.png"])).encode(), "application/json")
        config = write_config(tmp_path, srv.url("/s/screen.json"))
        srv.fault("/s/a.png", block_after=100_000)  # the first sync stops mid-file until released
        first = subprocess.Popen(cli(tmp_path / "player.toml", "sync", "--once", "--quiet"), cwd=REPO,
                                 env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert srv.blocked.wait(30), "the first sync did not start downloading"
            key = hashlib.sha256(srv.url("/s/a.png").encode()).hexdigest()
            parts = [config.cache_dir / "tmp" / f"{key}.part", config.cache_dir / "tmp" / f"{key}.part.json"]
            deadline = time.monotonic() + 30  # the sidecar is written (atomically) right after the headers
            while not all(p.exists() for p in parts):
                assert time.monotonic() < deadline, sorted(p.name for p in (config.cache_dir / "tmp").iterdir())
                time.sleep(0.01)

            second = subprocess.run(cli(tmp_path / "player.toml", "sync", "--once", "--quiet"), cwd=REPO,
                                    env=cli_env(), capture_output=True, text=True, timeout=60)
            assert second.returncode == EXIT_BUSY
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1, second.stderr
            assert lines[0].startswith("sync: refused: another osc-player process")
            assert str(config.cache_dir / SYNC_LOCK_FILE) in lines[0]
            assert all(p.exists() for p in parts), "the refused process deleted the other one's partial download"
            assert srv.count("/s/screen.json") == 1, "the refused process asked the source"
        finally:
            srv.release()
            out, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
        snap = SnapshotStore(config.cache_dir).load_current()
        assert snap is not None and set(snap.files) == {"a.png", "b.png"}
        with ContentCache(config.cache_dir, 10**9) as cache:
            assert cache.read_bytes(snap.files["a.png"]) == NOISE
        # the lock is free again: a sync now runs (and finds nothing changed)
        again = subprocess.run(cli(tmp_path / "player.toml", "sync", "--once", "--quiet"), cwd=REPO,
                               env=cli_env(), capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr


def test_busy_cache_postpones_recover_and_sync_without_touching_anything(tmp_path: Path) -> None:
    with FaultServer({"/s/r.png": RED, "/s/g.png": GREEN, "/s/b.png": BLUE}) as srv:
        env = make_env(srv, tmp_path)
        env.publish_doc(screen_doc(["r.png", "g.png"]))
        try:
            # an orphan of a process that is gone (same pid, other start time)
            pid, ticks, bid = temp_owner().split("-")
            orphan = env.cache.tmp_dir / f"osc-{pid}-{int(ticks) + 1}-{bid}.abcdefgh.tmp"
            orphan.write_bytes(b"x")
            env.cache.pin("pending", [])  # another process's pending pin would be kept too
            holder = os.open(env.cache.root / SYNC_LOCK_FILE, os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # "the other process" syncs now
                assert env.service.recover() is False
                assert orphan.exists()
                outcome = env.service.sync_once()
                assert outcome.result == "busy" and not outcome.ok
                assert env.srv.records == [] and env.published == [] and env.errors == []
                assert not (env.config.state_dir / STATUS_FILE).exists()
            finally:
                os.close(holder)
            outcome = env.service.sync_once()
            assert outcome.result == "published"
            assert not orphan.exists(), "the postponed repair ran before the sync"
        finally:
            env.close()
