"""Video items as a viewer sees them: played to the end or cut, looped, broken files skipped, no black frames.

The X11 cases need a real X server: ``test_x11_video_cases`` starts a private Xvfb and runs this file again in a
subprocess with ``QT_QPA_PLATFORM=xcb`` (one QApplication per process, and the rest of the suite runs offscreen).
In that subprocess only the ``x11_`` tests run. The offscreen cases (memory rendering for ``preview``) run here.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from player.clock import SystemClock
from player.layouts import load_screen_dict
from player.ui.bridge import WorkerBridge
from player.ui.items import VIEW_FACTORIES, RenderContext
from player.ui.video import VideoView, shared_engine
from player.ui.zone import ZoneWidget
from screens import one_zone, require_tool, solid_image
from videos import COLORS, ScreenSampler, classify, make_corrupt, make_empty, make_video
from xserver import in_x11_child, run_pytest_under_x

X11 = in_x11_child()
x11_only = pytest.mark.skipif(not X11, reason="runs inside test_x11_video_cases (private Xvfb, xcb)")
offscreen_only = pytest.mark.skipif(X11, reason="offscreen case; runs in the main test process")
ZONE_W, ZONE_H = 480, 270


def _need_vlc() -> None:
    try:
        import vlc  # noqa: F401
    except (ImportError, OSError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"python-vlc/libvlc not usable: {exc}")
        pytest.skip(f"python-vlc/libvlc not usable: {exc}")


def make_zone(qtbot, items: list[dict], media: Path, loop: bool = True) -> ZoneWidget:  # noqa: ANN001
    zone = load_screen_dict(one_zone(items, width=ZONE_W, height=ZONE_H, zone={"loop": loop}),
                            "t.json").screen.layouts["main"].zones[0]
    top = QWidget()
    top.setStyleSheet("background: #ff00ff")  # magenta behind everything: neither black nor any item
    top.setGeometry(0, 0, ZONE_W, ZONE_H)
    ctx = RenderContext(clock=SystemClock(), timezone=ZoneInfo("Europe/Berlin"),
                        resolve_media=lambda ref: (media / ref) if (media / ref).is_file() else None,
                        bridge=WorkerBridge())
    widget = ZoneWidget(zone, ctx, top)
    widget.setGeometry(0, 0, ZONE_W, ZONE_H)
    widget.top_ref = top
    qtbot.addWidget(top, before_close_func=lambda _w: widget.stop())  # also when a test fails
    top.show()
    top.move(0, 0)
    qtbot.waitExposed(top)
    return widget


def record(widget: ZoneWidget) -> list[tuple[str, float]]:
    started: list[tuple[str, float]] = []
    widget.item_started.connect(lambda _z, item, _src: started.append((item, time.monotonic())))
    return started


def settle_engine(qtbot, timeout: int = 5000) -> None:  # noqa: ANN001
    qtbot.waitUntil(lambda: shared_engine().live_count() == 0, timeout=timeout)


def test_video_view_is_registered() -> None:
    assert VIEW_FACTORIES["video"] is VideoView


# ------------------------------------------------------------------------------------ the X11 run (parent)
@offscreen_only
@pytest.mark.timeout(900)  # the subprocess may take up to 600 s (run_pytest_under_x); the suite default is 300 s
def test_x11_video_cases() -> None:
    """Runs the x11_ tests below against a private Xvfb (a subprocess with QT_QPA_PLATFORM=xcb)."""
    require_tool("Xvfb")
    require_tool("xdpyinfo")
    require_tool("ffmpeg")
    _need_vlc()
    code, output = run_pytest_under_x(Path(__file__), ["-k", "x11_ and not x11_video_cases"])
    # libvlc probes VDPAU drivers that a VM lacks and says so on every player: keep the report readable
    output = "\n".join(line for line in output.splitlines() if "VDPAU backend" not in line)
    print(output)
    assert code == 0, output[-6000:]
    assert " passed" in output and " skipped" not in output, output[-3000:]


# ------------------------------------------------------------------------------------- offscreen (preview)
@offscreen_only
def test_offscreen_video_shows_its_first_frame_in_memory(qtbot, tmp_path: Path) -> None:
    """Without a native window (preview), the first frame is decoded into memory and painted by Qt."""
    _need_vlc()
    make_video(tmp_path / "red.mp4", "red", 1.0)
    widget = make_zone(qtbot, [{"type": "video", "id": "r", "src": "red.mp4", "fit": "stretch"}], tmp_path)
    widget.start()
    qtbot.waitUntil(lambda: widget.current is not None, timeout=5000)
    view = widget.current
    assert isinstance(view, VideoView)
    assert view.current_frame() is not None
    qtbot.waitUntil(lambda: _near(widget.grab().toImage().pixelColor(ZONE_W // 2, ZONE_H // 2), COLORS["red"]),
                    timeout=3000)
    widget.stop()
    settle_engine(qtbot)


@offscreen_only
def test_offscreen_broken_files_are_skipped(qtbot, tmp_path: Path) -> None:
    _need_vlc()
    make_corrupt(tmp_path / "bad.mp4")
    make_empty(tmp_path / "empty.mp4")
    solid_image(tmp_path / "blue.png", COLORS["blue"])
    widget = make_zone(qtbot, [{"type": "video", "id": "bad", "src": "bad.mp4"},
                               {"type": "video", "id": "empty", "src": "empty.mp4"},
                               {"type": "image", "id": "b", "src": "blue.png", "duration": 5}], tmp_path)
    started = record(widget)
    t0 = time.monotonic()
    widget.start()
    qtbot.waitUntil(lambda: bool(started), timeout=5000)
    assert started[0][0] == "b"
    assert started[0][1] - t0 < 4.0  # two files, each detected within 2 s
    widget.stop()
    settle_engine(qtbot)


@offscreen_only
def test_offscreen_truncated_video_never_stops_the_zone(qtbot, tmp_path: Path) -> None:
    """A video cut off in the middle of its upload (moov atom missing): skipped, or played as far as it goes, and
    the zone moves on to the next item either way."""
    _need_vlc()
    require_tool("ffmpeg")
    clip = make_video(tmp_path / "cut.mp4", "red", 2.0)
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) * 2 // 5])
    solid_image(tmp_path / "blue.png", COLORS["blue"])
    widget = make_zone(qtbot, [{"type": "video", "id": "cut", "src": "cut.mp4"},
                               {"type": "image", "id": "b", "src": "blue.png", "duration": 5}], tmp_path)
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: any(item == "b" for item, _ in started), timeout=8000)
    qtbot.waitUntil(lambda: _near(widget.grab().toImage().pixelColor(ZONE_W // 2, ZONE_H // 2), COLORS["blue"]),
                    timeout=3000)
    widget.stop()
    settle_engine(qtbot)


def _near(color: QColor, rgb: tuple[int, int, int], tol: int = 40) -> bool:
    return all(abs(a - b) <= tol for a, b in zip((color.red(), color.green(), color.blue()), rgb, strict=True))


# ------------------------------------------------------------------------------------------ X11 (child)
def _proc_counts() -> tuple[int, int, int]:
    threads = len(os.listdir("/proc/self/task"))
    fds = len(os.listdir("/proc/self/fd"))
    rss_kb = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    return threads, fds, rss_kb


def _sample(rect_seconds: float, tmp_path: Path) -> ScreenSampler:
    # the middle of the zone (all fits fill it for 16:9 content)
    return ScreenSampler(os.environ["DISPLAY"], (ZONE_W // 4, ZONE_H // 4, ZONE_W // 2, ZONE_H // 2),
                         rect_seconds, tmp_path / "samples.json")


@x11_only
def test_x11_plays_to_the_end_and_advances(qtbot, tmp_path: Path) -> None:
    make_video(tmp_path / "red.mp4", "red", 1.2, size=(480, 270))
    solid_image(tmp_path / "green.png", COLORS["green"])
    widget = make_zone(qtbot, [{"type": "video", "id": "r", "src": "red.mp4"},
                               {"type": "image", "id": "g", "src": "green.png", "duration": 1}], tmp_path)
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: len(started) >= 2, timeout=8000)
    assert [s[0] for s in started[:2]] == ["r", "g"]
    played = started[1][1] - started[0][1]
    assert 1.0 <= played < 3.0, played  # the whole clip, then the next item (not a fixed 10 s)
    widget.stop()
    settle_engine(qtbot)


@x11_only
def test_x11_fixed_duration_cuts_the_video(qtbot, tmp_path: Path) -> None:
    make_video(tmp_path / "red.mp4", "red", 4.0, size=(480, 270))
    solid_image(tmp_path / "green.png", COLORS["green"])
    widget = make_zone(qtbot, [{"type": "video", "id": "r", "src": "red.mp4", "duration": 0.8},
                               {"type": "image", "id": "g", "src": "green.png", "duration": 1}], tmp_path)
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: len(started) >= 2, timeout=6000)
    played = started[1][1] - started[0][1]
    assert 0.75 <= played < 2.0, played  # cut at 0.8 s, long before the clip's 4 s
    widget.stop()
    settle_engine(qtbot)


@x11_only
def test_x11_loop_fills_the_duration_without_black(qtbot, tmp_path: Path) -> None:
    make_video(tmp_path / "red.mp4", "red", 0.4, size=(480, 270))
    solid_image(tmp_path / "green.png", COLORS["green"])
    widget = make_zone(qtbot, [{"type": "video", "id": "r", "src": "red.mp4", "duration": 2.0, "loop": True},
                               {"type": "image", "id": "g", "src": "green.png", "duration": 3}], tmp_path)
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: bool(started), timeout=5000)
    sampler = _sample(1.8, tmp_path)
    qtbot.waitUntil(lambda: len(started) >= 2, timeout=6000)
    played = started[1][1] - started[0][1]
    assert 1.95 <= played < 3.0, played  # the 0.4 s clip repeated to fill 2 s
    qtbot.waitUntil(sampler.done, timeout=10000)
    seen = [classify(px) for t, px in sampler.result() if t < started[1][1]]
    seen = seen[seen.index("red"):] if "red" in seen else seen  # before: the empty window (first item)
    assert len(seen) > 20
    assert "black" not in seen, seen
    assert set(seen) == {"red"}, set(seen)  # the picture stays up while the clip starts over (4 times)
    widget.stop()
    settle_engine(qtbot)


@x11_only
def test_x11_single_video_zone_keeps_playing(qtbot, tmp_path: Path) -> None:
    make_video(tmp_path / "red.mp4", "red", 0.5, size=(480, 270))
    widget = make_zone(qtbot, [{"type": "video", "id": "r", "src": "red.mp4"}], tmp_path)
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: bool(started), timeout=5000)
    sampler = _sample(2.0, tmp_path)
    qtbot.waitUntil(lambda: len(started) >= 4, timeout=8000)  # each play-through counts (proof of play)
    assert {s[0] for s in started} == {"r"}
    qtbot.waitUntil(sampler.done, timeout=10000)
    seen = [classify(px) for _t, px in sampler.result()]
    seen = seen[seen.index("red"):] if "red" in seen else seen
    assert len(seen) > 20
    assert set(seen) == {"red"}, set(seen)  # starting over never shows the zone's background or black
    widget.stop()
    settle_engine(qtbot)


@x11_only
def test_x11_screenshot_shows_the_playing_video(qtbot, tmp_path: Path) -> None:
    """A remote screenshot shows the video where it plays. Qt's grab() repaints widgets and cannot see VLC's native
    window: screenshots used to show the zone's background there (magenta behind the zone here)."""
    from player.ui.reporting import grab_screen

    make_video(tmp_path / "green.mp4", "green", 0.5, size=(480, 270))
    widget = make_zone(qtbot, [{"type": "video", "id": "g", "src": "green.mp4"}], tmp_path)
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: len(started) >= 2, timeout=8000)  # playing, and started over once
    shot = grab_screen(widget.top_ref)
    assert (shot.width(), shot.height()) == (ZONE_W, ZONE_H)
    pixels = [shot.pixelColor(x, y).getRgb()[:3] for x in range(20, ZONE_W, 40) for y in range(20, ZONE_H, 40)]
    assert classify(pixels) == "green", sorted(set(pixels))[:8]
    widget.stop()
    settle_engine(qtbot)


