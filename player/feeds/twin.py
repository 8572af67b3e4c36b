"""Digital-twin messages: the city's RabbitMQ pushes them over STOMP 1.2 on a WebSocket (rabbitmq_web_stomp).

    feed = TwinFeed(TwinConnection("wss://twin.example.org/ws", vhost="/", login="screen", passcode="..."),
                    districts=["3"], max_items=3)
    feed.bind_push(lambda: runner.refresh(feed.name))   # the FeedHub does this: new messages show at once
    feed.fetch()   # the current list (newest first) while subscribed; raises TwinUnavailable while not

Messages (JSON, one per STOMP MESSAGE frame) look like
``{"uuid", "eventType": press_release|sensor|event|project|job_posting|plain_message, "severity": low|normal|high,
"districtIds": [...], "payload": {"title", "message", ...}}``. Each one is checked and reduced to a
`TwinMessage` (plain text, capped); what cannot be shown is dropped with one log line per kind of problem.

Layers, each testable on its own:
- `encode_frame` / `decode_frames`: the STOMP 1.2 frame codec (header escaping, content-length, heart-beats).
- `twin_message_from_json`: one decoded JSON document -> `TwinMessage` or `Rejected(reason)`.
- `TwinInbox`: district filter, dedupe by uuid, the N newest, drop counters. Thread-safe, no I/O.
- `StompSubscriber`: one worker thread: connect (login/passcode/host), negotiate heart-beats, SUBSCRIBE, read;
  on a lost connection reconnect with exponential backoff (1 s doubling to 60 s, jittered).
- `TwinFeed`: the `Feed` the FeedRunner polls (so persistence, stale mark and "Stand" work as for every feed),
  plus a push: a change is handed to the runner at once, at most every `push_interval_s` during a flood.

The hand-written codec instead of stomp.py: see docs/feeds.md ("Digital-twin messages"). No Qt here.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from player.feeds.base import Feed
from player.feeds.fields import Clock, as_dict, clean_line, system_clock, to_datetime
from player.feeds.plaintext import plain_text

log = logging.getLogger(__name__)

EVENT_TYPES = ("press_release", "sensor", "event", "project", "job_posting", "plain_message")
SEVERITIES = ("low", "normal", "high")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
DEFAULT_DESTINATION = "/exchange/digital_twin_raw/*"
MAX_BODY_BYTES = 64_000  # a message larger than this is not a screen message
MAX_FRAME_BYTES = 256_000  # a WebSocket message larger than this is dropped (several frames may share one)
MAX_DISTRICTS = 200
MAX_TITLE = 200
FUTURE_SLACK = timedelta(minutes=5)


# ------------------------------------------------------------------------------------------------ values
@dataclass(frozen=True)
class TwinMessage:
    id: str  # the message's uuid
    event_type: str  # one of EVENT_TYPES
    severity: str  # low | normal | high
    title: str  # plain text, one line ("" when the message has only a text)
    text: str  # plain text, paragraphs separated by "\n"
    districts: tuple[str, ...]  # () = the whole city
    received_at: datetime  # when this player got it (aware UTC)
    time: datetime | None = None  # the time the message itself gives, if plausible

    @property
    def high(self) -> bool:
        return self.severity == "high"

    @property
    def shown_at(self) -> datetime:
        return self.time or self.received_at


@dataclass(frozen=True)
class TwinMessages:
    items: tuple[TwinMessage, ...]  # newest first


class Rejected(ValueError):
    """A message that cannot be shown; the text says why (one short phrase, no message content)."""


def _severity(value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in SEVERITY_RANK:
        return value.strip().lower()
    return "normal"


def _districts(value: Any) -> tuple[str, ...]:
    raw = value if isinstance(value, list) else [value] if value is not None else []
    out: list[str] = []
    for v in raw[:MAX_DISTRICTS]:
        if isinstance(v, bool):
            continue
        text = clean_line(v, 100)
        if text and text not in out:
            out.append(text)
    return tuple(out)


def twin_message_from_json(doc: Any, received_at: datetime, *, max_text: int = 600) -> TwinMessage:
    """One decoded message -> TwinMessage; raises Rejected naming what is wrong."""
    if not isinstance(doc, Mapping):
        raise Rejected("not a JSON object")
    uid = doc.get("uuid")
    uid = clean_line(uid, 100) if isinstance(uid, str | int) and not isinstance(uid, bool) else None
    if not uid:
        raise Rejected("no uuid")
    kind = doc.get("eventType")
    if not isinstance(kind, str) or kind.strip() not in EVENT_TYPES:
        raise Rejected(f"unknown eventType {clean_line(kind, 40)!r}" if kind is not None else "no eventType")
    payload = doc.get("payload")
    if not isinstance(payload, Mapping):
        raise Rejected("no payload object")
    title = plain_text(payload.get("title"), MAX_TITLE)
    text = plain_text(payload.get("message"), max_text, paragraphs=True)
    if not text:
        text = plain_text(payload.get("description"), max_text, paragraphs=True)
    if not title and not text:
        raise Rejected("payload has neither title nor message")
    when = None
    for candidate in (payload.get("date"), payload.get("timestamp"), doc.get("timestamp"), doc.get("date"),
                      doc.get("createdAt")):
        when = to_datetime(candidate)
        if when is not None:
            break
    if when is not None and when > received_at + FUTURE_SLACK:
        when = None  # a clock far ahead (or nonsense) is not shown as the message's time
    return TwinMessage(id=uid, event_type=kind.strip(), severity=_severity(doc.get("severity")), title=title,
                       text=text, districts=_districts(doc.get("districtIds")), received_at=received_at, time=when)


# ------------------------------------------------------------------------------------------------ inbox
class TwinInbox:
    """The newest messages for this screen. `offer` takes a raw message body; thread-safe; no I/O."""

    def __init__(self, *, max_items: int = 3, districts: Iterable[str] = (), event_types: Iterable[str] = EVENT_TYPES,
                 min_severity: str = "low", max_text: int = 600, name: str = "twin") -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self.districts = frozenset(str(d) for d in districts)
        self.event_types = frozenset(event_types)
        unknown = sorted(self.event_types - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown event type(s) {', '.join(unknown)} (known: {', '.join(EVENT_TYPES)})")
        if min_severity not in SEVERITY_RANK:
            raise ValueError(f"min_severity must be one of {', '.join(SEVERITIES)}")
        self.min_rank = SEVERITY_RANK[min_severity]
        self.max_text = max_text
        self.name = name
        self._items: list[TwinMessage] = []
        self._lock = threading.Lock()
        self.dropped: Counter[str] = Counter()  # reason -> count (bad input)
        self.filtered = 0  # good messages not meant for this screen
        self.accepted = 0
        self._said: set[str] = set()

    def wanted(self, message: TwinMessage) -> bool:
        if message.event_type not in self.event_types or SEVERITY_RANK[message.severity] < self.min_rank:
            return False
        if not self.districts or not message.districts:  # no filter, or a message for the whole city
            return True
        return not self.districts.isdisjoint(message.districts)

    def _drop(self, reason: str) -> None:
        self.dropped[reason] += 1
        key = reason.split("'")[0]  # the kind of problem, without the value quoted in it
        if key not in self._said:  # one line per kind of problem, not per message
            self._said.add(key)
            log.warning("feed %s: message dropped: %s (further such messages are dropped without a log line)",
                        self.name, reason)

    def offer(self, body: bytes | str, received_at: datetime) -> bool:
        """One message body; True when the list changed."""
        if len(body) > MAX_BODY_BYTES:
            self._drop(f"larger than {MAX_BODY_BYTES // 1000} kB")
            return False
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            self._drop("not JSON")
            return False
        try:
            message = twin_message_from_json(doc, received_at, max_text=self.max_text)
        except Rejected as exc:
            self._drop(str(exc))
            return False
        return self.add(message)

    def add(self, message: TwinMessage) -> bool:
        if not self.wanted(message):
            self.filtered += 1
            return False
        with self._lock:
            self.accepted += 1
            for i, old in enumerate(self._items):
                if old.id == message.id:  # the same message again (redelivery or an update): keep its place
                    same = (old.title, old.text, old.severity, old.event_type, old.districts, old.time) == (
                        message.title, message.text, message.severity, message.event_type, message.districts,
                        message.time)
                    if same:
                        return False
                    self._items[i] = dataclasses.replace(message, received_at=old.received_at)
                    return True
            self._items.insert(0, message)
            del self._items[self.max_items:]
            return True

    def seed(self, value: Any) -> None:
        """Messages kept from before (the persisted list) under the ones received since; current filters apply."""
        if not isinstance(value, TwinMessages):
            return
        with self._lock:
            known = {m.id for m in self._items}
            for message in value.items:
                if message.id not in known and self.wanted(message) and len(self._items) < self.max_items:
                    self._items.append(message)
                    known.add(message.id)

    def snapshot(self) -> TwinMessages:
        with self._lock:
            return TwinMessages(items=tuple(self._items))


# ------------------------------------------------------------------------------------------------ STOMP codec
class StompError(Exception):
    """A malformed frame, or the broker said ERROR / closed the session."""


@dataclass(frozen=True)
class StompFrame:
    command: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


_ESCAPE = {"\\": "\\\\", "\r": "\\r", "\n": "\\n", ":": "\\c"}
_UNESCAPE = {"\\": "\\", "r": "\r", "n": "\n", "c": ":"}


def _escape(value: str) -> str:
    return "".join(_ESCAPE.get(ch, ch) for ch in value)


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            nxt = value[i + 1] if i + 1 < len(value) else ""
            if nxt not in _UNESCAPE:
                raise StompError("undefined escape sequence in a header")
            out.append(_UNESCAPE[nxt])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def encode_frame(command: str, headers: Mapping[str, str] | None = None, body: bytes = b"") -> bytes:
    """A STOMP 1.2 frame. CONNECT headers are sent as they are (the spec does not escape them), so values with a
    line break or NUL are refused there; all other frames escape `\\`, CR, LF and `:`."""
    lines = [command]
    for key, value in (headers or {}).items():
        if command in ("CONNECT", "STOMP"):
            if any(ch in key + value for ch in "\r\n\x00") or ":" in key:
                raise ValueError(f"STOMP {command} header {key!r}: line breaks and NUL are not allowed")
            lines.append(f"{key}:{value}")
        else:
            lines.append(f"{_escape(key)}:{_escape(value)}")
    if body:
        lines.append(f"content-length:{len(body)}")
    return ("\n".join(lines) + "\n\n").encode("utf-8") + body + b"\x00"


def decode_frames(data: bytes) -> list[StompFrame]:
    """Every frame in *data* (one WebSocket message); heart-beats (bare EOLs) give no frame. Raises StompError."""
    frames: list[StompFrame] = []
    pos, end = 0, len(data)
    while True:
        while pos < end and data[pos] in (0x0A, 0x0D):  # heart-beats and the EOLs after a frame's NUL
            pos += 1
        if pos >= end:
            return frames
        head_end = data.find(b"\n\n", pos)
        crlf_end = data.find(b"\r\n\r\n", pos)
        if head_end < 0 and crlf_end < 0:
            raise StompError("frame without the blank line after its headers")
        if crlf_end >= 0 and (head_end < 0 or crlf_end < head_end):
            head, body_start = data[pos:crlf_end], crlf_end + 4
        else:
            head, body_start = data[pos:head_end], head_end + 2
        try:
            lines = head.decode("utf-8").replace("\r\n", "\n").split("\n")
        except UnicodeDecodeError:
            raise StompError("frame headers are not UTF-8") from None
        command = lines[0].strip()
        if not command or not command.isalpha() or not command.isupper():
            raise StompError(f"not a STOMP command: {command[:30]!r}")
        raw = command in ("CONNECTED", "CONNECT")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            key, sep, value = line.partition(":")
            if not sep:
                raise StompError("header line without ':'")
            key = key if raw else _unescape(key)
            if key not in headers:  # STOMP 1.2: the first of repeated headers counts
                headers[key] = value if raw else _unescape(value)
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise StompError("content-length is not a number")
            body_end = body_start + int(length)
            if body_end >= end or data[body_end] != 0:
                raise StompError("frame body shorter than its content-length or not NUL-terminated")
        else:
            body_end = data.find(b"\x00", body_start)
            if body_end < 0:
                raise StompError("frame without its closing NUL")
        frames.append(StompFrame(command, headers, data[body_start:body_end]))
        pos = body_end + 1


# ------------------------------------------------------------------------------------------------ connection
@dataclass(frozen=True)
class TwinConnection:
    url: str  # ws:// or wss:// (RabbitMQ Web-STOMP: http(s)://host:15674/ws -> ws(s)://host:15674/ws)
    vhost: str = "/"
    login: str = ""
    passcode: str = ""
    destination: str = DEFAULT_DESTINATION
    heartbeat_s: float = 10.0
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if urlsplit(self.url).scheme not in ("ws", "wss") or not urlsplit(self.url).hostname:
            raise ValueError(f"twin url {self.url!r:.80} must be a ws:// or wss:// URL")
        for key in ("vhost", "login", "passcode", "destination"):
            if any(ch in getattr(self, key) for ch in "\r\n\x00"):
                raise ValueError(f"twin {key} must not contain line breaks")
        if not self.destination.startswith("/"):
            raise ValueError(f"twin destination {self.destination!r:.80} must start with '/'")
        if not 0 <= self.heartbeat_s <= 3600:
            raise ValueError("twin heartbeat_s must be between 0 and 3600")

    def __repr__(self) -> str:  # never the passcode in a log line
        return f"TwinConnection({self.url!r}, vhost={self.vhost!r}, login={self.login!r})"


class StompSubscriber:
    """One worker thread holding one STOMP subscription; reconnects by itself. Callbacks run on that thread:
    `on_message(body, headers)` per MESSAGE, `on_state(subscribed, problem)` when the subscription comes or goes."""

    def __init__(self, conn: TwinConnection, on_message: Callable[[bytes, dict[str, str]], None],
                 on_state: Callable[[bool, str | None], None] | None = None, *, name: str = "twin",
                 connect_timeout_s: float = 10.0, min_backoff_s: float = 1.0, max_backoff_s: float = 60.0) -> None:
        self.conn = conn
        self.on_message = on_message
        self.on_state = on_state
        self.name = name
        self.connect_timeout_s = connect_timeout_s
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.subscribed = threading.Event()
        self.sessions = 0  # subscriptions confirmed so far (1 = first, 2 = after the first reconnect, ...)
        self.attempts = 0  # connection attempts so far
        self.problem: str | None = None  # the current problem (one line), None while subscribed
        self._incident: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ws: Any = None
        self._lock = threading.Lock()

    # -------------------------------------------------------------------------------------- public
    def start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"osc-twin-{self.name}", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ends the session and the thread. Does not wait unless *timeout* is given (never on the GUI thread)."""
        self._stop.set()
        with self._lock:
            ws, thread = self._ws, self._thread
        if ws is not None:
            try:
                ws.abort()  # wakes a blocking read at once
            except Exception:  # noqa: BLE001 - closing a broken socket must not raise
                pass
        if timeout is not None and thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -------------------------------------------------------------------------------------- thread
    def _run(self) -> None:
        backoff = self.min_backoff_s
        while not self._stop.is_set():
            before = self.sessions
            self.attempts += 1
            try:
                self._session()
                line = f"broker {self.conn.url} closed the connection"
            except StompError as exc:
                line = f"broker {self.conn.url}: {exc}"
            except Exception as exc:  # noqa: BLE001 - any failure: reconnect later, never let the thread die
                text = " ".join(str(exc).split())[:200]
                line = f"broker {self.conn.url}: {type(exc).__name__}{': ' + text if text else ''}"
            finally:
                with self._lock:
                    ws, self._ws = self._ws, None
                if ws is not None:
                    try:
                        ws.abort()
                        ws.close(timeout=0)
                    except Exception:  # noqa: BLE001
                        pass
                was = self.subscribed.is_set()
                self.subscribed.clear()
            if self._stop.is_set():
                break
            if self.sessions > before:
                backoff = self.min_backoff_s  # that connection worked: start again from the bottom
            self.problem = line
            if line != self._incident:  # the runner's warning names it (once per incident); here only info
                self._incident = line
                log.info("feed %s: %s; reconnecting (the screen keeps the last messages)", self.name, line)
            if was:
                self._state(False, line)
            delay = backoff * random.uniform(0.8, 1.2)
            backoff = min(self.max_backoff_s, backoff * 2)
            if self._stop.wait(delay):
                break

    def _state(self, subscribed: bool, problem: str | None) -> None:
        if self.on_state is None:
            return
        try:
            self.on_state(subscribed, problem)
        except Exception:  # noqa: BLE001 - a consumer's bug must not kill the connection
            log.exception("feed %s: state callback failed", self.name)

    def _session(self) -> None:
        import websocket

        conn = self.conn
        sslopt = {"ca_certs": conn.ca_file} if conn.ca_file else None
        ws = websocket.create_connection(conn.url, timeout=self.connect_timeout_s, sslopt=sslopt,
                                         subprotocols=["v12.stomp", "v11.stomp"], enable_multithread=True,
                                         skip_utf8_validation=True)  # a bad byte is one bad message, not a
        # dropped connection: bodies are checked (and refused) one by one in TwinInbox.offer
        with self._lock:
            self._ws = ws
        if self._stop.is_set():
            return
        beat_ms = int(conn.heartbeat_s * 1000)
        headers = {"accept-version": "1.2,1.1", "host": conn.vhost, "heart-beat": f"{beat_ms},{beat_ms}"}
        if conn.login:
            headers.update(login=conn.login, passcode=conn.passcode)
        ws.send_binary(encode_frame("CONNECT", headers))
        deadline = time.monotonic() + self.connect_timeout_s
        connected = self._expect(ws, "CONNECTED", deadline)
        send_ms, expect_ms = negotiate_heartbeats(beat_ms, beat_ms, connected.headers.get("heart-beat", "0,0"))
        ws.send_binary(encode_frame("SUBSCRIBE", {"id": "0", "destination": conn.destination, "ack": "auto",
                                                  "receipt": "subscribed"}))
        self._expect(ws, "RECEIPT", deadline)
        self.sessions += 1
        self.subscribed.set()
        self.problem = None
        if self._incident is not None:
            log.info("feed %s: subscribed again to %s", self.name, conn.destination)
        else:
            log.info("feed %s: subscribed to %s at %s", self.name, conn.destination, conn.url)
        self._incident = None
        self._state(True, None)
        self._read(ws, send_ms, expect_ms)

    def _receive(self, ws: Any) -> list[StompFrame]:
        import websocket

        opcode, data = ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise StompError("the broker closed the WebSocket")
        if isinstance(data, str):
            data = data.encode("utf-8")
        if len(data) > MAX_FRAME_BYTES:
            log.debug("feed %s: a %d byte WebSocket message ignored", self.name, len(data))
            return [StompFrame("OVERSIZED")]
        return decode_frames(data)

    def _expect(self, ws: Any, command: str, deadline: float) -> StompFrame:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StompError(f"no {command} from the broker within {self.connect_timeout_s:g} s")
            ws.settimeout(remaining)
            for frame in self._receive(ws):
                if frame.command == "ERROR":
                    raise StompError("refused: " + _error_text(frame))
                if frame.command == command:
                    return frame
                if frame.command == "MESSAGE":
                    self._message(frame)

    def _read(self, ws: Any, send_ms: int, expect_ms: int) -> None:
        import websocket

        tick = min(1.0, send_ms / 1000 / 2) if send_ms else 1.0
        ws.settimeout(tick)
        last_sent = last_heard = time.monotonic()
        while not self._stop.is_set():
            try:
                frames = self._receive(ws)
                last_heard = time.monotonic()
            except (websocket.WebSocketTimeoutException, TimeoutError):
                frames = []
            now = time.monotonic()
            if expect_ms and now - last_heard > 2 * expect_ms / 1000 + 1:
                raise StompError(f"broker silent for more than {2 * expect_ms / 1000:g} s (no heart-beat)")
            if send_ms and now - last_sent >= send_ms / 1000:
                ws.send_binary(b"\n")
                last_sent = now
            for frame in frames:
                if frame.command == "MESSAGE":
                    self._message(frame)
                elif frame.command == "ERROR":
                    raise StompError("error: " + _error_text(frame))
        try:
            ws.send_binary(encode_frame("DISCONNECT"))
        except Exception:  # noqa: BLE001 - leaving anyway
            pass

    def _message(self, frame: StompFrame) -> None:
        try:
            self.on_message(frame.body, frame.headers)
        except Exception:  # noqa: BLE001 - one bad message must not end the session
            log.exception("feed %s: message handler failed", self.name)


