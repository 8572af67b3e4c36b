"""A small, defensive client for the Parse Server REST API (the Open SmartCity Hub).

Used by the hub source (configuration) and by the live-data feeds. No Qt, no global state.

Error model (every error is one line naming the URL and the problem):
- `HubUnavailable` (a `HubError`): connection refused/reset, timeout, HTTP 5xx, a connection broken while the body
  was read, an answer body not complete within the total time after its status line (see `split_timeout`). Retrying
  later may help.
- `HubError`: everything else the hub answers wrongly: invalid JSON, a body larger than `max_body_bytes`,
  a Parse error (`code`, `error`) such as a missing class field or a permission problem.

Session tokens: with `username`/`password` the client logs in lazily before the first request and again,
once, when the hub answers Parse error 209 (invalid session token); the request is then repeated.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    import requests

# requests (with urllib3 and TLS, about 10 MB) is imported where a request is made, on a worker thread: a player
# whose feeds and content are all local (a folder, the demo) never loads it.

log = logging.getLogger(__name__)

__all__ = [
    "HubError",
    "HubLoginError",
    "HubUnavailable",
    "ParseClient",
    "decode_date",
    "decode_file_url",
    "decode_geopoint",
    "decode_pointer",
    "geopoint",
    "get_json",
    "parse_date",
    "pointer",
    "read_body_limited",
    "split_timeout",
]

INVALID_SESSION_TOKEN = 209
OBJECT_NOT_FOUND = 101
DEFAULT_PAGE_SIZE = 100
DEFAULT_MAX_RESULTS = 100_000
BATCH_CHUNK = 50
DEFAULT_TOTAL_TIMEOUT_S = 60.0


class HubError(Exception):
    """The hub (or another HTTP JSON source) answered something unusable. `str()` is one line."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None,
                 code: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.code = code


class HubUnavailable(HubError):
    """The hub could not be reached in time or answered with a server error (5xx). ``never_sent`` is True when the
    request surely did not reach the hub (no connection could be opened), so a write did not happen."""

    never_sent = False


class HubLoginError(HubError):
    """``POST /login`` was refused (wrong username/password, a locked user; Parse answers 404 with error 101) or gave
    no session token. It is about the credentials, not about the request that needed the login: its ``code`` (often
    101 "object not found") must not be read as an answer about that request's object."""


# --------------------------------------------------------------------------------------------------
# HTTP body handling shared with the non-Parse feeds (NINA, generic JSON)


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def new_session() -> requests.Session:
    """A new HTTP session (imports requests on first use)."""
    import requests

    return requests.Session()


def split_timeout(timeout: Any) -> tuple[Any, float]:
    """A request's ``timeout`` -> (what requests takes, the total seconds the answer's body may take to arrive).

    ``(connect, read)`` or one number are requests' timeouts, which bound each socket operation, not the request: a
    hub that sends its answer a few bytes at a time could hold it for hours. The total defaults to
    `DEFAULT_TOTAL_TIMEOUT_S` (60 s) or connect + read when that is longer; ``(connect, read, total)`` sets it. It is
    counted from the moment the status line and headers are in (`read_body_limited`): sending the request (an upload
    on a slow uplink) and waiting for the hub to answer are bounded by the per-operation timeouts only."""
    if isinstance(timeout, tuple | list) and len(timeout) == 3:
        connect, read, total = timeout
        if total is not None:
            return (connect, read), float(total)
        timeout = (connect, read)
    parts = list(timeout) if isinstance(timeout, tuple | list) else [timeout, timeout]
    given = sum(float(p) for p in parts if isinstance(p, int | float) and not isinstance(p, bool))
    return timeout, max(DEFAULT_TOTAL_TIMEOUT_S, given)


