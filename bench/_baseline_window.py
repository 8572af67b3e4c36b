"""Baseline for bench/startup.py: the least a PySide6 program needs to show one image fullscreen-sized.

Prints the same OSC_FIRST_FRAME marker as the player, after its first synchronous paint."""

from __future__ import annotations

import sys
import time

from PySide6.QtCore import QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication, QLabel

app = QApplication(sys.argv[:1])
label = QLabel()
label.setPixmap(QPixmap(sys.argv[1]).scaled(int(sys.argv[2]), int(sys.argv[3])))
label.resize(int(sys.argv[2]), int(sys.argv[3]))
label.show()


def painted() -> None:
    label.repaint()
    print(f"OSC_FIRST_FRAME {time.clock_gettime(time.CLOCK_MONOTONIC):.6f}", flush=True)


QTimer.singleShot(0, painted)
QTimer.singleShot(int(float(sys.argv[4]) * 1000), app.quit)
sys.exit(app.exec())
