"""Wiring of the Qt side: application, window, content loading off the GUI thread, preview rendering."""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QCoreApplication, QEventLoop, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QWidget

from player.clock import Clock, FakeClock, SystemClock
from player.config import Config
from player.layouts import DocumentError
from player.sources.folder import FolderSource
from player.system.display_power import NullDisplayPower, PowerSchedule
from player.system.rotation import rotate_display
from player.system.watchdog import SdNotifier
from player.ui.bridge import WorkerBridge, shared_bridge
from player.ui.items import RenderContext, load_view_module
from player.ui.power import DisplayPowerController, backend_from_config
from player.ui.runtime import attach_content
from player.ui.window import PlayerWindow

if TYPE_CHECKING:  # imported when reporting is attached (hub sources only)
    from player.report import Reporting
    from player.ui.reporting import ScreenReporter

log = logging.getLogger(__name__)
DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"


def ensure_app(headless: bool = False) -> QApplication:
    if headless and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = QApplication.instance()
    if app is None:
        if importlib.util.find_spec("PySide6.QtWebEngineWidgets") is not None:  # web page items possible (extra)
            # Qt WebEngine shares OpenGL contexts with the app; the flag must be set before the app exists (the
            # module itself is imported only when a web item comes, see player/ui/web.py)
            QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
        app = QApplication(sys.argv[:1])
        app.setApplicationName("osc-player")
    return app  # type: ignore[return-value]


def make_context(config: Config, clock: Clock, bridge: WorkerBridge | None = None) -> RenderContext:
    return RenderContext(
        clock=clock,
        timezone=ZoneInfo(config.timezone),
        resolve_media=lambda _ref: None,
        bridge=bridge or shared_bridge(),
        city=config.city,
        screen_name=config["player"]["screen_name"],
        font_family=config["branding"]["font_family"],
        locale=config["player"]["locale"],
        extras={"vlc_args": list(config["video"]["vlc_args"])},  # libvlc starts on the first video item only
    )


def make_window(config: Config, clock: Clock, windowed: tuple[int, int] | None) -> PlayerWindow:
    window = PlayerWindow(make_context(config, clock), branding=dict(config["branding"]),
                          kiosk=windowed is None, maintenance_chord=config["player"]["maintenance_chord"])
    if windowed is not None:
        window.resize(*windowed)
    return window


