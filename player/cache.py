"""Offline content store: files addressed by SHA-256, indexed in SQLite, with quota, pins and integrity checks.

Layout under ``root`` (see docs/cache.md)::

    index.sqlite        SQLite index (WAL mode)
    files/ab/abcdef...  content, named by its lowercase hex SHA-256, no extension
    tmp/                temporary files: ``osc-<owner>.*`` (in-flight writes, named after the writing process,
                        see :func:`player.atomic.temp_owner`), ``*.part`` + ``*.part.json`` (resumable downloads)

No Qt in here; the class is thread-safe (one SQLite connection guarded by a lock).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from player.atomic import (
    PROCESS_START,
    fsync_dir,
    open_regular,
    owner_alive,
    temp_file_owner,
    temp_owner,
    temp_prefix,
)
from player.removal import Teller, remove_same_device

log = logging.getLogger(__name__)
_CACHE = Teller(log, "cache")  # "cache: not removing ..." in the cache's log

__all__ = [
    "PROCESS_START",
    "CacheEntry",
    "CacheError",
    "CacheFullError",
    "ConsistencyReport",
    "ContentCache",
    "HashMismatchError",
    "InvalidHashError",
    "OriginEntry",
    "SpaceCheck",
    "CacheStats",
    "hash_file",
    "is_sha256",
]

_SHA_RE = re.compile(r"[0-9a-fA-F]{64}")
_PIN_NAME_RE = re.compile(r"[A-Za-z0-9._:@-]{1,200}")
_CHUNK = 1024 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    sha           TEXT PRIMARY KEY,
    size          INTEGER NOT NULL,
    suffix        TEXT,
    created       REAL NOT NULL,
    last_used     REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS files_last_used ON files(last_used);
CREATE TABLE IF NOT EXISTS origins (
    url           TEXT PRIMARY KEY,
    sha           TEXT NOT NULL,
    etag          TEXT,
    last_modified TEXT,
    fetched       REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS origins_sha ON origins(sha);
CREATE TABLE IF NOT EXISTS pins (
    set_name      TEXT NOT NULL,
    sha           TEXT NOT NULL,
    PRIMARY KEY (set_name, sha)
);
CREATE INDEX IF NOT EXISTS pins_sha ON pins(sha);
CREATE TABLE IF NOT EXISTS derived (
    src_sha       TEXT NOT NULL,
    variant       TEXT NOT NULL,
    sha           TEXT NOT NULL,
    created       REAL NOT NULL,
    PRIMARY KEY (src_sha, variant)
);
CREATE INDEX IF NOT EXISTS derived_sha ON derived(sha);
"""


class CacheError(Exception):
    """Base class of all cache errors."""


class InvalidHashError(CacheError, ValueError):
    """A string that is not a 64-character hex SHA-256 was used as a content address."""


