"""Open SmartCity Hub source: what the city's Parse hub says this screen should play.

    source = make_hub_source(config)           # reads [hub] of player.toml and the secrets file
    result = source.fetch(previous_state)      # SourceResult or NotModified (see player/sources/base.py)
    live = source.watch(sync.sync_now, reporting.on_live_event)   # optional LiveQuery push; live.stop() at end

Per fetch:
1. **Change check** (every fetch with a previous state): ONE ``POST /batch`` holding, for this screen's
   ``SteleScreen`` row and each Stele* class the screen depends on, ``GET /classes/<C>?order=-updatedAt&limit=1
   &keys=updatedAt&count=1``. The newest ``updatedAt`` and the row count (deletions) per class form a
   fingerprint; unchanged -> :class:`NotModified`. A quiet hour at the default 60 s costs 60 small requests.
2. **Registration**: ``SteleScreen`` where ``uuid`` = the device id (``player/identity.py``), with ``state``,
   ``layoutType`` and ``layoutConfig`` included; created as ``{uuid, name}`` (a German name from
   ``names.py``, or ``player.screen_name``) when missing. Until it is ``Aktiv``/``ACTIVE`` with a layout type and
   a layout config, the result carries ``setup`` (name, id, message) instead of content.
3. **Content**: the layout config(s), their slideshow objects (``$relatedTo`` the diashow config's
   ``diashowObjects``) and grid tiles (``$relatedTo`` the grid config's ``tiles``, tile and tile type included),
   ``SteleSchedule`` rows of this screen; translated by ``stele.py``.

Errors: the ParseClient's ``HubUnavailable``/``HubError`` leave this module as :class:`HubSourceUnavailable` /
:class:`HubSourceError`, which are both the ParseClient error and a ``SourceError`` (one line, the URL named).
"""

from __future__ import annotations

import json
import logging
import stat
import threading
import tomllib
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from player.identity import device_id
from player.parse_rest import (
    HubError,
    HubLoginError,
    HubUnavailable,
    ParseClient,
    decode_file_url,
    decode_geopoint,
    pointer,
)
from player.sources.base import NotModified, SetupNeeded, SourceError, SourceResult, SourceState
from player.sources.livequery import LiveQueryClient, live_query_url
from player.sources.names import screen_name
from player.sources.stele import (
    HubContent,
    TranslateOptions,
    file_host_allowed,
    name_of,
    placeholder_document,
    pointer_id,
    screen_status,
    translate,
)

log = logging.getLogger(__name__)

__all__ = [
    "HubConfigError",
    "HubSource",
    "HubSourceError",
    "HubSourceUnavailable",
    "WATCHED_CLASSES",
    "load_secrets",
    "make_hub_source",
]

SCREEN = "SteleScreen"
# classes whose changes can change what a screen shows (besides its own SteleScreen row)
WATCHED_CLASSES = ("SteleLayoutConfig", "SteleDiashowConfig", "SteleDiashowObject", "SteleGridConfig",
                   "SteleTilePosition", "SteleSchedule")
COMMANDS = "SteleScreenCommand"  # polled by reporting; pushed here for this screen's own rows only
# what a command event can mean for the screen: a new (or re-opened) command -> the command poll; the screen's own
# result write (doneAt set), a deletion or a command moved to another screen -> nothing
COMMAND_OPS = frozenset({"create", "update", "enter"})
SECRET_KEYS = {"rest_key", "javascript_key", "username", "password"}
STATE_VERSION = 1


class HubConfigError(SourceError):
    """[hub] settings or the secrets file are unusable. One line naming the key/file and what to do."""


class HubSourceError(SourceError, HubError):
    """The hub answered something unusable (a ParseClient ``HubError`` that is also a ``SourceError``)."""

    def __init__(self, line: str, *, url: str | None = None, status: int | None = None,
                 code: int | None = None) -> None:
        SourceError.__init__(self, line)
        self.url, self.status, self.code = url, status, code


class HubSourceUnavailable(HubSourceError, HubUnavailable):
    """The hub cannot be reached or answers 5xx / not in time; the sync keeps the last good content."""


