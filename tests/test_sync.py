"""SyncService against a real HTTP server on 127.0.0.1 with injected faults: all or nothing, cheap re-syncs."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from player.cache import ContentCache
from player.config import Config, load_config
from player.fetch import Downloader
from player.snapshots import SnapshotStore, snapshot_pin
from player.sources.base import MediaSpec, SourceResult
from player.sources.http import HttpSource
from player.sync import STATUS_FILE, Content, SyncProgress, SyncService, read_status

try:
    from tests.httpfaults import FaultServer
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from httpfaults import FaultServer  # type: ignore[no-redef]


def png(color: tuple[int, int, int], size: tuple[int, int] = (64, 36)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


RED = png((255, 0, 0))
GREEN = png((0, 255, 0))
BLUE = png((0, 0, 255))
BIG = bytes(range(256)) * 2000  # 512000 bytes: many chunks, room for faults mid-file


def noise_png(seed: int, side: int = 420) -> bytes:
    """A real picture of random pixels (~530 KB: many chunks, room for faults mid-file)."""
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), random.Random(seed).randbytes(side * side * 3)).save(buf, "PNG")
    return buf.getvalue()


NOISE = noise_png(1)


def screen_doc(srcs: list[str], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    items = [{"type": "image", "src": s, "duration": 5} for s in srcs]
    doc = {"version": 1, "name": "Test", "layouts": {"main": {
        "width": 1920, "height": 1080, "background": "#000000",
        "zones": [{"id": "z", "x": 0, "y": 0, "width": 1920, "height": 1080, "items": items}]}}}
    doc.update(extra or {})
    return doc


def write_config(tmp: Path, url: str = "http://127.0.0.1:9/screen.json", **sections: dict[str, Any]) -> Config:
    values: dict[str, dict[str, Any]] = {
        "player": {"state_dir": str(tmp / "state"), "cache_dir": str(tmp / "cache")},
        "source": {"type": "http", "url": url},
        "sync": {"interval_s": 60, "retry_min_s": 1, "retry_max_s": 8},
    }
    for name, body in sections.items():
        values.setdefault(name, {}).update(body)
    lines = []
    for name, body in values.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in body.items()]
    path = tmp / "player.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = load_config(path, env={})
    assert config.problems == ()
    return config


@dataclass
class Env:
    srv: FaultServer
    tmp: Path
    config: Config
    cache: ContentCache
    dl: Downloader
    store: SnapshotStore
    service: SyncService
    published: list[Content]
    errors: list[list[str]]
    progress: list[SyncProgress]

    def publish_doc(self, doc: dict[str, Any]) -> None:
        self.srv.set_file("/s/screen.json", json.dumps(doc).encode(), "application/json")

    def media_requests(self) -> list[tuple[str, int]]:
        return [(r.path, r.status) for r in self.srv.records if r.path != "/s/screen.json"]

    def doc_requests(self) -> list[int]:
        return [r.status for r in self.srv.records if r.path == "/s/screen.json"]

    def reset_records(self) -> None:
        self.srv._state.records.clear()
        self.srv._state.arrivals.clear()

    def close(self) -> None:
        self.dl.close()
        self.cache.close()


def make_env(srv: FaultServer, tmp: Path, quota: int = 50_000_000, timeout: tuple[float, float] = (5, 10),
             **sections: dict[str, Any]) -> Env:
    config = write_config(tmp, srv.url("/s/screen.json"), **sections)
    cache = ContentCache(config.cache_dir, quota)
    dl = Downloader(cache, retries=2, backoff_base=0.001, backoff_max=0.01, timeout=timeout)
    store = SnapshotStore(config.cache_dir)
    source = HttpSource(config["source"]["url"], dl, allowed_hosts=config["source"]["allowed_hosts"])
    published: list[Content] = []
    errors: list[list[str]] = []
    progress: list[SyncProgress] = []
    service = SyncService(config, source, cache, dl, store, on_progress=progress.append,
                          on_published=published.append, on_error=errors.append)
    return Env(srv, tmp, config, cache, dl, store, service, published, errors, progress)


@pytest.fixture
def srv() -> Iterator[FaultServer]:
    files = {"/s/media/red.png": RED, "/s/media/green.png": GREEN, "/s/media/blue.png": BLUE, "/s/big.bin": BIG,
             "/s/noise.png": NOISE}
    with FaultServer(files) as server:
        server.set_file("/s/screen.json", json.dumps(screen_doc(["media/red.png", "media/green.png"])).encode(),
                        "application/json")
        yield server


@pytest.fixture
def env(srv: FaultServer, tmp_path: Path) -> Iterator[Env]:
    e = make_env(srv, tmp_path)
    yield e
    e.close()


def cache_state(e: Env) -> dict[str, float]:
    """mtime of every file below the cache and state dirs except the SQLite files (what a sync would rewrite)."""
    out = {}
    for root in (e.config.cache_dir, e.config.state_dir):
        for p in root.rglob("*"):
            if p.is_file() and not p.name.startswith("index.sqlite"):
                out[str(p)] = p.stat().st_mtime_ns
    return out


# ---------------------------------------------------------------------------------------------------------------

def test_first_sync_publishes_snapshot_with_every_file(env: Env) -> None:
    outcome = env.service.sync_once()
    assert outcome.result == "published" and outcome.files == 2 and outcome.downloaded == 2
    snap = env.store.load_current()
    assert snap is not None and snap.id == outcome.snapshot_id
    assert snap.files == {"media/red.png": sha(RED), "media/green.png": sha(GREEN)}
    assert env.cache.pin_sets()[snapshot_pin(snap.id)] == {sha(RED), sha(GREEN)}
    assert len(env.published) == 1
    resolver = env.published[0].resolver
    assert resolver("media/red.png") is not None and resolver("media/red.png").read_bytes() == RED
    assert env.progress and env.progress[-1].files_done == env.progress[-1].files_total == 2


def test_unchanged_source_costs_one_conditional_request_and_writes_nothing(env: Env) -> None:
    assert env.service.sync_once().result == "published"
    env.service.write_status()
    env.reset_records()
    before = cache_state(env)
    for _ in range(3):
        outcome = env.service.sync_once()
        assert outcome.result == "unchanged"
        env.service.write_status()
    assert env.doc_requests() == [304, 304, 304]
    assert env.media_requests() == []
    assert env.srv.records[0].headers.get("if-none-match")
    assert len(env.published) == 1
    assert cache_state(env) == {k: v for k, v in cache_state(env).items() if k in before}
    after = cache_state(env)
    changed = [k for k in after if after[k] != before.get(k)]
    # the status file changes once (published -> unchanged); nothing else is written
    assert [Path(k).name for k in changed] == [STATUS_FILE]


def test_restart_then_unchanged_still_one_request(env: Env, tmp_path: Path) -> None:
    assert env.service.sync_once().result == "published"
    env.close()
    env2 = make_env(env.srv, tmp_path)
    try:
        env2.service.recover()
        env2.reset_records()
        assert env2.service.sync_once().result == "unchanged"
        assert env2.doc_requests() == [304] and env2.media_requests() == []
    finally:
        env2.close()


def test_document_etag_change_with_same_bytes_downloads_nothing(env: Env) -> None:
    env.service.sync_once()
    env.reset_records()
    env.srv.change_etag("/s/screen.json")
    assert env.service.sync_once().result == "unchanged"
    assert env.doc_requests() == [200] and env.media_requests() == []
    env.reset_records()
    assert env.service.sync_once().result == "unchanged"
    assert env.doc_requests() == [304]


def test_changed_document_revalidates_media_and_downloads_only_new(env: Env) -> None:
    first = env.service.sync_once()
    env.reset_records()
    env.publish_doc(screen_doc(["media/red.png", "media/green.png", "media/blue.png"]))
    env.srv.change_etag("/s/media/green.png")  # same bytes, new ETag: downloaded again, same hash
    outcome = env.service.sync_once()
    assert outcome.result == "published" and outcome.snapshot_id != first.snapshot_id
    reqs = sorted(env.media_requests())
    assert reqs == [("/s/media/blue.png", 200), ("/s/media/green.png", 200), ("/s/media/red.png", 304)]
    # the old snapshot is still retained until the new one is on screen
    assert first.snapshot_id in env.store.retained_ids()
    env.service.mark_on_screen(outcome.snapshot_id)
    env.publish_doc(screen_doc(["media/blue.png"]))
    third = env.service.sync_once()
    released = env.service.mark_on_screen(third.snapshot_id)
    assert first.snapshot_id in released or first.snapshot_id not in env.store.ids()
    assert snapshot_pin(first.snapshot_id) not in env.cache.pin_sets()


def test_dropped_connection_mid_file_resumes(env: Env) -> None:
    env.publish_doc(screen_doc(["noise.png"]))
    env.srv.fault("/s/noise.png", drop_after=100_000, times=1)
    outcome = env.service.sync_once()
    assert outcome.result == "published"
    reqs = env.srv.requests_for("/s/noise.png")
    assert [r.status for r in reqs] == [200, 206]
    assert reqs[1].headers["range"] == "bytes=100000-"
    assert env.cache.read_bytes(env.store.load_current().files["noise.png"]) == NOISE


def test_wrong_content_length_is_rejected_and_refetched(env: Env) -> None:
    env.publish_doc(screen_doc(["noise.png"]))
    env.srv.fault("/s/noise.png", content_length=len(NOISE) + 5000, times=1)
    assert env.service.sync_once().result == "published"
    assert env.cache.read_bytes(env.store.load_current().files["noise.png"]) == NOISE


def test_500s_are_retried_within_one_sync(env: Env) -> None:
    env.srv.fault("/s/media/red.png", fail_next=2)
    assert env.service.sync_once().result == "published"
    assert env.srv.count("/s/media/red.png", status=500) == 2


def test_one_failing_file_means_no_new_snapshot_and_one_log_line(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    first = env.service.sync_once()
    env.publish_doc(screen_doc(["media/red.png", "media/blue.png"]))
    env.srv.fault("/s/media/blue.png", fail_next=1000)
    caplog.set_level(logging.INFO, logger="player.sync")
    caplog.clear()
    for _ in range(3):
        outcome = env.service.sync_once()
        assert outcome.result == "failed" and not outcome.ok
    assert env.store.current_id() == first.snapshot_id
    assert env.store.ids() == [first.snapshot_id]
    assert len(env.published) == 1
    errors = [r for r in caplog.records if r.name == "player.sync" and r.levelno >= logging.ERROR]
    assert errors and all("blue.png" in r.getMessage() or "could not be downloaded" in r.getMessage() for r in errors)
    heads = [r for r in errors if "could not be downloaded" in r.getMessage()]
    assert len(heads) == 1, [r.getMessage() for r in errors]  # one incident, three attempts: logged once
    assert len(env.errors) == 3  # but the UI hears about every failed attempt
    env.srv.clear_faults()
    assert env.service.sync_once().result == "published"
    assert any("working again" in r.getMessage() for r in caplog.records)


def test_slow_response_beyond_read_timeout_fails_and_keeps_old(srv: FaultServer, tmp_path: Path) -> None:
    e = make_env(srv, tmp_path, timeout=(2, 0.3))
    try:
        first = e.service.sync_once()
        assert first.result == "published"
        e.publish_doc(screen_doc(["big.bin"]))
        e.srv.fault("/s/big.bin", delay=1.0)
        outcome = e.service.sync_once()
        assert outcome.result == "failed" and "timed out" in " ".join(outcome.lines)
        assert e.store.current_id() == first.snapshot_id
    finally:
        e.srv.release()
        e.close()


def test_slow_but_steady_response_completes(env: Env) -> None:
    env.publish_doc(screen_doc(["big.bin"]))
    env.srv.fault("/s/big.bin", delay=0.005)
    assert env.service.sync_once().result == "published"


@pytest.mark.parametrize("ref", ["../../etc/passwd", "media/../../../etc/passwd", "media/%2e%2e/%2e%2e/x",
                                 "file:///etc/passwd", "http://evil.example.org/x.png", "/etc/passwd"])
def test_hostile_references_are_refused_and_the_rest_plays(env: Env, ref: str,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    env.publish_doc(screen_doc(["media/red.png", ref]))
    caplog.set_level(logging.WARNING)
    outcome = env.service.sync_once()
    assert outcome.result == "published"
    snap = env.store.load_current()
    assert snap.files == {"media/red.png": sha(RED)}
    assert all("passwd" not in r.path and "evil" not in r.path for r in env.srv.records)
    assert any(ref[:20] in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]
    assert env.published[-1].resolver(ref) is None
    for p in env.config.cache_dir.rglob("*"):
        assert p.resolve().is_relative_to(env.config.cache_dir.resolve())


def test_other_host_allowed_when_listed(srv: FaultServer, tmp_path: Path) -> None:
    e = make_env(srv, tmp_path, source={"allowed_hosts": ["localhost"]})
    try:
        other = f"http://localhost:{srv.port}/s/media/blue.png"
        e.publish_doc(screen_doc([other]))
        assert e.service.sync_once().result == "published"
        assert e.store.load_current().files == {other: sha(BLUE)}
    finally:
        e.close()


def test_snapshot_that_does_not_fit_the_quota_is_refused_and_old_stays(srv: FaultServer, tmp_path: Path) -> None:
    e = make_env(srv, tmp_path, quota=len(BIG) + 2 * len(RED))
    try:
        first = e.service.sync_once()
        assert first.result == "published"
        srv.set_file("/s/big2.bin", BIG[::-1])
        e.publish_doc(screen_doc(["media/red.png", "big.bin", "big2.bin"]))
        outcome = e.service.sync_once()
        assert outcome.result == "refused"
        assert "does not fit the cache quota" in outcome.message and "current content stays" in outcome.message
        assert e.store.current_id() == first.snapshot_id
        snap = e.store.load_current()
        assert all(e.cache.has(s) for s in snap.files.values())  # the old snapshot's files were not evicted
    finally:
        e.close()


class HashSource:
    """A source that knows hashes and sizes up front (like the hub)."""

    name = "hash-source"

    def __init__(self, srv: FaultServer, files: dict[str, bytes]) -> None:
        self.srv = srv
        self.files = files

    def fetch(self, previous: dict[str, Any] | None) -> SourceResult:
        media = {f"media/{n}": MediaSpec(self.srv.url(f"/s/{n}"), sha(d), len(d)) for n, d in self.files.items()}
        return SourceResult(screen_doc(list(media)), media, {"v": 1})


def test_known_sizes_are_refused_before_any_download(srv: FaultServer, tmp_path: Path) -> None:
    config = write_config(tmp_path, srv.url("/s/screen.json"))
    cache = ContentCache(config.cache_dir, 3 * len(BIG) // 2)
    dl = Downloader(cache, retries=0)
    store = SnapshotStore(config.cache_dir)
    srv.set_file("/s/a.bin", BIG)
    srv.set_file("/s/b.bin", BIG[::-1])
    try:
        service = SyncService(config, HashSource(srv, {"a.bin": BIG, "b.bin": BIG[::-1]}), cache, dl, store)
        outcome = service.sync_once()
        assert outcome.result == "refused" and "quota" in outcome.message
        assert srv.records == []  # nothing was downloaded in vain
        # with hashes known and cached, a re-sync makes no media requests at all
        service.source = HashSource(srv, {"a.bin": BIG})
        assert service.sync_once().result == "published"
        n = len(srv.records)
        service.source.files = {"a.bin": BIG}
        assert service.sync_once().result == "unchanged" and len(srv.records) == n
    finally:
        dl.close()
        cache.close()


def test_boot_shows_last_snapshot_without_network(env: Env, tmp_path: Path) -> None:
    env.service.sync_once()
    env.srv.stop()
    env.close()
    e2 = make_env(env.srv, tmp_path)
    try:
        e2.service.recover()
        content = e2.service.boot()
        assert content is not None and content.snapshot is not None
        assert content.resolver("media/green.png").read_bytes() == GREEN
        assert e2.service.sync_once().result == "failed"  # server gone: the snapshot stays
        assert e2.store.current_id() == content.snapshot.id
    finally:
        e2.close()


def test_document_errors_fail_the_sync_and_keep_old(env: Env) -> None:
    first = env.service.sync_once()
    env.srv.set_file("/s/screen.json", b"{not json", "application/json")
    outcome = env.service.sync_once()
    assert outcome.result == "failed" and "not valid JSON" in outcome.message
    env.publish_doc({"version": 1, "layouts": {}})
    outcome = env.service.sync_once()
    assert outcome.result == "failed" and outcome.message.startswith(env.service.source.name)
    assert env.store.current_id() == first.snapshot_id


def test_status_is_persisted_only_when_it_changes(env: Env) -> None:
    env.service.sync_once()
    assert env.service.write_status() is True
    assert env.service.write_status() is False
    env.service.sync_once()  # unchanged
    assert env.service.write_status() is True  # published -> unchanged
    assert env.service.write_status() is False
    status = read_status(env.config)
    assert status["snapshot"]["id"] == env.store.current_id()
    assert status["cache"]["files"] >= 3 and status["cache"]["bytes"] > 0
    assert status["last_sync"]["result"] == "unchanged"
    json.dumps(status)


def test_backoff_grows_with_jitter_and_is_capped(env: Env) -> None:
    delays = [[env.service.retry_delay(n) for _ in range(50)] for n in (1, 2, 3, 4, 10)]
    for n, ds in zip((1, 2, 3, 4, 10), delays, strict=True):
        base = min(8.0, 1.0 * 2 ** (n - 1))
        assert all(base / 2 <= d <= base for d in ds)
        assert len(set(ds)) > 1  # jitter


def test_recover_drops_stale_pins(env: Env) -> None:
    env.service.sync_once()
    env.cache.pin("pending", [sha(BLUE)])
    env.cache.pin(snapshot_pin("20200101T000000Z-dead00"), [sha(BLUE)])
    env.service.recover()
    assert set(env.cache.pin_sets()) == {snapshot_pin(env.store.current_id())}


def _progress_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "player.sync" and r.levelno == logging.INFO and " files, " in r.getMessage()]


def test_progress_is_logged_at_every_tenth_and_at_the_end(srv: FaultServer, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    names = [f"p{i}.png" for i in range(20)]
    for i, name in enumerate(names):
        srv.set_file(f"/s/{name}", png((i * 12, 255 - i * 12, 7)))
    env = make_env(srv, tmp_path)
    try:
        env.publish_doc(screen_doc(names))
        with caplog.at_level(logging.INFO, logger="player.sync"):
            assert env.service.sync_once().result == "published"
        lines = _progress_lines(caplog)
        assert 2 <= len(lines) <= 11, lines  # at most one per 10 % plus the end
        assert lines[-1].startswith("sync: 20/20 files, ") and lines[-1].endswith("(100 %)")
        percents = [int(line.rsplit("(", 1)[1].split()[0]) for line in lines]
        assert percents == sorted(percents)
        assert all(b - a >= 10 for a, b in zip(percents[:-2], percents[1:-1], strict=True)), percents
    finally:
        env.close()


def test_progress_is_logged_after_30_s_without_a_line(srv: FaultServer, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    from player.clock import FakeClock

    names = [f"q{i}.png" for i in range(20)]
    for i, name in enumerate(names):
        srv.set_file(f"/s/{name}", png((7, i * 12, 255 - i * 12)))
    env = make_env(srv, tmp_path)
    clock = FakeClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    env.service.clock = clock
    env.service.on_progress = lambda p: clock.advance(31)  # every progress report comes 31 s after the last
    try:
        env.publish_doc(screen_doc(names))
        with caplog.at_level(logging.INFO, logger="player.sync"):
            assert env.service.sync_once().result == "published"
        assert len(_progress_lines(caplog)) >= 19  # a line per file (each one took "31 s"), not per 10 %
    finally:
        env.close()


# ------------------------------------------------------------------------------------ the quota taken by pinned content
def test_a_copy_for_the_screen_that_does_not_fit_the_quota_does_not_stop_the_sync(srv: FaultServer,
                                                                                   tmp_path: Path) -> None:
    """The quota holds the originals but not a picture's copy scaled for its zone: before, the CacheFullError escaped
    the preparation, the sync failed with a traceback every time (never publishing) and left a pin behind each
    time. Now the picture plays from its original and the snapshot is published."""
    import io
    import random

    from PIL import Image

    buf = io.BytesIO()
    Image.frombytes("RGB", (1000, 1000), random.Random(1).randbytes(3_000_000)).save(buf, "PNG")
    big = buf.getvalue()
    doc = screen_doc(["big.png"])
    doc["layouts"]["main"]["zones"][0].update(width=640, height=360)
    body = json.dumps(doc).encode()
    srv.set_file("/s/big.png", big)
    srv.set_file("/s/screen.json", body, "application/json")
    e = make_env(srv, tmp_path, quota=len(big) + len(body) + 1000)
    try:
        outcomes = [e.service.sync_once() for _ in range(2)]
        assert [o.result for o in outcomes] == ["published", "unchanged"], outcomes
        assert e.published[-1].resolver("big.png") == e.cache.path_of(e.published[-1].snapshot.files["big.png"])
        assert len([name for name in e.cache.pin_sets() if name.startswith("snapshot:")]) == 1
    finally:
        e.close()


def test_a_new_document_is_read_although_the_content_on_screen_fills_the_quota(srv: FaultServer,
                                                                                tmp_path: Path) -> None:
    """The snapshot on screen (pinned) fills the quota; the new screen.json does not fit into the cache beside it.
    Before, every sync failed on caching the document and the screen kept the old content for good; the new
    content (a smaller picture) fits once the old is released."""
    doc1 = json.dumps(screen_doc(["noise.png"])).encode()
    doc2 = json.dumps(screen_doc(["red.png"], {"name": "Rathaus " + "x" * 2000})).encode()
    srv.set_file("/s/noise.png", NOISE)
    srv.set_file("/s/red.png", RED)
    srv.set_file("/s/screen.json", doc1, "application/json")
    e = make_env(srv, tmp_path, quota=len(NOISE) + len(doc1) + 500)
    try:
        first = e.service.sync_once()
        assert first.result == "published"
        e.service.mark_on_screen(first.snapshot_id)
        srv.set_file("/s/screen.json", doc2, "application/json")
        second = e.service.sync_once()
        assert second.result == "published", second
        assert e.published[-1].screen.layouts["main"].zones[0].items[0].src == "red.png"
    finally:
        e.close()
