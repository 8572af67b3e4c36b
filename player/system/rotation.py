"""Screen rotation by the display server (steles are portrait panels mounted on their side).

``xrandr --output OUT --rotate left|inverted|right`` on X11 (the kiosk session), ``wlr-randr --output OUT
--transform 90|180|270`` under a wlroots Wayland compositor. Runs a subprocess with a timeout: call it off the GUI
thread. When neither works the player logs one line saying how to rotate by hand (config.txt/cmdline)."""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

XRANDR = {0: "normal", 90: "left", 180: "inverted", 270: "right"}
WLR = {0: "normal", 90: "90", 180: "180", 270: "270"}


class RotationError(RuntimeError):
    pass


def _connected_output(text: str, pattern: str) -> str | None:
    match = re.search(pattern, text, re.MULTILINE)
    return match.group(1) if match else None


def rotate_display(degrees: int, env: Mapping[str, str] = os.environ,
                   which: Callable[[str], str | None] = shutil.which, timeout: float = 10.0) -> str:
    """Rotates the first connected output; returns a one-line description. Raises RotationError."""
    if degrees not in XRANDR:
        raise RotationError(f"rotation {degrees} is not one of 0, 90, 180, 270")

    import subprocess  # loaded on first use (docs/performance.md)

    def run(*args: str) -> str:
        try:
            res = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, env=dict(env),
                                 check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RotationError(f"{args[0]}: {exc}") from None
        if res.returncode != 0:
            raise RotationError(f"{' '.join(args)} failed: {(res.stderr or res.stdout).strip()[:200]}")
        return res.stdout

    if env.get("WAYLAND_DISPLAY") and (exe := which("wlr-randr")):
        out = _connected_output(run(exe), r"^(\S+) ")
        if out is None:
            raise RotationError("wlr-randr lists no output")
        run(exe, "--output", out, "--transform", WLR[degrees])
        return f"output {out} turned to {degrees}° (wlr-randr)"
    if env.get("DISPLAY") and (exe := which("xrandr")):
        out = _connected_output(run(exe, "--query"), r"^(\S+) connected")
        if out is None:
            raise RotationError("xrandr lists no connected output")
        run(exe, "--output", out, "--rotate", XRANDR[degrees])
        return f"output {out} turned to {degrees}° (xrandr)"
    raise RotationError("neither xrandr (X11) nor wlr-randr (Wayland) is available; rotate the panel in the "
                        "firmware instead (Pi: 'display_lcd_rotate' / 'video=...,rotate=90' on the kernel command line)")
