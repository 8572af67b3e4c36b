"""The command line as staff use it: validate, preview (pixel checks), schedule; exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage

from screens import DEMO_DIR, ROOT, one_zone, solid_image, write_screen
from videos import make_video

CLI = [sys.executable, "-m", "player.cli"]


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": "/tmp"})


def near(color: QColor, rgb: tuple[int, int, int], tol: int = 12) -> bool:
    return all(abs(a - b) <= tol for a, b in zip((color.red(), color.green(), color.blue()), rgb, strict=True))


def test_validate_exit_codes(tmp_path: Path) -> None:
    ok = run_cli("validate", str(DEMO_DIR / "screen.json"), *map(str, (ROOT / "layouts").glob("*-*.json")))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.count(": ok") == 4
    bad = write_screen(tmp_path / "bad", one_zone([{"type": "hologram"}, {"type": "text", "color": "rot"}]))
    res = run_cli("validate", str(bad))
    assert res.returncode == 1
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{bad}: $.layouts.main.zones[0].items[") for line in lines)
    missing = run_cli("validate", str(tmp_path / "nope.json"))
    assert missing.returncode == 1 and "file not found" in missing.stdout


def test_preview_of_the_demo_is_a_1920x1080_png_showing_the_layout(tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    res = run_cli("preview", "--source", str(DEMO_DIR), "--at", "2026-12-01T10:00:00+01:00", "--out", str(out))
    assert res.returncode == 0, res.stderr
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1920, 1080)
    assert near(img.pixelColor(700, 30), (0x00, 0x3A, 0x70))  # header background (template)
    assert near(img.pixelColor(1900, 600), (0x12, 0x33, 0x5A))  # side column
    assert near(img.pixelColor(5, 1075), (0xFF, 0xCC, 0x00), tol=20)  # ticker footer
    # the slideshow shows the market picture: its sky is dark blue, not the black zone background
    sky = img.pixelColor(300, 200)
    assert sky.blue() > sky.red() and sky.blue() > 40


def test_preview_at_night_shows_the_scheduled_layout(tmp_path: Path) -> None:
    out = tmp_path / "night.png"
    res = run_cli("preview", "--source", str(DEMO_DIR), "--at", "2026-12-01T23:30:00+01:00", "--out", str(out),
                  "--size", "960x540")
    assert res.returncode == 0, res.stderr
    img = QImage(str(out))
    assert (img.width(), img.height()) == (960, 540)
    assert not near(img.pixelColor(350, 15), (0x00, 0x3A, 0x70))  # no header: the night layout is fullscreen


def test_preview_places_zones_and_letterboxes(tmp_path: Path) -> None:
    doc = one_zone([], background="#336699")
    doc["layouts"]["main"]["zones"] = [
        {"id": "red", "x": 0, "y": 0, "width": 960, "height": 540, "background": "#ff0000"},
        {"id": "img", "x": 960, "y": 540, "width": 960, "height": 540,
         "items": [{"type": "image", "src": "green.png", "fit": "stretch"}]},
    ]
    solid_image(tmp_path / "screen" / "green.png", (0, 255, 0))
    write_screen(tmp_path / "screen", doc)
    out = tmp_path / "p.png"
    res = run_cli("preview", "--source", str(tmp_path / "screen"), "--at", "2026-12-01T10:00:00+01:00",
                  "--out", str(out), "--size", "1000x1000")
    assert res.returncode == 0, res.stderr
    img = QImage(str(out))
    # 1920x1080 into 1000x1000: scale 0.5208, canvas 1000x562 centred -> bars of 219 px above and below
    assert near(img.pixelColor(500, 100), (0, 0, 0)) and near(img.pixelColor(500, 900), (0, 0, 0))
    assert near(img.pixelColor(250, 350), (255, 0, 0))  # red zone, top left quarter of the canvas
    assert near(img.pixelColor(750, 350), (0x33, 0x66, 0x99))  # layout background shows through
    assert near(img.pixelColor(750, 650), (0, 255, 0))  # the image zone, bottom right
    assert near(img.pixelColor(250, 650), (0x33, 0x66, 0x99))


def test_preview_shows_the_first_frame_of_a_video_item(tmp_path: Path) -> None:
    """A video zone in the PNG shows the clip's picture (decoded offscreen), not the zone or layout background."""
    try:
        import vlc  # noqa: F401
    except (ImportError, OSError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"python-vlc/libvlc not usable: {exc}")
        pytest.skip(f"python-vlc/libvlc not usable: {exc}")
    make_video(tmp_path / "screen" / "red.mp4", "red", 2.0)  # fails under CI=true when ffmpeg is missing
    doc = one_zone([], background="#0000ff")
    doc["layouts"]["main"]["zones"] = [
        {"id": "film", "x": 0, "y": 0, "width": 960, "height": 540, "background": "#00ff00",
         "items": [{"type": "video", "src": "red.mp4", "fit": "stretch"}]},
    ]
    write_screen(tmp_path / "screen", doc)
    out = tmp_path / "v.png"
    res = run_cli("preview", "--source", str(tmp_path / "screen"), "--at", "2026-12-01T10:00:00+01:00",
                  "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "not every zone was ready" not in res.stderr, res.stderr
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1920, 1080)
    assert near(img.pixelColor(480, 270), (255, 0, 0), tol=30), img.pixelColor(480, 270).name()  # the video
    assert near(img.pixelColor(1440, 810), (0, 0, 255))  # outside the zone: the layout background


