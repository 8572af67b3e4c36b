"""A fault-injecting HTTP server on 127.0.0.1 for tests (stdlib only).

    with FaultServer({"/a.bin": data}) as srv:
        srv.fault("/a.bin", drop_after=1000, times=1)   # next response is cut after 1000 body bytes
        srv.fault("/a.bin", fail_next=2)                # next 2 requests get HTTP 500
        url = srv.url("/a.bin")
        ...
        assert srv.count("/a.bin", status=304) == 1

Supports ETag / If-None-Match, Last-Modified / If-Modified-Since, Range (single range) and If-Range.
Every request is recorded (method, path, lower-cased headers, status, body bytes sent) once its response is
finished; :meth:`FaultServer.arrivals` counts requests as soon as they arrive (use it after a client aborted).
Slow and blocking faults wait on an event that :meth:`FaultServer.release` and shutdown set, so tests
never hang on teardown.
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["Fault", "FaultServer", "RequestRecord"]

_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class Fault:
    """Faults for one path. Body faults apply to the next ``times`` GET responses (None: all of them)."""

    fail_next: int = 0  # answer the next K requests with 500
    drop_after: int | None = None  # send this many body bytes, then close the connection
    content_length: int | None = None  # advertise this Content-Length instead of the real one
    omit_length: bool = False  # no Content-Length: the body ends when the connection closes
    delay: float | None = None  # wait this long before each body chunk (returns early on release)
    block_after: int | None = None  # send this many body bytes, then block until release()
    ignore_range: bool = False  # answer Range requests with 200 and the full body
    gzip: bool = False  # send the body gzip-compressed (Content-Encoding: gzip) whatever the client accepts
    times: int | None = None

    def has_body_fault(self) -> bool:
        return (
            self.drop_after is not None
            or self.content_length is not None
            or self.omit_length
            or self.delay is not None
            or self.block_after is not None
            or self.ignore_range
            or self.gzip
        )


@dataclass
class _File:
    data: bytes
    etag: str
    last_modified: datetime
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    headers: dict[str, str]
    status: int
    body_bytes: int


@dataclass
class _State:
    files: dict[str, _File] = field(default_factory=dict)
    faults: dict[str, Fault] = field(default_factory=dict)
    records: list[RequestRecord] = field(default_factory=list)
    arrivals: list[str] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    version: int = 0


class FaultServer:
    """Threaded HTTP/1.1 server on 127.0.0.1 (free port) with switchable faults per path."""

    def __init__(self, files: Mapping[str, bytes] | Path | None = None, chunk_size: int = 16 * 1024) -> None:
        self.chunk_size = chunk_size
        self._lock = threading.Condition()
        self._state = _State()
        self._release = threading.Event()
        self.blocked = threading.Event()  # set when a handler reached a block_after point
        if isinstance(files, Path):
            for p in sorted(files.rglob("*")):
                if p.is_file():
                    self.set_file("/" + p.relative_to(files).as_posix(), p.read_bytes())
        elif files:
            for path, data in files.items():
                self.set_file(path, data)
        self._httpd = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FaultServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="faultserver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    # ------------------------------------------------------------------ content

    def set_file(self, path: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Serve *data* at *path*; a new version gets a new ETag and a later Last-Modified."""
        with self._lock:
            self._state.version += 1
            v = self._state.version
            etag = f'"{hashlib.sha256(data).hexdigest()[:16]}-{v}"'
            self._state.files[path] = _File(data, etag, _EPOCH + timedelta(seconds=v), content_type)

    def change_etag(self, path: str) -> str:
        """Give *path* a new ETag and Last-Modified without changing its bytes; returns the new ETag."""
        with self._lock:
            f = self._state.files[path]
            self.set_file(path, f.data, f.content_type)
            return self._state.files[path].etag

    def etag(self, path: str) -> str:
        with self._lock:
            return self._state.files[path].etag

    def remove_file(self, path: str) -> None:
        with self._lock:
            self._state.files.pop(path, None)

    # ------------------------------------------------------------------ faults

    def fault(self, path: str, **kwargs: Any) -> Fault:
        """Set faults for *path* (fields of :class:`Fault`), replacing earlier ones."""
        with self._lock:
            f = Fault(**kwargs)
            self._state.faults[path] = f
            return f

    def clear_faults(self, path: str | None = None) -> None:
        with self._lock:
            if path is None:
                self._state.faults.clear()
            else:
                self._state.faults.pop(path, None)

    def release(self) -> None:
        """Let delayed/blocked responses continue immediately (also clears body faults)."""
        with self._lock:
            for f in self._state.faults.values():
                f.delay = None
                f.block_after = None
        self._release.set()

    # ------------------------------------------------------------------ records

    @property
    def records(self) -> list[RequestRecord]:
        """Finished requests. Waits (up to 5 s) for responses still being written, so that a client that
        has read its response always finds it recorded."""
        with self._lock:
            self._lock.wait_for(lambda: len(self._state.records) >= len(self._state.arrivals), 5.0)
            return list(self._state.records)

    def requests_for(self, path: str) -> list[RequestRecord]:
        return [r for r in self.records if r.path == path]

    def count(self, path: str, status: int | None = None) -> int:
        return sum(1 for r in self.requests_for(path) if status is None or r.status == status)

    @property
    def max_concurrent(self) -> int:
        """Highest number of responses that were being served at the same time."""
        with self._lock:
            return self._state.max_active

    def _enter(self) -> None:
        with self._lock:
            self._state.active += 1
            self._state.max_active = max(self._state.max_active, self._state.active)

    def _leave(self) -> None:
        with self._lock:
            self._state.active -= 1

    def arrivals(self, path: str) -> int:
        """Requests for *path* whose headers were read (counted before any response byte is sent)."""
        with self._lock:
            return self._state.arrivals.count(path)

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least *n* requests were completed (or the timeout passes)."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._state.records) >= n, timeout)

    # ------------------------------------------------------------------ used by the handler

    def _record(self, rec: RequestRecord) -> None:
        with self._lock:
            self._state.records.append(rec)
            self._lock.notify_all()

    def _plan(self, path: str) -> tuple[_File | None, Fault | None, bool]:
        """(file, body fault for this response, fail with 500?) — consumes fault counters."""
        with self._lock:
            self._state.arrivals.append(path)
            f = self._state.files.get(path)
            fault = self._state.faults.get(path)
            if fault is None:
                return f, None, False
            if fault.fail_next > 0:
                fault.fail_next -= 1
                return f, None, True
            if not fault.has_body_fault():
                return f, None, False
            snapshot = Fault(**{k: getattr(fault, k) for k in fault.__dataclass_fields__})
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._state.faults.pop(path, None)
            return f, snapshot, False


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-response is what these tests are about


