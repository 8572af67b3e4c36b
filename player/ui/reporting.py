"""The Qt side of reporting: what is on screen (from PlayerWindow/ZoneWidget signals) and screenshots of the window.

- `ScreenReporter` follows the window: ``layout_changed`` -> `NowPlaying`; every zone's ``item_started`` /
  ``item_ended`` -> `NowPlaying` and the `ProofRecorder`; a zone widget that goes away (layout switched) ends its
  play. Zones are found when their stage is shown (``ChildPolished`` event on the window), i.e. before they start.
- Screenshots: taken on the GUI thread by `grab_screen` (while a video plays in a native X11 window, the window's
  pixels as the X server holds them; otherwise ``window.grab()``, a repaint into a pixmap), the scaling and the JPEG/PNG
  encoding on a worker thread, the result handed to `ScreenshotChannel.submit` (delivery on the sender thread).
  Every ``screenshot_interval_s`` seconds, once shortly after the first frame, and on demand (`take_screenshot`).
- `on_gui_thread(fn)`: a thread-safe callable that runs ``fn`` on the GUI thread (for the remote-command callbacks).

VLC draws into a native child window that Qt's ``grab()`` cannot see (a screenshot showed the zone's background
where the video played); the X server's copy of the window has it.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QObject, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

from player.report.proof import ProofRecorder
from player.report.screenshots import Screenshot, ScreenshotChannel
from player.report.status import NowPlaying
from player.ui.items import NATIVE_VIDEO_SURFACE
from player.ui.stage import Stage
from player.ui.window import PlayerWindow
from player.ui.zone import ZoneWidget

log = logging.getLogger(__name__)

__all__ = ["ScreenReporter", "encode_screenshot", "on_gui_thread"]

MAX_WIDTH = 960
JPEG_QUALITY = 80
FIRST_SHOT_DELAY_MS = 15_000
_HOOKED = "oscReportingHooked"


def encode_screenshot(image: QImage, taken_at: datetime, *, max_width: int = MAX_WIDTH, fmt: str = "JPEG",
                      quality: int = JPEG_QUALITY) -> Screenshot:
    """Scale (aspect kept, never up) and encode. Pure QImage work: run it on a worker thread."""
    if image.width() > max_width:
        image = image.scaledToWidth(max_width, Qt.TransformationMode.SmoothTransformation)
    if fmt.upper() == "JPEG":
        image = image.convertToFormat(QImage.Format.Format_RGB888)  # JPEG has no alpha
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    # PySide6 takes the format as str here; the stubs say bytes, which it refuses at run time (6.11)
    if not image.save(buffer, fmt.upper(), quality):  # type: ignore[call-overload]
        raise ValueError(f"could not encode a {image.width()}x{image.height()} screenshot as {fmt}")
    buffer.close()
    content_type = "image/png" if fmt.upper() == "PNG" else "image/jpeg"
    return Screenshot(bytes(data.data()), content_type, taken_at, image.width(), image.height())


class _GuiInvoker(QObject):
    call = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.call.connect(self._run, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def _run(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            log.exception("a call handed to the GUI thread failed")


_invoker: _GuiInvoker | None = None


GUI_CALL_TIMEOUT_S = 30.0  # how long a remote command waits for the GUI thread to run its action


def on_gui_thread(fn: Callable[..., Any], stopping: threading.Event | None = None) -> Callable[..., Any]:
    """Wrap ``fn`` so that calling it from any thread runs it on the GUI thread; the caller waits for it and gets
    its result or its exception, so a remote command reports what really happened (before, ``ok`` went to the hub
    before the action ran). A GUI thread busier than GUI_CALL_TIMEOUT_S gives TimeoutError, and *stopping* set
    (the player exits: its GUI thread runs no more events) gives RuntimeError at once; either way the action is
    dropped if it has not started. Called on the GUI thread itself, ``fn`` runs at once. Create the wrapper on
    the GUI thread."""
    global _invoker
    if _invoker is None:
        _invoker = _GuiInvoker()
    invoker = _invoker

    def call(*args: Any) -> Any:
        if QThread.currentThread() == invoker.thread():
            return fn(*args)
        outcome: Future[Any] = Future()

        def run() -> None:
            if not outcome.set_running_or_notify_cancel():
                return  # the caller stopped waiting
            try:
                outcome.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                outcome.set_exception(exc)

        invoker.call.emit(run)
        deadline = time.monotonic() + GUI_CALL_TIMEOUT_S
        while True:
            try:  # in short waits, to notice the player stopping
                return outcome.result(timeout=min(0.25, max(0.0, deadline - time.monotonic())))
            except FutureTimeout:
                if stopping is not None and stopping.is_set():
                    outcome.cancel()
                    raise RuntimeError("the player is stopping") from None
                if time.monotonic() >= deadline:
                    outcome.cancel()
                    raise TimeoutError(f"the screen did not get to it within {GUI_CALL_TIMEOUT_S:.0f} s") from None

    return call


def grab_screen(window: QWidget) -> QImage:
    """What *window* shows now, as a viewer sees it. While VLC draws a video into a native child window (X11 only),
    the window's area is read back from the X server, so the video is in it (one round trip: 9.4 ms for 1920x1080
    on Xvfb here, against 0.5 ms for a widget grab). Otherwise (no video showing, offscreen, a window not on screen)
    Qt repaints the widgets into a pixmap, which is all there is to see."""
    if window.isVisible() and any(surface.isVisible()
                                  for surface in window.findChildren(QWidget, NATIVE_VIDEO_SURFACE)):
        screen = window.screen()
        if screen is not None:
            pixmap = screen.grabWindow(window.winId())
            if not pixmap.isNull():
                return pixmap.toImage()
    return window.grab().toImage()


class ScreenReporter(QObject):
    """Connects a PlayerWindow to the reporting: now playing, proof of play, screenshots."""

    screenshot_encoded = Signal(object)  # Screenshot (emitted from the worker thread; for tests/observers)

    def __init__(self, window: PlayerWindow, now_playing: NowPlaying, proof: ProofRecorder | None = None,
                 screenshots: ScreenshotChannel | None = None, *, screenshot_interval_s: float = 600.0,
                 max_width: int = MAX_WIDTH, fmt: str = "JPEG",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(window)
        self.window = window
        self.now_playing = now_playing
        self.proof = proof
        self.screenshots = screenshots
        self.max_width = max_width
        self.fmt = fmt
        self.clock = clock
        self._keys = itertools.count(1)
        self._encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="osc-screenshot")
        self._encoding = False
        window.layout_changed.connect(self._layout_changed)
        window.layout_changed.connect(self._scan)
        window.first_frame.connect(self._scan)
        window.installEventFilter(self)
        self._timer = QTimer(self)
        if screenshots is not None and screenshot_interval_s > 0:
            self._timer.setInterval(int(screenshot_interval_s * 1000))
            self._timer.timeout.connect(self.take_screenshot)
            self._timer.start()
            window.first_frame.connect(lambda: QTimer.singleShot(FIRST_SHOT_DELAY_MS, self.take_screenshot))
        self._scan()

    # ------------------------------------------------------------------------------------- what is on screen
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.window and event.type() == QEvent.Type.ChildPolished:
            child = event.child()  # type: ignore[attr-defined]
            if isinstance(child, Stage):
                self._hook_stage(child)
        return False

    def _layout_changed(self, name: str) -> None:
        self.now_playing.set_layout(name)

    def _scan(self, *_args: object) -> None:
        for stage in self.window.findChildren(Stage):
            self._hook_stage(stage)

    def _hook_stage(self, stage: Stage) -> None:
        for zone in stage.zones:
            if not zone.property(_HOOKED):
                self._hook_zone(zone, stage.name)

    def _hook_zone(self, zone: ZoneWidget, layout: str) -> None:
        zone.setProperty(_HOOKED, True)
        key = next(self._keys)
        proof, now_playing = self.proof, self.now_playing

        def started(zone_id: str, item_id: str, src: str) -> None:
            now_playing.item_started(zone_id, item_id, src)
            if proof is not None:
                proof.started(key, zone_id, item_id, src, layout)

        def ended(zone_id: str, item_id: str) -> None:
            now_playing.item_ended(zone_id, item_id)
            if proof is not None:
                proof.ended(key, item_id)

        def gone(*_args: object) -> None:
            if proof is not None:
                proof.zone_gone(key)

        zone.item_started.connect(started)
        zone.item_ended.connect(ended)
        zone.destroyed.connect(gone)

    # ------------------------------------------------------------------------------------------- screenshots
    def take_screenshot(self) -> Future[Screenshot] | None:
        """Grab the window now (GUI thread); encoding and delivery happen elsewhere. Returns the encoding job."""
        if self._encoding:  # a slow encode is still running: skip rather than pile up
            return None
        if not self.window.isVisible():
            return None
        taken_at = self.clock()
        image = grab_screen(self.window)
        self._encoding = True
        future = self._encoder.submit(encode_screenshot, image, taken_at, max_width=self.max_width, fmt=self.fmt)
        future.add_done_callback(self._encoded)
        return future

    def _encoded(self, future: Future[Screenshot]) -> None:  # worker thread
        self._encoding = False
        exc = future.exception()
        if exc is not None:
            log.error("screenshot could not be encoded: %s", exc)
            return
        shot = future.result()
        if self.screenshots is not None:
            self.screenshots.submit(shot)
        self.screenshot_encoded.emit(shot)

    def stop(self) -> None:
        self._timer.stop()
        self._encoder.shutdown(wait=True)
        if self.proof is not None:
            self.proof.close_all()
