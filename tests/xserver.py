"""A private Xvfb for tests that need a real X server (video through VLC into native windows).

A QApplication exists once per process with one platform plugin, and the rest of the suite runs Qt offscreen; so
X11 tests run in a subprocess with ``DISPLAY`` and ``QT_QPA_PLATFORM=xcb`` set (see :func:`run_pytest_under_x`).
Missing tools fail under ``CI=true`` and skip elsewhere (``screens.require_tool``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from screens import require_tool

ROOT = Path(__file__).resolve().parent.parent
CHILD_FLAG = "OSC_TEST_X11_CHILD"  # set in the subprocess that runs the X11 tests


def _free_display() -> int:
    for n in range(90, 400):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number between :90 and :399")


@contextmanager
def xvfb(width: int = 1280, height: int = 720) -> Iterator[str]:
    """Starts ``Xvfb`` on a free display, waits until it answers, yields ``":N"``, stops it."""
    xvfb_bin = require_tool("Xvfb")
    xdpyinfo = require_tool("xdpyinfo")
    for _attempt in range(5):
        display = f":{_free_display()}"
        proc = subprocess.Popen([xvfb_bin, display, "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        up = False
        while time.monotonic() < deadline and proc.poll() is None:
            if subprocess.run([xdpyinfo, "-display", display], capture_output=True).returncode == 0:
                up = True
                break
            time.sleep(0.05)
        if up:
            try:
                yield display
            finally:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            return
        proc.kill()
        proc.wait()  # lost a race for the display number (or it failed): try the next one
    raise RuntimeError("Xvfb did not start")


def run_pytest_under_x(test_file: Path, extra_args: list[str] | None = None, timeout: float = 600) -> tuple[int, str]:
    """Runs ``test_file`` in a new pytest process against a fresh Xvfb; returns (exit code, output)."""
    with xvfb() as display:
        # MALLOC_ARENA_MAX=2 as the systemd unit sets it: libvlc's many short-lived threads otherwise spread
        # freed memory over many glibc arenas and RSS keeps creeping (measured in the 200-videos case)
        env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", MALLOC_ARENA_MAX="2", **{CHILD_FLAG: "1"})
        env.pop("WAYLAND_DISPLAY", None)
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", str(test_file),
               *(extra_args or [])]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        return proc.returncode, proc.stdout + proc.stderr


def in_x11_child() -> bool:
    return os.environ.get(CHILD_FLAG) == "1" and os.environ.get("QT_QPA_PLATFORM") == "xcb"
