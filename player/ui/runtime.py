"""Content at run time: boot from the last snapshot, then keep syncing, all off the GUI thread.

``ContentController`` owns one background thread. For a remote source (``http``, ``hub``) it repairs the cache,
boots from the last complete snapshot (no network), then runs :class:`player.sync.SyncService` forever. For a
folder source it reads and validates ``screen.json`` off the GUI thread and re-reads it when it changes.
Results reach the GUI thread through queued Qt signals::

    published(screen, resolver)   a snapshot to show; resolver(ref) -> Path | None (no I/O), resolver.snapshot_id
    progress(done, total)         files of the running sync
    setup_needed(SetupInfo)       nothing to show yet (first sync, with progress), the hub says "not configured",
                                  or a sync failed while nothing was ever shown (the setup screen names the network
                                  state instead of an error screen)
    failed(lines)                 a sync or the document failed; the current content stays (one line per problem)

After the window shows a published snapshot, call ``mark_on_screen(resolver.snapshot_id)``: the previous snapshot
is released only then. :func:`attach_content` wires all of this to a ``PlayerWindow``.
"""

from __future__ import annotations

import errno
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from PySide6.QtCore import QObject, Signal, Slot

from player.config import Config
from player.content import Content, MediaResolver
from player.layouts import DocumentError
from player.model import Screen
from player.sources import folder_copy
from player.sources.base import SetupNeeded, SourceError
from player.sources.folder import FolderSource, folder_media, known_pdf_digest, same_pdf
from player.sources.folder_copy import FolderCopy, Stamp, file_stamp, mark_in_use, referenced_files
from player.texts import text
from player.ui.items import load_view_module
from player.ui.screens import SetupInfo

if TYPE_CHECKING:
    from player.sync import SyncProgress, SyncService
    from player.ui.window import PlayerWindow

log = logging.getLogger(__name__)

__all__ = ["ContentController", "attach_content"]

FOLDER_CHECK_S = 5.0  # how often a folder source's screen.json and files are checked for changes (one stat each)
COPY_RETRY_MIN_S = 60.0  # a failed copy of a folder source is tried again after this, doubling up to
COPY_RETRY_MAX_S = 600.0
MIB = 1024 * 1024
_HTTP_STATUS = re.compile(r"HTTP (\d{3})")


def format_mb(done: int, total: int, locale: str) -> tuple[str, str]:
    """Bytes as MB for the setup screen: one decimal below 10 MB (German decimal comma), else whole MB."""
    digits = 1 if total < 10 * MIB else 0
    mark = text("decimal_mark", locale)
    return tuple(f"{n / MIB:.{digits}f}".replace(".", mark) for n in (done, total))  # type: ignore[return-value]


def network_problem(lines: list[str], url: str, locale: str, hub: bool) -> str:
    """(Background thread) a short network state for the setup screen from a failed sync's first line:
    "kein Netz" when this device has no route at all, else "Hub nicht erreichbar (<reason>)". When the line does not
    say why, it tries: a name look-up and a TCP connection to the host (a few seconds at most)."""
    line = (lines[0] if lines else "").lower()
    status = _HTTP_STATUS.search(lines[0] if lines else "")
    if status is not None and status.group(1).startswith("5"):
        reason = text("reason_server", locale, status=status.group(1))
    elif status is not None:
        code = status.group(1)
        key = "reason_login" if code in ("401", "403") else "reason_http"
        return text("network_error", locale, reason=text(key, locale, status=code))
    elif "no answer in time" in line or "timed out" in line or "timeout" in line:
        reason = text("reason_timeout", locale)
    elif "certificate" in line or "ssl" in line:
        reason = text("reason_tls", locale)
    else:
        reach = _reachability(url)
        if reach == "no-net":
            return text("network_no_net", locale)
        if reach is None:  # the host answers: the trouble is in what it says (translation, a broken answer)
            return text("network_error", locale, reason=text("reason_other", locale))
        reason = text({"name": "reason_name", "refused": "reason_refused", "timeout": "reason_timeout"}.get(
            reach or "", "reason_refused" if "refused" in line else "reason_other"), locale)
    return text("network_hub_down" if hub else "network_server_down", locale, reason=reason)


