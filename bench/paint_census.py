"""Which views repaint, how often and how much, while a screen plays: the profile behind the CPU figures.

    .venv/bin/python bench/paint_census.py [--source DIR] [--seconds 60] [--settle 5] [--offscreen]

Runs the player in this process (the demo unless ``--source`` names a folder) in a 1920x1080 window on a private
Xvfb (``--offscreen``: Qt's offscreen platform), lets it settle, then counts for ``--seconds`` every paint event by
widget class: paints per second, painted pixels per second (the area of each paint event's region) and the mean
painted area. Counting costs CPU itself (an application-wide event filter in Python), so this says where the work
goes, not how much CPU it takes: bench/startup.py and bench/vs_chromium.py measure that.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup import start_xvfb  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, default=ROOT / "player" / "demo")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--settle", type=float, default=5.0)
    ap.add_argument("--offscreen", action="store_true")
    args = ap.parse_args()
    xvfb = None
    if args.offscreen or not shutil.which("Xvfb"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    else:
        xvfb, display = start_xvfb()
        os.environ.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")

    from PySide6.QtCore import QEvent, QObject, QTimer

    from player.config import load_config
    from player.ui.app import ensure_app, run_player

    class Census(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.counting = False
            self.paints: dict[str, int] = defaultdict(int)
            self.pixels: dict[str, int] = defaultdict(int)

        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
            if self.counting and event.type() == QEvent.Type.Paint:
                name = type(obj).__name__
                self.paints[name] += 1
                self.pixels[name] += sum(r.width() * r.height() for r in event.region())  # type: ignore[attr-defined]
            return False

    census = Census()
    app = ensure_app()
    app.installEventFilter(census)
    window: dict[str, float] = {}

    def begin() -> None:
        census.counting = True
        window["t0"] = time.monotonic()

    def end() -> None:
        census.counting = False
        window["t1"] = time.monotonic()

    QTimer.singleShot(int(args.settle * 1000), begin)
    QTimer.singleShot(int((args.settle + args.seconds) * 1000), end)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "player.toml"
        cfg.write_text(f'[player]\nstate_dir = "{tmp}/state"\ncache_dir = "{tmp}/cache"\n', encoding="utf-8")
        try:
            run_player(load_config(cfg), args.source, (1920, 1080), args.settle + args.seconds + 0.5)
        finally:
            if xvfb is not None:
                xvfb.terminate()
    span = window.get("t1", time.monotonic()) - window.get("t0", time.monotonic())
    print(f"{os.environ['QT_QPA_PLATFORM']}, {args.source}, {span:.0f} s counted after {args.settle:.0f} s")
    print(f"{'widget class':28}{'paints/s':>10}{'Mpx/s':>10}{'px per paint':>14}")
    for name in sorted(census.paints, key=lambda n: -census.pixels[n]):
        n, px = census.paints[name], census.pixels[name]
        print(f"{name:28}{n / span:>10.2f}{px / span / 1e6:>10.3f}{px / max(1, n):>14.0f}")


if __name__ == "__main__":
    main()
