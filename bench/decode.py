"""Decoding one photo for its zone (``decode_for_zone``, player/ui/imaging.py): median time and peak memory with
libjpeg reducing against the zone (now) against reducing against twice the zone (how ``cover`` decoded before
2026-11-28), measured in the same run, and how far the two results lie apart.

    .venv/bin/python bench/decode.py [--rounds 3] [--decodes 6]

The photos are drawn by tests/screens.py photo_like (sky, house fronts with windows, soft edges, light noise) and
saved as JPEG quality 90, as a camera or phone would. Each case and way runs in its own child process, the two ways
alternating, ``--rounds`` times: the child applies the player's malloc settings, imports the decoder, decodes the photo
``--decodes`` times and reports the median time (first decode left out) and its peak memory (VmHWM minus the RSS
before the first decode). Ratios are now / before; the difference is PSNR and mean absolute difference per channel
(0-255) between the two results. No Qt window: the decoder runs on a worker thread in the player, here in the main
thread."""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from screens import photo_like  # noqa: E402 - after the path is set

# (photo size, zone size); all ``cover``, the fit that changed
CASES = [((4000, 3000), (1440, 880)), ((4000, 3000), (1920, 1080)), ((6000, 4000), (1920, 1080)),
         ((4000, 3000), (1080, 1920)), ((4000, 3000), (480, 640))]

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from player.memory import tune_malloc
tune_malloc()
from pathlib import Path
from player.model import Fit
from player.ui import imaging
if sys.argv[2] == "before":
    imaging.reduce_to = lambda width, height: (width * 2, height * 2)
path, w, h, n, out = Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])

rss0 = status("VmRSS:")
times = []
for _ in range(n):
    t = time.perf_counter()
    img = imaging.decode_for_zone(path, w, h, Fit.COVER)
    times.append(time.perf_counter() - t)
    if _ < n - 1:
        del img
peak = status("VmHWM:") - rss0
img.save(out)
print(json.dumps({"times": times[1:], "peak_kb": peak}))
"""


def difference(a: Path, b: Path) -> tuple[float, float]:
    from PIL import Image, ImageChops, ImageStat

    with Image.open(a) as ia, Image.open(b) as ib:
        stat = ImageStat.Stat(ImageChops.difference(ia.convert("RGB"), ib.convert("RGB")))
        mse = sum(stat.sum2) / (3 * ia.width * ia.height)
    return (10 * math.log10(255 ** 2 / mse) if mse else math.inf), sum(stat.mean) / 3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--decodes", type=int, default=6)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        photos: dict[tuple[int, int], Path] = {}
        for n, (size, _zone) in enumerate(CASES):
            if size not in photos:
                photos[size] = Path(tmp) / f"photo-{size[0]}x{size[1]}.jpg"
                photo_like(size, seed=n).save(photos[size], "JPEG", quality=90)
        for n, (size, zone) in enumerate(CASES):
            got: dict[str, dict[str, list[float]]] = {"before": {"t": [], "peak": []}, "now": {"t": [], "peak": []}}
            outs = {}
            for r in range(args.rounds):
                for way in ("before", "now") if r % 2 == 0 else ("now", "before"):
                    outs[way] = Path(tmp) / f"out-{n}-{way}.png"
                    res = json.loads(subprocess.check_output(
                        [sys.executable, "-c", CHILD, str(ROOT), way, str(photos[size]), str(zone[0]), str(zone[1]),
                         str(args.decodes), str(outs[way])], env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"}))
                    got[way]["t"].append(statistics.median(res["times"]) * 1000)
                    got[way]["peak"].append(res["peak_kb"] / 1024)
            psnr, mad = difference(outs["before"], outs["now"])
            med = {way: (statistics.median(v["t"]), statistics.median(v["peak"])) for way, v in got.items()}
            rows.append((size, zone, med, psnr, mad))
    print(f"decode_for_zone, cover, JPEG q90, medians of {args.rounds} rounds x {args.decodes - 1} decodes")
    print(f"{'photo':>10} {'zone':>10} {'before ms':>10} {'now ms':>8} {'ratio':>6} {'before MB':>10} {'now MB':>8} "
          f"{'ratio':>6} {'PSNR dB':>8} {'mean diff':>9}")
    for size, zone, med, psnr, mad in rows:
        (tb, pb), (tn, pn) = med["before"], med["now"]
        print(f"{size[0]:>5}x{size[1]:<4} {zone[0]:>5}x{zone[1]:<4} {tb:>10.0f} {tn:>8.0f} {tn / tb:>6.2f} "
              f"{pb:>10.1f} {pn:>8.1f} {pn / pb:>6.2f} {psnr:>8.1f} {mad:>9.2f}")


if __name__ == "__main__":
    main()
