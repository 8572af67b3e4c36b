"""Moving a strip of content leftwards at a configured speed, in whole pixels, cheaply.

Used by the tickers (``TickerView``, ``NewsTicker``). Two parts:

- :class:`ScrollPace`: the arithmetic, free of Qt. The content moves in equal steps of ``step_px`` whole pixels,
  one step every ``interval_ms`` (fractional), so the speed is exactly the configured one and every step is the same
  size: no 2-2-3-2 pixel pattern. The step is the smallest one that keeps the moves at or below ``MAX_MOVES_PER_S``
  (a 60 Hz display cannot show more); where that would leave fewer than ``MIN_MOVES_PER_S`` moves a second (a
  visible judder), one pixel less is taken.
- :class:`StripScroller`: drives a widget by it. A single-shot precise timer is armed for the exact instant of the
  next step (no fixed 16 ms ticks that mostly move 2 and sometimes 3 pixels); the position always follows the
  elapsed time, so a late wake-up catches up instead of slowing the ticker down. An opaque widget is moved with
  ``QWidget.scroll``: the backing store shifts what is already drawn and only the newly exposed column is painted.
  A translucent one (what lies below shows through) is repainted whole, as before.

Each move costs about the same whatever it paints (a timer wake-up and an X11 flush), so the number of moves is
what counts: the demo's 140 px/s ticker went from 62.5 repaints of the whole 1920x80 strip a second (2 or 3 px
each) to 46.7 moves of 3 px, 4.2 -> 3.2 % of one core (Xvfb, 2-core VM; docs/performance.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer
from PySide6.QtWidgets import QWidget

MAX_MOVES_PER_S = 60.0
MIN_MOVES_PER_S = 45.0


@dataclass(frozen=True)
class ScrollPace:
    speed: float  # device px per second
    step_px: int  # every move is this many whole pixels
    interval_ms: float  # one move every this long (fractional: speed = step_px / interval)

    @classmethod
    def for_speed(cls, speed_px_s: float) -> ScrollPace:
        speed = float(speed_px_s)
        if not speed > 0 or math.isinf(speed):
            raise ValueError(f"scroll speed must be a positive number of pixels per second, not {speed_px_s!r}")
        step = max(1, math.ceil(speed / MAX_MOVES_PER_S - 1e-9))
        if step > 1 and speed / step < MIN_MOVES_PER_S:
            step -= 1
        return cls(speed, step, step * 1000.0 / speed)

    @property
    def moves_per_s(self) -> float:
        return 1000.0 / self.interval_ms

    def steps_at(self, elapsed_ms: float) -> int:
        """Moves made ``elapsed_ms`` after the start."""
        if elapsed_ms <= 0:
            return 0
        # the tiny tolerance keeps a wake-up exactly at a step's instant from being taken for "just before"
        return int(math.floor(elapsed_ms / self.interval_ms + 1e-9))

    def position(self, elapsed_ms: float) -> int:
        """Pixels moved ``elapsed_ms`` after the start (always a whole number of steps)."""
        return self.steps_at(elapsed_ms) * self.step_px

    def ms_to_next_step(self, elapsed_ms: float) -> int:
        """Whole milliseconds from ``elapsed_ms`` until the next move is due (at least 1; never early)."""
        due = (self.steps_at(elapsed_ms) + 1) * self.interval_ms
        return max(1, math.ceil(due - max(0.0, elapsed_ms) - 1e-9))


class StripScroller(QObject):
    """Moves ``widget``'s content left at ``speed`` device px per second.

    The widget paints its content at offset :attr:`shown` (pixels moved so far; the caller takes it modulo the
    length of its repeating content). ``opaque()`` says whether the widget paints every pixel of its rect with
    opaque colour; only then is it moved with ``QWidget.scroll``. ``now_ms`` (a monotonic clock in milliseconds) is
    replaceable for tests.
    """

    def __init__(self, widget: QWidget, speed: float, opaque: Callable[[], bool],
                 now_ms: Callable[[], float] | None = None):
        super().__init__(widget)
        self.widget = widget
        self.pace = ScrollPace.for_speed(speed)
        self.opaque = opaque
        self.shown = 0  # pixels moved so far, as on screen
        self.moves = 0  # moves made (for tests and the paint statistics)
        self._elapsed = QElapsedTimer()
        self.now_ms: Callable[[], float] = now_ms or self._monotonic_ms
        self._t0 = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self.advance)

    def _monotonic_ms(self) -> float:
        if not self._elapsed.isValid():
            self._elapsed.start()
        return self._elapsed.nsecsElapsed() / 1e6

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def start(self) -> None:
        """From the beginning (offset 0)."""
        self._t0 = self.now_ms()
        self.shown = 0
        self._arm(0.0)

    def resume(self) -> None:
        """Keeps going from where the elapsed time says (after :meth:`pause`)."""
        if not self._timer.isActive():
            self.advance()

    def pause(self) -> None:
        self._timer.stop()

    def advance(self) -> None:
        """Moves to where the elapsed time says and arms the timer for the next step."""
        elapsed = self.now_ms() - self._t0
        target = self.pace.position(elapsed)
        dx = target - self.shown
        if dx > 0:
            self.shown = target
            self.moves += 1
            if self.opaque():
                self.widget.scroll(-dx, 0)  # only the exposed column is painted
            else:
                self.widget.update()
        self._arm(elapsed)

    def _arm(self, elapsed: float) -> None:
        self._timer.start(self.pace.ms_to_next_step(elapsed))
