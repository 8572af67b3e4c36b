"""Web page items (optional extra ``web``: Qt WebEngine from PySide6-Addons).

With the extra installed the page is shown in a ``QWebEngineView``: URL, zoom, reload every ``reload_s`` seconds.
A reload that fails keeps the last rendered page: the reload happens in a second, hidden view that replaces the
visible one only when it loaded successfully (a failed load never replaces a good page by an error page).
Without the extra the zone shows a clear placeholder, and the log says once how to enable it.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QTimer, QUrl
from PySide6.QtWidgets import QWidget

from player.model import WebItem
from player.texts import text
from player.ui.items import VIEW_FACTORIES, ItemView, PlaceholderView, RenderContext

log = logging.getLogger(__name__)

LOAD_TIMEOUT_MS = 20_000  # a first load that takes longer shows what there is (or the page's own error)
ENABLE_HINT = "pip install 'osc-player[web]'"


def _webengine() -> Any:
    """The QtWebEngineWidgets module, or None when the optional extra is not installed."""
    try:
        from PySide6 import QtWebEngineWidgets
    except ImportError:
        return None
    return QtWebEngineWidgets


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
            log.warning("web page items cannot be shown: Qt WebEngine is not installed; a placeholder is shown "
                        "instead. To enable web pages: %s (PySide6-Addons)", ENABLE_HINT)


class WebView(ItemView):
    """A web page. ``ready`` after the first load finished (successfully or not, so the zone never stalls)."""

    item: WebItem

    def __init__(self, item: WebItem, ctx: RenderContext, parent: QWidget):
        super().__init__(item, ctx, parent)
        self._engine_mod = _webengine()
        self._page: Any = None  # the QWebEngineView on screen
        self._incoming: Any = None  # a reload in progress (hidden)
        self._loaded_ok = False
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
        return view

    def prepare(self) -> None:
        self._page = self._new_view()
        self._page.loadFinished.connect(self._first_loaded)
        self._first_timeout.start(LOAD_TIMEOUT_MS)
        self._page.load(QUrl(self.item.url))

    def _first_loaded(self, ok: bool) -> None:
        if self.is_ready:
            return
        self._first_timeout.stop()
        self._loaded_ok = ok
        if not ok:
            log.warning("web item '%s': %s did not load; shown as the browser has it, retried at the next reload",
                        self.item.id, self.item.url)
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
            self._page.reload()
            self._page.loadFinished.connect(self._inplace_loaded)
            return
        incoming = self._new_view()
        incoming.hide()
        self._incoming = incoming
        incoming.loadFinished.connect(lambda ok, v=incoming: self._reloaded(v, ok))
        incoming.load(QUrl(self.item.url))

    def _inplace_loaded(self, ok: bool) -> None:
        self._page.loadFinished.disconnect(self._inplace_loaded)
        self._loaded_ok = ok
        self._arm_reload()

    def _reloaded(self, view: Any, ok: bool) -> None:
        if view is not self._incoming:
            return
        self._incoming = None
        if ok:  # swap: the fresh page replaces the old one
            old, self._page = self._page, view
            view.show()
            view.raise_()
            old.hide()
            old.deleteLater()
        else:  # keep the last rendered page
            log.warning("web item '%s': reloading %s failed; the last page stays", self.item.id, self.item.url)
            view.deleteLater()
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
