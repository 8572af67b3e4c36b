"""kill -9 at several moments of `osc-player sync --once`, then a restart: consistent cache, complete snapshot."""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from player.cache import ContentCache, hash_file
from player.snapshots import SnapshotStore
from test_sync import screen_doc, write_config

try:
    from tests.httpfaults import FaultServer
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from httpfaults import FaultServer  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[1]


def photo(seed: int) -> bytes:
    rnd = random.Random(seed)
    img = Image.new("RGB", (1600, 1200), (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    img.putpixel((seed, seed), (0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def blob(seed: int) -> bytes:
    return random.Random(seed).randbytes(300_000)


def start_sync(config_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "player.cli", "sync", "--once", "--quiet", "--config",
                             str(config_path)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def assert_consistent(cache_dir: Path) -> None:
    """No partial or corrupt file in the store, and the published snapshot (if any) is complete.

    Checked on a copy: the check's own repair (it sweeps temp files too) must not do the restart's work."""
    copy = cache_dir.with_name(cache_dir.name + "-check")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(cache_dir, copy)
    cache_dir = copy
    cache = ContentCache(cache_dir, 10**9)
    try:
        report = cache.check_consistency(deep=True)
        assert report.removed_rows == [] and report.removed_files == [], report
        for p in (cache_dir / "files").rglob("*"):
            if p.is_file():
                assert hash_file(p)[0] == p.name
        snap = SnapshotStore(cache_dir).load_current()
        if snap is not None:
            assert all(cache.has(s) for s in snap.files.values()), "published snapshot with a missing file"
    finally:
        cache.close()


def assert_no_orphans(tmp_path: Path) -> None:
    """After a clean start and a completed sync nothing of the killed processes is left: cache_dir/tmp is empty
    (every partial download was finished and moved in) and no temp file of an atomic write remains anywhere."""
    cache_dir, state_dir = tmp_path / "cache", tmp_path / "state"
    assert sorted(p.name for p in (cache_dir / "tmp").iterdir()) == []
    leftovers = [p for d in (cache_dir, state_dir) if d.exists() for p in d.rglob("*")
                 if p.is_file() and (p.name.endswith(".tmp") or ".osc-" in p.name or p.name.startswith("osc-"))]
    assert leftovers == []


@pytest.mark.slow
def test_kill_9_at_several_moments_then_restart_completes(tmp_path: Path) -> None:
    files = {f"/s/p{i}.jpg": photo(i) for i in range(4)} | {f"/s/b{i}.bin": blob(i) for i in range(4)}
    refs = [p[len("/s/"):] for p in files]
    with FaultServer(files, chunk_size=8 * 1024) as srv:
        srv.set_file("/s/screen.json", json.dumps(screen_doc(refs)).encode(), "application/json")
        config = write_config(tmp_path, srv.url("/s/screen.json"))
        config_path = tmp_path / "player.toml"
        for path in files:
            srv.fault(path, delay=0.01)
        # kill when the n-th media request has arrived (+ a random offset), and once at random times
        rnd = random.Random(5)
        kill_points = [1, 3, 5, 7, 8]
        for n in kill_points:
            before = sum(srv.arrivals(p) for p in files)
            proc = start_sync(config_path)
            deadline = time.monotonic() + 30
            while sum(srv.arrivals(p) for p in files) < before + n and proc.poll() is None:
                assert time.monotonic() < deadline, "sync made no progress"
                time.sleep(0.005)
            time.sleep(rnd.uniform(0, 0.15))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            assert_consistent(config.cache_dir)
        srv.release()
        srv.clear_faults()
        proc = start_sync(config_path)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        assert_no_orphans(tmp_path)
        assert_consistent(config.cache_dir)
        snap = SnapshotStore(config.cache_dir).load_current()
        assert snap is not None and set(snap.files) == set(refs)
        cache = ContentCache(config.cache_dir, 10**9)
        try:
            for path, data in files.items():
                assert cache.read_bytes(snap.files[path[len("/s/"):]]) == data
        finally:
            cache.close()
        resumed = [r for r in srv.records if "range" in r.headers and r.status == 206]
        assert resumed, "no download was resumed after a kill"


def test_kill_9_during_publish_window(tmp_path: Path) -> None:
    """Kill at random instants of a fast sync (prepare + publish), repeatedly; every state is consistent."""
    files = {f"/s/p{i}.jpg": photo(10 + i) for i in range(3)}
    refs = [p[len("/s/"):] for p in files]
    with FaultServer(files) as srv:
        srv.set_file("/s/screen.json", json.dumps(screen_doc(refs)).encode(), "application/json")
        config = write_config(tmp_path, srv.url("/s/screen.json"))
        rnd = random.Random(7)
        for _ in range(4):
            proc = start_sync(tmp_path / "player.toml")
            time.sleep(rnd.uniform(0.3, 1.2))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            assert_consistent(config.cache_dir)
        proc = start_sync(tmp_path / "player.toml")
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        assert_no_orphans(tmp_path)
        assert_consistent(config.cache_dir)
        assert SnapshotStore(config.cache_dir).load_current() is not None
