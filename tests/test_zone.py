"""Zones play their items in order, for their durations, skip what cannot be shown, and honour validity windows."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from PySide6.QtWidgets import QWidget

from player.clock import FakeClock, SystemClock
from player.layouts import load_screen_dict
from player.model import Zone
from player.ui.bridge import WorkerBridge
from player.ui.items import RenderContext
from player.ui.zone import ZoneWidget
from screens import one_zone, solid_image


def make_zone(qtbot, items: list[dict], tmp_path: Path, clock=None, loop: bool = True) -> ZoneWidget:  # noqa: ANN001
    doc = one_zone(items, width=320, height=180, zone={"loop": loop})
    zone: Zone = load_screen_dict(doc, "t.json").screen.layouts["main"].zones[0]
    host = QWidget()
    host.resize(320, 180)
    qtbot.addWidget(host)
    bridge = WorkerBridge()
    ctx = RenderContext(clock=clock or SystemClock(), timezone=ZoneInfo("Europe/Berlin"),
                        resolve_media=lambda ref: (tmp_path / ref) if (tmp_path / ref).is_file() else None,
                        bridge=bridge)
    widget = ZoneWidget(zone, ctx, host)
    widget.setGeometry(0, 0, 320, 180)
    widget.host_ref = host  # keeps the parent (and so the zone) alive for the test
    host.show()
    return widget


def record(widget: ZoneWidget) -> list[tuple[str, float]]:
    started: list[tuple[str, float]] = []
    widget.item_started.connect(lambda _z, item, _src: started.append((item, time.monotonic())))
    return started


def test_items_play_in_order_for_their_durations_and_loop(qtbot, tmp_path: Path) -> None:
    widget = make_zone(qtbot, [
        {"type": "text", "id": "a", "text": "A", "duration": 0.2},
        {"type": "text", "id": "b", "text": "B", "duration": 0.4},
        {"type": "text", "id": "c", "text": "C", "duration": 0.2},
    ], tmp_path)
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: len(started) >= 5, timeout=5000)
    assert [s[0] for s in started[:5]] == ["a", "b", "c", "a", "b"]
    # each item stays at least its duration (a lower bound follows from the timers, it is no speed claim)
    gaps = [t2 - t1 for (_, t1), (_, t2) in zip(started, started[1:], strict=False)]
    assert gaps[0] >= 0.19 and gaps[1] >= 0.39 and gaps[2] >= 0.19
    widget.stop()


def test_non_looping_zone_stops_on_the_last_item(qtbot, tmp_path: Path) -> None:
    widget = make_zone(qtbot, [
        {"type": "text", "id": "a", "text": "A", "duration": 0.1},
        {"type": "text", "id": "b", "text": "B", "duration": 0.1},
    ], tmp_path, loop=False)
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: len(started) >= 2, timeout=3000)
    qtbot.wait(400)
    assert [s[0] for s in started] == ["a", "b"]


def test_image_items_are_decoded_off_thread_and_shown(qtbot, tmp_path: Path) -> None:
    solid_image(tmp_path / "red.png", (255, 0, 0))
    solid_image(tmp_path / "blue.png", (0, 0, 255))
    widget = make_zone(qtbot, [
        {"type": "image", "id": "r", "src": "red.png", "duration": 0.3, "fit": "stretch"},
        {"type": "image", "id": "b", "src": "blue.png", "duration": 0.3, "fit": "stretch"},
    ], tmp_path)
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: len(started) >= 1, timeout=3000)
    img = widget.grab().toImage()
    assert img.pixelColor(160, 90).red() > 200 and img.pixelColor(160, 90).blue() < 50
    qtbot.waitUntil(lambda: len(started) >= 2, timeout=3000)
    img = widget.grab().toImage()
    assert img.pixelColor(160, 90).blue() > 200 and img.pixelColor(160, 90).red() < 50


@pytest.mark.parametrize("bad", ["corrupt", "missing", "bomb"])
def test_unshowable_image_is_skipped_with_one_log_line(qtbot, tmp_path: Path, caplog, bad: str) -> None:
    solid_image(tmp_path / "ok.png", (0, 200, 0))
    if bad == "corrupt":
        (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
    elif bad == "bomb":  # 30000 x 30000 px declared in the header, tiny on disk
        img = Image.new("1", (30000, 30000))
        img.save(tmp_path / "bad.png", optimize=True)
    widget = make_zone(qtbot, [
        {"type": "image", "id": "bad", "src": "bad.png", "duration": 0.2},
        {"type": "image", "id": "good", "src": "ok.png", "duration": 0.2},
    ], tmp_path)
    started = record(widget)
    with caplog.at_level(logging.ERROR):
        widget.start()
        qtbot.waitUntil(lambda: len(started) >= 3, timeout=5000)
    assert {s[0] for s in started} == {"good"}
    lines = [r.getMessage() for r in caplog.records if "item 'bad'" in r.getMessage()]
    assert len(lines) == 1, lines
    expected = {"corrupt": "cannot decode", "missing": "not available", "bomb": "refused as a decompression bomb"}[bad]
    assert expected in lines[0]


def test_zone_with_no_valid_item_shows_background_and_resumes_by_itself(qtbot, tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC))  # 10:00 in Berlin
    widget = make_zone(qtbot, [
        {"type": "text", "id": "later", "text": "ab 11 Uhr", "duration": 5,
         "valid": {"times": [{"from": "11:00", "to": "12:00"}]}},
    ], tmp_path, clock=clock)
    started = record(widget)
    widget.start()
    assert widget.current is None and not widget.is_showing_content()  # nothing valid: background only
    # one timer, armed for the window's opening at 11:00, an hour from now (+5 ms margin; a little real time passed)
    timer = widget._validity_timer
    assert timer.isActive() and timer.isSingleShot()
    assert 3_540_000 < timer.remainingTime() <= 3_600_005
    # the clock passes 11:00; the timer's moment arrives (fired here rather than waited for an hour)
    clock.set(datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC))
    timer.timeout.emit()
    qtbot.waitUntil(lambda: len(started) == 1, timeout=2000)
    assert started[0][0] == "later" and widget.is_showing_content()
    assert timer.isActive() and 3_540_000 < timer.remainingTime() <= 3_600_005  # now armed for 12:00, its end
    clock.set(datetime(2026, 12, 1, 11, 0, 0, tzinfo=UTC))  # window over: back to the background
    timer.timeout.emit()
    qtbot.waitUntil(lambda: widget.current is None, timeout=2000)
    assert not widget.is_showing_content()
    assert timer.isActive() and 82_740_000 < timer.remainingTime() <= 82_800_005  # tomorrow 11:00: 23 h ahead


def test_a_single_item_reports_each_pass_once(qtbot) -> None:  # noqa: ANN001
    """A zone with one item starts it over after each duration: one 'ended' and one 'started' per pass (proof of
    play and the now-playing status count them)."""
    zone = load_screen_dict(one_zone([{"type": "text", "id": "t", "text": "Hallo", "duration": 0.2}], 200, 100),
                            "t.json").screen.layouts["main"].zones[0]
    parent = QWidget()
    qtbot.addWidget(parent)
    ctx = RenderContext(clock=SystemClock(), timezone=ZoneInfo("Europe/Berlin"), resolve_media=lambda _r: None,
                        bridge=WorkerBridge())
    widget = ZoneWidget(zone, ctx, parent)
    events: list[str] = []
    widget.item_started.connect(lambda _z, item, _s: events.append("start"))
    widget.item_ended.connect(lambda _z, item: events.append("end"))
    widget.start()
    qtbot.waitUntil(lambda: events.count("start") >= 4, timeout=5000)
    widget.stop()
    n = events.count("start")
    assert events[: 2 * n - 1] == ["start", "end"] * (n - 1) + ["start"]


def test_the_zone_running_out_during_a_crossfade_stops_cleanly(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """A zone without loop whose last item ends while it still fades in: the picture and the view it faded in over
    both go, and stopping the zone afterwards does not trip over the deleted views (it used to raise, which left
    the other zones of the layout running)."""
    solid_image(tmp_path / "p.png", (0, 0, 255))
    items = [{"type": "text", "id": "t", "text": "Hallo", "duration": 0.2},
             {"type": "image", "id": "p", "src": "p.png", "duration": 0.3, "transition": "crossfade",
              "transition_ms": 5000}]
    zone = load_screen_dict(one_zone(items, 200, 100, zone={"loop": False}), "t.json").screen.layouts["main"].zones[0]
    parent = QWidget()
    qtbot.addWidget(parent)
    ctx = RenderContext(clock=SystemClock(), timezone=ZoneInfo("Europe/Berlin"),
                        resolve_media=lambda ref: tmp_path / ref if (tmp_path / ref).is_file() else None,
                        bridge=WorkerBridge())
    widget = ZoneWidget(zone, ctx, parent)
    widget.setGeometry(0, 0, 200, 100)
    parent.show()
    texts: list[object] = []
    widget.item_started.connect(lambda _z, item, _s: texts.append(widget.current) if item == "t" else None)
    widget.start()
    qtbot.waitUntil(lambda: widget.current is not None and widget.current.item.id == "p", timeout=5000)
    qtbot.waitUntil(lambda: widget.current is None, timeout=5000)  # ran out: the background shows
    assert widget._fade is None
    import shiboken6

    assert texts and (not shiboken6.isValid(texts[0]) or texts[0].isHidden())  # the text it faded in over went
    widget.stop()  # must not raise


def _watch_decodes(monkeypatch, hold: set[str] | None = None):  # noqa: ANN001, ANN202
    """Record when each picture's decode starts (worker thread); pictures named in *hold* wait for ``gate``."""
    import threading

    from player.ui import items as items_module

    real = items_module.decode_for_zone
    submitted: list[tuple[str, float]] = []
    gate = threading.Event()

    def watched(path, *args):  # noqa: ANN001, ANN002, ANN202
        submitted.append((Path(path).name, time.monotonic()))
        if hold and Path(path).name in hold:
            gate.wait(30)
        return real(path, *args)

    monkeypatch.setattr(items_module, "decode_for_zone", watched)
    return submitted, gate


