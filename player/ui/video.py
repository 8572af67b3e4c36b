"""Video items through python-vlc on the system libvlc.

How a video gets on screen without a black frame
------------------------------------------------
* On X11 (xcb) VLC renders into a *native* child window (``_VideoSurface``) of the top-level window. Qt creates
  native windows with no X background (``back_pixmap = None``), and VLC (GL output) draws straight into that window:
  when the window is mapped, the X server leaves the pixels that were on screen (the previous item) in place until
  VLC paints its first picture. Nothing is ever filled with black.
* ``prepare()`` (the zone calls it while the previous item is still showing) opens the file into the still unmapped
  window and starts playback; at the first video output event the first picture is decoded, the player is paused
  and ``ready`` is emitted. ``start()`` maps the window above the previous item and resumes.
* The surface is a child of the *top-level* window, not of the view: the zone deletes views with ``deleteLater()``,
  but VLC may only lose its window after the player has been stopped (otherwise Xlib-based outputs can abort the
  process). Stopping and releasing a player blocks, so it happens on the engine's own thread; the surface is deleted
  (on the GUI thread) when that is done.
* Without a native window system (``QT_QPA_PLATFORM=offscreen`` for ``osc-player preview``, or another platform
  plugin) frames are rendered into memory (libvlc "vmem" callbacks) and painted by Qt; the preview shows the first
  frame.

libvlc events arrive on VLC threads; they are handed to the GUI thread through a queued Qt signal.
Every libvlc call that can block (creating a player, stop, release) runs on the engine thread, never on the GUI thread.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QPoint, QRect, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtWidgets import QWidget

from player.memory import malloc_trim
from player.model import Fit, VideoItem
from player.ui.items import NATIVE_VIDEO_SURFACE, VIEW_FACTORIES, ItemView, RenderContext

log = logging.getLogger(__name__)

try:  # the player still starts (videos are skipped with one log line) when libvlc is missing
    import vlc
except (ImportError, OSError) as _exc:  # pragma: no cover - depends on the system
    vlc = None  # type: ignore[assignment]
    _VLC_IMPORT_ERROR = str(_exc)
else:
    _VLC_IMPORT_ERROR = ""

FIRST_PICTURE_TIMEOUT_MS = 1800  # a file without a picture after this long is reported and skipped (issue: < 2 s)
# counted from the moment the engine thread starts on the file: before that it may be busy releasing other players
# (a loaded Pi: good clips were skipped as "no picture" after waiting in the queue). This longer limit from prepare()
# still catches an engine thread that never gets to the file.
ENGINE_QUEUE_TIMEOUT_MS = 10_000
LOOP_REPEATS = 65535  # "loop to fill": VLC repeats the input in place (no new video output, so no flash)
WRAP_BACK_MS = 700  # a time jump backwards of more than this while looping means the video started over
# a playing video whose playing time has not moved for this long is given up (one log line) and the zone moves on:
# VLC reports the time every 250-300 ms while it plays; a file on a share that hangs, or a decoder that locks up,
# would otherwise hold its zone on one frame until the next layout switch
STALL_MS = 10_000


# releases between two malloc_trim calls (a few ms each, on the engine thread). Every player brings its own
# short-lived decoder and output threads; their malloc arenas fragment over hundreds of plays and the freed pages
# would stay in the process
TRIM_EVERY = 10


def default_vlc_args() -> list[str]:
    from player.config import SCHEMA

    return list(SCHEMA["video"]["vlc_args"][1])


class VideoUnavailable(RuntimeError):
    """libvlc cannot be used on this machine (not installed, plugins missing)."""


# ------------------------------------------------------------------------------------------------ the engine
class _Playback:
    """One libvlc player with its media, event handler, surface and (in memory mode) frame buffer."""

    def __init__(self, engine: VideoEngine, handler: Callable[[str, Any], None], surface: QWidget | None):
        self.engine = engine
        self.handler: Callable[[str, Any], None] | None = handler  # GUI thread; None once the view let go
        self.surface = surface
        self.player: Any = None
        self.media: Any = None
        self.events: list[Any] = []  # event types attached
        self.callbacks: list[Any] = []  # ctypes callbacks that must outlive the player
        self.buffer: Any = None
        self.frame_size = (0, 0)
        self.frame_wanted = threading.Event()
        self.frame_wanted.set()
        self.released = False

    def teardown(self) -> None:
        """Engine thread: detach events, stop, release. Safe to call twice."""
        if self.released:
            return
        self.released = True
        player, media = self.player, self.media
        self.player = self.media = None
        if player is not None:
            manager = player.event_manager()
            for kind in self.events:
                try:
                    manager.event_detach(kind)
                except Exception:  # noqa: BLE001 - never let cleanup stop the cleanup
                    pass
            player.stop()
            player.release()
            _forget_event_manager(player)
        if media is not None:
            media.release()
            _forget_event_manager(media)
        self.events.clear()


def _forget_event_manager(obj: Any) -> None:
    """python-vlc memoizes ``event_manager()`` per object in a class-level dict that is never emptied: every
    player would stay alive (with its callbacks and everything they reference) for the life of the process."""
    memo = type(obj).__dict__.get("event_manager")
    cache = getattr(memo, "_cache", None)
    if isinstance(cache, dict):
        cache.pop(obj, None)


class VideoEngine(QObject):
    """The one ``vlc.Instance`` of the process and the thread that does everything with libvlc that may block."""

    _done = Signal(object)  # (callback, result) delivered on the GUI thread
    _event = Signal(object, str, object)  # (playback, kind, value) from VLC threads, delivered on the GUI thread

    def __init__(self, vlc_args: list[str] | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.vlc_args = list(vlc_args) if vlc_args is not None else default_vlc_args()
        self._instance: Any = None
        self._instance_error = ""
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="osc-vlc")
        self._live: set[_Playback] = set()
        self._warmed: set[int] = set()  # top-level windows that had their first video output
        self._done.connect(self._deliver)
        self._event.connect(self._dispatch)
        self._trim = malloc_trim()
        self._released = 0
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # ---------------------------------------------------------------------------------------- instance
    def instance(self) -> Any:
        """Engine thread (or tests): the shared ``vlc.Instance``, created on first use."""
        if self._instance is None:
            if vlc is None:
                raise VideoUnavailable(f"python-vlc/libvlc is not usable: {_VLC_IMPORT_ERROR}")
            if self._instance_error:
                raise VideoUnavailable(self._instance_error)
            instance = vlc.Instance(self.vlc_args)
            if instance is None:
                self._instance_error = ("libvlc could not be started with [video] vlc_args = "
                                        f"{self.vlc_args!r} (is the 'vlc-plugin-base' package installed?)")
                log.error("%s", self._instance_error)
                raise VideoUnavailable(self._instance_error)
            self._instance = instance
        return self._instance

    # ------------------------------------------------------------------------------------------ threads
    def run(self, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
            on_error: Callable[[BaseException], None] | None = None) -> Future[Any]:
        """``fn`` on the engine thread; ``on_done(result)`` / ``on_error(exc)`` on the GUI thread."""
        future = self._pool.submit(fn)

        def finished(f: Future[Any]) -> None:
            if f.cancelled():
                return
            exc = f.exception()
            if exc is None:
                if on_done is not None:
                    self._done.emit((on_done, f.result()))
            elif on_error is not None:
                self._done.emit((on_error, exc))
            else:
                log.error("video engine: %s", exc)

        future.add_done_callback(finished)
        return future

    def post(self, pb: _Playback, kind: str, value: Any) -> None:
        """Any thread (VLC's): hand an event to the GUI thread."""
        self._event.emit(pb, kind, value)

    @Slot(object, str, object)
    def _dispatch(self, pb: _Playback, kind: str, value: Any) -> None:
        if pb.handler is not None and not pb.released:
            pb.handler(kind, value)

    @Slot(object)
    def _deliver(self, packet: tuple[Callable[[Any], None], Any]) -> None:
        fn, value = packet
        try:
            fn(value)
        except RuntimeError as err:  # a receiver widget was deleted meanwhile
            log.debug("video engine: dropped a result for a deleted receiver: %s", err)

    # -------------------------------------------------------------------------------------- warm-up
    def warm_up(self, top: QWidget) -> None:
        """Once per top-level window, before its first real video: one tiny picture through a video output into an
        unmapped child window. Otherwise the first video output in a window presented one black frame when it was
        mapped (measured under Xvfb/Mesa); afterwards every output starts with its picture."""
        key = int(top.winId())
        if key in self._warmed:
            return
        self._warmed.add(key)
        top.destroyed.connect(lambda _=None, key=key: self._warmed.discard(key))
        surface = _VideoSurface(top)
        surface.setGeometry(0, 0, 16, 16)
        xid = int(surface.winId())

        def failed(exc: BaseException) -> None:
            log.debug("video warm-up: %s", exc)
            surface.deleteLater()

        self.run(lambda: self._warm(xid), lambda _r: surface.deleteLater(), failed)

    def _warm(self, xid: int) -> None:
        import tempfile

        image = QImage(16, 16, QImage.Format.Format_RGB32)
        image.fill(0x101010)
        with tempfile.TemporaryDirectory(prefix="osc-video-") as tmp:
            path = Path(tmp) / "warm.png"
            image.save(str(path), "PNG")  # type: ignore[call-overload]  # PySide6 takes str here (not bytes)
            media = self.instance().media_new_path(str(path))
            media.add_option(":no-audio")
            player = self.instance().media_player_new()
            shown = threading.Event()
            player.event_manager().event_attach(vlc.EventType.MediaPlayerVout, lambda _e: shown.set())
            player.set_media(media)
            player.set_xwindow(xid)
            player.play()
            shown.wait(2.0)
            shown.clear()
            shown.wait(0.15)  # let the output draw once
            player.event_manager().event_detach(vlc.EventType.MediaPlayerVout)
            player.stop()
            player.release()
            media.release()
            _forget_event_manager(player)

    # ------------------------------------------------------------------------------------ playbacks
    def track(self, pb: _Playback) -> None:
        self._live.add(pb)

    def dispose(self, pb: _Playback, hung: bool = False) -> None:
        """Stop and release on the engine thread; afterwards (GUI thread) drop the surface. ``hung``: a player whose
        input stopped moving is released on a thread of its own, since stopping it may block as long as the read
        it waits for (a share that hangs): the engine thread stays free for every other video."""
        if pb.surface is not None:
            pb.surface.hide()

        def gone(_: Any = None) -> None:
            self._live.discard(pb)
            if pb.surface is not None:
                pb.surface.deleteLater()
                pb.surface = None
            pb.handler = None
            pb.callbacks.clear()
            pb.buffer = None

        def teardown() -> None:
            pb.teardown()
            self._released += 1
            if self._released % TRIM_EVERY == 0:
                self._trim()

        def failed(exc: BaseException) -> None:
            log.error("video: releasing a player failed: %s", exc)
            gone()

        if hung:
            def alone() -> None:
                try:
                    pb.teardown()
                except Exception as exc:  # noqa: BLE001 - reported on the GUI thread; the surface must still go
                    self._done.emit((failed, exc))
                    return
                self._done.emit((gone, None))

            threading.Thread(target=alone, name="osc-vlc-stalled", daemon=True).start()
            return
        self.run(teardown, gone, failed)

    def live_count(self) -> int:
        """Players not yet released (tests watch this for leaks)."""
        return len(self._live)

    def shutdown(self) -> None:
        """At exit: release everything now (blocking is fine here)."""
        for pb in list(self._live):
            try:
                pb.teardown()
            except Exception as exc:  # noqa: BLE001
                log.debug("video: teardown at exit: %s", exc)
        self._live.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="osc-vlc")