@x11_only
@pytest.mark.parametrize("broken", ["corrupt", "empty"])
def test_x11_corrupt_and_empty_files_are_skipped_within_2_s(qtbot, tmp_path: Path, caplog, broken: str) -> None:  # noqa: ANN001
    (make_corrupt if broken == "corrupt" else make_empty)(tmp_path / "broken.mp4")
    make_video(tmp_path / "red.mp4", "red", 1.0, size=(480, 270))
    solid_image(tmp_path / "green.png", COLORS["green"])
    widget = make_zone(qtbot, [{"type": "image", "id": "g", "src": "green.png", "duration": 2.5},
                               {"type": "video", "id": "broken", "src": "broken.mp4"},
                               {"type": "video", "id": "r", "src": "red.mp4"}], tmp_path)
    # detection time, measured on the view the zone would show
    view = VideoView(widget.zone.items[1], widget.ctx, widget)
    failures: list[tuple[float, str]] = []
    view.failed.connect(lambda msg: failures.append((time.monotonic(), msg)))
    t0 = time.monotonic()
    view.prepare()
    qtbot.waitUntil(lambda: bool(failures), timeout=2500)
    assert failures[0][0] - t0 < 2.0
    assert "broken.mp4" in failures[0][1]
    qtbot.wait(300)
    assert len(failures) == 1  # said once
    view.stop()
    view.deleteLater()
    # in the zone: skipped, the next item shows, one log line
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: "r" in [s[0] for s in started], timeout=6000)
    assert [s[0] for s in started][:2] == ["g", "r"]
    widget.stop()
    settle_engine(qtbot)
    lines = [r.getMessage() for r in caplog.records if "'broken'" in r.getMessage()]
    assert len(lines) == 1 and "skipped" in lines[0], lines


