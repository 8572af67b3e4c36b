"""``player.toml`` -> typed configuration.

Every key, its type and default is declared once in :data:`SCHEMA`; ``docs/configuration.md`` lists the same keys
(a test keeps both in step). Environment variables ``OSC_PLAYER_<SECTION>_<KEY>`` override the file (e.g.
``OSC_PLAYER_SOURCE_PATH=/media/usb``). Unknown keys and bad values give one line each naming the key and the file;
they are errors for ``osc-player validate`` and reported (defaults used) by ``run``.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_PATH = Path("/etc/osc-player/player.toml")
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


def _tz(v: Any) -> str | None:
    try:
        ZoneInfo(v)
        return None
    except (ZoneInfoNotFoundError, ValueError):
        return "is not a known time zone (e.g. Europe/Berlin)"


def _color(v: Any) -> str | None:
    return None if _COLOR.match(v) else "is not a colour (#rrggbb)"


def _choice(*allowed: Any):  # noqa: ANN202
    def check(v: Any) -> str | None:
        return None if v in allowed else "must be one of: " + ", ".join(str(a) for a in allowed)
    return check


def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be greater than 0"


def _url(v: Any) -> str | None:
    return None if v == "" or str(v).startswith(("http://", "https://")) else "must be an http(s) URL"


def _ws_url(v: Any) -> str | None:
    return None if v == "" or str(v).startswith(("ws://", "wss://")) else "must be a ws:// or wss:// URL"


def _stomp_header(v: Any) -> str | None:
    return "must not contain line breaks" if any(ch in str(v) for ch in "\r\n\x00") else None


def _destination(v: Any) -> str | None:
    return _stomp_header(v) or (None if str(v).startswith("/") else "must start with '/' (e.g. /exchange/name/*)")


def _heartbeat(v: Any) -> str | None:
    return None if 0 <= v <= 3600 else "must be between 0 (off) and 3600"


# section -> key -> (type, default, check, description)
SCHEMA: dict[str, dict[str, tuple[type | tuple[type, ...], Any, Any, str]]] = {
    "player": {
        "city": (str, "Musterstadt", None, "City name shown in headers (`{city}` in texts)."),
        "screen_name": (str, "", None, "Human-readable name of this screen; empty: the name the hub gives or the host name."),
        "timezone": (str, "Europe/Berlin", _tz, "Time zone for schedules and clocks."),
        "locale": (str, "de-DE", _choice("de-DE", "en-GB", "en-US"), "Language of the screen's own texts."),
        "rotation": (int, 0, _choice(0, 90, 180, 270), "Screen rotation in degrees (portrait steles: 90 or 270)."),
        "rotation_by": (str, "auto", _choice("auto", "display", "player"),
                        "Who rotates: `display` (xrandr / wlr-randr), `player` (the player turns its own picture; "
                        "videos then go through memory, more CPU), `auto` (the display server if it can, else the "
                        "player)."),
        "state_dir": (str, "/var/lib/osc-player", None, "Device id, snapshots, queues (small, rarely written)."),
        "cache_dir": (str, "/var/cache/osc-player", None, "Downloaded media."),
        "log_level": (str, "info", _choice("debug", "info", "warning", "error"), "Log level (logs go to stderr/journald)."),
        "maintenance_chord": (bool, True, None, "Ctrl+Alt+Shift+Q closes the player in kiosk mode (for maintenance)."),
    },
    "source": {
        "type": (str, "folder", _choice("folder", "hub", "http"), "Where the screen's content comes from."),
        "path": (str, "", None, "Folder with `screen.json` and media (type = folder). Empty: the built-in demo."),
        "url": (str, "", _url, "URL of a `screen.json` served over HTTP(S) (type = http); media relative to it."),
        "allowed_hosts": (list, [], None, "Extra hosts media may come from (type = http); the document's host is always allowed."),
    },
    "hub": {
        "url": (str, "", _url, "Parse Server URL of the city's hub, e.g. https://hub.example.org/parse."),
        "app_id": (str, "", None, "X-Parse-Application-Id."),
        "secrets_file": (str, "/etc/osc-player/hub-secrets.toml", None,
                         "File (mode 0600) with `rest_key` or `javascript_key`, optional `username`/`password`."),
        "poll_interval_s": (int, 60, _positive, "Safety-net polling interval; LiveQuery pushes changes sooner."),
        "live_query": (bool, True, None, "Use Parse LiveQuery (WebSocket) when the hub offers it."),
        "allowed_file_hosts": (list, [], None, "Extra hosts media files may come from (the hub's own host is always allowed)."),
    },
    "sync": {
        "interval_s": (int, 300, _positive, "Seconds between syncs (type = http; the hub uses hub.poll_interval_s)."),
        "retry_min_s": (int, 10, _positive, "First retry after a failed sync; doubles per failure (with jitter)."),
        "retry_max_s": (int, 900, _positive, "Longest wait between retries after failed syncs."),
    },
    "cache": {
        "quota_mb": (int, 4096, _positive, "Largest size of the media cache."),
        "max_file_mb": (int, 2048, _positive, "Largest single download."),
        "parallel_downloads": (int, 2, _choice(1, 2, 3, 4, 5, 6, 7, 8), "Downloads at once (2 suits a Pi)."),
        "ca_file": (str, "", None, "CA bundle (PEM) trusted *instead of* the system CAs for HTTPS/WSS connections "
                    "(hub, media, feeds): for a city-internal hub with its own certificate authority (add the public CAs to the file "
                    "when other HTTPS hosts are used too). Empty: the system CAs."),
    },
    "branding": {
        "primary": (str, "#003a70", _color, "Header/accent colour."),
        "accent": (str, "#ffcc00", _color, "Highlight colour (ticker, badges)."),
        "background": (str, "#0b2540", _color, "Background of built-in screens (setup, error)."),
        "text": (str, "#ffffff", _color, "Text colour of built-in screens."),
        "font_family": (str, "DejaVu Sans", None, "Default font family."),
        "logo": (str, "", None, "Header logo of hub stele layouts: http(s) address of an image on the hub "
                                "(empty: the screen's District logo)."),
    },
    "video": {
        "vlc_args": (list, ["--no-osd", "--no-video-title-show", "--no-snapshot-preview", "--quiet", "--avcodec-hw=any",
                             "--no-metadata-network-access"],
                     None, "Arguments for libvlc (see docs/video.md)."),
    },
    "display": {
        "power_backend": (str, "auto", _choice("auto", "vcgencmd", "wlr-randr", "xset", "cec", "none"),
                          "How the display is switched on and off."),
        "power_schedule": (dict, {}, None, "When the display is on, e.g. {\"mon-fri\" = \"06:00-22:00\"}; empty: always on."),
        "output": (str, "", None, "wlr-randr only: which output to switch (empty: the first one)."),
        "cec_device": (str, "/dev/cec0", None, "HDMI-CEC adapter for the `cec` backend."),
    },
    "report": {
        "screenshot_interval_s": (int, 600, _positive, "Screenshots to the hub (SteleScreenshot)."),
        "status_interval_s": (int, 60, _positive, "Status row (SteleScreenStatus) refresh."),
        "proof_of_play": (bool, True, None, "Record every item shown and send it to the hub."),
        "outbox_max_mb": (int, 64, _positive,
                          "Largest local report outbox (offline); when full the oldest proof-of-play records go."),
    },
    "twin": {
        "url": (str, "", _ws_url, "RabbitMQ Web-STOMP endpoint of the digital twin, e.g. wss://twin.example.org/ws; "
                "empty: no digital-twin messages (a `twin` feed in the screen document is skipped)."),
        "vhost": (str, "/", _stomp_header, "RabbitMQ virtual host (STOMP `host` header)."),
        "login": (str, "", _stomp_header, "Broker user (a read-only one); empty: no login header."),
        "passcode": (str, "", _stomp_header, "Its password; better set OSC_PLAYER_TWIN_PASSCODE in the unit's "
                     "environment file than here."),
        "destination": (str, "/exchange/digital_twin_raw/*", _destination, "STOMP destination subscribed to."),
        "districts": (list, [], None, "District ids this screen shows messages for (messages for the whole city "
                      "always); empty: all. A feed's own `districts` option wins."),
        "heartbeat_s": (int, 10, _heartbeat, "STOMP heart-beat in both directions; a silent broker is dropped "
                        "and reconnected after about twice this."),
    },
}


@dataclass(frozen=True)
class Config:
    values: dict[str, dict[str, Any]]
    path: Path | None
    problems: tuple[str, ...] = field(default=())

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.values[section]

    @property
    def state_dir(self) -> Path:
        return Path(self.values["player"]["state_dir"])

    @property
    def cache_dir(self) -> Path:
        return Path(self.values["player"]["cache_dir"])

    @property
    def timezone(self) -> str:
        return str(self.values["player"]["timezone"])

    @property
    def city(self) -> str:
        return str(self.values["player"]["city"])


def _coerce_env(raw: str, typ: Any) -> Any:
    types = typ if isinstance(typ, tuple) else (typ,)
    if bool in types:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        return raw
    if int in types:
        try:
            return int(raw)
        except ValueError:
            return raw
    if list in types:
        return [p for p in raw.split(",") if p]
    return raw


def load_config(path: Path | None = None, env: dict[str, str] | None = None,
                overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Reads the file (missing default file: all defaults), applies env and explicit overrides, validates."""
    env = dict(os.environ) if env is None else env
    origin = str(path) if path else str(DEFAULT_PATH)
    problems: list[str] = []
    data: dict[str, Any] = {}
    if path is None and DEFAULT_PATH.exists():
        path = DEFAULT_PATH
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            problems.append(f"{path}: file not found; using defaults")
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"{path}: not valid TOML: {exc}; using defaults")
        except OSError as exc:
            problems.append(f"{path}: cannot read: {exc.strerror}; using defaults")
    values: dict[str, dict[str, Any]] = {s: {k: spec[1] for k, spec in keys.items()} for s, keys in SCHEMA.items()}
    for section, body in data.items():
        if section not in SCHEMA:
            problems.append(f"{origin}: [{section}]: unknown section (known: {', '.join(SCHEMA)})")
            continue
        if not isinstance(body, dict):
            problems.append(f"{origin}: {section}: must be a [section]")
            continue
        for key, value in body.items():
            _set(values, section, key, value, f"{origin}: {section}.{key}", problems)
    for name, raw in env.items():
        if not name.startswith("OSC_PLAYER_"):
            continue
        rest = name[len("OSC_PLAYER_"):].lower()
        section, _, key = rest.partition("_")
        if section in SCHEMA and key in SCHEMA[section]:
            _set(values, section, key, _coerce_env(raw, SCHEMA[section][key][0]),
                 f"environment {name}", problems)
    for section, body in (overrides or {}).items():
        for key, value in body.items():
            _set(values, section, key, value, f"command line {section}.{key}", problems)
    return Config(values=values, path=path, problems=tuple(problems))


