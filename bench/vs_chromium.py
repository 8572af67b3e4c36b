"""osc-player against Chromium in kiosk mode showing the same screen (issue 9, part 4).

    .venv/bin/python bench/vs_chromium.py [--seconds 60] [--settle 15] [--launches 5] [--no-warmup]
                                          [--screenshots DIR] [--json]

What users pick instead of a native player is a browser in kiosk mode (the browser-based stele client is Chromium
inside). This runs, one after the other on the same Xvfb display (1920x1080x24, started here; real X rendering like
the Pi kiosk):
- Chromium (Debian's ``chromium``) in kiosk mode on bench/chromium_demo/index.html: the demo's 'info' layout as a
  hand-written static page (header with city and clock, crossfading slideshow of the demo JPEGs every 8 s,
  departure board with a local countdown, yellow ticker scrolled by a CSS animation), file:// only;
- osc-player showing its built-in demo (``player.cli demo --windowed 1920x1080``).

Measured for each (the whole process tree: Chromium runs a browser, zygotes, a renderer, GPU and utility processes):
- first frame: launch to the moment the X screen shows the layout. Both are timed the same way: the bench polls a
  few pixels of the root window (every 10 ms, XGetImage through libX11) until the header blue, the footer yellow, the
  side column and three points of the first slide's picture (colours read from the JPEG) are all on screen. The
  processes' own markers are printed too: the player's OSC_FIRST_FRAME (after its synchronous first paint) and the
  page's console.log from the second requestAnimationFrame after ``load`` (captured with --enable-logging=stderr);
- RSS and PSS summed over the tree at the end of the window (smaps_rollup; RSS double counts shared pages);
- CPU% of one core over the window: utime+stime (+ reaped children) of the tree; the X server's CPU alongside;
- bytes written to disk: /proc/<pid>/io write_bytes of the tree over the window, scaled to an hour (the temporary
  profile, state and cache directories are on a disk file system, not tmpfs, so their writes count).
The steady-state window starts ``--settle`` seconds after the first frame. Before the measured runs each program is
launched once unmeasured, so both start with warm page caches; the first frame is the median of ``--launches``
launches of each (alternating), the last of which is the one measured in steady state. Ratios are player / Chromium, same run, same machine.
Chromium gets the flags of a careful kiosk set-up (no sandbox and no GPU, as root in a container; background
networking, component updates, sync and QUIC off, since the network is closed) plus --lang=de, and a fresh profile
seeded with translation switched off (as a kiosk set-up would by policy): otherwise a translation bubble covers the
clock.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup import mem_kb, start_xvfb  # noqa: E402  (shared with bench/startup.py and bench/soak.py)

PAGE = ROOT / "bench" / "chromium_demo" / "index.html"
DEMO = ROOT / "player" / "demo"
FIRST_SLIDE = DEMO / "media" / "weihnachtsmarkt.jpg"
WIDTH, HEIGHT = 1920, 1080
MAIN_ZONE = (0, 120)  # top left of the 1440x880 slideshow zone; the demo pictures are 1440x880, so 1:1
CHROMIUM_FLAGS = ["--kiosk", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-quic", "--lang=de",
                  f"--window-size={WIDTH},{HEIGHT}", "--window-position=0,0", "--enable-logging=stderr", "--v=0"]
CHROMIUM_PREFS = {"translate": {"enabled": False}, "intl": {"accept_languages": "de-DE,de"}}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------------ the X screen
class XImage(ctypes.Structure):
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int), ("xoffset", ctypes.c_int),
                ("format", ctypes.c_int), ("data", ctypes.c_void_p), ("byte_order", ctypes.c_int),
                ("bitmap_unit", ctypes.c_int), ("bitmap_bit_order", ctypes.c_int), ("bitmap_pad", ctypes.c_int),
                ("depth", ctypes.c_int), ("bytes_per_line", ctypes.c_int), ("bits_per_pixel", ctypes.c_int)]
    # (the rest of the struct is only used by libX11 itself)


class Screen:
    """Reads single pixels of the root window (Xvfb keeps the frame buffer, no compositor in between)."""

    def __init__(self, display: str):
        self.x11 = ctypes.CDLL("libX11.so.6")
        self.x11.XOpenDisplay.restype = ctypes.c_void_p
        self.x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self.x11.XDefaultRootWindow.restype = ctypes.c_ulong
        self.x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        self.x11.XGetImage.restype = ctypes.POINTER(XImage)
        self.x11.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_uint,
                                       ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
        self.x11.XGetPixel.restype = ctypes.c_ulong
        self.x11.XGetPixel.argtypes = [ctypes.POINTER(XImage), ctypes.c_int, ctypes.c_int]
        self.x11.XDestroyImage.argtypes = [ctypes.POINTER(XImage)]
        self.x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self.dpy = self.x11.XOpenDisplay(display.encode())
        if not self.dpy:
            raise SystemExit(f"cannot open X display {display}")
        self.root = self.x11.XDefaultRootWindow(self.dpy)

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        img = self.x11.XGetImage(self.dpy, self.root, x, y, 1, 1, 0xFFFFFFFF, 2)  # 2 = ZPixmap
        value = self.x11.XGetPixel(img, 0, 0)
        self.x11.XDestroyImage(img)
        return (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF  # depth 24: 0x00RRGGBB

    def save(self, path: Path) -> None:
        """The whole screen as PNG (for checking that both show the same layout)."""
        from PySide6.QtGui import QImage

        img = self.x11.XGetImage(self.dpy, self.root, 0, 0, WIDTH, HEIGHT, 0xFFFFFFFF, 2)
        head = img.contents
        if head.bits_per_pixel != 32:
            self.x11.XDestroyImage(img)
            raise SystemExit(f"unexpected X image format: {head.bits_per_pixel} bits per pixel")
        raw = ctypes.string_at(head.data, head.bytes_per_line * head.height)
        self.x11.XDestroyImage(img)
        QImage(raw, WIDTH, HEIGHT, head.bytes_per_line, QImage.Format.Format_RGB32).copy().save(str(path))

    def close(self) -> None:
        self.x11.XCloseDisplay(self.dpy)


@dataclass(frozen=True)
class Probe:
    x: int
    y: int
    rgb: tuple[int, int, int]
    tolerance: int
    what: str


def hex_rgb(value: str) -> tuple[int, int, int]:
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def layout_probes() -> list[Probe]:
    """Points that show the known colours only once the whole layout, picture included, is painted."""
    from PySide6.QtGui import QImage  # reading a JPEG needs no QGuiApplication

    probes = [Probe(700, 8, hex_rgb("#003a70"), 24, "header"), Probe(1446, 6, hex_rgb("#003a70"), 24, "clock zone"),
              Probe(1912, 994, hex_rgb("#12335a"), 24, "side column"),
              Probe(4, 1077, hex_rgb("#ffcc00"), 24, "ticker footer")]
    image = QImage(str(FIRST_SLIDE))
    if image.isNull():
        raise SystemExit(f"cannot read {FIRST_SLIDE}")
    for ix, iy, what in ((1187, 420, "slide: tree"), (191, 420, "slide: roof"), (450, 420, "slide: red roof")):
        c = image.pixelColor(ix, iy)
        probes.append(Probe(MAIN_ZONE[0] + ix, MAIN_ZONE[1] + iy, (c.red(), c.green(), c.blue()), 40, what))
    return probes


def on_screen(screen: Screen, probes: list[Probe]) -> bool:
    for p in probes:
        got = screen.pixel(p.x, p.y)
        if any(abs(a - b) > p.tolerance for a, b in zip(got, p.rgb, strict=True)):
            return False
    return True


# ------------------------------------------------------------------------------------------------ /proc
def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        return fh.read().rsplit(")", 1)[1].split()


def cpu_ticks(pid: int) -> int:
    f = _stat_fields(pid)
    return int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])  # utime stime cutime cstime (reaped children)


def write_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/io", encoding="ascii") as fh:  # includes reaped children, like cutime
        for line in fh:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


def process_tree(root: int, tag: str) -> set[int]:
    """``root`` and all its descendants, plus any process whose command line holds ``tag`` (a helper that was
    re-parented to init, e.g. a crash handler, still belongs to the program)."""
    children: dict[int, list[int]] = {}
    tagged: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            ppid = int(_stat_fields(pid)[1])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(pid)
        if tag.encode() in cmdline:
            tagged.add(pid)
    out: set[int] = set()
    todo = [root, *tagged]
    while todo:
        pid = todo.pop()
        if pid in out or not Path(f"/proc/{pid}").exists():
            continue
        out.add(pid)
        todo.extend(children.get(pid, []))
    return out


def per_pid(pids: set[int], read: Callable[[int], int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for pid in pids:
        try:
            out[pid] = read(pid)
        except (OSError, ValueError, IndexError):
            pass
    return out


def delta(before: dict[int, int], after: dict[int, int]) -> int:
    """Growth over the window; a process born inside it counts whole."""
    return sum(v - before.get(pid, 0) for pid, v in after.items())


def mem_sum(pids: set[int]) -> tuple[int, int]:
    rss = pss = 0
    for pid in pids:
        try:
            r, p = mem_kb(pid)
        except (OSError, ValueError):
            continue
        rss, pss = rss + r, pss + p
    return rss, pss


def fs_type(path: Path) -> str:
    best, kind = "", "?"
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            left, right = line.split(" - ", 1)
            mount = left.split()[4]
            if (str(path) == mount or str(path).startswith(mount.rstrip("/") + "/")) and len(mount) > len(best):
                best, kind = mount, right.split()[0]
    return kind


# ------------------------------------------------------------------------------------------------ one program
@dataclass
class Target:
    name: str
    cmd: list[str]
    env: dict[str, str]
    tag: str  # unique string in the command line (the temporary directory)
    marker: str  # line prefix the program prints on its first frame
    marker_clock: str  # "monotonic" or "epoch"


@dataclass
class Result:
    name: str
    first_frame_s: float = float("nan")  # median over all launches
    first_frame_runs: list[float] = field(default_factory=list)
    self_reported_s: float = float("nan")  # median
    self_reported_runs: list[float] = field(default_factory=list)
    rss_mb: float = float("nan")
    pss_mb: float = float("nan")
    peak_pss_mb: float = float("nan")
    processes: int = 0
    cpu_pct: float = float("nan")
    xvfb_cpu_pct: float = float("nan")
    written_at_start_kb: float = float("nan")
    written_window_b: int = 0
    written_per_hour_mb: float = float("nan")
    window_s: float = 0.0
    notes: list[str] = field(default_factory=list)


class Launched:
    def __init__(self, target: Target):
        self.target = target
        self.wall0 = time.time()
        self.t0 = time.clock_gettime(time.CLOCK_MONOTONIC)
        self.proc = subprocess.Popen(target.cmd, env=target.env, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
        self.marker_s = float("nan")
        self.tail: list[str] = []
        self.known: set[int] = {self.proc.pid}
        self._threads = [threading.Thread(target=self._drain, args=(s,), daemon=True)
                         for s in (self.proc.stdout, self.proc.stderr)]
        for t in self._threads:
            t.start()

    def _drain(self, stream: object) -> None:
        for raw in stream:  # type: ignore[attr-defined]
            line = raw.decode("utf-8", "replace")
            if self.marker_s != self.marker_s and self.target.marker in line:  # NaN: not seen yet
                try:
                    value = float(line.split(self.target.marker, 1)[1].split()[0].strip('",'))
                    ref = self.t0 if self.target.marker_clock == "monotonic" else self.wall0
                    self.marker_s = value - ref
                except (ValueError, IndexError):
                    pass
            self.tail = [*self.tail[-30:], line.rstrip()]

    def tree(self) -> set[int]:
        pids = process_tree(self.proc.pid, self.target.tag)
        self.known |= pids
        return pids

    def stop(self) -> None:
        pids = self.tree()
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # helpers normally leave with the main process
            left = [p for p in pids | self.known if Path(f"/proc/{p}").exists()
                    and self.target.tag.encode() in Path(f"/proc/{p}/cmdline").read_bytes()]
            if not left:
                break
            time.sleep(0.2)
        else:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for t in self._threads:
            t.join(timeout=5)


def wait_blank(screen: Screen, probes: list[Probe], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while on_screen(screen, probes) and time.monotonic() < deadline:
        time.sleep(0.05)


def wait_first_frame(run: Launched, screen: Screen, probes: list[Probe], timeout: float) -> float:
    while time.clock_gettime(time.CLOCK_MONOTONIC) - run.t0 < timeout:
        if on_screen(screen, probes):
            return time.clock_gettime(time.CLOCK_MONOTONIC) - run.t0
        if run.proc.poll() is not None:
            break
        time.sleep(0.01)
    return float("nan")


def first_frame_only(target: Target, screen: Screen, probes: list[Probe], result: Result) -> None:
    run = Launched(target)
    try:
        result.first_frame_runs.append(wait_first_frame(run, screen, probes, 90.0))
        time.sleep(0.5)  # the page's marker follows its frame closely
        result.self_reported_runs.append(run.marker_s)
    finally:
        run.stop()
        wait_blank(screen, probes)


def measure(target: Target, screen: Screen, probes: list[Probe], xvfb_pid: int, seconds: float,
            settle: float, shots: Path | None, result: Result) -> Result:
    run = Launched(target)
    try:
        first = wait_first_frame(run, screen, probes, 90.0)
        result.first_frame_runs.append(first)
        if first != first:
            result.notes.append("layout never seen on screen; last output:\n    " + "\n    ".join(run.tail[-12:]))
            return result
        time.sleep(settle)
        result.self_reported_runs.append(run.marker_s)
        if shots is not None:
            screen.save(shots / f"{target.name.lower()}.png")
        pids = run.tree()
        cpu0, io0 = per_pid(pids, cpu_ticks), per_pid(pids, write_bytes)
        x0, w0 = cpu_ticks(xvfb_pid), time.monotonic()
        load0 = os.getloadavg()[0]
        result.written_at_start_kb = sum(io0.values()) / 1024
        peak = 0
        while time.monotonic() - w0 < seconds:
            time.sleep(min(5.0, max(0.0, seconds - (time.monotonic() - w0))))
            peak = max(peak, mem_sum(run.tree())[1])
        pids = run.tree()
        cpu1, io1 = per_pid(pids, cpu_ticks), per_pid(pids, write_bytes)
        x1, w1 = cpu_ticks(xvfb_pid), time.monotonic()
        # a shared machine: say how busy it was, so a run disturbed by other work can be told apart
        result.notes.append(f"load average (1 min) at the window's start / end: {load0:.2f} / {os.getloadavg()[0]:.2f} "
                            f"on {os.cpu_count()} CPUs")
        rss, pss = mem_sum(pids)
        result.window_s = w1 - w0
        result.processes = len(pids)
        result.rss_mb, result.pss_mb, result.peak_pss_mb = rss / 1024, pss / 1024, max(peak, pss) / 1024
        result.cpu_pct = 100.0 * delta(cpu0, cpu1) / CLK_TCK / result.window_s
        result.xvfb_cpu_pct = 100.0 * (x1 - x0) / CLK_TCK / result.window_s
        result.written_window_b = delta(io0, io1)
        result.written_per_hour_mb = result.written_window_b / result.window_s * 3600 / 1e6
        if set(cpu0) != set(cpu1):
            result.notes.append(f"process set changed during the window ({len(cpu0)} -> {len(cpu1)} processes)")
        if run.proc.poll() is not None:
            result.notes.append(f"exited during the window with code {run.proc.returncode}")
    finally:
        run.stop()
        wait_blank(screen, probes)
    return result


# ------------------------------------------------------------------------------------------------ main
def chromium_binary() -> str:
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    raise SystemExit("chromium is not installed: this benchmark needs Debian's chromium package "
                     "(sudo apt-get install -y chromium). Nothing was measured.")


def demo_source(tmp: Path) -> tuple[list[str], str]:
    """The player's arguments for the demo; outside the 'info' hours (22-06 Berlin) a copy without the night entry."""
    doc = json.loads((DEMO / "screen.json").read_text(encoding="utf-8"))
    tz = ZoneInfo(doc.get("schedule", {}).get("timezone", "Europe/Berlin"))
    hour = datetime.now(tz).hour
    if 6 <= hour < 22:
        return ["demo"], ""
    copy = tmp / "demo"
    shutil.copytree(DEMO, copy)
    doc["schedule"]["entries"] = []
    (copy / "screen.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return ["run", "--source", str(copy)], (f"it is {hour}:xx in {tz}: the demo would show its night layout, so the "
                                            "player runs a copy of the demo without the night schedule entry")