@x11_only
def test_x11_no_black_frame_at_image_to_video_and_video_to_video(qtbot, tmp_path: Path) -> None:
    solid_image(tmp_path / "green.png", COLORS["green"])
    make_video(tmp_path / "red.mp4", "red", 0.8, size=(480, 270))
    make_video(tmp_path / "blue.mp4", "blue", 0.8, size=(480, 270))
    widget = make_zone(qtbot, [{"type": "image", "id": "g", "src": "green.png", "duration": 0.6},
                               {"type": "video", "id": "r", "src": "red.mp4"},
                               {"type": "video", "id": "b", "src": "blue.mp4"}], tmp_path)
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: bool(started), timeout=5000)
    sampler = _sample(5.5, tmp_path)
    qtbot.waitUntil(lambda: len(started) >= 8, timeout=15000)
    qtbot.waitUntil(sampler.done, timeout=10000)
    samples = sampler.result()
    seen = [classify(px) for _t, px in samples]
    assert len(samples) > 200, len(samples)
    blacks = [t for (t, _), c in zip(samples, seen, strict=True) if c == "black"]
    assert not blacks, [(round(b - t, 3), item) for b in blacks for item, t in started if abs(b - t) < 0.3]
    # the switches happened inside the sampled time: green -> red (image -> video), red -> blue (video -> video)
    changes = [b for a, b in zip(seen, seen[1:], strict=False) if a != b]
    assert "red" in changes and "blue" in changes, changes
    widget.stop()
    settle_engine(qtbot)


