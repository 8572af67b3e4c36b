"""A private RabbitMQ (Debian 12 package `rabbitmq-server` 3.10) with the Web-STOMP plugin, for the digital-twin tests.

Everything is private to the test run: node name, data and log folders, Erlang cookie (HOME), config, and free
ports on 127.0.0.1 for Web-STOMP, plain STOMP (the test's publisher), Erlang distribution and its own epmd. The
definitions file creates the vhost `city`, the user `screen` and the topic exchange `digital_twin_raw`.

    broker = TwinBroker(tmp_dir); broker.start()
    broker.publish({"uuid": ...}, routing_key="press")   # waits for the broker's RECEIPT
    broker.stop(); broker.start()                           # same data, same ports
    broker.close()

The publisher speaks STOMP over a plain TCP socket with frames written out here, independent of the code under test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

SERVER_CANDIDATES = ("/usr/lib/rabbitmq/bin/rabbitmq-server",)  # the real script: /usr/sbin's wrapper su's away
CTL_CANDIDATES = ("/usr/lib/rabbitmq/bin/rabbitmqctl",)
VHOST = "city"
USER = "screen"
PASSWORD = "s3cret-Ünïcode"
EXCHANGE = "digital_twin_raw"
START_TIMEOUT_S = 120.0


class BrokerUnavailable(RuntimeError):
    """RabbitMQ is not installed or did not come up; the text says why (with the end of its log)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _find(candidates: tuple[str, ...], name: str) -> str:
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if found is None or found.startswith("/usr/sbin/"):
        raise BrokerUnavailable(f"'{name}' is not installed (Debian package rabbitmq-server; make test installs it)")
    return found