def _reachability(url: str, timeout: float = 3.0) -> str | None:
    """Why the host of *url* cannot be reached, found out by trying: "no-net" (no route at all, or the name cannot
    be looked up and there is no default route either), "name" (unknown name), "refused", "timeout"; None when a
    TCP connection can be opened (the problem is elsewhere). Blocks up to *timeout* seconds per address."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    if not host:
        return None
    import socket  # loaded on first use, only once the hub cannot be reached

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return "name" if _has_route() else "no-net"
    except OSError:
        return None
    found: str | None = None
    for _family, _kind, _proto, _name, address in infos[:2]:
        ip, ip_port = address[0], address[1]
        if not isinstance(ip, str) or not isinstance(ip_port, int):
            continue  # not an IP address (getaddrinfo of a TCP port answers IPv4 and IPv6 only)
        try:
            with socket.create_connection((ip, ip_port), timeout=timeout):
                return None
        except ConnectionRefusedError:
            return "refused"
        except TimeoutError:
            found = "timeout"
        except OSError as exc:
            if exc.errno == errno.ENETUNREACH and found in (None, "no-net"):
                found = "no-net"
            elif found != "timeout":
                found = "other"
    return found


def _has_route() -> bool:
    import socket

    for family, address in ((socket.AF_INET, ("192.0.2.1", 9)), (socket.AF_INET6, ("2001:db8::1", 9))):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect(address)  # documentation addresses: only the routing table is asked
            return True
        except OSError:
            continue
    return False


def preload_views(screen: Screen) -> None:
    """On this (background) thread: import what the new content's item kinds and feeds need, so the GUI thread
    does not stall on loading libvlc or the feed machinery when it builds the content."""
    for kind in screen.item_kinds() - {"web"}:  # Qt WebEngine wants the GUI thread
        try:
            load_view_module(kind)
        except Exception as exc:  # noqa: BLE001 - the GUI thread tries again and shows a placeholder
            log.warning("could not load the display for '%s' items: %s", kind, exc)
    warns = False
    if screen.feeds:
        from player.ui.live import WARNING_FEED_TYPES  # the feed machinery: loaded here for the feeds anyway

        # a warnings feed may put a warning widget on screen at any time (SevereWarnings in player/ui/live.py)
        warns = any(isinstance(conf, dict) and conf.get("type") in WARNING_FEED_TYPES for conf in screen.feeds.values())
    if "widget" in screen.item_kinds() or warns:
        try:
            load_view_module("widget")
            from player.ui.widgets import preload_widget_views

            preload_widget_views(screen.layouts.values(), ("warnings",) if warns else ())
        except Exception as exc:  # noqa: BLE001 - as above: the GUI thread tries again
            log.warning("could not load the display for widget items: %s", exc)


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
        self._needed: SetupNeeded | None = None  # the source's last "not configured" answer
        self._device: str | None = None
        self.snapshot_id: str | None = None
        self.files: dict[str, str] = {}  # media reference -> SHA-256 of the snapshot on screen (and the one before)
        self._shown_files: dict[str, str] = {}
        self.change_listeners: list[Callable[[], None]] = []  # told when the source pushes a command (or reconnects)
        self.screen_listeners: list[Callable[[str], None]] = []  # told the hub's (new) objectId of this screen
        self._folder_state: _FolderState | None = None  # the folder being copied (content thread only)

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

    def status_fields(self) -> dict[str, Any]:
        """``cacheBytes`` and ``lastSync`` for the hub's status row. Reads the cache index: call it off the GUI
        thread (the reporting worker does)."""
        service = self.service
        if service is None:
            return {}
        fields: dict[str, Any] = {"cacheBytes": service.cache.stats().bytes}
        outcome, at = service.last_outcome, service.last_outcome_at
        if outcome is not None:
            last: dict[str, Any] = {"ok": outcome.ok, "result": outcome.result, "message": outcome.message}
            if at is not None:
                last["at"] = at.astimezone(UTC).isoformat(timespec="seconds")
            if outcome.snapshot_id:
                last["snapshotId"] = outcome.snapshot_id
            if service.last_contact is not None:
                last["lastContact"] = service.last_contact.astimezone(UTC).isoformat(timespec="seconds")
            fields["lastSync"] = last
        return fields

    def hash_of(self, ref: str) -> str | None:
        """SHA-256 of the cached file behind a media reference of the content on screen (no I/O; any thread)."""
        return self.files.get(ref)

    # ------------------------------------------------------------------ background thread

    def _guarded(self, target: object) -> None:
        try:
            target()  # type: ignore[operator]
        except Exception as exc:  # a bug must not vanish silently in a thread
            log.exception("content: background thread failed")
            self.failed.emit([f"content loading failed: {exc!r}"])

    def _publish(self, content: Content) -> None:
        preload_views(content.screen)
        from player.ui.window import plausible_floor

        # the window distrusts a clock before this: snapshot creation / last successful sync (reads a small file)
        self.clock_floor = plausible_floor(content.snapshot.created if content.snapshot is not None else None,
                                           self.config.state_dir if self.service is not None else None)
        self._has_content = True
        self.snapshot_id = content.snapshot.id if content.snapshot is not None else None
        if content.snapshot is not None:
            # the new snapshot's files and the previous one's (plays that began before the switch end after it);
            # one dict replaced at once: readers on other threads see the old or the new map, never a half
            self.files = {**self._shown_files, **content.snapshot.files}
            self._shown_files = dict(content.snapshot.files)
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
        service.on_error = self._on_error
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
        at the hub's own interval. A pushed command for this screen wakes only the change listeners (the command
        poll), not the sync."""
        getattr(service.source, "screen_listeners", []).append(lambda oid: [f(oid) for f in self.screen_listeners])
        watch = getattr(service.source, "watch", None)
        if watch is None:
            return None
        def command() -> None:
            for listener in list(self.change_listeners):
                listener()

        try:
            return watch(service.wake, command)
        except Exception as exc:  # noqa: BLE001 - push is optional; polling still works
            log.warning("change notifications from the source are off: %s", exc)
            return None

    def _on_progress(self, p: SyncProgress) -> None:
        self.progress.emit(p.files_done, p.files_total)
        if not self._has_content:
            self.setup_needed.emit(self._setup_info(None, p))

    def _on_setup(self, needed: SetupNeeded) -> None:
        if self._has_content:
            log.warning("content: the source says this screen is not configured (%s); the current content stays",
                        needed.message or "setup")
            return
        self._needed = needed
        self.setup_needed.emit(self._setup_info(needed))

    def _on_error(self, lines: list[str]) -> None:
        if self._has_content:
            self.failed.emit(lines)
            return
        # nothing was ever shown: the setup screen stays and says why (no network, hub down, ...), not an error
        self.setup_needed.emit(self._setup_info(self._needed, failure=lines))

    def _device_id(self) -> str:
        """(Background thread) the id the hub knows this screen by; created once for a hub source."""
        if self._device is None:
            from player.identity import device_id, read_device_id

            try:
                hub = self.config["source"]["type"] == "hub"
                self._device = (device_id if hub else read_device_id)(self.config.state_dir) or ""
            except OSError as exc:
                log.error("content: cannot read or create the device id in %s: %s", self.config.state_dir, exc)
                self._device = ""
        return self._device

    def _source_url(self) -> str:
        source = self.config["source"]
        return str(self.config["hub"]["url"] if source["type"] == "hub" else source.get("url") or "")

    def _network(self, locale: str, failure: list[str] | None) -> str:
        service = self.service
        if failure is not None and not (service is not None and service.source_answered):
            return network_problem(failure, self._source_url(), locale, self.config["source"]["type"] == "hub")
        if service is None or (service.last_outcome is None and not service.source_answered):
            return text("network_checking", locale)
        return text("network_up", locale)

    def _contact(self, locale: str) -> str:
        when: datetime | None = getattr(self.service, "last_contact", None)
        if when is None:
            return text("setup_contact_never", locale)
        try:
            local = when.astimezone(ZoneInfo(self.config.timezone))
        except (KeyError, ValueError):
            local = when.astimezone()
        return text("contact_time", locale, d=local.day, m=local.month, y=local.year, H=local.hour, M=local.minute)

    def _setup_info(self, needed: SetupNeeded | None, progress: SyncProgress | None = None,
                    failure: list[str] | None = None) -> SetupInfo:
        """(Background thread) what the setup screen shows; loads the QR encoder it draws the screen id with."""
        load_view_module("qr")
        locale = self.config["player"]["locale"]
        hub = self.config["source"]["type"] == "hub"
        needed = needed or self._needed
        screen_id = (needed.screen_id if needed else "") or self._device_id()
        name = (needed.screen_name if needed else "") or self.config["player"]["screen_name"]
        if not name and hub and screen_id:
            from player.sources.names import screen_name

            name = screen_name(screen_id)  # the name this screen registers with
        info = SetupInfo(screen_name=name, screen_id=screen_id, hub_url=self.config["hub"]["url"] if hub else "",
                         network=self._network(locale, failure), last_contact=self._contact(locale))
        if needed is not None:
            message = needed.message.removesuffix(f" Hub: {info.hub_url}") if info.hub_url else needed.message
            info.detail = message or text("setup_waiting", locale)
        if progress is not None:
            info.progress = (progress.files_done, progress.files_total)
            if progress.bytes_total > 0:
                info.progress_bytes = (min(progress.bytes_done, progress.bytes_total), progress.bytes_total)
                mb_done, mb_total = format_mb(*info.progress_bytes, locale)
                info.detail = text("setup_sync_bytes", locale, done=progress.files_done,
                                   total=progress.files_total, mb_done=mb_done, mb_total=mb_total)
            else:
                info.detail = text("setup_sync", locale, done=progress.files_done, total=progress.files_total)
        if failure:
            line = " ".join(failure[0].split())
            info.lines = [text("setup_problem", locale, line=line if len(line) <= 160 else line[:159] + "…")]
        return info

    def _run_folder(self) -> None:
        assert self.folder is not None
        source = FolderSource(self.folder, timezone=self.config.timezone)
        seen_doc: object = None
        force = True  # the first pass loads (a folder missing at start included); sync_now() loads again
        marked: float | None = None
        while not self._stop.is_set():
            try:
                doc = file_stamp(source.document_path)
                if not force and doc != seen_doc and source.same_document(doc):  # chmod, xattrs: not loaded again
                    seen_doc = doc
                    if self._folder_state is not None:  # the copy takes the document with its new stamp
                        self._folder_state.doc_stamp = doc
                if force or doc != seen_doc:
                    seen_doc = doc  # taken before the load: a document saved during it is loaded next time
                    self._load_folder(source, doc)
                else:
                    self._check_folder_files()
                if marked is None or time.monotonic() - marked >= folder_copy.IN_USE_MARK_S:
                    mark_in_use(Path(self.config.cache_dir), source.root)  # played from the folder or its copy
                    marked = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - the folder must stay watched whatever one pass meets
                log.error("folder source %s: %s: %s", self.folder, type(exc).__name__, exc)
            force = self._wake.wait(FOLDER_CHECK_S)
            self._wake.clear()

    def _check_folder_files(self) -> None:
        """Every FOLDER_CHECK_S: the size and time of every file the document uses. A file that changed and has
        stayed the same for two checks (no upload under way; FAT keeps times to 2 s, so its time must be older
        than that) is copied again without rebuilding the screen: the views read the new copy the next time their
        item comes up. A file that appeared or went away, or a changed PDF (its page is rendered at load), loads
        the document again; a PDF whose stamp changed with its size, time and checksum the same (chmod, extended
        attributes) does not. A copy that failed is tried again after 1, 2, 4 ... 10 minutes."""
        state = self._folder_state
        if state is None:
            return
        now_s = time.time()
        now = {ref: _stamp(state.source, state.files, ref) for ref in state.watched}
        changed = {ref for ref, stamp in now.items() if stamp != state.seen.get(ref)}
        # (within 2 s of the clock only: a Pi without a clock battery may run hours behind the files' times)
        settled = {ref for ref, stamp in now.items() if ref in changed and state.pending.get(ref) == stamp
                   and (stamp is None or abs(now_s - stamp[1] / 1e9) > 2.0)}
        state.pending = {ref: now[ref] for ref in changed - settled}
        if any(now[ref] is None or state.seen.get(ref) is None or (ref.lower().endswith(".pdf") and not same_pdf(
                state.files[ref] or state.source.root / ref, state.seen.get(ref), state.pdf_digests.get(ref)))
               for ref in settled):
            self._load_folder(state.source, file_stamp(state.source.document_path))
            return
        state.seen.update({ref: now[ref] for ref in settled})
        if settled or (state.retry_at is not None and time.monotonic() >= state.retry_at):
            self._copy_folder(state)

    def _copy_folder(self, state: _FolderState) -> None:
        """Brings the copy up to date (files still changing are left for later); one line when it fails, again
        only when the line changes, and a retry with backoff."""
        # the files found at load: one appearing or going away loads the document again (_check_folder_files)
        files = {ref: path for ref, path in state.files.items() if ref not in state.pending}
        problems = state.copy.update(files, state.use_copy, self._stop, state.doc_stamp, finish=not state.pending)
        if self._stop.is_set():
            return
        if problems or (not state.pending and not state.copy.complete
                        and file_stamp(state.source.document_path) == state.doc_stamp):
            line = problems[0] if problems else f"{state.copy.root}: the copy is not complete yet"
            if line != state.last_problem:
                log.warning("%s (tried again in %.0f min at the latest)", line, COPY_RETRY_MAX_S / 60)
                state.last_problem = line
            state.retry_s = min(max(state.retry_s * 2, COPY_RETRY_MIN_S), COPY_RETRY_MAX_S)
            state.retry_at = time.monotonic() + state.retry_s
        else:
            state.retry_at, state.retry_s, state.last_problem = None, 0.0, None

    def _load_folder(self, source: FolderSource, doc_stamp: Stamp | None = None) -> None:
        copy = self._folder_copy(source)
        self._folder_state = None
        content_dir: Path | list[Path] = source.root  # the sample feeds read their files from here
        try:
            loaded = source.load()
        except (DocumentError, OSError) as exc:
            lines = exc.lines if isinstance(exc, DocumentError) else [f"{source.document_path}: {exc.strerror or exc}"]
            # at start, a folder that cannot be read (stick not plugged in, share not mounted) or whose document is
            # broken (half saved when the power went): its copy, the last document that loaded, with its files
            kept = copy.source_of_copy() if copy is not None and not self._has_content else None
            from_copy = None
            if kept is not None:
                try:
                    from_copy = kept.load()
                except (DocumentError, OSError) as exc2:
                    log.error("%s: the copy cannot be read either: %s", kept.root, exc2)
            for line in lines[:-1]:
                log.error("%s", line)
            if from_copy is None or kept is None:
                log.error("%s", lines[-1])
                self.failed.emit(list(lines))
                return
            loaded = from_copy
            log.error("%s; showing the copy kept in %s until the folder's document loads", lines[-1], kept.root)
            # the folder first: once the stick is back the running sample feeds (kept: same feeds) read it again
            content_dir = [source.root, kept.root]
            source, copy = kept, None
        for line in loaded.defects:
            log.warning("%s", line)
        resolver, problems = folder_media(source, loaded.screen, Path(self.config.cache_dir))
        for line in problems:
            log.error("%s", line)
        resolver.content_dir = content_dir
        if copy is None:
            self._publish(Content(loaded.screen, resolver, None, loaded.defects))
            return
        files = referenced_files(source, loaded.screen)
        media = set(loaded.screen.media_refs())
        # pictures and videos; not PDFs, which show a rendered page
        own = {ref for ref in media if not ref.lower().endswith(".pdf") and resolver(ref) == files.get(ref)}

        def use_copy(ref: str, path: Path) -> None:  # one dict item at a time: the GUI thread reads old or new
            if ref in own:
                resolver.paths[ref] = path

        for ref, path in copy.ready(files).items():
            use_copy(ref, path)
        for ref in own:  # named by the document but not readable now (a failing stick): the copy, if there is one
            target = copy.target(ref) if files.get(ref) is None else None
            if target is not None and target.is_file():
                use_copy(ref, target)
        samples = {ref: path for ref, path in files.items() if ref not in media}
        if samples:  # small files, copied before the feeds start: they read the folder, else the copy
            copy.update(samples, lambda _ref, _path: None, self._stop, finish=False)
            resolver.content_dir = [source.root, copy.root]
        watched = tuple(ref for ref in files if copy.target(ref) is not None)
        state = _FolderState(source, copy, files, use_copy, doc_stamp, watched,
                             seen={ref: _stamp(source, files, ref) for ref in watched})
        state.pdf_digests = {ref: digest for ref, path in files.items() if ref.lower().endswith(".pdf") and path
                             and (digest := known_pdf_digest(path, state.seen.get(ref))) is not None}
        self._folder_state = state
        self._publish(Content(loaded.screen, resolver, None, loaded.defects))
        self._copy_folder(state)

    def _folder_copy(self, source: FolderSource) -> FolderCopy | None:
        """The copy kept of this folder (player/sources/folder_copy.py); none for the built-in demo, which is part
        of the installation."""
        from player.ui.app import DEMO_DIR

        if source.root.resolve() == DEMO_DIR:
            return None
        return FolderCopy(source, Path(self.config.cache_dir), self.config["cache"]["quota_mb"] * 1024 * 1024)