def seconds_since_process_start() -> float:
    """Wall time since this process was started by the kernel (includes interpreter start and imports)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


class WatchdogLink:
    """The player's line to systemd (see :func:`attach_watchdog`): STATUS says what is on screen, or that the
    display is off and until when."""

    def __init__(self, notifier: SdNotifier) -> None:
        self.notifier = notifier
        self.layout: str | None = None
        self.display_off: str | None = None  # the status text while the display is off

    def layout_changed(self, name: str) -> None:
        self.layout = name
        if self.display_off is None:
            self.notifier.status(f"playing layout '{name}'")

    def follow_power(self, power: DisplayPowerController) -> None:
        """Call before ``power.start()``. While the display is off STATUS says so; a player started off-hours
        shows no content (nothing is rendered), so READY goes out at once instead of at the first frame."""

        def off_text() -> str:
            until = power.next_change
            return f"display off ({power.reason})" + (
                f" until {_WEEKDAYS[until.weekday()]} {until:%H:%M}" if until is not None else "")

        def changed(on: bool) -> None:
            if on:
                self.display_off = None
                self.notifier.status(f"playing layout '{self.layout}'" if self.layout else "playing")
                return
            self.display_off = off_text()
            self.notifier.ready(status=self.display_off)  # READY again is harmless; STATUS is the point

        def rescheduled() -> None:  # still off, but until another time (a new schedule, a clock jump)
            if power.on is False and self.display_off is not None and (text := off_text()) != self.display_off:
                self.display_off = text
                self.notifier.status(text)

        power.changed.connect(changed)
        power.rescheduled.connect(rescheduled)

    def stopping(self) -> None:
        self.notifier.stopping()


FREEZE_ENV = "OSC_PLAYER_TEST_FREEZE_GUI_S"


def attach_watchdog(app: QApplication, window: PlayerWindow) -> WatchdogLink:
    """systemd integration: READY once the first frame is painted, WATCHDOG pings from the GUI thread's event loop
    (a frozen GUI stops them and systemd restarts the player), STATUS with the layout on screen or "display off".

    Test hook (tests/test_player_watchdog.py only): with ``OSC_PLAYER_TEST_FREEZE_GUI_S=<seconds>`` the GUI thread
    blocks once for that long, three ping intervals after the first frame, framed by the notifications
    ``OSC_TEST=freeze`` and ``OSC_TEST=thaw``; never set it on a screen."""
    notifier = SdNotifier()
    link = WatchdogLink(notifier)

    def first_frame() -> None:
        window.repaint()  # paint now, synchronously, so "first frame" means pixels, not intentions
        took = seconds_since_process_start()
        log.info("first frame on screen %.2f s after process start", took)
        if os.environ.get("OSC_PLAYER_BENCH"):
            print(f"OSC_FIRST_FRAME {time.clock_gettime(time.CLOCK_MONOTONIC):.6f} {took:.4f}", flush=True)
        notifier.ready(status=link.display_off or "playing")

    window.first_frame.connect(first_frame)
    window.layout_changed.connect(link.layout_changed)
    interval = notifier.ping_interval()
    if interval:
        pinger = QTimer(app)
        pinger.timeout.connect(notifier.watchdog)
        pinger.start(int(interval * 1000))
        freeze_s = float(os.environ.get(FREEZE_ENV) or 0)
        if freeze_s > 0:
            def freeze() -> None:  # on the GUI thread, like any hang of the event loop
                log.warning("%s: blocking the GUI thread for %.1f s (test hook)", FREEZE_ENV, freeze_s)
                notifier.notify("OSC_TEST=freeze")
                time.sleep(freeze_s)
                notifier.notify("OSC_TEST=thaw")

            window.first_frame.connect(lambda: QTimer.singleShot(int(interval * 3000), freeze))
    return link


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # STATUS is English whatever LC_TIME says


def place_window(config: Config, window: PlayerWindow, windowed: tuple[int, int] | None,
                 then: Callable[[QWidget], None]) -> None:
    """Puts the player on screen, turned as configured, and then calls ``then(top-level widget)`` on the GUI thread.

    ``rotation_by``: ``display`` turns the output (xrandr / wlr-randr, on a worker thread: it runs a program);
    ``player`` turns the player's own picture (player/ui/rotated.py); ``auto`` asks the display server first and
    falls back to the player. A window on a desktop (``--windowed``) never turns the desktop's display."""
    degrees = int(config["player"]["rotation"])
    by = config["player"]["rotation_by"]

    def show(top: QWidget) -> None:
        if windowed is None:
            top.setGeometry(top.screen().geometry())  # content is laid out once, for the final size
            top.showFullScreen()
            top.follow_screen()  # type: ignore[attr-defined]
        else:
            top.show()
        then(top)

    def by_player() -> None:
        from player.ui.rotated import RotatedHost

        window.ctx.extras["native_video"] = False
        host = RotatedHost(window, degrees, kiosk=windowed is None)
        window.host = host  # type: ignore[attr-defined]  # a top-level widget lives as long as a reference to it
        if windowed is not None:
            host.resize(*windowed)
        log.info("rotation %d°: the player turns its picture", degrees)
        show(host)

    if degrees == 0 or (windowed is not None and by != "player"):
        show(window)
        return
    if by == "player":
        by_player()
        return

    def turned(said: str) -> None:
        log.info("rotation: %s", said)
        show(window)

    def refused(exc: BaseException) -> None:
        if by == "auto":
            log.info("rotation %d° by the display server is not possible (%s); the player turns its picture",
                     degrees, exc)
            by_player()
        else:
            log.error("rotation %d°: %s", degrees, exc)
            show(window)

    window.ctx.bridge.submit(lambda: rotate_display(degrees), turned, refused)


class ReportingLink:
    """Reporting to the hub (status, screenshots, proof of play, remote commands), built on a worker thread
    (it reads the secrets file and the device id) and then wired to the window on the GUI thread."""

    def __init__(self) -> None:
        self.reporting: Reporting | None = None
        self.reporter: ScreenReporter | None = None
        self._stopped = False
        self.stopping = threading.Event()  # a remote command waiting for the GUI thread gives up (on_gui_thread)

    def stop(self) -> None:
        self._stopped = True
        self.stopping.set()  # before the sender is joined: a command waiting for the (stopped) GUI thread ends
        if self.reporter is not None:
            self.reporter.stop()
        if self.reporting is not None:
            self.reporting.stop()


