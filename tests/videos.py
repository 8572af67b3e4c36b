"""Small test videos made by ffmpeg at test time, broken files, and a screen sampler for X11 tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from screens import require_tool

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0), "blue": (0, 0, 255), "green": (0, 200, 0), "yellow": (255, 255, 0),
    "magenta": (255, 0, 255), "cyan": (0, 255, 255), "white": (255, 255, 255), "orange": (255, 128, 0),
}


def make_video(path: Path, color: str = "red", seconds: float = 1.0, size: tuple[int, int] = (320, 240),
               fps: int = 25, pattern: bool = False) -> Path:
    """An h264/yuv420p mp4: a solid colour (easy to recognise on screen) or ffmpeg's test pattern."""
    ffmpeg = require_tool("ffmpeg")
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    src = f"testsrc=s={w}x{h}:r={fps}:d={seconds}" if pattern else f"color=c={color}:s={w}x{h}:r={fps}:d={seconds}"
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", src, "-c:v", "libx264", "-preset", "veryfast",
                    "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)], check=True)
    return path


def make_corrupt(path: Path, size: int = 200_000) -> Path:
    """A file named .mp4 that is no video at all (random bytes with an mp4-like header)."""
    import random

    rnd = random.Random(7)
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(rnd.getrandbits(8) for _ in range(size)))
    return path


def make_empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


SAMPLER = r"""
import json, sys, time
from PIL import ImageGrab
display, x, y, w, h, out = sys.argv[1], *map(int, sys.argv[2:6]), sys.argv[6]
samples = []
stop_at = time.monotonic() + float(sys.argv[7])
while time.monotonic() < stop_at:
    t = time.monotonic()
    img = ImageGrab.grab(bbox=(x, y, x + w, y + h), xdisplay=display).convert("RGB").resize((32, 24))
    samples.append((t, [img.getpixel((i, j)) for j in range(24) for i in range(32)]))
with open(out, "w") as f:
    json.dump(samples, f)
"""


class ScreenSampler:
    """Grabs a region of the X screen as often as it can, in its own process (the player's GUI thread is not
    disturbed). Times are ``time.monotonic()`` (the same clock in every process)."""

    def __init__(self, display: str, rect: tuple[int, int, int, int], seconds: float, out: Path):
        self.out = out
        self.proc = subprocess.Popen([sys.executable, "-c", SAMPLER, display, *map(str, rect), str(out), str(seconds)])

    def done(self) -> bool:
        return self.proc.poll() is not None

    def result(self) -> list[tuple[float, list[tuple[int, int, int]]]]:
        """Call when :meth:`done` (wait with ``qtbot.waitUntil``: blocking here would freeze the player)."""
        self.proc.wait(120)
        return [(t, [tuple(p) for p in pixels]) for t, pixels in json.loads(self.out.read_text())]


def classify(pixels: list[tuple[int, int, int]], colors: dict[str, tuple[int, int, int]] | None = None) -> str:
    """The name of the colour most of the region shows ('black' for black, '?' when nothing dominates)."""
    table = {"black": (0, 0, 0), **(colors or COLORS)}
    counts: dict[str, int] = {}
    for px in pixels:
        best = min(table, key=lambda name: sum((a - b) ** 2 for a, b in zip(px, table[name], strict=True)))
        dist = sum((a - b) ** 2 for a, b in zip(px, table[best], strict=True))
        name = best if dist < 60 ** 2 * 3 else "?"
        counts[name] = counts.get(name, 0) + 1
    name, n = max(counts.items(), key=lambda kv: kv[1])
    return name if n >= 0.8 * len(pixels) else "?"


def wait_file(path: Path, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