_shared_engine: VideoEngine | None = None


def shared_engine(vlc_args: list[str] | None = None) -> VideoEngine:
    """The process-wide engine (created on the GUI thread on first use). ``vlc_args`` only count the first time."""
    global _shared_engine
    if _shared_engine is None:
        _shared_engine = VideoEngine(vlc_args)
    return _shared_engine


def engine_for(ctx: RenderContext) -> VideoEngine:
    engine = ctx.extras.get("video")
    if not isinstance(engine, VideoEngine):
        engine = shared_engine(ctx.extras.get("vlc_args"))
        ctx.extras["video"] = engine
    return engine


def native_video_possible() -> bool:
    """VLC can draw into our windows only on X11; elsewhere frames go through memory."""
    return QGuiApplication.platformName() == "xcb"


# ------------------------------------------------------------------------------------------------ geometry
def contain_rect(video_w: int, video_h: int, area: QRect) -> QRect:
    if video_w <= 0 or video_h <= 0:
        return QRect(area)
    scale = min(area.width() / video_w, area.height() / video_h)
    w, h = max(1, round(video_w * scale)), max(1, round(video_h * scale))
    return QRect(area.x() + (area.width() - w) // 2, area.y() + (area.height() - h) // 2, w, h)


def _reduced(w: int, h: int) -> str:
    from math import gcd

    g = gcd(max(1, w), max(1, h))
    return f"{max(1, w) // g}:{max(1, h) // g}"


# ------------------------------------------------------------------------------------------------ the view
class _VideoSurface(QWidget):
    """A native X window VLC draws into; Qt never paints it (no background, no backing store)."""

    def __init__(self, top: QWidget):
        super().__init__(top)
        for attr in (Qt.WidgetAttribute.WA_DontCreateNativeAncestors, Qt.WidgetAttribute.WA_NativeWindow,
                     Qt.WidgetAttribute.WA_PaintOnScreen, Qt.WidgetAttribute.WA_NoSystemBackground,
                     Qt.WidgetAttribute.WA_OpaquePaintEvent, Qt.WidgetAttribute.WA_TransparentForMouseEvents):
            self.setAttribute(attr, True)
        self.setAutoFillBackground(False)
        self.setObjectName(NATIVE_VIDEO_SURFACE)
        self.hide()

    # VLC owns the pixels: no paint engine (Qt's way for WA_PaintOnScreen; the stubs do not allow None)
    def paintEngine(self) -> None:  # type: ignore[override]  # noqa: N802
        return None

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        return


# chroma is written by the callback, so it cannot be the c_char_p python-vlc declares
_FormatCb = ctypes.CFUNCTYPE(ctypes.c_uint, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_char),
                             ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_uint),
                             ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_uint))