def _cut_off(response: requests.Response) -> None:
    """Shut the response's socket for reading, so a read blocked in another thread returns at once. Only while the
    response still holds its connection (`read_body_limited` makes sure): once urllib3 gave it back to the pool the
    socket may carry the next request."""
    raw = response.raw
    try:
        raw.shutdown()  # urllib3 >= 2.3
        return
    except (AttributeError, ValueError, RuntimeError, OSError):
        pass
    # older urllib3: the socket under http.client's response (the connection gave it up for "Connection: close")
    sock: Any = raw
    for name in ("_fp", "fp", "raw", "_sock"):
        sock = getattr(sock, name, None)
    if sock is not None:
        import socket  # loaded with requests anyway; not at import (a player with local content never needs it)

        try:
            sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass


def _body_complete(response: requests.Response) -> bool:
    """Whether a body that read to its end without an error is surely whole: its Content-Length was all read, or it
    was chunked (a chunked body cut short fails). A body ending at the connection's close cannot tell."""
    raw = response.raw
    return getattr(raw, "length_remaining", None) == 0 or getattr(raw, "chunked", False) is True


def read_body_limited(response: requests.Response, max_bytes: int, url: str, *,
                      total_s: float | None = None) -> bytes:
    """Read a streamed response, refusing it as soon as more than *max_bytes* arrived. With *total_s*, the body must
    be read completely within that many seconds from now (call it once the status line and headers are in): a hub
    that drips it is cut off (`HubUnavailable`). A body that arrived whole is returned even when the time ran out as
    it ended."""
    import requests

    guard = threading.Lock()
    expired = False
    done = False  # the connection is no longer this response's (urllib3 gave it back to the pool) or reading ended
    timer: threading.Timer | None = None

    def late() -> HubUnavailable:
        return HubUnavailable(f"{url}: the answer was not complete within {total_s:g} s of its status line "
                              f"(the hub sends too slowly)", url=url)

    declared = response.headers.get("Content-Length")
    if declared is not None:
        try:
            if int(declared) > max_bytes:
                response.close()
                raise HubError(f"{url}: response body of {int(declared)} bytes exceeds the limit of "
                               f"{max_bytes} bytes", url=url, status=response.status_code)
        except ValueError:
            pass
    if total_s is not None:
        release = getattr(response.raw, "release_conn", None)
        if release is not None:
            # urllib3 puts the connection back in the pool inside the last read, before it lets go of it: a cut-off
            # then would shut the socket of the next request on that keep-alive connection
            def release_first() -> None:
                nonlocal done
                with guard:
                    done = True
                release()

            response.raw.release_conn = release_first  # type: ignore[method-assign]  # wrapped, as said above

        def expire() -> None:
            nonlocal expired
            with guard:
                if done:
                    return
                expired = True
                _cut_off(response)

        timer = threading.Timer(max(0.0, total_s), expire)
        timer.daemon = True
        timer.start()
    chunks: list[bytes] = []
    total = 0
    try:
        for chunk in response.iter_content(chunk_size=65536):
            total += len(chunk)
            if total > max_bytes:
                raise HubError(f"{url}: response body exceeds the limit of {max_bytes} bytes",
                               url=url, status=response.status_code)
            chunks.append(chunk)
        with guard:
            done = True
            cut = expired
        if cut and not _body_complete(response):  # the cut-off ended a body without Content-Length early
            raise late()
    except HubError:
        raise
    except Exception as exc:
        with guard:
            done = True
            cut = expired
        if cut:  # the cut-off ended the read (short body, EOF, a TLS error)
            raise late() from exc
        if isinstance(exc, requests.Timeout | requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
            # ChunkedEncodingError: urllib3's "Connection broken" (a body cut short, with or without chunks)
            raise HubUnavailable(f"{url}: connection failed while reading the response "
                                 f"({type(exc).__name__})", url=url) from exc
        if isinstance(exc, requests.RequestException):
            raise HubError(f"{url}: reading the response failed ({type(exc).__name__})", url=url) from exc
        raise
    finally:
        with guard:
            done = True
        if timer is not None:
            timer.cancel()
        response.close()
    return b"".join(chunks)


def _decode_json(body: bytes, url: str, status: int) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HubError(f"{url}: invalid JSON in HTTP {status} response ({_short(str(exc), 80)})",
                       url=url, status=status) from exc


def _send(session: requests.Session, method: str, url: str, *, timeout: Any, **kwargs: Any) -> requests.Response:
    import requests
    import urllib3

    try:
        return session.request(method, url, timeout=timeout, stream=True, **kwargs)
    except requests.Timeout as exc:
        error = HubUnavailable(f"{url}: no answer in time ({type(exc).__name__})", url=url)
        error.never_sent = isinstance(exc, requests.ConnectTimeout)
        raise error from exc
    except requests.ConnectionError as exc:
        error = HubUnavailable(f"{url}: cannot connect ({_short(str(exc), 120)})", url=url)
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        error.never_sent = isinstance(reason, urllib3.exceptions.NewConnectionError)  # refused, no route
        raise error from exc
    except requests.RequestException as exc:
        raise HubError(f"{url}: request failed ({_short(str(exc), 120)})", url=url) from exc


def get_json(url: str, *, session: requests.Session | None = None, params: Mapping[str, Any] | None = None,
             headers: Mapping[str, str] | None = None, timeout: Any = (5, 20),
             max_body_bytes: int = 10_000_000, verify: bool | str = True) -> Any:
    """GET *url* and return its JSON document, with the same limits and errors as `ParseClient`."""
    sess = session or new_session()
    request_timeout, total_s = split_timeout(timeout)
    try:
        response = _send(sess, "GET", url, timeout=request_timeout, params=params, headers=dict(headers or {}),
                         verify=verify)
        status = response.status_code
        body = read_body_limited(response, max_body_bytes, url, total_s=total_s)
    finally:
        if session is None:
            sess.close()
    if status >= 500:
        raise HubUnavailable(f"{url}: server error HTTP {status}", url=url, status=status)
    if status >= 400:
        raise HubError(f"{url}: HTTP {status} {_short(body.decode('utf-8', 'replace'), 100)}",
                       url=url, status=status)
    return _decode_json(body, url, status)


# --------------------------------------------------------------------------------------------------
# Parse wire types


def iso_to_utc(value: Any, naive_tz: tzinfo = UTC) -> datetime | None:
    """An ISO 8601 string (``Z`` allowed; naive ones read in *naive_tz*) -> aware UTC datetime; else None."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=naive_tz)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):  # 9999-12-31T23:00-05:00 or 0001-01-01T00:00+01:00 leave the range
        return None


def decode_date(value: Any) -> datetime | None:
    """`{"__type":"Date","iso":...}` or an ISO string -> aware UTC datetime; anything else -> None."""
    if isinstance(value, Mapping):
        if value.get("__type") != "Date":
            return None
        value = value.get("iso")
    return iso_to_utc(value)


def decode_pointer(value: Any) -> tuple[str, str] | None:
    """A Pointer (or an included object) -> (className, objectId); anything else -> None."""
    if not isinstance(value, Mapping):
        return None
    cls, oid = value.get("className"), value.get("objectId")
    if value.get("__type") in ("Pointer", "Object") and isinstance(cls, str) and isinstance(oid, str):
        return cls, oid
    return None


def decode_file_url(value: Any) -> str | None:
    """A File -> its URL (http/https only); anything else -> None."""
    if isinstance(value, Mapping) and value.get("__type") == "File":
        url = value.get("url")
        if isinstance(url, str) and urlsplit(url).scheme in ("http", "https"):
            return url
    return None


def decode_geopoint(value: Any) -> tuple[float, float] | None:
    """A GeoPoint -> (latitude, longitude) within the valid ranges; anything else -> None."""
    if not isinstance(value, Mapping) or value.get("__type") != "GeoPoint":
        return None
    lat, lon = value.get("latitude"), value.get("longitude")
    if isinstance(lat, bool) or isinstance(lon, bool):
        return None
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return None
    lat, lon = float(lat), float(lon)
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def parse_date(dt: datetime) -> dict[str, str]:
    """Aware datetime -> Parse Date (UTC, millisecond precision, as Parse Server writes it)."""
    if dt.tzinfo is None:
        raise ValueError("parse_date needs an aware datetime")
    utc = dt.astimezone(UTC)
    return {"__type": "Date", "iso": utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"}


def pointer(class_name: str, object_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


def geopoint(lat: float, lon: float) -> dict[str, Any]:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"geopoint out of range: {lat}, {lon}")
    return {"__type": "GeoPoint", "latitude": float(lat), "longitude": float(lon)}


def _asks_near(value: Any) -> bool:
    """Whether a where document holds a ``$nearSphere`` (or ``$near``) constraint anywhere."""
    if isinstance(value, Mapping):
        return any(key in ("$near", "$nearSphere") or _asks_near(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_asks_near(item) for item in value)
    return False


# --------------------------------------------------------------------------------------------------


class ParseClient:
    """Parse REST API client. Thread-safe for concurrent requests (requests.Session is shared).

    ``timeout`` (also per call): ``(connect, read)`` seconds for each socket operation, and a total for reading the
    answer's body once its status line is in, 60 s or connect + read when longer, or set as a third element
    (`split_timeout`)."""

    def __init__(self, server_url: str, app_id: str, rest_key: str | None = None, js_key: str | None = None,
                 username: str | None = None, password: str | None = None,
                 session: requests.Session | None = None, timeout: Any = (5, 20), ca_file: str | None = None,
                 max_body_bytes: int = 10_000_000, *, page_size: int = DEFAULT_PAGE_SIZE,
                 max_results: int = DEFAULT_MAX_RESULTS) -> None:
        if urlsplit(server_url).scheme not in ("http", "https"):
            raise ValueError(f"hub URL must start with http:// or https://: {server_url!r}")
        self.server_url = server_url.rstrip("/")
        self.app_id = app_id
        self.rest_key = rest_key
        self.js_key = js_key
        self.username = username
        self.password = password
        self.session = session or new_session()
        self.timeout = timeout
        self.verify: bool | str = ca_file or True
        self.max_body_bytes = max_body_bytes
        self.page_size = max(1, page_size)
        self.max_results = max_results
        self._mount_path = urlsplit(self.server_url).path.rstrip("/")
        self._session_token: str | None = None
        self._login_lock = threading.Lock()

    # -- plumbing -------------------------------------------------------------------------------

    @property
    def session_token(self) -> str | None:
        return self._session_token

    def _headers(self, with_session: bool = True) -> dict[str, str]:
        headers = {"X-Parse-Application-Id": self.app_id}
        if self.rest_key:
            headers["X-Parse-REST-API-Key"] = self.rest_key
        elif self.js_key:
            headers["X-Parse-Javascript-Key"] = self.js_key
        if with_session and self._session_token:
            headers["X-Parse-Session-Token"] = self._session_token
        return headers

    def _url(self, path: str) -> str:
        return self.server_url + path

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json_body: Any = None, data: bytes | None = None, content_type: str | None = None,
                timeout: Any = None, _auth: bool = True) -> Any:
        """One REST call; returns the decoded JSON. Logs in first / again on 209 when credentials exist."""
        if _auth and self.username and self._session_token is None:
            self.login()
        token_used = self._session_token
        try:
            return self._request_once(method, path, params=params, json_body=json_body, data=data,
                                      content_type=content_type, timeout=timeout, with_session=_auth)
        except HubError as exc:
            if not (_auth and exc.code == INVALID_SESSION_TOKEN and self.username):
                raise
            log.info("hub %s: session token rejected, logging in again", self.server_url)
            with self._login_lock:
                if self._session_token == token_used:  # nobody renewed it meanwhile
                    self._session_token = None
            if self._session_token is None:
                self.login()
            return self._request_once(method, path, params=params, json_body=json_body, data=data,
                                      content_type=content_type, timeout=timeout, with_session=True)

    def _request_once(self, method: str, path: str, *, params: Mapping[str, Any] | None, json_body: Any,
                      data: bytes | None, content_type: str | None, timeout: Any,
                      with_session: bool) -> Any:
        url = self._url(path)
        headers = self._headers(with_session)
        body: bytes | None = data
        if json_body is not None:
            body = json.dumps(json_body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        elif content_type:
            headers["Content-Type"] = content_type
        request_timeout, total_s = split_timeout(timeout or self.timeout)
        response = _send(self.session, method, url, timeout=request_timeout, params=params,
                         data=body, headers=headers, verify=self.verify)
        status = response.status_code
        # the total time starts now: a slow upload (a screenshot, proof of play) that the hub took and answered
        # must not be thrown away (and sent again) because sending it took long
        raw = read_body_limited(response, self.max_body_bytes, url, total_s=total_s)
        if status >= 500:
            raise HubUnavailable(f"{method} {url}: server error HTTP {status}", url=url, status=status)
        doc = _decode_json(raw, url, status) if raw.strip() else {}
        if status >= 400:
            code = doc.get("code") if isinstance(doc, Mapping) else None
            msg = doc.get("error") if isinstance(doc, Mapping) else None
            code = code if isinstance(code, int) and not isinstance(code, bool) else None
            raise HubError(f"{method} {url}: HTTP {status}, Parse error {code}: {_short(str(msg), 160)}",
                           url=url, status=status, code=code)
        return doc

    # -- auth -----------------------------------------------------------------------------------

    def login(self) -> str:
        """Log in with username/password; stores and returns the session token."""
        if not self.username or self.password is None:
            raise HubLoginError(f"{self.server_url}: login needs a username and a password", url=self.server_url)
        with self._login_lock:
            try:
                doc = self._request_once("POST", "/login", params=None,
                                         json_body={"username": self.username, "password": self.password},
                                         data=None, content_type=None, timeout=None, with_session=False)
            except HubUnavailable:
                raise  # not reachable / server error: not a verdict on the credentials
            except HubError as exc:
                raise HubLoginError(str(exc), url=exc.url, status=exc.status, code=exc.code) from exc
            token = doc.get("sessionToken") if isinstance(doc, Mapping) else None
            if not isinstance(token, str) or not token:
                raise HubLoginError(f"{self._url('/login')}: answer carries no sessionToken",
                                    url=self._url("/login"))
            self._session_token = token
            return token

    # -- objects --------------------------------------------------------------------------------

    @staticmethod
    def _cls(class_name: str) -> str:
        return quote(class_name, safe="")

    def query(self, class_name: str, where: Mapping[str, Any] | None = None, include: str | Sequence[str] | None = None,
              order: str | Sequence[str] | None = None, limit: int | None = None, skip: int | None = None,
              keys: str | Sequence[str] | None = None, *, timeout: Any = None) -> list[dict[str, Any]]:
        """Objects of *class_name*. `limit=None` means all (paged, at most `max_results`).

        Without an `order`, pages follow `objectId` (robust against inserts while paging); with an order,
        pages use limit/skip.

        A hub whose ``maxLimit`` is below `page_size` answers short pages that are not the last one. When more than
        one page may be needed (`limit=None` or above `page_size`), the first page asks for ``count=1`` (Parse counts
        the whole query, whatever limit and skip) and a short page ends paging only once that many rows were read;
        a hub that gives no count ends it at the first short page. A full page never ends paging early because of the
        count (an estimated count cannot cut a query short). An empty page or a page of rows already read ends
        paging (one warning). Queries with a smaller `limit`, or with ``$nearSphere`` (MongoDB-backed Parse Server
        fails such a count, parse-server issue 5961), ask no count: one request, a short page is the last.
        """
        wanted = self.max_results if limit is None else max(0, min(limit, self.max_results))
        base: dict[str, Any] = {}
        if include:
            base["include"] = include if isinstance(include, str) else ",".join(include)
        if keys:
            base["keys"] = keys if isinstance(keys, str) else ",".join(keys)
        path = f"/classes/{self._cls(class_name)}"
        results: list[dict[str, Any]] = []
        # a $nearSphere query keeps the hub's distance order: an explicit order overrides it on MongoDB
        keyset = order is None and skip is None and not (where and "objectId" in where) and not _asks_near(where)
        order_text = (order if isinstance(order, str) else ",".join(order)) if order else None
        if order_text and "objectId" not in order_text.replace("-", "").split(","):
            order_text += ",objectId"  # a total order: skip-paging over ties would repeat or lose rows
        elif order_text is None and not keyset and not _asks_near(where):
            # skip-paging (a where on objectId, or a skip) without an order: the database may answer each page in
            # another order and so repeat or lose rows; a $nearSphere query keeps its distance order
            order_text = "objectId"
        offset = skip or 0
        last_id: str | None = None
        seen: set[str] = set()
        ask_count = wanted > self.page_size and not _asks_near(where)
        counted: int | None = None  # the hub's count of the whole query (first page), None: not asked / not given
        while len(results) < wanted:
            page = min(self.page_size, wanted - len(results))
            params = dict(base, limit=str(page))
            if ask_count:
                params["count"] = "1"
                ask_count = False  # the first page only
            page_where: dict[str, Any] = dict(where or {})
            if keyset:
                params["order"] = "objectId"
                if last_id is not None:
                    page_where["objectId"] = {"$gt": last_id}
            else:
                if order_text:
                    params["order"] = order_text
                if offset:
                    params["skip"] = str(offset)
            if page_where:
                params["where"] = json.dumps(page_where, separators=(",", ":"), ensure_ascii=False)
            answer, count = self._page(path, params, timeout)
            rows = [r for r in answer if isinstance(r, dict)]
            if "count" in params:
                counted = count
            ids = {oid for r in rows if isinstance(oid := r.get("objectId"), str)}
            if rows and ids and ids <= seen:  # a hub that ignores skip (or the keyset): the same page again
                log.warning("GET %s: the hub answered a page of rows already read; stopping after %d rows",
                            self._url(path), len(results))
                break
            seen |= ids
            results.extend(rows)
            if len(rows) < page:
                unread = None if counted is None else counted - (skip or 0) - len(results)
                if unread is None or unread <= 0:
                    break  # the last page (or a hub without a count: as if it were)
                if not rows:
                    log.warning("GET %s: the hub counted %d rows but answered an empty page after %d; stopping",
                                self._url(path), counted, len(results))
                    break
                # a short page with rows still to come: the hub caps pages (maxLimit below page_size)
            offset += len(rows)
            if keyset:
                new_last = rows[-1].get("objectId")
                if not isinstance(new_last, str) or new_last == last_id:
                    break
                last_id = new_last
        return results[:wanted]

    def _results(self, path: str, params: dict[str, Any], timeout: Any) -> list[Any]:
        """One page of a query: the answer's ``results`` list (HubError when the answer has none)."""
        return self._page(path, params, timeout)[0]

    def _page(self, path: str, params: dict[str, Any], timeout: Any) -> tuple[list[Any], int | None]:
        """One page of a query: the answer's ``results`` list (HubError when it has none) and its ``count`` (None
        when absent or not a count)."""
        doc = self.request("GET", path, params=params, timeout=timeout)
        rows = doc.get("results") if isinstance(doc, Mapping) else None
        if not isinstance(rows, list):
            raise HubError(f"GET {self._url(path)}: answer has no results list", url=self._url(path))
        count = doc.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            count = None
        return rows, count

    def query_all(self, class_name: str, where: Mapping[str, Any] | None = None, *, max_rows: int | None = None,
                  include: str | Sequence[str] | None = None,
                  timeout: Any = None) -> tuple[list[dict[str, Any]], bool]:
        """Every object of *class_name* matching *where*, paged by key: ``order=objectId`` and each page asks for
        ids after the last one read. Only an empty page ends it, so a hub whose ``maxLimit`` caps pages below
        `page_size` (a short page is not the last one) or that ignores ``skip`` cannot cut the set short.

        Returns ``(rows, complete)`` in the hub's objectId order; ``complete`` is True only when paging ended on an
        empty page (not at *max_rows*, `max_results`, or a page that repeated rows already read: one warning)."""
        wanted = self.max_results if max_rows is None else max(0, min(max_rows, self.max_results))
        path = f"/classes/{self._cls(class_name)}"
        base: dict[str, Any] = {"order": "objectId"}
        if include:
            base["include"] = include if isinstance(include, str) else ",".join(include)
        results: list[dict[str, Any]] = []
        seen: set[str] = set()
        last_id: str | None = None
        while len(results) < wanted:
            page_where: dict[str, Any] = dict(where or {})
            if last_id is not None:
                after = {"objectId": {"$gt": last_id}}
                page_where = {"$and": [page_where, after]} if "objectId" in page_where else dict(page_where, **after)
            params = dict(base, limit=str(min(self.page_size, wanted - len(results))))
            if page_where:
                params["where"] = json.dumps(page_where, separators=(",", ":"), ensure_ascii=False)
            rows = self._results(path, params, timeout)
            if not rows:
                return results, True
            fresh = [r for r in rows if isinstance(r, dict) and isinstance(r.get("objectId"), str)
                     and r["objectId"] not in seen]
            if not fresh:
                log.warning("GET %s: the hub answered a page of rows already read (it ignores the objectId "
                            "constraint?); stopping after %d rows", self._url(path), len(results))
                return results, False
            seen.update(r["objectId"] for r in fresh)
            results.extend(fresh)
            last_id = fresh[-1]["objectId"]
        return results[:wanted], False

    def get(self, class_name: str, object_id: str, include: str | Sequence[str] | None = None,
            *, timeout: Any = None) -> dict[str, Any]:
        params = {}
        if include:
            params["include"] = include if isinstance(include, str) else ",".join(include)
        doc = self.request("GET", f"/classes/{self._cls(class_name)}/{quote(object_id, safe='')}",
                           params=params or None, timeout=timeout)
        return doc if isinstance(doc, dict) else {}

    def create(self, class_name: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        doc = self.request("POST", f"/classes/{self._cls(class_name)}", json_body=dict(fields))
        return doc if isinstance(doc, dict) else {}

    def update(self, class_name: str, object_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        doc = self.request("PUT", f"/classes/{self._cls(class_name)}/{quote(object_id, safe='')}",
                           json_body=dict(fields))
        return doc if isinstance(doc, dict) else {}

    def delete(self, class_name: str, object_id: str) -> None:
        self.request("DELETE", f"/classes/{self._cls(class_name)}/{quote(object_id, safe='')}")

    def batch(self, requests_: Iterable[Mapping[str, Any]]) -> list[Any]:
        """`[{"method","path","body"}]` with paths like `/classes/X` (the mount path is added). One result each."""
        items = []
        for req in requests_:
            item = dict(req)
            path = str(item.get("path", ""))
            if self._mount_path and not path.startswith(self._mount_path + "/"):
                item["path"] = self._mount_path + path
            items.append(item)
        out: list[Any] = []
        for start in range(0, len(items), BATCH_CHUNK):
            doc = self.request("POST", "/batch", json_body={"requests": items[start:start + BATCH_CHUNK]})
            if not isinstance(doc, list):
                raise HubError(f"POST {self._url('/batch')}: answer is not a list", url=self._url("/batch"))
            out.extend(doc)
        return out

    def call_function(self, name: str, params: Mapping[str, Any] | None = None, *, timeout: Any = None) -> Any:
        doc = self.request("POST", f"/functions/{quote(name, safe='')}", json_body=dict(params or {}),
                           timeout=timeout)
        if not isinstance(doc, Mapping) or "result" not in doc:
            raise HubError(f"POST {self._url('/functions/' + name)}: answer has no result",
                           url=self._url("/functions/" + name))
        return doc["result"]

    def upload_file(self, name: str, data: bytes, content_type: str) -> dict[str, str]:
        doc = self.request("POST", f"/files/{quote(name, safe='')}", data=data, content_type=content_type)
        fname = doc.get("name") if isinstance(doc, Mapping) else None
        url = doc.get("url") if isinstance(doc, Mapping) else None
        if not isinstance(fname, str) or not isinstance(url, str):
            raise HubError(f"POST {self._url('/files/' + name)}: answer has no name/url",
                           url=self._url("/files/" + name))
        return {"name": fname, "url": url}

    def close(self) -> None:
        self.session.close()