@x11_only
def test_x11_200_short_videos_do_not_grow_threads_fds_or_memory(qtbot, tmp_path: Path) -> None:
    """200 consecutive plays after a warm-up. The warm-up is long (60 plays): the allocator and libvlc/Mesa caches
    grow over the first few dozen plays in any libvlc program (measured with a bare python-vlc loop too), then stay."""
    names = ["red", "blue", "yellow", "cyan"]
    for name in names:
        make_video(tmp_path / f"{name}.mp4", name, 0.3, size=(320, 240))
    widget = make_zone(qtbot, [{"type": "video", "id": n, "src": f"{n}.mp4"} for n in names], tmp_path)
    started = record(widget)
    series: list[tuple[int, tuple[int, int, int]]] = []
    widget.item_started.connect(lambda *_: len(started) % 20 == 0 and series.append((len(started), _proc_counts())))
    widget.start()
    qtbot.waitUntil(lambda: len(started) >= 60, timeout=60000)
    before = _proc_counts()
    qtbot.waitUntil(lambda: len(started) >= 260, timeout=480000)
    after = _proc_counts()
    assert shared_engine().live_count() <= 3  # current, prepared next, and at most one still being released
    widget.stop()
    settle_engine(qtbot)
    threads, fds, rss = (a - b for a, b in zip(after, before, strict=True))
    print(f"200 videos after warm-up: threads {threads:+d}, fds {fds:+d}, RSS {rss / 1024:+.1f} MB; "
          f"every 20 plays: RSS MB {[round(c[2] / 1024) for _n, c in series]}, threads {[c[0] for _n, c in series]}, "
          f"fds {[c[1] for _n, c in series]}")
    # one reading is a moment: a player being opened or released at that instant has its own threads (input,
    # decoders, output: about 10) and descriptors. A leak would add some on every one of the 200 plays, so the
    # floors (the fewest seen in the readings every 20 plays) of the first and the last 100 plays must agree
    def floor(first: int, last: int, what: int) -> int:
        return min(c[what] for n, c in series if first <= n <= last)

    assert floor(180, 260, 0) - floor(60, 160, 0) <= 4, series  # threads
    assert floor(180, 260, 1) - floor(60, 160, 1) <= 4, series  # file descriptors
    # the allocator's arenas still settle for a while (see player.memory.malloc_trim); from the first 100 plays
    # after the warm-up to the last 100 the growth must be small: a leak of the players themselves (the size of a
    # decoder + output each, several MB) would add hundreds of MB. Medians of the samples taken every 20 plays: one
    # reading moves by ±15 MB with the players that happen to be open or released at that instant
    first = statistics.median(c[2] for n, c in series if 60 <= n <= 160)
    last = statistics.median(c[2] for n, c in series if 180 <= n <= 260)
    assert last - first < 20 * 1024, (first, last, series)


