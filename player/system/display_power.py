"""Display power: switch the screen on/off through one small interface, and a weekly on/off schedule.

Backends (all run an external command through :mod:`subprocess` with a timeout, so every call
may block for up to ``timeout`` seconds: call them from a worker thread, never the GUI thread):

========== ========================================= =============================================
name       command                                   when it fits
========== ========================================= =============================================
vcgencmd   ``vcgencmd display_power 0|1 [id]``       Raspberry Pi with the legacy firmware display
                                                     driver (has no effect under the KMS driver)
wlr-randr  ``wlr-randr --output OUT --on|--off``     a wlroots Wayland session (``WAYLAND_DISPLAY``)
xset       ``xset dpms force on|off``                an X session (``DISPLAY``), e.g. the kiosk X
cec        ``cec-ctl -d DEV --to 0 --image-view-on`` a TV on HDMI-CEC (switches the TV itself)
           / ``--standby``
none       nothing                                   fallback; the player still pauses rendering
========== ========================================= =============================================

:func:`choose_backend` picks one automatically (``name="auto"``) or by its config name.

:class:`PowerSchedule` is pure: weekly windows in local wall-clock time -> "should the display be
on at instant T, and when does that next change?" (DST-correct through :mod:`zoneinfo`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = [
    "BACKEND_NAMES",
    "CecDisplayPower",
    "DisplayPower",
    "DisplayPowerError",
    "NullDisplayPower",
    "PowerSchedule",
    "PowerState",
    "VcgencmdDisplayPower",
    "WlrRandrDisplayPower",
    "XsetDisplayPower",
    "choose_backend",
]

DEFAULT_TIMEOUT = 10.0
BACKEND_NAMES = ("auto", "vcgencmd", "wlr-randr", "xset", "cec", "none")

Which = Callable[[str], str | None]


class DisplayPowerError(RuntimeError):
    """A display power command failed or a backend cannot be used; the message is one clear line."""


class DisplayPower:
    """Switch the display on/off. ``is_on()`` is best effort: None when the state cannot be read."""

    name: str = "none"

    def on(self) -> None:
        raise NotImplementedError

    def off(self) -> None:
        raise NotImplementedError

    def is_on(self) -> bool | None:
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class NullDisplayPower(DisplayPower):
    """Does nothing (no usable backend, or ``display.power_backend = "none"``); remembers the state."""

    name = "none"

    def __init__(self) -> None:
        self._on = True

    def on(self) -> None:
        self._on = True

    def off(self) -> None:
        self._on = False

    def is_on(self) -> bool | None:
        return self._on


class _CommandDisplayPower(DisplayPower):
    def __init__(
        self, executable: str, timeout: float = DEFAULT_TIMEOUT, env: Mapping[str, str] | None = None
    ):
        self.executable = executable
        self.timeout = timeout
        self._env = dict(os.environ if env is None else env)

    def _run(self, *args: str) -> str:
        argv = [self.executable, *args]
        import subprocess  # loaded on first use: a player that never switches power does without (docs/performance.md)

        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.timeout, env=self._env, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise DisplayPowerError(f"{' '.join(argv)} did not finish within {self.timeout:g} s") from exc
        except OSError as exc:
            raise DisplayPowerError(f"{' '.join(argv)} could not be started: {exc}") from exc
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            reason = detail[-1] if detail else "no output"
            raise DisplayPowerError(f"{' '.join(argv)} failed with exit code {done.returncode}: {reason}")
        return done.stdout


class VcgencmdDisplayPower(_CommandDisplayPower):
    """``vcgencmd display_power 0|1`` (Raspberry Pi firmware). ``display_id``: e.g. 2 = HDMI0, 7 = HDMI1."""

    name = "vcgencmd"

    def __init__(
        self,
        executable: str = "vcgencmd",
        display_id: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(executable, timeout=timeout, env=env)
        self.display_id = display_id

    def _args(self, *value: str) -> list[str]:
        args = ["display_power", *value]
        if self.display_id is not None:
            if not value:
                args.append("-1")
            args.append(str(self.display_id))
        return args

    def on(self) -> None:
        self._run(*self._args("1"))

    def off(self) -> None:
        self._run(*self._args("0"))

    def is_on(self) -> bool | None:
        try:
            out = self._run(*self._args())
        except DisplayPowerError:
            return None
        match = re.search(r"display_power=(\d)", out)
        return None if match is None else match.group(1) == "1"


class WlrRandrDisplayPower(_CommandDisplayPower):
    """``wlr-randr --output OUT --on|--off``; without ``output`` the first output listed is used."""

    name = "wlr-randr"

    def __init__(
        self,
        executable: str = "wlr-randr",
        output: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(executable, timeout=timeout, env=env)
        self.output = output

    def _outputs(self) -> list[dict[str, object]]:
        data = json.loads(self._run("--json") or "[]")
        return [o for o in data if isinstance(o, dict)]

    def _output_name(self) -> str:
        if self.output is None:
            try:
                outputs = self._outputs()
            except ValueError as exc:
                raise DisplayPowerError(f"{self.executable} --json printed no valid JSON: {exc}") from exc
            if not outputs:
                raise DisplayPowerError(
                    f"{self.executable} lists no outputs; set display.output in player.toml"
                )
            # remember it: a switched-off output may not be the first one listed any more
            self.output = str(outputs[0].get("name"))
        return self.output

    def on(self) -> None:
        self._run("--output", self._output_name(), "--on")

    def off(self) -> None:
        self._run("--output", self._output_name(), "--off")

    def is_on(self) -> bool | None:
        try:
            outputs = self._outputs()
            name = self._output_name()
        except (DisplayPowerError, ValueError):
            return None
        for out in outputs:
            if out.get("name") == name:
                enabled = out.get("enabled")
                return enabled if isinstance(enabled, bool) else None
        return None


class XsetDisplayPower(_CommandDisplayPower):
    """``xset dpms force on|off`` on the X display in ``DISPLAY`` (default ``:0``).

    ``on()`` also switches DPMS and the screen saver off again afterwards (``xset s off -dpms``),
    because ``dpms force`` re-enables DPMS and its timeouts would blank the kiosk later.
    """

    name = "xset"

    def __init__(
        self,
        executable: str = "xset",
        display: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(executable, timeout=timeout, env=env)
        self._env["DISPLAY"] = display or self._env.get("DISPLAY") or ":0"

    def on(self) -> None:
        self._run("dpms", "force", "on")
        self._run("s", "off", "-dpms")

    def off(self) -> None:
        self._run("dpms", "force", "off")

    def is_on(self) -> bool | None:
        try:
            out = self._run("q")
        except DisplayPowerError:
            return None
        match = re.search(r"Monitor is (\w+)", out)
        if match:
            return match.group(1).lower() == "on"
        if "DPMS is Disabled" in out:
            return True
        return None


class CecDisplayPower(_CommandDisplayPower):
    """HDMI-CEC through ``cec-ctl`` (package v4l-utils): switches the TV itself (logical address 0).

    The adapter is registered as a playback device once (``--playback``) before the first command.
    """

    name = "cec"

    def __init__(
        self,
        executable: str = "cec-ctl",
        device: str = "/dev/cec0",
        timeout: float = DEFAULT_TIMEOUT,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(executable, timeout=timeout, env=env)
        self.device = device
        self._configured = False

    def _cec(self, *args: str) -> str:
        if not self._configured:
            self._run("-d", self.device, "--playback", "--osd-name", "osc-player")
            self._configured = True
        return self._run("-d", self.device, *args)

    def on(self) -> None:
        self._cec("--to", "0", "--image-view-on")

    def off(self) -> None:
        self._cec("--to", "0", "--standby")

    def is_on(self) -> bool | None:
        try:
            out = self._cec("--to", "0", "--give-device-power-status")
        except DisplayPowerError:
            return None
        match = re.search(r"pwr-state:\s*([\w-]+)", out)
        if not match:
            return None
        return match.group(1) in ("on", "to-on")


def _is_raspberry_pi(root: Path) -> bool:
    try:
        model = (root / "proc/device-tree/model").read_bytes()
    except OSError:
        return False
    return b"Raspberry Pi" in model


def _kms_active(root: Path) -> bool:
    """The vc4 KMS driver is loaded: ``vcgencmd display_power`` has no effect then."""
    return (root / "sys/module/vc4").exists()


def choose_backend(
    name: str = "auto",
    which: Which = shutil.which,
    env: Mapping[str, str] = os.environ,
    *,
    root: Path = Path("/"),
    output: str | None = None,
    cec_device: str = "/dev/cec0",
    vcgencmd_display: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> DisplayPower:
    """Pick a display power backend.

    ``name`` is the config value ``display.power_backend``: one of :data:`BACKEND_NAMES`.
    ``"auto"`` tries, in order: vcgencmd on a Raspberry Pi without the KMS driver; wlr-randr when
    ``WAYLAND_DISPLAY`` is set; xset when ``DISPLAY`` is set; cec-ctl when installed and the CEC
    device exists; else :class:`NullDisplayPower`.  An explicit name whose command is missing raises
    :class:`DisplayPowerError`; an unknown name raises :class:`ValueError`.
    ``which`` / ``env`` / ``root`` are injectable for tests.
    """
    if name not in BACKEND_NAMES:
        raise ValueError(
            f"display.power_backend = {name!r} is unknown; use one of: {', '.join(BACKEND_NAMES)}"
        )

    def build(kind: str, exe: str) -> DisplayPower:
        if kind == "vcgencmd":
            return VcgencmdDisplayPower(exe, display_id=vcgencmd_display, timeout=timeout, env=env)
        if kind == "wlr-randr":
            return WlrRandrDisplayPower(exe, output=output, timeout=timeout, env=env)
        if kind == "xset":
            return XsetDisplayPower(exe, display=env.get("DISPLAY"), timeout=timeout, env=env)
        return CecDisplayPower(exe, device=cec_device, timeout=timeout, env=env)

    commands = {"vcgencmd": "vcgencmd", "wlr-randr": "wlr-randr", "xset": "xset", "cec": "cec-ctl"}
    packages = {
        "vcgencmd": "libraspberrypi-bin / raspi-utils",
        "wlr-randr": "wlr-randr",
        "xset": "x11-xserver-utils",
        "cec": "v4l-utils",
    }
    if name == "none":
        return NullDisplayPower()
    if name != "auto":
        exe = which(commands[name])
        if exe is None:
            raise DisplayPowerError(
                f"display.power_backend = {name!r} but {commands[name]} is not installed "
                f"(Debian package {packages[name]})"
            )
        return build(name, exe)

    candidates: list[str] = []
    if _is_raspberry_pi(root) and not _kms_active(root):
        candidates.append("vcgencmd")
    if env.get("WAYLAND_DISPLAY"):
        candidates.append("wlr-randr")
    if env.get("DISPLAY"):
        candidates.append("xset")
    if (root / cec_device.lstrip("/")).exists():
        candidates.append("cec")
    for kind in candidates:
        exe = which(commands[kind])
        if exe is not None:
            log.info("display power backend: %s (%s)", kind, exe)
            return build(kind, exe)
    log.info("display power backend: none (no usable command found)")
    return NullDisplayPower()


# --------------------------------------------------------------------------------------------
# Weekly schedule
# --------------------------------------------------------------------------------------------

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class PowerState:
    """``on``: should the display be on; ``next_change``: the instant that changes, None if never."""

    on: bool
    next_change: datetime | None


def _parse_days(spec: str) -> list[int]:
    days: list[int] = []
    for part in spec.lower().replace(" ", "").split(","):
        if part in ("daily", "*", "all"):
            days.extend(range(7))
        elif "-" in part:
            first, _, last = part.partition("-")
            if first not in _DAYS or last not in _DAYS:
                raise ValueError(f"{spec!r}: day range {part!r} must look like mon-fri")
            i, j = _DAYS.index(first), _DAYS.index(last)
            days.extend((i + k) % 7 for k in range(((j - i) % 7) + 1))
        elif part in _DAYS:
            days.append(_DAYS.index(part))
        else:
            raise ValueError(f"{spec!r}: {part!r} is not a day (mon tue wed thu fri sat sun, daily)")
    return days


def _parse_windows(spec: str, value: str | Sequence[str]) -> list[tuple[int, int]]:
    """Windows as (start minute, end minute) with end > start; end may exceed 1440 (past midnight)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    result: list[tuple[int, int]] = []
    for raw in items:
        text = str(raw).strip().lower()
        if text in ("off", ""):
            continue
        match = _WINDOW_RE.match(text)
        if not match:
            raise ValueError(f'{spec!r}: {raw!r} is not a window like "06:00-22:00" (or "off")')
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2 != 0):
            raise ValueError(f"{spec!r}: {raw!r} has a time outside 00:00-24:00")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end == start:
            raise ValueError(f"{spec!r}: {raw!r} is empty (start equals end); use 00:00-24:00 for all day")
        if end < start:
            end += 24 * 60  # crosses midnight: ends on the next day
        result.append((start, end))
    return result