def attach_reporting(config: Config, window: PlayerWindow, controller, power) -> ReportingLink | None:  # noqa: ANN001
    if config["source"]["type"] != "hub":
        return None
    from player.report import Reporting, ScreenRef
    from player.report.commands import CommandActions
    from player.sources.parse_hub import make_hub_source
    from player.ui.reporting import ScreenReporter, on_gui_thread

    link = ReportingLink()

    def reload_now() -> None:
        if window.screen_model is not None:
            window.show_screen(window.screen_model, window.ctx.resolve_media)

    def take_screenshot() -> None:
        if link.reporter is not None:
            link.reporter.take_screenshot()

    actions = CommandActions(reload=on_gui_thread(reload_now, link.stopping), sync_now=controller.sync_now,
                             screenshot_now=on_gui_thread(take_screenshot, link.stopping),
                             set_display=on_gui_thread(power.override, link.stopping))

    def build() -> Reporting:
        hub = make_hub_source(config)  # its own ParseClient: reporting runs on its own thread
        return Reporting(hub.client, ScreenRef(hub.device_id), config.state_dir, actions=actions,
                         status_interval_s=config["report"]["status_interval_s"],
                         proof_of_play=config["report"]["proof_of_play"],
                         outbox_max_bytes=config["report"]["outbox_max_mb"] * 1024 * 1024,
                         disk_path=config.cache_dir,
                         # cache use and last sync result (read on the reporting thread), the played file's hash
                         status_extra=controller.status_fields, hash_of=controller.hash_of)

    def ready(reporting: Reporting) -> None:
        if link._stopped:
            reporting.stop()
            return
        link.reporting = reporting
        link.reporter = ScreenReporter(window, reporting.now_playing, reporting.proof, reporting.screenshots,
                                       screenshot_interval_s=config["report"]["screenshot_interval_s"])
        controller.change_listeners.append(reporting.on_live_event)
        controller.screen_listeners.append(reporting.screen.set_object_id)  # a re-registered screen's new id
        reporting.start()

    window.ctx.bridge.submit(build, ready, lambda exc: log.error("reporting to the hub is off: %s", exc))
    return link


def run_player(config: Config, source_dir: Path | None, windowed: tuple[int, int] | None = None,
               exit_after: float | None = None) -> int:
    """Plays ``source_dir`` (a folder) or, when it is None, the source configured in ``player.toml`` (http, hub)
    through the cache: the last snapshot at once, then syncs in the background. ``osc-player run`` tunes the
    allocator before this module is imported (player/memory.py)."""
    app = ensure_app()
    clock = SystemClock()
    window = make_window(config, clock, windowed)
    watchdog = attach_watchdog(app, window)
    started: dict[str, Any] = {}

    def begin(_top: QWidget) -> None:
        # content starts once the window's place (and turn) is known: views are made for their final geometry
        # a window on a desktop (--windowed) never switches the desktop's display
        backend = backend_from_config(config) if windowed is None else NullDisplayPower()
        # its own worker: a backend command may take seconds (cec-client), and the shared workers decode pictures
        power_worker = WorkerBridge(workers=1, parent=window)
        power = DisplayPowerController(window, PowerSchedule(config["display"]["power_schedule"] or None), backend,
                                       clock, ZoneInfo(config.timezone), power_worker)
        watchdog.follow_power(power)
        window.clock_jumped.connect(power.apply_schedule)  # its timer runs on monotonic time: NTP's correction
        power.start()
        started["power"] = power
        started["controller"] = controller = attach_content(window, config, folder=source_dir)
        follow_power_schedule(power, controller, window)
        if source_dir is None:
            started["reporting"] = attach_reporting(config, window, controller, power)

    place_window(config, window, windowed, begin)

    def quit_now() -> None:
        window._allow_close = True  # a kiosk window refuses to close otherwise, and Qt's quit() would give up
        app.quit()

    _install_signal_handlers(app, quit_now)
    if exit_after is not None:
        QTimer.singleShot(int(exit_after * 1000), quit_now)
    code = app.exec()
    watchdog.stopping()
    if (reporting := started.get("reporting")) is not None:
        reporting.stop()
    if (controller := started.get("controller")) is not None:
        controller.stop()
    window.ctx.bridge.shutdown()
    return int(code)


