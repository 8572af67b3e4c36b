"""Web page items: without the optional extra a clear placeholder (and one log line saying how to enable it);
with Qt WebEngine installed (`make test` installs the extra 'web'), the page itself. Under CI=true a missing
Qt WebEngine fails the real-page test; elsewhere it is skipped with the reason."""

from __future__ import annotations

import logging
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

import player.ui.web as web
from player.clock import SystemClock
from player.layouts import load_screen_dict
from player.ui.bridge import WorkerBridge
from player.ui.items import VIEW_FACTORIES, RenderContext
from player.ui.zone import ZoneWidget
from screens import one_zone


def make_zone(qtbot, items: list[dict], locale: str = "de-DE") -> ZoneWidget:  # noqa: ANN001
    zone = load_screen_dict(one_zone(items, width=400, height=240), "t.json").screen.layouts["main"].zones[0]
    host = QWidget()
    host.resize(400, 240)
    qtbot.addWidget(host)
    ctx = RenderContext(clock=SystemClock(), timezone=ZoneInfo("Europe/Berlin"), resolve_media=lambda _r: None,
                        bridge=WorkerBridge(), locale=locale)
    widget = ZoneWidget(zone, ctx, host)
    widget.setGeometry(0, 0, 400, 240)
    widget.host_ref = host
    host.show()
    return widget


def test_web_is_registered() -> None:
    assert VIEW_FACTORIES["web"] is web.make_web_view


def test_without_webengine_the_zone_shows_a_placeholder_and_one_log_line(qtbot, monkeypatch, caplog) -> None:  # noqa: ANN001
    monkeypatch.setattr(web, "_webengine", lambda: None)
    monkeypatch.setattr(web, "_said_unavailable", False)
    caplog.set_level(logging.WARNING)
    widget = make_zone(qtbot, [{"type": "web", "id": "w1", "url": "http://127.0.0.1:9/", "duration": 0.2},
                               {"type": "web", "id": "w2", "url": "http://127.0.0.1:9/x", "duration": 0.2}])
    started: list[str] = []
    widget.item_started.connect(lambda _z, item, _s: started.append(item))
    widget.start()
    qtbot.waitUntil(lambda: len(started) >= 4, timeout=5000)  # the zone goes on: the placeholder does not stall it
    view = widget.current
    assert isinstance(view, web.WebUnavailableView)
    assert view.message == "Webseiten-Anzeige nicht installiert"
    image = view.grab().toImage()
    # the placeholder is visibly drawn (a light tile with text), not an empty zone
    assert len({image.pixel(x, y) for x in range(0, 400, 7) for y in range(0, 240, 7)}) > 2
    lines = [r.getMessage() for r in caplog.records if "web page" in r.getMessage()]
    assert len(lines) == 1, lines
    # the pip of the environment the player runs in (provisioning: /opt/osc-player/venv), not some other pip
    assert f"{Path(sys.prefix) / 'bin' / 'pip'} install 'osc-player[web]'" in lines[0]
    widget.stop()


def test_hint_names_the_debian_package_when_pyside6_comes_from_the_distribution(monkeypatch) -> None:  # noqa: ANN001
    assert web.enable_hint() == f"{Path(sys.prefix) / 'bin' / 'pip'} install 'osc-player[web]'"
    monkeypatch.setattr(sys, "prefix", "/nonexistent-venv")  # PySide6 is then outside the environment's prefix
    assert web.enable_hint().startswith("apt-get install python3-pyside6.qtwebenginewidgets")


@pytest.mark.parametrize(("succeeded", "error_page", "http", "failed"), [
    (True, False, 200, False),
    (True, False, None, False),  # Qt without an HTTP status (file:, data:)
    (True, False, 500, True),  # a server error page with a body: the browser calls it a success
    (True, False, 404, True),
    (False, False, None, True),  # connection refused, DNS, TLS
    (True, True, None, True),  # Chromium's own error page
])
def test_what_counts_as_a_failed_load(succeeded: bool, error_page: bool, http: int | None, failed: bool) -> None:
    assert (web.load_failed(succeeded, error_page, http) is not None) is failed


def test_placeholder_speaks_the_screen_language(qtbot, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(web, "_webengine", lambda: None)
    widget = make_zone(qtbot, [{"type": "web", "id": "w", "url": "http://127.0.0.1:9/", "duration": 5}],
                       locale="en-GB")
    widget.start()
    qtbot.waitUntil(lambda: widget.current is not None, timeout=3000)
    assert widget.current.message == "Web page display not installed"
    widget.stop()


class _Pages(BaseHTTPRequestHandler):
    fail = False
    failed_requests = 0

    def do_GET(self) -> None:  # noqa: N802
        if _Pages.fail:  # a server error WITH a body (red): it must not replace the last good page
            _Pages.failed_requests += 1
            body = b"<html><body style='margin:0;background:#ff0000'>502 Bad Gateway</body></html>"
            self.send_response(502)
        else:
            body = b"<html><body style='margin:0;background:#00ff00'></body></html>"
            self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        return


def _why_no_webengine() -> str:
    """The plain reason the real-page test cannot run here ('' when it can)."""
    try:
        from PySide6 import QtWebEngineWidgets  # noqa: F401
    except ImportError as exc:
        essentials = metadata.version("PySide6-Essentials") if _installed("PySide6-Essentials") else "?"
        if _installed("PySide6-Addons"):
            return (f"PySide6-Addons is installed but Qt WebEngine does not import ({exc}); it must be the same "
                    f"version as PySide6-Essentials {essentials}")
        return (f"Qt WebEngine is not installed, so no real page can be shown: the optional extra 'web' needs "
                f"PySide6-Addons of exactly the installed PySide6-Essentials version ({essentials}); make test "
                f"installs it. To run this test: {web.enable_hint()}")
    return ""


def _installed(dist: str) -> bool:
    try:
        metadata.version(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


def test_with_webengine_the_page_shows_and_a_failed_reload_keeps_it(qtbot) -> None:  # noqa: ANN001
    why = _why_no_webengine()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        widget = make_zone(qtbot, [{"type": "web", "id": "w", "url": url, "duration": 60, "reload_s": 1}])
        widget.start()
        qtbot.waitUntil(lambda: widget.current is not None, timeout=20000)

        def green() -> bool:
            c = QColor(widget.grab().toImage().pixel(200, 120))
            return c.green() > 200 and c.red() < 60

        qtbot.waitUntil(green, timeout=10000)
        _Pages.failed_requests = 0
        _Pages.fail = True
        # a second failing request means the first failed reload was judged and the next one began
        qtbot.waitUntil(lambda: _Pages.failed_requests >= 2, timeout=20000)
        assert green()  # the last good page, not the red error body
        widget.stop()
    finally:
        _Pages.fail = False
        server.shutdown()