class TwinBroker:
    def __init__(self, root: Path) -> None:
        self.server = _find(SERVER_CANDIDATES, "rabbitmq-server")
        self.ctl = _find(CTL_CANDIDATES, "rabbitmqctl")
        self.epmd = shutil.which("epmd")
        if self.epmd is None:
            raise BrokerUnavailable("'epmd' (Erlang) is not installed")
        self.root = Path(root)
        for sub in ("mnesia", "log", "home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.web_port, self.stomp_port, self.dist_port, self.epmd_port = (_free_port() for _ in range(4))
        self.node = f"osctwin{os.getpid()}@localhost"
        self._server: subprocess.Popen[bytes] | None = None
        self._epmd: subprocess.Popen[bytes] | None = None
        self._publisher: socket.socket | None = None
        self._receipts = 0
        self._write_config()

    # ------------------------------------------------------------------------------------------ set-up
    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.web_port}/ws"

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """A [twin] section of player.toml for this broker."""
        return {"url": self.ws_url, "vhost": VHOST, "login": USER, "passcode": PASSWORD,
                "destination": f"/exchange/{EXCHANGE}/*", "districts": [], "heartbeat_s": 2, **overrides}

    def _write_config(self) -> None:
        defs = {"users": [{"name": USER, "password": PASSWORD, "tags": ""}],
                "vhosts": [{"name": VHOST}],
                "permissions": [{"user": USER, "vhost": VHOST, "configure": ".*", "write": ".*", "read": ".*"}],
                "exchanges": [{"name": EXCHANGE, "vhost": VHOST, "type": "topic", "durable": True,
                               "auto_delete": False, "internal": False, "arguments": {}}]}
        (self.root / "definitions.json").write_text(json.dumps(defs), encoding="utf-8")
        (self.root / "rabbitmq.conf").write_text("\n".join([
            "listeners.tcp = none",  # no AMQP port: only what the tests use
            f"stomp.listeners.tcp.1 = 127.0.0.1:{self.stomp_port}",
            f"web_stomp.tcp.port = {self.web_port}",
            "web_stomp.tcp.ip = 127.0.0.1",
            f"load_definitions = {self.root / 'definitions.json'}",
            "log.console = false",
            "log.file.level = info",
            "",
        ]), encoding="utf-8")
        (self.root / "enabled_plugins").write_text("[rabbitmq_web_stomp].\n", encoding="utf-8")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update({
            "HOME": str(self.root / "home"),  # the Erlang cookie lives here, private to this broker
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.root / "rabbitmq.pid"),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        })
        return env

    # ------------------------------------------------------------------------------------------ lifecycle
    @property
    def running(self) -> bool:
        return self._server is not None and self._server.poll() is None

    def start(self) -> None:
        if self.running:
            return
        if self._epmd is None or self._epmd.poll() is not None:
            self._epmd = subprocess.Popen([self.epmd, "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                                          env=self.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True)
        out = open(self.root / "log" / "server.out", "ab")  # noqa: SIM115 - kept open for the process
        try:
            self._server = subprocess.Popen([self.server], env=self.env(), stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            out.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._server.poll() is not None:
                raise BrokerUnavailable(f"rabbitmq-server exited with {self._server.returncode}:\n{self.log_tail()}")
            if self._stomp_ready():
                return
            time.sleep(0.25)
        self.stop()
        raise BrokerUnavailable(f"rabbitmq-server did not accept STOMP within {START_TIMEOUT_S:g} s:\n"
                                f"{self.log_tail()}")

    def _stomp_ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.web_port), timeout=1):
                pass
            self._connect_publisher()
            return True
        except OSError:
            self._drop_publisher()
            return False

    def stop(self) -> None:
        """Stops the node (as an operator would: rabbitmqctl stop), or ends its process group if that fails."""
        self._drop_publisher()
        proc = self._server
        if proc is None or proc.poll() is not None:
            return
        try:
            subprocess.run([self.ctl, "stop"], env=self.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=60, check=False)
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group this harness started, nothing else
            proc.wait(timeout=30)

    def close(self) -> None:
        self.stop()
        if self._epmd is not None and self._epmd.poll() is None:
            self._epmd.terminate()
            try:
                self._epmd.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._epmd.kill()
                self._epmd.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        texts = []
        for path in sorted((self.root / "log").glob("*")):
            try:
                texts.extend(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
            except OSError:
                pass
        return "\n".join(texts[-lines:])

    # ------------------------------------------------------------------------------------------ publisher
    def _connect_publisher(self) -> socket.socket:
        if self._publisher is not None:
            return self._publisher
        sock = socket.create_connection(("127.0.0.1", self.stomp_port), timeout=10)
        try:
            sock.sendall(f"CONNECT\naccept-version:1.2\nhost:{VHOST}\nlogin:{USER}\npasscode:{PASSWORD}\n\n\x00"
                         .encode())
            reply = self._read_frame(sock)
            if not reply.startswith(b"CONNECTED"):
                raise OSError(f"broker did not accept the publisher: {reply[:200]!r}")
        except OSError:
            sock.close()
            raise
        self._publisher = sock
        return sock

    def _drop_publisher(self) -> None:
        if self._publisher is not None:
            try:
                self._publisher.close()
            finally:
                self._publisher = None

    @staticmethod
    def _read_frame(sock: socket.socket) -> bytes:
        data = b""
        while b"\x00" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise OSError("broker closed the publisher's connection")
            data += chunk
        return data.lstrip(b"\r\n")

    def publish(self, message: Any, routing_key: str = "press") -> None:
        """Sends *message* (dict/list -> JSON, str/bytes as they are) to the exchange; returns after the broker's
        RECEIPT, i.e. once the broker has routed it to the subscribers' queues."""
        body = message if isinstance(message, bytes) else (
            message.encode("utf-8") if isinstance(message, str) else json.dumps(message).encode("utf-8"))
        sock = self._connect_publisher()
        self._receipts += 1
        receipt = f"p{self._receipts}"
        head = (f"SEND\ndestination:/exchange/{EXCHANGE}/{routing_key}\ncontent-type:application/json\n"
                f"content-length:{len(body)}\nreceipt:{receipt}\n\n").encode()
        sock.sendall(head + body + b"\x00")
        reply = self._read_frame(sock)
        if not reply.startswith(b"RECEIPT") or f"receipt-id:{receipt}".encode() not in reply:
            raise OSError(f"broker did not confirm the message: {reply[:300]!r}")