def test_the_next_picture_is_decoded_shortly_before_it_is_due(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A slideshow does not hold two decoded pictures all the time: the next one is decoded ``ahead_s`` before the
    current one's time is up, and is on screen when due."""
    solid_image(tmp_path / "red.png", (255, 0, 0))
    solid_image(tmp_path / "blue.png", (0, 0, 255))
    submitted, _ = _watch_decodes(monkeypatch)
    widget = make_zone(qtbot, [
        {"type": "image", "id": "r", "src": "red.png", "duration": 4, "fit": "stretch"},
        {"type": "image", "id": "b", "src": "blue.png", "duration": 4, "fit": "stretch"},
    ], tmp_path)
    assert widget.ahead_s == 2.0
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: len(started) >= 1, timeout=3000)
    assert widget.pending is None, "nothing prepared while the first picture has 2 s to go"
    qtbot.waitUntil(lambda: len(submitted) >= 2, timeout=8000)
    assert submitted[1][0] == "blue.png" and len(started) == 1, "the next picture is decoded before it is due"
    # a coarse Qt timer may fire up to 5 % early: the lower bound allows for that (it is no speed claim)
    assert submitted[1][1] - started[0][1] >= (4 - 2.0) * 0.94
    qtbot.waitUntil(lambda: len(started) >= 2, timeout=8000)
    assert [s[0] for s in started] == ["r", "b"]
    assert widget.ahead_s == 2.0, "it was ready in time (a tiny PNG, 2 s ahead): no need to start earlier"
    widget.stop()


