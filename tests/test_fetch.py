"""Downloader against a real local HTTP server with injected faults."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from player.cache import PROCESS_START, ContentCache
from player.fetch import Downloader, FetchError, FetchRequest, FetchResult

try:
    from tests.httpfaults import AnswerServer, FaultServer
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from httpfaults import AnswerServer, FaultServer  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[1]
BIG = bytes(range(256)) * 1200  # 307200 bytes, several chunks
SMALL = b"tiny file\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def srv() -> Iterator[FaultServer]:
    with FaultServer({"/big.bin": BIG, "/small.txt": SMALL, "/doc.json": b'{"a": 1}'}) as server:
        yield server


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[ContentCache]:
    c = ContentCache(tmp_path / "cache", quota_bytes=50_000_000)
    yield c
    c.close()


@pytest.fixture
def dl(cache: ContentCache) -> Iterator[Downloader]:
    d = Downloader(cache, retries=3, backoff_base=0.001, timeout=(5, 10))
    yield d
    d.close()


def tmp_files(cache: ContentCache) -> list[str]:
    return sorted(p.name for p in cache.tmp_dir.iterdir())


def test_plain_download(srv: FaultServer, cache: ContentCache, dl: Downloader) -> None:
    res = dl.fetch(srv.url("/big.bin"), expected_sha=sha(BIG), expected_size=len(BIG))
    assert res == FetchResult(sha(BIG), len(BIG), from_cache=False, not_modified=False)
    assert cache.path_of(res.sha).read_bytes() == BIG
    assert tmp_files(cache) == []
    rec = srv.requests_for("/big.bin")[0]
    assert "range" not in rec.headers and rec.headers["accept-encoding"] == "identity"


def test_known_hash_already_cached_needs_no_request(srv: FaultServer, cache: ContentCache, dl: Downloader) -> None:
    cache.put_bytes(BIG)
    res = dl.fetch(srv.url("/big.bin"), expected_sha=sha(BIG))
    assert res.from_cache and res.size == len(BIG)
    assert srv.records == []


def test_resume_after_dropped_connection(srv: FaultServer, cache: ContentCache, dl: Downloader) -> None:
    srv.fault("/big.bin", drop_after=100_000, times=1)
    res = dl.fetch(srv.url("/big.bin"))
    assert res.sha == sha(BIG) and cache.path_of(res.sha).read_bytes() == BIG
    first, second = srv.requests_for("/big.bin")
    assert first.status == 200 and first.body_bytes == 100_000
    assert second.headers["range"] == "bytes=100000-"
    assert second.headers["if-range"] == srv.etag("/big.bin")
    assert second.status == 206 and second.body_bytes == len(BIG) - 100_000
    assert tmp_files(cache) == []


def test_resume_survives_a_new_downloader(srv: FaultServer, cache: ContentCache) -> None:
    srv.fault("/big.bin", drop_after=50_000, times=1)
    with Downloader(cache, retries=0, backoff_base=0.001) as d1, pytest.raises(FetchError) as err:
        d1.fetch(srv.url("/big.bin"))
    assert "connection" in str(err.value) and srv.url("/big.bin") in str(err.value)
    assert len(tmp_files(cache)) == 2  # <hash>.part + <hash>.part.json kept for resuming
    with Downloader(cache, retries=0) as d2:
        assert d2.fetch(srv.url("/big.bin"), expected_sha=sha(BIG)).sha == sha(BIG)
    assert srv.requests_for("/big.bin")[1].headers["range"] == "bytes=50000-"


def test_changed_file_while_interrupted_is_downloaded_fresh(srv: FaultServer, dl: Downloader) -> None:
    srv.fault("/big.bin", drop_after=50_000, times=1)
    new = BIG[::-1]
    dl.retries = 0
    with pytest.raises(FetchError):
        dl.fetch(srv.url("/big.bin"))
    srv.set_file("/big.bin", new)  # new ETag: If-Range no longer matches
    res = dl.fetch(srv.url("/big.bin"))
    assert res.sha == sha(new)
    last = srv.requests_for("/big.bin")[-1]
    assert "range" in last.headers and last.status == 200


def test_server_ignoring_range_still_gives_right_file(srv: FaultServer, dl: Downloader) -> None:
    srv.fault("/big.bin", drop_after=70_000, times=1)
    dl.retries = 0
    with pytest.raises(FetchError):
        dl.fetch(srv.url("/big.bin"))
    srv.fault("/big.bin", ignore_range=True)
    assert dl.fetch(srv.url("/big.bin")).sha == sha(BIG)
    assert srv.requests_for("/big.bin")[-1].status == 200


def test_too_long_content_length_is_rejected_and_refetched(srv: FaultServer, cache: ContentCache,
                                                           dl: Downloader) -> None:
    srv.fault("/big.bin", content_length=len(BIG) + 5000, times=1)
    res = dl.fetch(srv.url("/big.bin"))
    assert res.sha == sha(BIG) and res.size == len(BIG)
    statuses = [r.status for r in srv.requests_for("/big.bin")]
    assert statuses[0] == 200 and statuses[-1] in (200, 206) and len(statuses) >= 2


def test_too_short_content_length_fails_hash_and_is_refetched(srv: FaultServer, dl: Downloader) -> None:
    srv.fault("/big.bin", content_length=len(BIG) - 5000, times=1)
    res = dl.fetch(srv.url("/big.bin"), expected_sha=sha(BIG))
    assert res.sha == sha(BIG)
    recs = srv.requests_for("/big.bin")
    assert len(recs) == 2 and "range" not in recs[1].headers, "a mismatching file is fetched from scratch"


def test_wrong_size_against_expected_size_is_an_error(srv: FaultServer, cache: ContentCache,
                                                      dl: Downloader) -> None:
    with pytest.raises(FetchError, match="expected 123"):
        dl.fetch(srv.url("/big.bin"), expected_size=123)
    assert cache.stats() == (0, 0)
    assert srv.count("/big.bin") == 1, "a size contradiction is not retried"


def test_hash_mismatch_is_an_error(srv: FaultServer, cache: ContentCache, dl: Downloader) -> None:
    with pytest.raises(FetchError, match="does not match"):
        dl.fetch(srv.url("/small.txt"), expected_sha=sha(b"other"))
    assert cache.stats() == (0, 0) and tmp_files(cache) == []


def test_500s_are_retried_then_succeed(srv: FaultServer, dl: Downloader) -> None:
    srv.fault("/small.txt", fail_next=3)
    assert dl.fetch(srv.url("/small.txt")).sha == sha(SMALL)
    assert srv.count("/small.txt", status=500) == 3
    assert srv.count("/small.txt", status=200) == 1


def test_500s_beyond_retries_give_one_line_error(srv: FaultServer, dl: Downloader) -> None:
    srv.fault("/small.txt", fail_next=10)
    with pytest.raises(FetchError) as err:
        dl.fetch(srv.url("/small.txt"))
    msg = str(err.value)
    assert "\n" not in msg and srv.url("/small.txt") in msg and "500" in msg and "4 attempts" in msg
    assert srv.count("/small.txt") == 4


def test_404_is_not_retried(srv: FaultServer, dl: Downloader) -> None:
    with pytest.raises(FetchError, match="404") as err:
        dl.fetch(srv.url("/missing.png"))
    assert err.value.status == 404
    assert srv.count("/missing.png") == 1


def test_slow_response_times_out(srv: FaultServer, cache: ContentCache) -> None:
    srv.fault("/big.bin", delay=60.0)  # released when the server stops
    with Downloader(cache, timeout=(5, 0.2), retries=1, backoff_base=0.001) as d, \
            pytest.raises(FetchError, match="timed out") as err:
        d.fetch(srv.url("/big.bin"))
    assert srv.url("/big.bin") in str(err.value)
    assert cache.stats() == (0, 0)


def test_unchanged_file_costs_a_304_without_body(srv: FaultServer, cache: ContentCache, dl: Downloader) -> None:
    first = dl.fetch(srv.url("/big.bin"))
    again = dl.fetch(srv.url("/big.bin"))
    assert again == FetchResult(first.sha, len(BIG), from_cache=True, not_modified=True)
    last = srv.requests_for("/big.bin")[-1]
    assert last.status == 304 and last.body_bytes == 0
    assert last.headers["if-none-match"] == srv.etag("/big.bin")
    assert "if-modified-since" in last.headers
    assert cache.stats().files == 1 and tmp_files(cache) == []


def test_etag_change_causes_redownload(srv: FaultServer, dl: Downloader) -> None:
    first = dl.fetch(srv.url("/small.txt"))
    srv.set_file("/small.txt", b"new content")
    second = dl.fetch(srv.url("/small.txt"))
    assert not second.not_modified and not second.from_cache
    assert second.sha == sha(b"new content") != first.sha
    srv.change_etag("/small.txt")  # same bytes, new validator: full transfer, same hash
    third = dl.fetch(srv.url("/small.txt"))
    assert third.sha == second.sha and not third.not_modified
    assert [r.status for r in srv.requests_for("/small.txt")] == [200, 200, 200]


def test_corrupt_cache_file_is_detected_and_refetched(srv: FaultServer, cache: ContentCache,
                                                      dl: Downloader) -> None:
    s = dl.fetch(srv.url("/big.bin")).sha
    with open(cache.path_of(s), "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x00\x00")
    assert not cache.verify(s)
    res = dl.fetch(srv.url("/big.bin"), expected_sha=s)
    assert res.sha == s and not res.from_cache
    assert cache.verify(s)
    assert [r.status for r in srv.requests_for("/big.bin")] == [200, 200]


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "javascript:alert(1)", "ftp://127.0.0.1/x", "data:text/plain,hi", "/etc/passwd",
     "http:///nohost"],
)
def test_only_http_and_https_are_accepted(url: str, dl: Downloader) -> None:
    with pytest.raises(FetchError) as err:
        dl.fetch(url)
    assert "\n" not in str(err.value)
    with pytest.raises(FetchError):
        dl.fetch_document(url)


def test_traversal_in_url_stays_in_cache(srv: FaultServer, cache: ContentCache, dl: Downloader) -> None:
    srv.set_file("/media/..%2F..%2F..%2Fetc%2Fpasswd", b"root:x:0:0")
    res = dl.fetch(srv.url("/media/..%2F..%2F..%2Fetc%2Fpasswd"))
    path = cache.path_of(res.sha)
    assert path.resolve().is_relative_to(cache.files_dir.resolve())
    assert all(p.resolve().is_relative_to(cache.root) for p in cache.root.rglob("*"))


def test_size_limit_aborts(srv: FaultServer, cache: ContentCache) -> None:
    with Downloader(cache, max_file_bytes=100_000, retries=3) as d, pytest.raises(FetchError, match="too large"):
        d.fetch(srv.url("/big.bin"))
    assert srv.arrivals("/big.bin") == 1
    assert cache.stats() == (0, 0)


def test_size_limit_without_content_length(srv: FaultServer, cache: ContentCache) -> None:
    # without a Content-Length the byte count while streaming enforces the limit
    srv.fault("/big.bin", omit_length=True)
    with Downloader(cache, max_file_bytes=100_000, retries=3) as d, pytest.raises(FetchError, match="too large"):
        d.fetch(srv.url("/big.bin"))
    assert srv.arrivals("/big.bin") == 1
    assert cache.stats() == (0, 0) and tmp_files(cache) == []


def test_download_without_content_length(srv: FaultServer, dl: Downloader) -> None:
    srv.fault("/big.bin", omit_length=True)
    assert dl.fetch(srv.url("/big.bin")).sha == sha(BIG)


def test_a_server_that_compresses_unasked_still_gives_the_file(srv: FaultServer, cache: ContentCache,
                                                               dl: Downloader) -> None:
    """Asked for ``identity``, the server sends gzip with the compressed length: the file is stored decoded (its
    length and a resume range are those of the compressed bytes, so neither is held against it)."""
    srv.fault("/big.bin", gzip=True)
    res = dl.fetch(srv.url("/big.bin"), expected_sha=sha(BIG), expected_size=len(BIG))
    assert cache.path_of(res.sha).read_bytes() == BIG
    assert srv.count("/big.bin") == 1 and tmp_files(cache) == []


def test_fetch_many_bounded_with_progress_and_per_url_errors(srv: FaultServer, cache: ContentCache) -> None:
    files = {f"/f{i}.bin": bytes([i]) * (10_000 + i) for i in range(5)}
    for path, data in files.items():
        srv.set_file(path, data)
    calls: list[tuple[int, int, int, int]] = []
    reqs: list[str | FetchRequest] = [FetchRequest(srv.url(p), sha(d), len(d)) for p, d in files.items()]
    reqs += [srv.url("/missing"), srv.url("/f0.bin")]  # an error and a duplicate
    with Downloader(cache, max_parallel=2, retries=0) as d:
        results = d.fetch_many(reqs, progress=lambda *a: calls.append(a))
    assert len(results) == 6
    for path, data in files.items():
        r = results[srv.url(path)]
        assert isinstance(r, FetchResult) and r.sha == sha(data)
    assert isinstance(results[srv.url("/missing")], FetchError)
    final = [c for c in calls if c[0] == 6]
    assert final and final[0][1] == 6
    assert final[0][2] == sum(len(d) for d in files.values())
    assert all(c[1] == 6 for c in calls)
    assert srv.max_concurrent <= 2


def test_fetch_document_conditional(srv: FaultServer, cache: ContentCache, dl: Downloader) -> None:
    first = dl.fetch_document(srv.url("/doc.json"))
    assert first.json() == {"a": 1} and not first.not_modified
    second = dl.fetch_document(srv.url("/doc.json"))
    assert second.not_modified and second.data == first.data
    assert srv.requests_for("/doc.json")[-1].status == 304
    srv.set_file("/doc.json", json.dumps({"a": 2}).encode())
    assert dl.fetch_document(srv.url("/doc.json")).json() == {"a": 2}


def test_fetch_document_size_limit(srv: FaultServer, dl: Downloader) -> None:
    with pytest.raises(FetchError, match="document too large"):
        dl.fetch_document(srv.url("/big.bin"), max_bytes=1000)


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    from player.cache import ContentCache
    from player.fetch import Downloader

    cache = ContentCache(sys.argv[1], 10**8)
    cache.check_consistency()
    d = Downloader(cache, retries=0, timeout=(5, 120))
    d.fetch(sys.argv[2], progress=lambda fd, ft, bd, bt: print("progress", bd, flush=True))
    print("finished", flush=True)
    """
)


