"""The one fullscreen window: letterboxed canvas, the scheduled layout, overlays and interrupts, built-in screens.

Layout switching is driven by the pure resolver: after each switch one single-shot timer is armed for the instant the
resolver names as the next change. A new snapshot or a clock jump re-resolves at once. No polling of the schedule.
"""

from __future__ import annotations

import json
import logging
import time as _time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QColor, QCursor, QGuiApplication, QKeyEvent, QPainter, QResizeEvent
from PySide6.QtWidgets import QWidget

from player.model import Layout, Schedule, ScheduleEntry, Screen
from player.ui.items import RenderContext
from player.ui.screens import MessageScreen, SetupInfo
from player.ui.stage import Stage

log = logging.getLogger(__name__)

# before this the clock is surely wrong (a Pi without RTC boots in 1970 until NTP answers)
RELEASE_DATE = datetime(2026, 11, 1, tzinfo=UTC)
# a clock this far before the last successful sync is wrong; less may be an NTP correction of a fast clock
CLOCK_FLOOR_SLACK = timedelta(hours=1)
CLOCK_JUMP_CHECK_MS = 10_000
CLOCK_JUMP_TOLERANCE_S = 5.0
MAX_TIMER_MS = 3_600_000  # long waits are re-armed hourly (QTimer limit and clock drift)


def plausible_floor(snapshot_created: datetime | None = None, state_dir: Path | None = None) -> datetime:
    """(Not on the GUI thread: reads a small file.) The earliest plausible "now": this player's release, or an hour
    before the last successful sync -- ``last_success`` in the sync status in *state_dir* (persisted, so it holds
    after a reboot without RTC) or *snapshot_created*, the creation of the snapshot to show -- whichever is later.
    A missing or unreadable status is no error (first boot, folder source): the release date remains."""
    known: list[datetime] = []
    if snapshot_created is not None and snapshot_created.utcoffset() is not None:
        known.append(snapshot_created)
    if state_dir is not None:
        from player.sync import STATUS_FILE

        try:
            raw = json.loads((state_dir / STATUS_FILE).read_text(encoding="utf-8")).get("last_success")
            when = datetime.fromisoformat(raw)
            if when.utcoffset() is not None:
                known.append(when)
        except (OSError, ValueError, TypeError, AttributeError):
            pass
    return max([RELEASE_DATE, *(when - CLOCK_FLOOR_SLACK for when in known)])


class ScreenFollower:
    """For a kiosk top-level widget (the player window, or the view that turns it): keep covering the screen it is
    on after HDMI hotplug or a mode change; the widget's resize lays the content out again.

    A TV switched off and on (or a monitor plugged back in) often comes back as a *new* QScreen: Qt announces it with
    ``screenAdded`` / ``primaryScreenChanged`` while the window stays on the old (virtual) screen. Then the window
    moves to the primary screen, goes full screen again and lays its content out again."""

    kiosk: bool
    _followed_screen = None  # the QScreen whose geometryChanged is connected

    def follow_screen(self) -> None:
        handle = self.windowHandle()  # type: ignore[attr-defined]
        if handle is None:
            return
        handle.screenChanged.connect(self._screen_changed)
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            app.screenAdded.connect(self._screen_appeared)
            app.primaryScreenChanged.connect(self._screen_appeared)
        self._screen_changed(handle.screen())

    def _screen_changed(self, screen) -> None:  # noqa: ANN001
        if screen is None:
            return
        if self._followed_screen is not None and self._followed_screen is not screen:
            try:
                self._followed_screen.geometryChanged.disconnect(self._geometry_changed)
            except (RuntimeError, TypeError):  # the old screen is gone already
                pass
        if self._followed_screen is not screen:
            screen.geometryChanged.connect(self._geometry_changed)
            self._followed_screen = screen
        self._geometry_changed(screen.geometry())

    def _screen_appeared(self, screen) -> None:  # noqa: ANN001
        """A screen was added or the primary one changed: show the player on the primary screen, full screen,
        laid out again (also when the geometry is the same: the output was re-created)."""
        handle = self.windowHandle()  # type: ignore[attr-defined]
        primary = QGuiApplication.primaryScreen()
        if not self.kiosk or handle is None or primary is None:
            return
        geometry = primary.geometry()
        log.info("screen %s appeared (%dx%d); showing the player on the primary screen %s again",
                 screen.name() if screen is not None else "?", geometry.width(), geometry.height(), primary.name())
        if handle.screen() is not primary:
            handle.setScreen(primary)  # screenChanged follows: its geometry is watched from now on
        self.setGeometry(geometry)  # type: ignore[attr-defined]
        self.showFullScreen()  # type: ignore[attr-defined]
        self.relayout()

    def relayout(self) -> None:
        """Lay the content out again for the current size, as a resize does (also the turned player's content)."""
        for widget in (self, getattr(self, "content", None)):
            if isinstance(widget, QWidget):
                QCoreApplication.sendEvent(widget, QResizeEvent(widget.size(), widget.size()))

    def _geometry_changed(self, geometry: QRect) -> None:
        if self.kiosk and geometry.isValid() and self.geometry() != geometry:  # type: ignore[attr-defined]
            log.info("screen is now %dx%d; laying out again", geometry.width(), geometry.height())
            self.setGeometry(geometry)  # type: ignore[attr-defined]
            self.showFullScreen()  # type: ignore[attr-defined]


