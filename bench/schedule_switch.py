"""How close to the scheduled instant does the window switch layouts?

    .venv/bin/python bench/schedule_switch.py [--switches 10]

A schedule whose layout changes every 2 s (windows with seconds) is played with the real clock (offscreen).
For each change the delay from the scheduled instant to the new layout's first frame on screen is recorded.
Baseline in the same run: the delay of a bare precise QTimer.singleShot aimed at the same instants (the event loop's own
precision), so the ratio shows what the player adds. Goal from issue 4: within 100 ms."""

from __future__ import annotations

import argparse
import os
import statistics
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from player.clock import SystemClock  # noqa: E402
from player.layouts import load_screen_dict  # noqa: E402
from player.ui.bridge import WorkerBridge  # noqa: E402
from player.ui.items import RenderContext  # noqa: E402
from player.ui.window import PlayerWindow  # noqa: E402

BERLIN = ZoneInfo("Europe/Berlin")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--switches", type=int, default=10)
    n = ap.parse_args().switches
    app = QApplication([])
    start = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    instants = [start + timedelta(seconds=2 * i) for i in range(n)]

    def layout(color: str) -> dict:
        return {"width": 1920, "height": 1080, "background": color, "zones": [
            {"id": "z", "x": 100, "y": 100, "width": 800, "height": 400,
             "items": [{"type": "text", "text": f"Layout {color}", "font_size": 80}]}]}

    entries = []
    for i, t in enumerate(instants[::2]):
        local = t.astimezone(BERLIN)
        end = (t + timedelta(seconds=2)).astimezone(BERLIN)
        entries.append({"id": f"e{i}", "layout": "b", "start": local.replace(tzinfo=None).isoformat(),
                        "end": end.replace(tzinfo=None).isoformat()})
    doc = {"version": 1, "layouts": {"a": layout("#aa0000"), "b": layout("#0000aa")},
           "schedule": {"default": "a", "entries": entries}}
    screen = load_screen_dict(doc, "bench.json").screen
    ctx = RenderContext(clock=SystemClock(), timezone=BERLIN, resolve_media=lambda _r: None, bridge=WorkerBridge())
    window = PlayerWindow(ctx, branding={}, kiosk=False)
    window.resize(1920, 1080)
    window.show()
    window.show_screen(screen, lambda _r: None)
    delays: list[float] = []
    base: list[float] = []

    def changed(_name: str) -> None:
        now = datetime.now(UTC)
        past = [t for t in instants if t <= now]
        if past and now - past[-1] < timedelta(seconds=1):
            delays.append((now - past[-1]).total_seconds() * 1000)

    window.layout_changed.connect(changed)
    timers = []
    for t in instants:  # baseline: a plain precise timer aimed at each instant
        timer = QTimer()
        timer.setSingleShot(True)
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.timeout.connect(lambda t=t: base.append((datetime.now(UTC) - t).total_seconds() * 1000))
        timer.start(int((t - datetime.now(UTC)).total_seconds() * 1000) + 1)
        timers.append(timer)
    QTimer.singleShot(int((instants[-1] - datetime.now(UTC)).total_seconds() * 1000) + 1500, app.quit)
    app.exec()
    print(f"switches measured: {len(delays)} of {n}")
    print(f"player: scheduled instant -> new layout on screen: median {statistics.median(delays):.1f} ms, "
          f"max {max(delays):.1f} ms")
    print(f"baseline: bare QTimer at the same instants: median {statistics.median(base):.1f} ms, "
          f"max {max(base):.1f} ms")
    print(f"ratio (median player / median baseline): {statistics.median(delays) / max(statistics.median(base), 0.01):.1f}")


if __name__ == "__main__":
    main()
