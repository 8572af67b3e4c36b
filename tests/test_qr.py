"""QR codes as a phone sees them: the drawn code is decoded again by a real reader (zbarimg, from zbar-tools).

Also: data that no QR code can hold gives one clear line and the item is skipped (the zone plays on).
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtWidgets import QWidget

from player.clock import SystemClock
from player.layouts import load_screen_dict
from player.ui.bridge import WorkerBridge
from player.ui.items import RenderContext, make_view
from player.ui.qr import qr_matrix
from player.ui.zone import ZoneWidget
from screens import one_zone, require_tool


def _ctx() -> RenderContext:
    return RenderContext(clock=SystemClock(), timezone=ZoneInfo("Europe/Berlin"), resolve_media=lambda _r: None,
                         bridge=WorkerBridge())


def _decode(png: Path) -> str:
    zbarimg = require_tool("zbarimg")
    out = subprocess.run([zbarimg, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(png)],
                         capture_output=True, check=False)
    assert out.returncode == 0, f"zbarimg found no QR code: {out.stderr.decode(errors='replace')}"
    return out.stdout.decode("utf-8").rstrip("\n")


@pytest.mark.parametrize("data", [
    "https://www.stadt.example/buergerbuero?termin=2026-12-01",
    "Bürgerbüro Rathausstraße 1 – geöffnet",  # umlauts and ß travel as UTF-8
    "x" * 900,  # a large version
])
def test_a_drawn_qr_code_reads_back(qtbot, tmp_path: Path, data: str) -> None:
    item = load_screen_dict(one_zone([{"type": "qr", "id": "q", "data": data, "caption": "Mehr"}], 600, 700),
                            "t.json").screen.layouts["main"].zones[0].items[0]
    parent = QWidget()
    qtbot.addWidget(parent)
    view = make_view(item, _ctx(), parent)
    view.setGeometry(0, 0, 600, 700)
    view.prepare()
    assert view.is_ready
    png = tmp_path / "qr.png"
    assert view.grab().toImage().save(str(png))
    assert _decode(png) == data


def test_matrix_is_square_without_quiet_zone() -> None:
    m = qr_matrix("https://example.org/x")
    assert len(m) == 25 and all(len(row) == 25 for row in m)  # version 2 (21 + 4k modules)
    assert all(m[r][c] for r in range(7) for c in (0, 6)), "finder pattern starts at the very edge"


def test_data_too_large_for_any_qr_code_is_skipped_with_one_line(qtbot, caplog) -> None:
    items = [{"type": "qr", "id": "big", "data": "ü" * 1500, "duration": 1},
             {"type": "text", "id": "t", "text": "Weiter geht's", "duration": 60}]
    zone = load_screen_dict(one_zone(items, 400, 300), "t.json").screen.layouts["main"].zones[0]
    parent = QWidget()
    qtbot.addWidget(parent)
    widget = ZoneWidget(zone, _ctx(), parent)
    widget.setGeometry(0, 0, 400, 300)
    caplog.set_level(logging.ERROR)
    widget.start()
    qtbot.waitUntil(lambda: widget.current is not None and widget.current.item.id == "t", timeout=3000)
    lines = [r.getMessage() for r in caplog.records if "big" in r.getMessage()]
    assert len(lines) == 1 and "QR code: too much data for any QR code size (3000 bytes)" in lines[0]
    widget.stop()
