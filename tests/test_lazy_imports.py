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

HEAVY = ("requests", "urllib3", "sqlite3", "qrcode", "vlc", "apscheduler", "_hashlib", "ssl", "asyncio",
         "multiprocessing", "importlib.metadata", "PIL.ImageDraw", "PIL._imagingft", "subprocess", "socket", "uuid",
         "platform", "html.parser", "html.entities")

PROBE = f"""
import json, sys
from pathlib import Path
from player.config import load_config
from player.ui.app import run_player
cfg = load_config(Path(sys.argv[2]), env={{}})
run_player(cfg, Path(sys.argv[1]), windowed=(640, 360), exit_after=float(sys.argv[3]))
print("LOADED " + json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
print("PLAYER " + json.dumps(sorted(m for m in sys.modules if m.startswith(("player.ui.widgets.", "player.feeds.")))))
import linecache
print("SOURCES " + json.dumps({{name: sum(map(len, entry[2])) for name, entry in linecache.cache.items()
                                if len(entry) > 2}}))
"""


def play_and_probe(tmp_path: Path, doc: dict, seconds: float = 2.0, files: dict[str, str | bytes] | None = None
                   ) -> dict[str, object]:
    folder = tmp_path / "content"
    folder.mkdir()
    for name, content in (files or {}).items():
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            (folder / name).write_text(content, encoding="utf-8")
    (folder / "screen.json").write_text(json.dumps(doc))
    (tmp_path / "player.toml").write_text(f'[player]\nstate_dir = "{tmp_path}/state"\ncache_dir = "{tmp_path}/cache"\n')
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    res = subprocess.run([sys.executable, "-c", PROBE, str(folder), str(tmp_path / "player.toml"), str(seconds)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return {key: json.loads(line.removeprefix(key + " ")) for line in res.stdout.splitlines()
            for key in ("LOADED", "SOURCES", "PLAYER") if line.startswith(key + " ")}


def loaded_after_playing(tmp_path: Path, doc: dict, seconds: float = 2.0,
                         files: dict[str, str | bytes] | None = None) -> list[str]:
    return play_and_probe(tmp_path, doc, seconds, files)["LOADED"]  # type: ignore[return-value]


def test_a_folder_with_text_and_ticker_loads_none_of_the_heavy_modules(tmp_path: Path) -> None:
    doc = one_zone([{"type": "text", "text": "Grüß Gott", "duration": 1},
                    {"type": "ticker", "text": "Straßenfest am Samstag", "duration": 1}])
    assert loaded_after_playing(tmp_path, doc) == []


def test_a_picture_loads_pillow_s_jpeg_plugin_without_subprocess(tmp_path: Path) -> None:
    """Pillow's JPEG plugin imports subprocess for djpeg only (player/picture.py gives it a stand-in)."""
    import io

    from PIL import Image

    jpeg = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(jpeg, "JPEG")
    doc = one_zone([{"type": "image", "src": "rot.jpg", "duration": 5}])
    assert loaded_after_playing(tmp_path, doc, files={"rot.jpg": jpeg.getvalue()}) == []


def test_a_qr_item_loads_the_encoder_and_nothing_else(tmp_path: Path) -> None:
    doc = one_zone([{"type": "qr", "data": "https://example.org/termine", "duration": 5}])
    assert loaded_after_playing(tmp_path, doc) == ["qrcode"]


def test_live_data_loads_the_scheduler_but_not_what_it_imports_without_use(tmp_path: Path) -> None:
    """APScheduler imports asyncio (which would load ssl and with it OpenSSL), multiprocessing and
    importlib.metadata; the feed runner uses none of them (player.feeds.base._apscheduler)."""
    weather = {"kind": "weather", "station": "Musterstadt",
               "values": {"lufttemperatur": {"name": "Lufttemperatur", "unit": "°C", "value": 3.5}}}
    doc = one_zone([{"type": "widget", "widget": "weather", "feed": "wetter", "duration": 5}],
                   feeds={"wetter": {"type": "sample", "file": "weather.json", "interval_s": 60}})
    loaded = play_and_probe(tmp_path, doc, 3.0, {"weather.json": json.dumps(weather)})["LOADED"]
    assert loaded == ["apscheduler"]


def test_a_screen_loads_the_views_of_its_own_widget_kinds_and_the_warning_view(tmp_path: Path) -> None:
    """Widget views are imported by kind (player/ui/widgets/__init__.py): a weather screen does not carry the map,
    the digital-twin messages or the departure board; a feed that can bring severe warnings gets the warning view
    loaded with the content, not on the GUI thread when a warning comes."""
    weather = {"kind": "weather", "station": "Musterstadt",
               "values": {"lufttemperatur": {"name": "Lufttemperatur", "unit": "°C", "value": 3.5}}}
    doc = one_zone([{"type": "widget", "widget": "weather", "feed": "wetter", "duration": 5}],
                   feeds={"wetter": {"type": "sample", "file": "weather.json", "interval_s": 60}})
    loaded = play_and_probe(tmp_path, doc, 3.0, {"weather.json": json.dumps(weather)})["PLAYER"]
    assert isinstance(loaded, list)
    assert "player.ui.widgets.weather" in loaded and "player.ui.widgets.warnings" in loaded
    for module in ("player.ui.widgets.twin", "player.ui.widgets.places", "player.ui.widgets.departures",
                   "player.ui.widgets.sensors", "player.ui.widgets.news", "player.ui.widgets.clock",
                   "player.feeds.twin", "player.feeds.places"):
        assert module not in loaded


RUNNER = """
import json, sys, threading
from dataclasses import dataclass
from player.feeds.base import Feed, FeedRunner

@dataclass(frozen=True)
class Count:
    n: int

class Counting(Feed[Count]):
    value_type = Count
    calls = 0
    def fetch(self):
        Counting.calls += 1
        return Count(Counting.calls)

got = []
two = threading.Event()
def on_update(name, state):
    got.append(state.value.n)
    if len(got) >= 2:
        two.set()
runner = FeedRunner([Counting("count", interval_s=0.2, timeout_s=1, stale_after_s=60)], on_update)
runner.start()
two.wait(30)
runner.stop()
import apscheduler
from apscheduler.schedulers.background import BackgroundScheduler
other = BackgroundScheduler(timezone="UTC")  # APScheduler's aliases work for any other scheduler in the process
other.add_job(print, "interval", seconds=1000)
other.add_job(print, "cron", hour=3)
other.add_job(print, run_date="2099-01-01 00:00:00")  # no trigger given: "date"
triggers = [type(job.trigger).__name__ for job in other.get_jobs()]
loaded = sorted(m for m in ("asyncio", "ssl", "multiprocessing", "importlib.metadata", "concurrent.futures.process",
                            "uuid", "platform") if m in sys.modules)
ids = [job.id for job in other.get_jobs()]  # added without an id: the stand-in's uuid4().hex
# what the hub client or another library may do later, on any thread: it gets the real modules
import asyncio, importlib.metadata, multiprocessing, ssl
asyncio.run(asyncio.sleep(0))
real = [ssl.OPENSSL_VERSION.startswith("OpenSSL"), importlib.metadata.version("requests") != "",
        multiprocessing.cpu_count() > 0]
import uuid
real.append(all(uuid.UUID(hex=i).version == 4 for i in ids) and len(set(ids)) == 3)
print(json.dumps({"values": got[:2], "loaded": loaded, "real": real, "triggers": triggers,
                  "version": apscheduler.__version__ == importlib.metadata.version("APScheduler")}))
"""


def test_the_feed_runner_runs_its_jobs_without_asyncio_process_pools_or_metadata() -> None:
    """In a fresh interpreter: the scheduler runs the feed on its interval, nothing it was given a stand-in for is
    loaded, and the real modules are there for whoever imports them afterwards."""
    res = subprocess.run([sys.executable, "-c", RUNNER], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(res.stdout) == {"values": [1, 2], "loaded": [], "real": [True, True, True, True],
                                      "triggers": ["IntervalTrigger", "CronTrigger", "DateTrigger"], "version": True}


LEAVING_OUT = """
import json, sys, threading
sys.path.insert(0, sys.argv[1])
from player.memory import import_leaving_out
if sys.argv[3] == "loaded":
    import leftmod
module = import_leaving_out(sys.argv[2], "leftmod")
result = {"had_it": module.leftmod is not None, "loaded": "leftmod" in sys.modules}
import leftmod  # nothing stays refused after the import
result["later"] = leftmod.VALUE
print(json.dumps(result))
"""


def _leaving_out(tmp_path: Path, module: str, first: str = "") -> dict[str, object]:
    (tmp_path / "leftmod.py").write_text("VALUE = 42\n")
    (tmp_path / "optional.py").write_text("try:\n    import leftmod\nexcept ImportError:\n    leftmod = None\n")
    (tmp_path / "needs.py").write_text("import leftmod\n")
    res = subprocess.run([sys.executable, "-c", LEAVING_OUT, str(tmp_path), module, first], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout)  # type: ignore[no-any-return]


def test_a_library_that_can_do_without_a_module_is_imported_without_it(tmp_path: Path) -> None:
    assert _leaving_out(tmp_path, "optional") == {"had_it": False, "loaded": False, "later": 42}


def test_a_library_that_needs_the_module_after_all_gets_it(tmp_path: Path) -> None:
    assert _leaving_out(tmp_path, "needs") == {"had_it": True, "loaded": True, "later": 42}


def test_a_module_already_loaded_is_not_taken_away(tmp_path: Path) -> None:
    assert _leaving_out(tmp_path, "optional", "loaded") == {"had_it": True, "loaded": True, "later": 42}


def _run(tmp_path: Path, code: str, files: dict[str, str]) -> dict[str, object]:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    res = subprocess.run([sys.executable, "-c", "import sys\nsys.path.insert(0, sys.argv[1])\n" + code, str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout)  # type: ignore[no-any-return]


def test_a_nested_call_does_not_end_the_outer_refusal(tmp_path: Path) -> None:
    inner_first = ("from player.memory import import_leaving_out\nimport_leaving_out('inner', 'leftmod')\n"
                   "try:\n    import leftmod\nexcept ImportError:\n    leftmod = None\n")
    result = _run(tmp_path, "import json\nfrom player.memory import import_leaving_out\n"
                            "outer = import_leaving_out('outer', 'leftmod')\n"
                            "print(json.dumps({'outer_had_it': outer.leftmod is not None}))\n",
                  {"leftmod.py": "VALUE = 42\n", "inner.py": "X = 1\n", "outer.py": inner_first})
    assert result == {"outer_had_it": False}


def test_a_package_imported_again_after_all_has_all_its_parts(tmp_path: Path) -> None:
    """The first attempt loads ``pkg.part``, then fails on a hard import of the left-out module; the package of the
    second attempt must carry ``part`` as an attribute (qr.py reads ``qrcode.exceptions`` that way)."""
    result = _run(tmp_path, "import json\nfrom player.memory import import_leaving_out\n"
                            "pkg = import_leaving_out('pkg', 'leftmod')\n"
                            "print(json.dumps({'part': pkg.part.X, 'needy': pkg.needy.leftmod.VALUE}))\n",
                  {"leftmod.py": "VALUE = 42\n", "pkg/__init__.py": "from pkg.part import X\nfrom pkg.needy import leftmod\n",
                   "pkg/part.py": "X = 1\n", "pkg/needy.py": "import leftmod\n"})
    assert result == {"part": 1, "needy": 42}


OTHER_THREAD = """
import json, sys, threading
sys.path.insert(0, sys.argv[1])
import gate
from player.memory import import_leaving_out
result = {}
def leave_out():
    result["refused_here"] = import_leaving_out("waits", "leftmod").leftmod is None
worker = threading.Thread(target=leave_out)
worker.start()
assert gate.refused.wait(30)  # the worker was refused leftmod and is still inside its import
import leftmod  # this thread is not refused anything
result["other_thread"] = leftmod.VALUE
gate.go.set()
worker.join(30)
print(json.dumps(result))
"""


def test_only_the_importing_thread_is_refused_the_module(tmp_path: Path) -> None:
    """The hub client imports ssl on its own threads; one doing so while the feeds start must get it."""
    (tmp_path / "leftmod.py").write_text("VALUE = 42\n")
    (tmp_path / "gate.py").write_text("import threading\nrefused = threading.Event()\ngo = threading.Event()\n")
    (tmp_path / "waits.py").write_text("import gate\ntry:\n    import leftmod\nexcept ImportError:\n    leftmod = None\n"
                                       "gate.refused.set()\ngate.go.wait(30)\n")
    res = subprocess.run([sys.executable, "-c", OTHER_THREAD, str(tmp_path)], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(res.stdout) == {"refused_here": True, "other_thread": 42}


STAND_INS = """
import json, sys, threading, types
from player.memory import import_with_stand_ins
import gate
left = types.ModuleType("leftmod")
left.VALUE = "stand-in"
deep = types.ModuleType("deep.mod")
deep.VALUE = "stand-in deep"
result = {}
def importing():
    [pkg] = import_with_stand_ins("pkg", ["pkg"], {"leftmod": left, "deep.mod": deep})
    result.update({"as": pkg.a.VALUE, "from": pkg.VALUE, "dotted_as": pkg.d.VALUE, "dotted": pkg.deep.mod.VALUE,
                   "parent": pkg.deep.REAL, "from_parent": pkg.m2.VALUE, "submodule": pkg.sub.leftmod.VALUE,
                   "outside": pkg.outside.leftmod.VALUE})
worker = threading.Thread(target=importing)
worker.start()
assert gate.inside.wait(30)  # the worker is inside the package's import
import leftmod  # this thread gets the real module
import pkg.other  # and a module of the same package imported here meanwhile gets it too
result["other_thread"] = [leftmod.VALUE, pkg.other.leftmod.VALUE]
gate.go.set()
worker.join(30)
result["in_sys_modules"] = [sys.modules["leftmod"].VALUE, "deep.mod" in sys.modules]
print(json.dumps(result))
"""


def test_stand_ins_reach_only_the_package_s_own_modules(tmp_path: Path) -> None:
    """The package's import statements (every form) get the stand-ins; a module outside it, another thread and
    ``sys.modules`` get the real ones."""
    result = _run(tmp_path, STAND_INS, {
        "leftmod.py": "VALUE = 'real'\n", "deep/__init__.py": "REAL = 'deep package'\n",
        "deep/mod.py": "VALUE = 'real deep'\n", "pkg/other.py": "import leftmod\n",
        "outside.py": "import leftmod\n",
        "gate.py": "import threading\ninside = threading.Event()\ngo = threading.Event()\n",
        "pkg/__init__.py": "import gate\nimport leftmod as a\nfrom leftmod import VALUE\nimport deep.mod as d\n"
                           "import deep.mod\nfrom deep import mod as m2\nimport outside\nfrom pkg import sub\n"
                           "gate.inside.set()\ngate.go.wait(30)\n",
        "pkg/sub.py": "import leftmod\n"})
    assert result == {"as": "stand-in", "from": "stand-in", "dotted_as": "stand-in deep", "dotted": "stand-in deep",
                      "parent": "deep package", "from_parent": "stand-in deep", "submodule": "stand-in",
                      "outside": "real", "other_thread": ["real", "real"], "in_sys_modules": ["real", False]}


def test_the_source_text_of_imported_modules_is_not_kept(tmp_path: Path) -> None:
    """Before the fix 208 files, about 8 MB, sat in linecache after the demo started (every module imported after
    PySide6). A traceback may still read a file or two; the whole library may not."""
    doc = one_zone([{"type": "text", "text": "Öffnungszeiten", "duration": 1},
                    {"type": "qr", "data": "https://example.org/termine", "duration": 1}])
    sources = play_and_probe(tmp_path, doc)["SOURCES"]
    assert isinstance(sources, dict)
    assert sum(sources.values()) < 200_000, f"{len(sources)} source files kept: {sorted(sources)[:20]}"
    # nor what PySide's own check read while Qt itself was imported, before the player's check took over
    assert not [name for name in sources if name.endswith(("enum.py", "PySide6/__init__.py"))], sorted(sources)


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


def test_the_stand_in_metadata_reads_apscheduler_s_own_dist_info(tmp_path: Path) -> None:
    """"apscheduler_di-0.1.0.dist-info" (a plug-in, another distribution) sorts after "APScheduler-3.11.3.dist-info"
    and was taken for it; of two versions left side by side the higher one counts, by number ("3.9" < "3.10")."""
    from player.feeds.scheduling import dist_info_in, own_metadata

    for name in ("APScheduler-3.9.1.dist-info", "APScheduler-3.10.4.dist-info", "apscheduler_di-0.1.0.dist-info",
                 "apschedulerx-9.0.dist-info"):
        (tmp_path / name).mkdir()
    assert dist_info_in(tmp_path, "apscheduler") == tmp_path / "APScheduler-3.10.4.dist-info"
    assert dist_info_in(tmp_path, "requests") is None
    metadata = own_metadata()  # the real one in this environment
    assert metadata.version("APScheduler") == metadata.version("apscheduler") != ""
    assert {entry.name for entry in metadata.entry_points(group="apscheduler.triggers")} >= {"interval", "cron", "date"}


HEAP_PROBE = """
import json
from player.memory import tune_malloc
tune_malloc()
def heap():
    line = next(line for line in open("/proc/self/maps") if line.rstrip().endswith("[heap]"))
    lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
    return lo, hi
lo0, hi0 = heap()
blocks = [bytes(64 * 1024) for _ in range(58)]  # what tobytes() makes of a 1440x880 slide: 58 pieces of 64 KiB
lo, hi = heap()
print(json.dumps({"growth": hi - hi0, "inside": sum(lo <= id(b) < hi for b in blocks)}))
"""


def test_pillow_s_64_kib_pieces_are_served_by_mmap_not_the_heap() -> None:
    """tobytes() builds a picture from pieces of ImageFile.MAXBLOCK bytes; on the heap they could keep it from
    shrinking for good (player/memory.py). Served by mmap, they go back to the system when freed."""
    from PIL import ImageFile

    assert ImageFile.MAXBLOCK <= 64 * 1024  # Pillow's piece size: still at or below the player's threshold
    res = subprocess.run([sys.executable, "-c", HEAP_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    # a few may fit in room the heap already has (glibc takes a free chunk before it maps one); the heap does not grow
    # for them (with a 128 KiB threshold: by 3.7 MB, all 58 inside)
    assert out["growth"] < 512 * 1024 and out["inside"] <= 8, out