def _local_to_utc(day: date, minute: int, tz: tzinfo) -> datetime:
    """Wall-clock ``day`` + ``minute`` in ``tz`` as a UTC instant.

    Ambiguous times (clock set back) take the first occurrence; non-existent times (clock set
    forward, e.g. 02:30 on the spring DST day) take the instant the clock jumps past them.
    """
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    first = wall.replace(tzinfo=tz, fold=0)
    utc = first.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == wall:
        return utc
    # in a gap: find the earliest instant whose wall time is >= wall (bisection, 1 s resolution)
    lo = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    hi = utc
    if lo > hi:
        lo, hi = hi, lo
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


class PowerSchedule:
    """Weekly display-on windows in local wall-clock time.

    Format (``[display.power_schedule]`` in player.toml, or ``power_schedule`` in a screen document, which the
    hub source fills from ``SteleScreen.displaySchedule`` / ``displayOn`` + ``displayOff``)::

        "mon-fri" = "06:00-22:00"
        "sat"     = "08:00-12:00, 13:00-20:00"     # several windows: comma list or array
        "sun"     = "off"
        "fri"     = "22:00-02:00"                  # end before start: runs past midnight

    * keys: ``mon tue wed thu fri sat sun``, ranges ``mon-fri`` (may wrap: ``fri-mon``), comma
      lists ``sat,sun``, or ``daily``; a day named by several keys gets all their windows;
    * values: ``"HH:MM-HH:MM"`` (``24:00`` allowed as end), several separated by commas or as
      an array, or ``"off"``; a window belongs to the day it starts on;
    * days not named are off; an empty schedule means always on (no schedule);
    * times are wall-clock times in ``tz`` (default: the time zone of the instant asked about),
      so 06:00 stays 06:00 across DST changes.
    """

    def __init__(self, windows: Mapping[str, str | Sequence[str]] | None = None, tz: tzinfo | None = None):
        self.tz = tz
        self._by_day: dict[int, list[tuple[int, int]]] = {d: [] for d in range(7)}
        self.always_on = not windows
        for spec, value in (windows or {}).items():
            ranges = _parse_windows(spec, value)
            for day in _parse_days(spec):
                self._by_day[day].extend(ranges)

    def _intervals(self, first: date, days: int, tz: tzinfo) -> list[tuple[datetime, datetime]]:
        spans: list[tuple[datetime, datetime]] = []
        for k in range(days):
            day = first + timedelta(days=k)
            for on_minute, off_minute in self._by_day[day.weekday()]:
                spans.append((_local_to_utc(day, on_minute, tz), _local_to_utc(day, off_minute, tz)))
        spans.sort()
        merged: list[tuple[datetime, datetime]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                if end > merged[-1][1]:
                    merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        return merged

    def state_at(self, when: datetime) -> PowerState:
        """Should the display be on at ``when`` (aware), and when does that next change (in ``when``'s zone)?"""
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("PowerSchedule.state_at needs an aware datetime (with tzinfo)")
        if self.always_on:
            return PowerState(True, None)
        tz = self.tz or when.tzinfo
        assert tz is not None
        now = when.astimezone(UTC)
        horizon_days = 16
        first = when.astimezone(tz).date() - timedelta(days=1)
        intervals = self._intervals(first, horizon_days, tz)
        # an interval still open two weeks on means "on all the time"
        endless_after = _local_to_utc(first + timedelta(days=horizon_days - 2), 0, tz)
        for start, end in intervals:
            if start <= now < end:
                nxt = None if end >= endless_after else end
                return PowerState(True, None if nxt is None else nxt.astimezone(when.tzinfo))
            if start > now:
                return PowerState(False, start.astimezone(when.tzinfo))
        return PowerState(False, None)

    def is_on(self, when: datetime) -> bool:
        return self.state_at(when).on

    def next_change(self, when: datetime) -> datetime | None:
        return self.state_at(when).next_change