def test_kill_9_during_download_then_repair_and_resume(srv: FaultServer, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    ContentCache(root, 10**8).close()
    srv.fault("/big.bin", block_after=120_000, times=1)  # send 120000 bytes, then stall
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(root), srv.url("/big.bin")],
        stdout=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        written = 0
        while written < 120_000:  # wait for the child to report the bytes it wrote
            line = proc.stdout.readline()
            assert line.startswith("progress"), f"child did not report progress: {line!r}"
            written = int(line.split()[1])
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    srv.release()

    # the next start happens in a later process: age the leftovers accordingly
    for p in (root / "tmp").iterdir():
        os.utime(p, (PROCESS_START - 60, PROCESS_START - 60))
    cache = ContentCache(root, 10**8)
    cache.check_consistency()
    assert cache.stats() == (0, 0)
    assert not cache.check_consistency().changed
    parts = sorted(p.name for p in cache.tmp_dir.iterdir())
    assert len(parts) == 2 and parts[0].endswith(".part") and parts[1].endswith(".part.json")
    partial = (cache.tmp_dir / parts[0]).stat().st_size
    assert partial == 120_000

    with Downloader(cache, retries=1, backoff_base=0.001) as d:
        res = d.fetch(srv.url("/big.bin"), expected_sha=sha(BIG))
    assert res.sha == sha(BIG) and cache.verify(res.sha)
    assert srv.requests_for("/big.bin")[-1].headers["range"] == f"bytes={partial}-"
    assert list(cache.tmp_dir.iterdir()) == []
    cache.close()


