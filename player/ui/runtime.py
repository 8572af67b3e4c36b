"""Content at run time: boot from the last snapshot, then keep syncing, all off the GUI thread.

``ContentController`` owns one background thread. For a remote source (``http``, ``hub``) it repairs the cache,
boots from the last complete snapshot (no network), then runs :class:`player.sync.SyncService` forever. For a
folder source it reads and validates ``screen.json`` off the GUI thread and re-reads it when it changes.
Results reach the GUI thread through queued Qt signals::

    published(screen, resolver)   a snapshot to show; resolver(ref) -> Path | None (no I/O), resolver.snapshot_id
    progress(done, total)         files of the running sync
    setup_needed(SetupInfo)       nothing to show yet (first sync, with progress) or the hub says "not configured"
    failed(lines)                 a sync or the document failed; the current content stays (one line per problem)

After the window shows a published snapshot, call ``mark_on_screen(resolver.snapshot_id)``: the previous snapshot
is released only then. :func:`attach_content` wires all of this to a ``PlayerWindow``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal, Slot

from player.config import Config
from player.content import Content, MediaResolver
from player.layouts import DocumentError
from player.model import Screen
from player.sources.base import SetupNeeded, SourceError
from player.sources.folder import FolderSource
from player.texts import text
from player.ui.items import load_view_module
from player.ui.screens import SetupInfo

if TYPE_CHECKING:
    from player.sync import SyncProgress, SyncService
    from player.ui.window import PlayerWindow

log = logging.getLogger(__name__)

__all__ = ["ContentController", "attach_content"]

FOLDER_CHECK_S = 5.0  # how often a folder source's screen.json is checked for changes (one stat call)


def preload_views(screen: Screen) -> None:
    """On this (background) thread: import what the new content's item kinds and feeds need, so the GUI thread
    does not stall on loading libvlc or the feed machinery when it builds the content."""
    for kind in screen.item_kinds() - {"web"}:  # Qt WebEngine wants the GUI thread
        try:
            load_view_module(kind)
        except Exception as exc:  # noqa: BLE001 - the GUI thread tries again and shows a placeholder
            log.warning("could not load the display for '%s' items: %s", kind, exc)
    if screen.feeds:
        import player.ui.live  # noqa: F401


class ContentController(QObject):
    published = Signal(object, object)  # Screen, MediaResolver
    progress = Signal(int, int)  # files done, files total
    setup_needed = Signal(object)  # SetupInfo
    failed = Signal(list)  # list[str]

    def __init__(self, config: Config, folder: Path | None = None, parent: QObject | None = None,
                 service: SyncService | None = None) -> None:
        """*folder*: play this folder (source type ``folder``); None: the source configured in ``[source]``.
        *service*: a ready SyncService (tests); by default built from *config* on the background thread."""
        super().__init__(parent)
        self.config = config
        self.folder = folder
        self.service = service
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._marks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="osc-mark")
        self._has_content = False
        self.snapshot_id: str | None = None
        self.change_listeners: list[Callable[[], None]] = []  # also told when the source pushes a change

    # ------------------------------------------------------------------ public API (GUI thread)

    def start(self) -> None:
        if self._thread is not None:
            return
        target = self._run_folder if self.folder is not None else self._run_sync
        self._thread = threading.Thread(target=self._guarded, args=(target,), name="osc-content", daemon=True)
        self._thread.start()

    def sync_now(self) -> None:
        """Sync (or re-read the folder) as soon as possible."""
        self._wake.set()
        if self.service is not None:
            self.service.wake()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop syncing (running downloads are aborted; partial files are kept for resuming)."""
        self._stop.set()
        self._wake.set()
        if self.service is not None:
            self.service.stop()
        if self._thread is not None:
            self._thread.join(timeout)
        self._marks.shutdown(wait=True)

    def mark_on_screen(self, snapshot_id: str | None) -> None:
        """The window shows *snapshot_id*: release older snapshots (disk I/O on a worker thread)."""
        if snapshot_id is None or self.service is None:
            return
        service = self.service

        def mark() -> None:
            try:
                service.mark_on_screen(snapshot_id)
            except Exception as exc:  # noqa: BLE001 - never let bookkeeping break the screen
                log.error("sync: cannot record snapshot %s as on screen: %s", snapshot_id, exc)

        try:
            self._marks.submit(mark)
        except RuntimeError:  # stopped
            pass

    # ------------------------------------------------------------------ background thread

    def _guarded(self, target: object) -> None:
        try:
            target()  # type: ignore[operator]
        except Exception as exc:  # a bug must not vanish silently in a thread
            log.exception("content: background thread failed")
            self.failed.emit([f"content loading failed: {exc!r}"])

    def _publish(self, content: Content) -> None:
        preload_views(content.screen)
        self._has_content = True
        self.snapshot_id = content.snapshot.id if content.snapshot is not None else None
        self.published.emit(content.screen, content.resolver)

    def _run_sync(self) -> None:
        if self.service is None:
            from player.sync import (
                SyncService,  # only remote sources need the HTTP client and the cache index
            )

            try:
                self.service = SyncService.from_config(self.config)
            except SourceError as exc:
                for line in exc.lines:
                    log.error("%s", line)
                self.failed.emit(exc.lines)
                return
        service = self.service
        watcher = self._watch_source(service)
        service.on_published = self._publish
        service.on_progress = self._on_progress
        service.on_error = self.failed.emit
        service.on_setup = self._on_setup
        try:
            service.recover()
            booted = service.boot()
            if booted is not None:
                log.info("content: showing snapshot %s from the cache", booted.snapshot.id if booted.snapshot else "-")
                self._publish(booted)
            else:
                self.setup_needed.emit(self._setup_info(None))
            if not self._stop.is_set():
                service.verify_current()  # with the content already on screen
                service.run_forever(self._stop)
        finally:
            if watcher is not None:
                watcher.stop()
            service.close()

    def _watch_source(self, service: SyncService) -> Any:
        """Sources that can push changes (the hub's LiveQuery) wake the sync at once; polling stays as safety net
        at the hub's own interval."""
        watch = getattr(service.source, "watch", None)
        if watch is None:
            return None
        def changed() -> None:
            service.wake()
            for listener in list(self.change_listeners):
                listener()

        try:
            return watch(changed)
        except Exception as exc:  # noqa: BLE001 - push is optional; polling still works
            log.warning("change notifications from the source are off: %s", exc)
            return None

    def _on_progress(self, p: SyncProgress) -> None:
        self.progress.emit(p.files_done, p.files_total)
        if not self._has_content:
            self.setup_needed.emit(self._setup_info(None, (p.files_done, p.files_total)))

    def _on_setup(self, needed: SetupNeeded) -> None:
        if self._has_content:
            log.warning("content: the source says this screen is not configured (%s); the current content stays",
                        needed.message or "setup")
            return
        self.setup_needed.emit(self._setup_info(needed))

    def _setup_info(self, needed: SetupNeeded | None, progress: tuple[int, int] | None = None) -> SetupInfo:
        """(Background thread) what the setup screen shows; loads the QR encoder it draws the screen id with."""
        load_view_module("qr")
        locale = self.config["player"]["locale"]
        info = SetupInfo(screen_name=(needed.screen_name if needed else "") or self.config["player"]["screen_name"],
                         screen_id=needed.screen_id if needed else "",
                         hub_url=self.config["hub"]["url"] if self.config["source"]["type"] == "hub" else "")
        if needed is not None:
            info.detail = needed.message or text("setup_waiting", locale)
        if progress is not None:
            info.progress = progress
            info.detail = text("setup_sync", locale, done=progress[0], total=progress[1])
        return info

    def _run_folder(self) -> None:
        assert self.folder is not None
        source = FolderSource(self.folder, timezone=self.config.timezone)
        seen: tuple[float, int] | None = None
        while not self._stop.is_set():
            try:
                st = source.document_path.stat()
                stamp: tuple[float, int] | None = (st.st_mtime, st.st_size)
            except OSError:
                stamp = None
            if stamp != seen or self._wake.is_set():
                seen = stamp
                self._load_folder(source)
            self._wake.wait(FOLDER_CHECK_S)
            self._wake.clear()

    def _load_folder(self, source: FolderSource) -> None:
        try:
            loaded = source.load()
        except DocumentError as exc:
            for line in exc.lines:
                log.error("%s", line)
            self.failed.emit(list(exc.lines))
            return
        except OSError as exc:
            line = f"{source.document_path}: {exc.strerror or exc}"
            log.error("%s", line)
            self.failed.emit([line])
            return
        for line in loaded.defects:
            log.warning("%s", line)
        resolver = MediaResolver({ref: source.resolve(ref) for ref in loaded.screen.media_refs()})
        self._publish(Content(loaded.screen, resolver, None, loaded.defects))