def median(values: list[float]) -> float:
    ok = sorted(v for v in values if v == v)
    if not ok or len(ok) < len(values):
        return float("nan")  # a launch that never showed the layout spoils the figure
    mid = len(ok) // 2
    return ok[mid] if len(ok) % 2 else (ok[mid - 1] + ok[mid]) / 2


def fmt(value: float, spec: str, unit: str = "") -> str:
    return "n/a" if value != value else f"{value:{spec}}{unit}"


def ratio(a: float, b: float) -> str:
    if a != a or b != b:
        return "n/a"
    if b == 0:
        return "0 / 0" if a == 0 else "inf"
    return f"{a / b:.3f}"


def report(results: list[Result], args: argparse.Namespace, notes: list[str]) -> None:
    player, chrome = results
    rows: list[tuple[str, Callable[[Result], float], str, str]] = [
        ("first frame, screen poll (median)", lambda r: r.first_frame_s, ".2f", " s"),
        ("first frame, self-reported (med.)", lambda r: r.self_reported_s, ".2f", " s"),
        ("RSS sum", lambda r: r.rss_mb, ".1f", " MB"),
        ("PSS sum", lambda r: r.pss_mb, ".1f", " MB"),
        ("PSS sum, peak in window", lambda r: r.peak_pss_mb, ".1f", " MB"),
        ("processes", lambda r: float(r.processes), ".0f", ""),
        ("CPU (% of one core)", lambda r: r.cpu_pct, ".2f", " %"),
        ("Xvfb CPU meanwhile", lambda r: r.xvfb_cpu_pct, ".2f", " %"),
        ("written to disk in window", lambda r: r.written_window_b / 1024, ".0f", " kB"),
        ("written to disk per hour", lambda r: r.written_per_hour_mb, ".2f", " MB/h"),
        ("written at start (to settle)", lambda r: r.written_at_start_kb, ".0f", " kB"),
    ]
    print(f"\nsteady state: {args.settle:.0f} s after the first frame, window {player.window_s:.0f} s (player) / "
          f"{chrome.window_s:.0f} s (Chromium); Xvfb {WIDTH}x{HEIGHT}x24; {os.cpu_count()} CPUs")
    print(f"{'':35}{'osc-player':>14}{'Chromium':>14}{'player/Chromium':>18}")
    for label, get, spec, unit in rows:
        a, b = get(player), get(chrome)
        print(f"{label:35}{fmt(a, spec, unit):>14}{fmt(b, spec, unit):>14}{ratio(a, b):>18}")
    for r in results:
        print(f"first frames of {r.name} ({len(r.first_frame_runs)} launches, screen poll): "
              + ", ".join(fmt(v, ".2f") for v in r.first_frame_runs) + " s")
    goals = [
        ("memory (PSS) at most 1/5 of Chromium's", player.pss_mb <= chrome.pss_mb / 5),
        ("memory (RSS) at most 1/5 of Chromium's", player.rss_mb <= chrome.rss_mb / 5),
        ("CPU at most 1/4 of Chromium's", player.cpu_pct <= chrome.cpu_pct / 4),
        ("first frame faster", player.first_frame_s < chrome.first_frame_s),
        ("close to 0 bytes written per hour (< 1 MB/h)", player.written_per_hour_mb < 1.0),
    ]
    print("\ngoals (issue 9):")
    for text, met in goals:
        print(f"  {'met    ' if met else 'NOT met'}  {text}")
    print("\nhow: first frame = launch until the bench sees the layout's colours on the X screen (header, clock zone,"
          "\n  side column, ticker yellow, 3 points of the first slide), polled every 10 ms with XGetImage; the same"
          "\n  test for both, so neither program's notion of 'painted' is trusted. Self-reported: the player's"
          "\n  OSC_FIRST_FRAME line; the page's console.log in the second requestAnimationFrame after 'load'"
          "\n  (Chromium has no marker of its own; a rAF fires before the compositor's frame reaches X, which is"
          "\n  why the screen poll is the figure compared). Memory: smaps_rollup Rss/Pss summed over the process"
          "\n  tree at the end of the window. CPU: utime+stime(+reaped children) of the tree over the window."
          "\n  Disk: /proc/<pid>/io write_bytes of the tree over the window, scaled to one hour.")
    for r in results:
        for note in r.notes:
            print(f"note ({r.name}): {note}")
    for note in notes:
        print(f"note: {note}")
    if args.json:
        print(json.dumps([asdict(r) for r in results]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="steady-state window per program (default 60)")
    ap.add_argument("--settle", type=float, default=15.0, help="wait after the first frame before the window")
    ap.add_argument("--no-warmup", action="store_true", help="skip the unmeasured launch of each program")
    ap.add_argument("--launches", type=int, default=5, help="launches of each for the first-frame median (default 5)")
    ap.add_argument("--screenshots", type=Path, metavar="DIR", help="save each program's screen after settling")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.screenshots is not None:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    chromium = chromium_binary()
    if not shutil.which("Xvfb"):
        raise SystemExit("Xvfb is not installed (sudo apt-get install -y xvfb)")
    if not PAGE.exists():
        raise SystemExit(f"{PAGE} is missing")
    base = Path("/var/tmp") if Path("/var/tmp").is_dir() else Path(tempfile.gettempdir())
    notes: list[str] = []
    xvfb, display = start_xvfb(f"{WIDTH}x{HEIGHT}")
    screen = Screen(display)
    try:
        with tempfile.TemporaryDirectory(prefix="vs_chromium-", dir=base) as tmp_name:
            tmp = Path(tmp_name)
            kind = fs_type(tmp)
            notes.append(f"temporary profile/state/cache under {tmp} ({kind})")
            if kind in ("tmpfs", "ramfs"):
                notes.append("that is RAM: writes there do not reach write_bytes; the disk figures undercount")
            probes = layout_probes()
            life = args.settle + args.seconds + 120
            player_args, night_note = demo_source(tmp)
            if night_note:
                notes.append(night_note)
            (tmp / "player").mkdir()
            (tmp / "player" / "home").mkdir()
            cfg = tmp / "player" / "player.toml"
            cfg.write_text(f'[player]\nstate_dir = "{tmp}/player/state"\ncache_dir = "{tmp}/player/cache"\n',
                           encoding="utf-8")
            base_env = {**os.environ, "DISPLAY": display}
            base_env.pop("WAYLAND_DISPLAY", None)
            player = Target("osc-player", [sys.executable, "-m", "player.cli", *player_args[:1], "--config", str(cfg),
                                           *player_args[1:], "--windowed", f"{WIDTH}x{HEIGHT}", "--exit-after",
                                           str(life)],
                            {**base_env, "OSC_PLAYER_BENCH": "1", "QT_QPA_PLATFORM": "xcb",
                             "HOME": str(tmp / "player" / "home")},
                            str(tmp / "player"), "OSC_FIRST_FRAME", "monotonic")

            def chrome_target() -> Target:  # a fresh profile for every launch
                profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp))
                (profile / "home").mkdir()
                (profile / "data" / "Default").mkdir(parents=True)
                (profile / "data" / "Default" / "Preferences").write_text(json.dumps(CHROMIUM_PREFS), encoding="utf-8")
                return Target("Chromium", [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile / 'data'}",
                                           PAGE.as_uri()],
                              {**base_env, "HOME": str(profile / "home")}, str(profile), "OSC_CHROMIUM_FRAME", "epoch")

            print(f"Xvfb {display}; Chromium: {chromium} {' '.join(CHROMIUM_FLAGS)} --user-data-dir=<fresh> "
                  f"{PAGE.as_uri()}")
            print(f"player: {' '.join(player.cmd)}")
            if not args.no_warmup:
                print("warm-up launches (not measured) ...", flush=True)
                for target in (chrome_target(), player):
                    run = Launched(target)
                    wait_first_frame(run, screen, probes, 60.0)
                    time.sleep(1.0)
                    run.stop()
                    wait_blank(screen, probes)
            results = [Result("osc-player"), Result("Chromium")]
            if args.launches > 1:
                print(f"{args.launches - 1} launches of each, alternating, for the first frame only ...", flush=True)
            for _ in range(args.launches - 1):
                first_frame_only(player, screen, probes, results[0])
                first_frame_only(chrome_target(), screen, probes, results[1])
            for target, result in zip((player, chrome_target()), results, strict=True):
                print(f"measuring {target.name}: first frame, {args.settle:.0f} s settle, {args.seconds:.0f} s "
                      "window ...", flush=True)
                measure(target, screen, probes, xvfb.pid, args.seconds, args.settle, args.screenshots, result)
            for result in results:
                result.first_frame_s = median(result.first_frame_runs)
                result.self_reported_s = median(result.self_reported_runs)
    finally:
        screen.close()
        xvfb.terminate()
        xvfb.wait(timeout=10)
    report(results, args, notes)


if __name__ == "__main__":
    main()