def _wrap(exc: HubError) -> HubSourceError:
    cls = HubSourceUnavailable if isinstance(exc, HubUnavailable) else HubSourceError
    return cls(str(exc), url=exc.url, status=exc.status, code=exc.code)


# ------------------------------------------------------------------------------------------------ secrets
def load_secrets(path: str | Path) -> dict[str, str]:
    """`rest_key`/`javascript_key`/`username`/`password` from a TOML file that only its owner may read."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise HubConfigError(f"{p}: hub secrets file not found; create it with rest_key (or javascript_key) "
                             f"and `chmod 600 {p}`, or set hub.secrets_file") from None
    except OSError as exc:
        raise HubConfigError(f"{p}: cannot read the hub secrets file: {exc.strerror}") from None
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise HubConfigError(f"{p}: mode {stat.S_IMODE(st.st_mode):04o} lets other users read the hub secrets; "
                             f"refusing to use it — run `chmod 600 {p}`")
    try:
        with open(p, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise HubConfigError(f"{p}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise HubConfigError(f"{p}: cannot read the hub secrets file: {exc.strerror}") from None
    out: dict[str, str] = {}
    for key, value in data.items():
        if key not in SECRET_KEYS:
            raise HubConfigError(f"{p}: unknown key '{key}' (known: {', '.join(sorted(SECRET_KEYS))})")
        if not isinstance(value, str) or not value:
            raise HubConfigError(f"{p}: {key} must be a non-empty text")
        out[key] = value
    if ("username" in out) != ("password" in out):
        raise HubConfigError(f"{p}: username and password must be given together")
    return out


# ------------------------------------------------------------------------------------------------- source
class HubSource:
    """The hub as a source (see the module docstring). ``fetch`` runs on the sync thread."""

    def __init__(self, client: ParseClient, state_dir: str | Path, *, allowed_file_hosts: Collection[str] = (),
                 canvas: tuple[int, int] = (1920, 1080), timezone: str = "Europe/Berlin", screen_name: str = "",
                 live_query: bool = True, live_query_url: str | None = None, ca_file: str | None = None,
                 twin: bool = False, logo: str = "") -> None:
        self.client = client
        self.state_dir = Path(state_dir)
        self.name = client.server_url
        self.options = TranslateOptions(hub_url=client.server_url, allowed_file_hosts=tuple(allowed_file_hosts),
                                        canvas=canvas, timezone=timezone, twin=twin, logo=logo)
        self.configured_name = screen_name
        self.live_query = live_query
        self.live_query_url = live_query_url
        self.ca_file = ca_file
        self._device: str | None = None
        self._batch_works = True
        self._lock = threading.Lock()
        self._live: LiveQueryClient | None = None
        self._command_screen: str | None = None  # SteleScreen objectId the command subscription is for
        self._on_command: Callable[[], None] | None = None
        self._screen_id: str | None = None  # this screen's SteleScreen objectId, once a fetch met it
        # told this screen's SteleScreen objectId whenever a fetch meets a new one (first time, re-registration)
        self.screen_listeners: list[Callable[[str], None]] = []
        self.last_problems: list[str] = []

    # ---- identity
    @property
    def device_id(self) -> str:
        if self._device is None:
            self._device = device_id(self.state_dir)
        return self._device

    # ---- the protocol
    def fetch(self, previous: SourceState | None) -> SourceResult | NotModified:
        try:
            with self._lock:
                return self._fetch(previous)
        except HubSourceError:
            raise
        except HubError as exc:
            raise _wrap(exc) from exc

    def _fetch(self, previous: SourceState | None) -> SourceResult | NotModified:
        device = self.device_id
        usable = (isinstance(previous, dict) and previous.get("v") == STATE_VERSION
                  and previous.get("device") == device and isinstance(previous.get("fingerprint"), dict))
        extra = [c for c in (previous or {}).get("classes", []) if isinstance(c, str)] if usable else []
        self._push_classes(extra)
        if usable and previous is not None and isinstance(previous.get("screen"), str) and self._screen_id is None:
            # the id saved by the last sync, to watch commands before the first fetch; only while none is known:
            # after a re-registration the saved one is the deleted row's until a sync saves again
            self._push_commands(previous["screen"])
        fingerprint = self.fingerprint(extra)
        if usable and previous is not None and fingerprint == previous["fingerprint"]:
            return NotModified()
        screen = self._screen()
        if isinstance(screen.get("objectId"), str):
            self._push_commands(screen["objectId"])
        if screen.get("_created"):
            screen.pop("_created")
            fingerprint = self.fingerprint(extra)  # the new row is our own change: don't refetch for it
        status = screen_status(screen)
        base_state: dict[str, Any] = {"v": STATE_VERSION, "device": device, "screen": screen.get("objectId"),
                                      "classes": extra, "fingerprint": fingerprint}
        name = found if isinstance(found := screen.get("name"), str) else ""
        if not status.ready:
            setup = SetupNeeded(screen_name=name, screen_id=device,
                                message=f"{status.message} Hub: {self.client.server_url}")
            return SourceResult(document=placeholder_document(name, self.options.timezone), media={},
                                state=base_state, setup=setup)
        content, classes = self._content(screen, status.config_id or "")
        translation = translate(content, self.options)
        self.last_problems = translation.problems
        for line in translation.problems:
            log.warning("hub %s: %s", self.client.server_url, line)
        new_classes = sorted(set(classes) - set(WATCHED_CLASSES) - {SCREEN})
        if new_classes != sorted(extra):
            # classes found on the way (tile and tile type classes, state names): fingerprint them too
            missing = [c for c in new_classes if c not in fingerprint]
            fingerprint = {k: v for k, v in fingerprint.items() if k in (SCREEN, *WATCHED_CLASSES, *new_classes)}
            if missing:
                fingerprint.update(self.fingerprint(missing, only=True))
            base_state.update(classes=new_classes, fingerprint=fingerprint)
            self._push_classes(new_classes)
        return SourceResult(document=translation.document, media=translation.media, state=base_state)

    # ---- change check
    def _fingerprint_requests(self, classes: list[str], only: bool) -> list[tuple[str, dict[str, Any]]]:
        body = {"order": "-updatedAt", "limit": 1, "keys": "updatedAt", "count": 1}
        out: list[tuple[str, dict[str, Any]]] = []
        if not only:
            out.append((SCREEN, dict(body, where={"uuid": self.device_id})))
            out.extend((c, dict(body)) for c in WATCHED_CLASSES)
        out.extend((c, dict(body)) for c in classes if c not in WATCHED_CLASSES and c != SCREEN)
        return out

    def fingerprint(self, extra: list[str] | None = None, *, only: bool = False) -> dict[str, list[Any]]:
        """{class: [count, newest updatedAt]} in one batch request (one request per class without batch)."""
        wanted = self._fingerprint_requests(list(extra or []), only)
        answers: list[Any] = []
        if self._batch_works:
            try:
                answers = self.client.batch([{"method": "GET", "path": f"/classes/{cls}", "body": body}
                                             for cls, body in wanted])
            except (HubUnavailable, HubLoginError):  # a refused login says nothing about batch requests
                raise
            except HubError as exc:
                log.info("hub %s: batch GET not supported (%s); checking class by class", self.client.server_url,
                         exc)
                self._batch_works = False
        if not self._batch_works:
            answers = []
            for cls, body in wanted:
                params = {k: (v if isinstance(v, str) else _json(v)) for k, v in body.items()}
                try:
                    answers.append({"success": self.client.request("GET", f"/classes/{cls}", params=params)})
                except HubUnavailable:
                    raise
                except HubError as exc:
                    answers.append({"error": {"code": exc.code, "error": str(exc)}})
        out: dict[str, list[Any]] = {}
        for (cls, _), answer in zip(wanted, answers, strict=False):
            ok = answer.get("success") if isinstance(answer, dict) else None
            if isinstance(ok, dict) and isinstance(ok.get("results"), list):
                rows = ok["results"]
                newest = rows[0].get("updatedAt") if rows and isinstance(rows[0], dict) else None
                out[cls] = [ok.get("count"), newest]
            else:
                out[cls] = [None, None]  # no permission or another error: this class is not watched
        return out

    # ---- registration
    def _screen(self) -> dict[str, Any]:
        rows = self.client.query(SCREEN, where={"uuid": self.device_id}, include="state,layoutType,layoutConfig",
                                 order="createdAt", limit=2)
        if len(rows) > 1:
            log.warning("hub %s: %d SteleScreen rows carry uuid %s; using the oldest (%s)", self.client.server_url,
                        len(rows), self.device_id, rows[0].get("objectId"))
        if rows:
            return rows[0]
        name = self.configured_name or screen_name(self.device_id)
        created = self.client.create(SCREEN, {"uuid": self.device_id, "name": name})
        log.info("hub %s: registered this screen as '%s' (uuid %s, SteleScreen %s)", self.client.server_url,
                 name, self.device_id, created.get("objectId"))
        return {"objectId": created.get("objectId"), "uuid": self.device_id, "name": name, "_created": True}

    # ---- content
    def _content(self, screen: dict[str, Any], config_id: str) -> tuple[HubContent, list[str]]:
        classes: set[str] = set()
        for key in ("state", "layoutType"):
            ptr = screen.get(key)
            if isinstance(ptr, Mapping) and isinstance(ptr.get("className"), str):
                classes.add(ptr["className"])
        content = HubContent(screen=screen)
        schedules = self.client.query("SteleSchedule", include="layoutType")
        config_ptr_ids = {config_id}
        for row in schedules:
            applies = pointer_id(row.get("screen")) == screen.get("objectId") or pointer_id(row.get("appliesTo")) == config_id
            if applies:
                content.schedules.append(row)
                if cid := pointer_id(row.get("layoutConfig")):
                    config_ptr_ids.add(cid)
                ptr = row.get("layoutType")
                if isinstance(ptr, Mapping) and isinstance(ptr.get("className"), str):
                    classes.add(ptr["className"])
        configs = self.client.query("SteleLayoutConfig", where={"objectId": {"$in": sorted(config_ptr_ids)}})
        self._check_targets(configs)
        content.configs = {str(c.get("objectId")): c for c in configs}
        wants_timetable = False
        for config in configs:
            if (dia := pointer_id(config.get("diashowConfig"))) and dia not in content.slides:
                content.slides[dia] = self.client.query("SteleDiashowObject", where={"$relatedTo": {
                    "object": pointer("SteleDiashowConfig", dia), "key": "diashowObjects"}})
            if (grid := pointer_id(config.get("gridConfig"))) and grid not in content.tiles:
                rows = self.client.query("SteleTilePosition", include="tile,tile.tileType", where={"$relatedTo": {
                    "object": pointer("SteleGridConfig", grid), "key": "tiles"}})
                content.tiles[grid] = rows
                for row in rows:
                    tile = row.get("tile")
                    if isinstance(tile, Mapping):
                        if isinstance(tile.get("className"), str):
                            classes.add(tile["className"])
                        tile_type = tile.get("tileType")
                        if isinstance(tile_type, Mapping) and isinstance(tile_type.get("className"), str):
                            classes.add(tile_type["className"])
                        if name_of(tile_type) == "aushangsfahrplan" and tile.get("config") is None:
                            wants_timetable = True
        if not self.options.logo and any(c.get("showHeader") is True for c in configs):
            content.district_logo = self._district_logo(screen)
        if wants_timetable:
            content.timetables = self._timetables(screen)
        return content, sorted(classes)

    def _check_targets(self, configs: list[dict[str, Any]]) -> None:
        """Refuse layout configs whose diashowConfig/gridConfig points to a deleted (or unreadable) object: not "an
        empty slideshow" — an administrator's slip must not blank the screen, the last good content stays."""
        for key, cls in (("diashowConfig", "SteleDiashowConfig"), ("gridConfig", "SteleGridConfig")):
            wanted = {pid: str(c.get("objectId")) for c in configs if (pid := pointer_id(c.get(key)))}
            if not wanted:
                continue
            found = {str(r.get("objectId")) for r in self.client.query(
                cls, where={"objectId": {"$in": sorted(wanted)}}, keys="objectId")}
            for pid in sorted(set(wanted) - found):
                raise HubSourceError(f"hub {self.client.server_url}: SteleLayoutConfig {wanted[pid]}.{key} points to "
                                     f"a deleted or unreadable {cls} {pid}; the current content stays until it is "
                                     "fixed", url=self.client.server_url)

    def _district_logo(self, screen: Mapping[str, Any]) -> Any:
        """`District.logo` of the district whose `area` contains the screen's location (header logo), or None."""
        location = decode_geopoint(screen.get("location"))
        if location is None:
            return None
        point = {"__type": "GeoPoint", "latitude": location[0], "longitude": location[1]}
        try:
            rows = self.client.query("District", where={"area": {"$geoIntersects": {"$point": point}}},
                                     keys="logo", limit=1)
        except HubUnavailable:
            raise
        except HubError as exc:
            log.warning("hub %s: district logo not available: %s", self.client.server_url, exc)
            return None
        return rows[0].get("logo") if rows else None

    def _timetables(self, screen: Mapping[str, Any]) -> list[Any]:
        """Timetable PDFs of the lines serving the stop nearest to the screen (cloud functions of the hub)."""
        location = decode_geopoint(screen.get("location"))
        if location is None:
            return []
        try:
            stops = self.client.call_function("pt-stop-nearby", {"lat": location[0], "lon": location[1]})
            stop_list = stops.get("stops") if isinstance(stops, Mapping) else None
            if not isinstance(stop_list, list) or not stop_list or not isinstance(stop_list[0], Mapping):
                return []
            first = stop_list[0]
            props = given if isinstance(given := first.get("properties"), Mapping) else {}
            stop_id = props.get("stopId") or first.get("id")
            lines = self.client.call_function("pt-serving-lines", {"stopId": stop_id})
        except HubUnavailable:
            raise
        except HubError as exc:
            log.warning("hub %s: timetable PDFs not available: %s", self.client.server_url, exc)
            return []
        rows = lines.get("lines") if isinstance(lines, Mapping) else lines
        found: list[Any] = []
        for line in rows if isinstance(rows, list) else []:
            if not isinstance(line, Mapping):
                continue
            for key in ("timetable", "timetablePdf", "pdf", "timetableUrl"):
                value = line.get(key)
                if decode_file_url(value) or (isinstance(value, str) and value.startswith(("http://", "https://"))):
                    found.append(value)
                    break
        return found

    # ---- freshness
    def _push_classes(self, classes: list[str]) -> None:
        """Classes met in the data (state, layout type, tile, tile type): LiveQuery for them too, if running."""
        live = self._live
        if live is not None and classes:
            added = live.add_subscriptions([(c, {}) for c in classes])
            if added:
                log.debug("LiveQuery: also watching %s", ", ".join(added))

    def _push_commands(self, screen_id: str) -> None:
        """Once this screen's SteleScreen objectId is known: LiveQuery for the commands addressed to it (only),
        and `screen_listeners` are told when it is new (e.g. reporting's ScreenRef after a re-registration)."""
        if screen_id != self._screen_id:
            for listener in list(self.screen_listeners):
                try:
                    listener(screen_id)
                except Exception:  # a listener's bug must not stop the sync
                    log.exception("screen id listener failed")
        self._screen_id = screen_id
        live = self._live
        if live is None or self._on_command is None or screen_id == self._command_screen:
            return
        self._command_screen = screen_id
        live.add_subscriptions([(COMMANDS, {"screen": pointer(SCREEN, screen_id)})])
        log.debug("LiveQuery: watching the commands of SteleScreen %s", screen_id)

    @property
    def live(self) -> LiveQueryClient | None:
        """The running LiveQuery client (None: not watching)."""
        return self._live

    def watch(self, on_change: Callable[[], None],
              on_command: Callable[[], None] | None = None) -> LiveQueryClient | None:
        """Start a LiveQuery client (None: disabled): *on_change* on any change of this screen's content classes,
        *on_command* on a pending command for this screen.

        Subscribes to this screen's row, every Stele* class the translation reads, and (as each fetch meets them)
        the classes of the state, layout type, tile and tile type pointers. With *on_command*, also to
        ``SteleScreenCommand`` where ``screen`` is this screen (added by the first fetch that knows its objectId):
        a command event calls only *on_command*, never *on_change* (a command is no content change), and an event of
        a command that is already done (``doneAt`` set: the screen's own result write), deleted or moved to another
        screen calls nothing. After a reconnect both are called (events may have been missed). Classes the hub does
        not push (not in its ``liveQuery.classNames``, or refused) are covered by polling."""
        if not self.live_query:
            return None
        subscriptions: list[tuple[str, Mapping[str, Any]]] = [(SCREEN, {"uuid": self.device_id})]
        subscriptions += [(c, {}) for c in WATCHED_CLASSES]

        def token() -> str | None:
            if self.client.username and self.client.session_token is None:
                try:
                    self.client.login()
                except HubError as exc:
                    log.info("LiveQuery: login failed (%s); connecting without session", exc)
            return self.client.session_token

        def renew() -> str | None:
            return self.client.login() if self.client.username else None

        def event(op: str, cls: str, obj: Mapping[str, Any]) -> None:
            if cls != COMMANDS:
                on_change()  # a content class, or "reconnect"
            if on_command is not None and (op == "reconnect" or (
                    cls == COMMANDS and op in COMMAND_OPS and obj.get("doneAt") is None)):
                on_command()

        self._on_command = on_command
        self._command_screen = None
        if on_command is not None and self._screen_id is not None:  # known from an earlier fetch
            self._command_screen = self._screen_id
            subscriptions.append((COMMANDS, {"screen": pointer(SCREEN, self._screen_id)}))
        client = LiveQueryClient(self.live_query_url or live_query_url(self.client.server_url), self.client.app_id,
                                 rest_key=self.client.rest_key, js_key=self.client.js_key, session_token=token,
                                 renew_session=renew, subscriptions=subscriptions,
                                 on_change=event, ca_file=self.ca_file)
        self._live = client
        client.start()
        return client

    def close(self) -> None:
        self.client.close()


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# ------------------------------------------------------------------------------------------------ factory
def redirect_check(hub_url: str, allowed: Collection[str]) -> Callable[[str], str | None]:
    """The file-host rule for every redirect hop of a download: a hub file URL may not lead elsewhere."""

    def check(url: str) -> str | None:
        if file_host_allowed(url, hub_url, allowed):
            return None
        return (f"host '{urlsplit(url).hostname}' is neither the hub's host nor in hub.allowed_file_hosts; "
                "refused")

    return check


