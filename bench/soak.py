"""Soak: thousands of item changes and layout switches; does anything grow?

    .venv/bin/python bench/soak.py [--changes 5000] [--sample-s 10]

Plays an accelerated screen on a virtual X server (Xvfb, started here; like the Pi kiosk): four zones changing every
0.25-0.5 s (pictures of several sizes with crossfades, short videos when ffmpeg and libvlc are there, text, QR),
a ticker, a clock with seconds, live widgets fed by sample data, and a layout switch every minute. Samples RSS,
threads, open file descriptors, the size of the state/cache directories (SQLite and friends) and CPU% of the player
process, and prints the growth from the end of the warm-up (the first fifth of the run) to the end.
The baseline in the same run is the warm-up sample itself: growth is the difference. Goal: no growth beyond a few MB.
Item changes are counted from the player's debug log ("item ... on screen").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup import cpu_ticks, mem_kb, start_xvfb  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def make_content(folder: Path) -> int:
    media = folder / "m"
    media.mkdir(parents=True)
    colors = [(200, 40, 40), (40, 160, 60), (40, 80, 200), (220, 180, 30), (150, 40, 160), (30, 160, 170)]
    for i, c in enumerate(colors):
        size = (3000, 2000) if i % 2 else (1280, 720)
        img = Image.new("RGB", size, c)
        ImageDraw.Draw(img).ellipse([size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4], fill=(255, 255, 255))
        img.save(media / f"p{i}.jpg", quality=85)
    videos = 0
    if shutil.which("ffmpeg"):
        for i, c in enumerate(["red", "blue", "green"]):
            subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"color=c={c}:s=640x360:r=25:d=0.6",
                            "-c:v", "libx264", "-pix_fmt", "yuv420p", str(media / f"v{i}.mp4")], check=True)
            videos += 1
    pictures = [{"type": "image", "id": f"p{i}", "src": f"m/p{i}.jpg", "duration": 0.3, "fit": "cover",
                 "transition": "crossfade" if i % 2 else "cut", "transition_ms": 150} for i in range(6)]
    clips = [{"type": "video", "id": f"v{i}", "src": f"m/v{i}.mp4"} for i in range(videos)]
    texts = [{"type": "text", "id": f"t{i}", "text": f"Meldung {i}: Bürgerbüro geöffnet", "duration": 0.25, "font_size": 40}
             for i in range(4)] + [{"type": "qr", "id": "qr", "data": "https://example.org/x", "duration": 0.25}]
    (folder / "data").mkdir()
    shutil.copytree(ROOT / "player" / "demo" / "data", folder / "data", dirs_exist_ok=True)
    demo = json.loads((ROOT / "player" / "demo" / "screen.json").read_text(encoding="utf-8"))

    def layout(bg: str) -> dict:
        return {"width": 1920, "height": 1080, "background": bg, "zones": [
            {"id": "a", "x": 0, "y": 0, "width": 960, "height": 540, "items": pictures},
            {"id": "b", "x": 960, "y": 0, "width": 960, "height": 540, "items": clips + pictures[::-1]},
            {"id": "c", "x": 0, "y": 540, "width": 960, "height": 460, "items": texts},
            {"id": "d", "x": 960, "y": 540, "width": 480, "height": 460,
             "items": [{"type": "widget", "id": "dep", "widget": "departures", "feed": "abfahrten", "duration": 0.5},
                       {"type": "clock", "id": "clk", "format": "HH:mm:ss", "duration": 0.5}]},
            {"id": "e", "x": 1440, "y": 540, "width": 480, "height": 460,
             "items": [{"type": "clock", "id": "clk2", "format": "HH:mm:ss", "duration": 3600}]},
            {"id": "f", "x": 0, "y": 1000, "width": 1920, "height": 80, "background": "#ffcc00",
             "items": [{"type": "ticker", "id": "tick", "text": "Soak +++ Straßenbahn +++ Glühwein", "duration": 3600,
                        "color": "#0b2540", "font_size": 44}]}]}

    odd_minutes = [{"from": f"{h:02d}:{m:02d}", "to": f"{(h + (m + 1) // 60) % 24:02d}:{(m + 1) % 60:02d}"}
                   for h in range(24) for m in range(1, 60, 2)]
    entries = [{"id": f"odd{k}", "layout": "b", "times": odd_minutes[k:k + 48]} for k in range(0, len(odd_minutes), 48)]
    doc = {"version": 1, "layouts": {"a": layout("#101820"), "b": layout("#201010")},
           "schedule": {"default": "a", "entries": entries},
           "feeds": {k: v for k, v in demo.get("feeds", {}).items() if v.get("type") == "sample"}}
    (folder / "screen.json").write_text(json.dumps(doc), encoding="utf-8")
    return videos


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=5000)
    ap.add_argument("--sample-s", type=float, default=10.0)
    ap.add_argument("--max-minutes", type=float, default=40.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="osc-soak-"))
    videos = make_content(tmp / "screen")
    cfg = tmp / "player.toml"
    cfg.write_text(f'[player]\nstate_dir = "{tmp}/state"\ncache_dir = "{tmp}/cache"\nlog_level = "debug"\n')
    xvfb, display = start_xvfb()
    # MALLOC_ARENA_MAX=2 as systemd/osc-player.service sets it: the figures are those of the installed player
    env = {"MALLOC_ARENA_MAX": "2", **os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    proc = subprocess.Popen([sys.executable, "-m", "player.cli", "run", "--config", str(cfg), "--source",
                             str(tmp / "screen"), "--windowed", "1920x1080"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    changes = 0
    layouts = 0
    errors: list[str] = []

    def read_log() -> None:
        nonlocal changes, layouts
        assert proc.stderr is not None
        for line in proc.stderr:
            if "on screen" in line and "item '" in line:
                changes += 1
            elif "layout '" in line and "on screen" in line:
                layouts += 1
            elif line.startswith(("ERROR", "CRITICAL")) or "Traceback" in line:
                errors.append(line.strip())

    threading.Thread(target=read_log, daemon=True).start()
    tck = os.sysconf("SC_CLK_TCK")
    samples = []
    start = time.monotonic()
    last_cpu, last_t = cpu_ticks(proc.pid), start
    print(f"soak: {videos} video clips; target {args.changes} item changes; sampling every {args.sample_s:.0f} s")
    print(f"{'t s':>6} {'changes':>8} {'RSS MB':>8} {'threads':>8} {'fds':>5} {'state kB':>9} {'CPU %':>6}")
    try:
        while changes < args.changes and time.monotonic() - start < args.max_minutes * 60 and proc.poll() is None:
            time.sleep(args.sample_s)
            now = time.monotonic()
            cpu = cpu_ticks(proc.pid)
            rss, _pss = mem_kb(proc.pid)
            threads = int(next(ln.split()[1] for ln in open(f"/proc/{proc.pid}/status") if ln.startswith("Threads:")))
            fds = len(os.listdir(f"/proc/{proc.pid}/fd"))
            state = dir_bytes(tmp / "state") // 1024
            pct = 100.0 * (cpu - last_cpu) / tck / (now - last_t)
            last_cpu, last_t = cpu, now
            samples.append((now - start, changes, rss / 1024, threads, fds, state, pct))
            print(f"{now - start:6.0f} {changes:8d} {rss / 1024:8.1f} {threads:8d} {fds:5d} {state:9d} {pct:6.1f}",
                  flush=True)
    finally:
        alive = proc.poll() is None
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        xvfb.terminate()
    if not samples:
        raise SystemExit("no samples: the player ended early")
    # RSS swings with each large picture decoded (transient buffers): compare medians of sample windows,
    # the window right after warm-up against the last window of the run
    import statistics

    k = max(1, len(samples) // 5)
    after_warmup, end = samples[k:2 * k] or samples[:k], samples[-k:]

    def med(rows: list[tuple], i: int) -> float:
        return statistics.median(r[i] for r in rows)

    last = samples[-1]
    print(f"\nitem changes: {last[1]}, layout switches: {layouts}, player alive at the end: {alive}, "
          f"errors logged: {len(errors)}, mean CPU {statistics.mean(r[6] for r in samples):.1f} %")
    for e in errors[:5]:
        print("  ", e[:160])
    print(f"median over {k} samples after warm-up ({after_warmup[0][0]:.0f}-{after_warmup[-1][0]:.0f} s) vs the last "
          f"{k} ({end[0][0]:.0f}-{end[-1][0]:.0f} s):")
    print(f"  RSS {med(after_warmup, 2):.1f} -> {med(end, 2):.1f} MB ({med(end, 2) - med(after_warmup, 2):+.1f} MB, "
          f"ratio {med(end, 2) / med(after_warmup, 2):.3f}); peak {max(r[2] for r in samples):.1f} MB")
    # RSS swings by ±50 MB with the number of video outputs alive at the sample instant; a least-squares line over
    # every sample after warm-up shows a trend that two windows of medians can miss (or invent)
    post = samples[k:]
    if len(post) >= 3 and post[-1][1] > post[0][1]:
        xs, ys = [r[1] / 1000 for r in post], [r[2] for r in post]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        sxx = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
        resid = sum((y - my - slope * (x - mx)) ** 2 for x, y in zip(xs, ys, strict=True))
        stderr = (resid / max(1, len(xs) - 2) / sxx) ** 0.5
        print(f"  RSS trend after warm-up: {slope:+.2f} ± {stderr:.2f} MB per 1,000 item changes (least squares, "
              f"standard error; {len(post)} samples, {post[0][1]}-{post[-1][1]} changes)")
    print(f"  thread floor (no video output alive) {min(r[3] for r in samples[k:2 * k] or samples[:k])} -> "
          f"{min(r[3] for r in end)}")
    print(f"  threads {med(after_warmup, 3):.0f} -> {med(end, 3):.0f}, fds {med(after_warmup, 4):.0f} -> "
          f"{med(end, 4):.0f}, state dir {med(after_warmup, 5):.0f} -> {med(end, 5):.0f} kB")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
