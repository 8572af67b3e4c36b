"""A player running for months: abandoned files in the cache's tmp/ go while it runs (ContentCache.sweep_tmp, which
sync and fetch_many call), and last-use times stamped while the clock ran ahead do not skew the eviction order."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from player.cache import ContentCache
from player.fetch import Downloader, FetchError

try:
    from tests.httpfaults import FaultServer
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from httpfaults import FaultServer  # type: ignore[no-redef]

HOUR = 3600.0
DAY = 24 * HOUR
BIG = bytes(range(256)) * 1200  # 307200 bytes
SMALL = b"tiny file\n"


class FakeClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def mono() -> FakeClock:
    return FakeClock(500.0)


@pytest.fixture
def cache(tmp_path: Path, mono: FakeClock) -> Iterator[ContentCache]:
    c = ContentCache(tmp_path / "cache", quota_bytes=50_000_000, monotonic=mono)
    yield c
    c.close()


def partial(cache: ContentCache, url: str, data: bytes, meta: dict[str, object] | None = None) -> tuple[Path, Path]:
    """A partial download of *url* as player.fetch leaves it (``<sha256(url)>.part`` + ``.part.json``)."""
    part = cache.tmp_dir / f"{sha(url.encode())}.part"
    sidecar = part.with_name(part.name + ".json")
    part.write_bytes(data)
    if meta is not None:
        sidecar.write_text(json.dumps({"url": url, "total": 10_000, **meta}))
    return part, sidecar


def names(cache: ContentCache) -> set[str]:
    return {p.name for p in cache.tmp_dir.iterdir()}


def test_abandoned_temp_files_go_after_an_hour_unchanged_resumable_partials_after_a_week(
    cache: ContentCache, mono: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    dead = cache.tmp_dir / "osc-4242-17-000000000000.abc123.tmp"  # written before another boot: its writer is gone
    dead.write_bytes(b"x" * 1000)
    mine = cache.new_temp_path()  # this process's, e.g. a put_bytes that hit a full disk
    mine.write_bytes(b"y" * 2000)
    busy = cache.new_temp_path()  # this process's, still being written
    resumable = partial(cache, "https://hub.example/v.mp4", b"v" * 3000, {"etag": '"e1"', "last_modified": None})
    by_date = partial(cache, "https://hub.example/b.jpg", b"b" * 10, {"etag": None, "last_modified": "Mon, 1 Jan"})
    weak = partial(cache, "https://hub.example/w.jpg", b"w" * 10, {"etag": 'W/"e"', "last_modified": None})
    lonely_part, _ = partial(cache, "https://hub.example/l.jpg", b"l" * 10)  # no sidecar: restarts from 0
    _, lonely_sidecar = partial(cache, "https://hub.example/s.jpg", b"", {"etag": '"e"'})
    (cache.tmp_dir / f"{sha(b'https://hub.example/s.jpg')}.part").unlink()  # the empty partial goes, its sidecar stays
    unmarked = cache.tmp_dir / "tmpabcdef.png"  # named the old way
    unmarked.write_bytes(b"u")

    with caplog.at_level(logging.INFO, logger="player.cache"):
        assert cache.sweep_tmp() == ["tmp/" + dead.name], "a file of a process that is gone goes at once"
        mono.t += HOUR - 1
        busy.write_bytes(b"growing")
        assert cache.sweep_tmp() == [], "nothing unchanged for an hour yet"
        mono.t += 1
        busy.write_bytes(b"growing more")
        gone = set(cache.sweep_tmp())
    assert gone == {f"tmp/{p.name}" for p in (mine, *weak, lonely_part, lonely_sidecar, unmarked)}
    assert names(cache) == {busy.name, *(p.name for p in (*resumable, *by_date))}, \
        "a file still being written and partials the next fetch can resume stay"
    sweeps = [r.getMessage() for r in caplog.records if "abandoned temp files" in r.getMessage()]
    assert len(sweeps) == 2 and sweeps[1].startswith("cache: removed 6 abandoned temp files (0.0 MB)")

    mono.t += 7 * DAY - HOUR - 1
    busy.write_bytes(b"still growing")
    assert cache.sweep_tmp() == []
    mono.t += 1
    assert set(cache.sweep_tmp()) == {f"tmp/{p.name}" for p in (*resumable, *by_date)}, \
        "a partial unchanged for a week is given up with its sidecar"
    assert names(cache) == {busy.name}


def test_partials_of_urls_the_content_no_longer_asks_for_go_after_an_hour(cache: ContentCache,
                                                                         mono: FakeClock) -> None:
    wanted = partial(cache, "https://hub.example/new.mp4", b"n" * 10, {"etag": '"n"'})
    dropped = partial(cache, "https://hub.example/old.mp4", b"o" * 10, {"etag": '"o"'})
    keep = ["https://hub.example/new.mp4", "https://hub.example/other.jpg"]
    assert cache.sweep_tmp(keep) == []
    mono.t += HOUR
    assert set(cache.sweep_tmp(keep)) == {f"tmp/{p.name}" for p in dropped}
    assert names(cache) == {p.name for p in wanted}


def test_temp_files_of_another_running_process_stay_until_it_is_gone(cache: ContentCache, mono: FakeClock) -> None:
    code = "from player.atomic import temp_owner; print(temp_owner(), flush=True); input()"
    with subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True, cwd=Path(__file__).resolve().parents[1]) as worker:  # e.g. `osc-player sync --once`
        assert worker.stdout is not None and worker.stdin is not None
        theirs = cache.tmp_dir / f"osc-{worker.stdout.readline().strip()}.k3y.tmp"
        theirs.write_bytes(b"in flight")
        cache.sweep_tmp()
        mono.t += 30 * DAY
        assert cache.sweep_tmp() == []
        worker.stdin.close()  # the worker ends (as if killed) with its temp file left behind
    assert cache.sweep_tmp() == [f"tmp/{theirs.name}"]


def test_a_partial_a_download_holds_is_never_removed(cache: ContentCache, mono: FakeClock) -> None:
    part, sidecar = partial(cache, "https://hub.example/v.mp4", b"v" * 10)  # sidecar-less: not resumable
    with open(part, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # how player.fetch holds a partial it writes
        cache.sweep_tmp()
        mono.t += 30 * DAY
        assert cache.sweep_tmp() == []
        assert part.exists()
    mono.t += 1
    assert cache.sweep_tmp() == [f"tmp/{part.name}"], "once released, an abandoned partial goes"


@pytest.fixture
def srv() -> Iterator[FaultServer]:
    with FaultServer({"/big.bin": BIG, "/small.txt": SMALL}) as server:
        yield server


def test_fetch_many_drops_old_partials_first_and_resumes_wanted_ones(srv: FaultServer, cache: ContentCache,
                                                                    mono: FakeClock,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    big, small = srv.url("/big.bin"), srv.url("/small.txt")
    with Downloader(cache, retries=0, backoff_base=0.001) as dl:
        srv.fault("/big.bin", drop_after=50_000, times=1)  # a hub outage in the middle of the download
        assert isinstance(dl.fetch_many([big])[big], FetchError)
        assert len(names(cache)) == 2
        dl.sweep_tmp()  # the sync pass that failed
        mono.t += 2 * HOUR
        dl.sweep_tmp()  # sync passes while the hub is down: the partial is kept for resuming
        assert dl.fetch_many([big, small])[big].sha == sha(BIG)  # type: ignore[union-attr]
        assert srv.requests_for("/big.bin")[1].headers["range"] == "bytes=50000-"
        assert names(cache) == set()

        srv.fault("/big.bin", drop_after=100_000, times=1)
        cache.remove(sha(BIG))
        assert isinstance(dl.fetch_many([big])[big], FetchError)
        dl.sweep_tmp()
        mono.t += HOUR
        with caplog.at_level(logging.INFO, logger="player.cache"):
            srv.set_file("/small.txt", b"new content, without big.bin")
            assert dl.fetch_many([small])[small].sha == sha(b"new content, without big.bin")  # type: ignore[union-attr]
    assert names(cache) == set(), "the partial of a file the content no longer has is gone"
    assert any(r.getMessage().startswith("cache: removed 2 abandoned temp files (0.1 MB)") for r in caplog.records)


def test_a_running_download_keeps_its_partial(srv: FaultServer, cache: ContentCache, mono: FakeClock) -> None:
    url = srv.url("/big.bin")
    srv.fault("/big.bin", block_after=60_000, times=1)
    halfway = threading.Event()
    result: list[object] = []

    def progress(_done: int, _total: int, nbytes: int, _all: int) -> None:
        if nbytes >= 60_000:
            halfway.set()

    with Downloader(cache, retries=0) as dl:
        worker = threading.Thread(target=lambda: result.append(dl.fetch(url, progress=progress)))
        worker.start()
        try:
            assert halfway.wait(30)
            cache.sweep_tmp([])  # not even asked for by the content
            mono.t += 30 * DAY
            assert cache.sweep_tmp([]) == []
        finally:
            srv.release()
            worker.join(30)
    assert result and result[0].sha == sha(BIG)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- last-use times from a clock ahead


def stored_last_used(cache: ContentCache, s: str) -> float:
    with sqlite3.connect(cache.index_path) as db:
        return float(db.execute("SELECT last_used FROM files WHERE sha=?", (s,)).fetchone()[0])


def test_last_use_stamped_while_the_clock_ran_ahead_does_not_protect_a_file_from_eviction(tmp_path: Path) -> None:
    clock = FakeClock(1_700_000_000.0 + 400 * DAY)  # booted without RTC at a wrong date
    cache = ContentCache(tmp_path / "c", quota_bytes=1000, clock=clock)
    used = cache.put_bytes(b"u" * 400)  # on screen before and after NTP
    clock.t += 60
    stale = cache.put_bytes(b"s" * 400)  # shown only while the clock was ahead
    clock.t = 1_700_000_000.0  # NTP sets the clock back
    for _ in range(3):
        clock.t += HOUR
        cache.touch(used)
    assert cache.entry(stale).last_used <= clock.t  # type: ignore[union-attr]
    clock.t += 60
    cache.put_bytes(b"n" * 400)  # needs the room of one of them
    assert cache.has(used) and not cache.has(stale), "the file in use was evicted, the stale one kept"
    cache.close()


def test_a_touch_rewrites_a_last_use_in_the_future_as_now(tmp_path: Path) -> None:
    clock = FakeClock(1_700_000_000.0 + 30 * DAY)
    cache = ContentCache(tmp_path / "c", quota_bytes=1000, clock=clock)
    s = cache.put_bytes(b"a")
    cache.touch(s)
    clock.t = 1_700_000_000.0
    cache.touch(s)
    cache.flush_touches()
    assert stored_last_used(cache, s) == clock.t
    clock.t += HOUR
    cache.touch(s)
    cache.flush_touches()
    assert stored_last_used(cache, s) == clock.t, "and from then on it follows the uses"
    cache.close()


def test_a_write_that_fails_leaves_no_temp_file(tmp_path: Path) -> None:
    root = tmp_path / "c"
    ContentCache(root, quota_bytes=10_000_000).close()
    code = (  # a file-size limit stands in for the full SD card: the write fails half-way (EFBIG)
        "import resource, signal, sys\n"
        "from player.cache import ContentCache\n"
        "cache = ContentCache(sys.argv[1], quota_bytes=10_000_000)\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, resource.RLIM_INFINITY))\n"
        "try:\n"
        "    cache.put_bytes(b'x' * 1_000_000)\n"
        "except OSError as exc:\n"
        "    print('failed', exc.errno)\n"
        "print(sorted(p.name for p in cache.tmp_dir.iterdir()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.splitlines() == ["failed 27", "[]"], out.stderr
