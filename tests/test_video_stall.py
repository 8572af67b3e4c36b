"""A playing video that stops making progress is given up after STALL_MS, with one log line, and its zone moves on.

VLC reports the playing time every 250-300 ms. With a file on a network share that hangs, or a decoder that locks
up, the time stops changing (VLC goes silent, repeats the same time, or redraws the last picture) without an "end"
or "error": the zone would hold one frame until the next layout switch. A hung read cannot be staged here (VLC's
probe refuses pipes, and a real share cannot be made to hang on cue), so the stall is made at the one place the
player listens: the relay of VLC's events to the view. The videos themselves are real and play offscreen (memory
rendering).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

import player.ui.video as video_mod
from player.ui.video import VideoView, shared_engine
from test_video import make_zone, record, settle_engine
from test_video_dispose import _fading_video, _media, _shown_zone
from test_video_queue import _never_a_picture

STALL_TEST_MS = 1500  # the watchdog's limit in these tests; VLC reports the time about every 300 ms


@pytest.fixture
def short_stall(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(video_mod, "STALL_MS", STALL_TEST_MS)
    return STALL_TEST_MS


ITEMS = [{"type": "video", "id": "v", "src": "v.mp4"}, {"type": "image", "id": "p", "src": "p.png", "duration": 60}]


def _playing(qtbot, widget) -> VideoView:  # noqa: ANN001
    """Starts the zone; the video on screen once VLC has reported a playing time."""
    widget.start()
    qtbot.waitUntil(lambda: isinstance(widget.current, VideoView) and widget.current._last_time > 0, timeout=10_000)
    view = widget.current
    assert isinstance(view, VideoView) and view._pb is not None
    return view


def test_a_video_that_stops_reporting_progress_is_given_up_and_the_zone_moves_on(
        qtbot, tmp_path: Path, short_stall: int, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    widget = make_zone(qtbot, ITEMS, _media(tmp_path, 30.0))
    started = record(widget)
    view = _playing(qtbot, widget)
    failures: list[str] = []
    view.failed.connect(failures.append)
    view._pb.handler = lambda _kind, _value: None  # VLC goes silent: no time, no frame, no end, no error
    caplog.set_level(logging.ERROR, logger="player.ui.zone")
    # the engine thread busy past the stall: the stalled player (whose stop may block on a hung read) is released
    # on a thread of its own, not queued behind it
    busy = shared_engine().run(lambda: time.sleep(6 * short_stall / 1000))
    qtbot.waitUntil(lambda: bool(failures), timeout=short_stall + 8000)
    assert "stopped moving at" in failures[0] and "no progress for 1.5 s" in failures[0], failures
    qtbot.waitUntil(lambda: [item for item, _ in started][-1:] == ["p"], timeout=5000)
    qtbot.waitUntil(lambda: shared_engine().live_count() == 0, timeout=3000)
    assert not busy.done(), "released behind the busy engine thread"
    qtbot.waitUntil(busy.done, timeout=6 * short_stall + 5000)  # the next test starts with a free engine
    lines = [r.getMessage() for r in caplog.records if "stopped moving" in r.getMessage()]
    assert len(lines) == 1 and "item 'v'" in lines[0], lines
    widget.stop()
    settle_engine(qtbot)


def test_a_video_that_keeps_playing_is_not_taken_for_stalled(qtbot, tmp_path: Path, short_stall: int) -> None:  # noqa: ANN001
    """Three times the limit of playing: every time report re-arms the watchdog, so it plays to its end."""
    seconds = 3 * short_stall / 1000
    widget = make_zone(qtbot, ITEMS, _media(tmp_path, seconds))
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
    widget = _shown_zone(qtbot, tmp_path)  # a 10 s crossfade: more than twice the limit here
    outgoing = _fading_video(qtbot, widget)
    failures: list[str] = []
    outgoing.failed.connect(failures.append)
    qtbot.wait(2 * short_stall)  # past the limit, the fade still running
    assert failures == []
    assert outgoing.state == "playing" and widget._fade is not None
    widget.stop()
    settle_engine(qtbot)


def test_pictures_still_coming_do_not_hide_a_stalled_input(qtbot, tmp_path: Path, short_stall: int) -> None:  # noqa: ANN001
    """With its input hung, VLC keeps redrawing the last picture (memory mode: a frame every ~80 ms). Only the
    playing time counts as progress: here the time reports stop and the frames go on."""
    widget = make_zone(qtbot, ITEMS, _media(tmp_path, 30.0))
    view = _playing(qtbot, widget)
    relay = view._pb.handler
    frames: list[int] = []

    def no_time(kind: str, value: Any) -> None:
        if kind == "time":
            return
        if kind == "frame":
            frames.append(1)
        relay(kind, value)

    view._pb.handler = no_time
    failures: list[str] = []
    view.failed.connect(failures.append)
    qtbot.waitUntil(lambda: bool(failures), timeout=short_stall + 8000)
    assert "stopped moving" in failures[0], failures
    assert len(frames) > 3, "the frames should have kept coming while the time stood still"
    widget.stop()
    settle_engine(qtbot)


def test_the_same_time_reported_again_and_again_is_a_stall(qtbot, tmp_path: Path, short_stall: int) -> None:  # noqa: ANN001
    """A stuck decoder or output: VLC's input goes on reporting, every ~250 ms, the same playing time."""
    widget = make_zone(qtbot, ITEMS, _media(tmp_path, 30.0))
    view = _playing(qtbot, widget)
    relay = view._pb.handler
    frozen_at = view._last_time
    repeats: list[int] = []

    def same_time(kind: str, value: Any) -> None:
        if kind == "time":
            repeats.append(1)
            value = frozen_at
        relay(kind, value)

    view._pb.handler = same_time
    failures: list[str] = []
    view.failed.connect(failures.append)
    qtbot.waitUntil(lambda: bool(failures), timeout=short_stall + 8000)
    assert f"stopped moving at {frozen_at / 1000:.1f} s" in failures[0], failures
    assert len(repeats) >= 2, "VLC should have gone on reporting the time"
    widget.stop()
    settle_engine(qtbot)