def _set(values: dict[str, dict[str, Any]], section: str, key: str, value: Any, where: str,
         problems: list[str]) -> None:
    spec = SCHEMA[section].get(key)
    if spec is None:
        problems.append(f"{where}: unknown key (known in [{section}]: {', '.join(SCHEMA[section])})")
        return
    typ, default, check, _ = spec
    types = typ if isinstance(typ, tuple) else (typ,)
    if isinstance(value, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(value, types)
    if not ok:
        problems.append(f"{where}: expected {'/'.join(t.__name__ for t in types)}, got {value!r}; "
                        f"using default {default!r}")
        return
    if check is not None and (msg := check(value)):
        problems.append(f"{where}: {value!r} {msg}; using default {default!r}")
        return
    if (section, key) == ("cache", "ca_file") and value and (msg := _ca_file_problem(value)):
        # kept as set: HTTPS then fails with this same key named, instead of silently trusting other CAs
        problems.append(f"{where}: {value!r} {msg}; HTTPS downloads fail until it names a readable PEM CA bundle")
    values[section][key] = value


def _ca_file_problem(path: str) -> str | None:
    """Why *path* cannot serve as a CA bundle (a PEM file or an OpenSSL hashed directory), or None."""
    try:
        if os.path.isdir(path):
            os.listdir(path)
            return None
        with open(path, "rb") as fh:
            fh.read(1)
    except FileNotFoundError:
        return "does not exist"
    except PermissionError:
        return "is not readable (permission denied)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return None


def describe_keys() -> list[tuple[str, str, Any, str]]:
    """(section, key, default, description) for every key, for docs and `osc-player config --list`."""
    return [(s, k, spec[1], spec[3]) for s, keys in SCHEMA.items() for k, spec in keys.items()]
