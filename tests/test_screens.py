"""The setup screen as a technician sees it: what it says, where it draws, and how far the bar is filled."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from player.identity import read_device_id
from player.texts import text
from player.ui.runtime import ContentController, format_mb, network_problem
from player.ui.screens import MessageScreen, SetupInfo
from test_sync import write_config

BRANDING = {"background": "#0b2540", "accent": "#ffcc00", "text": "#ffffff"}
MIB = 1024 * 1024
UUID = "3f2b9c1e-7a4d-4e2b-9f1a-0c5d6e7f8a9b"


def setup_screen(qtbot: QtBot, size: tuple[int, int], info: SetupInfo) -> tuple[MessageScreen, QImage]:
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.resize(*size)
    screen = MessageScreen(parent, BRANDING)
    screen.setGeometry(0, 0, *size)
    screen.show_setup(info)
    screen.holder = parent  # type: ignore[attr-defined]  # keeps the parent (and so the screen) alive
    return screen, screen.grab().toImage()


def full_info() -> SetupInfo:
    done, total = 41 * MIB, 230 * MIB
    mb_done, mb_total = format_mb(done, total, "de-DE")
    return SetupInfo(screen_name="Freundlicher Leuchtturm 42", screen_id=UUID, hub_url="https://hub.example.org/parse",
                     network=text("network_hub_down", reason=text("reason_timeout")),
                     last_contact=text("contact_time", d=3, m=5, y=2026, H=14, M=7),
                     progress=(3, 12), progress_bytes=(done, total),
                     detail=text("setup_sync_bytes", done=3, total=12, mb_done=mb_done, mb_total=mb_total))


def is_accent(c: QColor) -> bool:
    return c.red() > 230 and 180 < c.green() < 230 and c.blue() < 40


def test_setup_texts_name_network_contact_and_progress_in_german(qtbot: QtBot) -> None:
    screen, _image = setup_screen(qtbot, (1920, 1080), full_info())
    assert screen.title == "Dieser Bildschirm wird eingerichtet"
    assert screen.lines == [
        "Name: Freundlicher Leuchtturm 42",
        f"Kennung: {UUID}",
        "Hub: https://hub.example.org/parse",
        "Netzwerk: Hub nicht erreichbar (keine Antwort)",
        "Letzter Kontakt: 03.05.2026, 14:07 Uhr",
        "Inhalte werden geladen: 3 von 12 Dateien, 41 von 230 MB",
    ]
    assert screen.qr_data == UUID
    # the screen's font draws the umlauts of the texts (no tofu boxes on a kiosk with few fonts)
    metrics = QFontMetrics(QFont("DejaVu Sans"))
    assert all(metrics.inFontUcs4(ord(ch)) for ch in "äöüÄÖÜß…–")


def test_megabytes_are_german_with_a_decimal_comma_below_10_mb() -> None:
    assert format_mb(41 * MIB, 230 * MIB, "de-DE") == ("41", "230")
    assert format_mb(MIB // 2, 3 * MIB, "de-DE") == ("0,5", "3,0")
    assert format_mb(MIB // 2, 3 * MIB, "en-GB") == ("0.5", "3.0")


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920)])
def test_bar_is_filled_by_bytes_not_by_files(qtbot: QtBot, size: tuple[int, int]) -> None:
    screen, image = setup_screen(qtbot, size, full_info())
    bar = screen.layout_rects()["bar"]
    y = bar.center().y()
    filled = [x for x in range(bar.left(), bar.right() + 1) if is_accent(image.pixelColor(x, y))]
    assert filled and filled[0] == bar.left()
    assert len(filled) == len(range(filled[0], filled[-1] + 1))  # one solid run from the left
    by_bytes = bar.width() * 41 / 230
    assert abs(len(filled) - by_bytes) <= 2, (len(filled), by_bytes, bar.width() * 3 / 12)


def test_bar_falls_back_to_files_while_sizes_are_unknown(qtbot: QtBot) -> None:
    info = full_info()
    info.progress_bytes = None
    screen, image = setup_screen(qtbot, (1920, 1080), info)
    bar = screen.layout_rects()["bar"]
    filled = sum(is_accent(image.pixelColor(x, bar.center().y())) for x in range(bar.left(), bar.right() + 1))
    assert abs(filled - bar.width() / 4) <= 2


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920)])
def test_nothing_is_drawn_outside_its_place_and_the_parts_do_not_overlap(qtbot: QtBot, size: tuple[int, int]) -> None:
    screen, image = setup_screen(qtbot, size, full_info())
    rects = screen.layout_rects()
    w, h = size
    whole = QRect(0, 0, w, h)
    for name, rect in rects.items():
        assert whole.contains(rect), name
    assert not rects["qr"].intersects(rects["body"]) and not rects["qr"].intersects(rects["title"])
    assert not rects["bar"].intersects(rects["qr"]) and not rects["bar"].intersects(rects["body"])
    assert rects["qr"].width() >= min(w, h) // 5  # big enough to scan from a step away
    background = QColor(BRANDING["background"])
    strip = max(8, h // 90)  # the accent strip along the top edge
    allowed = [*rects.values()]
    stray = 0
    for y in range(strip, h, 3):
        for x in range(0, w, 3):
            if image.pixelColor(x, y) != background and not any(r.contains(x, y) for r in allowed):
                stray += 1
    assert stray == 0
    # the text really is there: the body's top left area has text pixels, and the last line is inside the body
    body = rects["body"]
    inked = [y for y in range(body.top(), body.bottom(), 2)
             if any(image.pixelColor(x, y) != background for x in range(body.left(), body.right(), 2))]
    assert inked and inked[-1] < body.bottom()


def test_qr_code_is_black_on_white_with_a_quiet_zone(qtbot: QtBot) -> None:
    screen, image = setup_screen(qtbot, (1920, 1080), full_info())
    qr = screen.layout_rects()["qr"]
    white = QColor("#ffffff")
    assert image.pixelColor(qr.left() + 2, qr.top() + 2) == white
    module = qr.width() // (len(screen._qr or []) + 8)
    # the finder pattern's dark corner right after the quiet zone of 4 modules
    assert image.pixelColor(qr.left() + 4 * module + module // 2, qr.top() + 4 * module + module // 2) == QColor("#000000")


def test_error_screen_after_setup_has_no_qr_code(qtbot: QtBot) -> None:
    screen, _ = setup_screen(qtbot, (1920, 1080), full_info())
    screen.show_error(["x"])
    assert "qr" not in screen.layout_rects() and "bar" not in screen.layout_rects()


def test_network_state_names_the_reason_briefly() -> None:
    hub = "https://hub.example.org/parse"
    assert network_problem([f"{hub}/classes/SteleScreen: no answer in time (ReadTimeout)"], hub, "de-DE", True) \
        == "Hub nicht erreichbar (keine Antwort)"
    assert network_problem([f"{hub}/classes/SteleScreen: server error HTTP 503"], hub, "de-DE", True) \
        == "Hub nicht erreichbar (Serverfehler 503)"
    assert network_problem([f"{hub}/login: HTTP 401 invalid session"], hub, "de-DE", True) \
        == "verbunden, aber Fehler (Anmeldung abgelehnt)"
    assert network_problem(["http://127.0.0.1:9/s.json: cannot connect (Connection refused)"],
                           "http://127.0.0.1:9/s.json", "de-DE", False) == "Server nicht erreichbar (Verbindung abgelehnt)"


def test_a_hub_that_answers_is_not_called_unreachable() -> None:
    """The sync failed for what the hub said (a layout config pointing to a deleted object, say), while the host
    takes connections: the setup screen must not send the installer to check the network."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/parse"
        said = network_problem([f"{url}: layout config points to a deleted SteleDiashowConfig"], url, "de-DE", True)
    assert said == "verbunden, aber Fehler (Verbindungsfehler)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_first_boot_with_the_hub_down_shows_setup_with_the_network_state(qtbot: QtBot, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/parse"  # nothing listens there
    secrets = tmp_path / "hub-secrets.toml"
    secrets.write_text('rest_key = "k"\n', encoding="utf-8")
    secrets.chmod(0o600)
    config = write_config(tmp_path, source={"type": "hub"},
                          hub={"url": url, "app_id": "osc", "secrets_file": str(secrets)})
    controller = ContentController(config)
    setups: list[SetupInfo] = []
    failed: list[list[str]] = []
    controller.setup_needed.connect(setups.append)
    controller.failed.connect(failed.append)
    try:
        controller.start()
        qtbot.waitUntil(lambda: bool(setups), timeout=10_000)
        first = setups[0]
        # the id (and its QR code) is there at once, before any answer: the one stored on the device
        assert first.screen_id and first.screen_id == read_device_id(config.state_dir)
        assert first.screen_name  # the name the screen registers with
        assert first.network == "wird geprüft …" and first.last_contact == "noch keiner"
        assert first.hub_url == url
        qtbot.waitUntil(lambda: any(s.network.startswith("Hub nicht erreichbar") for s in setups), timeout=20_000)
        down = next(s for s in setups if s.network.startswith("Hub nicht erreichbar"))
        assert down.network == "Hub nicht erreichbar (Verbindung abgelehnt)"
        assert down.screen_id == first.screen_id
        assert down.lines and down.lines[0].startswith("Problem: ") and "127.0.0.1" in down.lines[0]
        assert failed == []  # no error screen for a screen that was never configured
    finally:
        controller.stop()


def test_contact_time_is_local_german_time() -> None:
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4}, \d\d:\d\d Uhr", text("contact_time", d=1, m=2, y=2026, H=9, M=5))
    assert text("contact_time", d=1, m=2, y=2026, H=9, M=5) == "01.02.2026, 09:05 Uhr"
