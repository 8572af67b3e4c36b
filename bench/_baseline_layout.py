"""Second baseline for bench/startup.py: the demo's day layout done by hand in bare PySide6, no player code.

Header with the city name, a clock on the second boundary, the main slideshow (the demo's three pictures, scaled to
cover 1440x880, a new one every 8 s; Qt's own image reader, no Pillow), the side column changing its text every 12 s,
and the ticker footer moving 140 px/s. Nothing else: no live data, no scheduler, no QR code, no crossfade, no
error handling. It answers "what does a similar layout cost in bare PySide6 here" (issue 2 quotes ~66 MB for it).

    python bench/_baseline_layout.py DEMO_MEDIA_DIR SECONDS

Prints the same OSC_FIRST_FRAME marker as the player, after its first synchronous paint."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QDateTime, QElapsedTimer, Qt, QTimer
from PySide6.QtGui import QFont, QFontMetrics, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QLabel, QWidget

PICTURES = ["weihnachtsmarkt.jpg", "bibliothek.jpg", "buergerbuero.jpg"]
SIDE = ["Abfahrten\n\n3  Hauptbahnhof  2 min\n5  Zoo  4 min\n3  Messe  9 min",
        "Wetter\n\n4 °C, bewölkt\nMorgen 6 °C",
        "Willkommen am Rathausplatz!\n\nHeute geöffnet:\nBürgerbüro 8–18 Uhr\nStadtbibliothek 9–19 Uhr"]
TICKER = ("Weihnachtsmarkt auf dem Rathausplatz bis 23. Dezember   +++   Straßenbahnlinie 3: Umleitung über die "
          "Goethestraße   +++   Müllabfuhr: Termine zwischen den Jahren geändert   +++   ")


def label(parent: QWidget, x: int, y: int, w: int, h: int, css: str, size: int) -> QLabel:
    lab = QLabel(parent)
    lab.setGeometry(x, y, w, h)
    lab.setStyleSheet(css)
    font = QFont()
    font.setPixelSize(size)
    font.setBold(True)
    lab.setFont(font)
    return lab


def cover(path: Path, w: int, h: int) -> QPixmap:
    image = QImage(str(path)).scaled(w, h, Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                                     Qt.TransformationMode.SmoothTransformation)
    return QPixmap.fromImage(image.copy((image.width() - w) // 2, (image.height() - h) // 2, w, h))


class Ticker(QWidget):
    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setGeometry(0, 1000, 1920, 80)
        font = QFont()
        font.setPixelSize(44)
        font.setBold(True)
        width = QFontMetrics(font).horizontalAdvance(TICKER)
        tile = QPixmap(width, 80)
        tile.fill(Qt.GlobalColor.yellow)
        p = QPainter(tile)
        p.setFont(font)
        p.setPen(Qt.GlobalColor.darkBlue)
        p.drawText(tile.rect(), int(Qt.AlignmentFlag.AlignVCenter), TICKER)
        p.end()
        self.tile = tile
        self.clock = QElapsedTimer()
        self.clock.start()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.update)
        self.timer.start(16)

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        offset = int(self.clock.elapsed() * 140 / 1000) % self.tile.width()
        p = QPainter(self)
        x = -offset
        while x < self.width():
            p.drawPixmap(x, 0, self.tile)
            x += self.tile.width()
        p.end()


def main() -> None:
    media, seconds = Path(sys.argv[1]), float(sys.argv[2])
    app = QApplication(sys.argv[:1])
    top = QWidget()
    top.setStyleSheet("background: #0b2540")
    top.resize(1920, 1080)
    label(top, 0, 0, 1440, 120, "background: #003a70; color: white; padding-left: 40px", 64).setText("Musterstadt")
    clock = label(top, 1440, 0, 480, 120, "background: #003a70; color: white", 40)
    clock.setAlignment(Qt.AlignmentFlag.AlignCenter)
    main_zone = QLabel(top)
    main_zone.setGeometry(0, 120, 1440, 880)
    side = label(top, 1440, 120, 480, 880, "background: #12335a; color: white; padding: 32px", 30)
    side.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    Ticker(top)
    state = {"picture": 0, "side": 0}

    def tick() -> None:
        clock.setText(QDateTime.currentDateTime().toString("HH:mm\nddd, d. MMMM"))
        QTimer.singleShot(1000 - QDateTime.currentDateTime().time().msec(), tick)

    def next_picture() -> None:
        main_zone.setPixmap(cover(media / PICTURES[state["picture"] % len(PICTURES)], 1440, 880))
        state["picture"] += 1

    def next_side() -> None:
        side.setText(SIDE[state["side"] % len(SIDE)])
        state["side"] += 1

    tick()
    next_picture()
    next_side()
    pictures, texts = QTimer(top), QTimer(top)
    pictures.timeout.connect(next_picture)
    texts.timeout.connect(next_side)
    pictures.start(8000)
    texts.start(12000)
    top.show()

    def painted() -> None:
        top.repaint()
        print(f"OSC_FIRST_FRAME {time.clock_gettime(time.CLOCK_MONOTONIC):.6f}", flush=True)

    QTimer.singleShot(0, painted)
    QTimer.singleShot(int(seconds * 1000), app.quit)
    sys.exit(app.exec())


if __name__ == "__main__":
    main()
