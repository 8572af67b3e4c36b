"""SIGTERM (systemd stop, Ctrl+C) ends the running player promptly with exit code 0, in kiosk mode too.

Qt's quit() closes every window first and gives up when one refuses; the kiosk window refuses every close except
the maintenance chord, so a plain quit() on SIGTERM left the player running until systemd's stop timeout killed it.
And a handler that quit at once could run between two bytecodes of a paintEvent (views stopped under the painter,
a segfault at exit: seen in the kill -9 fault test). Runs offscreen: the kiosk window is full screen there too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from screens import one_zone, solid_image

ROOT = Path(__file__).resolve().parent.parent


def _wait_for(pred, seconds: float) -> bool:  # noqa: ANN001
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("kiosk", [True, False], ids=["kiosk", "windowed"])
def test_sigterm_stops_the_player_with_exit_code_0(tmp_path: Path, kiosk: bool) -> None:
    screen = tmp_path / "screen"
    solid_image(screen / "a.png", (0, 120, 200), (640, 360))
    solid_image(screen / "b.png", (200, 120, 0), (640, 360))
    items = [{"type": "image", "id": f"i{k}", "src": f"{name}.png", "duration": 0.2, "transition": "crossfade",
              "transition_ms": 150} for k, name in enumerate("ab")]  # repaints all the time: SIGTERM lands in one
    (screen / "screen.json").write_text(json.dumps(one_zone(items, 640, 360)), encoding="utf-8")
    cfg = tmp_path / "player.toml"
    cfg.write_text(f'[player]\nstate_dir = "{tmp_path}/state"\ncache_dir = "{tmp_path}/cache"\n', encoding="utf-8")
    log = tmp_path / "player.log"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    cmd = [sys.executable, "-m", "player.cli", "run", "--config", str(cfg), "--source", str(screen)]
    if not kiosk:
        cmd += ["--windowed", "640x360"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        assert _wait_for(lambda: "layout 'main' on screen" in log.read_text(errors="replace"), 30), log.read_text()
        time.sleep(0.5)  # a few crossfades on screen
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)  # systemd's default stop timeout is 90 s; a refused quit never returns
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    text = log.read_text(errors="replace")
    assert code == 0, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