def test_preview_and_validate_refuse_a_broken_document(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "screen.json").write_text("{ not json", encoding="utf-8")
    res = run_cli("preview", "--source", str(folder), "--at", "2026-12-01T10:00:00+01:00", "--out",
                  str(tmp_path / "o.png"))
    assert res.returncode == 1
    assert "not valid JSON" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("args", [["preview", "--source", ".", "--at", "gestern", "--out", "x.png"],
                                  ["preview", "--source", ".", "--at", "2026-12-01T10:00", "--out", "x.png"],
                                  ["run", "--windowed", "huge"]])
def test_bad_arguments_exit_2_with_a_message(args: list[str]) -> None:
    res = run_cli(*args)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and res.stderr.strip()


def test_run_shows_an_error_screen_for_a_broken_document_and_keeps_running(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "screen.json").write_text('{"layouts": {"a": {"zones": 5}}}', encoding="utf-8")
    res = run_cli("run", "--source", str(folder), "--windowed", "640x360", "--exit-after", "1.5")
    assert res.returncode == 0, res.stderr
    assert "$.layouts.a.zones: expected array" in res.stderr
    assert "Traceback" not in res.stderr


def test_schedule_prints_the_timeline(tmp_path: Path) -> None:
    res = run_cli("schedule", "--source", str(DEMO_DIR), "--from", "2026-12-01T00:00:00+01:00",
                  "--to", "2026-12-02T00:00:00+01:00")
    assert res.returncode == 0, res.stderr
    assert "nacht" in res.stdout and "info" in res.stdout
    assert "06:00" in res.stdout and "22:00" in res.stdout


def test_schedule_takes_local_times_in_the_schedules_zone_as_documented() -> None:
    """docs/scheduling.md: ``--from 2026-12-21T00:00`` (no offset) is local time in the schedule's time zone."""
    local = run_cli("schedule", "--source", str(DEMO_DIR), "--from", "2026-12-01T00:00", "--to", "2026-12-02T00:00")
    assert local.returncode == 0, local.stderr
    offset = run_cli("schedule", "--source", str(DEMO_DIR), "--from", "2026-12-01T00:00:00+01:00",
                     "--to", "2026-12-01T23:00:00Z")  # the same two instants, written with offsets
    assert offset.returncode == 0, offset.stderr
    assert local.stdout == offset.stdout
    assert local.stdout.splitlines()[0].startswith("Di 01.12. 00:00 – 06:00  layout 'nacht'")
    assert local.stderr == ""
    date_only = run_cli("schedule", "--source", str(DEMO_DIR), "--from", "2026-12-01", "--to", "2026-12-02")
    assert date_only.returncode == 0 and date_only.stdout == local.stdout


@pytest.mark.parametrize(("start", "note", "first"), [
    ("2026-03-29T02:30", "--from 2026-03-29T02:30 does not exist in Europe/Berlin (clocks go forward); using the "
     "first instant after the gap, 03:00 CEST", "So 29.03. 03:00 – 06:00"),
    ("2026-10-25T02:30", "--from 2026-10-25T02:30 occurs twice in Europe/Berlin (clocks go back); using the first, "
     "02:30 CEST", "So 25.10. 02:30 CEST – 06:00"),
])
def test_schedule_local_times_in_a_dst_gap_or_fold_follow_the_schedule_rule(start: str, note: str,
                                                                             first: str) -> None:
    res = run_cli("schedule", "--source", str(DEMO_DIR), "--from", start, "--to", start[:10] + "T12:00")
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == note
    assert res.stdout.splitlines()[0].startswith(first)


@pytest.mark.parametrize("args", [["--from", "gestern", "--to", "2026-12-02T00:00"],
                                  ["--from", "2026-12-02T00:00", "--to", "2026-12-01T00:00"]])
def test_schedule_refuses_bad_ranges_with_exit_2(args: list[str]) -> None:
    res = run_cli("schedule", "--source", str(DEMO_DIR), *args)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and res.stderr.strip()
