"""A player showing local content does not carry what it does not use: the HTTP client (requests, urllib3), the cache
index (sqlite3), the QR encoder (qrcode) and OpenSSL (hashlib, ssl) are loaded only when needed, and the source text
of imported modules is not kept (PySide6's import hook used to leave every file in linecache).
bench/startup.py measures what this saves (static image: 97 -> 77 MB RSS; demo 105 -> 97 MB for the source text)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

from screens import ROOT, one_zone

HEAVY = ("requests", "urllib3", "sqlite3", "qrcode", "vlc", "apscheduler", "_hashlib", "ssl")

PROBE = f"""
import json, sys
from pathlib import Path
from player.config import load_config
from player.ui.app import run_player
cfg = load_config(Path(sys.argv[2]), env={{}})
run_player(cfg, Path(sys.argv[1]), windowed=(640, 360), exit_after=float(sys.argv[3]))
print("LOADED " + json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
import linecache
print("SOURCES " + json.dumps({{name: sum(map(len, entry[2])) for name, entry in linecache.cache.items()
                                if len(entry) > 2}}))
"""


def play_and_probe(tmp_path: Path, doc: dict, seconds: float = 2.0) -> dict[str, object]:
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "screen.json").write_text(json.dumps(doc))
    (tmp_path / "player.toml").write_text(f'[player]\nstate_dir = "{tmp_path}/state"\ncache_dir = "{tmp_path}/cache"\n')
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    res = subprocess.run([sys.executable, "-c", PROBE, str(folder), str(tmp_path / "player.toml"), str(seconds)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return {key: json.loads(line.removeprefix(key + " ")) for line in res.stdout.splitlines()
            for key in ("LOADED", "SOURCES") if line.startswith(key + " ")}


def loaded_after_playing(tmp_path: Path, doc: dict, seconds: float = 2.0) -> list[str]:
    return play_and_probe(tmp_path, doc, seconds)["LOADED"]  # type: ignore[return-value]


def test_a_folder_with_text_and_ticker_loads_none_of_the_heavy_modules(tmp_path: Path) -> None:
    doc = one_zone([{"type": "text", "text": "Grüß Gott", "duration": 1},
                    {"type": "ticker", "text": "Straßenfest am Samstag", "duration": 1}])
    assert loaded_after_playing(tmp_path, doc) == []


def test_a_qr_item_loads_the_encoder_and_nothing_else(tmp_path: Path) -> None:
    doc = one_zone([{"type": "qr", "data": "https://example.org/termine", "duration": 5}])
    assert loaded_after_playing(tmp_path, doc) == ["qrcode"]


def test_the_source_text_of_imported_modules_is_not_kept(tmp_path: Path) -> None:
    """Before the fix 208 files, about 8 MB, sat in linecache after the demo started (every module imported after
    PySide6). A traceback may still read a file or two; the whole library may not."""
    doc = one_zone([{"type": "text", "text": "Öffnungszeiten", "duration": 1},
                    {"type": "qr", "data": "https://example.org/termine", "duration": 1}])
    sources = play_and_probe(tmp_path, doc)["SOURCES"]
    assert isinstance(sources, dict)
    assert sum(sources.values()) < 200_000, f"{len(sources)} source files kept: {sorted(sources)[:20]}"


def test_pyside_is_given_the_same_answer_without_the_cache(tmp_path: Path) -> None:
    import linecache

    import player.ui

    feature = sys.modules["shibokensupport.feature"]
    assert feature._mod_uses_pyside is player.ui.uses_pyside  # a PySide6 update that renames it must be noticed
    qt_user, plain = tmp_path / "qt_user.py", tmp_path / "plain.py"
    qt_user.write_text("from PySide6.QtCore import QTimer\n")
    plain.write_text("import json\n")
    for path, expected in ((qt_user, True), (plain, False)):
        module = types.ModuleType(path.stem)
        module.__file__ = str(path)
        assert player.ui.uses_pyside(module) is expected
        assert str(path) not in linecache.cache
        assert player.ui._pyside_check is not None
        assert bool(player.ui._pyside_check(module)) is expected  # PySide's own check agrees (and caches the text)
        linecache.cache.pop(str(path), None)
    assert player.ui.uses_pyside(types.ModuleType("builtin_like")) is False
    compiled = types.ModuleType("compiled")
    compiled.__file__ = str(tmp_path / "ext.cpython-311-x86_64-linux-gnu.so")
    assert player.ui.uses_pyside(compiled) is False


def test_malloc_tuning_finds_mallopt_in_the_process_itself() -> None:
    import platform

    from player.memory import tune_malloc

    assert platform.libc_ver()[0] == "glibc"  # the player's targets (Pi OS, Debian) all use glibc
    assert tune_malloc() is True
