"""A real Open SmartCity Hub for tests: Parse Server (tests/hub/server.js) on a private PostgreSQL 15 + PostGIS.

Everything runs on 127.0.0.1 in a temporary directory that `close()` removes again:

    hub = TestHub()
    hub.start_all()            # PostgreSQL cluster + database + postgis + Parse Server; waits until healthy
    hub.rest("POST", "/classes/SteleScreen", {"uuid": "..."})
    hub.kill(); hub.start()    # fault tests: Parse Server dies and comes back on the same URL, data kept
    hub.fault("status", status=500, path="^/batch")   # the player's requests (no master key) get HTTP 500
    hub.fault_hits(); hub.clear_faults()
    hub.close()

Only the standard library and `requests`. Set up the machine once with `tests/hub/setup.sh`.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import requests

HUB_DIR = Path(__file__).resolve().parent / "hub"
SERVER_JS = HUB_DIR / "server.js"

# Classes that belong to tests: dropped between tests by `TestHub.reset()`.
SYSTEM_CLASSES_TO_PURGE = ("_User", "_Session", "_Role", "_Installation")


class HubUnavailable(RuntimeError):
    """A tool the test hub needs is missing or the hub did not come up. The message says what to do."""


class HubRequestError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bindir() -> Path:
    explicit = os.environ.get("OSC_TEST_PG_BINDIR")
    if explicit:
        return Path(explicit)
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for candidate in candidates:
        if (candidate / "initdb").exists():
            return candidate
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise HubUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; run `sudo tests/hub/setup.sh` "
        "or set OSC_TEST_PG_BINDIR"
    )


def check_prerequisites() -> list[str]:
    """Names of what is missing for a test hub on this machine (empty list: all there)."""
    missing: list[str] = []
    try:
        bindir = _pg_bindir()
        for tool in ("initdb", "pg_ctl", "postgres", "psql"):
            if not (bindir / tool).exists():
                missing.append(f"{bindir / tool} (PostgreSQL)")
        version = bindir.parent.name
        control = Path(f"/usr/share/postgresql/{version}/extension/postgis.control")
        if not control.exists():
            missing.append(f"{control} (Debian package postgresql-{version}-postgis-3)")
    except HubUnavailable as exc:
        missing.append(str(exc))
    if shutil.which("node") is None:
        missing.append("node (Node.js >= 20.19)")
    if not (HUB_DIR / "node_modules" / "parse-server").is_dir():
        missing.append(f"{HUB_DIR / 'node_modules'} (run `npm ci` in {HUB_DIR})")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing.append("runuser (util-linux), needed to run PostgreSQL as user postgres")
    return missing


class TestHub:
    """A private PostgreSQL cluster plus a Parse Server process, both on 127.0.0.1 and free ports."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        app_id: str = "osc-test-hub",
        master_key: str = "osc-test-master-key",
        rest_key: str = "osc-test-rest-key",
        js_key: str = "osc-test-js-key",
        db_name: str = "osc_hub",
        startup_timeout: float = 60.0,
        public_file_upload: bool = False,
        max_limit: int | None = None,
    ) -> None:
        self.app_id = app_id
        self.master_key = master_key
        self.rest_key = rest_key
        self.js_key = js_key
        self.db_name = db_name
        self.startup_timeout = startup_timeout
        # Parse Server's default: only users (and the master key) may upload files; True allows anyone.
        self.public_file_upload = public_file_upload
        # Parse Server's maxLimit: the most rows one query page answers, whatever limit is asked (None: no cap)
        self.max_limit = max_limit
        self.db_user = "hub"
        self.workdir: Path | None = None
        self.pg_port: int | None = None
        self.port: int | None = None
        self._pg_bindir: Path | None = None
        self._pg_running = False
        self._parse: subprocess.Popen[bytes] | None = None
        self._parse_log: Any = None
        self._session = requests.Session()

    # ----------------------------------------------------------------- addresses
    @property
    def url(self) -> str:
        """Parse server URL, e.g. http://127.0.0.1:PORT/parse (stays the same across stop()/start())."""
        if self.port is None:
            raise HubUnavailable("test hub not started")
        return f"http://127.0.0.1:{self.port}/parse"

    @property
    def ws_url(self) -> str:
        """LiveQuery WebSocket URL (same HTTP server as the REST API)."""
        return self.url.replace("http://", "ws://", 1)

    @property
    def database_uri(self) -> str:
        return f"postgres://{self.db_user}:{self.db_user}@127.0.0.1:{self.pg_port}/{self.db_name}"

    @property
    def files_dir(self) -> Path:
        """Where the fs files adapter stores uploads."""
        assert self.workdir is not None
        return self.workdir / "parse" / "files"

    @property
    def parse_log_path(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "parse.log"

    @property
    def running(self) -> bool:
        return self._parse is not None and self._parse.poll() is None

    # ----------------------------------------------------------------- lifecycle
    def start_all(self) -> TestHub:
        missing = check_prerequisites()
        if missing:
            raise HubUnavailable(
                "test hub cannot start, missing: " + "; ".join(missing) + ". Run `sudo tests/hub/setup.sh`."
            )
        # a test run that dies without calling close() must not leave PostgreSQL/node running
        atexit.register(self.close)
        try:
            self._start_postgres()
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def start(self) -> None:
        """Start the Parse Server process (PostgreSQL must be running) and wait until /health says ok."""
        if self.running:
            return
        if not self._pg_running:
            raise HubUnavailable("PostgreSQL of the test hub is not running; use start_all()")
        if self.port is None:
            self.port = free_port()
        assert self.workdir is not None
        (self.workdir / "parse").mkdir(exist_ok=True)
        env = dict(os.environ)
        env.update(
            HUB_PORT=str(self.port),
            HUB_DATABASE_URI=self.database_uri,
            HUB_APP_ID=self.app_id,
            HUB_MASTER_KEY=self.master_key,
            HUB_REST_KEY=self.rest_key,
            HUB_JS_KEY=self.js_key,
            HUB_FILES_DIR=str(self.workdir / "parse"),
            HUB_PUBLIC_FILE_UPLOAD="1" if self.public_file_upload else "0",
            HUB_MAX_LIMIT=str(self.max_limit or ""),
        )
        self._parse_log = open(self.parse_log_path, "ab")  # noqa: SIM115 - kept open while the process runs
        self._parse = subprocess.Popen(
            ["node", str(SERVER_JS)],
            cwd=str(HUB_DIR),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._parse_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_healthy()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop Parse Server gracefully (SIGTERM). PostgreSQL and all data stay."""
        self._end_parse(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """Kill Parse Server hard (SIGKILL), like a crash. PostgreSQL and all data stay."""
        self._end_parse(signal.SIGKILL, 10.0)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop everything and delete the temporary directory. Safe to call twice."""
        atexit.unregister(self.close)
        try:
            self.kill()
        finally:
            try:
                self._stop_postgres()
            finally:
                self._session.close()
                if self.workdir is not None:
                    shutil.rmtree(self.workdir, ignore_errors=True)
                    self.workdir = None

    def __enter__(self) -> TestHub:
        return self.start_all()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- REST helpers
    def headers(self, master: bool = True, session_token: str | None = None) -> dict[str, str]:
        headers = {"X-Parse-Application-Id": self.app_id, "X-Parse-REST-API-Key": self.rest_key}
        if master:
            headers["X-Parse-Master-Key"] = self.master_key
        if session_token:
            headers["X-Parse-Session-Token"] = session_token
        return headers

    def rest(
        self,
        method: str,
        path: str,
        json: Any = None,  # noqa: A002 - same name as in requests
        master: bool = True,
        params: dict[str, Any] | None = None,
        session_token: str | None = None,
    ) -> Any:
        """Call the Parse REST API (`path` relative to the server URL, e.g. "/classes/SteleScreen").

        `params` values that are dicts/lists (e.g. `where`) are JSON-encoded. Returns the parsed JSON answer;
        raises HubRequestError on an HTTP error status.
        """
        query = None
        if params:
            query = {k: (_json_dumps(v) if isinstance(v, (dict, list)) else v) for k, v in params.items()}
        response = self._session.request(
            method.upper(),
            self.url + path,
            json=json,
            params=query,
            headers=self.headers(master=master, session_token=session_token),
            timeout=30,
        )
        if response.status_code >= 400:
            raise HubRequestError(method.upper(), path, response.status_code, response.text)
        return response.json() if response.content else None

    def upload_file(
        self, name: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> dict[str, Any]:
        """POST /files/<name> with the master key; returns a Parse File dict {"__type","name","url"}."""
        headers = self.headers(master=True)
        headers["Content-Type"] = content_type
        response = self._session.post(f"{self.url}/files/{name}", data=data, headers=headers, timeout=30)
        if response.status_code >= 400:
            raise HubRequestError("POST", f"/files/{name}", response.status_code, response.text)
        answer = response.json()
        return {"__type": "File", "name": answer["name"], "url": answer["url"]}

    def call_function(self, name: str, params: dict[str, Any] | None = None, master: bool = False) -> Any:
        """POST /functions/<name>; returns the `result`."""
        return self.rest("POST", f"/functions/{name}", params or {}, master=master)["result"]

    def create_user(self, username: str, password: str) -> dict[str, Any]:
        """Create a hub user (as the steles log in with); returns the sign-up answer incl. sessionToken."""
        return self.rest("POST", "/users", {"username": username, "password": password}, master=False)

    # ----------------------------------------------------------------- cloud function fixtures
    def set_cloud_result(
        self,
        function: str,
        result: Any = None,
        *,
        error: tuple[int, str] | None = None,
        delay_ms: int = 0,
    ) -> None:
        """Make cloud function `function` answer `result` (any JSON) or fail with `error=(code, message)`,
        optionally after `delay_ms`. Replaces an earlier override of the same function."""
        self.clear_cloud_result(function)
        row: dict[str, Any] = {"function": function, "delayMs": delay_ms}
        if error is not None:
            row["errorCode"], row["errorMessage"] = error
        elif result is not None:
            row["resultJson"] = _json_dumps(result)
        self.rest("POST", "/classes/TestFixture", row)

    def clear_cloud_result(self, function: str | None = None) -> None:
        """Back to the built-in fixture answer for `function` (or for all functions)."""
        where = {"function": function} if function else {}
        for row in self.query("TestFixture", where):
            self.rest("DELETE", f"/classes/TestFixture/{row['objectId']}")

    def cloud_calls(self, function: str | None = None) -> list[dict[str, Any]]:
        """Calls the hub's cloud code received, oldest first: [{"function", "params", ...}]."""
        where = {"function": function} if function else {}
        return self.query("TestCloudCall", where, order="createdAt")

    # ----------------------------------------------------------------- fault switch (tests/hub/server.js)
    @property
    def fault_url(self) -> str:
        if self.port is None:
            raise HubUnavailable("test hub not started")
        return f"http://127.0.0.1:{self.port}/__faults"

    def fault(self, mode: str, *, path: str = "", method: str | None = None, times: int | None = None,
              status: int | None = None, bytes: int | None = None,  # noqa: A002 - the server's field name
              location: str | None = None) -> None:
        """Arm a fault in front of the real Parse Server for requests WITHOUT the master key (the player's):
        ``status`` (HTTP `status`, default 500), ``badjson`` (200 with an HTML body), ``huge`` (200 with a
        `bytes`-long body, default 50 MB), ``hang`` (never answered until `clear_faults`), ``redirect`` (to
        `location`; ``{path}`` in it becomes the request path). `path` is a RegExp on the path below /parse
        (e.g. ``"^/batch"``, ``"^/files/"``); `times` disarms the fault after that many hits. Faults are kept
        in the Parse Server process: a restart clears them."""
        spec: dict[str, Any] = {"mode": mode, "path": path}
        for key, value in (("method", method), ("times", times), ("status", status), ("bytes", bytes),
                           ("location", location)):
            if value is not None:
                spec[key] = value
        response = self._session.post(self.fault_url, json=spec, headers=self.headers(), timeout=10)
        if response.status_code >= 400:
            raise HubRequestError("POST", "/__faults", response.status_code, response.text)

    def fault_hits(self) -> int:
        """How many requests the armed faults answered (or held) so far."""
        response = self._session.get(self.fault_url, headers=self.headers(), timeout=10)
        if response.status_code >= 400:
            raise HubRequestError("GET", "/__faults", response.status_code, response.text)
        return sum(int(f["hits"]) for f in response.json()["faults"])

    def clear_faults(self) -> None:
        """Disarm every fault; requests held by ``hang`` are dropped (their clients see a closed connection)."""
        if not self.running:
            return
        response = self._session.delete(self.fault_url, headers=self.headers(), timeout=10)
        if response.status_code >= 400:
            raise HubRequestError("DELETE", "/__faults", response.status_code, response.text)

    # ----------------------------------------------------------------- data helpers
    def query(
        self, class_name: str, where: dict[str, Any] | None = None, **params: Any
    ) -> list[dict[str, Any]]:
        """GET /classes/<class_name> with the master key; [] if the class does not exist yet."""
        query: dict[str, Any] = {"limit": 1000, **params}
        if where:
            query["where"] = where
        try:
            return list(self.rest("GET", f"/classes/{class_name}", params=query)["results"])
        except HubRequestError as exc:
            if exc.status == 400 and '"code":103' in exc.body.replace(" ", ""):
                return []
            raise

    def class_names(self) -> list[str]:
        return [schema["className"] for schema in self.rest("GET", "/schemas")["results"]]

    def reset(self, keep: Iterable[str] = ()) -> None:
        """Make the hub empty again: drop every non-system class (objects, schema, relations) and purge users,
        sessions, roles and installations; injected faults are disarmed. Classes named in `keep` are left alone."""
        self.clear_faults()
        keep = set(keep)
        for name in self.class_names():
            if name in keep:
                continue
            if name.startswith("_"):
                if name in SYSTEM_CLASSES_TO_PURGE:
                    self.rest("DELETE", f"/purge/{name}")
                continue
            self.rest("DELETE", f"/purge/{name}")
            self.rest("DELETE", f"/schemas/{name}")

    # ----------------------------------------------------------------- internals
    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        health = f"{self.url}/health"
        while time.monotonic() < deadline:
            if self._parse is None or self._parse.poll() is not None:
                code = None if self._parse is None else self._parse.returncode
                raise HubUnavailable(
                    f"Parse Server exited with code {code} during start-up:\n{self._log_tail()}"
                )
            try:
                response = requests.get(health, timeout=2)
                if response.status_code == 200 and response.json().get("status") == "ok":
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.1)
        self.kill()
        raise HubUnavailable(
            f"Parse Server not healthy after {self.startup_timeout:.0f} s:\n{self._log_tail()}"
        )

    def _end_parse(self, sig: signal.Signals, timeout: float) -> None:
        process, self._parse = self._parse, None
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self._parse_log is not None:
            self._parse_log.close()
            self._parse_log = None

    def _log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.parse_log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _as_pg_user(self, argv: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _run(self, argv: list[str], what: str) -> None:
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise HubUnavailable(f"{what} failed ({' '.join(argv)}):\n{result.stdout}\n{result.stderr}")

    def _start_postgres(self) -> None:
        self._pg_bindir = bindir = _pg_bindir()
        self.workdir = Path(tempfile.mkdtemp(prefix="osc-test-hub-"))
        pgdata = self.workdir / "pgdata"
        sockdir = self.workdir / "pgsock"
        sockdir.mkdir()
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: the cluster belongs to the system user postgres.
            shutil.chown(self.workdir, "postgres", "postgres")
            shutil.chown(sockdir, "postgres", "postgres")
        self._run(
            self._as_pg_user(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(pgdata),
                    "-U",
                    self.db_user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ]
            ),
            "initdb",
        )
        self.pg_port = free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.pg_port} -c unix_socket_directories={sockdir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            self._as_pg_user(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(pgdata),
                    "-l",
                    str(self.workdir / "postgres.log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            "pg_ctl start",
        )
        self._pg_running = True
        psql = [
            str(bindir / "psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.pg_port),
            "-U",
            self.db_user,
        ]
        self._run([*psql, "-d", "postgres", "-c", f'CREATE DATABASE "{self.db_name}"'], "create database")
        self._run(
            [*psql, "-d", self.db_name, "-c", "CREATE EXTENSION IF NOT EXISTS postgis"], "create postgis"
        )

    def _stop_postgres(self) -> None:
        if not self._pg_running or self.workdir is None or self._pg_bindir is None:
            return
        self._pg_running = False
        subprocess.run(
            self._as_pg_user(
                [
                    str(self._pg_bindir / "pg_ctl"),
                    "-D",
                    str(self.workdir / "pgdata"),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ]
            ),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
        )


def _json_dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
