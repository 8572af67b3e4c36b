"""A player running for months: abandoned files in the cache's tmp/ go while it runs (ContentCache.sweep_tmp, which
sync and fetch_many call), and last-use times stamped while the clock ran ahead do not skew the eviction order."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

import player.cache
import player.removal
from player.cache import ContentCache
from player.fetch import Downloader, FetchError
from player.removal import remove_same_device

try:
    from tests.httpfaults import FaultServer
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from httpfaults import FaultServer  # type: ignore[no-redef]

T = TypeVar("T")
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


# ---------------------------------------------------------------------------- what else may be found in tmp/


def guarded(fn: Callable[[], T], fifos: Iterable[Path] = ()) -> T:
    """fn() in a thread, joined with a hang guard (not a timing threshold): opening a FIFO for reading blocks until
    a writer comes, which may be never. A blocked opener is released (a writer opens and closes each FIFO) so the
    thread does not outlive the test, and the test fails."""
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # handed to the test
            error.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(30)
    hung = worker.is_alive()
    while worker.is_alive():
        for fifo in fifos:
            with contextlib.suppress(OSError):  # ENXIO: nobody reading it
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(0.1)
    assert not hung, "blocked on a FIFO"
    if error:
        raise error[0]
    return result[0]


def test_fifos_in_tmp_do_not_hang_the_sweep_and_go_like_any_stray_file(cache: ContentCache, mono: FakeClock) -> None:
    """A FIFO named like a partial (or a sidecar), left by a broken tool: the sweep runs under sync's lock, so a
    sweep blocked opening it stopped syncing for good."""
    fifo_part, _ = partial(cache, "https://hub.example/a.mp4", b"")
    fifo_part.unlink()
    os.mkfifo(fifo_part)  # alone
    part_b, fifo_sidecar = partial(cache, "https://hub.example/b.mp4", b"b" * 10)
    os.mkfifo(fifo_sidecar)  # beside a real partial
    fifo_c, sidecar_c = partial(cache, "https://hub.example/c.mp4", b"", {"etag": '"c"'})
    fifo_c.unlink()
    os.mkfifo(fifo_c)  # beside a real sidecar
    fifos = [fifo_part, fifo_sidecar, fifo_c]

    assert guarded(cache.sweep_tmp, fifos) == []
    mono.t += HOUR
    gone = guarded(cache.sweep_tmp, fifos)
    assert sorted(gone) == sorted(f"tmp/{p.name}" for p in (*fifos, part_b, sidecar_c))
    assert names(cache) == set()


def test_fifos_in_tmp_do_not_hang_the_check_at_start(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path / "c", quota_bytes=1_000_000)
    part, sidecar = partial(cache, "https://hub.example/a.mp4", b"")
    part.unlink()
    os.mkfifo(part)
    sidecar.write_text(json.dumps({"url": "https://hub.example/a.mp4", "etag": '"a"'}))
    report = guarded(cache.check_consistency, [part])
    assert sorted(report.removed_temp) == sorted(f"tmp/{p.name}" for p in (part, sidecar))
    assert names(cache) == set()
    cache.close()


def test_downloads_get_past_fifos_links_and_directories_in_tmp(srv: FaultServer, cache: ContentCache,
                                                               mono: FakeClock, tmp_path: Path) -> None:
    """What a broken tool may leave where a download keeps its partial and sidecar: a FIFO (reading it blocked the
    download for good), a directory, a symbolic link (the download wrote through it, outside the cache). A
    directory with content is never removed by the download (a file system mounted inside would be emptied with
    it): a retryable error until the sweep removed it."""
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not the cache's")
    urls = {name: srv.url(f"/{name}") for name in ("p", "s", "d", "e", "l", "k")}
    for name in urls:
        srv.set_file(f"/{name}", f"content of {name}\n".encode() * 100)

    def paths(name: str) -> tuple[Path, Path]:
        part = cache.tmp_dir / f"{sha(urls[name].encode())}.part"
        return part, part.with_name(part.name + ".json")

    os.mkfifo(paths("p")[0])  # FIFO partial
    os.mkfifo(paths("s")[1])  # FIFO sidecar
    paths("d")[0].mkdir()  # directory partial, not empty
    (paths("d")[0] / "x").write_bytes(b"x")
    (paths("d")[0] / "link").symlink_to(outside)
    paths("e")[0].mkdir()  # directory partial, empty
    paths("l")[0].symlink_to(outside)  # partial linked outside the cache
    paths("k")[1].symlink_to(outside)  # sidecar linked outside the cache
    fifos = [paths("p")[0], paths("s")[1]]
    with Downloader(cache, retries=0) as dl:
        results = guarded(lambda: dl.fetch_many(urls.values()), fifos)
        for name, url in urls.items():
            got = results[url]
            if name == "d":
                assert isinstance(got, FetchError) and "sweep removes it later" in str(got), got
                assert (paths("d")[0] / "x").read_bytes() == b"x"
                continue
            assert not isinstance(got, FetchError), got
            assert cache.read_bytes(got.sha) == f"content of {name}\n".encode() * 100
        assert names(cache) == {paths("d")[0].name}
        assert cache.sweep_tmp() == []
        mono.t += HOUR
        assert cache.sweep_tmp() == [f"tmp/{paths('d')[0].name}"]
        got = dl.fetch(urls["d"])
        assert cache.read_bytes(got.sha) == b"content of d\n" * 100
    assert names(cache) == set()
    assert outside.read_bytes() == b"not the cache's"


def test_a_directory_named_like_a_partial_goes_with_its_content_links_not_followed(
    cache: ContentCache, mono: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before, one alone was never removed (EISDIR) and logged a warning at every sync pass, forever (1,440 lines
    a day at a 60 s poll); one with a sidecar was kept for a week as a resumable partial."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_bytes(b"keep")
    part, sidecar = partial(cache, "https://hub.example/d.mp4", b"", {"etag": '"d"'})
    part.unlink()
    part.mkdir()
    (part / "sub").mkdir()
    (part / "sub" / "f").write_bytes(b"f" * 100)
    (part / "to-dir").symlink_to(outside, target_is_directory=True)
    (part / "to-file").symlink_to(outside / "keep.txt")
    alone, _ = partial(cache, "https://hub.example/e.mp4", b"")
    alone.unlink()
    alone.mkdir()
    with caplog.at_level(logging.INFO, logger="player.cache"):
        assert cache.sweep_tmp() == []
        gone: list[str] = []
        for _ in range(4):
            mono.t += HOUR
            gone += cache.sweep_tmp()
    assert sorted(gone) == sorted(f"tmp/{p.name}" for p in (part, sidecar, alone))
    assert names(cache) == set()
    assert [p.name for p in outside.iterdir()] == ["keep.txt"] and (outside / "keep.txt").read_bytes() == b"keep"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_links_in_tmp_go_their_targets_stay(cache: ContentCache, mono: FakeClock, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_bytes(b"keep")
    part_link, _ = partial(cache, "https://hub.example/l.mp4", b"")
    part_link.unlink()
    part_link.symlink_to(outside / "keep.txt")
    dir_link = cache.tmp_dir / "stray-dir"
    dir_link.symlink_to(outside, target_is_directory=True)
    dangling = cache.tmp_dir / "dangling.part.json"
    dangling.symlink_to(tmp_path / "nowhere")
    assert cache.sweep_tmp() == []
    mono.t += HOUR
    assert sorted(cache.sweep_tmp()) == sorted(f"tmp/{p.name}" for p in (part_link, dir_link, dangling))
    assert names(cache) == set()
    assert [p.name for p in outside.iterdir()] == ["keep.txt"] and (outside / "keep.txt").read_bytes() == b"keep"


def keep_warnings(logger: str, into: str = "warnings", containing: str | None = None) -> str:
    """Script text: the messages of warnings (and worse) logged under *logger* are collected in list *into*, those
    containing *containing* only if it is given."""
    test = f" and {containing!r} in record.getMessage()" if containing else ""
    return f"""{into} = []
