"""Official warnings from NINA, the federal warning app's public JSON API (or a hub/proxy serving the same).

Endpoints used (relative to `base_url`):
- `dashboard/<ARS>.json` — current warnings for a district. ARS: 12-digit regional key; the district level
  is the first 5 digits followed by 7 zeros (`ars_district("081110000000")`).
- `warnings/<id>.json` — the CAP-like detail document (`info[].description`, `instruction`, `expires`).

Details are cached per warning id and `sent` time, so a quiet hour costs one dashboard request per region and
poll, not one per warning.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from player.feeds.base import Feed
from player.feeds.fields import Clock, as_dict, as_list, clean_line, system_clock, to_datetime
from player.feeds.plaintext import plain_text
from player.parse_rest import HubError, get_json, new_session

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

SEVERITY_RANK = {"Extreme": 4, "Severe": 3, "Moderate": 2, "Minor": 1, "Unknown": 0}
MAX_WARNINGS = 50


@dataclass(frozen=True)
class PublicWarning:
    id: str
    severity: str  # Minor | Moderate | Severe | Extreme | Unknown
    headline: str
    sent: datetime | None
    description: str = ""
    instruction: str = ""
    provider: str | None = None
    expires: datetime | None = None
    region: str = ""  # the ARS the warning was found for

    @property
    def rank(self) -> int:
        return SEVERITY_RANK.get(self.severity, 0)

    @property
    def severe(self) -> bool:
        return self.rank >= SEVERITY_RANK["Severe"]


@dataclass(frozen=True)
class Warnings:
    items: tuple[PublicWarning, ...]

    @property
    def highest(self) -> PublicWarning | None:
        return self.items[0] if self.items else None


def ars_district(ars: str) -> str:
    """Normalise a regional key to the 12-digit district level NINA's dashboard expects."""
    digits = "".join(ch for ch in str(ars) if ch.isdigit())
    if len(digits) < 5 or len(digits) > 12 or digits != str(ars).strip():
        raise ValueError(f"regional key (ARS) must be 5 to 12 digits: {ars!r}")
    return digits[:5] + "0" * 7


def severity(value: Any) -> str:
    text = clean_line(value, 20) or ""
    for name in SEVERITY_RANK:
        if text.lower() == name.lower():
            return name
    return "Unknown"


def warning_from_dashboard(entry: Any, region: str = "") -> PublicWarning | None:
    doc = as_dict(entry)
    payload = as_dict(doc.get("payload"))
    data = as_dict(payload.get("data"))
    wid = clean_line(doc.get("id"), 200) or clean_line(payload.get("id"), 200)
    title = as_dict(doc.get("i18nTitle"))
    headline = plain_text(data.get("headline"), 300) or plain_text(title.get("de"), 300)
    if not wid or not headline:
        return None
    return PublicWarning(id=wid, severity=severity(data.get("severity")), headline=headline,
                   sent=to_datetime(doc.get("sent")) or to_datetime(doc.get("startDate")),
                   provider=clean_line(data.get("provider"), 40), expires=to_datetime(doc.get("expiresDate")),
                   region=region)


def detail_fields(doc: Any, language: str = "de") -> dict[str, Any]:
    """CAP detail document -> {description, instruction, expires, severity, headline} (present ones only)."""
    infos = [as_dict(i) for i in as_list(as_dict(doc).get("info"), 20)]
    if not infos:
        return {}
    chosen = next((i for i in infos if str(i.get("language", "")).lower().startswith(language)), infos[0])
    out: dict[str, Any] = {}
    description = plain_text(chosen.get("description"), 3000, paragraphs=True)
    instruction = plain_text(chosen.get("instruction"), 2000, paragraphs=True)
    if description:
        out["description"] = description
    if instruction:
        out["instruction"] = instruction
    expires = to_datetime(chosen.get("expires"))
    if expires is not None:
        out["expires"] = expires
    if chosen.get("severity") is not None and severity(chosen.get("severity")) != "Unknown":
        out["severity"] = severity(chosen.get("severity"))
    return out


class WarningsFeed(Feed[Warnings]):
    value_type = Warnings

    def __init__(self, base_url: str, regions: Sequence[str], *, name: str = "warnings",
                 interval_s: float = 120, timeout_s: float = 15, stale_after_s: float = 900,
                 min_severity: str = "Unknown", details: bool = True, clock: Clock = system_clock,
                 session: requests.Session | None = None, max_body_bytes: int = 5_000_000,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(name, interval_s=interval_s, timeout_s=timeout_s, stale_after_s=stale_after_s)
        if not regions:
            raise ValueError(f"feed {name}: at least one regional key (ARS) is needed")
        self.base_url = base_url.rstrip("/")
        self.regions = tuple(dict.fromkeys(ars_district(r) for r in regions))
        self.min_rank = SEVERITY_RANK[severity(min_severity)]
        self.details = details
        self.clock = clock
        self.session = session or new_session()
        self.max_body_bytes = max_body_bytes
        self.headers = dict(headers or {})
        self._detail_cache: dict[tuple[str, datetime | None], dict[str, Any]] = {}

    def _get(self, path: str) -> Any:
        return get_json(f"{self.base_url}/{path}", session=self.session, headers=self.headers,
                        timeout=self.timeout_s, max_body_bytes=self.max_body_bytes)

    def _detail(self, warning: PublicWarning) -> dict[str, Any]:
        key = (warning.id, warning.sent)
        if key not in self._detail_cache:
            try:
                self._detail_cache[key] = detail_fields(self._get(f"warnings/{quote(warning.id, safe='')}.json"))
            except HubError as exc:
                log.info("feed %s: no details for warning %s (%s)", self.name, warning.id, exc)
                return {}  # not cached: try again next poll
        return self._detail_cache[key]

    def fetch(self) -> Warnings:
        now = self.clock()
        found: dict[str, PublicWarning] = {}
        for region in self.regions:
            doc = self._get(f"dashboard/{region}.json")
            if not isinstance(doc, list):
                raise HubError(f"{self.base_url}/dashboard/{region}.json: expected a list of warnings")
            for entry in doc[:1000]:
                warning = warning_from_dashboard(entry, region)
                if warning is not None and warning.id not in found:
                    found[warning.id] = warning
        items = []
        for warning in found.values():
            if self.details:
                extra = self._detail(warning)
                if extra:
                    warning = PublicWarning(**{**warning.__dict__, **extra})
            if warning.expires is not None and warning.expires < now:
                continue
            if warning.rank < self.min_rank:
                continue
            items.append(warning)
        live = {(w.id, w.sent) for w in found.values()}
        self._detail_cache = {k: v for k, v in self._detail_cache.items() if k in live}
        items.sort(key=lambda w: (-w.rank, -(w.sent.timestamp() if w.sent else 0), w.id))
        return Warnings(items=tuple(items[:MAX_WARNINGS]))
