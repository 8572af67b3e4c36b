"""The Qt side of reporting: screenshots of the real window (offscreen) and what is on screen from zone signals."""

from __future__ import annotations

import io
import time
from pathlib import Path

from PIL import Image

from player.clock import SystemClock
from player.config import load_config
from player.report.proof import ProofRecorder
from player.report.queue import Outbox
from player.report.screenshots import Screenshot
from player.report.status import NowPlaying
from player.sources.folder import FolderSource
from player.ui.app import make_window
from player.ui.reporting import ScreenReporter, on_gui_thread
from screens import one_zone, solid_image, write_screen


def show_folder(qtbot, folder: Path, size: tuple[int, int] = (640, 360)):  # noqa: ANN001, ANN201
    config = load_config(overrides={"player": {"state_dir": str(folder / "state")}}, env={})
    window = make_window(config, SystemClock(), size)
    window.setFixedSize(*size)
    qtbot.addWidget(window)
    window._allow_close = True
    return window, FolderSource(folder, timezone=config.timezone)


def test_screenshot_of_a_solid_colour_window_has_that_colour(qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "screen"
    solid_image(folder / "red.png", (200, 30, 40), size=(1920, 1080))
    write_screen(folder, one_zone([{"type": "image", "id": "red", "src": "red.png", "duration": 60}],
                                  background="#c81e28"))
    window, source = show_folder(qtbot, folder, size=(1280, 720))
    reporter = ScreenReporter(window, NowPlaying(), screenshot_interval_s=0, max_width=960)
    window.show()
    window.show_screen(source.load().screen, source.resolve)
    qtbot.waitUntil(lambda: window.main is not None and window.main.has_first_frame, timeout=5000)
    shots: list[Screenshot] = []
    reporter.screenshot_encoded.connect(shots.append)

    started = time.perf_counter()
    job = reporter.take_screenshot()
    grab_ms = (time.perf_counter() - started) * 1000
    assert job is not None
    qtbot.waitUntil(lambda: len(shots) == 1, timeout=5000)

    shot = shots[0]
    assert shot.content_type == "image/jpeg"
    img = Image.open(io.BytesIO(shot.data))
    assert img.format == "JPEG"
    assert img.size == (960, 540) == (shot.width, shot.height)  # scaled to 960 px wide, aspect kept
    r, g, b = img.convert("RGB").getpixel((480, 270))
    assert abs(r - 200) <= 8 and abs(g - 30) <= 8 and abs(b - 40) <= 8
    assert grab_ms < 1000  # the GUI thread only grabs; encoding happened on the worker
    reporter.stop()


def test_zone_signals_feed_now_playing_and_proof_of_play(qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "screen"
    solid_image(folder / "a.png", (0, 0, 255))
    write_screen(folder, one_zone([
        {"type": "image", "id": "a", "src": "a.png", "duration": 0.3},
        {"type": "text", "id": "t", "text": "Hallo", "duration": 0.3},
    ]))
    window, source = show_folder(qtbot, folder)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    proof = ProofRecorder(outbox, "screen-uuid", hash_of=lambda src: "f" * 64 if src == "a.png" else None)
    now_playing = NowPlaying()
    reporter = ScreenReporter(window, now_playing, proof, screenshot_interval_s=0)
    window.show()
    window.show_screen(source.load().screen, source.resolve)
    qtbot.waitUntil(lambda: outbox.flush(0.01) and outbox.count("proof") >= 3, timeout=5000)

    records = [r.payload for r in outbox.pending("proof", 10)]
    assert [r["itemId"] for r in records[:3]] == ["a", "t", "a"]
    assert records[0]["layout"] == "main" and records[0]["zone"] == "main" and records[0]["src"] == "a.png"
    assert records[0]["fileHash"] == "f" * 64 and records[1]["fileHash"] is None
    assert now_playing.snapshot()["layout"] == "main"
    assert now_playing.snapshot()["items"][0]["zone"] == "main"

    # the window closes: the play on screen is recorded with its end
    reporter.stop()
    outbox.flush()
    assert proof.open_plays() == 0
    outbox.close()


def test_on_gui_thread_runs_the_callable_on_the_gui_thread(qtbot) -> None:
    import threading

    seen: list[bool] = []
    call = on_gui_thread(lambda x: seen.append(x and threading.current_thread() is threading.main_thread()))
    worker = threading.Thread(target=call, args=(True,))
    worker.start()
    qtbot.waitUntil(lambda: not worker.is_alive(), timeout=10_000)  # the worker waits for the GUI thread's turn
    assert seen == [True]


def test_a_remote_command_reports_what_its_gui_action_really_did(qtbot, tmp_path) -> None:  # noqa: ANN001
    """reload runs on the GUI thread; the command thread waits for it, so a reload that fails is reported to the hub
    as failed (before, "ok" went to the hub before the action had run). Against a Parse REST stand-in on 127.0.0.1."""
    import threading

    from parsefake import RecordingSystem
    from player.parse_rest import ParseClient
    from player.report import ScreenRef
    from player.report.commands import CommandActions, CommandChannel, CommandLedger
    from test_report_commands_hub import ParseHub, command, screen_on

    def broken_reload() -> None:
        raise RuntimeError("no content to show again")

    hub = ParseHub()
    try:
        screen = screen_on(hub)
        reload_id = command(hub, screen, "reload")
        actions = CommandActions(reload=on_gui_thread(broken_reload), sync_now=on_gui_thread(lambda: None))
        channel = CommandChannel(ParseClient(hub.url, "app", timeout=(2, 10)), ScreenRef("u-1"),
                                 CommandLedger(tmp_path / "commands.sqlite"), actions, RecordingSystem())
        worker = threading.Thread(target=channel.run, args=(0.0,))
        worker.start()
        qtbot.waitUntil(lambda: not worker.is_alive(), timeout=30_000)  # the GUI thread runs reload meanwhile
        assert hub.row("SteleScreenCommand", reload_id)["result"] == "failed: no content to show again"
        channel.ledger.close()
    finally:
        hub.close()


def test_a_command_waiting_for_the_gui_thread_ends_when_the_player_stops(qtbot) -> None:  # noqa: ANN001
    """At exit the GUI thread runs no more events; a command waiting for it gives up at once when the player says it
    is stopping (before, the exit waited for the sender's join, 10 s, and the command for 30 s)."""
    import threading

    stopping = threading.Event()
    ran: list[bool] = []
    call = on_gui_thread(lambda: ran.append(True), stopping)
    outcome: dict[str, BaseException] = {}

    def command() -> None:
        try:
            call()
        except RuntimeError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=command)
    worker.start()  # the GUI thread does not get to the call: this test does not run its event loop meanwhile
    stopping.set()
    worker.join(20)
    assert not worker.is_alive() and str(outcome.get("error")) == "the player is stopping"
    qtbot.wait(50)  # events run again: the dropped action must not run late
    assert ran == []