# ------------------------------------------------------------------------------------------------ redirects
class _Redirector(AnswerServer):
    """Answers every GET with 302 to ``routes[path]`` (a full URL)."""

    def __init__(self) -> None:
        self.routes: dict[str, str] = {}
        super().__init__(lambda path: (302, {"Location": self.routes.get(path, "/nowhere")}, b""))


@pytest.fixture
def redirector() -> Iterator[_Redirector]:
    server = _Redirector()
    yield server
    server.close()


def only_hosts(*netlocs: str) -> Callable[[str], str | None]:
    def check(url: str) -> str | None:
        netloc = urlsplit(url).netloc
        return None if netloc in netlocs else f"host '{netloc}' is not allowed; refused"

    return check


def test_redirect_to_another_host_is_refused_before_it_is_followed(srv: FaultServer, redirector: _Redirector,
                                                                   cache: ContentCache) -> None:
    # two ports on 127.0.0.1 = two hosts: files may come from the redirector's host only
    redirector.routes["/bild.jpg"] = srv.url("/big.bin")
    with Downloader(cache, retries=3, backoff_base=0.001, redirect_check=only_hosts(redirector.netloc)) as dl:
        with pytest.raises(FetchError) as info:
            dl.fetch(redirector.url("/bild.jpg"))
    line = str(info.value)
    assert "\n" not in line and redirector.url("/bild.jpg") in line and srv.base_url in line and "refused" in line
    assert redirector.hits == ["/bild.jpg"]  # not retried: a policy, not a network problem
    assert srv.arrivals("/big.bin") == 0  # the other host was never asked
    assert cache.stats() == (0, 0) and tmp_files(cache) == []