def test_a_zone_whose_picture_was_late_prepares_it_earlier_and_keeps_the_old_one_meanwhile(
        qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    solid_image(tmp_path / "red.png", (255, 0, 0))
    solid_image(tmp_path / "blue.png", (0, 0, 255))
    submitted, gate = _watch_decodes(monkeypatch, hold={"blue.png"})
    widget = make_zone(qtbot, [
        {"type": "image", "id": "r", "src": "red.png", "duration": 1, "fit": "stretch"},
        {"type": "image", "id": "b", "src": "blue.png", "duration": 1, "fit": "stretch"},
    ], tmp_path)
    widget.ahead_s = 0.5
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: widget.ahead_s > 0.5, timeout=6000)  # red's time is up, blue is still being decoded
    assert widget.ahead_s == 1.0
    assert [s[0] for s in started] == ["r"] and widget.current_item is not None and widget.current_item.id == "r"
    img = widget.grab().toImage()
    assert img.pixelColor(160, 90).red() > 200, "the late picture's predecessor stays on screen meanwhile"
    gate.set()
    qtbot.waitUntil(lambda: len(started) >= 2, timeout=6000)
    assert started[1][0] == "b" and [name for name, _ in submitted][:2] == ["red.png", "blue.png"]
    # blue's 1 s is no longer than the doubled lead: red is prepared at once
    assert widget.pending is not None and widget.pending.item.id == "r"
    widget.stop()