_CleanupCb = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_LockCb = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p))
_UnlockCb = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p))
_DisplayCb = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


def _install_memory_output(pb: _Playback, max_w: int, max_h: int) -> None:
    """Engine thread: decode into an RV32 buffer (at most about zone size) and relay copies of the frames."""
    set_callbacks = vlc.dll["libvlc_video_set_callbacks"]
    set_callbacks.argtypes = [ctypes.c_void_p, _LockCb, _UnlockCb, _DisplayCb, ctypes.c_void_p]
    set_callbacks.restype = None
    set_format = vlc.dll["libvlc_video_set_format_callbacks"]
    set_format.argtypes = [ctypes.c_void_p, _FormatCb, _CleanupCb]
    set_format.restype = None

    def setup(_opaque: Any, chroma: Any, width: Any, height: Any, pitches: Any, lines: Any) -> int:
        w, h = int(width[0]), int(height[0])
        if w <= 0 or h <= 0:
            return 0
        scale = min(1.0, max(max_w / w, max_h / h))  # enough pixels for contain and cover alike
        w, h = max(2, int(w * scale) & ~1), max(2, int(h * scale) & ~1)
        ctypes.memmove(chroma, b"RV32", 4)
        width[0], height[0], pitches[0], lines[0] = w, h, w * 4, h
        pb.buffer = ctypes.create_string_buffer(w * h * 4)
        pb.frame_size = (w, h)
        return 1

    def cleanup(_opaque: Any) -> None:
        return

    def lock(_opaque: Any, planes: Any) -> Any:
        planes[0] = ctypes.addressof(pb.buffer)
        return None

    def unlock(_opaque: Any, _picture: Any, _planes: Any) -> None:
        return

    def display(_opaque: Any, _picture: Any) -> None:
        if pb.frame_wanted.is_set() and pb.buffer is not None:  # the GUI took the last one: hand over the next
            pb.frame_wanted.clear()
            w, h = pb.frame_size
            pb.engine.post(pb, "frame", (ctypes.string_at(ctypes.addressof(pb.buffer), w * h * 4), w, h))

    callbacks = [_FormatCb(setup), _CleanupCb(cleanup), _LockCb(lock), _UnlockCb(unlock), _DisplayCb(display)]
    pb.callbacks.extend(callbacks)
    handle = _handle(pb.player)
    set_callbacks(handle, callbacks[2], callbacks[3], callbacks[4], None)
    set_format(handle, callbacks[0], callbacks[1])


