"""Sync: source -> validated document -> every file downloaded and verified -> prepared -> snapshot published.

All or nothing: a new snapshot is saved (and handed to ``on_published``) only when every referenced file is in the
cache and verified; a failed sync changes nothing on screen. An unchanged source costs one conditional request and
writes nothing to disk. See docs/sync.md. No Qt in here; callbacks run on the sync thread.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from player.atomic import sweep_orphan_temps, write_json_atomic
from player.cache import ContentCache, is_sha256
from player.clock import Clock, SystemClock
from player.config import Config
from player.content import Content
from player.fetch import NO_ROOM, Downloader, FetchError, FetchRequest, disk_full
from player.layouts import TEMPLATES_DIR, DocumentError, load_screen_dict
from player.prepare import build_resolver, correct_media_kinds, prepare_files
from player.snapshots import Snapshot, SnapshotStore, snapshot_pin
from player.sources.base import MediaSpec, NotModified, SetupNeeded, Source, SourceError, SourceResult

log = logging.getLogger(__name__)

__all__ = ["SYNC_LOCK_FILE", "Content", "SyncOutcome", "SyncProgress", "SyncService", "read_status"]

MIB = 1024 * 1024
PENDING_PIN = "pending"
STATUS_FILE = "sync-status.json"
SOURCE_STATE_FILE = "sync-source.json"
STATUS_REFRESH_S = 3600.0  # volatile status fields (last check, next sync) are rewritten at most this often
PROGRESS_EVERY_S = 0.1
PROGRESS_LOG_EVERY_S = 30.0  # a progress line in the log at every further 10 %, or after this long without one
SYNC_LOCK_FILE = "sync.lock"  # in cache_dir: flock held by the process that syncs or repairs this cache


@dataclass(frozen=True)
class SyncProgress:
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int  # grows while sizes become known; 0 while unknown


@dataclass(frozen=True)
class SyncOutcome:
    """What one sync attempt did. ``result``: published | unchanged | setup | failed | refused | busy
    (another process holds the cache's sync lock; nothing was done)."""

    result: str
    message: str = ""
    snapshot_id: str | None = None
    files: int = 0
    downloaded: int = 0
    bytes_downloaded: int = 0
    seconds: float = 0.0
    lines: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.result in ("published", "unchanged", "setup")


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).isoformat(timespec="seconds")