def test_rechecks_while_the_first_picture_decodes_do_not_count_as_late(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    solid_image(tmp_path / "a.png", (255, 0, 0))
    solid_image(tmp_path / "b.png", (0, 0, 255))
    _, gate = _watch_decodes(monkeypatch, hold={"a.png"})
    widget = make_zone(qtbot, [{"type": "image", "id": "a", "src": "a.png", "duration": 10},
                               {"type": "image", "id": "b", "src": "b.png", "duration": 10}], tmp_path)
    widget.start()
    for _ in range(5):  # the window re-resolves with an unchanged schedule key (a tick, a clock-jump check)
        widget.recheck()
    gate.set()
    qtbot.waitUntil(lambda: widget.current_item is not None, timeout=6000)
    assert widget.ahead_s == 2.0
    widget.stop()


def test_a_zone_that_was_late_relaxes_after_pictures_in_time(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from player.ui import zone as zone_module

    monkeypatch.setattr(zone_module, "PREPARE_AHEAD_S", 0.2)
    monkeypatch.setattr(zone_module, "ON_TIME_TO_RELAX", 2)
    solid_image(tmp_path / "a.png", (255, 0, 0))
    solid_image(tmp_path / "b.png", (0, 0, 255))
    widget = make_zone(qtbot, [{"type": "image", "id": "a", "src": "a.png", "duration": 1.5},
                               {"type": "image", "id": "b", "src": "b.png", "duration": 1.5}], tmp_path)
    widget.ahead_s = 0.8  # as after a late picture; tiny PNGs are ready well within 0.8 s
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: widget.ahead_s < 0.8, timeout=15_000)
    assert widget.ahead_s == 0.4 and len(started) >= 3
    widget.stop()


def _text_until_eleven_then_picture(qtbot, tmp_path: Path, berlin_hms: tuple[int, int, int]):  # noqa: ANN001, ANN202
    """A text (30 s) valid 10:00-11:00 Berlin, then a picture; started at *berlin_hms* on 1 Dec 2026."""
    solid_image(tmp_path / "p.png", (0, 0, 255))
    h, m, sec = berlin_hms
    clock = FakeClock(datetime(2026, 12, 1, h - 1, m, sec, tzinfo=UTC))  # Berlin is UTC+1 in December
    widget = make_zone(qtbot, [
        {"type": "text", "id": "t", "text": "T", "duration": 30,
         "valid": {"times": [{"from": "10:00", "to": "11:00"}]}},
        {"type": "image", "id": "p", "src": "p.png", "duration": 30, "fit": "stretch"},
    ], tmp_path, clock=clock)
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: len(started) == 1, timeout=6000)
    return widget, clock


def test_an_item_whose_window_closes_early_has_its_successor_ready(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """Shown at 10:59:50 for 30 s, the text's window closes first: the picture after it is prepared at once, so it
    takes over the moment the window closes instead of after its decode."""
    widget, clock = _text_until_eleven_then_picture(qtbot, tmp_path, (10, 59, 50))
    qtbot.waitUntil(lambda: widget.pending is not None and widget.pending.is_ready, timeout=6000)
    clock.set(datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC))
    widget.recheck()
    assert widget.current_item is not None and widget.current_item.id == "p"
    widget.stop()