_EVENTS = {
    "MediaPlayerVout": "vout",
    "MediaPlayerEncounteredError": "error",
    "MediaPlayerEndReached": "end",
    "MediaPlayerTimeChanged": "time",
}


class _TrackVideo(ctypes.Structure):
    _fields_ = [("height", ctypes.c_uint), ("width", ctypes.c_uint), ("sar_num", ctypes.c_uint),
                ("sar_den", ctypes.c_uint)]


class _Track(ctypes.Structure):  # libvlc_media_track_t (python-vlc declares the union as three pointers)
    _fields_ = [("codec", ctypes.c_uint32), ("original_fourcc", ctypes.c_uint32), ("id", ctypes.c_int),
                ("type", ctypes.c_int), ("profile", ctypes.c_int), ("level", ctypes.c_int),
                ("detail", ctypes.c_void_p), ("bitrate", ctypes.c_uint), ("language", ctypes.c_char_p),
                ("description", ctypes.c_char_p)]


_TRACK_VIDEO = 1  # libvlc_track_video


def _video_track_size(media: Any) -> tuple[int, int] | None:
    """Display size of the first video track of a parsed media (sample aspect applied), None without one."""
    get = vlc.dll["libvlc_media_tracks_get"]
    get.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.POINTER(ctypes.POINTER(_Track)))]
    get.restype = ctypes.c_uint
    release = vlc.dll["libvlc_media_tracks_release"]
    release.argtypes = [ctypes.POINTER(ctypes.POINTER(_Track)), ctypes.c_uint]
    release.restype = None
    tracks = ctypes.POINTER(ctypes.POINTER(_Track))()
    n = get(_handle(media), ctypes.byref(tracks))
    try:
        for k in range(n):
            track = tracks[k].contents
            if track.type == _TRACK_VIDEO and track.detail:
                v = ctypes.cast(track.detail, ctypes.POINTER(_TrackVideo)).contents
                if v.width and v.height:
                    w = v.width * v.sar_num // v.sar_den if v.sar_num and v.sar_den else v.width
                    return int(w), int(v.height)
        return None
    finally:
        if n:
            release(tracks, n)