def _error_text(frame: StompFrame) -> str:
    return clean_line(frame.headers.get("message") or frame.body[:200].decode("utf-8", "replace"), 200) or "ERROR"


def negotiate_heartbeats(client_send_ms: int, client_want_ms: int, server_header: str) -> tuple[int, int]:
    """(ms between our heart-beats, ms within which we expect something) per STOMP 1.2; 0 = none."""
    try:
        sx, sy = (int(p) for p in server_header.split(","))
    except ValueError:
        return 0, 0
    send = max(client_send_ms, sy) if client_send_ms and sy else 0
    expect = max(client_want_ms, sx) if client_want_ms and sx else 0
    return send, expect


# ------------------------------------------------------------------------------------------------ feed
class TwinUnavailable(Exception):
    """Not subscribed at the moment; the runner keeps the last list (marked stale after `stale_after_s`)."""


class TwinFeed(Feed[TwinMessages]):
    """The digital-twin messages as a feed. `fetch()` is cheap: it returns the inbox while subscribed."""

    value_type = TwinMessages

    def __init__(self, conn: TwinConnection, *, name: str = "twin", interval_s: float = 60, timeout_s: float = 10,
                 stale_after_s: float = 900, max_items: int = 3, max_text: int = 600, districts: Iterable[str] = (),
                 event_types: Iterable[str] = EVENT_TYPES, min_severity: str = "low", push_interval_s: float = 2.0,
                 clock: Clock = system_clock, min_backoff_s: float = 1.0, max_backoff_s: float = 60.0) -> None:
        super().__init__(name, interval_s=interval_s, timeout_s=timeout_s, stale_after_s=stale_after_s)
        if push_interval_s < 0:
            raise ValueError("push_interval_s must be >= 0")
        self.conn = conn
        self.clock = clock
        self.inbox = TwinInbox(max_items=max_items, districts=districts, event_types=event_types,
                               min_severity=min_severity, max_text=max_text, name=name)
        self.subscriber = StompSubscriber(conn, self._on_message, self._on_state, name=name,
                                          connect_timeout_s=timeout_s, min_backoff_s=min_backoff_s,
                                          max_backoff_s=max_backoff_s)
        self.push_interval_s = push_interval_s
        self._push: Callable[[], Any] | None = None
        self._push_lock = threading.Lock()
        self._last_push = float("-inf")
        self._timer: threading.Timer | None = None
        self._first = True
        self._closed = False

    # -------------------------------------------------------------------------------------- runner side
    def bind_push(self, push: Callable[[], Any]) -> None:
        """*push()* makes the runner fetch now (FeedHub: ``runner.refresh(name)``); called from worker threads."""
        self._push = push

    def seed(self, value: Any) -> None:
        """The persisted list, loaded by the runner at start: kept until newer messages push it out."""
        self.inbox.seed(value)

    def start(self) -> None:
        if not self._closed:
            self.subscriber.start()

    def close(self) -> None:
        """Stop the connection (does not wait)."""
        self._closed = True
        with self._push_lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self.subscriber.stop()

    def fetch(self) -> TwinMessages:
        self.start()
        if self._first:  # the first fetch waits (off the GUI thread) for the subscription, a later one does not
            self._first = False
            self.subscriber.subscribed.wait(self.timeout_s)
        if not self.subscriber.subscribed.is_set():
            raise TwinUnavailable(self.subscriber.problem or f"not subscribed to {self.conn.url} yet")
        return self.inbox.snapshot()

    # -------------------------------------------------------------------------------------- subscriber side
    def _on_message(self, body: bytes, _headers: dict[str, str]) -> None:
        if self.inbox.offer(body, self.clock()):
            self._request_push()

    def _on_state(self, _subscribed: bool, _problem: str | None) -> None:
        self._request_push(now=True)

    def _request_push(self, now: bool = False) -> None:
        """Push at once, or, during a flood, once at the end of the current `push_interval_s`."""
        if self._push is None or self._closed:
            return
        with self._push_lock:
            wait = 0.0 if now else self._last_push + self.push_interval_s - time.monotonic()
            if wait > 0:
                if self._timer is None:
                    self._timer = threading.Timer(wait, self._do_push)
                    self._timer.daemon = True
                    self._timer.start()
                return
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if not now:  # a change of the connection state does not delay the next message
                self._last_push = time.monotonic()
        self._call_push()

    def _do_push(self) -> None:
        with self._push_lock:
            self._timer = None
            self._last_push = time.monotonic()
        self._call_push()

    def _call_push(self) -> None:
        push = self._push
        if push is None or self._closed:
            return
        try:
            push()
        except Exception:  # noqa: BLE001 - the runner logs its own failures; nothing may kill the socket thread
            log.exception("feed %s: push to the runner failed", self.name)