def follow_power_schedule(power: DisplayPowerController, controller: Any, window: PlayerWindow) -> None:
    """Each snapshot published from now on brings its power schedule (the hub's, or none: player.toml's).
    The boot snapshot may have been published before this connection was made: catch up once, after the
    already queued delivery to the window (posted events run in order)."""
    controller.published.connect(power.take_screen)
    QTimer.singleShot(0, lambda: window.screen_model is not None and power.take_screen(window.screen_model))


def _install_signal_handlers(app: QApplication, quit_now: Callable[[], None]) -> None:
    """SIGTERM/SIGINT end the event loop cleanly (systemd stop, Ctrl+C in a terminal).

    Python runs a signal handler between any two bytecodes of the GUI thread, also in the middle of a paintEvent;
    quitting there closed the windows under the painter (views stopped mid-paint, then a segfault at exit; seen in
    the kill -9 fault test). The handler only schedules the quit for the event loop. ``quit_now`` lets the kiosk
    window close: Qt's quit() closes every window first and gives up when one refuses (systemd would have waited
    for its stop timeout and then killed the player)."""
    signal.signal(signal.SIGTERM, lambda *_: QTimer.singleShot(0, quit_now))
    signal.signal(signal.SIGINT, lambda *_: QTimer.singleShot(0, quit_now))
    # Python only runs signal handlers between bytecodes: wake the interpreter regularly while Qt waits
    timer = QTimer(app)
    timer.start(500)
    timer.timeout.connect(lambda: None)


def wait_until(predicate: Callable[[], bool], timeout_ms: int) -> bool:
    loop = QEventLoop()
    deadline = QTimer()
    deadline.setSingleShot(True)
    deadline.timeout.connect(loop.quit)
    poll = QTimer()

    def check() -> None:
        if predicate():
            loop.quit()

    poll.timeout.connect(check)
    deadline.start(timeout_ms)
    poll.start(20)
    if not predicate():
        loop.exec()
    poll.stop()
    return predicate()


def render_preview(config: Config, source_dir: Path | None, at: datetime, size: tuple[int, int],
                   timeout_ms: int = 10_000) -> tuple[QImage, list[str]]:
    """What the screen shows at ``at``, rendered offscreen into an image. Returns the image and the log-worthy
    problems of the document (raises DocumentError when the document is unusable)."""
    ensure_app(headless=True)
    if source_dir is not None:
        from player.sources.folder import folder_media

        source = FolderSource(source_dir, timezone=config.timezone)
        loaded = source.load()
        resolver, problems = folder_media(source, loaded.screen, Path(config.cache_dir))
        screen, resolve, defects = loaded.screen, resolver, [*loaded.defects, *problems]
    else:  # the configured remote source: the snapshot the last sync left in the cache
        from player.sync import SyncService

        service = SyncService.from_config(config)
        try:
            content = service.boot()
        finally:
            service.close()
        if content is None:
            raise DocumentError([f"{config.cache_dir}: no snapshot yet; run 'osc-player sync --once' first"])
        screen, resolve, defects = content.screen, content.resolver, content.defects
    window = make_window(config, FakeClock(at), size)
    window.setFixedSize(*size)
    window.show()
    QGuiApplication.processEvents()
    for kind in screen.item_kinds():
        load_view_module(kind)
    if screen.feeds:
        from player.ui.live import attach_feeds

        attach_feeds(window, screen, config, source_dir, sync=True)  # widgets show current (or saved) data
    window.show_screen(screen, resolve)
    ok = wait_until(lambda: window.main is not None and all(s.has_first_frame for s in window._stages()), timeout_ms)
    if not ok:
        log.warning("preview: not every zone was ready after %d ms; rendering what there is", timeout_ms)
    QGuiApplication.processEvents()
    image = window.grab().toImage()
    window._allow_close = True
    window.close()
    window.deleteLater()
    return image, list(defects)