def _handle(obj: Any) -> ctypes.c_void_p:
    param = obj._as_parameter_
    return ctypes.c_void_p(param.value if hasattr(param, "value") else param)


def _probe(engine: VideoEngine, pb: _Playback, path: Path, item: VideoItem) -> tuple[int, int]:
    """Engine thread: open and parse the file (local, fast); its video size, or an error a person can act on."""
    instance = engine.instance()
    media = instance.media_new_path(str(path))
    if media is None:
        raise VideoUnavailable(f"libvlc could not open video '{item.src}'")
    pb.media = media
    media.parse()
    size = _video_track_size(media)
    if size is None:
        raise VideoUnavailable(f"video '{item.src}' has no picture VLC can read (empty, corrupt or unsupported file?)")
    return size


def _start(engine: VideoEngine, pb: _Playback, item: VideoItem, xid: int | None, memory_size: tuple[int, int],
           crop: str | None, aspect: str | None) -> None:
    """Engine thread: a new player for the probed media, started into the (unmapped) window or into memory."""
    if pb.released or pb.media is None:
        return
    engine.post(pb, "probing", None)  # the first-picture clock starts again: a warm-up may have run in between
    media = pb.media
    if item.volume <= 0:
        media.add_option(":no-audio")
    if item.loop:  # VLC starts the input over in place: the same output, no new window, no flash. A single item
        # played to its end is started over by the zone instead (stop and play, _ended): with VLC repeating, a pass
        # could not be counted for proof of play, since VLC's time events (every 250-300 ms) alias on short clips
        media.add_option(f":input-repeat={LOOP_REPEATS}")
    player = engine.instance().media_player_new()
    pb.player = player
    player.set_media(media)
    player.video_set_key_input(False)
    player.video_set_mouse_input(False)
    if crop:
        player.video_set_crop_geometry(crop)
    if aspect:
        player.video_set_aspect_ratio(aspect)
    if xid is not None:
        player.set_xwindow(xid)
    else:
        _install_memory_output(pb, *memory_size)
    manager = player.event_manager()
    for name, short in _EVENTS.items():
        kind = getattr(vlc.EventType, name)

        def forward(event: Any, short: str = short) -> None:
            if short == "vout":
                value: Any = int(event.u.new_count) & 0xFFFFFFFF  # python-vlc reads the union too wide
            elif short == "time":
                value = event.u.new_time
            else:
                value = None
            pb.engine.post(pb, short, value)

        manager.event_attach(kind, forward)
        pb.events.append(kind)
    if item.volume > 0:
        player.audio_set_volume(max(0, min(100, item.volume)))
    if player.play() != 0:
        raise VideoUnavailable(f"libvlc could not start video '{item.src}'")