@x11_only
def test_x11_video_turned_by_the_player_goes_through_memory(qtbot, tmp_path: Path) -> None:
    """rotation_by = "player": VLC cannot draw into a turned window; the picture is decoded into memory and turns
    with the rest of the layout (blue band along the content's top = the screen's left edge)."""
    from player.ui.rotated import RotatedHost
    from player.ui.window import PlayerWindow

    _need_vlc()
    make_video(tmp_path / "red.mp4", "red", 3.0, size=(480, 270))
    doc = {"version": 1, "layouts": {"main": {"width": 960, "height": 540, "background": "#202020", "zones": [
        {"id": "band", "x": 0, "y": 0, "width": 960, "height": 100, "background": "#0000ff", "items": []},
        {"id": "v", "x": 0, "y": 100, "width": 960, "height": 440,
         "items": [{"type": "video", "id": "r", "src": "red.mp4"}]}]}}}
    ctx = RenderContext(clock=SystemClock(), timezone=ZoneInfo("Europe/Berlin"), resolve_media=lambda _r: None,
                        bridge=WorkerBridge(), extras={"native_video": False})
    window = PlayerWindow(ctx, branding={}, kiosk=False)
    host = RotatedHost(window, 90, kiosk=False)
    qtbot.addWidget(host, before_close_func=lambda _w: [s.stop() for s in window._stages()])
    host.resize(540, 960)
    host.show()
    qtbot.waitExposed(host)
    window.show_screen(load_screen_dict(doc, "t.json").screen,
                       lambda ref: (tmp_path / ref) if (tmp_path / ref).is_file() else None)
    qtbot.waitUntil(lambda: window.main is not None and window.main.has_first_frame, timeout=8000)
    view = window.main.zones[1].current
    assert isinstance(view, VideoView) and not view._native

    def colours() -> tuple[str, str]:
        img = host.grab().toImage()
        px = [(c.red(), c.green(), c.blue()) for c in (img.pixelColor(40, 480), img.pixelColor(300, 480))]
        return classify([px[0]]), classify([px[1]])

    qtbot.waitUntil(lambda: colours() == ("blue", "red"), timeout=8000)
    window._allow_close = True
    for stage in window._stages():
        stage.stop()
    settle_engine(qtbot)


