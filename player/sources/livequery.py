"""Parse LiveQuery client: tells the sync "something changed on the hub" the moment it happens.

    client = LiveQueryClient("wss://hub.example.org/parse", app_id, rest_key="...",
                             subscriptions=[("SteleScreen", {"uuid": device}), ("SteleDiashowObject", {})],
                             on_change=lambda op, cls, obj: sync.sync_now())
    client.start()          # background thread; returns at once
    client.wait_subscribed(5)
    client.stop()

Protocol (Parse LiveQuery over WebSocket): ``connect`` (applicationId, restAPIKey/javascriptKey, sessionToken)
-> ``connected``; ``subscribe`` (requestId, query {className, where}) -> ``subscribed``; events ``create``,
``update``, ``delete``, ``enter``, ``leave``; ``error`` (code, error, reconnect).

Subscriptions can be added while running (:meth:`LiveQueryClient.add_subscriptions`, e.g. for class names the
hub's data reveals only later); they are sent at once on a live connection and again after every reconnect. A
subscription the hub refuses (an ``error`` with its ``requestId``: no permission, a ``beforeSubscribe`` trigger)
costs one log line per class; the other subscriptions stay and polling covers that class. A class the hub's
``liveQuery.classNames`` does not list is confirmed but never sends events: polling covers it too.

The callback gets ``(op, class_name, object)`` (``object``: the row as the event carries it, ``{}`` when it has
none); it runs on the client's thread and must return quickly (the sync only sets a flag). After a reconnect the
callback is called once with ``("reconnect", "", {})``: events may have been missed while the socket was down.
A dropped or refused socket is never an error for the screen: one log line per incident, then reconnection with
exponential backoff (1 s doubling up to ``max_backoff_s``, with jitter).
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import websocket

log = logging.getLogger(__name__)

__all__ = ["EVENT_OPS", "LiveQueryClient", "live_query_url"]

EVENT_OPS = frozenset({"create", "update", "delete", "enter", "leave"})
INVALID_SESSION_TOKEN = 209


def live_query_url(server_url: str) -> str:
    """http(s)://host/parse -> ws(s)://host/parse (Parse Server's LiveQuery on the same HTTP server)."""
    if server_url.startswith("https://"):
        return "wss://" + server_url[len("https://"):]
    if server_url.startswith("http://"):
        return "ws://" + server_url[len("http://"):]
    return server_url


