"""Whole screens of live widgets fed by the demo's sample data, rendered offscreen at 1920x1080 and 1080x1920.

Run as a script to write the screenshots to out/ (gitignored) for a person to look at:
    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/test_widgets_screens.py
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtGui import QGuiApplication, QImage  # noqa: E402

from player.clock import FakeClock  # noqa: E402
from player.config import load_config  # noqa: E402
from player.sources.folder import FolderSource  # noqa: E402
from screens import DEMO_DIR, ROOT  # noqa: E402

AT = datetime.fromisoformat("2026-12-01T10:00:00+01:00")

FEEDS = {name: {"type": "sample", "file": f"data/{name}.json"}
         for name in ("departures", "weather", "news", "events", "sensors", "warnings")}


def widget(wid: str, kind: str, feed: str | None = None, **options: Any) -> dict[str, Any]:
    return {"type": "widget", "id": wid, "widget": kind, "feed": feed, "duration": 3600, "options": options}


def zone(zid: str, x: int, y: int, w: int, h: int, item: dict[str, Any], bg: str = "#12335a") -> dict[str, Any]:
    return {"id": zid, "x": x, "y": y, "width": w, "height": h, "background": bg, "items": [item]}


def landscape_doc() -> dict[str, Any]:
    zones = [
        zone("clock", 0, 0, 480, 200, widget("uhr", "clock", format="HH:mm", date_format="dddd, d. MMMM",
                                             font_size=90), bg="#003a70"),
        zone("warn", 480, 0, 1440, 200, widget("warnung", "warnings", "warnings", style="banner")),
        zone("dep", 0, 200, 960, 800, widget("abfahrten", "departures", "departures"), bg="#0b2540"),
        zone("weather", 960, 200, 480, 400, widget("wetter", "weather", "weather")),
        zone("sensors", 960, 600, 480, 400, widget("umwelt", "sensors", "sensors"), bg="#163d66"),
        zone("events", 1440, 200, 480, 800, widget("termine", "events", "events"), bg="#0b2540"),
        zone("ticker", 0, 1000, 1920, 80, widget("nachrichten", "news_ticker", "news", color="#0b2540"),
             bg="#ffcc00"),
    ]
    return {"version": 1, "feeds": FEEDS, "layouts": {"main": {"width": 1920, "height": 1080,
                                                                "background": "#0b2540", "zones": zones}}}


def portrait_doc() -> dict[str, Any]:
    zones = [
        zone("clock", 0, 0, 1080, 220, widget("uhr", "clock", format="HH:mm", date_format="dddd, d. MMMM yyyy",
                                              font_size=110), bg="#003a70"),
        zone("dep", 0, 220, 1080, 760, widget("abfahrten", "departures", "departures"), bg="#0b2540"),
        zone("weather", 0, 980, 540, 420, widget("wetter", "weather", "weather")),
        zone("warn", 540, 980, 540, 420, widget("warnung", "warnings", "warnings")),
        zone("news", 0, 1400, 1080, 440, widget("liste", "news", "news"), bg="#0b2540"),
        zone("ticker", 0, 1840, 1080, 80, widget("nachrichten", "news_ticker", "news", color="#0b2540"),
             bg="#ffcc00"),
    ]
    return {"version": 1, "feeds": FEEDS, "layouts": {"main": {"width": 1080, "height": 1920,
                                                                "background": "#0b2540", "zones": zones}}}


def content_folder(folder: Path, doc: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(DEMO_DIR / "data", folder / "data", dirs_exist_ok=True)
    (folder / "screen.json").write_text(json.dumps(doc), encoding="utf-8")
    return folder


def render_folder(folder: Path, size: tuple[int, int], at: datetime = AT, state_dir: Path | None = None
                  ) -> tuple[QImage, Any]:
    """What render_preview does, plus attach_feeds(sync=True) (the wiring app.py needs): the screen with data."""
    import player.ui.widgets  # noqa: F401  (registers the widget views)
    from player.ui.app import ensure_app, make_window, wait_until
    from player.ui.live import attach_feeds

    ensure_app(headless=True)
    config = load_config(env={}, overrides={"player": {"state_dir": str(state_dir or folder / "state")}})
    source = FolderSource(folder, timezone=config.timezone)
    loaded = source.load()
    window = make_window(config, FakeClock(at), size)
    window.setFixedSize(*size)
    window.show()
    QGuiApplication.processEvents()
    attach_feeds(window, loaded.screen, config, folder, sync=True)
    window.show_screen(loaded.screen, source.resolve)
    wait_until(lambda: window.main is not None and all(s.has_first_frame for s in window._stages()), 10_000)
    QGuiApplication.processEvents()
    image = window.grab().toImage()
    return image, window


def close(window: Any) -> None:
    window._allow_close = True
    hub = window.ctx.extras.get("feeds")
    if hub is not None:
        hub.stop()
    window.close()
    window.deleteLater()


def all_runs(window: Any) -> list[tuple[Any, Any]]:
    from player.ui.widgets.base import LiveWidget

    return [(view, run) for view in window.findChildren(LiveWidget) for run in view.runs]


def test_landscape_screen_shows_live_data(tmp_path: Path, qapp: Any) -> None:
    folder = content_folder(tmp_path / "screen", landscape_doc())
    image, window = render_folder(folder, (1920, 1080))
    try:
        texts = [run.text for _, run in all_runs(window)]
        assert "Rathausplatz" in texts  # the stop name heads the board
        assert "in 2 min" in texts and "jetzt" in texts  # 10:02 line 3 and the 10:00 line 5 (09:00 UTC)
        assert any("Glätte" in t for t in texts)  # the moderate warning as a banner
        assert "2,8 °C" in texts
        assert any(t.startswith("Adventssingen") for t in texts)
        # the banner's colour is the moderate (orange) one, the board's zone keeps its background
        banner = image.pixelColor(1900, 10)
        assert banner.red() > 200 and 80 < banner.green() < 130 and banner.blue() < 40
    finally:
        close(window)


def test_portrait_screen_shows_live_data(tmp_path: Path, qapp: Any) -> None:
    folder = content_folder(tmp_path / "screen", portrait_doc())
    image, window = render_folder(folder, (1080, 1920))
    try:
        texts = [run.text for _, run in all_runs(window)]
        assert "Rathausplatz" in texts and "in 2 min" in texts
        assert any(t.startswith("Weihnachtsmarkt") for t in texts)  # news list
        assert (image.width(), image.height()) == (1080, 1920)
    finally:
        close(window)


def test_demo_with_its_sample_feeds_shows_departures_and_keeps_its_look(tmp_path: Path, qapp: Any) -> None:
    """The demo as `preview` renders it once app.py attaches the feeds: live departures in the side column."""
    image, window = render_folder(DEMO_DIR, (1920, 1080), state_dir=tmp_path / "state")
    try:
        texts = [run.text for _, run in all_runs(window)]
        assert "Rathausplatz" in texts and "in 2 min" in texts
        def near(x: int, y: int, rgb: tuple[int, int, int], tol: int = 12) -> bool:
            c = image.pixelColor(x, y)
            return all(abs(a - b) <= tol for a, b in zip((c.red(), c.green(), c.blue()), rgb, strict=True))

        assert near(700, 30, (0x00, 0x3A, 0x70)) and near(1900, 600, (0x12, 0x33, 0x5A))
        assert near(5, 1075, (0xFF, 0xCC, 0x00), tol=20)
        sky = image.pixelColor(300, 200)
        assert sky.blue() > sky.red() and sky.blue() > 40
        assert not (tmp_path / "state" / "feeds").exists() or not any((tmp_path / "state" / "feeds").iterdir())
    finally:
        close(window)


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    import tempfile

    for name, doc, size in (("widgets-1920x1080", landscape_doc(), (1920, 1080)),
                            ("widgets-1080x1920", portrait_doc(), (1080, 1920))):
        with tempfile.TemporaryDirectory() as tmp:
            folder = content_folder(Path(tmp) / "screen", doc)
            image, window = render_folder(folder, size)
            image.save(str(out / f"{name}.png"))
            close(window)
            print(out / f"{name}.png")
    image, window = render_folder(DEMO_DIR, (1920, 1080), state_dir=Path(tempfile.mkdtemp()))
    image.save(str(out / "demo-with-feeds-1920x1080.png"))
    close(window)
    print(out / "demo-with-feeds-1920x1080.png")