def connection_from_options(settings: Mapping[str, Any] | None, options: Mapping[str, Any]) -> TwinConnection:
    """[twin] settings of player.toml, overridden by the document's `url`/`vhost`/`destination` (never the
    credentials: those stay on the device). Raises ValueError with one line naming what is missing."""
    base = as_dict(settings)
    url = options.get("url") or base.get("url") or ""
    if not url:
        raise ValueError("no broker URL: set [twin] url in player.toml (or the feed's 'url'); feed skipped")
    heartbeat = base.get("heartbeat_s", 10)
    return TwinConnection(
        url=str(url), vhost=str(options.get("vhost") or base.get("vhost") or "/"),
        login=str(base.get("login") or ""), passcode=str(base.get("passcode") or ""),
        destination=str(options.get("destination") or base.get("destination") or DEFAULT_DESTINATION),
        heartbeat_s=float(heartbeat) if isinstance(heartbeat, int | float) and not isinstance(heartbeat, bool) else 10.0,
        ca_file=str(base.get("ca_file")) if base.get("ca_file") else None)


__all__ = ["DEFAULT_DESTINATION", "EVENT_TYPES", "SEVERITIES", "Rejected", "StompError", "StompFrame",
           "StompSubscriber", "TwinConnection", "TwinFeed", "TwinInbox", "TwinMessage", "TwinMessages",
           "TwinUnavailable", "connection_from_options", "decode_frames", "encode_frame", "negotiate_heartbeats",
           "twin_message_from_json"]
