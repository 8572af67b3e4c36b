"""A player showing local content does not carry what it does not use: the HTTP client (requests, urllib3), the cache
index (sqlite3) and the QR encoder (qrcode) are loaded only when needed.
bench/startup.py measures what this saves (static image: 97 -> 77 MB RSS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from screens import ROOT, one_zone

HEAVY = ("requests", "urllib3", "sqlite3", "qrcode", "vlc", "apscheduler")

PROBE = f"""
import json, sys
from pathlib import Path
from player.config import load_config
from player.ui.app import run_player
cfg = load_config(Path(sys.argv[2]), env={{}})
run_player(cfg, Path(sys.argv[1]), windowed=(640, 360), exit_after=float(sys.argv[3]))
print("LOADED " + json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
"""


def loaded_after_playing(tmp_path: Path, doc: dict, seconds: float = 2.0) -> list[str]:
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "screen.json").write_text(json.dumps(doc))
    (tmp_path / "player.toml").write_text(f'[player]\nstate_dir = "{tmp_path}/state"\ncache_dir = "{tmp_path}/cache"\n')
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    res = subprocess.run([sys.executable, "-c", PROBE, str(folder), str(tmp_path / "player.toml"), str(seconds)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    line = next(x for x in res.stdout.splitlines() if x.startswith("LOADED "))
    return json.loads(line.removeprefix("LOADED "))


def test_a_folder_with_text_and_ticker_loads_none_of_the_heavy_modules(tmp_path: Path) -> None:
    doc = one_zone([{"type": "text", "text": "Grüß Gott", "duration": 1},
                    {"type": "ticker", "text": "Straßenfest am Samstag", "duration": 1}])
    assert loaded_after_playing(tmp_path, doc) == []


def test_a_qr_item_loads_the_encoder_and_nothing_else(tmp_path: Path) -> None:
    doc = one_zone([{"type": "qr", "data": "https://example.org/termine", "duration": 5}])
    assert loaded_after_playing(tmp_path, doc) == ["qrcode"]
