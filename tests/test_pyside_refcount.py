"""Guard against PySide6 releases that drop references to None (6.12.0 on Python 3.11 aborts after a few thousand
calls of methods returning nothing; see DESIGN.md). A player runs for months, so this is checked on every test run."""

from __future__ import annotations

import sys

from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QLabel

CALLS = 100_000


def test_none_refcount_does_not_fall_over_many_void_calls(qapp) -> None:  # noqa: ANN001
    label = QLabel()
    image = QImage(8, 8, QImage.Format.Format_RGB32)
    color = QColor("#123456")
    painter = QPainter(image)
    before = sys.getrefcount(None)
    for i in range(CALLS // 2):
        label.setText("x" if i % 2 else "y")
        painter.fillRect(0, 0, 4, 4, color)
    painter.end()
    after = sys.getrefcount(None)
    # a healthy binding keeps the count (small noise from the interpreter aside); a broken one loses ~CALLS
    assert after > before - 1000, f"refcount of None fell by {before - after} over {CALLS} calls"