@dataclass
class _FolderState:
    """What the content thread needs to keep copying a loaded folder (content thread only)."""

    source: FolderSource
    copy: FolderCopy
    files: dict[str, Path | None]  # ref -> file, every file the loaded document uses (referenced_files)
    use_copy: Callable[[str, Path], None]
    doc_stamp: Stamp | None
    watched: tuple[str, ...]  # the references checked every FOLDER_CHECK_S
    seen: dict[str, Stamp | None] = field(default_factory=dict)  # stamps already acted on
    pending: dict[str, Stamp | None] = field(default_factory=dict)  # changed, waiting to settle
    pdf_digests: dict[str, str] = field(default_factory=dict)  # PDF -> checksum its page was rendered from
    retry_at: float | None = None
    retry_s: float = 0.0
    last_problem: str | None = None



def _stamp(source: FolderSource, files: dict[str, Path | None], ref: str) -> Stamp | None:
    """The stamp of the file *ref* names: by its plain name, else where the load found it (a name a Mac wrote
    in another Unicode form: FolderSource.resolve), so that a change to it is seen as well."""
    stamp = file_stamp(source.root / ref)
    found = files.get(ref)
    return stamp if stamp is not None or found is None else file_stamp(found)

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
            attach_feeds(self.window, screen, self.controller.config,
                         content_dir=resolver.content_dir or self.controller.folder,
                         client=client)
        # the newest snapshot's floor, not the highest ever: a sync made while the clock ran fast must not keep
        # the window distrusting a corrected clock once newer content arrives
        self.window.clock_floor = self.controller.clock_floor
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