class LiveQueryClient:
    def __init__(self, url: str, app_id: str, *, rest_key: str | None = None, js_key: str | None = None,
                 session_token: Callable[[], str | None] | None = None,
                 renew_session: Callable[[], str | None] | None = None,
                 subscriptions: Sequence[tuple[str, Mapping[str, Any]]] = (),
                 on_change: Callable[[str, str, Mapping[str, Any]], None] | None = None,
                 min_backoff_s: float = 1.0, max_backoff_s: float = 60.0, ping_interval_s: float = 30.0,
                 ca_file: str | None = None) -> None:
        self.url = url
        self.app_id = app_id
        self.rest_key = rest_key
        self.js_key = js_key
        self._session_token = session_token
        self._renew_session = renew_session
        self.subscriptions = [(cls, dict(where)) for cls, where in subscriptions]
        self.on_change = on_change
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.ping_interval_s = ping_interval_s
        self.ca_file = ca_file
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._thread: threading.Thread | None = None
        self._app: websocket.WebSocketApp | None = None
        self._lock = threading.Lock()
        self._pending: set[int] = set()
        self._live: websocket.WebSocketApp | None = None  # the connection whose `connected` arrived
        self._live_token: str | None = None
        self._refused: set[str] = set()  # classes whose subscription the hub refused (logged once)
        self._sessions = 0  # connections that got all subscriptions confirmed
        self._incident: str | None = None  # the problem last logged (one line per incident)
        self._renew = False
        self._counted = False  # the current connection was counted as a session
        self.events = 0  # change events received (for status and tests)

    # ------------------------------------------------------------------ public
    @property
    def connected(self) -> bool:
        return self._subscribed.is_set()

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="livequery", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._lock:
            app = self._app
        if app is not None:
            try:
                app.close(timeout=0.2)
            except Exception:  # noqa: BLE001 - closing a broken socket must not raise
                pass
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._subscribed.clear()

    def add_subscriptions(self, subscriptions: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
        """Subscribe to more (class, where) pairs (duplicates are ignored); returns the classes newly added."""
        added: list[str] = []
        with self._lock:
            for cls, where in subscriptions:
                entry = (cls, dict(where))
                if entry in self.subscriptions:
                    continue
                self.subscriptions.append(entry)
                added.append(cls)
                if self._live is not None:
                    self._subscribe(self._live, len(self.subscriptions), entry)
        return added

    def wait_subscribed(self, timeout: float) -> bool:
        """True once every subscription of the current connection is confirmed."""
        return self._subscribed.wait(timeout)

    # ------------------------------------------------------------------ thread
    def _run(self) -> None:
        backoff = self.min_backoff_s
        while not self._stop.is_set():
            app = websocket.WebSocketApp(self.url, on_open=self._on_open, on_message=self._on_message,
                                         on_error=self._on_error, on_close=self._on_close)
            with self._lock:
                self._app = app
            sslopt = {"ca_certs": self.ca_file} if self.ca_file else None
            had_session = self._sessions
            try:
                app.run_forever(ping_interval=self.ping_interval_s, ping_timeout=min(10.0, self.ping_interval_s / 2),
                                sslopt=sslopt)
            except Exception as exc:  # noqa: BLE001 - never let the thread die
                self._problem(f"LiveQuery {self.url}: {type(exc).__name__}: {exc}")
            self._subscribed.clear()
            with self._lock:
                self._app = None
                self._live = None
            if self._stop.is_set():
                break
            if self._sessions > had_session:
                backoff = self.min_backoff_s  # that connection worked: start the backoff from the bottom
            self._problem(f"LiveQuery {self.url}: connection closed; reconnecting (polling continues meanwhile)")
            delay = backoff * random.uniform(0.8, 1.2)
            backoff = min(self.max_backoff_s, backoff * 2)
            if self._stop.wait(delay):
                break

    def _problem(self, line: str) -> None:
        if line != self._incident:
            self._incident = line
            log.warning("%s", line)

    def _send(self, ws: websocket.WebSocketApp, message: Mapping[str, Any]) -> None:
        ws.send(json.dumps(message, separators=(",", ":")))

    def _token(self) -> str | None:
        if self._renew and self._renew_session is not None:
            self._renew = False
            try:
                return self._renew_session()
            except Exception as exc:  # noqa: BLE001 - hub errors: try again on the next reconnect
                self._problem(f"LiveQuery {self.url}: renewing the session failed: {exc}")
                return None
        return self._session_token() if self._session_token is not None else None

    def _on_open(self, ws: websocket.WebSocketApp) -> None:
        message: dict[str, Any] = {"op": "connect", "applicationId": self.app_id}
        if self.rest_key:
            message["restAPIKey"] = self.rest_key
        if self.js_key:
            message["javascriptKey"] = self.js_key
        token = self._token()
        if token:
            message["sessionToken"] = token
        self._send(ws, message)

    def _on_message(self, ws: websocket.WebSocketApp, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            self._problem(f"LiveQuery {self.url}: message is not JSON; ignored")
            return
        if not isinstance(message, dict):
            return
        op = message.get("op")
        if op == "connected":
            with self._lock:
                self._live_token = self._session_token() if self._session_token is not None else None
                self._live = ws
                self._pending = set()
                self._counted = False
                for i, entry in enumerate(self.subscriptions, start=1):
                    self._subscribe(ws, i, entry)
            if not self.subscriptions:
                self._confirmed()
        elif op == "subscribed":
            self._settle(message.get("requestId"))
        elif (op == "error" and message.get("code") != INVALID_SESSION_TOKEN
              and isinstance(message.get("requestId"), int) and message["requestId"] in self._pending):
            # the hub refuses this one subscription: the others stay, polling covers the class
            request_id = message["requestId"]
            cls = self.subscriptions[request_id - 1][0] if request_id <= len(self.subscriptions) else "?"
            if cls not in self._refused:
                self._refused.add(cls)
                log.warning("LiveQuery %s: the hub refuses push for class %s (error %s: %s); polling covers it",
                            self.url, cls, message.get("code"), str(message.get("error", ""))[:200])
            self._settle(request_id)
        elif op in EVENT_OPS:
            self.events += 1
            cls = ""
            request_id = message.get("requestId")
            if isinstance(request_id, int) and 1 <= request_id <= len(self.subscriptions):
                cls = self.subscriptions[request_id - 1][0]
            obj = message.get("object")
            self._notify(str(op), cls, obj if isinstance(obj, dict) else {})
        elif op == "error":
            code = message.get("code")
            text = str(message.get("error", ""))[:200]
            if code == INVALID_SESSION_TOKEN or "session" in text.lower():
                self._renew = True
            self._problem(f"LiveQuery {self.url}: hub says error {code}: {text}")
            if message.get("reconnect") is False or self._renew:
                ws.close()

    def _subscribe(self, ws: websocket.WebSocketApp, request_id: int, entry: tuple[str, dict[str, Any]]) -> None:
        """Send one subscribe (caller holds ``_lock``)."""
        cls, where = entry
        sub: dict[str, Any] = {"op": "subscribe", "requestId": request_id, "query": {"className": cls, "where": where}}
        if self._live_token:
            sub["sessionToken"] = self._live_token
        self._pending.add(request_id)
        self._subscribed.clear()
        try:
            self._send(ws, sub)
        except Exception as exc:  # noqa: BLE001 - a socket closing meanwhile: the reconnect subscribes again
            self._pending.discard(request_id)
            self._problem(f"LiveQuery {self.url}: subscribing to {cls} failed: {exc}")

    def _settle(self, request_id: Any) -> None:
        with self._lock:
            self._pending.discard(request_id)
            done = not self._pending
        if done:
            self._confirmed()

    def _confirmed(self) -> None:
        if self._counted:  # subscriptions added later on the same connection: no new session
            self._subscribed.set()
            return
        self._counted = True
        self._sessions += 1
        first = self._sessions == 1
        if self._incident is not None:
            log.info("LiveQuery %s: subscribed again", self.url)
        self._incident = None
        self._subscribed.set()
        if not first:
            self._notify("reconnect", "", {})

    def _notify(self, op: str, cls: str, obj: Mapping[str, Any]) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(op, cls, obj)
        except Exception:  # noqa: BLE001 - the callback's bug must not kill the socket
            log.exception("LiveQuery callback failed")

    def _on_error(self, ws: websocket.WebSocketApp, error: Any) -> None:
        self._problem(f"LiveQuery {self.url}: {type(error).__name__}: {str(error)[:200]}")

    def _on_close(self, ws: websocket.WebSocketApp, code: Any, reason: Any) -> None:
        self._subscribed.clear()