class Keep(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING{test}:
            {into}.append(record.getMessage())
logging.getLogger({logger!r}).addHandler(Keep())
"""


UNREMOVABLE = """
import json, logging, os, sys
from player.cache import ContentCache
import encodings.ascii, encodings.latin_1  # what the service user could not import later
base = sys.argv[1]
if os.geteuid() == 0:
    os.setgid(65534)
    os.setuid(65534)  # the service user: permissions count (root removes anything)
""" + keep_warnings("player.cache", "lines") + """
mono = [0.0]
cache = ContentCache(base + "/cache", quota_bytes=1_000_000, monotonic=lambda: mono[0])
tmp = cache.tmp_dir
(tmp / ("a" * 64 + ".part")).write_bytes(b"p" * 10)
(tmp / "stray.bin").write_bytes(b"s")
(tmp / "osc-4242-17-000000000000.abc123.tmp").write_bytes(b"d")  # of a process that is gone
os.mkdir(tmp / ("b" * 64 + ".part"))
os.chmod(tmp, 0o555)  # a read-only cache (as a read-only remount of the SD card would make it)
out = []
def sweep():
    lines.clear()
    removed = cache.sweep_tmp()
    out.append({"removed": sorted(removed), "warnings": list(lines)})
sweep()
mono[0] += 3600
for _ in range(5):
    sweep()
    mono[0] += 60
(tmp / "stray.bin").write_bytes(b"changed")  # a file still writable in the read-only directory
sweep()
mono[0] += 3600
sweep()
sweep()
os.chmod(tmp, 0o755)
sweep()
print(json.dumps(out))
"""


def test_a_temp_file_that_cannot_be_removed_is_logged_once_not_at_every_pass() -> None:
    """EACCES (a read-only cache): before, a warning at every sync pass, forever; now one per file, again only after
    the file changed; removed once it can be."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="osc-sweep-"))  # not below pytest's tmp_path: 'nobody' cannot enter that
    try:
        os.chmod(base, 0o777)
        res = subprocess.run([sys.executable, "-c", UNREMOVABLE, str(base)], capture_output=True, text=True,
                             timeout=60, cwd=Path(__file__).resolve().parents[1])
        assert res.returncode == 0, res.stderr[-2000:]
        sweeps = json.loads(res.stdout)
    finally:
        for d in base.rglob("*"):
            if d.is_dir() and not d.is_symlink():
                os.chmod(d, 0o755)
        shutil.rmtree(base)
    part_a, part_b, dead = "a" * 64 + ".part", "b" * 64 + ".part", "osc-4242-17-000000000000.abc123.tmp"
    assert sweeps[0]["removed"] == [], sweeps[0]  # the dead process's file could not be removed either
    assert len(sweeps[0]["warnings"]) == 1 and dead in sweeps[0]["warnings"][0], sweeps[0]
    first = sweeps[1]["warnings"]
    assert sorted(n for w in first for n in (part_a, part_b, "stray.bin") if n in w) == sorted(
        [part_a, part_b, "stray.bin"]), first
    assert len(first) == 3 and all("Permission denied" in w for w in first), first
    assert all(s == {"removed": [], "warnings": []} for s in sweeps[2:7]), sweeps[2:7]
    assert len(sweeps[7]["warnings"]) == 1 and "stray.bin" in sweeps[7]["warnings"][0], "changed: logged again"
    assert sweeps[8] == {"removed": [], "warnings": []}
    assert sweeps[9]["removed"] == sorted(f"tmp/{n}" for n in (dead, part_a, part_b, "stray.bin")), sweeps[9]
    assert sweeps[9]["warnings"] == []


# shared by the mount scripts below: the start-up check and four hourly sweeps with the mounts in place, then the
# mounts go (``first``: what the script does before the check, still with the mounts unmounted on failure)
CHECK_AND_SWEEP = """
def check_and_sweep(out, state, mounts, first=None):
    try:
        if first is not None:
            first()
        out["check"] = sorted(cache.check_consistency().removed_temp)
        out["after_check"] = state()
        swept = []
        for _ in range(4):
            swept += cache.sweep_tmp()
            mono[0] += 3600
        out["swept"] = swept
        out["after_sweep"] = state()
        out["warnings"] = list(warnings)
    finally:
        for m in mounts:
            subprocess.run(["umount", str(m)], check=True)
"""

MOUNTED = """
import hashlib, json, logging, os, subprocess, sys, threading
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from pathlib import Path
from player.cache import ContentCache
from player.fetch import Downloader, FetchError
base = Path(sys.argv[1])
""" + keep_warnings("player.cache", containing="mounted") + """
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "5"); self.end_headers(); self.wfile.write(b"hello")
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{srv.server_port}/a.png"
mono = [0.0]
cache = ContentCache(base / "cache", quota_bytes=1_000_000, monotonic=lambda: mono[0])
""" + CHECK_AND_SWEEP + """
part = cache.tmp_dir / (hashlib.sha256(url.encode()).hexdigest() + ".part")
places = {"part": part, "stray": cache.tmp_dir / "stray-dir", "old": cache.tmp_dir / "old-dir",
          "files": cache.files_dir / "junk"}
mounts = []
for name, d in places.items():
    (d / "usb").mkdir(parents=True)
    (d / "beside.txt").write_text("same file system: goes")
    subprocess.run(["mount", "-t", "tmpfs", "none", str(d / "usb")], check=True)
    mounts.append(d / "usb")
    (d / "usb" / "precious.txt").write_text("user data on another file system")
os.utime(places["old"], (1e9, 1e9))  # before this process started: check_consistency removes it
out = {}
def state():
    return {n: [(d / "usb" / "precious.txt").exists(), (d / "beside.txt").exists()] for n, d in places.items()}
def fetch():
    try:
        out["fetch"] = "ok " + Downloader(cache, retries=0).fetch(url).sha
    except FetchError as exc:
        out["fetch"] = "error " + str(exc)
    out["after_fetch"] = state()
check_and_sweep(out, state, mounts, first=fetch)
out["after_umount"] = cache.sweep_tmp()
mono[0] += 3600
out["after_umount"] = sorted(out["after_umount"] + cache.sweep_tmp())
out["part"] = part.name
out["check_again"] = sorted(cache.check_consistency().removed_files)
out["fetch_again"] = Downloader(cache, retries=0).fetch(url).sha == hashlib.sha256(b"hello").hexdigest()
out["left"] = sorted(p.name for p in cache.tmp_dir.iterdir())
print(json.dumps(out))
"""


def _mount_namespace() -> list[str]:
    """How to run a process that may mount a tmpfs in a mount namespace of its own (its mounts vanish with it): as
    root ``unshare -m``; otherwise ``unshare -rm`` (a user namespace), where the kernel allows it. Without either:
    a skip outside CI, a failure under CI (the tests run as root there)."""
    unshare = shutil.which("unshare")
    if unshare is not None:
        cmd = [unshare, "-m"] if os.geteuid() == 0 else [unshare, "-rm"]
        probe = subprocess.run([*cmd, "true"], capture_output=True, text=True, timeout=30)
        if probe.returncode == 0:
            return cmd
        why = f"{' '.join(cmd)} fails: {probe.stderr.strip()}"
    else:
        why = "no unshare"
    if os.geteuid() == 0:
        return []  # mounts in our own namespace; the script unmounts them
    if os.environ.get("CI") == "true":
        pytest.fail(f"cannot mount a tmpfs for this test: not root, {why}")
    pytest.skip(f"cannot mount a tmpfs: not root, {why}")


def test_a_file_system_mounted_inside_tmp_keeps_its_files(tmp_path: Path) -> None:
    """shutil.rmtree descends into a mount point and deletes the files on the other file system (only the final
    rmdir of the mount point fails, EBUSY): a directory where a partial should be (the download), a stray
    directory (the sweep), an old one (the check at start) and a stray directory in files/ took a USB stick's or
    a tmpfs's files with them. Now what is on another file system stays, with the directories holding it; the
    rest goes, and all of it once unmounted."""
    cmd = _mount_namespace()
    res = subprocess.run([*cmd, sys.executable, "-c", MOUNTED, str(tmp_path)], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    assert out["fetch"].startswith("error ") and "sweep removes it later" in out["fetch"], out["fetch"]
    assert out["after_fetch"]["part"] == [True, True]  # the download removes no tree
    assert out["after_check"] == {"part": [True, False], "stray": [True, True], "old": [True, False],
                                  "files": [True, False]}, out["after_check"]
    assert out["check"] == [], out["check"]  # a directory kept is not reported removed
    assert out["after_sweep"] == {n: [True, False] for n in ("part", "stray", "old", "files")}, out["after_sweep"]
    assert out["swept"] == [], out["swept"]
    assert len(out["warnings"]) == 4, out["warnings"]  # one per mount, not one per pass
    assert out["after_umount"] == sorted(["tmp/old-dir", "tmp/stray-dir", f"tmp/{out['part']}"]), out["after_umount"]
    assert out["check_again"] == ["files/junk"], out["check_again"]
    assert out["fetch_again"] is True
    assert out["left"] == [], out["left"]


def test_a_linked_tmp_or_files_is_replaced_never_cleaned_through(tmp_path: Path, mono: FakeClock,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """An installer put tmp/ on a stick (a link to a user's folder): the check at start removed the folder's
    photos and subfolders as stray temp files, and the sweep would have too; files/ linked likewise, and a link
    in files/ where a two-hex subdirectory should be. Now a link is unlinked and a directory of the cache's own
    takes its place, with one line each; the targets keep their files."""
    old = 1e9  # long before this process started: a stray temp file by its time

    def folder(name: str) -> Path:
        d = tmp_path / name
        (d / "docs").mkdir(parents=True)
        (d / "holiday.jpg").write_bytes(b"jpg")
        (d / "docs" / "a.txt").write_text("a")
        (d / "ab").mkdir()
        (d / "ab" / "notes.txt").write_text("n")
        for p in (d / "holiday.jpg", d / "docs", d / "ab"):
            os.utime(p, (old, old))
        return d

    def contents(d: Path) -> list[str]:
        return sorted(str(p.relative_to(d)) for p in d.rglob("*"))

    stick, other, third = folder("stick"), folder("other"), folder("third")
    before = contents(stick)
    root = tmp_path / "cache"
    root.mkdir()
    (root / "tmp").symlink_to(stick, target_is_directory=True)
    (root / "files").symlink_to(other, target_is_directory=True)
    with caplog.at_level(logging.WARNING, logger="player.cache"):
        c = ContentCache(root, quota_bytes=1_000_000, monotonic=mono)
        try:
            report = c.check_consistency()
            for _ in range(3):
                c.sweep_tmp()
                mono.t += HOUR
            assert contents(stick) == before and contents(other) == before, report
            assert report.removed_temp == [] and report.removed_files == [], report
            assert not c.tmp_dir.is_symlink() and c.tmp_dir.is_dir()
            assert not c.files_dir.is_symlink() and c.files_dir.is_dir()
            (c.files_dir / "ab").symlink_to(third / "ab", target_is_directory=True)
            assert c.check_consistency().removed_files == ["files/ab"]
            c.tmp_dir.rmdir()  # replaced while running: the next sweep does not clean through it either
            c.tmp_dir.symlink_to(stick, target_is_directory=True)
            for _ in range(3):
                c.sweep_tmp()
                mono.t += HOUR
            assert not c.tmp_dir.is_symlink()
            c.put_bytes(b"still works")
        finally:
            c.close()
    assert contents(stick) == before
    assert contents(other) == before and contents(third) == before
    links = [r.getMessage() for r in caplog.records if "symbolic link" in r.getMessage()]
    assert len(links) == 3 and all("replaced by a directory" in m for m in links), links


def _nest(top: Path, depth: int) -> None:
    """*depth* directories nested in *top* (made by descriptors: the path would pass PATH_MAX), a file at the
    bottom and one halfway down."""
    top.mkdir()
    cur = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(depth):
            os.mkdir("d", dir_fd=cur)
            nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=cur)
            os.close(cur)
            cur = nxt
            if i in (depth // 2, depth - 1):
                os.close(os.open("f", os.O_WRONLY | os.O_CREAT, dir_fd=cur))
    finally:
        os.close(cur)


def test_a_very_deep_directory_in_tmp_neither_stops_the_start_nor_the_sweep(
        tmp_path: Path, mono: FakeClock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """1,200 nested directories in tmp/ made the recursive removal raise RecursionError, which nothing caught:
    the player's start (check_consistency) failed at every restart, and the sync thread died (sweep_tmp). Now the
    walk is iterative and goes at most _MAX_DEPTH levels down: such a tree stays with one warning, whatever the
    number of passes; a tree just within the limit goes whole."""
    cache = ContentCache(tmp_path / "cache", quota_bytes=50_000_000, monotonic=mono)
    try:
        _nest(cache.tmp_dir / "deep", 1200)
        _nest(cache.tmp_dir / "ok", 100)
        for p in ("deep", "ok"):
            os.utime(cache.tmp_dir / p, (1e9, 1e9))  # before this process started: the check at start removes it
        caplog.set_level(logging.WARNING, logger="player.cache")
        report = cache.check_consistency()
        assert report.removed_temp == ["tmp/ok"]
        assert names(cache) == {"deep"}
        swept = []
        for _ in range(4):
            swept += cache.sweep_tmp()
            mono.t += 2 * HOUR
        assert swept == []
        assert names(cache) == {"deep"}
        kept = [r.getMessage() for r in caplog.records if "levels deep" in r.getMessage()]
        assert len(kept) == 1, kept
        assert kept[0].startswith(f"cache: not removing {cache.tmp_dir / 'deep'}/d/d/"), kept[0][:200]
        # only the chain of directories holding the deep part stays
        top = os.open(cache.tmp_dir / "deep", os.O_RDONLY | os.O_DIRECTORY)
        try:
            assert os.listdir(top) == ["d"]
        finally:
            os.close(top)
        # with the limit raised the same walk removes it all (one descriptor at a time, no recursion); pytest's own
        # clean-up (shutil.rmtree, recursive) could not
        monkeypatch.setattr(player.removal, "_MAX_DEPTH", 5000)
        assert remove_same_device(cache.tmp_dir / "deep") is True
        assert names(cache) == set()
    finally:
        cache.close()


BIND_MOUNTED = """
import json, logging, os, subprocess, sys
from pathlib import Path
from player.cache import ContentCache
base = Path(sys.argv[1])
""" + keep_warnings("player.cache") + """
mono = [0.0]
cache = ContentCache(base / "cache", quota_bytes=1_000_000, monotonic=lambda: mono[0])
""" + CHECK_AND_SWEEP + """
(base / "precious").mkdir()
(base / "precious" / "photo.jpg").write_text("user data on the same file system")
(base / "album.txt").write_text("a bind-mounted file")
stray, old = cache.tmp_dir / ("stray dir" + chr(92) + "on"), cache.tmp_dir / "old"  # mountinfo escapes the space, backslash
stray.mkdir()
(old / "sub" / "pics").mkdir(parents=True)
(old / "sub" / "beside.txt").write_text("goes")
(old / "album.txt").write_text("")
mounts = [stray, old / "sub" / "pics", old / "album.txt"]
for src, dst in zip([base / "precious", base / "precious", base / "album.txt"], mounts):
    subprocess.run(["mount", "--bind", str(src), str(dst)], check=True)
os.utime(old, (1e9, 1e9))  # before this process started: check_consistency removes it
os.utime(stray, (1e9, 1e9))
out = {}
def state():
    return [(base / "precious" / "photo.jpg").exists(), (base / "album.txt").exists(),
            (old / "sub" / "beside.txt").exists(), stray.is_dir()]
check_and_sweep(out, state, mounts)
swept = []
for _ in range(2):
    swept += cache.sweep_tmp()
    mono[0] += 3600
out["after_umount"] = sorted(swept)
out["left"] = sorted(p.name for p in cache.tmp_dir.iterdir())
out["precious_left"] = [(base / "precious" / "photo.jpg").exists(), (base / "album.txt").exists()]
print(json.dumps(out))
"""


def test_a_bind_mount_of_the_same_file_system_inside_tmp_keeps_its_files(tmp_path: Path) -> None:
    """A bind mount has the device of the directory holding it, so the device check let the walk empty it (as
    shutil.rmtree did): a directory of the user's photos bind-mounted into tmp/ by some tool lost its files at the
    next start. Now mount points are read from /proc/self/mountinfo and stay like another file system, with the
    directories holding them (a bind-mounted file too); the rest goes, and all of it once unmounted."""
    cmd = _mount_namespace()
    res = subprocess.run([*cmd, sys.executable, "-c", BIND_MOUNTED, str(tmp_path)], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    assert out["after_check"] == [True, True, False, True], out["after_check"]
    assert out["check"] == [], out["check"]
    assert out["after_sweep"] == [True, True, False, True], out["after_sweep"]
    assert out["swept"] == [], out["swept"]
    assert len(out["warnings"]) == 3 and all("bind mount is mounted there" in w for w in out["warnings"]), \
        out["warnings"]  # one per mount, not one per pass
    assert out["after_umount"] == ["tmp/old", "tmp/stray dir\\on"], out["after_umount"]
    assert out["left"] == [], out["left"]
    assert out["precious_left"] == [True, True]


FOLDER_MOUNTED = """
import json, logging, os, subprocess, sys
from pathlib import Path
from player.sources.folder import drop_unused_dirs
from player.sources.folder_copy import FolderCopy

base = Path(sys.argv[1])
""" + keep_warnings("player.sources") + """
parent = base / "folder-copy"
own, other = parent / "stick-a", parent / "stick-b"
(other / "bilder").mkdir(parents=True)
own.mkdir()
(other / "alt.jpg").write_text("an old copy")
stick = other / "bilder"
subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(stick)], check=True)
(stick / "foto.jpg").write_text("on the other file system")
os.utime(other, (1e9, 1e9))
drop_unused_dirs(parent, own)
out = {"dropped": [(other / "alt.jpg").exists(), (stick / "foto.jpg").exists()]}
# the copy of a folder: an old folder where a file must go now, with a file system mounted in it
copy = FolderCopy.__new__(FolderCopy)
copy.root = own
(own / "plan.pdf" / "mnt").mkdir(parents=True)
(own / "plan.pdf" / "x.txt").write_text("old")
subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(own / "plan.pdf" / "mnt")], check=True)
(own / "plan.pdf" / "mnt" / "keep.txt").write_text("on the other file system")
try:
    copy._clear_way(own / "plan.pdf", {})
    out["clear"] = "cleared"
except OSError as exc:
    out["clear"] = f"{exc.errno} {exc.strerror}"
out["cleared"] = [(own / "plan.pdf" / "x.txt").exists(), (own / "plan.pdf" / "mnt" / "keep.txt").exists()]
subprocess.run(["umount", str(stick)], check=True)
subprocess.run(["umount", str(own / "plan.pdf" / "mnt")], check=True)
os.utime(other, (1e9, 1e9))  # its last removal made it look in use again: the keep period is over once more
drop_unused_dirs(parent, own)
copy._clear_way(own / "plan.pdf", {})
out["after_umount"] = [other.exists(), (own / "plan.pdf").exists()]
out["warnings"] = warnings
print(json.dumps(out))
"""


def test_the_folder_source_keeps_file_systems_mounted_in_directories_it_removes(tmp_path: Path) -> None:
    """The folder source removed its own old directories (another stick's copy, a folder where a file now goes) with
    shutil.rmtree, which empties a file system mounted inside. Now it removes them like the cache (player/removal.py):
    what is mounted there stays, with one warning, and goes with the rest once unmounted."""
    cmd = _mount_namespace()
    res = subprocess.run([*cmd, sys.executable, "-c", FOLDER_MOUNTED, str(tmp_path)], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    assert out["dropped"] == [False, True], out["dropped"]
    assert out["clear"].startswith("16 "), out["clear"]  # EBUSY: the new file cannot go there yet
    assert out["cleared"] == [False, True], out["cleared"]
    assert out["after_umount"] == [False, False], out["after_umount"]
    assert len(out["warnings"]) == 2 and all("not removing" in w for w in out["warnings"]), out["warnings"]
