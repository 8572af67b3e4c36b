"""`osc-player sync --once` and `osc-player status` as an operator runs them (real processes, real HTTP on
127.0.0.1): the progress bar on a non-terminal stream, the status JSON including next_sync."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from player.cli import _ProgressBar
from player.clock import FakeClock
from player.snapshots import SnapshotStore
from player.sync import STATUS_FILE, SyncProgress, SyncService
from test_sync import NOISE, FaultServer, png, screen_doc, write_config

REPO = Path(__file__).resolve().parents[1]
BAR = re.compile(r"^\[([#.]{30})\] (\d+)/(\d+) files  (\d+\.\d)/(\d+\.\d) MB$")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "player.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})


def serve_screen(srv: FaultServer, count: int) -> list[str]:
    names = [f"m{i}.png" for i in range(count)]
    for i, name in enumerate(names):
        srv.set_file(f"/s/{name}", png((i * 20, 90, 255 - i * 20)))
    srv.set_file("/s/big.png", NOISE)
    names.append("big.png")
    srv.set_file("/s/screen.json", json.dumps(screen_doc(names)).encode(), "application/json")
    return names


def test_sync_once_draws_a_line_per_tenth_on_a_pipe(tmp_path: Path) -> None:
    with FaultServer({}, chunk_size=8 * 1024) as srv:
        names = serve_screen(srv, 9)
        write_config(tmp_path, srv.url("/s/screen.json"))
        res = run_cli("sync", "--once", "--config", str(tmp_path / "player.toml"))
    assert res.returncode == 0, res.stderr
    assert "\r" not in res.stderr, "a pipe gets whole lines, no in-place redraws"
    bars = [m for line in res.stderr.splitlines() if (m := BAR.match(line))]
    assert 1 <= len(bars) <= 12, res.stderr  # one per 10 % step (0..10) and the last file
    last = bars[-1]
    assert last.group(1) == "#" * 30 and last.group(2) == last.group(3) == str(len(names))
    done = [int(m.group(2)) for m in bars]
    assert done == sorted(done)
    summary = res.stderr.strip().splitlines()[-1]
    assert re.fullmatch(rf"sync: published \S+ \({len(names)} files, {len(names)} downloaded, \d+\.\d s\)", summary)


def test_progress_bar_steps_on_a_non_terminal_stream() -> None:
    out = io.StringIO()  # isatty() is False
    bar = _ProgressBar(out)
    for done in range(0, 41):
        bar(SyncProgress(done // 4, 10, done * 1000, 40_000))
    bar.end()
    lines = out.getvalue().splitlines()
    assert len(lines) == 11 and all(BAR.match(line) for line in lines)  # 0 %, 10 %, ... 100 %
    assert lines[0].startswith("[" + "." * 30 + "] 0/10") and lines[-1].startswith("[" + "#" * 30 + "] 10/10")


def test_status_json_after_the_player_synced(tmp_path: Path) -> None:
    with FaultServer({}) as srv:
        names = serve_screen(srv, 3)
        config = write_config(tmp_path, srv.url("/s/screen.json"))
        start = datetime(2026, 5, 4, 8, 30, tzinfo=UTC)
        published = threading.Event()
        service = SyncService.from_config(config, clock=FakeClock(start), on_published=lambda c: published.set())
        stop = threading.Event()
        status_file = config.state_dir / STATUS_FILE
        original_write = service.write_status

        def write_then_stop(force: bool = False) -> bool:  # the loop's first status write ends this run
            written = original_write(force)
            stop.set()
            service.wake()
            return written

        service.write_status = write_then_stop  # type: ignore[method-assign]
        service.recover()
        runner = threading.Thread(target=service.run_forever, args=(stop,))
        runner.start()
        runner.join(60)
        assert not runner.is_alive() and published.is_set()
        service.close()
        assert status_file.exists()

        res = run_cli("status", "--config", str(tmp_path / "player.toml"))
    assert res.returncode == 0, res.stderr
    status = json.loads(res.stdout)
    snap = SnapshotStore(config.cache_dir).load_current()
    assert snap is not None
    assert status["snapshot"]["id"] == snap.id and status["snapshot"]["files"] == len(names)
    assert status["source"] == {"type": "http", "name": srv.url("/s/screen.json")}
    assert status["last_sync"] == {"result": "published", "message": "", "snapshot_id": snap.id}
    assert status["last_sync_at"] == status["last_success"] == status["last_checked"] == start.isoformat()
    assert status["next_sync"] == (start + timedelta(seconds=60)).isoformat()  # sync.interval_s = 60
    assert status["interval_s"] == 60
    assert status["cache"]["files"] >= len(names) + 1  # the media and the document
    assert status["cache"]["bytes"] >= len(NOISE)
    assert status["cache"]["quota_bytes"] == config["cache"]["quota_mb"] * 1024 * 1024


def test_status_json_before_any_sync(tmp_path: Path) -> None:
    write_config(tmp_path)
    res = run_cli("status", "--config", str(tmp_path / "player.toml"))
    assert res.returncode == 0, res.stderr
    status = json.loads(res.stdout)
    assert status["snapshot"] is None and status["last_sync"] is None and status["next_sync"] is None
    assert status["cache"]["files"] == 0