class HashMismatchError(CacheError):
    """The content's SHA-256 is not the one the caller expected."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"content hash mismatch: expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual


class CacheFullError(CacheError):
    """The content does not fit into the quota even after evicting every unpinned file."""


class CacheStats(NamedTuple):
    bytes: int
    files: int


@dataclass(frozen=True)
class CacheEntry:
    sha: str
    size: int
    suffix: str | None
    created: float
    last_used: float


@dataclass(frozen=True)
class OriginEntry:
    """What the cache knows about a URL: the content it last delivered and its HTTP validators."""

    url: str
    sha: str
    size: int
    etag: str | None
    last_modified: str | None
    fetched: float


@dataclass(frozen=True)
class SpaceCheck:
    """Answer of :meth:`ContentCache.ensure_space`; truthy when the space is available."""

    ok: bool
    needed: int
    available: int
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


@dataclass
class ConsistencyReport:
    adopted_files: list[str] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)
    removed_rows: list[str] = field(default_factory=list)
    removed_temp: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.adopted_files or self.removed_files or self.removed_rows or self.removed_temp)


def is_sha256(value: object) -> bool:
    return isinstance(value, str) and _SHA_RE.fullmatch(value) is not None


def _norm_sha(sha: object) -> str:
    if not is_sha256(sha):
        raise InvalidHashError(f"not a SHA-256 hex digest: {str(sha)[:80]!r}")
    assert isinstance(sha, str)
    return sha.lower()


def hash_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """Return (lowercase hex SHA-256, size) of a file, streaming it in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ContentCache:
    """Content-addressed file store with a SQLite index.

    * ``quota_bytes`` limits the total size of stored files (temporary/partial files are not counted).
    * Pins are named sets of hashes (e.g. ``"snapshot:<id>"``, ``"pending"``); a pinned file is never evicted.
      A hash may be pinned before its file arrives. Derived files of a pinned source count as pinned.
    * ``touch()`` only records the use in memory; the index is updated at most every ``touch_flush_seconds``
      (and on :meth:`flush_touches`, eviction and :meth:`close`) to spare the SD card.
    * A ``last_used`` later than the clock (stamped while the clock ran ahead, e.g. a Pi without RTC before NTP set
      it back) is rewritten as now at the next flush, so such files age from then on instead of looking newest.
    * :meth:`sweep_tmp` removes abandoned files from ``tmp/`` while the player runs (sync calls it on each pass).
    """

    #: resumable partial downloads older than this are discarded by :meth:`check_consistency` (by file time) and by
    #: :meth:`sweep_tmp` (unchanged this long on the monotonic clock)
    partial_max_age: float = 7 * 24 * 3600.0
    #: :meth:`sweep_tmp` removes a temp file nobody holds once it stayed unchanged this long (seconds)
    abandoned_after: float = 3600.0

    def __init__(
        self,
        root: str | os.PathLike[str],
        quota_bytes: int,
        *,
        touch_flush_seconds: float = 3600.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if quota_bytes <= 0:
            raise ValueError(f"cache quota must be positive, got {quota_bytes}")
        self.root = Path(root).resolve()
        self.quota_bytes = int(quota_bytes)
        self.files_dir = self.root / "files"
        self.tmp_dir = self.root / "tmp"
        self.index_path = self.root / "index.sqlite"
        self._clock = clock
        self._monotonic = monotonic
        self._sweep_lock = threading.Lock()
        #: tmp/ entry name -> (its (inode, size, mtime) when first seen so, monotonic time of that sighting)
        self._tmp_seen: dict[str, tuple[tuple[int, ...], float]] = {}
        #: tmp/ entry name -> its signature when the sweep last logged that it cannot remove it (logged once)
        self._tmp_failed: dict[str, tuple[int, ...]] = {}
        self._touch_flush_seconds = touch_flush_seconds
        self._lock = threading.RLock()
        self._pending_touches: dict[str, float] = {}
        self._last_touch_flush = clock()
        self.root.mkdir(parents=True, exist_ok=True)
        self._real_dir(self.files_dir)
        self._real_dir(self.tmp_dir)
        self._db = self._open_db()
        self._closed = False

    def _real_dir(self, path: Path) -> None:
        """Make *path* (``files/``, ``tmp/``) a directory of the cache's own. A symbolic link there (an installer
        that put ``tmp/`` on a stick, a user's folder) is replaced by an empty directory: the link is unlinked, its
        target never touched. Cleaning through it would delete the target's files (everything in ``tmp/`` that is
        no partial goes); keeping it but not cleaning would let tmp/ fill the disk, and files/ hold content the
        check could not repair. To keep the cache elsewhere, point the cache root there."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISLNK(st.st_mode):
            try:
                target = os.readlink(path)
            except OSError:
                target = "?"  # replaced meanwhile (another process opening the cache)
            log.warning("cache: %s is a symbolic link (to %s); replaced by a directory of the cache's own, the "
                        "link's target left as it is (to keep the cache elsewhere, set its root there)",
                        path, target)
            path.unlink(missing_ok=True)
        path.mkdir(exist_ok=True)

    # ------------------------------------------------------------------ database

    def _open_db(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            aside = self.index_path.with_name(f"index.corrupt-{int(self._clock())}.sqlite")
            log.error("cache index %s is unreadable (%s); moved aside to %s, rebuilding", self.index_path, exc, aside)
            for suffix in ("", "-wal", "-shm"):
                src = Path(str(self.index_path) + suffix)
                if src.exists():
                    os.replace(src, Path(str(aside) + suffix))
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.index_path, check_same_thread=False, isolation_level=None, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=OFF")
            db.executescript(_SCHEMA)
            db.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        """Write pending last-use times and close the index (a second call does nothing)."""
        with self._lock:
            if self._closed:
                return
            self.flush_touches()
            self._db.close()
            self._closed = True

    def __enter__(self) -> ContentCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ lookup

    def path_of(self, sha: str) -> Path:
        """Path where the content with this hash is (or would be) stored.

        Raises :class:`InvalidHashError` for anything but a 64-hex digest, so no path can leave the cache dir.
        Does not check existence; use :meth:`has`.
        """
        s = _norm_sha(sha)
        return self.files_dir / s[:2] / s

    def has(self, sha: str) -> bool:
        """True when the index lists the hash and its file exists (False for invalid hashes)."""
        if not is_sha256(sha):
            return False
        s = sha.lower()
        with self._lock:
            row = self._db.execute("SELECT 1 FROM files WHERE sha=?", (s,)).fetchone()
        return row is not None and self.path_of(s).is_file()

    def entry(self, sha: str) -> CacheEntry | None:
        s = _norm_sha(sha)
        with self._lock:
            row = self._db.execute(
                "SELECT sha, size, suffix, created, last_used FROM files WHERE sha=?", (s,)
            ).fetchone()
        if row is None:
            return None
        last_used = min(max(row[4], self._pending_touches.get(s, 0.0)), self._clock())  # none in the future
        return CacheEntry(row[0], row[1], row[2], row[3], last_used)

    def lookup_origin(self, url: str) -> OriginEntry | None:
        """Last content delivered for *url* (with ETag/Last-Modified), if that content is still cached."""
        with self._lock:
            row = self._db.execute(
                "SELECT o.url, o.sha, f.size, o.etag, o.last_modified, o.fetched "
                "FROM origins o JOIN files f ON f.sha = o.sha WHERE o.url=?",
                (url,),
            ).fetchone()
        if row is None or not self.path_of(row[1]).is_file():
            return None
        return OriginEntry(*row)

    def record_origin(self, url: str, sha: str, etag: str | None = None, last_modified: str | None = None) -> None:
        """Remember that *url* delivered *sha* (with these validators)."""
        s = _norm_sha(sha)
        with self._tx() as db:
            db.execute(
                "INSERT INTO origins(url, sha, etag, last_modified, fetched) VALUES (?,?,?,?,?) "
                "ON CONFLICT(url) DO UPDATE SET sha=excluded.sha, etag=excluded.etag, "
                "last_modified=excluded.last_modified, fetched=excluded.fetched",
                (url, s, etag, last_modified, self._clock()),
            )

    def stats(self) -> CacheStats:
        """(total bytes, number of files) currently stored."""
        with self._lock:
            total, count = self._db.execute("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM files").fetchone()
        return CacheStats(int(total), int(count))

    # ------------------------------------------------------------------ storing

    def new_temp_path(self, suffix: str = ".tmp") -> Path:
        """A fresh, unique path in ``root/tmp`` (same filesystem as the store, so moves are renames), named after
        this process so that :meth:`check_consistency` in another process leaves it alone while we run."""
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, prefix=temp_prefix(), suffix=suffix)
        os.close(fd)
        return Path(name)

    def put_file(
        self,
        tmp_path: str | os.PathLike[str],
        expected_sha: str | None = None,
        origin: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        suffix: str | None = None,
    ) -> str:
        """Move a finished file into the store and return its SHA-256.

        The file is hashed; on mismatch with *expected_sha* it is deleted and :class:`HashMismatchError`
        raised. If the content is already stored the temp file is just deleted. Makes room by LRU eviction
        of unpinned files; raises :class:`CacheFullError` (temp file deleted) when it cannot fit.
        """
        src = Path(tmp_path)
        want = _norm_sha(expected_sha) if expected_sha is not None else None
        try:
            sha, size = hash_file(src)
            if want is not None and sha != want:
                raise HashMismatchError(want, sha)
            dest = self.path_of(sha)
            with self._lock:
                if not self.has(sha):
                    if not self.evict_to_fit(size):
                        raise CacheFullError(
                            f"cannot store {size} bytes: quota {self.quota_bytes}, "
                            f"{self._pinned_bytes()} bytes pinned"
                        )
                    self._move_in(src, dest)
                    now = self._clock()
                    with self._tx() as db:
                        db.execute(
                            "INSERT OR REPLACE INTO files(sha, size, suffix, created, last_used) VALUES (?,?,?,?,?)",
                            (sha, size, suffix, now, now),
                        )
                else:
                    src.unlink(missing_ok=True)
                    if suffix is not None:
                        with self._tx() as db:
                            db.execute("UPDATE files SET suffix=? WHERE sha=? AND suffix IS NULL", (suffix, sha))
                if origin is not None:
                    self.record_origin(origin, sha, etag, last_modified)
            return sha
        except BaseException:
            src.unlink(missing_ok=True)
            raise

    def _move_in(self, src: Path, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _fsync_file(src)
        try:
            os.replace(src, dest)
        except OSError as exc:
            if exc.errno != 18:  # EXDEV: not on our filesystem, copy into tmp first
                raise
            staged = self.new_temp_path()
            shutil.copyfile(src, staged)
            _fsync_file(staged)
            os.replace(staged, dest)
            src.unlink(missing_ok=True)
        fsync_dir(dest.parent)

    def put_bytes(
        self,
        data: bytes,
        expected_sha: str | None = None,
        origin: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        suffix: str | None = None,
    ) -> str:
        """Store *data* and return its SHA-256 (same semantics as :meth:`put_file`)."""
        tmp = self.new_temp_path()
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
        except BaseException:  # a full disk: the partial file would only keep it full
            tmp.unlink(missing_ok=True)
            raise
        return self.put_file(tmp, expected_sha, origin=origin, etag=etag, last_modified=last_modified, suffix=suffix)

    def read_bytes(self, sha: str) -> bytes:
        return self.path_of(sha).read_bytes()

    def remove(self, sha: str) -> bool:
        """Delete a stored file and everything that refers to it (origins, derived rows). Pins stay."""
        s = _norm_sha(sha)
        with self._lock:
            with self._tx() as db:
                cur = db.execute("DELETE FROM files WHERE sha=?", (s,))
                db.execute("DELETE FROM origins WHERE sha=?", (s,))
                db.execute("DELETE FROM derived WHERE sha=?", (s,))
            self._pending_touches.pop(s, None)
            existed = cur.rowcount > 0
            path = self.path_of(s)
            if path.exists():
                path.unlink()
                fsync_dir(path.parent)
                existed = True
        return existed

    # ------------------------------------------------------------------ derived files

    def put_derived(
        self, src_sha: str, variant: str, tmp_path: str | os.PathLike[str], suffix: str | None = None
    ) -> str:
        """Store a file derived from *src_sha* (e.g. variant ``"scale:960x540"``); returns the derived file's sha."""
        src = _norm_sha(src_sha)
        if not variant:
            raise ValueError("derived variant must be a non-empty string")
        sha = self.put_file(tmp_path, suffix=suffix)
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO derived(src_sha, variant, sha, created) VALUES (?,?,?,?)",
                (src, variant, sha, self._clock()),
            )
        return sha

    def get_derived(self, src_sha: str, variant: str) -> str | None:
        """The sha of the stored derived file for (src_sha, variant), or None. Counts as a use."""
        src = _norm_sha(src_sha)
        with self._lock:
            row = self._db.execute(
                "SELECT sha FROM derived WHERE src_sha=? AND variant=?", (src, variant)
            ).fetchone()
        if row is None or not self.has(row[0]):
            return None
        self.touch(row[0])
        return str(row[0])

    # ------------------------------------------------------------------ use tracking

    def touch(self, sha: str) -> None:
        """Record a use (for LRU). Buffered in memory; written at most every ``touch_flush_seconds``."""
        s = _norm_sha(sha)
        now = self._clock()
        with self._lock:
            self._pending_touches[s] = now
            # a last flush "in the future" means the clock was set back: flush now (it rewrites future times)
            if now - self._last_touch_flush >= self._touch_flush_seconds or now < self._last_touch_flush:
                self.flush_touches()

    def flush_touches(self) -> None:
        """Write buffered last-use times to the index (one transaction).

        Last-use times later than now (stored while the clock ran ahead) are rewritten as now, touched or not:
        they would otherwise rank as the newest for as long as the clock was ahead, and the files really in use be
        evicted before them. One indexed look-up when there are none; nothing is written then."""
        with self._lock:
            now = self._clock()
            self._last_touch_flush = now
            items = [(min(t, now), s) for s, t in self._pending_touches.items()]
            self._pending_touches.clear()
            future = self._db.execute("SELECT 1 FROM files WHERE last_used > ? LIMIT 1", (now,)).fetchone()
            if not items and future is None:
                return
            with self._tx() as db:
                if future is not None:
                    cur = db.execute("UPDATE files SET last_used=? WHERE last_used > ?", (now, now))
                    log.info("cache: %d files had a last use later than now (the clock was set back); "
                             "counted as used now", cur.rowcount)
                db.executemany("UPDATE files SET last_used=MAX(last_used, ?) WHERE sha=?", items)

    # ------------------------------------------------------------------ pins

    def pin(self, set_name: str, shas: Iterable[str]) -> None:
        """Replace the pin set *set_name* with *shas* (hashes need not be stored yet)."""
        if not _PIN_NAME_RE.fullmatch(set_name):
            raise ValueError(f"invalid pin set name: {set_name!r}")
        rows = sorted({(set_name, _norm_sha(s)) for s in shas})
        with self._tx() as db:
            db.execute("DELETE FROM pins WHERE set_name=?", (set_name,))
            db.executemany("INSERT INTO pins(set_name, sha) VALUES (?,?)", rows)

    def unpin(self, set_name: str) -> None:
        """Drop the pin set *set_name* (no error if it does not exist)."""
        with self._tx() as db:
            db.execute("DELETE FROM pins WHERE set_name=?", (set_name,))

    def pin_sets(self) -> dict[str, set[str]]:
        with self._lock:
            rows = self._db.execute("SELECT set_name, sha FROM pins").fetchall()
        out: dict[str, set[str]] = {}
        for name, sha in rows:
            out.setdefault(name, set()).add(sha)
        return out

    def is_pinned(self, sha: str) -> bool:
        s = _norm_sha(sha)
        with self._lock:
            return s in self._pinned_shas()

    def _pinned_shas(self) -> set[str]:
        rows = self._db.execute(
            "SELECT sha FROM pins UNION SELECT d.sha FROM derived d JOIN pins p ON p.sha = d.src_sha"
        ).fetchall()
        return {r[0] for r in rows}

    def _pinned_bytes(self) -> int:
        with self._lock:
            pinned = self._pinned_shas()
            rows = self._db.execute("SELECT sha, size FROM files").fetchall()
        return sum(size for sha, size in rows if sha in pinned)

    # ------------------------------------------------------------------ quota

    def evict_to_fit(self, extra_bytes: int, keep: Iterable[str] = ()) -> bool:
        """Evict least-recently-used unpinned files until *extra_bytes* more fit into the quota.

        Files in *keep* are treated as pinned. Returns False (having evicted nothing) when even evicting
        every unpinned file would not make enough room.
        """
        with self._lock:
            self.flush_touches()
            total, _ = self.stats()
            excess = total + extra_bytes - self.quota_bytes
            if excess <= 0:
                return True
            protected = self._pinned_shas() | {_norm_sha(k) for k in keep}
            rows = self._db.execute("SELECT sha, size FROM files ORDER BY last_used ASC, created ASC").fetchall()
            victims: list[tuple[str, int]] = []
            freed = 0
            for sha, size in rows:
                if freed >= excess:
                    break
                if sha in protected:
                    continue
                victims.append((sha, size))
                freed += size
            if freed < excess:
                return False
            for sha, size in victims:
                log.info("cache: evicting %s (%d bytes, least recently used)", sha, size)
                self.remove(sha)
            return True

    def ensure_space(self, needed: int, keep: Iterable[str] = ()) -> SpaceCheck:
        """Make room for *needed* more bytes (evicting LRU unpinned files), or explain why that is impossible.

        Typical use by sync: ``pin("pending", shas)`` first, then ``ensure_space(bytes_still_missing)``.
        Nothing is evicted when the answer is negative.
        """
        with self._lock:
            keep_set = {_norm_sha(k) for k in keep}
            if needed > self.quota_bytes:
                return SpaceCheck(
                    False, needed, self._available_after_eviction(keep_set),
                    f"needs {needed} bytes but the cache quota is only {self.quota_bytes} bytes",
                )
            if self.evict_to_fit(needed, keep_set):
                total, _ = self.stats()
                return SpaceCheck(True, needed, self.quota_bytes - total)
            available = self._available_after_eviction(keep_set)
            return SpaceCheck(
                False, needed, available,
                f"needs {needed} bytes but only {available} bytes can be made available "
                f"(quota {self.quota_bytes}, pinned {self.quota_bytes - available} bytes)",
            )

    def _available_after_eviction(self, keep: set[str]) -> int:
        protected = self._pinned_shas() | keep
        rows = self._db.execute("SELECT sha, size FROM files").fetchall()
        return self.quota_bytes - sum(size for sha, size in rows if sha in protected)

    # ------------------------------------------------------------------ integrity

    def verify(self, sha: str) -> bool:
        """Re-hash a stored file. A missing or corrupt file is removed from the store; returns False then."""
        s = _norm_sha(sha)
        path = self.path_of(s)
        try:
            actual, _ = hash_file(path)
        except FileNotFoundError:
            actual = None
        if actual == s:
            return True
        log.warning("cache: %s is %s; removed so it gets fetched again", s, "missing" if actual is None else "corrupt")
        self.remove(s)
        return False

    def check_consistency(self, deep: bool = False) -> ConsistencyReport:
        """Repair the store after a crash or power loss; call once at start.

        * index rows without a file (or with a file of the wrong size) are deleted;
        * files not in the index are re-hashed and adopted when their name matches their content,
          otherwise deleted; anything in ``files/`` not named like a hash is deleted;
        * temp files whose writing process is gone (by the owner in their name, not by their time) are deleted;
          resumable downloads (``*.part`` with a ``*.part.json`` sidecar) are kept while younger than
          ``partial_max_age``, and always while another process downloads into them (its lock is held);
          partials without a sidecar and orphan sidecars are deleted;
        * with ``deep=True`` every file is re-hashed (slow on big caches).
        """
        report = ConsistencyReport()
        with self._lock:
            self._real_dir(self.files_dir)  # a link put there meanwhile is never cleaned through
            self._real_dir(self.tmp_dir)
            rows = dict(self._db.execute("SELECT sha, size FROM files").fetchall())
            on_disk: dict[str, Path] = {}
            for sub in list(self.files_dir.iterdir()):
                if sub.is_symlink() or not sub.is_dir() or not re.fullmatch(r"[0-9a-f]{2}", sub.name):
                    if _remove_any(sub):
                        report.removed_files.append(str(sub.relative_to(self.root)))
                    continue
                for f in list(sub.iterdir()):
                    if not f.is_symlink() and f.is_file() and re.fullmatch(r"[0-9a-f]{64}", f.name) and f.name[:2] == sub.name:
                        on_disk[f.name] = f
                    else:
                        if _remove_any(f):
                            report.removed_files.append(str(f.relative_to(self.root)))
            for sha, size in rows.items():
                path = on_disk.get(sha)
                bad = path is None or path.stat().st_size != size
                if not bad and deep:
                    bad = hash_file(path)[0] != sha  # type: ignore[arg-type]
                if bad:
                    self.remove(sha)
                    on_disk.pop(sha, None)
                    report.removed_rows.append(sha)
            now = self._clock()
            for sha, path in on_disk.items():
                if sha in rows:
                    continue
                actual, size = hash_file(path)
                if actual == sha:
                    with self._tx() as db:
                        db.execute(
                            "INSERT OR REPLACE INTO files(sha, size, suffix, created, last_used) VALUES (?,?,?,?,?)",
                            (sha, size, None, now, 0.0),
                        )
                    report.adopted_files.append(sha)
                else:
                    path.unlink()
                    report.removed_files.append(str(path.relative_to(self.root)))
            with self._tx() as db:
                db.execute("DELETE FROM origins WHERE sha NOT IN (SELECT sha FROM files)")
                db.execute("DELETE FROM derived WHERE sha NOT IN (SELECT sha FROM files)")
            report.removed_temp.extend(self._clean_tmp())
            for d in {p.parent for p in on_disk.values()} | {self.files_dir, self.tmp_dir}:
                if d.exists():
                    fsync_dir(d)
        if report.changed:
            log.warning(
                "cache: consistency check adopted %d, removed %d files, %d index rows, %d temp files",
                len(report.adopted_files), len(report.removed_files), len(report.removed_rows),
                len(report.removed_temp),
            )
        return report

    def _clean_tmp(self) -> list[str]:
        removed: list[str] = []
        now = time.time()
        entries = list(self.tmp_dir.iterdir())
        regular = {p.name for p in entries if _is_regular(p)}  # only these can be partials and sidecars
        for p in entries:
            name = p.name
            owner = temp_file_owner(name)
            if owner is not None:
                if owner_alive(owner):
                    continue  # an in-flight write of this or another running process
                if _remove_any(p):
                    removed.append(str(p.relative_to(self.root)))
                continue
            try:
                mtime = p.lstat().st_mtime  # a link's own: a dangling one goes too
            except FileNotFoundError:
                continue
            if name.endswith(".part"):  # a FIFO, directory or link named so is none: it goes (never opened)
                if name in regular and _download_running(p):
                    continue
                keep = {name, name + ".json"} <= regular and now - mtime < self.partial_max_age
            elif name.endswith(".part.json"):
                keep = {name, name[: -len(".json")]} <= regular and now - mtime < self.partial_max_age
            else:
                keep = mtime >= PROCESS_START  # unmarked (older versions): the only case decided by time
            if not keep and _remove_any(p):
                removed.append(str(p.relative_to(self.root)))
        return removed


    # ------------------------------------------------------------------ tmp/ while running

    def sweep_tmp(self, keep_urls: Iterable[str] | None = None) -> list[str]:
        """Remove abandoned files from ``tmp/`` while the player runs; returns their names (relative to the root).

        :meth:`check_consistency` cleans ``tmp/`` at start; a player running for months also needs this, or the
        leftovers of interrupted downloads (hub outage, killed ``osc-player sync --once``, full disk) eat the disk.
        Cheap (one listing, a stat per entry, a lock probe per unlocked partial); sync calls it on each pass, off
        the GUI thread. Removed are:

        * temp files named after a process that is gone (``osc-<owner>.*``), at once;
        * a partial download nobody is downloading into, with its sidecar, once it stayed unchanged for
          ``abandoned_after`` (1 h), or for ``partial_max_age`` (7 days) while it can be resumed: it has bytes and a
          sidecar with the validator the resuming ``If-Range`` needs, and its URL is in *keep_urls* (the URLs the
          content asks for; None: unknown, all count);
        * a sidecar without its partial, this process's own temp files and unmarked files, once unchanged for
          ``abandoned_after``; so is anything that is not a regular file (a FIFO, a directory, a symbolic link,
          left by some tool), whatever its name: it is never opened (opening a FIFO would block until a writer
          comes, and sync with it), a directory goes with its content, a link without its target.

        A removal that fails (EACCES, a read-only disk) is tried again at each sweep but logged once, and again
        only after the entry changed.

        Never touched: a ``.part`` (or its sidecar) whose lock a download holds (in any process; the lock is taken
        for the removal itself, so no download can start on it meanwhile), temp files of another running process,
        anything that changed since the last sweep. "Unchanged for" counts on the monotonic clock from the sweep that
        first saw the file as it is, so a wall clock set back or forward (a Pi without RTC) neither removes a file
        in use nor keeps one forever; a file is never removed by the sweep that first sees it (dead owners aside).
        """
        wanted = None if keep_urls is None else {hashlib.sha256(u.encode("utf-8")).hexdigest() for u in keep_urls}
        removed: list[str] = []
        freed = 0
        with self._sweep_lock:
            now = self._monotonic()
            try:
                self._real_dir(self.tmp_dir)  # a link put there meanwhile is never cleaned through
                listing = list(os.scandir(self.tmp_dir))
            except OSError as exc:
                log.warning("cache: cannot look for abandoned temp files in %s: %s", self.tmp_dir, exc)
                return removed
            stats: dict[str, os.stat_result] = {}
            for entry in listing:
                with contextlib.suppress(OSError):  # gone meanwhile
                    stats[entry.name] = entry.stat(follow_symlinks=False)

            def regular(name: str) -> bool:
                st = stats.get(name)
                return st is not None and stat.S_ISREG(st.st_mode)

            me = temp_owner()
            seen: dict[str, tuple[tuple[int, ...], float]] = {}
            failed = {name: sig for name, sig in self._tmp_failed.items() if name in stats}
            for name, st in stats.items():
                # only regular files are partials and sidecars (opened, locked); anything else named so (a FIFO,
                # a directory, a link) is a stray entry, never opened: a FIFO would block the sweep for good
                is_part = name.endswith(".part") and regular(name)
                is_sidecar = name.endswith(".part.json") and regular(name)
                if is_sidecar and regular(name[: -len(".json")]):
                    continue  # goes with its partial
                sidecar = name + ".json" if is_part and regular(name + ".json") else None
                sig: tuple[int, ...] = (st.st_ino, st.st_size, st.st_mtime_ns)
                if sidecar is not None:
                    sst = stats[sidecar]
                    sig += (sst.st_ino, sst.st_size, sst.st_mtime_ns)
                owner = temp_file_owner(name)
                if owner is not None and owner != me:
                    if owner_alive(owner):
                        continue  # an in-flight write of another running process
                    freed += self._sweep_remove(name, st, sig, removed, failed)
                    continue
                first = self._tmp_seen.get(name)
                since = first[1] if first is not None and first[0] == sig else now
                seen[name] = (sig, since)
                idle = now - since
                if idle < self.abandoned_after or idle <= 0:
                    continue
                if is_part or is_sidecar:
                    part = self.tmp_dir / (name if is_part else name[: -len(".json")])
                    if (idle < self.partial_max_age and sidecar is not None and st.st_size > 0
                            and (wanted is None or name[: -len(".part")] in wanted)
                            and _resumable(part, self.tmp_dir / sidecar)):
                        continue
                    try:
                        done = _remove_part(part, remove_part=is_part, with_sidecar=sidecar is not None or is_sidecar)
                    except OSError as exc:
                        self._sweep_failed(name, sig, exc, failed)
                        continue
                    if done:
                        removed += [f"{self.tmp_dir.name}/{n}" for n in (name, sidecar) if n]
                        freed += st.st_size + (stats[sidecar].st_size if sidecar is not None else 0)
                        seen.pop(name, None)
                        failed.pop(name, None)
                    continue
                size = self._sweep_remove(name, st, sig, removed, failed)
                if name not in failed:
                    freed += size
                    seen.pop(name, None)
            self._tmp_seen = seen
            self._tmp_failed = failed
        if removed:
            with contextlib.suppress(OSError):
                fsync_dir(self.tmp_dir)
            log.info("cache: removed %d abandoned temp files (%.1f MB) from %s", len(removed), freed / 1e6,
                     self.tmp_dir)
        return removed

    def _sweep_remove(self, name: str, st: os.stat_result, sig: tuple[int, ...], removed: list[str],
                      failed: dict[str, tuple[int, ...]]) -> int:
        """Remove a stray entry of tmp/ (as *st*, from lstat, shows it), never following a link; the bytes freed.
        A real directory goes with its content on the same file system (:func:`remove_same_device`: a mount inside
        it stays, with the directories holding it; no link followed); a link, a FIFO or a socket is unlinked itself, never opened. A failure is logged once (see :meth:`_sweep_failed`)."""
        path = self.tmp_dir / name
        try:
            if stat.S_ISDIR(st.st_mode):
                if not remove_same_device(path, _CACHE):
                    return 0  # a mount inside: logged once by remove_same_device, looked at again later
            else:
                path.unlink()
        except FileNotFoundError:
            failed.pop(name, None)
            return 0
        except OSError as exc:
            self._sweep_failed(name, sig, exc, failed)
            return 0
        failed.pop(name, None)
        removed.append(f"{self.tmp_dir.name}/{name}")
        return st.st_size if stat.S_ISREG(st.st_mode) else 0

    def _sweep_failed(self, name: str, sig: tuple[int, ...], exc: OSError, failed: dict[str, tuple[int, ...]]) -> None:
        """A removal failed (EACCES, a read-only disk): it is tried again at each sweep, but logged only once, and
        again only when the entry changed, not at every sync pass (1,440 lines a day at a 60 s poll)."""
        if failed.get(name) != sig:
            log.warning("cache: cannot remove abandoned temp file %s: %s (tried again at each sync pass, not "
                        "logged again while it stays as it is)", self.tmp_dir / name, exc)
        failed[name] = sig


