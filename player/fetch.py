"""HTTP downloader into the :class:`~player.cache.ContentCache`: resumable, verified, conditional, retried.

* Downloads stream into ``<cache>/tmp/<sha256(url)>.part`` with a ``.part.json`` sidecar holding the URL and its
  validators, so an interrupted download (network drop, crash, kill -9, power loss) resumes with
  ``Range`` + ``If-Range`` on the next call, even in a later process.
* A URL already in the cache is revalidated with ``If-None-Match`` / ``If-Modified-Since`` (304 costs no body).
* Size (Content-Length / Content-Range, ``expected_size``) and SHA-256 (``expected_sha``) are verified before the
  file enters the cache; a per-file size limit aborts oversized downloads.
* Connection errors, timeouts, 5xx, 408 and 429 are retried with exponential backoff and full jitter;
  other 4xx are not.
No Qt in here. Progress callbacks run on worker threads.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import random
import re
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from player.atomic import open_regular, write_json_atomic
from player.cache import CacheFullError, ContentCache, HashMismatchError, InvalidHashError, is_sha256
from player.system.device import NO_ROOM, disk_room, in_mb

log = logging.getLogger(__name__)

__all__ = [
    "DocumentResult",
    "Downloader",
    "FetchError",
    "FetchRequest",
    "FetchResult",
    "ProgressCallback",
]

#: progress(files_done, files_total, bytes_done, bytes_total); bytes_total is 0 while unknown
ProgressCallback = Callable[[int, int, int, int], None]

_CHUNK = 64 * 1024
_RETRY_STATUS = frozenset({408, 429})
_CONTENT_RANGE_RE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
USER_AGENT = "osc-player/0.1"


class FetchError(Exception):
    """A download failed; ``str(err)`` is one line naming the URL and the problem."""

    def __init__(self, url: str, problem: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(f"{display_url(url)}: {problem}")
        self.url = url
        self.problem = problem
        self.status = status
        self.retryable = retryable


class _Restart(Exception):
    """The partial file cannot be resumed; start again from byte 0 (does not count as a failure)."""


@dataclass(frozen=True)
class FetchRequest:
    url: str
    expected_sha: str | None = None
    expected_size: int | None = None


@dataclass(frozen=True)
class FetchResult:
    sha: str
    size: int
    from_cache: bool
    not_modified: bool


@dataclass(frozen=True)
class DocumentResult:
    data: bytes
    sha: str
    not_modified: bool

    def json(self) -> Any:
        return json.loads(self.data)


def display_url(url: str) -> str:
    """The URL without user:password, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return repr(url)[:200]
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise FetchError(url, f"malformed URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        scheme = parts.scheme or "(none)"
        raise FetchError(url, f"refusing URL scheme '{scheme}': only http and https are allowed")
    if not parts.hostname:
        raise FetchError(url, "URL has no host")


class _Progress:
    """Aggregates byte/file counts of several concurrent downloads into one callback."""

    def __init__(self, callback: ProgressCallback | None, files_total: int) -> None:
        self._cb = callback
        self._lock = threading.Lock()
        self.files_total = files_total
        self.files_done = 0
        self._done: dict[str, int] = {}
        self._total: dict[str, int] = {}

    def expect(self, url: str, size: int | None) -> None:
        if size:
            with self._lock:
                self._total[url] = size

    def start(self, url: str, total: int | None, already: int) -> None:
        with self._lock:
            if total:
                self._total[url] = total
            self._done[url] = already
        self._emit()

    def advance(self, url: str, n: int) -> None:
        with self._lock:
            self._done[url] = self._done.get(url, 0) + n
        self._emit()

    def finish(self, url: str, size: int | None) -> None:
        with self._lock:
            self.files_done += 1
            if size is not None:
                self._done[url] = size
                self._total[url] = size
        self._emit()

    def _emit(self) -> None:
        if self._cb is None:
            return
        with self._lock:
            args = (self.files_done, self.files_total, sum(self._done.values()), sum(self._total.values()))
        try:
            self._cb(*args)
        except Exception:  # a broken progress display must never break a download
            log.exception("fetch: progress callback failed")


class Downloader:
    """Downloads URLs into a :class:`ContentCache`. Thread-safe; ``fetch_many`` runs ``max_parallel`` at once."""

    def __init__(
        self,
        cache: ContentCache,
        session: requests.Session | None = None,
        max_parallel: int = 2,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_file_bytes: int = 1024**3,
        ca_file: str | os.PathLike[str] | None = None,
        retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 60.0,
        max_document_bytes: int = 10 * 1024 * 1024,
        user_agent: str = USER_AGENT,
        redirect_check: Callable[[str], str | None] | None = None,
    ) -> None:
        self.cache = cache
        #: Checks every redirect target before it is followed: None lets it pass, else the one-line reason why
        #: not (the download fails with it, nothing is requested from that target). None: no check.
        self.redirect_check = redirect_check
        self._own_session = session is None
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(2, max_parallel))
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self.session = session
        self.max_parallel = max(1, int(max_parallel))
        self.timeout = timeout
        self.max_file_bytes = int(max_file_bytes)
        self.max_document_bytes = int(max_document_bytes)
        self.verify: str | bool = os.fspath(ca_file) if ca_file else True
        self.retries = max(0, int(retries))
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.user_agent = user_agent
        self._stop = threading.Event()
        self._url_locks: dict[str, threading.Lock] = {}
        self._url_locks_guard = threading.Lock()
        self._claims = _DiskClaims()
        #: the URLs the content asks for: those of the last fetch_many (and fetches since); None until then
        self._wanted_urls: frozenset[str] | None = None

    def sweep_tmp(self) -> list[str]:
        """Remove abandoned files from the cache's ``tmp/`` (:meth:`ContentCache.sweep_tmp`); resumable partial
        downloads are kept longer only while their URL is one the content still asks for (the last
        :meth:`fetch_many`'s; any, before the first). Sync calls this on each pass; fetch_many before downloading."""
        return self.cache.sweep_tmp(self._wanted_urls)

    def close(self) -> None:
        """Abort running downloads at the next chunk (they raise FetchError 'cancelled'); partials are kept."""
        self._stop.set()
        if self._own_session:
            self.session.close()

    def __enter__(self) -> Downloader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ public API

    def fetch(
        self,
        url: str,
        expected_sha: str | None = None,
        expected_size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> FetchResult:
        """Make the content of *url* available in the cache and return its hash.

        With *expected_sha* already cached, no network request is made (``from_cache=True``).
        With the URL cached from an earlier fetch, a conditional request is made; a 304 gives
        ``from_cache=True, not_modified=True``. Raises :class:`FetchError`.
        """
        if self._wanted_urls is not None:
            self._wanted_urls |= {url}
        tracker = _Progress(progress, 1)
        tracker.expect(url, expected_size)
        result = self._fetch(url, expected_sha, expected_size, tracker)
        tracker.finish(url, result.size)
        return result

    def fetch_many(
        self,
        items: Iterable[str | FetchRequest],
        progress: ProgressCallback | None = None,
    ) -> dict[str, FetchResult | FetchError]:
        """Fetch several URLs, at most ``max_parallel`` at a time; one result or FetchError per distinct URL."""
        reqs: dict[str, FetchRequest] = {}
        for item in items:
            req = FetchRequest(item) if isinstance(item, str) else item
            reqs.setdefault(req.url, req)
        tracker = _Progress(progress, len(reqs))
        for req in reqs.values():
            tracker.expect(req.url, req.expected_size)
        results: dict[str, FetchResult | FetchError] = {}

        def run(req: FetchRequest) -> FetchResult | FetchError:
            try:
                result = self._fetch(req.url, req.expected_sha, req.expected_size, tracker)
            except FetchError as exc:
                tracker.finish(req.url, None)
                return exc
            except Exception as exc:  # never lose the other results because of one unexpected failure
                tracker.finish(req.url, None)
                if disk_full(exc):  # wherever it struck (temp file, fsync, index): a full disk, not a bug
                    for path in self._part_paths(req.url):  # a partial left behind would keep the disk full
                        path.unlink(missing_ok=True)
                    return FetchError(req.url, f"disk full: {exc}")
                log.exception("fetch: unexpected error for %s", display_url(req.url))
                return FetchError(req.url, f"unexpected error: {exc!r}")
            tracker.finish(req.url, result.size)
            return result

        self._wanted_urls = frozenset(reqs)
        self.sweep_tmp()  # partials the content no longer asks for would take the room these downloads need
        if not reqs:
            return results
        with ThreadPoolExecutor(max_workers=min(self.max_parallel, len(reqs)), thread_name_prefix="fetch") as pool:
            for url, res in zip(reqs, pool.map(run, reqs.values()), strict=True):
                results[url] = res
        return results

    def fetch_document(self, url: str, max_bytes: int | None = None) -> DocumentResult:
        """GET a small document (JSON config etc.) with conditional-request logic; body cached for 304s."""
        _check_url(url)
        limit = self.max_document_bytes if max_bytes is None else max_bytes
        return self._with_retries(url, lambda: self._document_once(url, limit))

    # ------------------------------------------------------------------ internals

    def _url_lock(self, url: str) -> threading.Lock:
        with self._url_locks_guard:
            return self._url_locks.setdefault(url, threading.Lock())

    def _fetch(self, url: str, expected_sha: str | None, expected_size: int | None, tracker: _Progress) -> FetchResult:
        _check_url(url)
        if expected_sha is not None:
            if not is_sha256(expected_sha):
                raise FetchError(url, f"expected hash is not a SHA-256 hex digest: {expected_sha[:80]!r}")
            expected_sha = expected_sha.lower()
            if self.cache.has(expected_sha):
                entry = self.cache.entry(expected_sha)
                return FetchResult(expected_sha, entry.size if entry else 0, True, False)
        if expected_size is not None and expected_size > self.max_file_bytes:
            raise FetchError(url, f"file too large: {expected_size} bytes, limit is {self.max_file_bytes}")
        with self._url_lock(url):
            hash_failures = [0]
            return self._with_retries(
                url, lambda: self._download_once(url, expected_sha, expected_size, tracker, hash_failures)
            )

    def _with_retries(self, url: str, attempt_fn: Callable[[], Any]) -> Any:
        attempt = 0
        restarts = 0
        while True:
            if self._stop.is_set():
                raise FetchError(url, "cancelled")
            try:
                return attempt_fn()
            except _Restart as exc:
                restarts += 1
                if restarts > 3:
                    raise FetchError(url, f"cannot resume download ({exc})") from None
                continue
            except FetchError as exc:
                if not exc.retryable:
                    raise
                if attempt >= self.retries:
                    raise FetchError(
                        url, f"{exc.problem} (gave up after {attempt + 1} attempts)", status=exc.status
                    ) from None
                delay = random.uniform(0.0, min(self.backoff_max, self.backoff_base * (2**attempt)))
                log.info("fetch: %s; retry %d/%d in %.1fs", exc, attempt + 1, self.retries, delay)
                attempt += 1
                if self._stop.wait(delay):
                    raise FetchError(url, "cancelled") from None

    @contextlib.contextmanager
    def _request(self, url: str, headers: dict[str, str]) -> Iterator[requests.Response]:
        headers = {"User-Agent": self.user_agent, **headers}
        hooks = {"response": self._redirect_guard(url)} if self.redirect_check is not None else None
        answered = False
        try:
            with self.session.get(
                url, headers=headers, stream=True, timeout=self.timeout, verify=self.verify, allow_redirects=True,
                hooks=hooks,
            ) as resp:
                answered = True
                yield resp
        except requests.exceptions.SSLError as exc:
            raise FetchError(url, f"TLS verification failed ({_short(exc)})") from None
        except (requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL,
                requests.exceptions.MissingSchema, requests.exceptions.TooManyRedirects) as exc:
            raise FetchError(url, _short(exc)) from None
        except requests.exceptions.Timeout as exc:
            raise FetchError(url, f"timed out ({_short(exc)})", retryable=True) from None
        except requests.exceptions.RequestException as exc:
            what = "timed out" if "timed out" in str(exc).lower() else "connection failed"
            raise FetchError(url, f"{what} ({_short(exc)})", retryable=True) from None
        except OSError as exc:  # requests raises a bare OSError for a CA bundle it cannot load
            if not answered and isinstance(self.verify, str):
                raise FetchError(url, f"cannot use the CA bundle cache.ca_file = {self.verify!r} "
                                      f"({_short(exc)}); fix or empty cache.ca_file in player.toml") from None
            raise

    def _redirect_guard(self, url: str) -> Callable[..., requests.Response]:
        """A response hook (runs for every hop) refusing a redirect whose target ``redirect_check`` rejects."""
        check = self.redirect_check

        def guard(resp: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
            if check is not None and resp.is_redirect:
                target = urljoin(resp.url, resp.headers.get("Location", ""))
                problem = check(target)
                if problem:
                    resp.close()
                    raise FetchError(url, f"redirected to {display_url(target)}: {problem}")
            return resp

        return guard

    def _check_status(self, url: str, resp: requests.Response) -> None:
        code = resp.status_code
        if code >= 500 or code in _RETRY_STATUS:
            raise FetchError(url, f"HTTP {code} {resp.reason}", status=code, retryable=True)
        if code >= 400:
            raise FetchError(url, f"HTTP {code} {resp.reason}", status=code)

    def _part_paths(self, url: str) -> tuple[Path, Path]:
        key = hashlib.sha256(url.encode("utf-8")).hexdigest()
        part = self.cache.tmp_dir / f"{key}.part"
        return part, part.with_name(part.name + ".json")

    @staticmethod
    def _load_meta(meta_path: Path, url: str) -> dict[str, Any] | None:
        try:
            with open_regular(meta_path) as fh:  # a FIFO put there would block a plain open() for good
                meta = json.loads(fh.read(64 * 1024).decode("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("fetch: ignoring unreadable partial-download metadata %s (%s)", meta_path.name, exc)
            return None
        if not isinstance(meta, dict) or meta.get("url") != url:
            return None
        return meta

    def _download_once(
        self,
        url: str,
        expected_sha: str | None,
        expected_size: int | None,
        tracker: _Progress,
        hash_failures: list[int],
    ) -> FetchResult:
        part, meta_path = self._part_paths(url)
        with _locked_part(url, part) as fh:
            meta = self._load_meta(meta_path, url)
            offset = fh.seek(0, os.SEEK_END)
            validator = None
            if meta is not None:
                etag = meta.get("etag")
                validator = etag if etag and not etag.startswith("W/") else meta.get("last_modified")
            if offset and not validator:
                fh.truncate(0)
                offset = 0

            headers = {"Accept-Encoding": "identity"}
            origin = self.cache.lookup_origin(url)
            if origin is not None and (expected_sha is None or origin.sha == expected_sha):
                if origin.etag:
                    headers["If-None-Match"] = origin.etag
                if origin.last_modified:
                    headers["If-Modified-Since"] = origin.last_modified
            if offset and validator:
                headers["Range"] = f"bytes={offset}-"
                headers["If-Range"] = validator

            with self._request(url, headers) as resp:
                if resp.status_code == 304 and origin is not None:
                    self.cache.touch(origin.sha)
                    return FetchResult(origin.sha, origin.size, True, True)
                if resp.status_code == 416 and offset:
                    self._discard(fh, meta_path)
                    raise _Restart("server refused the resume range")
                self._check_status(url, resp)
                etag = resp.headers.get("ETag")
                last_modified = resp.headers.get("Last-Modified")
                # a server may compress although asked not to: the body is written decoded, so the lengths and
                # ranges it announces (those of the compressed bytes) say nothing about the file
                encoded = resp.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
                if encoded and resp.status_code == 206:
                    self._discard(fh, meta_path)
                    raise _Restart("compressed partial response")
                total: int | None
                if resp.status_code == 206:
                    m = _CONTENT_RANGE_RE.fullmatch(resp.headers.get("Content-Range", "").strip())
                    if not m or int(m.group(1)) != offset:
                        self._discard(fh, meta_path)
                        raise _Restart(f"unexpected Content-Range {resp.headers.get('Content-Range')!r}")
                    total = int(m.group(3)) if m.group(3) != "*" else None
                    log.info("fetch: resuming %s at byte %d", display_url(url), offset)
                else:
                    if resp.status_code != 200:
                        raise FetchError(url, f"unexpected HTTP {resp.status_code} {resp.reason}",
                                         status=resp.status_code)
                    fh.truncate(0)
                    offset = 0
                    cl = resp.headers.get("Content-Length")
                    total = int(cl) if cl and cl.isdigit() and not encoded else None
                if total is not None and total > self.max_file_bytes:
                    self._discard(fh, meta_path)
                    raise FetchError(url, f"file too large: {total} bytes, limit is {self.max_file_bytes}")
                if total is not None and expected_size is not None and total != expected_size:
                    self._discard(fh, meta_path)
                    raise FetchError(url, f"server announces {total} bytes, expected {expected_size}")
                if total is not None and (refused := self._claims.claim(self.cache.root, total - offset)) is not None:
                    self._discard(fh, meta_path)  # a partial of a file that cannot fit only keeps the disk fuller
                    raise FetchError(url, f"{NO_ROOM}: the file has {in_mb(total)}, {refused}")
                try:
                    new_meta = {"url": url, "etag": etag, "last_modified": last_modified, "total": total}
                    if encoded:  # offsets of decoded bytes do not match the encoded ranges: no resuming
                        meta_path.unlink(missing_ok=True)
                    elif new_meta != meta:
                        try:
                            write_json_atomic(meta_path, new_meta, indent=None)
                        except OSError as exc:
                            if not disk_full(exc):
                                raise
                            self._discard(fh, meta_path)
                            raise FetchError(url, f"disk full: cannot write to {self.cache.root} "
                                                  f"({_short(exc)})") from None
                    tracker.start(url, total or expected_size, offset)
                    size = offset
                    try:
                        for chunk in _body_chunks(resp, encoded):
                            if self._stop.is_set():
                                raise FetchError(url, "cancelled")
                            size += len(chunk)
                            if size > self.max_file_bytes:
                                self._discard(fh, meta_path)
                                raise FetchError(url, f"file too large: more than {self.max_file_bytes} bytes")
                            fh.write(chunk)
                            fh.flush()
                            tracker.advance(url, len(chunk))
                            self._claims.wrote(len(chunk))
                    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                        if disk_full(exc):  # not a network problem: retrying or keeping the partial fills the disk
                            self._discard(fh, meta_path)
                            raise FetchError(url, f"disk full: cannot write to {self.cache.root} "
                                                  f"({_short(exc)})") from None
                        what = "timed out" if "timed out" in str(exc).lower() else "connection lost"
                        raise FetchError(url, f"{what} after {size} bytes ({_short(exc)})", retryable=True) from None
                finally:
                    self._claims.release()
            if total is not None and size != total:
                raise FetchError(url, f"connection closed after {size} of {total} bytes", retryable=True)
            if expected_size is not None and size != expected_size:
                self._discard(fh, meta_path)
                raise FetchError(url, f"received {size} bytes, expected {expected_size}")
        # the lock is released here; put_file moves (or deletes) the part file
        try:
            sha = self.cache.put_file(part, expected_sha, origin=url, etag=etag, last_modified=last_modified,
                                      suffix=_suffix_for(resp.headers.get("Content-Type")))
        except HashMismatchError as exc:
            meta_path.unlink(missing_ok=True)
            hash_failures[0] += 1
            raise FetchError(url, f"content does not match: {exc}", retryable=hash_failures[0] < 2) from None
        except CacheFullError as exc:
            meta_path.unlink(missing_ok=True)
            raise FetchError(url, f"cache full: {exc}") from None
        except InvalidHashError as exc:
            raise FetchError(url, str(exc)) from None
        meta_path.unlink(missing_ok=True)
        return FetchResult(sha, size, False, False)

    @staticmethod
    def _discard(fh: IO[bytes], meta_path: Path) -> None:
        fh.truncate(0)
        meta_path.unlink(missing_ok=True)

    def _document_once(self, url: str, limit: int) -> DocumentResult:
        headers: dict[str, str] = {}
        origin = self.cache.lookup_origin(url)
        if origin is not None:
            if origin.etag:
                headers["If-None-Match"] = origin.etag
            if origin.last_modified:
                headers["If-Modified-Since"] = origin.last_modified
        with self._request(url, headers) as resp:
            if resp.status_code == 304 and origin is not None:
                try:
                    data = self.cache.read_bytes(origin.sha)
                except FileNotFoundError:
                    self.cache.remove(origin.sha)
                    raise FetchError(url, "cached copy vanished; will refetch", retryable=True) from None
                self.cache.touch(origin.sha)
                return DocumentResult(data, origin.sha, True)
            self._check_status(url, resp)
            cl = resp.headers.get("Content-Length")
            if cl and cl.isdigit() and int(cl) > limit:
                raise FetchError(url, f"document too large: {cl} bytes, limit is {limit}")
            buf = bytearray()
            try:
                for chunk in resp.iter_content(_CHUNK):
                    buf += chunk
                    if len(buf) > limit:
                        raise FetchError(url, f"document too large: more than {limit} bytes")
            except requests.exceptions.RequestException as exc:
                raise FetchError(url, f"connection lost ({_short(exc)})", retryable=True) from None
            data = bytes(buf)
            try:
                sha = self.cache.put_bytes(
                    data, origin=url, etag=resp.headers.get("ETag"), last_modified=resp.headers.get("Last-Modified"),
                    suffix=_suffix_for(resp.headers.get("Content-Type")),
                )
            except CacheFullError as exc:
                # the quota is taken by the content on screen (pinned): go on with the document uncached (the next
                # check is a full GET instead of a 304); the new content may well fit once the old is released
                log.info("fetch: %s: not cached (%s); the sync goes on with it", url, exc)
                return DocumentResult(data, hashlib.sha256(data).hexdigest(), False)
            return DocumentResult(data, sha, False)


def _body_chunks(resp: requests.Response, encoded: bool) -> Iterator[bytes]:
    """Body chunks as they arrive; unlike iter_content, bytes received before a connection drop are kept."""
    raw = resp.raw
    if encoded or not hasattr(raw, "read1"):
        yield from resp.iter_content(_CHUNK)
        return
    while chunk := raw.read1(_CHUNK, decode_content=False):
        yield chunk


@contextlib.contextmanager
def _locked_part(url: str, part: Path) -> Iterator[IO[bytes]]:
    """Open the partial file for appending, exclusively locked against other processes.

    The cache's sweep (ContentCache.sweep_tmp) removes an abandoned partial while holding this lock: a file that is
    no longer the one at *part* once we hold the lock was removed so, and a new one is opened."""
    while True:
        fh = _open_part(url, part)
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise FetchError(url, "already being downloaded by another process", retryable=True) from None
            raise
        try:
            current = os.stat(part).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(fh.fileno()).st_ino:
            break
        fh.close()  # removed (by the sweep) between our open and our lock
    try:
        yield fh
    finally:
        with contextlib.suppress(OSError):
            if os.fstat(fh.fileno()).st_size == 0:
                part.unlink(missing_ok=True)
        fh.close()


def _open_part(url: str, part: Path) -> IO[bytes]:
    """The partial file opened for appending (created if missing). Anything else found at its path (a FIFO, an
    empty directory, a symbolic link, left by some tool) is removed first, never opened: a FIFO would block the
    download, and a link make it write outside the cache. A directory with content is left to the cache's sweep
    (ContentCache.sweep_tmp, which keeps a file system mounted inside it): a retryable FetchError meanwhile."""
    try:
        st = os.lstat(part)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISREG(st.st_mode):
            log.warning("fetch: removing %s from the cache's tmp/: a partial download must be a file", part.name)
            try:
                if stat.S_ISDIR(st.st_mode):
                    os.rmdir(part)  # only when empty: never a tree (a mount inside would be emptied with it)
                else:
                    part.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise FetchError(url, f"cannot remove {part.name} (not a file) from the cache's tmp/: "
                                      f"{_short(exc)}; the cache's sweep removes it later", retryable=True) from None
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(part, flags, 0o666)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
            raise
        fd = None  # replaced meanwhile by a link, a directory, a socket
    if fd is not None and not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)  # by a FIFO (opened without waiting)
        fd = None
    if fd is None:
        raise FetchError(url, f"{part.name} in the cache's tmp/ is not a file", retryable=True)
    try:
        os.set_blocking(fd, True)
        return open(fd, "a+b")  # noqa: SIM115 - the caller closes it
    except BaseException:
        os.close(fd)
        raise


_SUFFIXES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/svg+xml": ".svg",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "application/pdf": ".pdf",
    "application/json": ".json",
    "text/html": ".html",
    "text/plain": ".txt",
}


def _suffix_for(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return _SUFFIXES.get(content_type.split(";", 1)[0].strip().lower())


class _DiskClaims:
    """What the running downloads of one Downloader have announced and not written yet, so that downloads started
    together do not each count on the same free space. One claim per thread (a download runs on one thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._left: dict[int, int] = {}

    def claim(self, root: Path, size: int) -> str | None:
        """Claim *size* bytes on *root*'s disk for this thread's download; None, or why they do not fit."""
        with self._lock:
            room = disk_room(root)
            others = sum(n for thread, n in self._left.items() if thread != threading.get_ident())
            if room is not None and size > room[0] - others:
                # the same words whatever else is downloading: the sync logs one line per distinct message
                log.debug("fetch: %s bytes do not fit: %d writable on %s, %d of them claimed by other downloads",
                          size, room[0], root, others)
                return f"more than the room on the cache's disk ({root}), which keeps {in_mb(room[1])} free"
            self._left[threading.get_ident()] = size
            return None

    def wrote(self, size: int) -> None:
        with self._lock:
            thread = threading.get_ident()
            if thread in self._left:
                self._left[thread] = max(0, self._left[thread] - size)

    def release(self) -> None:
        with self._lock:
            self._left.pop(threading.get_ident(), None)


def disk_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT from writing a file (requests' exceptions are OSErrors too, without these errnos)."""
    if isinstance(exc, sqlite3.OperationalError):  # the cache index on the same full disk
        return "full" in str(exc)
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."