def test_a_picture_still_decoding_when_its_window_closes_is_not_shown_after_it(qtbot, tmp_path: Path,  # noqa: ANN001
                                                                                 monkeypatch) -> None:
    """Text and picture both valid until 11:00. The text's time is up at 10:59:59 while the picture (due now) is
    still being decoded; at 11:00 nothing is valid: the zone shows its background, lets the picture go, and does
    not put it on screen when its decode ends (before, it did: for its 30 s, outside its window)."""
    solid_image(tmp_path / "p.png", (0, 0, 255))
    _, gate = _watch_decodes(monkeypatch, hold={"p.png"})
    clock = FakeClock(datetime(2026, 12, 1, 9, 59, 30, tzinfo=UTC))  # 10:59:30 in Berlin
    until_eleven = {"times": [{"from": "10:00", "to": "11:00"}]}
    widget = make_zone(qtbot, [
        {"type": "text", "id": "t", "text": "T", "duration": 29, "valid": until_eleven},
        {"type": "image", "id": "p", "src": "p.png", "duration": 30, "fit": "stretch", "valid": until_eleven},
    ], tmp_path, clock=clock)
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: len(started) == 1, timeout=6000)
    clock.set(datetime(2026, 12, 1, 9, 59, 59, tzinfo=UTC))
    widget._timer.timeout.emit()  # the text's 29 s are up (fired here rather than waited for)
    assert widget.pending is not None and not widget.pending.is_ready and widget.current_item.id == "t"
    clock.set(datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC))  # 11:00: both windows closed
    widget.recheck()
    assert widget.current is None and widget.pending is None
    gate.set()  # the decode ends now; its result must go nowhere
    qtbot.wait(300)
    assert widget.current is None and [item for item, _ in started] == ["t"]
    widget.stop()


def _text_then_picture_until_eleven(qtbot, tmp_path: Path, text_s: float):  # noqa: ANN001, ANN202
    """An always valid text (*text_s* seconds), then a picture valid 10:00-11:00 Berlin; started at 10:59:30."""
    solid_image(tmp_path / "p.png", (0, 0, 255))
    clock = FakeClock(datetime(2026, 12, 1, 9, 59, 30, tzinfo=UTC))  # Berlin is UTC+1 in December
    widget = make_zone(qtbot, [
        {"type": "text", "id": "t", "text": "T", "duration": text_s},
        {"type": "image", "id": "p", "src": "p.png", "duration": 30, "fit": "stretch",
         "valid": {"times": [{"from": "10:00", "to": "11:00"}]}},
    ], tmp_path, clock=clock)
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: len(started) == 1, timeout=6000)
    return widget, clock, started


def test_a_picture_whose_window_closes_while_it_decodes_is_skipped_when_ready(qtbot, tmp_path: Path,  # noqa: ANN001
                                                                              monkeypatch) -> None:
    """As above, but the text stays valid: when the picture is ready at last, its window has closed; the zone goes
    on with what is valid (the text again) instead of showing the picture for 30 s outside its window."""
    _, gate = _watch_decodes(monkeypatch, hold={"p.png"})
    widget, clock, started = _text_then_picture_until_eleven(qtbot, tmp_path, text_s=29)
    clock.set(datetime(2026, 12, 1, 9, 59, 59, tzinfo=UTC))
    widget._timer.timeout.emit()  # the text's 29 s are up; the picture is due and still being decoded
    assert widget.pending is not None and widget.pending.item.id == "p" and not widget.pending.is_ready
    clock.set(datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC))  # 11:00: the picture's window closed
    widget.recheck()
    gate.set()
    qtbot.waitUntil(lambda: len(started) == 2, timeout=6000)
    assert [item for item, _ in started] == ["t", "t"] and widget.current_item.id == "t"
    widget.stop()