def _is_regular(path: Path) -> bool:
    """*path* itself (not a link's target) is a regular file."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _open_no_wait(path: Path) -> int | None:
    """A read-only descriptor of *path* if it is a regular file (not through a link); None when it is missing or
    anything else. Never waits: opening a FIFO the plain way blocks until a writer comes, which may be never."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENXIO):  # missing, a link, a socket
            return None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def _resumable(part: Path, sidecar: Path) -> bool:
    """Whether the next fetch of its URL resumes *part* (player.fetch: a sidecar naming the URL whose hash names the
    partial, with a strong ETag or a Last-Modified for ``If-Range``)."""
    try:
        with open_regular(sidecar) as fh:  # a FIFO put there meanwhile: refused, not waited on
            meta = json.loads(fh.read(64 * 1024))
    except (OSError, ValueError):
        return False
    if not isinstance(meta, dict) or not isinstance(meta.get("url"), str):
        return False
    if hashlib.sha256(meta["url"].encode("utf-8")).hexdigest() + ".part" != part.name:
        return False
    etag = meta.get("etag")
    return bool((isinstance(etag, str) and etag and not etag.startswith("W/")) or meta.get("last_modified"))


def _remove_part(part: Path, *, remove_part: bool, with_sidecar: bool) -> bool:
    """Remove an abandoned partial (and/or its sidecar) unless a download holds it: False then, and when the
    partial is no longer the regular file that was listed (the next sweep looks again). The partial's lock is held
    while removing, so a download starting meanwhile waits for it and then starts on a new file (see
    player.fetch). An orphan sidecar (*remove_part* False) is removed under the lock of a partial that appeared
    meanwhile, which stays. Raises OSError when the removal fails."""
    sidecar = part.with_name(part.name + ".json")
    fd = _open_no_wait(part)
    try:
        if fd is None:
            if remove_part and os.path.lexists(part):
                return False  # no longer a regular file: a stray entry for the next sweep
        else:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES):
                    return False  # a download has just started on it
                raise
            if remove_part:
                try:
                    current = os.lstat(part).st_ino
                except FileNotFoundError:
                    current = None
                if current != os.fstat(fd).st_ino:
                    return False  # replaced since we opened it: not the file we hold
                part.unlink()
        if with_sidecar:
            sidecar.unlink(missing_ok=True)
    finally:
        if fd is not None:
            os.close(fd)
    return True


def _download_running(part: Path) -> bool:
    """True while a downloader (of any process) holds the lock of this partial file (see player.fetch)."""
    try:
        fd = _open_no_wait(part)  # a FIFO named so is no partial (and would block a plain open)
    except OSError:
        return False
    if fd is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EAGAIN, errno.EACCES)
    finally:
        os.close(fd)  # closing drops our lock
    return False


def _remove_any(path: Path) -> bool:
    """:func:`remove_same_device`, failures ignored (check_consistency: the next start tries again); True if gone."""
    try:
        return remove_same_device(path, _CACHE)
    except OSError:
        return False