def test_every_hop_is_checked(srv: FaultServer, redirector: _Redirector, cache: ContentCache) -> None:
    redirector.routes["/a"] = redirector.url("/b")  # same host: fine
    redirector.routes["/b"] = srv.url("/big.bin")  # second hop leaves the host
    with Downloader(cache, retries=0, redirect_check=only_hosts(redirector.netloc)) as dl:
        with pytest.raises(FetchError, match="redirected to"):
            dl.fetch(redirector.url("/a"))
    assert redirector.hits == ["/a", "/b"] and srv.arrivals("/big.bin") == 0


def test_redirect_to_an_allowed_host_is_followed(srv: FaultServer, redirector: _Redirector,
                                                 cache: ContentCache) -> None:
    redirector.routes["/bild.jpg"] = srv.url("/big.bin")
    check = only_hosts(redirector.netloc, f"127.0.0.1:{srv.port}")
    with Downloader(cache, retries=0, redirect_check=check) as dl:
        assert dl.fetch(redirector.url("/bild.jpg")).sha == sha(BIG)
    with Downloader(cache, retries=0) as unchecked:  # without a check redirects are followed as before
        assert unchecked.fetch_document(redirector.url("/bild.jpg")).data == BIG


def test_the_http_source_applies_its_host_rule_to_redirects(srv: FaultServer, redirector: _Redirector,
                                                            cache: ContentCache) -> None:
    """source.type = http: a media file of the document's host that redirects to another host (127.0.0.1 vs
    localhost) is refused like a reference to that host; listed in source.allowed_hosts it is followed."""
    from player.sources.http import HttpSource

    redirector.routes["/m/bild.jpg"] = srv.url("/big.bin").replace("127.0.0.1", "localhost")  # another host
    with Downloader(cache, retries=0) as dl:
        HttpSource(redirector.url("/screen.json"), dl)
        with pytest.raises(FetchError, match="not the document's host"):
            dl.fetch(redirector.url("/m/bild.jpg"))
        assert srv.arrivals("/big.bin") == 0
    with Downloader(cache, retries=0) as dl:
        source = HttpSource(redirector.url("/screen.json"), dl)
        assert source.redirect_problem(redirector.url("/other.jpg")) is None  # same host and port
        assert source.redirect_problem("https://127.0.0.1/screen.json") is None  # the usual http -> https upgrade
        assert source.redirect_problem("https://elsewhere.example/x.jpg") is not None
        assert source.redirect_problem("file:///etc/passwd") is not None
    # the same host on another port or scheme is the document's host; a listed host is followed too
    redirector.routes["/m/same.jpg"] = srv.url("/big.bin")
    with Downloader(cache, retries=0) as dl:
        HttpSource(redirector.url("/screen.json"), dl)
        assert dl.fetch(redirector.url("/m/same.jpg")).sha == sha(BIG)
    with Downloader(cache, retries=0) as dl:
        HttpSource(redirector.url("/screen.json"), dl, allowed_hosts=["localhost"])
        assert dl.fetch(redirector.url("/m/bild.jpg")).sha == sha(BIG)