def test_an_item_kept_past_its_window_goes_when_the_one_after_it_fails(qtbot, tmp_path: Path, monkeypatch) -> None:
    """t valid until 11:00; its time is up at 10:59:59 while the picture after it decodes; at 11:00 t's window
    closes (t stays until the picture is ready). The picture then fails: nothing is valid, so the zone shows its
    background (before, t started another full duration outside its window)."""
    (tmp_path / "p.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)  # decode fails
    _, gate = _watch_decodes(monkeypatch, hold={"p.png"})
    clock = FakeClock(datetime(2026, 12, 1, 9, 59, 30, tzinfo=UTC))
    widget = make_zone(qtbot, [
        {"type": "text", "id": "t", "text": "T", "duration": 29, "valid": {"times": [{"from": "10:00", "to": "11:00"}]}},
        {"type": "image", "id": "p", "src": "p.png", "duration": 30, "fit": "stretch"},
    ], tmp_path, clock=clock)
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: len(started) == 1, timeout=6000)
    clock.set(datetime(2026, 12, 1, 9, 59, 59, tzinfo=UTC))
    widget._timer.timeout.emit()
    assert widget.pending is not None and widget.pending.item.id == "p" and not widget.pending.is_ready
    clock.set(datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC))
    widget.recheck()
    gate.set()  # p's decode fails now
    qtbot.waitUntil(lambda: widget.pending is None, timeout=6000)
    qtbot.wait(200)
    assert widget.current is None, "t (window closed at 11:00) keeps the screen for another 29 s"
    assert [i for i, _ in started] == ["t"]
    widget.stop()


def _picture_missing_and_text_at_eleven(qtbot, tmp_path: Path):  # noqa: ANN001, ANN202
    """Started at 10:00 Berlin: p (always valid) is missing, t opens at 11:00; the zone shows its background."""
    clock = FakeClock(datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC))
    widget = make_zone(qtbot, [
        {"type": "image", "id": "p", "src": "p.png", "duration": 10},
        {"type": "text", "id": "t", "text": "T", "duration": 10, "valid": {"times": [{"from": "11:00", "to": "12:00"}]}},
    ], tmp_path, clock=clock)
    widget.start()
    return widget, clock


def test_a_failed_item_is_tried_again_while_the_zone_waits_for_a_far_window(qtbot, tmp_path: Path) -> None:
    """p (always valid) is missing at 10:00; the only other item opens at 11:00. The zone shows its background and
    looks at p again when its skip ends (RETRY_FAILED_S), not only at 11:00."""
    widget, clock = _picture_missing_and_text_at_eleven(qtbot, tmp_path)
    assert widget.current is None and widget._validity_timer.isActive()
    remaining = widget._validity_timer.remainingTime()
    assert remaining <= 61_000, "the failed picture is not looked at again until 11:00"
    solid_image(tmp_path / "p.png", (0, 0, 255))  # the picture arrives
    clock.set(datetime(2026, 12, 1, 9, 1, 1, tzinfo=UTC))
    widget._validity_timer.timeout.emit()  # its moment (fired here rather than waited for)
    qtbot.waitUntil(lambda: widget.current_item is not None and widget.current_item.id == "p", timeout=6000)
    widget.stop()


