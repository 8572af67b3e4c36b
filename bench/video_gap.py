"""Visible gap at item switches (player vs. the naive single-player method) and CPU/RSS of 1080p playback.

    .venv/bin/python bench/video_gap.py [--cycles 6] [--seconds 60]

Starts its own Xvfb (1920x1080), makes its clips with ffmpeg, and runs in a subprocess with QT_QPA_PLATFORM=xcb.
The gap is the time during which the zone shows a frame of neither item (neither the old nor the new colour), found
by sampling the screen from a separate process as often as it can (~100-200 samples/s: the resolution is a few ms).
Both methods are measured in the same run on the same machine; the ratio is naive / player.

Naive method: one VLC player in one native window; at a switch: (show the window,) stop, set the next media, play.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

ZONE = (0, 0, 640, 360)
SAMPLE_RECT = (160, 90, 320, 180)
COLORS = {"green": (0, 200, 0), "red": (255, 0, 0), "blue": (0, 0, 255)}


# ------------------------------------------------------------------------------------------------ parent
def parent(args: argparse.Namespace) -> int:
    for tool in ("Xvfb", "xdpyinfo", "ffmpeg"):
        if shutil.which(tool) is None:
            print(f"bench needs '{tool}'", file=sys.stderr)
            return 2
    from xserver import xvfb

    with xvfb(1920, 1080) as display:
        env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb")
        code = 0
        for part in ("gaps", "hd"):  # separate processes: the HD figures are not coloured by the gap runs
            code |= subprocess.call([sys.executable, __file__, "--child", part, "--cycles", str(args.cycles),
                                     "--seconds", str(args.seconds)], env=env)
        return code


# ------------------------------------------------------------------------------------------------- child
def make_media(folder: Path) -> None:
    from PIL import Image

    from videos import make_video

    Image.new("RGB", (640, 360), COLORS["green"]).save(folder / "green.png")
    make_video(folder / "red.mp4", "red", 1.5, size=(640, 360))
    make_video(folder / "blue.mp4", "blue", 1.5, size=(640, 360))
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=25:d=10", "-c:v",
                    "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-b:v", "8M", str(folder / "hd.mp4")],
                   check=True)


def gaps(samples: list[tuple[float, str]], switches: list[tuple[float, str, str]]) -> list[float]:
    """For each switch (t, old, new): total time of samples showing neither colour until the new one shows."""
    out = []
    for t_switch, old, new in switches:
        window = [(t, c) for t, c in samples if t_switch - 0.2 <= t <= t_switch + 1.5]
        gap, prev_t, seen_new = 0.0, None, False
        for t, c in window:
            if seen_new:
                break
            if c == new:
                seen_new = True
            elif c != old and prev_t is not None:
                gap += t - prev_t
            prev_t = t
        if seen_new:
            out.append(gap * 1000)
    return out


def delays(samples: list[tuple[float, str]], switches: list[tuple[float, str, str]]) -> list[float]:
    """For each switch: ms from the moment it was due until the first sample showing the new item (the old picture,
    frozen or black, is on screen meanwhile)."""
    out = []
    for t_switch, _old, new in switches:
        first = next((t for t, c in samples if t >= t_switch and c == new), None)
        if first is not None and first - t_switch < 1.5:
            out.append((first - t_switch) * 1000)
    return out


def sample_classes(result: list[tuple[float, list[tuple[int, int, int]]]]) -> list[tuple[float, str]]:
    from videos import classify

    return [(t, classify(px, COLORS)) for t, px in result]


def run_until(app, predicate, timeout: float) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.002)


def measure_player(app, media: Path, cycles: int, tmp: Path) -> dict[str, list[float]]:  # noqa: ANN001
    from zoneinfo import ZoneInfo

    from PySide6.QtWidgets import QWidget

    import player.ui.video  # noqa: F401 - registers the view
    from player.clock import SystemClock
    from player.layouts import load_screen_dict
    from player.ui.bridge import WorkerBridge
    from player.ui.items import RenderContext
    from player.ui.zone import ZoneWidget
    from screens import one_zone
    from videos import ScreenSampler

    items = [{"type": "image", "id": "green", "src": "green.png", "duration": 1.0, "fit": "stretch"},
             {"type": "video", "id": "red", "src": "red.mp4"}, {"type": "video", "id": "blue", "src": "blue.mp4"}]
    zone = load_screen_dict(one_zone(items, width=640, height=360), "b").screen.layouts["main"].zones[0]
    top = QWidget()
    top.setStyleSheet("background: black")
    top.setGeometry(*ZONE)
    ctx = RenderContext(clock=SystemClock(), timezone=ZoneInfo("Europe/Berlin"), resolve_media=lambda r: media / r,
                        bridge=WorkerBridge())
    widget = ZoneWidget(zone, ctx, top)
    widget.setGeometry(0, 0, 640, 360)
    top.show()
    started: list[tuple[float, str]] = []
    widget.item_started.connect(lambda _z, item, _s: started.append((time.monotonic(), item)))
    widget.start()
    run_until(app, lambda: len(started) >= 1, 10)
    sampler = ScreenSampler(os.environ["DISPLAY"], SAMPLE_RECT, cycles * 4.2 + 1, tmp / "player.json")
    run_until(app, sampler.done, cycles * 4.2 + 30)
    widget.stop()
    run_until(app, lambda: False, 1)
    top.close()
    samples = sample_classes(sampler.result())
    order = ["green", "red", "blue"]
    switches = [(t, order[(order.index(i) - 1) % 3], i) for t, i in started[1:]]
    return summarize(samples, switches)


def measure_naive(app, media: Path, cycles: int, tmp: Path) -> dict[str, list[float]]:  # noqa: ANN001
    import vlc
    from PySide6.QtCore import QObject, Qt, Signal
    from PySide6.QtWidgets import QWidget

    from player.ui.video import default_vlc_args
    from videos import ScreenSampler

    top = QWidget()
    top.setStyleSheet("background: black")
    top.setGeometry(*ZONE)
    image = QWidget(top)
    image.setStyleSheet("background: rgb(0,200,0)")
    image.setGeometry(0, 0, 640, 360)
    surface = QWidget(top)
    surface.setAttribute(Qt.WidgetAttribute.WA_NativeWindow)
    surface.setAttribute(Qt.WidgetAttribute.WA_DontCreateNativeAncestors)
    surface.setGeometry(0, 0, 640, 360)
    top.show()
    instance = vlc.Instance(default_vlc_args())
    mp = instance.media_player_new()
    mp.set_xwindow(int(surface.winId()))

    class Relay(QObject):
        ended = Signal()

    relay = Relay()
    mp.event_manager().event_attach(vlc.EventType.MediaPlayerEndReached, lambda _e: relay.ended.emit())
    switches: list[tuple[float, str, str]] = []
    state = {"now": "green", "done": False}

    def play(name: str) -> None:
        t = time.monotonic()
        if state["now"] == "green":
            surface.show()
            image.hide()
        mp.stop()
        m = instance.media_new_path(str(media / f"{name}.mp4"))
        m.add_option(":no-audio")
        mp.set_media(m)
        m.release()
        mp.play()
        switches.append((t, state["now"], name))
        state["now"] = name

    def ended() -> None:
        if state["now"] == "red":
            play("blue")
        else:  # blue ended: the image for 1 s, then red
            t = time.monotonic()
            mp.stop()
            image.show()
            image.raise_()
            surface.hide()
            switches.append((t, "blue", "green"))
            state["now"] = "green"
            from PySide6.QtCore import QTimer

            QTimer.singleShot(1000, lambda: play("red"))

    relay.ended.connect(ended)
    run_until(app, lambda: False, 0.5)
    sampler = ScreenSampler(os.environ["DISPLAY"], SAMPLE_RECT, cycles * 4.2 + 1, tmp / "naive.json")
    from PySide6.QtCore import QTimer

    QTimer.singleShot(1000, lambda: play("red"))
    run_until(app, sampler.done, cycles * 4.2 + 30)
    mp.stop()
    mp.release()
    top.close()
    samples = sample_classes(sampler.result())
    return summarize(samples, switches)


def summarize(samples: list[tuple[float, str]], switches: list[tuple[float, str, str]]) -> dict[str, list[float]]:
    i2v = [s for s in switches if s[1] == "green"]
    v2v = [s for s in switches if s[1] == "red"]
    step = statistics.mean(b[0] - a[0] for a, b in zip(samples, samples[1:], strict=False)) * 1000
    return {"image->video": gaps(samples, i2v), "video->video": gaps(samples, v2v),
            "image->video delay": delays(samples, i2v), "video->video delay": delays(samples, v2v),
            "sample_ms": [step]}


def cpu_seconds() -> float:
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_hd(app, media: Path, seconds: float) -> dict[str, float]:  # noqa: ANN001
    """The player: a 1080p clip looping in a full-screen zone for ``seconds``."""
    from zoneinfo import ZoneInfo

    from PySide6.QtWidgets import QWidget

    import player.ui.video  # noqa: F401 - registers the view
    from player.clock import SystemClock
    from player.layouts import load_screen_dict
    from player.ui.bridge import WorkerBridge
    from player.ui.items import RenderContext
    from player.ui.zone import ZoneWidget
    from screens import one_zone

    items = [{"type": "video", "id": "hd", "src": "hd.mp4", "loop": True, "duration": seconds + 30}]
    zone = load_screen_dict(one_zone(items, width=1920, height=1080), "b").screen.layouts["main"].zones[0]
    top = QWidget()
    top.setGeometry(0, 0, 1920, 1080)
    ctx = RenderContext(clock=SystemClock(), timezone=ZoneInfo("Europe/Berlin"), resolve_media=lambda r: media / r,
                        bridge=WorkerBridge())
    widget = ZoneWidget(zone, ctx, top)
    widget.setGeometry(0, 0, 1920, 1080)
    top.show()
    started: list[str] = []
    widget.item_started.connect(lambda _z, item, _s: started.append(item))
    widget.start()
    run_until(app, lambda: bool(started), 10)
    run_until(app, lambda: False, 2)  # settle
    rss: list[float] = []
    c0, t0 = cpu_seconds(), time.monotonic()
    while time.monotonic() - t0 < seconds:
        run_until(app, lambda: False, 1)
        rss.append(rss_mb())
    cpu = (cpu_seconds() - c0) / (time.monotonic() - t0) * 100
    widget.stop()
    run_until(app, lambda: False, 1)
    top.close()
    return {"cpu_pct": cpu, "rss_mean_mb": statistics.mean(rss), "rss_max_mb": max(rss)}


def child(args: argparse.Namespace) -> int:
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory(prefix="osc-bench-") as tmp_name:
        tmp = Path(tmp_name)
        make_media(tmp)
        if args.child == "hd":
            hd = measure_hd(app, tmp, args.seconds)
            print(f"1080p25 h264 playback, {args.seconds:.0f} s (whole player process, incl. VLC threads): "
                  f"CPU {hd['cpu_pct']:.0f}% of one core, RSS mean {hd['rss_mean_mb']:.0f} MB, "
                  f"max {hd['rss_max_mb']:.0f} MB")
            print(json.dumps({"hd": hd}))
            return 0
        naive = measure_naive(app, tmp, args.cycles, tmp)
        player = measure_player(app, tmp, args.cycles, tmp)
    step = max(player["sample_ms"][0], naive["sample_ms"][0])
    print(f"visible gap = ms showing neither item (black or empty); delay = ms from the switch being due until the "
          f"new picture shows; {args.cycles} cycles, one screen sample every {step:.1f} ms:")
    print(f"{'switch':<20}{'player mean':>12}{'max':>8}{'naive mean':>12}{'max':>8}{'naive/player':>16}")
    for kind in ("image->video", "video->video", "image->video delay", "video->video delay"):
        p, n = player[kind] or [float("nan")], naive[kind] or [float("nan")]
        pm, nm = statistics.mean(p), statistics.mean(n)
        ratio = "inf (player 0)" if pm == 0 and nm > 0 else f"{nm / pm:.1f}x" if pm else "n/a"
        print(f"{kind:<20}{pm:>12.1f}{max(p):>8.1f}{nm:>12.1f}{max(n):>8.1f}{ratio:>16}")
    print(json.dumps({"player": player, "naive": naive}))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cycles", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--child", choices=["gaps", "hd"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    return child(args) if args.child else parent(args)


if __name__ == "__main__":
    sys.exit(main())
