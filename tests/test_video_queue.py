"""The first-picture limit (1.8 s) counts from when the engine thread gets to the file, not from when it was queued.

The engine thread is shared by every video (open, start, stop, release). On a loaded machine it may be busy for a
while; a good clip queued behind that work must not be reported as "no picture" and skipped (the soak saw three such
false skips in 4,264 item changes while the machine was busy). Runs offscreen (memory rendering).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWidget

import player.ui.video as video_mod
from player.ui.video import FIRST_PICTURE_TIMEOUT_MS, VideoView, shared_engine
from test_video import _need_vlc
from test_video_dispose import _zone
from videos import make_video


def test_a_clip_waiting_behind_a_busy_engine_is_not_skipped(qtbot, tmp_path: Path) -> None:
    _need_vlc()
    make_video(tmp_path / "v.mp4", "red", 0.5)
    top = QWidget()
    qtbot.addWidget(top)
    widget = _zone(tmp_path, top)
    engine = shared_engine()
    busy_s = FIRST_PICTURE_TIMEOUT_MS / 1000 + 1.0
    engine.run(lambda: time.sleep(busy_s))  # the engine thread is busy longer than the first-picture limit
    failures: list[str] = []
    view = widget._create(0)
    assert isinstance(view, VideoView)
    view.failed.connect(failures.append)
    view.prepare()
    qtbot.waitUntil(lambda: view.is_ready or bool(failures), timeout=int(busy_s * 1000) + 8000)
    assert failures == []
    assert view.is_ready
    view.stop()
    qtbot.waitUntil(lambda: engine.live_count() == 0, timeout=5000)


def _never_a_picture(path: Path) -> Path:
    """A clip whose tracks VLC reads (so the probe passes) but whose frames are all zeros: it plays on for half a
    minute without a single picture, so only the first-picture limit can catch it."""
    make_video(path, "red", 30.0, size=(160, 90))
    data = bytearray(path.read_bytes())
    at = data.find(b"mdat")
    size = int.from_bytes(data[at - 4:at], "big")
    data[at + 4:at - 4 + size] = bytes(size - 8)
    path.write_bytes(bytes(data))
    return path


def test_a_clip_without_pictures_is_caught_by_the_first_picture_limit(qtbot, tmp_path: Path) -> None:
    _need_vlc()
    _never_a_picture(tmp_path / "v.mp4")
    top = QWidget()
    qtbot.addWidget(top)
    widget = _zone(tmp_path, top)
    failures: list[str] = []
    view = widget._create(0)
    view.failed.connect(failures.append)
    view.prepare()
    qtbot.waitUntil(lambda: bool(failures), timeout=8000)  # the 10 s queue limit would come later
    assert "v.mp4" in failures[0] and f"after {FIRST_PICTURE_TIMEOUT_MS / 1000:.1f} s" in failures[0], failures
    qtbot.waitUntil(lambda: shared_engine().live_count() == 0, timeout=5000)  # the zone disposed of the view


def test_a_clip_that_ends_before_it_is_shown_still_hands_over(qtbot, tmp_path: Path) -> None:
    """A very short clip may reach its end while it waits, paused on its first picture, for its turn. Once shown it
    must still tell the zone it is done, or a zone without durations would stand still on it. VLC's "end" event is
    delivered here while the view waits (the order seen with short clips); the clip itself is long, so a "finished"
    that only came from the real end would come far too late for the wait below."""
    _need_vlc()
    make_video(tmp_path / "v.mp4", "red", 20.0, size=(160, 90), fps=5)
    top = QWidget()
    qtbot.addWidget(top)
    widget = _zone(tmp_path, top)
    view = widget._create(0)
    assert isinstance(view, VideoView)
    view.prepare()
    qtbot.waitUntil(lambda: view.is_ready, timeout=8000)
    view._on_event("end", None)  # as VLC's event thread hands it over (engine.post -> _dispatch)
    assert view.state == "ready"
    with qtbot.waitSignal(view.finished, timeout=5000):
        view.start()
    view.stop()
    qtbot.waitUntil(lambda: shared_engine().live_count() == 0, timeout=5000)


def test_a_clip_the_engine_never_gets_to_is_reported_as_a_busy_engine(qtbot, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine thread busy beyond the queue limit (an earlier video stuck on a hung share, say): the line must
    name the engine, not call a good file corrupt."""
    _need_vlc()
    make_video(tmp_path / "v.mp4", "red", 0.5)
    monkeypatch.setattr(video_mod, "ENGINE_QUEUE_TIMEOUT_MS", 1000)
    top = QWidget()
    qtbot.addWidget(top)
    widget = _zone(tmp_path, top)
    engine = shared_engine()
    engine.run(lambda: time.sleep(2.5))
    failures: list[str] = []
    view = widget._create(0)
    view.failed.connect(failures.append)
    view.prepare()
    qtbot.waitUntil(lambda: bool(failures), timeout=8000)
    assert "video 'v.mp4' not started: the video engine has been busy for 1 s" in failures[0], failures
    assert "corrupt" not in failures[0]
    qtbot.waitUntil(lambda: engine.live_count() == 0, timeout=8000)
