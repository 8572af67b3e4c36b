"""A playing video that stops making progress is given up after STALL_MS, with one log line, and its zone moves on.

VLC reports the playing time every 250-300 ms. A file on a network share that hangs, or a decoder that locks up,
stops those reports without an "end" or "error": the zone would hold one frame until the next layout switch. A hung
read cannot be staged here (VLC's probe refuses pipes, and a real share cannot be made to hang on cue), so the stall
is made at the one place the player listens: the relay of VLC's events to the view stops passing anything on. The
video itself is real and plays offscreen (memory rendering).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

import player.ui.video as video_mod
from player.ui.video import VideoView
from screens import solid_image
from test_video import _need_vlc, make_zone, record, settle_engine
from videos import make_video

STALL_TEST_MS = 1500  # the watchdog's limit in these tests; VLC reports the time about every 300 ms


@pytest.fixture
def short_stall(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(video_mod, "STALL_MS", STALL_TEST_MS)
    return STALL_TEST_MS


def _media(tmp_path: Path, seconds: float) -> Path:
    _need_vlc()
    make_video(tmp_path / "v.mp4", "red", seconds, size=(160, 90))
    solid_image(tmp_path / "p.png", (0, 0, 255))
    return tmp_path


def _items(fade_ms: int = 0) -> list[dict]:
    picture: dict[str, Any] = {"type": "image", "id": "p", "src": "p.png", "duration": 60}
    if fade_ms:
        picture.update(transition="crossfade", transition_ms=fade_ms)
    return [{"type": "video", "id": "v", "src": "v.mp4"}, picture]


def test_a_video_that_stops_reporting_progress_is_given_up_and_the_zone_moves_on(
        qtbot, tmp_path: Path, short_stall: int, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    widget = make_zone(qtbot, _items(), _media(tmp_path, 30.0))
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: isinstance(widget.current, VideoView) and widget.current._last_time > 0, timeout=10_000)
    view = widget.current
    assert isinstance(view, VideoView) and view._pb is not None
    failures: list[str] = []
    view.failed.connect(failures.append)
    view._pb.handler = lambda _kind, _value: None  # VLC goes silent: no time, no frame, no end, no error
    caplog.set_level(logging.ERROR, logger="player.ui.zone")
    qtbot.waitUntil(lambda: bool(failures), timeout=short_stall + 8000)
    assert "stopped moving at" in failures[0] and "no progress for 1.5 s" in failures[0], failures
    qtbot.waitUntil(lambda: [item for item, _ in started][-1:] == ["p"], timeout=5000)
    lines = [r.getMessage() for r in caplog.records if "stopped moving" in r.getMessage()]
    assert len(lines) == 1 and "item 'v'" in lines[0], lines
    widget.stop()
    settle_engine(qtbot)


def test_a_video_that_keeps_playing_is_not_taken_for_stalled(qtbot, tmp_path: Path, short_stall: int) -> None:  # noqa: ANN001
    """Three times the limit of playing: every time report re-arms the watchdog, so it plays to its end."""
    seconds = 3 * short_stall / 1000
    widget = make_zone(qtbot, _items(), _media(tmp_path, seconds))
    started = record(widget)
    failures: list[str] = []
    widget.start()
    qtbot.waitUntil(lambda: isinstance(widget.current, VideoView), timeout=10_000)
    widget.current.failed.connect(failures.append)
    qtbot.waitUntil(lambda: [item for item, _ in started][-1:] == ["p"], timeout=int(seconds * 1000) + 10_000)
    assert failures == []
    widget.stop()
    settle_engine(qtbot)


def test_a_finished_video_fading_out_is_not_taken_for_stalled(qtbot, tmp_path: Path, short_stall: int) -> None:  # noqa: ANN001
    """After its end the video makes no progress, on purpose: while the next picture fades in over it (longer than
    the limit), it must not be reported, nor taken from under the fade."""
    widget = make_zone(qtbot, _items(fade_ms=4 * short_stall), _media(tmp_path, 0.5))
    videos: list[VideoView] = []
    widget.item_started.connect(lambda _z, item, _s: videos.append(widget.current) if item == "v" else None)
    widget.start()
    qtbot.waitUntil(lambda: widget.current is not None and widget.current.item.id == "p", timeout=10_000)
    outgoing = videos[0]
    failures: list[str] = []
    outgoing.failed.connect(failures.append)
    assert widget._fade is not None
    qtbot.wait(2 * short_stall)  # past the limit, the fade still running
    assert failures == []
    assert outgoing.state == "playing" and widget._fade is not None
    widget.stop()
    settle_engine(qtbot)