def _replay(pb: _Playback) -> None:
    """Engine thread: start the same file again (a single video in its zone, played to its end)."""
    if pb.player is not None and not pb.released:
        pb.player.stop()
        pb.player.play()


def _release_orphan(attrs: dict[str, Any], engine: VideoEngine) -> None:
    """A VideoView's C++ side is gone: release the player it still held (``attrs`` is the view's ``__dict__``)."""
    pb = attrs.get("_pb")
    if pb is None:
        return
    attrs["_pb"] = None
    pb.handler = None
    log.warning("video: a view was deleted while its player was still open; released now")
    engine.dispose(pb)


class VideoView(ItemView):
    """A video item. ``ready`` means: the first picture is decoded and will be drawn the moment the view starts."""

    item: VideoItem
    # class-level defaults: Qt may deliver show/hide/resize events while ItemView.__init__ runs (it hides the new
    # view; under a native parent that is an event), before __init__ below has set these. Seen in the soak: the
    # AttributeError ended the zone's sequencing, and the zone froze after a layout switch.
    _pb: _Playback | None = None
    _state = "new"
    _ended_early = False
    _longest = 0  # the latest playing time seen (ms): about the clip's length once it has looped
    _probing_seen = False  # the engine thread has started on this file
    _at_end = False  # played to its end and not started again

    def __init__(self, item: VideoItem, ctx: RenderContext, parent: QWidget):
        super().__init__(item, ctx, parent)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground, True)
        self._engine = engine_for(ctx)
        # a player turning its own picture (player/ui/rotated.py) cannot let VLC draw into a window
        self._native = native_video_possible() and ctx.extras.get("native_video", True) is not False
        self._pb: _Playback | None = None
        self._state = "new"  # new -> opening -> ready -> playing -> stopped | failed
        self._frame: QImage | None = None
        self._video_size = (0, 0)
        self._last_time = 0
        self._timeout = QTimer(self)
        self._timeout.setSingleShot(True)
        self._timeout.timeout.connect(self._no_picture)
        self._stall = QTimer(self)  # armed while playing; every report of VLC's playing time re-arms it
        self._stall.setSingleShot(True)
        self._stall.timeout.connect(self._stalled)
        # last line of defence: a view deleted without stop() (its zone or layout deleted under it) must not keep
        # its VLC player, video output and threads alive for the life of the process
        self.destroyed.connect(lambda _obj=None, attrs=self.__dict__, engine=self._engine: _release_orphan(attrs, engine))

    @property
    def ends_itself(self) -> bool:
        return self.item.duration is None

    @property
    def may_end_early(self) -> bool:
        return True  # a clip shorter than its duration ends the item early

    @property
    def state(self) -> str:
        return self._state

    # ------------------------------------------------------------------------------------------ life cycle
    def prepare(self) -> None:
        if self._state != "new":
            return
        path = self.ctx.resolve_media(self.item.src)
        if path is None:
            self._fail(f"video '{self.item.src}' is not available (missing file or not cached)")
            return
        pb = _Playback(self._engine, self._on_event, None)
        self._pb = pb
        self._engine.track(pb)
        self._state = "opening"
        self._timeout.start(ENGINE_QUEUE_TIMEOUT_MS)

        def probe(pb: _Playback = pb, engine: VideoEngine = self._engine, item: VideoItem = self.item) -> tuple[int, int]:
            engine.post(pb, "probing", None)  # the first-picture clock starts now (GUI thread, _on_event)
            return _probe(engine, pb, path, item)

        self._engine.run(probe, partial(self._probed, pb), partial(self._open_failed, pb))

    def _probed(self, pb: _Playback, size: tuple[int, int]) -> None:
        """GUI thread: the native window is created with its final geometry (X applies a hidden window's new
        geometry only when it is mapped, and VLC would draw at the old size until it notices)."""
        if pb is not self._pb or self._state != "opening":
            return
        self._video_size = size
        xid: int | None = None
        if self._native:
            self._engine.warm_up(self.window())
            pb.surface = _VideoSurface(self.window())
            pb.surface.setGeometry(self._surface_rect())
            xid = int(pb.surface.winId())
        w, h = max(1, self.width()), max(1, self.height())
        crop = _reduced(w, h) if self.item.fit == Fit.COVER and pb.surface is not None else None
        aspect = _reduced(w, h) if self.item.fit == Fit.STRETCH and pb.surface is not None else None
        memory = (max(2, self.width()), max(2, self.height()))
        self._engine.run(lambda: _start(self._engine, pb, self.item, xid, memory, crop, aspect), None,
                         partial(self._open_failed, pb))

    def start(self) -> None:
        super().start()
        if self._state != "ready" or self._pb is None:
            return
        self._state = "playing"
        self._stall.start(STALL_MS)
        surface = self._pb.surface
        if surface is not None:
            surface.setGeometry(self._surface_rect())
            surface.show()
            # right above its own layout, below overlays, interrupts and messages (PlayerWindow.restack);
            # a bare top-level (tests, tools) just puts it on top
            restack = getattr(self.window(), "restack", None)
            if callable(restack):
                restack()
            else:
                surface.raise_()
        if self._pb.player is not None:
            self._pb.player.set_pause(0)
        if self._ended_early:  # VLC already said "end" while the first picture waited: nothing more will come
            self._ended_early = False
            QTimer.singleShot(0, self._ended)

    def stop(self) -> None:
        if self._state not in ("stopped",):
            self._state = "stopped"
            self._timeout.stop()
            self._stall.stop()
            self._release()
        self._frame = None
        super().stop()

    def _release(self, hung: bool = False) -> None:
        pb, self._pb = self._pb, None
        if pb is None:
            return
        pb.handler = None
        self._engine.dispose(pb, hung)

    # ---------------------------------------------------------------------------------------- events
    def _open_failed(self, pb: _Playback, exc: BaseException) -> None:
        if pb is self._pb:
            self._fail(str(exc) if isinstance(exc, VideoUnavailable) else f"video '{self.item.src}': {exc}")

    def _no_picture(self) -> None:
        if not self._probing_seen:  # the engine thread never got to this file
            self._fail(f"video '{self.item.src}' not started: the video engine has been busy for "
                       f"{ENGINE_QUEUE_TIMEOUT_MS / 1000:g} s (an earlier video stuck on a hung share?)")
            return
        self._fail(f"video '{self.item.src}' shows no picture after {self._timeout.interval() / 1000:.1f} s "
                   "(corrupt or unsupported file?)")

    def _stalled(self) -> None:
        if self._state == "playing":
            self._fail(f"video '{self.item.src}' stopped moving at {self._last_time / 1000:.1f} s (no progress for "
                       f"{self._stall.interval() / 1000:g} s: a hung network share or a damaged file?)", hung=True)

    def _fail(self, message: str, hung: bool = False) -> None:
        if self._state in ("failed", "stopped"):
            return
        self._state = "failed"
        self._timeout.stop()
        self._stall.stop()
        self._release(hung)
        self.failed.emit(message)

    def _on_event(self, kind: str, value: Any) -> None:
        if self._pb is None or self._state in ("failed", "stopped"):
            return
        if kind == "probing":  # the engine starts on this file (probe, then start): the limit counts from here
            self._probing_seen = True
            if self._state == "opening":
                self._timeout.start(FIRST_PICTURE_TIMEOUT_MS)
        elif kind == "vout":
            if value and self._state == "opening" and self._native:
                self._first_picture()  # the output exists: the first picture is decoded and held
        elif kind == "frame":
            data, w, h = value
            self._frame = QImage(data, w, h, w * 4, QImage.Format.Format_RGB32).copy()
            self._pb.frame_wanted.set()
            # frames do not count as progress: with its input hung, VLC keeps redrawing the last picture
            if self._state == "opening":
                self._first_picture()
            else:
                self.update()
        elif kind == "error":
            self._fail(f"VLC cannot play video '{self.item.src}' (corrupt or unsupported file?)")
        elif kind == "end":
            self._ended()
        elif kind == "time":
            self._time_changed(int(value or 0))

    def _first_picture(self) -> None:
        pb = self._pb
        assert pb is not None
        self._timeout.stop()
        if pb.player is not None:
            pb.player.set_pause(1)  # asynchronous; holds the first picture until start()
        self._state = "ready"
        self._set_ready()

    def _ended(self) -> None:
        if self._state in ("opening",):
            self._fail(f"video '{self.item.src}' has no picture VLC can show (empty, corrupt or audio only?)")
            return
        if self._state == "ready":  # ended while waiting to be shown (a very short clip): end once it is shown
            self._ended_early = True
            return
        if self._state != "playing":
            return
        self._stall.stop()  # played to its end: no more progress to expect
        self._at_end = True
        self.finished.emit()  # a zone that keeps it on screen (the only item left) calls play_again()

    def play_again(self) -> None:
        """Start a video that played to its end over (its zone keeps it on screen: the only item left). The
        watchdog is armed once the engine thread has restarted it, not while that waits in the queue."""
        pb = self._pb
        if self._state != "playing" or pb is None or not self._at_end:
            return
        self._at_end = False

        def restarted(_result: Any, pb: _Playback = pb) -> None:
            if pb is self._pb and self._state == "playing" and not self._at_end:
                self._stall.start(STALL_MS)

        self._engine.run(lambda: _replay(pb), restarted)

    def _time_changed(self, ms: int) -> None:
        # moving: VLC repeats the same time while a decoder or the output is stuck, and while it drains at the end;
        # a clip that ended stays disarmed (_last_time is always the previous report)
        if ms != self._last_time and self._state == "playing" and self._stall.isActive():
            self._stall.start(STALL_MS)
        if self.item.loop and self.item.duration is None and self._state == "playing":
            self._longest = max(self._longest, ms)
            # looped on itself: one "play" for the zone / proof of play. Half the clip's length is the jump that counts
            # when that is less than WRAP_BACK_MS (a 1 s clip: 900 -> 150 ms). Clips under ~0.6 s are not counted
            # reliably: VLC's time events come every 250-300 ms and alias with the loop
            if ms + min(WRAP_BACK_MS, self._longest // 2) < self._last_time:
                self._last_time = ms
                self.finished.emit()
                return
        self._last_time = ms

    # -------------------------------------------------------------------------------------- geometry/fit
    def native_surface(self) -> QWidget | None:
        """The native window VLC draws into while it is on screen (None in memory mode or when not playing);
        the player window stacks it right above this view's layout."""
        pb = self._pb
        if pb is None or pb.surface is None or self._state != "playing":
            return None
        return pb.surface

    def _zone_rect_in_window(self) -> QRect:
        top_left = self.mapTo(self.window(), QPoint(0, 0))
        return QRect(top_left, self.size())

    def _surface_rect(self) -> QRect:
        area = self._zone_rect_in_window()
        if self.item.fit == Fit.CONTAIN:
            return contain_rect(*self._video_size, area)  # the zone's background shows in the bars
        return area

    def resizeEvent(self, _event: object) -> None:  # noqa: N802
        if self._pb is not None and self._pb.surface is not None:
            self._pb.surface.setGeometry(self._surface_rect())

    def showEvent(self, _event: object) -> None:  # noqa: N802
        if self._state == "playing" and self._pb is not None and self._pb.surface is not None:
            self._pb.surface.show()

    def hideEvent(self, _event: object) -> None:  # noqa: N802 - an ancestor hid: the window must follow
        if self._pb is not None and self._pb.surface is not None:
            self._pb.surface.hide()

    # ------------------------------------------------------------------------------------------ painting
    def paintEvent(self, _event: object) -> None:  # noqa: N802
        frame = self._frame
        if frame is None or self._native:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        area = self.rect()
        if self.item.fit == Fit.STRETCH:
            p.drawImage(area, frame)
        elif self.item.fit == Fit.COVER:
            scale = max(area.width() / frame.width(), area.height() / frame.height())
            sw, sh = area.width() / scale, area.height() / scale
            src = QRect(round((frame.width() - sw) / 2), round((frame.height() - sh) / 2), round(sw), round(sh))
            p.drawImage(area, frame, src)
        else:
            p.drawImage(contain_rect(frame.width(), frame.height(), area), frame)
        p.end()

    def current_frame(self) -> QImage | None:
        """The last picture received in memory mode (tests, preview)."""
        return self._frame


VIEW_FACTORIES["video"] = VideoView  # type: ignore[assignment]
