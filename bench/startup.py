"""Start-up, memory and CPU of the player against a bare PySide6 window measured in the same run.

    .venv/bin/python bench/startup.py [--seconds 30] [--offscreen]

Six processes, one after another, each in a 1920x1080 window on the same X server (Xvfb, started here;
``--offscreen`` uses Qt's offscreen platform instead):
- baseline: a minimal PySide6 program showing one image (bench/_baseline_window.py);
- bare PySide6, demo-like: the demo's day layout done by hand in bare PySide6 (bench/_baseline_layout.py: header,
  clock, slideshow, side texts, ticker; no live data, scheduler, QR code or crossfade), for the player's own overhead
  on a similar layout (printed as a ratio of the demo to it); run twice, plain and with the malloc settings the
  player makes before it imports Qt (player/memory.py, set here through the environment), which a bare program
  could make as well;
- player, static: osc-player with one image in one zone (nothing should tick);
- player, ticker only: one scrolling ticker line, nothing else;
- player, demo: the built-in demo's day layout 'info' (slideshow with crossfades, clock, ticker, live widgets); run
  from a copy without the schedule's night entry, so the figure does not depend on the time of day (22-06 Berlin
  the demo shows its night layout: a picture and a clock, nothing that moves).
For each: process start to first frame painted, RSS and PSS after settling (the mean of one reading a second over
``--seconds``), the highest RSS since start (VmHWM: start-up, crossfades and decodes included), CPU% of one core over
``--seconds``.
Ratios against the baseline are printed (the machine is noisy; only same-run ratios mean something).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
IMAGE = ROOT / "player" / "demo" / "media" / "weihnachtsmarkt.jpg"
LIKE = "  same, player's malloc"  # the bare demo-like layout the demo is compared with
DEMO = "player, demo (day)"


def start_xvfb(size: str = "1920x1080") -> tuple[subprocess.Popen[bytes], str]:
    """A private Xvfb on the first free display number (also used by soak.py and vs_chromium.py)."""
    for n in range(90, 120):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(100):
                if Path(f"/tmp/.X11-unix/X{n}").exists():
                    return proc, f":{n}"
                time.sleep(0.05)
            proc.kill()
    raise SystemExit("could not start Xvfb")


def mem_kb(pid: int) -> tuple[int, int]:
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def peak_rss_kb(pid: int) -> int:
    """The highest RSS the process has had so far (VmHWM): start-up, crossfades and decodes included."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def measure(name: str, cmd: list[str], env: dict[str, str], seconds: float) -> dict[str, float | str]:
    t0 = time.clock_gettime(time.CLOCK_MONOTONIC)
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    first = float("nan")
    for line in proc.stdout:
        if line.startswith("OSC_FIRST_FRAME"):
            first = float(line.split()[1]) - t0
            break
    time.sleep(3.0)  # settle: decoders warm, first transitions done
    tck = os.sysconf("SC_CLK_TCK")
    c0, w0 = cpu_ticks(proc.pid), time.monotonic()
    samples = []  # memory once a second over the window: one reading alone lands on a random moment of a slideshow
    while time.monotonic() < w0 + seconds:
        time.sleep(min(1.0, max(0.0, w0 + seconds - time.monotonic())))
        samples.append(mem_kb(proc.pid))
    c1, w1 = cpu_ticks(proc.pid), time.monotonic()
    rss = sum(r for r, _ in samples) / len(samples)
    pss = sum(p for _, p in samples) / len(samples)
    peak = peak_rss_kb(proc.pid)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    return {"name": name, "first_frame_s": first, "rss_mb": rss / 1024, "pss_mb": pss / 1024, "peak_mb": peak / 1024,
            "cpu_pct": 100.0 * (c1 - c0) / tck / (w1 - w0)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--offscreen", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    env = {**os.environ, "OSC_PLAYER_BENCH": "1"}
    xvfb = None
    if args.offscreen or not shutil.which("Xvfb"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    else:
        xvfb, display = start_xvfb()
        env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
    life = str(args.seconds + 30)
    with tempfile.TemporaryDirectory() as tmp:
        static = Path(tmp) / "static"
        (static / "m").mkdir(parents=True)
        shutil.copy(IMAGE, static / "m" / "a.jpg")
        (static / "screen.json").write_text(json.dumps({"version": 1, "layouts": {"s": {"width": 1920, "height": 1080,
            "zones": [{"id": "z", "x": 0, "y": 0, "width": 1920, "height": 1080,
                       "items": [{"type": "image", "src": "m/a.jpg", "duration": 3600, "fit": "cover"}]}]}}}))
        ticker = Path(tmp) / "ticker"
        ticker.mkdir()
        (ticker / "screen.json").write_text(json.dumps({"version": 1, "layouts": {"t": {"width": 1920, "height": 1080,
            "background": "#0b2540", "zones": [{"id": "f", "x": 0, "y": 1000, "width": 1920, "height": 80,
                                                "background": "#ffcc00", "items": [{"type": "ticker", "duration": 3600,
                "text": "Straßenbahnlinie 3: Umleitung über die Goethestraße +++ Weihnachtsmarkt bis 23.12.",
                "font_size": 44, "color": "#0b2540", "bold": True}]}]}}}))
        demo = Path(tmp) / "demo"
        shutil.copytree(ROOT / "player" / "demo", demo)
        doc = json.loads((demo / "screen.json").read_text(encoding="utf-8"))
        doc["schedule"]["entries"] = []
        (demo / "screen.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        cfg = Path(tmp) / "player.toml"
        cfg.write_text(f'[player]\nstate_dir = "{tmp}/state"\ncache_dir = "{tmp}/cache"\n')
        # the player sets these through mallopt before it imports Qt (player/memory.py); the environment does the
        # same for a program that does not
        tuned = {**env, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "131072", "MALLOC_ARENA_MAX": "2"}
        layout = [PY, "bench/_baseline_layout.py", str(ROOT / "player" / "demo" / "media"), life]

        def player(folder: Path) -> list[str]:
            return [PY, "-m", "player.cli", "run", "--config", str(cfg), "--source", str(folder),
                    "--windowed", "1920x1080", "--exit-after", life]

        runs = [
            ("baseline (bare PySide6)", [PY, "bench/_baseline_window.py", str(IMAGE), "1920", "1080", life], env),
            ("bare PySide6, demo-like", layout, env),
            (LIKE, layout, tuned),
            ("player, static image", player(static), env),
            ("player, ticker only", player(ticker), env),
            (DEMO, player(demo), env),
        ]
        results = [measure(name, cmd, run_env, args.seconds) for name, cmd, run_env in runs]
    if xvfb is not None:
        xvfb.terminate()
    base = results[0]
    print(f"platform: {env['QT_QPA_PLATFORM']}, steady state measured over {args.seconds:.0f} s")
    print(f"{'':26} {'first frame':>12} {'RSS':>9} {'PSS':>9} {'peak RSS':>9} {'CPU':>7}   "
          "ratio to baseline (frame / RSS)")
    for r in results:
        print(f"{r['name']:26} {r['first_frame_s']:>10.2f} s {r['rss_mb']:>6.1f} MB {r['pss_mb']:>6.1f} MB "
              f"{r['peak_mb']:>6.1f} MB {r['cpu_pct']:>6.2f}%   {r['first_frame_s'] / base['first_frame_s']:.2f} / "
              f"{r['rss_mb'] / base['rss_mb']:.2f}")
    like, demo = (next(r for r in results if r["name"] == name) for name in (LIKE, DEMO))
    print("demo against the bare demo-like layout with the player's malloc settings: "
          f"first frame {demo['first_frame_s'] / like['first_frame_s']:.2f}, "
          f"RSS {demo['rss_mb'] / like['rss_mb']:.2f} ({demo['rss_mb'] - like['rss_mb']:+.1f} MB), "
          f"PSS {demo['pss_mb'] / like['pss_mb']:.2f} ({demo['pss_mb'] - like['pss_mb']:+.1f} MB)")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