def _parse_range(value: str, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) for a single 'bytes=' range, None if unusable, (-1, -1) if unsatisfiable."""
    if not value.startswith("bytes=") or "," in value:
        return None
    spec = value[len("bytes="):].strip()
    first, _, last = spec.partition("-")
    try:
        if first == "":
            n = int(last)
            return (max(0, size - n), size - 1) if n > 0 else (-1, -1)
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size:
        return (-1, -1)
    return start, min(end, size - 1)


def _make_handler(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

        def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
            self._guarded(body=False)

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            self._guarded(body=True)

        def _guarded(self, body: bool) -> None:
            server._enter()
            try:
                self._serve(body)
            finally:
                server._leave()

        def _finish(self, status: int, sent: int) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            server._record(RequestRecord(self.command, self.path, headers, status, sent))

        def _simple(self, status: int, extra: dict[str, str] | None = None) -> None:
            body = f"{status}\n".encode()
            self.send_response(status)
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self._finish(status, 0)

        def _not_modified(self, f: _File) -> bool:
            inm = self.headers.get("If-None-Match")
            if inm is not None:
                tags = [t.strip() for t in inm.split(",")]
                return "*" in tags or f.etag in tags or ("W/" + f.etag) in tags
            ims = self.headers.get("If-Modified-Since")
            if ims:
                try:
                    return f.last_modified <= parsedate_to_datetime(ims)
                except (TypeError, ValueError):
                    return False
            return False

        def _range_applies(self, f: _File) -> bool:
            if_range = self.headers.get("If-Range")
            if if_range is None:
                return True
            if if_range.startswith('"'):
                return if_range == f.etag
            try:
                return parsedate_to_datetime(if_range) == f.last_modified
            except (TypeError, ValueError):
                return False

        def _serve(self, body: bool) -> None:
            path = self.path.split("?", 1)[0]
            f, fault, fail = server._plan(path)
            if fail:
                self.close_connection = True
                self._simple(500, {"Connection": "close"})
                return
            if f is None:
                self._simple(404)
                return
            validators = {"ETag": f.etag, "Last-Modified": format_datetime(f.last_modified, usegmt=True)}
            if self._not_modified(f):
                self.send_response(304)
                for k, v in validators.items():
                    self.send_header(k, v)
                self.end_headers()
                self._finish(304, 0)
                return
            size = len(f.data)
            start, end, status = 0, size - 1, 200
            rng = self.headers.get("Range")
            if rng and not (fault and (fault.ignore_range or fault.gzip)) and self._range_applies(f):
                parsed = _parse_range(rng, size)
                if parsed == (-1, -1):
                    self._simple(416, {"Content-Range": f"bytes */{size}"})
                    return
                if parsed is not None:
                    start, end = parsed
                    status = 206
            payload = f.data[start:end + 1]
            if fault and fault.gzip:
                payload = gzip.compress(payload)
            self.send_response(status)
            self.send_header("Content-Type", f.content_type)
            if fault and fault.gzip:
                self.send_header("Content-Encoding", "gzip")
            for k, v in validators.items():
                self.send_header(k, v)
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            length = len(payload)
            if fault and fault.content_length is not None:
                length = fault.content_length
                self.close_connection = True
            if fault and (fault.drop_after is not None or fault.content_length is not None or fault.omit_length):
                self.send_header("Connection", "close")
                self.close_connection = True
            if not (fault and fault.omit_length):
                self.send_header("Content-Length", str(length))
            self.end_headers()
            sent = 0
            if body:
                sent = self._send_body(payload, fault)
            self._finish(status, sent)

        def _send_body(self, payload: bytes, fault: Fault | None) -> int:
            sent = 0
            limit = fault.drop_after if fault else None
            block_at = fault.block_after if fault else None
            try:
                while sent < len(payload):
                    if block_at is not None and sent >= block_at:
                        self.wfile.flush()
                        server.blocked.set()
                        server._release.wait()
                        block_at = None
                    if fault and fault.delay is not None and not server._release.is_set():
                        self.wfile.flush()
                        server._release.wait(fault.delay)
                    n = self.chunk_len(sent, limit, block_at, len(payload))
                    if n <= 0:
                        break
                    self.wfile.write(payload[sent:sent + n])
                    sent += n
                if limit is not None and sent >= limit:
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
            except (BrokenPipeError, ConnectionResetError, OSError):
                self.close_connection = True
            return sent

        @staticmethod
        def chunk_len(sent: int, limit: int | None, block_at: int | None, total: int) -> int:
            n = min(server.chunk_size, total - sent)
            if limit is not None:
                n = min(n, limit - sent)
            if block_at is not None:
                n = min(n, block_at - sent)
            return n

    return Handler


class AnswerServer:
    """A real HTTP server on 127.0.0.1 that answers every GET through ``answer(path) -> (status, headers, body)``
    and records the paths asked for (a redirecting host, "another host" serving a file, ...)."""

    def __init__(self, answer: Any) -> None:
        hits: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - stdlib naming
                hits.append(self.path)
                status, headers, body = answer(self.path)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        self.hits = hits
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.netloc}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
