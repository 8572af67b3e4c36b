"""A video fading out when its zone stops or is deleted: the VLC player must be released all the same.

The soak (bench/soak.py) found one VLC video output (a GL context and eight threads) left alive after a layout
switch: the old layout was stopped while a video in one of its zones was fading out under the next picture. These
cases run offscreen (memory rendering) so they need libvlc and ffmpeg but no X server.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtWidgets import QWidget

from player.clock import SystemClock
from player.layouts import load_screen_dict
from player.ui.bridge import WorkerBridge
from player.ui.items import ItemView, RenderContext
from player.ui.video import VideoView, shared_engine
from player.ui.zone import ZoneWidget
from screens import one_zone, solid_image
from test_video import _need_vlc
from videos import make_video

W, H = 320, 180
FADE_MS = 10_000  # the longest a document allows, far longer than the test: the fade still runs when the zone goes


def _items(picture_s: float) -> list[dict]:
    return [{"type": "video", "id": "v", "src": "v.mp4"},
            {"type": "image", "id": "p", "src": "p.png", "duration": picture_s, "transition": "crossfade",
             "transition_ms": FADE_MS}]


def _zone(media: Path, parent: QWidget, picture_s: float = 60) -> ZoneWidget:
    doc = one_zone(_items(picture_s), width=W, height=H)
    zone = load_screen_dict(doc, "t.json", strict=True).screen.layouts["main"].zones[0]
    ctx = RenderContext(clock=SystemClock(), timezone=ZoneInfo("Europe/Berlin"),
                        resolve_media=lambda ref: (media / ref) if (media / ref).is_file() else None,
                        bridge=WorkerBridge())
    widget = ZoneWidget(zone, ctx, parent)
    widget.setGeometry(0, 0, W, H)
    return widget


def _media(tmp_path: Path, seconds: float = 0.5) -> Path:
    """v.mp4, red for ``seconds``, and p.png, blue."""
    _need_vlc()
    make_video(tmp_path / "v.mp4", "red", seconds)
    solid_image(tmp_path / "p.png", (0, 0, 255))
    return tmp_path


def _shown_zone(qtbot, tmp_path: Path, picture_s: float = 60) -> ZoneWidget:  # noqa: ANN001
    top = QWidget()
    qtbot.addWidget(top)
    widget = _zone(_media(tmp_path), top, picture_s)
    top.resize(W, H)
    top.show()
    widget.top_ref = top  # keeps the window (and the zone in it) alive for the test
    return widget


def _fading_video(qtbot, widget: ZoneWidget) -> VideoView:  # noqa: ANN001
    """Starts the zone and waits until the picture fades in over the video that just ended."""
    videos: list[VideoView] = []
    seen: list[str] = []  # what happened, for the message should the picture never come
    widget.item_started.connect(lambda _z, item, _s: videos.append(widget.current) if item == "v" else None)
    widget.item_started.connect(lambda _z, item, _s: seen.append(f"{time.monotonic() - t0:.2f} s: {item} on screen"))
    t0 = time.monotonic()
    widget.start()
    failures: list[str] = []  # the zone's one line per failed item

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            failures.append(record.getMessage())

    zone_log = logging.getLogger("player.ui.zone")
    lines = Lines(logging.ERROR)
    zone_log.addHandler(lines)

    def what_happened() -> str:
        states = [(v.item.id, getattr(v, "state", "-"), getattr(v, "_last_time", "-"))
                  for v in widget.findChildren(ItemView)]
        return (f"{seen}; failures: {failures}; views (item, state, last time ms): {states}; "
                f"players alive: {shared_engine().live_count()}")

    try:
        qtbot.waitUntil(lambda: widget.current is not None and widget.current.item.id == "p", timeout=20_000)
    except qtbot.TimeoutError:
        pytest.fail(f"the picture never came: {what_happened()}")
    finally:
        zone_log.removeHandler(lines)
    assert videos and isinstance(videos[0], VideoView), what_happened()
    assert widget._fade is not None, f"the picture should be fading in over the video: {what_happened()}"
    # the fading-out video still holds its player; the next one (the loop's start) is being prepared
    assert shared_engine().live_count() == 2, what_happened()
    return videos[0]


def test_stopping_a_zone_during_a_fade_releases_the_outgoing_video(qtbot, tmp_path: Path) -> None:
    widget = _shown_zone(qtbot, tmp_path)
    video = _fading_video(qtbot, widget)
    widget.stop()
    qtbot.waitUntil(lambda: shared_engine().live_count() == 0, timeout=5000)
    assert video.state == "stopped"
    assert widget._fade is None


def test_a_zone_deleted_during_a_fade_without_stop_releases_the_video(qtbot, tmp_path: Path) -> None:
    widget = _shown_zone(qtbot, tmp_path)
    _fading_video(qtbot, widget)
    widget.deleteLater()  # no stop(): the view's own destroyed hook must let go of the player
    qtbot.waitUntil(lambda: shared_engine().live_count() == 0, timeout=5000)


def test_the_next_switch_ends_a_running_fade_and_releases_its_video(qtbot, tmp_path: Path) -> None:
    """The next item comes while the fade still runs (a short picture): the faded-out video must not be forgotten
    (disposing the fading picture deletes the animation's target, and a stopped animation never says it ended)."""
    widget = _shown_zone(qtbot, tmp_path, picture_s=0.5)
    first = _fading_video(qtbot, widget)
    qtbot.waitUntil(lambda: widget.current is not None and widget.current.item.id == "v", timeout=10_000)
    assert widget.current is not first
    qtbot.waitUntil(lambda: first.state == "stopped", timeout=5000)
    qtbot.waitUntil(lambda: shared_engine().live_count() == 1, timeout=5000)  # just the video on screen
    widget.stop()
    qtbot.waitUntil(lambda: shared_engine().live_count() == 0, timeout=5000)