@x11_only
def test_x11_overlay_and_interrupt_stack_correctly_over_a_playing_video(qtbot, tmp_path: Path) -> None:
    """The layouts are native X windows next to VLC's: the video must show above its own layout, a banner overlay
    above the video (and only where its zones are), an interrupt above everything, and the video again after."""
    from PIL import ImageGrab

    from player.model import EntryMode, ScheduleEntry
    from player.ui.window import PlayerWindow

    _need_vlc()
    make_video(tmp_path / "red.mp4", "red", 6.0, size=(480, 270))
    doc = {"version": 1, "layouts": {
        "main": {"width": 960, "height": 540, "background": "#202020", "zones": [
            {"id": "v", "x": 0, "y": 0, "width": 960, "height": 540,
             "items": [{"type": "video", "id": "r", "src": "red.mp4"}]}]},
        "banner": {"width": 960, "height": 540, "zones": [
            {"id": "b", "x": 0, "y": 440, "width": 960, "height": 100, "background": "#00c800", "items": []}]},
        "alarm": {"width": 960, "height": 540, "background": "#0000ff", "zones": []}},
        "schedule": {"default": "main", "entries": [{"id": "ov", "layout": "banner", "mode": "overlay"}]}}
    screen = load_screen_dict(doc, "t.json").screen
    ctx = RenderContext(clock=SystemClock(), timezone=ZoneInfo("Europe/Berlin"), resolve_media=lambda _r: None,
                        bridge=WorkerBridge())
    window = PlayerWindow(ctx, branding={}, kiosk=False)
    qtbot.addWidget(window, before_close_func=lambda _w: [s.stop() for s in window._stages()])
    window.setGeometry(0, 0, 960, 540)
    window.show()
    qtbot.waitExposed(window)
    window.show_screen(screen, lambda ref: (tmp_path / ref) if (tmp_path / ref).is_file() else None)
    origin = window.mapToGlobal(window.rect().topLeft())

    def seen() -> tuple[str, str]:
        img = ImageGrab.grab(xdisplay=os.environ["DISPLAY"]).convert("RGB")
        centre = img.getpixel((origin.x() + 480, origin.y() + 200))
        banner = img.getpixel((origin.x() + 480, origin.y() + 490))
        return classify([centre]), classify([banner])

    qtbot.waitUntil(lambda: seen() == ("red", "green"), timeout=8000)  # video above its layout, banner above it
    window.set_extra_entries((ScheduleEntry("alarm", "alarm", mode=EntryMode.INTERRUPT, priority=100),),
                             {"alarm": screen.layouts["alarm"]})
    qtbot.waitUntil(lambda: seen() == ("blue", "blue"), timeout=5000)  # the interrupt covers everything
    window.set_extra_entries((), {})
    qtbot.waitUntil(lambda: seen() == ("red", "green"), timeout=5000)
    window._allow_close = True
    for stage in window._stages():
        stage.stop()
    settle_engine(qtbot)