def _twin_configured(config: Any) -> bool:
    try:
        return bool(str(config["twin"].get("url") or "").strip())
    except (KeyError, TypeError, AttributeError):
        return False


def make_hub_source(config: Any, downloader: Any = None) -> HubSource:
    """A HubSource from the player configuration ([player], [hub], [cache]); raises HubConfigError."""
    hub = config["hub"]
    url = str(hub.get("url") or "").strip()
    if not url:
        raise HubConfigError("hub.url is empty; set url = \"https://hub.example.org/parse\" in [hub] of player.toml")
    app_id = str(hub.get("app_id") or "").strip()
    if not app_id:
        raise HubConfigError("hub.app_id is empty; set the hub's application id in [hub] of player.toml")
    secrets: dict[str, str] = {}
    if str(hub.get("secrets_file") or ""):
        secrets = load_secrets(hub["secrets_file"])
    ca_file = str(config["cache"].get("ca_file") or "") or None
    try:
        client = ParseClient(url, app_id, rest_key=secrets.get("rest_key"), js_key=secrets.get("javascript_key"),
                             username=secrets.get("username"), password=secrets.get("password"), ca_file=ca_file)
    except ValueError as exc:
        raise HubConfigError(f"hub.url: {exc}") from None
    player = config["player"]
    rotation = int(player.get("rotation") or 0)
    canvas = (1080, 1920) if rotation in (90, 270) else (1920, 1080)
    state_dir = Path(player.get("state_dir") or ".")
    allowed = list(hub.get("allowed_file_hosts") or [])
    if downloader is not None and hasattr(downloader, "redirect_check"):
        downloader.redirect_check = redirect_check(client.server_url, allowed)
    return HubSource(client, state_dir, allowed_file_hosts=allowed,
                     canvas=canvas, timezone=str(player.get("timezone") or "Europe/Berlin"),
                     screen_name=str(player.get("screen_name") or ""), live_query=bool(hub.get("live_query", True)),
                     ca_file=ca_file, twin=_twin_configured(config),
                     logo=str(config["branding"].get("logo") or ""))