class PlayerWindow(QWidget, ScreenFollower):
    first_frame = Signal()  # the first content (or built-in screen) is on screen
    layout_changed = Signal(str)  # name of the main layout now on screen
    clock_jumped = Signal()  # the wall clock jumped (NTP after a boot without RTC): schedules re-evaluate

    def __init__(self, ctx: RenderContext, branding: dict[str, str], kiosk: bool = True,
                 maintenance_chord: bool = True):
        super().__init__()
        self.ctx = ctx
        self.kiosk = kiosk
        self.maintenance_chord = maintenance_chord
        self.setWindowTitle("osc-player")
        self.setAutoFillBackground(False)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        if kiosk:
            self.setWindowFlags(Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint)
            self.setCursor(QCursor(Qt.CursorShape.BlankCursor))
        self.screen_model: Screen | None = None
        self.main: Stage | None = None
        self.overlays: list[Stage] = []
        self.interrupt: Stage | None = None
        self._incoming: Stage | None = None
        self._on_screen_key: tuple[str, tuple[str, ...], str | None] | None = None
        self.message = MessageScreen(self, branding, ctx.locale)
        self.message.hide()
        self._announced = False
        self._allow_close = not kiosk
        self._switch_timer = QTimer(self)
        self._switch_timer.setSingleShot(True)
        self._switch_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._switch_timer.timeout.connect(self.resolve_now)
        self._jump_timer = QTimer(self)
        self._jump_timer.setInterval(CLOCK_JUMP_CHECK_MS)
        self._jump_timer.timeout.connect(self._check_clock_jump)
        self._jump_ref = (_time.monotonic(), ctx.clock.now())
        self._jump_timer.start()
        self.next_change: datetime | None = None
        # a clock before this is wrong (see plausible_floor): the default layout plays until it is set
        self.clock_floor: datetime = RELEASE_DATE
        self._clock_distrusted = False
        self.paused = False
        self.extra_entries: tuple[ScheduleEntry, ...] = ()
        self.extra_layouts: dict[str, Layout] = {}

    # -------------------------------------------------------------------------------------------- content
    def show_screen(self, screen: Screen, resolve_media: Callable[[str], Path | None]) -> None:
        """A new snapshot: play it from now on (the old content stays until the new one has its first frame)."""
        self.screen_model = screen
        self.ctx.resolve_media = resolve_media
        self._on_screen_key = None
        self.message.hide()
        self.resolve_now()

    def show_error(self, lines: list[str]) -> None:
        """Content is unusable and nothing older can be shown: a readable maintenance screen."""
        if self.screen_model is not None:  # good content is (or is about to be) on screen: keep it; the log says why
            return
        self.message.setGeometry(self.rect())
        self.message.show_error(lines)
        self.message.show()
        self.message.raise_()
        self._announce()

    def show_setup(self, info: SetupInfo) -> None:
        self.message.setGeometry(self.rect())
        self.message.show_setup(info)
        self.message.show()
        self.message.raise_()
        self._announce()

    def set_extra_entries(self, entries: tuple[ScheduleEntry, ...], layouts: dict[str, Layout]) -> None:
        """Entries added at run time (e.g. a severe public warning as an overlay or interrupt) on top of the
        screen's own schedule; they go through the same resolver. Pass () to remove them."""
        self.extra_entries = tuple(entries)
        self.extra_layouts = dict(layouts)
        self._on_screen_key = None  # layouts behind the names may be new: rebuild what is on screen
        self.resolve_now()

    def _effective(self, screen: Screen) -> tuple[Schedule, dict[str, Layout]]:
        if not self.extra_entries:
            return screen.schedule, screen.layouts
        layouts = {**screen.layouts, **self.extra_layouts}
        entries = screen.schedule.entries + tuple(e for e in self.extra_entries if e.layout in layouts)
        return replace(screen.schedule, entries=entries), layouts

    def set_paused(self, paused: bool) -> None:
        """Display off: every stage is stopped and dropped (no timers, no decoding, no video); on: rebuilt."""
        if paused == self.paused:
            return
        self.paused = paused
        if paused:
            self._switch_timer.stop()
            self._drop_stages()
            self.update()
        else:
            self._on_screen_key = None
            self.resolve_now()

    def _drop_stages(self) -> None:
        for stage in [*self._stages(), self._incoming]:
            if stage is not None:
                stage.stop()
                stage.deleteLater()
        self.main, self.overlays, self.interrupt, self._incoming = None, [], None, None

    def resolve_now(self) -> None:
        """Ask the resolver what belongs on screen now, switch if it differs, arm the timer for the next change."""
        screen = self.screen_model
        if screen is None or self.paused:
            return
        from player.schedule import next_change, resolve

        now = self.ctx.clock.now()
        self._jump_ref = (_time.monotonic(), now)
        schedule, layouts = self._effective(screen)
        distrusted = now < self.clock_floor
        if distrusted:
            if not self._clock_distrusted:
                if self.clock_floor <= RELEASE_DATE:
                    why = f"before this player's release ({RELEASE_DATE.date().isoformat()})"
                else:
                    synced = (self.clock_floor + CLOCK_FLOOR_SLACK).isoformat(timespec="seconds")
                    why = f"more than an hour before the last successful sync ({synced})"
                log.warning("the system clock says %s, %s; showing the default layout until the clock is set (NTP)",
                            now.isoformat(timespec="seconds"), why)
            key: tuple[str, tuple[str, ...], str | None] = (schedule.default_layout, (), None)
        else:
            if self._clock_distrusted:
                log.info("the system clock says %s, plausible again; following the schedule",
                         now.isoformat(timespec="seconds"))
            on = resolve(schedule, now)
            key = (on.layout, tuple(on.overlays), on.interrupt)
        self._clock_distrusted = distrusted
        # switch first: with many entries next_change takes a while, and the screen should not wait for it
        if key != self._on_screen_key:
            self._apply(layouts, key)
        else:
            for stage in self._stages():
                for zone in stage.zones:
                    zone.recheck()
        if distrusted:
            self.next_change = None
            self._switch_timer.start(60_000)  # besides the clock-jump check: look again in a minute
            return
        self.next_change = next_change(schedule, now)
        if self.next_change is not None:
            ms = int((self.next_change - self.ctx.clock.now()).total_seconds() * 1000) + 1
            self._switch_timer.start(max(1, min(ms, MAX_TIMER_MS)))
        else:
            self._switch_timer.stop()

    def _apply(self, layouts: dict[str, Layout], key: tuple[str, tuple[str, ...], str | None]) -> None:
        self._on_screen_key = key
        main_name, overlay_names, interrupt_name = key
        # main layout: build the new one hidden, show it when its first frame is ready, then drop the old one
        if self.main is None or self.main.name != main_name or self.main.layout_model is not layouts.get(main_name):
            self._replace_main(layouts[main_name])
        # overlays and the interrupt: a stage whose layout is unchanged plays on (a ticker does not jump back, an
        # emergency slideshow does not start over because something underneath it changed)
        kept: dict[str, Stage] = {}
        for old in self.overlays:
            if old.name in overlay_names and old.name not in kept and old.layout_model is layouts.get(old.name):
                kept[old.name] = old
            else:
                old.stop()
                old.deleteLater()
        self.overlays = []
        for name in overlay_names:
            stage = kept.pop(name, None)
            if stage is None:
                stage = self._make_stage(layouts[name], transparent=True)
                stage.show()
                stage.start()
            self.overlays.append(stage)
        if self.interrupt is not None and (self.interrupt.name != interrupt_name
                                           or self.interrupt.layout_model is not layouts.get(interrupt_name or "")):
            self.interrupt.stop()
            self.interrupt.deleteLater()
            self.interrupt = None
        if interrupt_name is not None and self.interrupt is None:
            self.interrupt = self._make_stage(layouts[interrupt_name], transparent=False)
            self.interrupt.show()
            self.interrupt.start()
        self.restack()

    def _make_stage(self, layout: Layout, transparent: bool) -> Stage:
        stage = Stage(layout, self.ctx, self, transparent=transparent)
        stage.build(self.rect())
        stage.first_frame.connect(self._announce)
        return stage

    def _replace_main(self, layout: Layout) -> None:
        if self._incoming is not None:
            self._incoming.stop()
            self._incoming.deleteLater()
        stage = self._make_stage(layout, transparent=False)
        self._incoming = stage
        stage.lower()
        stage.show()
        stage.start()

        def promote() -> None:
            if self._incoming is not stage:
                return
            old = self.main
            self.main, self._incoming = stage, None
            self.restack()
            if old is not None:
                old.stop()
                old.deleteLater()
            log.info("layout '%s' on screen", layout.name)
            self.layout_changed.emit(layout.name)

        if stage.has_first_frame:
            promote()
        else:
            stage.first_frame.connect(promote)
            QTimer.singleShot(3000, promote)  # never wait forever for a slow item

    def restack(self) -> None:
        """Bottom to top: the incoming layout, the main layout, the overlays, the interrupt, the message screen,
        each followed by the windows its videos play in. On X11 the layouts are native windows (Qt makes the
        siblings of VLC's native video windows native), so this order is what the screen shows: a video is above
        its own layout and below every overlay, interrupt and message."""
        for stage in [self._incoming, *self._stages()]:
            if stage is None:
                continue
            stage.raise_()
            for surface in stage.video_surfaces():
                surface.raise_()
        if self.message.isVisible():
            self.message.raise_()

    def _stages(self) -> list[Stage]:
        return [s for s in [self.main, *self.overlays, self.interrupt] if s is not None]

    def _announce(self) -> None:
        if not self._announced:
            self._announced = True
            self.first_frame.emit()

    # ----------------------------------------------------------------------------------------------- time
    def _check_clock_jump(self) -> None:
        mono0, wall0 = self._jump_ref
        mono1, wall1 = _time.monotonic(), self.ctx.clock.now()
        drift = (wall1 - wall0).total_seconds() - (mono1 - mono0)
        self._jump_ref = (mono1, wall1)
        if abs(drift) > CLOCK_JUMP_TOLERANCE_S:
            log.info("the clock jumped by %+.0f s; re-resolving the schedule", drift)
            self.resolve_now()
            self.clock_jumped.emit()

    # ----------------------------------------------------------------------------------------- geometry/input
    def resizeEvent(self, _event: object) -> None:  # noqa: N802
        self.message.setGeometry(self.rect())
        if self.screen_model is not None and self.main is not None and not self.paused:
            key = self._on_screen_key
            self._on_screen_key = None
            self._drop_stages()
            if key is not None:
                self._apply(self._effective(self.screen_model)[1], key)

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#000000"))  # letterbox bars
        p.end()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        mods = event.modifiers()
        chord = (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                 | Qt.KeyboardModifier.ShiftModifier)
        if self.maintenance_chord and event.key() == Qt.Key.Key_Q and (mods & chord) == chord:
            log.info("maintenance chord pressed: closing the player")
            self._allow_close = True
            self.close()
            return
        if not self.kiosk and event.key() in (Qt.Key.Key_Escape, Qt.Key.Key_Q):
            self.close()
            return
        event.ignore()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self._allow_close:
            event.ignore()
            return
        for stage in self._stages():
            stage.stop()
        event.accept()

    def canvas_rect(self) -> QRect:
        return self.main.geometry() if self.main is not None else self.rect()
