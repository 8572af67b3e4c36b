"""Display power on the Qt side: follows the on/off schedule with one timer per change, switches the display through
the chosen backend on a worker thread, and pauses the window while the display is off (no rendering, no timers,
no video: no CPU burnt for a dark screen)."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from PySide6.QtCore import QObject, Qt, QTimer, Signal

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
    """``on`` is the wanted state; ``override(on)`` (a remote command) holds until the next scheduled change."""

    changed = Signal(bool)

    def __init__(self, window: PlayerWindow, schedule: PowerSchedule, backend: DisplayPower, clock: Clock,
                 tz: ZoneInfo, bridge: WorkerBridge):
        super().__init__(window)
        self.window = window
        self.schedule = schedule
        self.backend = backend
        self.clock = clock
        self.tz = tz
        self.bridge = bridge
        self.on: bool | None = None
        self.next_change: datetime | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self.apply_schedule)

    def start(self) -> None:
        self.apply_schedule()

    def apply_schedule(self) -> None:
        now = self.clock.now()
        if self.schedule.always_on:
            self._set(True, reason="no power schedule")
            return
        state = self.schedule.state_at(now.astimezone(self.tz))
        self.next_change = state.next_change
        self._set(state.on, reason="schedule")
        if state.next_change is not None:
            ms = int((state.next_change - now).total_seconds() * 1000) + 5
            self._timer.start(max(1, min(ms, MAX_TIMER_MS)))

    def override(self, on: bool) -> None:
        """A remote command (display on/off): holds until the schedule changes next."""
        self._set(on, reason="remote command")

    def _set(self, on: bool, reason: str) -> None:
        if on == self.on:
            return
        first, self.on = self.on is None, on
        if first and on:  # at start the display is on already: leave the display server's settings alone
            return
        log.info("display %s (%s, backend %s)", "on" if on else "off", reason, self.backend.name)
        self.window.set_paused(not on)
        action = self.backend.on if on else self.backend.off
        self.bridge.submit(action, lambda _r: None,
                           lambda exc: log.error("display power (%s): %s", self.backend.name, exc))
        self.changed.emit(on)
