"""SnapshotStore: atomic publish, fallback on corruption, retention until the new one is on screen."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from player.cache import ContentCache
from player.snapshots import Snapshot, SnapshotError, SnapshotStore, snapshot_pin

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def snap(n: int, files: dict[str, str] | None = None) -> Snapshot:
    return Snapshot(
        id=f"s{n}",
        created=T0 + timedelta(minutes=n),
        document={"layouts": [{"name": f"layout {n}"}]},
        files=files if files is not None else {f"img{n}.png": sha(bytes([n]))},
        source="folder:/srv/demo",
    )


def test_round_trip(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    assert store.load_current() is None
    s = Snapshot.new({"k": "ä"}, {"a.png": sha(b"a").upper()}, "hub:https://hub.example",
                     clock=lambda: datetime(2025, 1, 2, 13, 0, tzinfo=timezone(timedelta(hours=1))))
    assert s.id.startswith("20250102T120000Z-")
    store.save(s)
    loaded = SnapshotStore(tmp_path).load_current()
    assert loaded == s
    assert loaded.created.utcoffset() == timedelta(0)
    assert loaded.files == {"a.png": sha(b"a")}
    assert (tmp_path / "snapshots" / "current").read_text().strip() == s.id


@pytest.mark.parametrize(
    "kwargs",
    [
        {"id": "../../etc/passwd"},
        {"id": "a/b"},
        {"id": ""},
        {"created": datetime(2025, 1, 1)},
        {"files": {"x.png": "../../etc/passwd"}},
        {"document": ["not", "a", "dict"]},
    ],
)
def test_invalid_snapshots_are_refused(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {"id": "ok", "created": T0, "document": {}, "files": {}, "source": "x"}
    with pytest.raises(SnapshotError):
        Snapshot(**{**base, **kwargs})  # type: ignore[arg-type]


def test_corrupt_current_falls_back_to_previous(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SnapshotStore(tmp_path)
    store.save(snap(1))
    store.mark_on_screen("s1")
    store.save(snap(2))
    path = tmp_path / "snapshots" / "s2.json"
    path.write_text(path.read_text()[:40])  # torn write (e.g. copied by hand, disk error)
    with caplog.at_level(logging.WARNING, logger="player.snapshots"):
        loaded = store.load_current()
    assert loaded is not None and loaded.id == "s1"
    messages = [r.getMessage() for r in caplog.records]
    assert any("s2.json is corrupt" in m for m in messages)
    assert all("\n" not in m for m in messages)


def test_missing_pointer_uses_newest_complete_snapshot(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    store.save(snap(1))
    store.save(snap(2))
    (tmp_path / "snapshots" / "current").unlink()
    (tmp_path / "snapshots" / "s3.json").write_text("{")
    assert store.load_current().id == "s2"  # type: ignore[union-attr]


def test_previous_is_released_only_after_new_one_is_on_screen(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path, keep=2)
    assert store.save(snap(1)) == []
    assert store.mark_on_screen("s1") == []
    assert store.save(snap(2)) == []
    assert store.save(snap(3)) == ["s2"], "s2 was never shown; s1 (on screen) must stay"
    assert store.retained_ids() == {"s1", "s3"}
    assert store.load("s1") is not None
    assert store.mark_on_screen("s3") == [], "s1 stays as the previous complete snapshot"
    assert store.save(snap(4)) == ["s1"]
    assert store.mark_on_screen("s4") == []
    assert store.retained_ids() == {"s3", "s4"}, "the last two are kept"
    assert sorted(store.ids()) == ["s3", "s4"]


def test_mark_on_screen_is_not_rewritten_in_steady_state(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    store.save(snap(1))
    store.mark_on_screen("s1")
    pointer = tmp_path / "snapshots" / "on_screen"
    before = pointer.stat().st_mtime_ns, pointer.stat().st_ino
    store.mark_on_screen("s1")
    assert (pointer.stat().st_mtime_ns, pointer.stat().st_ino) == before
    with pytest.raises(SnapshotError):
        store.mark_on_screen("nope")


def test_sync_protocol_with_cache_pins(tmp_path: Path) -> None:
    """The protocol sync will follow: pin per snapshot, unpin what the store releases."""
    cache = ContentCache(tmp_path / "cache", quota_bytes=1000)
    store = SnapshotStore(tmp_path / "cache")
    old = cache.put_bytes(b"o" * 400)
    s1 = snap(1, {"a.png": old})
    cache.pin(snapshot_pin(s1.id), s1.shas)
    store.save(s1)
    store.mark_on_screen(s1.id)

    new = sha(b"n" * 400)
    s2 = snap(2, {"a.png": new})
    cache.pin(snapshot_pin(s2.id), s2.shas)
    assert cache.ensure_space(400)
    cache.put_bytes(b"n" * 400)
    for released in store.save(s2):
        cache.unpin(snapshot_pin(released))
    assert not cache.ensure_space(400), "s1 is still on screen: its file may not be evicted"
    store.mark_on_screen(s2.id)
    s3 = snap(3, {"a.png": new})
    cache.pin(snapshot_pin(s3.id), s3.shas)
    for released in store.save(s3) + store.mark_on_screen(s3.id):
        cache.unpin(snapshot_pin(released))
    assert set(cache.pin_sets()) == {snapshot_pin(i) for i in store.retained_ids()}
    assert cache.ensure_space(400) and not cache.has(old)
    cache.close()


def test_prune_leaves_a_live_writers_temp_file_and_removes_a_dead_ones(tmp_path: Path) -> None:
    """Another process (the CLI, the player) may be writing a snapshot right now: prune must not pull its temp file
    away; a temp file whose writer is gone (kill -9) is removed."""
    from player.atomic import temp_prefix

    store = SnapshotStore(tmp_path / "snapshots")
    store.save(snap(1))
    store.mark_on_screen(snap(1).id)
    live = store.dir / f"{temp_prefix('.x.json')}abc.tmp"
    dead = store.dir / ".x.json.osc-999999999-1-deadbeef.abc.tmp"
    live.write_text("{}")
    dead.write_text("{}")
    store.prune()
    assert live.exists()
    assert not dead.exists()
