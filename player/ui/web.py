"""Web page items (optional extra ``web``: Qt WebEngine from PySide6-Addons).

With the extra installed the page is shown in a ``QWebEngineView``: URL, zoom, reload every ``reload_s`` seconds.
A reload that fails keeps the last rendered page: the reload happens in a second, hidden view that replaces the
visible one only when it loaded successfully (a failed load never replaces a good page by an error page). "Failed"
includes an HTTP error status whose body the browser rendered (a server's "502 Bad Gateway" page): ``loadFinished``
calls that a success, so the load's ``QWebEngineLoadingInfo`` (``QWebEnginePage.loadingChanged``, Qt >= 6.2) is
read for the HTTP status where Qt has it.
Without the extra the zone shows a clear placeholder, and the log says once how to enable it.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, QUrl
from PySide6.QtWidgets import QWidget

from player.model import WebItem
from player.texts import text
from player.ui.items import VIEW_FACTORIES, ItemView, PlaceholderView, RenderContext

log = logging.getLogger(__name__)

LOAD_TIMEOUT_MS = 20_000  # a first load that takes longer shows what there is (or the page's own error)


def enable_hint() -> str:
    """How to install Qt WebEngine for this very installation (provisioning puts the player in a venv under /opt).

    PySide6 from the venv's wheels: the venv's own pip installs the extra (PySide6-Addons of the same version as
    PySide6-Essentials). PySide6 from the distribution (a venv with system site packages): its Debian package."""
    try:
        import PySide6

        from_venv = Path(PySide6.__file__).resolve().is_relative_to(Path(sys.prefix).resolve())
    except (ImportError, TypeError, OSError):
        from_venv = True
    if from_venv:
        return f"{Path(sys.prefix) / 'bin' / 'pip'} install 'osc-player[web]'"
    return "apt-get install python3-pyside6.qtwebenginewidgets (PySide6 comes from the distribution here)"


def load_failed(succeeded: bool, error_page: bool, http_status: int | None) -> str | None:
    """Why a finished load is no page worth showing (None: it is). ``http_status`` is None where Qt does not say."""
    if http_status is not None and http_status >= 400:
        return f"HTTP status {http_status}"
    if error_page:
        return "the browser shows its error page"
    if not succeeded:
        return "did not load"
    return None


def _webengine() -> Any:
    """The QtWebEngineWidgets module, or None when the optional extra is not installed."""
    _sandbox_as_root()
    try:
        from PySide6 import QtWebEngineWidgets
    except ImportError:
        return None
    return QtWebEngineWidgets


def _sandbox_as_root() -> None:
    """Chromium refuses to start its sandbox as root and takes the whole process down (a segfault). The installed
    player runs as its own user and keeps the sandbox; run as root (a developer's `make demo`, CI) it is switched off,
    and the log says so once."""
    if os.geteuid() != 0 or os.environ.get("QTWEBENGINE_DISABLE_SANDBOX"):
        return
    os.environ["QTWEBENGINE_DISABLE_SANDBOX"] = "1"
    log.warning("web page items: running as root, so Chromium's sandbox is off; run the player as its own user")


_said_unavailable = False


def web_available() -> bool:
    return _webengine() is not None


class WebUnavailableView(PlaceholderView):
    """What a web item shows when Qt WebEngine is not installed."""

    def __init__(self, item: WebItem, ctx: RenderContext, parent: QWidget):
        super().__init__(item, ctx, parent, message=text("web_unavailable", ctx.locale))
        global _said_unavailable
        if not _said_unavailable:
            _said_unavailable = True
            log.warning("web page items cannot be shown: Qt WebEngine (PySide6-Addons) is not installed; a "
                        "placeholder is shown instead. To enable web pages: %s, then restart the player",
                        enable_hint())


class WebView(ItemView):
    """A web page. ``ready`` after the first load finished (successfully or not, so the zone never stalls)."""

    item: WebItem

    def __init__(self, item: WebItem, ctx: RenderContext, parent: QWidget):
        super().__init__(item, ctx, parent)
        self._engine_mod = _webengine()
        self._page: Any = None  # the QWebEngineView on screen
        self._incoming: Any = None  # a reload in progress (hidden)
        self._loaded_ok = False
        self._reloading_in_place = False
        self._reload_failure: str | None = None  # why the last reload failed (logged once while it lasts)
        self._reload = QTimer(self)
        self._reload.setSingleShot(True)
        self._reload.timeout.connect(self._reload_now)
        self._first_timeout = QTimer(self)
        self._first_timeout.setSingleShot(True)
        self._first_timeout.timeout.connect(self._first_load_slow)

    def _new_view(self) -> Any:
        view = self._engine_mod.QWebEngineView(self)
        view.setGeometry(self.rect())
        view.setZoomFactor(max(0.25, min(5.0, self.item.zoom * self.ctx.scale)))
        page = view.page()
        if hasattr(page, "loadingChanged"):  # Qt >= 6.2: the outcome with its HTTP status
            page.loadingChanged.connect(lambda info, v=view: self._loading_changed(v, info))
        else:
            view.loadFinished.connect(lambda ok, v=view: self._load_done(v, load_failed(ok, False, None)))
        return view

    def _loading_changed(self, view: Any, info: Any) -> None:
        from PySide6.QtWebEngineCore import QWebEngineLoadingInfo as Info

        status = info.status()
        if status == Info.LoadStatus.LoadStartedStatus:
            return
        http = info.errorCode() if info.errorDomain() == Info.ErrorDomain.HttpStatusCodeDomain else None
        reason = load_failed(status == Info.LoadStatus.LoadSucceededStatus, info.isErrorPage(), http)
        if reason is not None and info.errorString() and http is None:
            reason = f"{reason} ({info.errorString()})"
        self._load_done(view, reason)

    def _load_done(self, view: Any, failure: str | None) -> None:
        """One load of ``view`` ended: ``failure`` is None for a page worth showing, else why not."""
        if view is self._incoming:
            self._reloaded(view, failure)
        elif view is self._page and not self.is_ready:
            self._first_loaded(failure)
        elif view is self._page:  # a reload in place, or a first load that ended after LOAD_TIMEOUT_MS
            self._loaded_ok = failure is None
            if self._reloading_in_place:
                self._reloading_in_place = False
                self._arm_reload()

    def prepare(self) -> None:
        self._page = self._new_view()
        self._first_timeout.start(LOAD_TIMEOUT_MS)
        self._page.load(QUrl(self.item.url))

    def _first_loaded(self, failure: str | None) -> None:
        self._first_timeout.stop()
        self._loaded_ok = failure is None
        if failure is not None:
            log.warning("web item '%s': %s: %s; shown as the browser has it, retried at the next reload",
                        self.item.id, self.item.url, failure)
        self._set_ready()

    def _first_load_slow(self) -> None:
        if not self.is_ready:
            log.warning("web item '%s': %s is still loading after %d s", self.item.id, self.item.url,
                        LOAD_TIMEOUT_MS // 1000)
            self._set_ready()

    def start(self) -> None:
        super().start()
        if self._page is not None:
            self._page.show()
        self._arm_reload()

    def _arm_reload(self) -> None:
        if self.item.reload_s > 0:
            self._reload.start(max(1000, int(self.item.reload_s * 1000)))

    def _reload_now(self) -> None:
        if self._page is None:
            return
        if not self._loaded_ok:  # nothing good to keep: reload in place
            self._reloading_in_place = True
            self._page.reload()
            return
        incoming = self._new_view()
        incoming.hide()
        self._incoming = incoming
        incoming.load(QUrl(self.item.url))

    def _reloaded(self, view: Any, failure: str | None) -> None:
        self._incoming = None
        if failure is None:  # swap: the fresh page replaces the old one
            old, self._page = self._page, view
            view.show()
            view.raise_()
            old.hide()
            old.deleteLater()
            if self._reload_failure is not None:
                log.info("web item '%s': %s loads again", self.item.id, self.item.url)
        else:  # keep the last rendered page; one line per kind of failure, not one per reload
            if failure != self._reload_failure:
                log.warning("web item '%s': reloading %s failed (%s); the last page stays", self.item.id,
                            self.item.url, failure)
            view.deleteLater()
        self._reload_failure = failure
        self._arm_reload()

    def resizeEvent(self, _event: object) -> None:  # noqa: N802
        for view in (self._page, self._incoming):
            if view is not None:
                view.setGeometry(self.rect())

    def stop(self) -> None:
        self._reload.stop()
        self._first_timeout.stop()
        for view in (self._page, self._incoming):
            if view is not None:
                view.stop()
                view.deleteLater()
        self._page = self._incoming = None
        super().stop()


def make_web_view(item: WebItem, ctx: RenderContext, parent: QWidget) -> ItemView:
    if web_available():
        return WebView(item, ctx, parent)
    return WebUnavailableView(item, ctx, parent)


VIEW_FACTORIES["web"] = make_web_view  # type: ignore[assignment]
