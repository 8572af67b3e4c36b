"""Display power on the Qt side: follows the on/off schedule with one timer per change, switches the display through
the chosen backend on a worker thread, and pauses the window while the display is off (no rendering, no timers,
no video: no CPU burnt for a dark screen).

The schedule comes from ``display.power_schedule`` in player.toml, unless the content on screen carries its own
(``power_schedule`` of the screen document; from the hub: ``SteleScreen.displaySchedule`` / ``displayOn`` +
``displayOff``, see docs/hub.md): each new snapshot is checked, and a screen without one falls back to the file."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from player.clock import Clock
from player.config import Config
from player.system.display_power import (
    DisplayPower,
    DisplayPowerError,
    NullDisplayPower,
    PowerSchedule,
    choose_backend,
)
from player.ui.bridge import WorkerBridge
from player.ui.window import MAX_TIMER_MS, PlayerWindow

log = logging.getLogger(__name__)


def backend_from_config(config: Config) -> DisplayPower:
    display = config["display"]
    try:
        return choose_backend(display["power_backend"], output=display["output"] or None,
                              cec_device=display["cec_device"])
    except (DisplayPowerError, ValueError) as exc:
        log.error("display power: %s; the display stays as it is (rendering still pauses off-hours)", exc)
        return NullDisplayPower()


class DisplayPowerController(QObject):
    """``on`` is the wanted state; ``override(on)`` (a remote command) holds until the next scheduled change.

    ``changed(bool)`` is emitted on every switch (also the first one at start); ``rescheduled()`` after every
    look at the schedule (``next_change`` may have moved without a switch: a new schedule, a clock jump);
    ``backend_done(object)`` when a backend job finished (True/False: switched on/off, None: nothing to do or it
    failed — the log says which)."""

    changed = Signal(bool)
    rescheduled = Signal()
    backend_done = Signal(object)

    def __init__(self, window: PlayerWindow, schedule: PowerSchedule, backend: DisplayPower, clock: Clock,
                 tz: ZoneInfo, bridge: WorkerBridge):
        super().__init__(window)
        self.window = window
        self.schedule = schedule
        self.file_schedule = schedule  # player.toml's: used whenever the content carries none
        self.schedule_origin = "config"  # or "content" (the screen document / the hub)
        self._content_windows: dict[str, Any] | None = None
        self.backend = backend
        self.clock = clock
        self.tz = tz
        self.bridge = bridge
        self.on: bool | None = None
        self.reason = ""
        self.next_change: datetime | None = None
        self._applied: bool | None = None  # what the backend was last told (worker side, under _switch_lock)
        # a remote command's state and the scheduled change it holds until (None: until the schedule itself changes)
        self._override: tuple[bool, datetime | None] | None = None
        self._switch_lock = threading.Lock()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self.apply_schedule)

    def start(self) -> None:
        self.apply_schedule()

    def apply_schedule(self, *, schedule_changed: bool = False) -> None:
        now = self.clock.now()
        self._timer.stop()
        if self.schedule.always_on:
            on, reason = True, "no power schedule"
            self.next_change = None
        else:
            state = self.schedule.state_at(now.astimezone(self.tz))
            on, reason = state.on, "schedule" if self.schedule_origin == "config" else "schedule from the content"
            self.next_change = state.next_change
            if state.next_change is not None:
                ms = int((state.next_change - now).total_seconds() * 1000) + 5
                self._timer.start(max(1, min(ms, MAX_TIMER_MS)))
        if self._override is not None:
            held_until = self._override[1]
            if not schedule_changed and (held_until is None or now < held_until):
                self.rescheduled.emit()  # the timer's hourly look or a clock jump: the remote command still holds
                return
            self._override = None  # the scheduled change it waited for has come (or a new schedule)
        self._set(on, reason)
        self.reason = reason  # also when the state stays (now from the content's schedule, say): rescheduled says so
        self.rescheduled.emit()

    @Slot(object, object)
    def take_screen(self, screen: object, _resolver: object = None) -> None:
        """A snapshot is on screen: use its power schedule (the hub's), or player.toml's when it carries none.
        Applied at once when it differs from the one in use; an unusable one is one log line and the file's rules."""
        windows = getattr(screen, "power_schedule", None)
        windows = dict(windows) if isinstance(windows, Mapping) else None
        if windows == self._content_windows:
            return
        self._content_windows = windows
        if windows is None:
            self.schedule, self.schedule_origin = self.file_schedule, "config"
            log.info("display power schedule: from player.toml (the content carries none)")
        else:
            try:
                self.schedule = PowerSchedule(windows or None)
                self.schedule_origin = "content"
                log.info("display power schedule: from the content (%s)", _describe(windows))
            except ValueError as exc:
                self.schedule, self.schedule_origin = self.file_schedule, "config"
                log.error("display power schedule of the content is unusable (%s); using player.toml's", exc)
        self.apply_schedule(schedule_changed=True)

    def override(self, on: bool) -> None:
        """A remote command (display on/off): holds until the schedule's next change (as it was when the command
        came; with no power schedule until the content brings one), not only until the timer's hourly look or a
        clock jump. The state it asks for already: nothing switches."""
        self._override = (on, self.next_change)
        self._set(on, reason="remote command")

    def _set(self, on: bool, reason: str) -> None:
        if on == self.on:
            return
        self.on, self.reason = on, reason
        log.info("display %s (%s, backend %s)", "on" if on else "off", reason, self.backend.name)
        self.window.set_paused(not on)
        # at start too: after a crash or a remote "display off" and a restart the display may still be dark
        self.bridge.submit(self._switch_backend, self._backend_finished, self._backend_failed)
        self.changed.emit(on)

    def _switch_backend(self) -> bool | None:
        """Worker thread: bring the display to the newest wanted state. Jobs may run in any order on the pool;
        each one applies the wish current when it runs, and nothing the backend was already told."""
        with self._switch_lock:
            want = self.on
            if want is None or want == self._applied:
                return None
            if self._applied is None and want:
                if self.backend.is_on() is True:
                    self._applied = True  # at start and on already: leave the display server's settings alone
                    return None
                log.info("display power (%s): the display is off or its state unknown at start; switching it on",
                         self.backend.name)
            (self.backend.on if want else self.backend.off)()
            self._applied = want
            return want

    def _backend_finished(self, result: bool | None) -> None:
        self.backend_done.emit(result)

    def _backend_failed(self, exc: BaseException) -> None:
        log.error("display power (%s): %s", self.backend.name, exc)
        self.backend_done.emit(None)


def _describe(windows: Mapping[str, Any]) -> str:
    if not windows:
        return "always on"
    return "; ".join(f"{day} {value if isinstance(value, str) else ', '.join(map(str, value))}"
                     for day, value in windows.items())[:200]