def test_a_single_video_restarted_behind_a_busy_engine_is_not_taken_for_stalled(
        qtbot, tmp_path: Path, short_stall: int) -> None:  # noqa: ANN001
    """A zone with one short clip starts it over at its end; the restart waits its turn on the engine thread. The
    watchdog counts from the restart, not from the moment it was asked for."""
    widget = make_zone(qtbot, [{"type": "video", "id": "v", "src": "v.mp4"}], _media(tmp_path, 0.5))
    started = record(widget)
    view = _playing(qtbot, widget)
    failures: list[str] = []
    view.failed.connect(failures.append)
    busy_s = 2 * short_stall / 1000
    shared_engine().run(lambda: time.sleep(busy_s))  # the clip ends while this runs: its restart queues behind
    qtbot.waitUntil(lambda: len(started) >= 3, timeout=int(busy_s * 1000) + 10_000)
    assert failures == []
    assert widget.current is view and view.state == "playing"
    widget.stop()
    settle_engine(qtbot)


def test_a_video_left_alone_by_a_failing_next_item_starts_over(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """The clip ends while the next item (a clip without pictures) is still being tried; when that one fails, the
    zone keeps the first: it must play again, not stand on its last frame."""
    media = _media(tmp_path, 0.5)
    _never_a_picture(media / "n.mp4")
    widget = make_zone(qtbot, [{"type": "video", "id": "v", "src": "v.mp4"},
                               {"type": "video", "id": "n", "src": "n.mp4"}], media)
    ended: list[str] = []
    widget.item_ended.connect(lambda _z, item: ended.append(item))
    failures: list[str] = []
    widget.start()
    qtbot.waitUntil(lambda: isinstance(widget.pending, VideoView) and widget.pending.item.id == "n", timeout=10_000)
    widget.pending.failed.connect(failures.append)
    qtbot.waitUntil(lambda: bool(failures), timeout=10_000)
    assert ended == ["v"], "the clip should have ended before the next item gave up"
    qtbot.waitUntil(lambda: ended.count("v") >= 2, timeout=10_000)  # played again to its end
    widget.stop()
    settle_engine(qtbot)
