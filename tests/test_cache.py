"""ContentCache: layout, hashing, path safety, LRU quota with pins, derived files, crash repair."""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from pathlib import Path

import pytest

from player.cache import (
    PROCESS_START,
    CacheFullError,
    ContentCache,
    HashMismatchError,
    InvalidHashError,
)


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob(tag: int, size: int = 300) -> bytes:
    return bytes([tag]) * size


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(tmp_path: Path, clock: FakeClock) -> ContentCache:
    c = ContentCache(tmp_path / "cache", quota_bytes=1000, clock=clock)
    yield c
    c.close()


def test_put_bytes_stores_by_hash_under_files_dir(cache: ContentCache) -> None:
    data = b"hello signage"
    s = cache.put_bytes(data, origin="http://x/a.txt", etag='"e1"', suffix=".txt")
    assert s == sha(data)
    assert cache.has(s)
    assert cache.path_of(s) == cache.root / "files" / s[:2] / s
    assert cache.path_of(s).read_bytes() == data
    assert cache.stats() == (len(data), 1)
    origin = cache.lookup_origin("http://x/a.txt")
    assert origin is not None and origin.sha == s and origin.etag == '"e1"'
    assert cache.entry(s).suffix == ".txt"  # type: ignore[union-attr]
    assert (cache.root / "index.sqlite").exists()
    mode = sqlite3.connect(cache.root / "index.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_same_content_twice_is_stored_once(cache: ContentCache) -> None:
    a = cache.put_bytes(b"same")
    b = cache.put_bytes(b"same")
    assert a == b
    assert cache.stats().files == 1
    assert list(cache.tmp_dir.iterdir()) == []


def test_put_file_rejects_wrong_hash_and_removes_temp(cache: ContentCache, tmp_path: Path) -> None:
    tmp = cache.new_temp_path()
    tmp.write_bytes(b"actual content")
    with pytest.raises(HashMismatchError):
        cache.put_file(tmp, expected_sha=sha(b"something else"))
    assert not tmp.exists()
    assert cache.stats() == (0, 0)


@pytest.mark.parametrize(
    "bad",
    [
        "../../etc/passwd",
        "../" * 10 + "etc/passwd",
        "/etc/passwd",
        "ab/../../../../etc/passwd",
        "a" * 63,
        "a" * 65,
        "g" * 64,
        ("a" * 62) + "/x",
        ("a" * 63) + "\n",
        "",
    ],
)
def test_no_path_leaves_the_cache_dir(cache: ContentCache, bad: str) -> None:
    with pytest.raises(InvalidHashError):
        cache.path_of(bad)
    assert cache.has(bad) is False
    with pytest.raises(InvalidHashError):
        cache.verify(bad)
    with pytest.raises(InvalidHashError):
        cache.get_derived(bad, "scale:960x540")
    with pytest.raises(InvalidHashError):
        cache.pin("current", [bad])
    with pytest.raises(InvalidHashError):
        cache.put_bytes(b"x", expected_sha=bad)


def test_valid_hash_path_is_inside_files_dir(cache: ContentCache) -> None:
    p = cache.path_of("AB" + "c" * 62)
    assert p.resolve().is_relative_to((cache.root / "files").resolve())
    assert p.name == "ab" + "c" * 62


def test_eviction_is_lru_and_skips_pinned(cache: ContentCache, clock: FakeClock) -> None:
    shas = []
    for i in range(3):  # 900 of 1000 bytes
        clock.t += 10
        shas.append(cache.put_bytes(blob(i)))
    a, b, c = shas
    clock.t += 10
    cache.touch(a)  # a is now the most recently used
    cache.pin("current", [b])  # b is the oldest unpinned one but pinned
    clock.t += 10
    d = cache.put_bytes(blob(3))  # needs 200 more bytes than free: one file must go
    assert cache.has(a) and cache.has(b) and cache.has(d)
    assert not cache.has(c), "c was the least recently used unpinned file"
    clock.t += 10
    cache.unpin("current")
    e = cache.put_bytes(blob(4))
    assert not cache.has(b), "after unpinning, b is the least recently used"
    assert cache.has(a) and cache.has(d) and cache.has(e)


def test_touches_are_batched(tmp_path: Path, clock: FakeClock) -> None:
    cache = ContentCache(tmp_path / "c", quota_bytes=10_000, clock=clock, touch_flush_seconds=3600)
    s = cache.put_bytes(b"x")
    db = sqlite3.connect(cache.index_path)

    def stored_last_used() -> float:
        return float(db.execute("SELECT last_used FROM files WHERE sha=?", (s,)).fetchone()[0])

    before = stored_last_used()
    for _ in range(100):
        clock.t += 1
        cache.touch(s)
    assert stored_last_used() == before, "touch must not write the index every time"
    assert cache.entry(s).last_used == clock.t  # type: ignore[union-attr]
    clock.t += 3600
    cache.touch(s)
    assert stored_last_used() == clock.t, "touches are written once the flush interval passed"
    clock.t += 5
    cache.touch(s)
    cache.close()
    assert stored_last_used() == clock.t, "close() writes pending touches"


def test_set_that_cannot_fit_is_refused_and_nothing_evicted(cache: ContentCache) -> None:
    pinned = cache.put_bytes(blob(1, 500))
    cache.pin("current", [pinned])
    loose = cache.put_bytes(blob(2, 300))
    check = cache.ensure_space(600)
    assert not check
    assert "only 500 bytes can be made available" in check.reason
    assert cache.has(loose), "a refused reservation evicts nothing"
    too_big = cache.ensure_space(5000)
    assert not too_big and "quota is only 1000 bytes" in too_big.reason
    ok = cache.ensure_space(200)
    assert ok and ok.reason == ""
    assert cache.has(loose), "200 bytes fit without eviction"
    assert cache.ensure_space(500)
    assert not cache.has(loose) and cache.has(pinned)


def test_put_that_cannot_fit_raises_cache_full(cache: ContentCache) -> None:
    cache.pin("current", [cache.put_bytes(blob(1, 900))])
    with pytest.raises(CacheFullError):
        cache.put_bytes(blob(2, 200))
    assert cache.stats() == (900, 1)
    assert list(cache.tmp_dir.iterdir()) == []


def test_pins_may_precede_content_and_keep_arg_protects(cache: ContentCache, clock: FakeClock) -> None:
    future = sha(blob(7))
    cache.pin("pending", [future])
    clock.t += 1
    old = cache.put_bytes(blob(1, 600))
    clock.t += 1
    arrived = cache.put_bytes(blob(7))
    assert cache.is_pinned(arrived) and arrived == future
    assert not cache.ensure_space(200, keep=[old])
    assert cache.has(old)
    assert cache.pin_sets() == {"pending": {future}}


def test_derived_files(cache: ContentCache, clock: FakeClock) -> None:
    src = cache.put_bytes(blob(1, 400))
    tmp = cache.new_temp_path()
    tmp.write_bytes(blob(9, 100))
    d = cache.put_derived(src, "scale:960x540", tmp, suffix=".png")
    assert cache.get_derived(src, "scale:960x540") == d
    assert cache.get_derived(src, "scale:1920x1080") is None
    cache.pin("current", [src])
    clock.t += 100
    filler = cache.put_bytes(blob(2, 400))
    clock.t += 100
    cache.touch(filler)
    cache.put_bytes(blob(3, 200))  # must evict; the derived file of a pinned source is protected
    assert cache.has(d) and not cache.has(filler)
    cache.unpin("current")
    cache.remove(d)
    assert cache.get_derived(src, "scale:960x540") is None


def test_verify_detects_corruption(cache: ContentCache) -> None:
    s = cache.put_bytes(b"original")
    assert cache.verify(s)
    path = cache.path_of(s)
    path.write_bytes(b"originaL")
    assert not cache.verify(s)
    assert not cache.has(s) and not path.exists()
    assert cache.stats() == (0, 0)


def _age(path: Path) -> None:
    old = PROCESS_START - 3600
    os.utime(path, (old, old))


def test_check_consistency_repairs_every_crash_leftover(tmp_path: Path, clock: FakeClock) -> None:
    cache = ContentCache(tmp_path / "c", quota_bytes=10_000, clock=clock)
    kept = cache.put_bytes(b"kept")
    lost = cache.put_bytes(b"row without file")
    cache.path_of(lost).unlink()  # crash after the file was removed but before the row was
    # crash after the rename into files/ but before the index row was committed: valid content, adopted
    adopt = sha(b"orphan but valid")
    cache.path_of(adopt).parent.mkdir(parents=True, exist_ok=True)
    cache.path_of(adopt).write_bytes(b"orphan but valid")
    # a file whose content does not match its name
    bogus = sha(b"claimed")
    cache.path_of(bogus).parent.mkdir(parents=True, exist_ok=True)
    cache.path_of(bogus).write_bytes(b"different")
    junk = cache.files_dir / "zz" / "not-a-hash"
    junk.parent.mkdir()
    junk.write_bytes(b"junk")
    # temp files: stale write, resumable partial (kept), partial without metadata, fresh temp of this process
    stale_tmp = cache.tmp_dir / "x.tmp"
    resumable = cache.tmp_dir / ("1" * 64 + ".part")
    resumable_meta = cache.tmp_dir / ("1" * 64 + ".part.json")
    lonely_part = cache.tmp_dir / ("2" * 64 + ".part")
    fresh = cache.tmp_dir / "fresh.tmp"
    for p in (stale_tmp, resumable, resumable_meta, lonely_part, fresh):
        p.write_bytes(b"...")
    for p in (stale_tmp, resumable, resumable_meta, lonely_part):
        _age(p)

    report = cache.check_consistency()

    assert cache.has(kept) and cache.has(adopt)
    assert not cache.has(lost) and lost in report.removed_rows
    assert adopt in report.adopted_files
    assert not cache.path_of(bogus).exists()
    assert not junk.parent.exists()
    assert not stale_tmp.exists() and not lonely_part.exists()
    assert resumable.exists() and resumable_meta.exists()
    assert fresh.exists(), "temp files of the running process are left alone"
    assert cache.stats() == (len(b"kept") + len(b"orphan but valid"), 2)
    assert cache.lookup_origin("nothing") is None
    assert not cache.check_consistency().changed, "a repaired cache needs no further repair"
    cache.close()


def test_corrupt_index_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "c"
    cache = ContentCache(root, quota_bytes=10_000)
    s = cache.put_bytes(b"survives")
    cache.close()
    for extra in ("-wal", "-shm"):
        Path(str(root / "index.sqlite") + extra).unlink(missing_ok=True)
    (root / "index.sqlite").write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.ERROR, logger="player.cache"):
        cache = ContentCache(root, quota_bytes=10_000)
    assert any("unreadable" in r.getMessage() for r in caplog.records)
    assert not cache.has(s)
    cache.check_consistency()
    assert cache.has(s), "valid files are re-adopted into the rebuilt index"
    cache.close()
