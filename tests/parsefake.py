"""What the in-process Parse REST stand-ins of the reporting tests share (tests/test_report_commands_hub.py
`ParseHub`, tests/test_report_proof_delivery.py `ParseStandIn`): real HTTP on 127.0.0.1 in a thread, JSON in and
out; and the one edge a test cannot run, restarting and rebooting the machine. The full Parse Server is in
tests/integration/."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class JsonServer:
    """Serves ``answer(method, path, raw_body, query) -> (status, json_doc)`` on 127.0.0.1 from a thread. ``url``
    ends in ``/parse`` (as a hub's does); ``answer`` sees paths without it. Call ``serve()`` once the subclass has
    set up what ``answer`` reads; ``close()`` stops it."""

    url: str

    def answer(self, method: str, path: str, raw: bytes, query: dict[str, list[str]]) -> tuple[int, Any]:
        raise NotImplementedError

    def serve(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, doc = server.answer(method, url.path.removeprefix("/parse"), raw, parse_qs(url.query))
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - stdlib naming
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802 - stdlib naming
                self._serve("POST")

            def do_PUT(self) -> None:  # noqa: N802 - stdlib naming
                self._serve("PUT")

            def do_DELETE(self) -> None:  # noqa: N802 - stdlib naming
                self._serve("DELETE")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_port}/parse"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class RecordingSystem:
    """Restart and reboot of the machine: recorded, not done (the one edge a test cannot run)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def restart_player(self) -> None:
        self.calls.append("restart")

    def reboot(self) -> None:
        self.calls.append("reboot")