def test_a_failed_item_s_skip_does_not_grow_when_the_clock_is_set_back(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """p is missing at 10:00 and skipped until 10:01; then the clock is set back an hour (NTP after a wrong RTC). The
    skip still ends within RETRY_FAILED_S of the new time: before, p stayed off for 61 minutes."""
    widget, clock = _picture_missing_and_text_at_eleven(qtbot, tmp_path)
    assert widget.current is None
    clock.set(datetime(2026, 12, 1, 8, 0, 0, tzinfo=UTC))
    widget.recheck()  # what the window does after a clock jump
    assert widget._validity_timer.isActive() and widget._validity_timer.remainingTime() <= 61_000
    solid_image(tmp_path / "p.png", (0, 0, 255))
    clock.set(datetime(2026, 12, 1, 8, 1, 1, tzinfo=UTC))
    widget._validity_timer.timeout.emit()
    qtbot.waitUntil(lambda: widget.current_item is not None and widget.current_item.id == "p", timeout=6000)
    widget.stop()


def test_a_single_valid_item_staying_on_lets_a_prepared_picture_out_of_its_window_go(qtbot, tmp_path: Path) -> None:
    """t always valid, p valid until 11:00 and prepared (decoded) before its turn; at 11:00 p's window closed and t
    stays on. The decoded p is let go (before, it was kept for as long as t stayed: until tomorrow 10:00)."""
    widget, clock, started = _text_then_picture_until_eleven(qtbot, tmp_path, text_s=30)
    clock.set(datetime(2026, 12, 1, 9, 59, 58, tzinfo=UTC))
    widget._prepare_timer.timeout.emit()  # p's 2 s lead
    qtbot.waitUntil(lambda: widget.pending is not None and widget.pending.is_ready, timeout=6000)
    clock.set(datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC))
    widget.recheck()
    widget._timer.timeout.emit()  # t's time is up; p is no longer valid: t stays on
    assert [i for i, _ in started] == ["t", "t"]
    for _ in range(3):
        clock.advance(30)
        widget._timer.timeout.emit()
    assert widget.pending is None, "a decoded picture for an item out of its window is held while t loops"
    widget.stop()


def test_an_item_whose_window_stays_open_keeps_the_picture_after_it_for_later(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """Shown at 10:00 for 30 s, the window closes long after: the picture waits for its 2 s lead as usual."""
    widget, _ = _text_until_eleven_then_picture(qtbot, tmp_path, (10, 0, 0))
    assert widget.pending is None
    widget.stop()


def test_the_picture_after_a_clip_that_may_end_early_is_prepared_at_once(qtbot, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A video with a duration ends the item early when its clip is shorter (docs/video.md): what follows it is
    prepared at once, as before pictures were decoded just in time. A stand-in view ends after 0.3 s."""
    from PySide6.QtCore import QTimer

    from player.ui import items as items_module
    from player.ui.items import ItemView

    class ShortClip(ItemView):
        @property
        def may_end_early(self) -> bool:
            return True

        def start(self) -> None:
            super().start()
            QTimer.singleShot(300, self.finished.emit)

    solid_image(tmp_path / "p.png", (0, 0, 255))
    (tmp_path / "v.mp4").write_bytes(b"x")
    monkeypatch.setitem(items_module.VIEW_FACTORIES, "video", ShortClip)
    submitted, _ = _watch_decodes(monkeypatch)
    widget = make_zone(qtbot, [{"type": "video", "id": "v", "src": "v.mp4", "duration": 20},
                               {"type": "image", "id": "p", "src": "p.png", "duration": 10}], tmp_path)
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: len(started) >= 1, timeout=3000)
    assert widget.pending is not None and widget.pending.item.id == "p" and [n for n, _ in submitted] == ["p.png"]
    qtbot.waitUntil(lambda: len(started) >= 2, timeout=6000)
    widget.stop()


def test_when_the_next_item_turns_out_not_to_be_a_picture_it_is_prepared_at_once(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """The plan to decode a picture shortly before it is due is made again when a window opens in between: a text
    (or a video, which needs longer) that becomes next is prepared at once."""
    solid_image(tmp_path / "a.png", (255, 0, 0))
    solid_image(tmp_path / "b.png", (0, 0, 255))
    clock = FakeClock(datetime(2026, 12, 1, 9, 59, 50, tzinfo=UTC))  # 10:59:50 in Berlin
    widget = make_zone(qtbot, [
        {"type": "image", "id": "a", "src": "a.png", "duration": 30},
        {"type": "text", "id": "t", "text": "ab 11 Uhr", "duration": 5,
         "valid": {"times": [{"from": "11:00", "to": "12:00"}]}},
        {"type": "image", "id": "b", "src": "b.png", "duration": 30},
    ], tmp_path, clock=clock)
    started = record(widget)
    widget.start()
    qtbot.waitUntil(lambda: len(started) == 1, timeout=6000)
    assert widget.pending is None, "b is a picture due in 30 s: not decoded yet"
    clock.set(datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC))
    widget.recheck()
    assert widget.pending is not None and widget.pending.item.id == "t"
    widget.stop()
