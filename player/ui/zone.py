"""A zone on screen: plays its items in order, for their durations, preparing the next one before it is needed.

The next item's view is created and prepared (image decoded, video's first frame decoded) while the current one is
still showing, and the switch happens only when the new view is ready: no black or empty frame between items.
A picture is decoded shortly before it is due (PREPARE_AHEAD_S), not as soon as the one before it is on screen: its
pixels are the biggest thing a zone holds (3.8 MB for the demo's 1440x880 slideshow), and a slideshow would
otherwise hold two pictures all the time. Only when the current item is sure to run its full duration: one that may
end early (a clip shorter than its duration) or whose validity window may end first has its successor prepared at
once, as is everything that is not a picture (a video's first frame, a widget). A zone whose picture was not ready
when due prepares twice as early from then on (up to MAX_AHEAD_S), and halves that again after ON_TIME_TO_RELAX
pictures in a row were ready in time. A validity window opening or closing while a picture waits for its turn has
the next item prepared at once (it may no longer be that picture).
Items out of their validity window are skipped; a zone with no valid item shows its background and wakes up by
itself when the next window opens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import shiboken6
from PySide6.QtCore import QEasingCurve, QPropertyAnimation, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QGraphicsOpacityEffect, QWidget

from player.model import ImageItem, Item, Transition, Zone
from player.ui.items import ImageView, ItemView, RenderContext, make_view, qcolor, seconds_until

log = logging.getLogger(__name__)

RETRY_FAILED_S = 60.0  # an item that failed is skipped for this long before it is tried again
PREPARE_AHEAD_S = 2.0  # a picture is decoded this long before it is due (a zone-size JPEG: 0.1 s here, ~0.5 s on a Pi)
MAX_AHEAD_S = 32.0  # the most a zone that was late doubles it to
ON_TIME_TO_RELAX = 10  # pictures ready in time in a row before a zone halves its lead again


def _validity_fns():  # the resolver lives below ui; imported lazily so a broken schedule module cannot stop rendering
    from player.schedule import is_valid, next_validity_change

    return is_valid, next_validity_change


class ZoneWidget(QWidget):
    item_started = Signal(str, str, str)  # zone id, item id, media reference ("" for non-media items)
    item_ended = Signal(str, str)  # zone id, item id

    def __init__(self, zone: Zone, ctx: RenderContext, parent: QWidget):
        super().__init__(parent)
        self.zone = zone
        self.ctx = ctx
        self.current: ItemView | None = None
        self.pending: ItemView | None = None
        self._index = -1  # index of the current item in zone.items
        self._due = False  # the current item's time is up; switch as soon as the pending view is ready
        self._failed_until: dict[str, datetime] = {}
        self._reported: set[str] = set()
        self._started = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._time_up)
        self._validity_timer = QTimer(self)
        self._validity_timer.setSingleShot(True)
        self._validity_timer.setTimerType(Qt.TimerType.PreciseTimer)  # a coarse timer may be 5 % off: 30 min in 10 h
        self._validity_timer.timeout.connect(self._validity_changed)
        self.ahead_s = PREPARE_AHEAD_S  # doubled each time a picture was not ready when due
        self._on_time = 0  # pictures ready when due in a row while the lead is raised
        self._prepare_timer = QTimer(self)  # when to start preparing the next picture
        self._prepare_timer.setSingleShot(True)
        self._prepare_timer.timeout.connect(self._prepare_following)
        self._fade: QPropertyAnimation | None = None
        self._fade_end: Callable[[], None] | None = None  # finishes the running crossfade (disposes the outgoing view)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, False)

    # ----------------------------------------------------------------------------------------------- public
    def start(self) -> None:
        self._started = True
        self._advance()

    def stop(self) -> None:
        self._started = False
        self._timer.stop()
        self._validity_timer.stop()
        self._prepare_timer.stop()
        self._finish_fade()
        for view in (self.current, self.pending):
            if view is not None:
                self._dispose(view)
        self.current = self.pending = None

    @property
    def current_item(self) -> Item | None:
        return self.current.item if self.current else None

    def is_showing_content(self) -> bool:
        return self.current is not None and self.current.isVisible()

    def first_frame_ready(self) -> bool:
        """True once the zone shows its first item (or knows it has nothing to show)."""
        return self.current is not None or self.pending is None

    # --------------------------------------------------------------------------------------------- painting
    def paintEvent(self, _event: object) -> None:  # noqa: N802
        if self.zone.background:
            p = QPainter(self)
            p.fillRect(self.rect(), qcolor(self.zone.background))
            p.end()

    def resizeEvent(self, _event: object) -> None:  # noqa: N802
        for view in (self.current, self.pending):
            if view is not None:
                view.setGeometry(self.rect())

    def background_color(self) -> QColor:
        return qcolor(self.zone.background, "#00000000")

    # ------------------------------------------------------------------------------------------- sequencing
    def _skip_until(self, item_id: str, now: datetime) -> datetime | None:
        """When the skip of an item that failed ends, None if it is not skipped. A skip ends RETRY_FAILED_S from
        now at the latest: after the clock was set back it would otherwise last that much longer."""
        until = self._failed_until.get(item_id)
        if until is None or until <= now:
            return None
        latest = now + timedelta(seconds=RETRY_FAILED_S)
        if until > latest:
            until = self._failed_until[item_id] = latest
        return until

    def _valid(self, item: Item, now: datetime) -> bool:
        if self._skip_until(item.id, now) is not None:
            return False
        if item.validity.is_always:
            return True
        is_valid, _ = _validity_fns()
        return bool(is_valid(item.validity, now, self.ctx.timezone))

    def _next_index(self, now: datetime, after: int) -> int | None:
        items = self.zone.items
        n = len(items)
        for step in range(1, n + 1):
            i = after + step
            if i >= n:
                if not self.zone.loop and self.current is not None:
                    return None
                i %= n
            if self._valid(items[i], now):
                return i
        return None

    def _advance(self) -> None:
        """Choose what comes next and get it on screen as soon as it is ready."""
        if not self._started:
            return
        now = self.ctx.clock.now()
        nxt = self._next_index(now, self._index)
        if nxt is None:
            self._show_nothing()
            return
        if self.current is not None and nxt == self._index:  # a single valid item: it simply stays on
            self._drop_pending()  # prepared for an item whose window has closed since: not kept meanwhile
            self._begin_duration(self.current)  # its end was already reported by _time_up
            return
        if self.pending is not None and self.pending.item is self.zone.items[nxt]:
            if self.pending.is_ready:
                self._switch_to(self.pending, nxt)
            else:
                self._due = True
            return
        self._drop_pending()
        self.pending = self._create(nxt)
        self._due = True
        self.pending.prepare()

    def _create(self, index: int) -> ItemView:
        view = make_view(self.zone.items[index], self.ctx, self)
        view.setGeometry(self.rect())
        view.setProperty("zone_index", index)
        view.ready.connect(lambda v=view: self._on_ready(v))
        view.failed.connect(lambda msg, v=view: self._on_failed(v, msg))
        view.finished.connect(lambda v=view: self._on_finished(v))
        return view

    def _on_ready(self, view: ItemView) -> None:
        if view is self.pending and self._due:
            if not self._valid(view.item, self.ctx.clock.now()):  # its window closed while it was being prepared
                self._drop_pending()
                self._advance()
                return
            self._switch_to(view, int(view.property("zone_index")))

    def _on_failed(self, view: ItemView, message: str) -> None:
        item = view.item
        key = f"{item.id}:{message}"
        if key not in self._reported:  # one line per problem, not one per loop
            self._reported.add(key)
            log.error("zone '%s', item '%s': %s; skipped", self.zone.id, item.id, message)
        self._failed_until[item.id] = self.ctx.clock.now() + timedelta(seconds=RETRY_FAILED_S)
        if view is self.current:
            self._finish_fade()  # it may be fading in: the view it fades in over goes too
            self.current = None
        if view is self.pending:
            self.pending = None
            index = int(view.property("zone_index"))
            self._dispose(view)
            if self._due:
                self._index_skip(index)
            return
        self._dispose(view)
        if self.current is None and self._started:
            self._advance()

    def _index_skip(self, failed_index: int) -> None:
        """The item that should come next failed: try the one after it (the current one keeps showing)."""
        keep = self._index
        self._index = failed_index
        now = self.ctx.clock.now()
        nxt = self._next_index(now, failed_index)
        self._index = keep
        if nxt is None or (nxt == keep and self.current is not None):
            # the current item stays only while it is valid: it may have stayed past its window waiting for this one
            if self.current is not None and self._valid(self.current.item, now):
                self._due = False
                self._begin_duration(self.current)
            else:
                self._show_nothing()
            return
        self.pending = self._create(nxt)
        self.pending.prepare()

    def _on_finished(self, view: ItemView) -> None:
        if view is self.current:
            self._time_up()

    def _time_up(self) -> None:
        self._due = True
        if self.current is not None:
            self.item_ended.emit(self.zone.id, self.current.item.id)
            if isinstance(self.pending, ImageView):
                self._adapt_lead(in_time=self.pending.is_ready)
        self._advance()

    def _adapt_lead(self, in_time: bool) -> None:
        """Twice as early after a picture that was not ready when due; half as early again after a run in time."""
        if not in_time:
            self._on_time = 0
            if self.ahead_s < MAX_AHEAD_S:
                self.ahead_s = min(self.ahead_s * 2, MAX_AHEAD_S)
                log.debug("zone '%s': picture not ready when due; preparing %.0f s ahead now",
                          self.zone.id, self.ahead_s)
            return
        if self.ahead_s > PREPARE_AHEAD_S:
            self._on_time += 1
            if self._on_time >= ON_TIME_TO_RELAX:
                self.ahead_s = max(PREPARE_AHEAD_S, self.ahead_s / 2)
                self._on_time = 0

    def _begin_duration(self, view: ItemView) -> None:
        self._due = False
        item = view.item
        log.debug("zone '%s': item '%s' on screen", self.zone.id, item.id)
        self.item_started.emit(self.zone.id, item.id, getattr(item, "src", ""))
        if not view.ends_itself and item.duration is not None:
            self._timer.start(max(1, int(item.duration * 1000)))
        view.play_again()  # kept on screen after it ended by itself (nothing else to show): a video starts over
        self._arm_validity_timer()

    def _switch_to(self, view: ItemView, index: int) -> None:
        self._finish_fade()  # a fade still running ends now (its outgoing view is disposed): one fade at a time
        old = self.current
        self.current, self.pending = view, None
        self._index = index
        view.setGeometry(self.rect())
        view.start()
        item = view.item
        fade_ms = (item.transition_ms if isinstance(item, ImageItem) and item.transition == Transition.CROSSFADE
                   else 0)
        fade = old is not None and fade_ms > 0
        if fade and isinstance(view, ImageView) and isinstance(old, ImageView) and old.image is not None:
            view.fade_from(old.image, fade_ms)  # cheap path: one widget paints both pictures
            self._dispose(old)
        elif fade and old is not None:
            self._crossfade(view, old, fade_ms)
        elif old is not None:
            self._dispose(old)
        self._begin_duration(view)
        self._plan_following(view)

    def _plan_following(self, view: ItemView) -> None:
        """Prepare the item after *view*: a picture ``ahead_s`` before *view*'s time is up, anything else now."""
        self._prepare_timer.stop()
        now = self.ctx.clock.now()
        nxt = self._next_index(now, self._index)
        if nxt is None or nxt == self._index:
            return
        duration = view.item.duration
        if (isinstance(self.zone.items[nxt], ImageItem) and not view.may_end_early and duration is not None
                and duration > self.ahead_s and self._runs_full(view.item, duration, now)):
            self._prepare_timer.start(int((duration - self.ahead_s) * 1000))
        else:
            self._prepare_following()

    def _runs_full(self, item: Item, duration: float, now: datetime) -> bool:
        """True unless *item*'s validity window closes before its *duration* from *now* is over."""
        if item.validity.is_always:
            return True
        _, next_change = _validity_fns()
        closes = next_change(item.validity, now, self.ctx.timezone)
        return closes is None or closes > now + timedelta(seconds=duration)

    def _prepare_following(self) -> None:
        """Start preparing the item after the current one now, so it is ready when the current one ends."""
        if not self._started or self.current is None or self.pending is not None:
            return
        now = self.ctx.clock.now()
        nxt = self._next_index(now, self._index)
        if nxt is None or nxt == self._index:
            return
        self.pending = self._create(nxt)
        self.pending.prepare()

    def _crossfade(self, incoming: ItemView, outgoing: ItemView, ms: int) -> None:
        effect = QGraphicsOpacityEffect(incoming)
        effect.setOpacity(0.0)
        incoming.setGraphicsEffect(effect)
        anim = QPropertyAnimation(effect, b"opacity", self)
        anim.setDuration(ms)
        anim.setStartValue(0.0)
        anim.setEndValue(1.0)
        anim.setEasingCurve(QEasingCurve.Type.InOutQuad)

        def done() -> None:
            if self._fade is not anim:
                return
            self._fade = self._fade_end = None
            if shiboken6.isValid(incoming):  # the incoming view may have gone first (it failed, say)
                # back to direct painting; None is what Qt takes to remove the effect (the stubs want an effect)
                incoming.setGraphicsEffect(None)  # type: ignore[arg-type]
            if shiboken6.isValid(outgoing):
                self._dispose(outgoing)
            anim.deleteLater()

        anim.finished.connect(done)
        self._fade, self._fade_end = anim, done
        anim.start()

    def _finish_fade(self) -> None:
        """End a running crossfade now. Its outgoing view (a playing video, say) must be disposed here: a stopped
        animation never emits ``finished``, and a view deleted with its zone would keep its VLC player and video
        output alive (the soak found one left behind by a layout switch during a video's fade-out)."""
        anim, end = self._fade, self._fade_end
        if anim is None or end is None:
            return
        anim.stop()
        end()

    def _show_nothing(self) -> None:
        """No valid item: the zone shows its background (never a frozen last frame) and wakes up by itself."""
        self._finish_fade()  # a fade still running: its outgoing view goes now, with the incoming one below
        if self.current is not None:
            self.item_ended.emit(self.zone.id, self.current.item.id)
            self._dispose(self.current)
            self.current = None
        self._drop_pending()  # prepared for a moment that has passed: it must not come on when ready
        self._due = False
        self._index = -1
        self._timer.stop()
        self._prepare_timer.stop()
        self._arm_validity_timer()

    def _arm_validity_timer(self) -> None:
        """One timer at the next instant an item's validity changes (no polling): a window opens or closes, or the
        skip of an item that failed ends (it is tried again then, even while the zone waits for a later window)."""
        now = self.ctx.clock.now()
        moments = [until for until in (self._skip_until(i, now) for i in list(self._failed_until)) if until is not None]
        for item in self.zone.items:
            if item.validity.is_always:
                continue
            _, next_change = _validity_fns()
            when = next_change(item.validity, now, self.ctx.timezone)
            if when is not None:
                moments.append(when)
        if moments:
            self._validity_timer.start(max(1, min(int(seconds_until(min(moments), now) * 1000) + 5, 2**31 - 1)))

    def _validity_changed(self) -> None:
        now = self.ctx.clock.now()
        if self.current is None or not self._valid(self.current.item, now):
            self._due = True
            self._advance()
            return
        self._arm_validity_timer()
        if self._prepare_timer.isActive():  # planned for a picture: what comes next may be something else now
            self._prepare_timer.stop()
            self._prepare_following()

    def recheck(self) -> None:
        """Re-evaluate validity now (after a clock jump or when a test moves the clock)."""
        self._validity_timer.stop()
        self._validity_changed()

    def _drop_pending(self) -> None:
        if self.pending is not None:
            self._dispose(self.pending)
            self.pending = None

    def _dispose(self, view: ItemView) -> None:
        view.stop()
        view.hide()
        view.deleteLater()