class _WindowLink(QObject):
    """Receives the controller's signals on the GUI thread (a QObject receiver makes the connections queued)."""

    def __init__(self, window: PlayerWindow, controller: ContentController) -> None:
        super().__init__(window)
        self.window = window
        self.controller = controller

    @Slot(object, object)
    def show(self, screen: Screen, resolver: MediaResolver) -> None:
        # feeds first, so the widgets of the new content find their data when they are built; hub feeds
        # (departures, weather, ...) ask the same hub the content came from
        if screen.feeds or "feeds" in self.window.ctx.extras:
            from player.ui.live import attach_feeds

            client = getattr(getattr(self.controller.service, "source", None), "client", None)
            attach_feeds(self.window, screen, self.controller.config, content_dir=self.controller.folder,
                         client=client)
        self.window.show_screen(screen, resolver)
        self.controller.mark_on_screen(getattr(resolver, "snapshot_id", None))

    @Slot(object)
    def setup(self, info: SetupInfo) -> None:
        if self.window.screen_model is None:
            self.window.show_setup(info)

    @Slot(list)
    def failed(self, lines: list[str]) -> None:
        self.window.show_error(lines)


def attach_content(window: PlayerWindow, config: Config, folder: Path | None = None) -> ContentController:
    """A started ContentController whose results go to *window* (GUI thread, queued signals).
    Call ``controller.stop()`` before the application exits."""
    controller = ContentController(config, folder=folder, parent=window)
    link = _WindowLink(window, controller)
    controller.published.connect(link.show)
    controller.setup_needed.connect(link.setup)
    controller.failed.connect(link.failed)
    controller.start()
    return controller