class SyncService:
    """Orchestrates one screen's sync; thread-safe (one sync at a time). See the module docstring."""

    def __init__(
        self,
        config: Config,
        source: Source,
        cache: ContentCache,
        downloader: Downloader,
        snapshots: SnapshotStore,
        clock: Clock | None = None,
        on_progress: Callable[[SyncProgress], None] | None = None,
        on_published: Callable[[Content], None] | None = None,
        on_error: Callable[[list[str]], None] | None = None,
        on_setup: Callable[[SetupNeeded], None] | None = None,
        *,
        state_dir: Path | None = None,
        templates_dir: Path = TEMPLATES_DIR,
    ) -> None:
        self.config = config
        self.source = source
        self.cache = cache
        self.downloader = downloader
        self.snapshots = snapshots
        self.clock: Clock = clock or SystemClock()
        self.on_progress = on_progress
        self.on_published = on_published
        self.on_error = on_error
        self.on_setup = on_setup
        self.state_dir = Path(state_dir) if state_dir is not None else config.state_dir
        self.templates_dir = templates_dir
        sync_cfg = config["sync"]
        interval = config["hub"]["poll_interval_s"] if config["source"]["type"] == "hub" else sync_cfg["interval_s"]
        self.interval_s = float(interval)
        self.retry_min_s = float(sync_cfg["retry_min_s"])
        self.retry_max_s = float(max(sync_cfg["retry_max_s"], sync_cfg["retry_min_s"]))
        self.next_sync: datetime | None = None
        self.last_outcome: SyncOutcome | None = None
        self.last_outcome_at: datetime | None = None  # when the last attempt ended
        self.last_contact: datetime | None = None  # when the source last answered (document, unchanged or setup)
        self.source_answered = False  # whether the source answered in the last attempt
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop: threading.Event | None = None
        self._last_failure: str | None = None
        self._logged_defects: frozenset[str] = frozenset()
        self._source_state: dict[str, Any] | None = None
        self._status_written: dict[str, Any] | None = None
        self._status_written_at = 0.0
        self._progress_at = 0.0
        self._progress_files = -1
        self._progress_logged_step = 0
        self._progress_logged_at: datetime | None = None
        self._progress_logged_end = False
        self._progress_by_bytes = False
        self._recover_pending = False  # recover() found the cache busy: it runs before the next sync
        self._busy_logged = False
        self._repair = False  # the booted snapshot lacks files: the next sync fetches them although nothing changed
        # pictures or PDF pages of the current snapshot not prepared for want of disk room (and, at start, any made
        # while the player was down): prepared again at the next sync, also when the source is unchanged
        self._prepare_again = True

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_config(cls, config: Config, source: Source | None = None, **kwargs: Any) -> SyncService:
        """Cache, downloader, snapshot store and source built from ``player.toml`` (remote sources only)."""
        from player.sources import make_source

        cache = ContentCache(config.cache_dir, config["cache"]["quota_mb"] * MIB)
        downloader = Downloader(
            cache,
            max_parallel=config["cache"]["parallel_downloads"],
            max_file_bytes=config["cache"]["max_file_mb"] * MIB,
            ca_file=config["cache"]["ca_file"] or None,
        )
        try:
            if source is None:
                source = make_source(config, downloader)
        except BaseException:
            downloader.close()
            cache.close()
            raise
        return cls(config, source, cache, downloader, SnapshotStore(config.cache_dir), **kwargs)

    def close(self) -> None:
        """Abort running downloads and close the cache index (after run_forever returned)."""
        self.downloader.close()
        self.cache.close()

    # ------------------------------------------------------------------ start-up

    @property
    def lock_path(self) -> Path:
        return self.cache.root / SYNC_LOCK_FILE

    def busy_message(self) -> str:
        return (f"another osc-player process (the player service or an 'osc-player sync') is syncing "
                f"{self.cache.root} right now (it holds {self.lock_path}); try again when it is done")

    @contextlib.contextmanager
    def _sync_lock(self) -> Iterator[bool]:
        """Hold the cache's cross-process sync lock (flock on ``cache_dir/sync.lock``) if it is free; yields
        whether we got it. Released when the block ends (and by the kernel if the process dies)."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def recover(self) -> bool:
        """Repair after a crash/power loss (call once at start, before boot): cache consistency, orphaned temp files
        (cache, snapshots, state dir), stale pins. Cheap on purpose: the cached content goes on screen first;
        :meth:`verify_current` re-hashes it afterwards.

        Runs under the cache's sync lock. When another process holds it (it is syncing this cache), nothing of
        that process is touched: the repair is postponed to the next :meth:`sync_once` and False is returned."""
        with self._lock, self._sync_lock() as got:
            if not got:
                self._recover_pending = True
                log.debug("sync: %s; the start-up repair of the cache runs before the next sync", self.busy_message())
                return False
            self._recover_locked()
            return True

    def _recover_locked(self) -> None:
        self._recover_pending = False
        self.cache.check_consistency()
        swept: list[Path] = []
        for directory in {self.state_dir, self.cache.root, self.snapshots.dir}:
            try:
                swept += sweep_orphan_temps(directory)
            except OSError as exc:
                log.warning("sync: cannot clean up temp files in %s: %s", directory, exc)
        if swept:
            log.warning("sync: removed %d temp files left by an interrupted process (%s)", len(swept),
                        ", ".join(p.name for p in swept[:3]))
        retained = self.snapshots.retained_ids()
        pins = self.cache.pin_sets()
        for name in pins:
            if name == PENDING_PIN or (name.startswith("snapshot:") and name[len("snapshot:"):] not in retained):
                self.cache.unpin(name)
        for sid in retained:
            snap = self.snapshots.load(sid)
            if snap is not None and pins.get(snapshot_pin(sid), set()) != snap.shas:
                self.cache.pin(snapshot_pin(sid), snap.shas)

    def boot(self) -> Content | None:
        """The last complete snapshot from disk (no network), or None when there is none yet."""
        snap = self.snapshots.load_current()
        if snap is None:
            return None
        try:
            loaded = load_screen_dict(snap.document, f"snapshot {snap.id}", self.templates_dir, self.config.timezone)
        except DocumentError as exc:
            log.error("sync: snapshot %s is unusable: %s", snap.id, exc.lines[0] if exc.lines else exc)
            return None
        content = Content(loaded.screen, build_resolver(self.cache, loaded.screen, snap.files, snap.id), snap,
                          loaded.defects)
        missing = [ref for ref, path in content.resolver.paths.items()  # refused by content (no media): not missing
                   if path is None and not self.cache.has(snap.files[ref])]
        self._repair = bool(missing)
        if missing:
            log.warning("sync: snapshot %s: %d files not available (%s); they are skipped until the sync "
                        "fetches them again", snap.id, len(missing), ", ".join(sorted(missing)[:3]))
        return content

    def _prepare_current_again(self) -> None:
        """Prepares the current snapshot's pictures and PDF pages again (those made already are found in the cache);
        when any is new, the snapshot is shown again with it. For copies refused for want of disk room: without
        this, an unchanged source never got them, not even after a restart."""
        self._prepare_again = False
        current = self.snapshots.load_current()
        if current is None:
            return
        try:
            loaded = load_screen_dict(current.document, f"snapshot {current.id}", self.templates_dir,
                                      self.config.timezone)
        except DocumentError:
            return  # load_current said so already
        prepared = prepare_files(self.cache, loaded.screen, current.files, should_stop=self._stopping)
        self._prepare_again = bool(prepared.short_of_room)
        if prepared.created and self.on_published is not None:
            log.info("sync: snapshot %s: %d pictures or PDF pages prepared now that there is room", current.id,
                     prepared.created)
            self.on_published(Content(loaded.screen, build_resolver(self.cache, loaded.screen, current.files,
                                                                    current.id), current, loaded.defects))

    def verify_current(self) -> int:
        """Re-hash the current snapshot's files (call after boot, with the content already on screen: on a Pi this
        reads the whole snapshot from the SD card). A damaged file is removed and the next sync fetches it again,
        even when the source says nothing changed. Returns the number of damaged files."""
        current = self.snapshots.load_current()
        damaged = 0
        for sha in sorted(current.shas if current is not None else ()):
            if self.cache.has(sha) and not self.cache.verify(sha):
                damaged += 1
        if damaged:
            self._repair = True
            log.warning("sync: %d cached files of the snapshot on screen were damaged; fetching them again", damaged)
        return damaged

    def mark_on_screen(self, snapshot_id: str) -> list[str]:
        """The UI shows *snapshot_id*: release (unpin) snapshots no longer needed."""
        released = self.snapshots.mark_on_screen(snapshot_id)
        for sid in released:
            self.cache.unpin(snapshot_pin(sid))
        return released

    # ------------------------------------------------------------------ one sync

    def sync_once(self) -> SyncOutcome:
        with self._lock, self._sync_lock() as got:
            started = time.monotonic()
            if not got:  # another process syncs this cache: touch nothing (not even its pending pin)
                return self._busy()
            self._busy_logged = False
            try:
                if self._recover_pending:
                    self._recover_locked()
                outcome = self._sync(started)
            except Exception as exc:  # a bug must not kill the sync thread
                if disk_full(exc):  # the cache index or a snapshot file on a full disk: no bug, one clear line
                    log.debug("sync: disk full: %s", exc)
                    outcome = self._refused(self._disk_full_message())
                else:
                    log.exception("sync: unexpected error")
                    outcome = SyncOutcome("failed", f"unexpected error: {exc!r}",
                                          lines=(f"unexpected error: {exc!r}",))
            finally:
                self.cache.unpin(PENDING_PIN)
            try:
                self.downloader.sweep_tmp()  # abandoned partial downloads and temp files (docs/cache.md)
            except Exception as exc:  # a bug in the sweep must never stop syncing; logged once per kind of error
                if getattr(self, "_sweep_error", None) != repr(exc):
                    self._sweep_error = repr(exc)
                    log.error("sync: sweeping the cache's tmp/ failed (syncing goes on): %r", exc)
            outcome = SyncOutcome(**{**asdict(outcome), "seconds": time.monotonic() - started})
        # after the locks: the error callback may probe the network for seconds (the setup screen says why the
        # hub cannot be reached), and `osc-player sync --once` must not find the cache busy meanwhile
        self._after(outcome)
        return outcome

    def _busy(self) -> SyncOutcome:
        """The outcome while another process holds the sync lock: logged once (info), no error shown, the status
        file (the other process's) left alone."""
        message = self.busy_message()
        if not self._busy_logged:
            log.info("sync: %s", message)
            self._busy_logged = True
        return SyncOutcome("busy", message, lines=(message,))

    def _sync(self, started: float) -> SyncOutcome:
        self.source_answered = False
        previous = self._previous_state()
        try:
            answer = self.source.fetch(previous)
        except SourceError as exc:
            return self._failed(exc.lines)
        except FetchError as exc:
            return self._failed([str(exc)])
        except OSError as exc:
            return self._failed([f"{self.source.name}: {exc}"])
        self.source_answered = True
        self.last_contact = self.clock.now()
        if isinstance(answer, NotModified):
            if answer.state is not None and answer.state != previous:
                self._save_source_state(self.snapshots.current_id(), answer.state)
            if self._prepare_again:
                self._prepare_current_again()
            log.debug("sync: %s unchanged", self.source.name)
            return SyncOutcome("unchanged", snapshot_id=self.snapshots.current_id())
        if answer.setup is not None:
            log.info("sync: %s: screen not configured yet (%s)", self.source.name, answer.setup.message or "setup")
            if self.on_setup is not None:
                self.on_setup(answer.setup)
            return SyncOutcome("setup", answer.setup.message)
        return self._sync_document(answer, started)

    def _sync_document(self, answer: SourceResult, started: float) -> SyncOutcome:
        try:
            loaded = load_screen_dict(answer.document, self.source.name, self.templates_dir, self.config.timezone)
        except DocumentError as exc:
            return self._failed([*exc.lines, "the current content stays on screen"])
        screen = loaded.screen
        defects = list(loaded.defects)
        wanted: dict[str, MediaSpec] = {}
        for ref in sorted(screen.media_refs()):
            spec = answer.media.get(ref)
            if spec is None:
                defects.append(f"{self.source.name}: media '{ref[:200]}' has no (allowed) download address; "
                               "it is not shown")
            else:
                wanted[ref] = spec
        known = {s.sha256.lower() for s in wanted.values() if s.sha256 and is_sha256(s.sha256)}
        self.cache.pin(PENDING_PIN, known)
        missing_bytes = sum(s.size or 0 for s in wanted.values()
                            if s.sha256 and is_sha256(s.sha256) and not self.cache.has(s.sha256))
        space = self.cache.ensure_space(missing_bytes)
        if not space:
            return self._refused(f"snapshot refused: {space.reason}; the current content stays on screen")
        log.info("sync: %s changed; checking %d files", self.source.name, len(wanted))
        requests = [FetchRequest(s.url, s.sha256.lower() if s.sha256 else None, s.size) for s in wanted.values()]
        self._progress_files = -1
        self._progress_logged_step = 0
        self._progress_logged_at = self.clock.now()
        self._progress_logged_end = False
        self._progress_by_bytes = all(s.size for s in wanted.values())  # else the byte total grows while it runs
        results = self.downloader.fetch_many(requests, progress=self._progress)
        errors = [r for r in results.values() if isinstance(r, FetchError)]
        if errors:
            room = sorted((e for e in errors if e.problem.startswith(NO_ROOM)), key=lambda e: e.url)
            if room:  # announced too large before any byte was written; the first by address: one line per incident
                return self._refused(f"snapshot refused: {room[0]}; the current content stays on screen")
            disk = [e for e in errors if e.problem.startswith("disk full")]
            if disk:
                log.debug("sync: disk full: %s", disk[0])
                return self._refused(self._disk_full_message())
            full = [e for e in errors if e.problem.startswith("cache full")]
            if full:
                return self._refused(f"snapshot refused: it does not fit the cache quota of "
                                     f"{self.cache.quota_bytes // MIB} MB ({full[0]}); the current content stays")
            head = f"sync failed: {len(errors)} of {len(results)} files could not be downloaded; " \
                   "the current content stays on screen"
            return self._failed([head, *(str(e) for e in errors[:5])])
        files: dict[str, str] = {}
        downloaded = 0
        nbytes = 0
        for ref, spec in wanted.items():
            res = results[spec.url]
            assert not isinstance(res, FetchError)
            files[ref] = res.sha
            if not res.from_cache:
                downloaded += 1
                nbytes += res.size
        gone = [ref for ref, sha in files.items() if not self.cache.has(sha)]
        if gone:
            return self._refused(f"snapshot refused: it does not fit the cache quota of "
                                 f"{self.cache.quota_bytes // MIB} MB ({len(gone)} files were evicted while "
                                 "downloading); the current content stays")
        kinds = correct_media_kinds(self.cache, answer.document, screen, files)  # by content, not by name
        defects.extend(f"{self.source.name}: media {line}" for line in kinds.lines)
        if kinds.document is not None:
            answer = replace(answer, document=kinds.document)
            screen = load_screen_dict(kinds.document, self.source.name, self.templates_dir,
                                      self.config.timezone).screen
        current = self.snapshots.load_current()
        if current is not None and current.document == answer.document and current.files == files:
            self._save_source_state(current.id, answer.state)
            self._log_defects(defects)
            if self._repair:  # files the booted snapshot lacked are back: show it complete
                self._repair = False
                log.info("sync: snapshot %s is complete again (%d files fetched again)", current.id, downloaded)
                if self.on_published is not None:
                    self.on_published(Content(screen, build_resolver(self.cache, screen, files, current.id),
                                              current, defects))
            elif self._prepare_again:
                self._prepare_current_again()
            log.info("sync: content unchanged (%d files, %d downloaded) in %.1f s", len(files), downloaded,
                     time.monotonic() - started)
            return SyncOutcome("unchanged", snapshot_id=current.id, files=len(files), downloaded=downloaded,
                               bytes_downloaded=nbytes)
        snap = Snapshot.new(answer.document, files, source=self.source.name, clock=self.clock.now)
        self.cache.pin(snapshot_pin(snap.id), snap.shas)
        try:
            prepared = prepare_files(self.cache, screen, files, should_stop=self._stopping)
            self._prepare_again = bool(prepared.short_of_room)
            defects.extend(f"{self.source.name}: media {line}" for line in prepared.refused.values())
            if self._stopping():
                self.cache.unpin(snapshot_pin(snap.id))
                return self._failed(["sync interrupted (stopping)"])
            if any(not self.cache.has(sha) for sha in files.values()):
                self.cache.unpin(snapshot_pin(snap.id))
                return self._refused("snapshot refused: files vanished from the cache before publishing; will retry")
            released = self.snapshots.save(snap)
        except BaseException:  # not published (a full disk while saving it...): its pin would hold the files till a restart
            self.cache.unpin(snapshot_pin(snap.id))
            raise
        self._repair = False
        for sid in released:
            self.cache.unpin(snapshot_pin(sid))
        self._save_source_state(snap.id, answer.state)
        self._log_defects(defects)
        log.info("sync: published snapshot %s: %d files (%d downloaded, %.1f MB; %d prepared) in %.1f s",
                 snap.id, len(files), downloaded, nbytes / MIB, prepared.created, time.monotonic() - started)
        if self.on_published is not None:
            content = Content(screen, build_resolver(self.cache, screen, files, snap.id), snap, defects)
            self.on_published(content)
        return SyncOutcome("published", snapshot_id=snap.id, files=len(files), downloaded=downloaded,
                           bytes_downloaded=nbytes)

    def _failed(self, lines: list[str]) -> SyncOutcome:
        return SyncOutcome("failed", lines[0] if lines else "sync failed", lines=tuple(lines))

    def _disk_full_message(self) -> str:
        # one wording for the incident, wherever the disk ran full (download, index, snapshot): logged once
        return (f"snapshot refused: the disk of the cache ({self.cache.root}) is full; "
                "the current content stays on screen")

    def _refused(self, message: str) -> SyncOutcome:
        return SyncOutcome("refused", message, lines=(message,))

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def _log_defects(self, defects: list[str]) -> None:
        key = frozenset(defects)
        if key != self._logged_defects:
            for line in defects:
                log.warning("%s", line)
            self._logged_defects = key

    def _progress(self, files_done: int, files_total: int, bytes_done: int, bytes_total: int) -> None:
        self._log_progress(files_done, files_total, bytes_done, bytes_total)
        if self.on_progress is None:
            return
        now = time.monotonic()
        if files_done == self._progress_files and files_done != files_total and now - self._progress_at < PROGRESS_EVERY_S:
            return
        self._progress_at = now
        self._progress_files = files_done
        self.on_progress(SyncProgress(files_done, files_total, bytes_done, bytes_total))

    def _log_progress(self, files_done: int, files_total: int, bytes_done: int, bytes_total: int) -> None:
        """A progress line at info level at every further 10 % (of the bytes when the source gave every size, else
        of the files), or when PROGRESS_LOG_EVERY_S passed without one (a big file on a slow line), and at the end."""
        if self._progress_by_bytes and bytes_total:
            frac = bytes_done / bytes_total
        else:
            frac = files_done / files_total if files_total else 1.0
        step = int(min(1.0, max(0.0, frac)) * 10)
        end = files_done >= files_total
        now = self.clock.now()
        last = self._progress_logged_at
        due = step > self._progress_logged_step or (end and not self._progress_logged_end) or (
            last is not None and (now - last).total_seconds() >= PROGRESS_LOG_EVERY_S)
        if not due:
            return
        self._progress_logged_step = max(step, self._progress_logged_step)
        self._progress_logged_at = now
        self._progress_logged_end = end
        log.info("sync: %d/%d files, %.1f/%.1f MB (%d %%)", files_done, files_total, bytes_done / MIB,
                 bytes_total / MIB, int(min(1.0, frac) * 100))

    def _after(self, outcome: SyncOutcome) -> None:
        self.last_outcome = outcome
        self.last_outcome_at = self.clock.now()
        if outcome.ok:
            if self._last_failure is not None:
                log.info("sync: working again (%s)", outcome.result)
            self._last_failure = None
        else:
            if outcome.message != self._last_failure:  # one line per incident, not per attempt
                for line in outcome.lines or (outcome.message,):
                    log.error("%s", line)
            else:
                log.debug("sync: still failing: %s", outcome.message)
            self._last_failure = outcome.message
            if self.on_error is not None:
                self.on_error(list(outcome.lines or (outcome.message,)))

    # ------------------------------------------------------------------ loop

    def retry_delay(self, failures: int) -> float:
        """Exponential backoff with jitter (half fixed, half random) after *failures* failed attempts."""
        base = min(self.retry_max_s, self.retry_min_s * (2 ** max(0, failures - 1)))
        return base / 2 + random.uniform(0, base / 2)

    def run_forever(self, stop_event: threading.Event) -> None:
        """Sync now, then every ``interval_s``; after failures retry with backoff. Returns when stopped
        (call :meth:`stop` or set *stop_event* and :meth:`wake`)."""
        self._stop = stop_event
        failures = 0
        while not stop_event.is_set():
            self._wake.clear()
            outcome = self.sync_once()
            if stop_event.is_set():
                break
            if outcome.result == "busy":  # the other process syncs this cache: look again soon, no failure
                self._wake.wait(self.retry_min_s)
                continue
            failures = 0 if outcome.ok else failures + 1
            delay = self.interval_s if outcome.ok else self.retry_delay(failures)
            self.next_sync = self.clock.now() + timedelta(seconds=delay)
            self.write_status()
            self._wake.wait(delay)

    def wake(self) -> None:
        """Sync as soon as possible (``run_forever`` stops waiting)."""
        self._wake.set()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
        self._wake.set()
        self.downloader.close()

    # ------------------------------------------------------------------ status and persisted state

    def _previous_state(self) -> dict[str, Any] | None:
        if self._source_state is None:
            try:
                data = json.loads((self.state_dir / SOURCE_STATE_FILE).read_text(encoding="utf-8"))
                self._source_state = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._source_state = {}
        data = self._source_state
        if (self._repair or data.get("snapshot_id") is None or data.get("snapshot_id") != self.snapshots.current_id()
                or data.get("source") != self.source.name or not isinstance(data.get("state"), dict)):
            return None
        return data["state"]

    def _save_source_state(self, snapshot_id: str | None, state: dict[str, Any]) -> None:
        data = {"snapshot_id": snapshot_id, "source": self.source.name, "state": state}
        if data == self._source_state:
            return
        try:
            write_json_atomic(self.state_dir / SOURCE_STATE_FILE, data)
        except (OSError, TypeError, ValueError) as exc:
            log.error("sync: cannot save the source state to %s: %s", self.state_dir, exc)
            return
        self._source_state = data

    def write_status(self, force: bool = False) -> bool:
        """Persist the status for ``osc-player status`` when it changed (volatile parts at most hourly)."""
        o = self.last_outcome
        stable: dict[str, Any] = {
            "source": self.source.name,
            "last_sync": None if o is None else {
                "result": o.result, "message": o.message, "snapshot_id": o.snapshot_id,
            },
        }
        if self._status_written is None:
            try:
                loaded = json.loads((self.state_dir / STATUS_FILE).read_text(encoding="utf-8"))
                self._status_written = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self._status_written = {}
            self._status_written_at = time.monotonic()
        prev = self._status_written
        same = {k: prev.get(k) for k in stable} == stable
        now = time.monotonic()
        if same and not force and now - self._status_written_at < STATUS_REFRESH_S:
            return False
        at = prev.get("last_sync_at") if same else _iso(self.clock.now())
        data = {**stable, "last_sync_at": at, "last_checked": _iso(self.clock.now()),
                "next_sync": _iso(self.next_sync), "interval_s": self.interval_s}
        if o is not None and o.ok:
            data["last_success"] = _iso(self.clock.now())
        elif "last_success" in prev:
            data["last_success"] = prev["last_success"]
        try:
            write_json_atomic(self.state_dir / STATUS_FILE, data)
        except OSError as exc:
            log.error("sync: cannot write the status to %s: %s", self.state_dir, exc)
            return False
        self._status_written = data
        self._status_written_at = now
        return True


def read_status(config: Config) -> dict[str, Any]:
    """Status for ``osc-player status``: published snapshot and cache size (read live, without writing), plus the
    last sync result persisted by the running player or ``osc-player sync``."""
    out: dict[str, Any] = {"source": {"type": config["source"]["type"]}}
    snap_dir = config.cache_dir / "snapshots"
    snapshot: dict[str, Any] | None = None
    if snap_dir.is_dir():
        store = SnapshotStore(config.cache_dir)
        snap = store.load_current()
        if snap is not None:
            snapshot = {"id": snap.id, "created": _iso(snap.created), "source": snap.source, "files": len(snap.files)}
        out["on_screen"] = store.on_screen_id()
    out["snapshot"] = snapshot
    index = config.cache_dir / "index.sqlite"
    cache: dict[str, Any] = {"bytes": 0, "files": 0, "quota_bytes": config["cache"]["quota_mb"] * MIB}
    if index.exists():
        try:
            db = sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=5)
            try:
                total, count = db.execute("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM files").fetchone()
            finally:
                db.close()
            cache.update(bytes=int(total), files=int(count))
        except sqlite3.Error as exc:
            cache["error"] = f"{index}: {exc}"
    out["cache"] = cache
    try:
        persisted = json.loads((config.state_dir / STATUS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        persisted = {}
    except (OSError, ValueError) as exc:
        persisted = {"error": f"{config.state_dir / STATUS_FILE}: {exc}"}
    if isinstance(persisted, dict):
        if "source" in persisted:
            out["source"]["name"] = persisted.pop("source")
        out.update(persisted)
    out.setdefault("last_sync", None)
    out.setdefault("next_sync", None)
    return out
