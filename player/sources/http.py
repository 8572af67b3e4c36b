"""HTTP source: a ``screen.json`` served by any web server (``source.type = "http"``, ``source.url``).

The document is fetched with a conditional request (ETag / Last-Modified, through the shared
:class:`~player.fetch.Downloader`), so an unchanged screen costs one 304. Media references in the document are
resolved relative to the document URL; only ``http``/``https`` URLs on the document's own host (or a host listed in
``source.allowed_hosts``) are accepted, and references with ``..`` segments, a leading ``/``, backslashes or control
characters are refused. Media changes are noticed when the document changes (change the document, or use
versioned file names, when a picture is replaced).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from player.fetch import Downloader, display_url
from player.layouts import TEMPLATES_DIR, DocumentError, load_screen_dict
from player.sources.base import MediaSpec, NotModified, SourceError, SourceResult, SourceState

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class HttpSource:
    """A screen document over HTTP(S); see the module docstring."""

    def __init__(self, url: str, downloader: Downloader, allowed_hosts: Iterable[str] = (),
                 timezone: str = "Europe/Berlin", templates_dir: Path = TEMPLATES_DIR) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise SourceError(f"source.url: {url!r} is not an http(s) URL; set it to the address of screen.json")
        self.url = url
        self.name = display_url(url)
        self.downloader = downloader
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.timezone = timezone
        self.templates_dir = templates_dir
        if hasattr(downloader, "redirect_check"):  # the host rule holds for every redirect hop, too
            downloader.redirect_check = self.redirect_problem

    def host_problem(self, url: str) -> str | None:
        """Why media may not come from *url* (None: it may): http(s) on the document's host (any port or scheme,
        so an http -> https upgrade is fine) or on a host in ``source.allowed_hosts``. The one host rule, for the
        references in the document and for every redirect hop of a download."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return "only http and https URLs are allowed"
        host = parts.hostname.lower()
        if host != (urlsplit(self.url).hostname or "").lower() and host not in self.allowed_hosts:
            return (f"host '{parts.hostname}' is not the document's host; "
                    "add it to source.allowed_hosts if it is trusted")
        return None

    def redirect_problem(self, url: str) -> str | None:
        problem = self.host_problem(url)
        return None if problem is None else f"{problem}; refused"

    def fetch(self, previous: SourceState | None) -> SourceResult | NotModified:
        res = self.downloader.fetch_document(self.url)
        if previous is not None and previous.get("document_sha") == res.sha:
            return NotModified()  # a 304, or a new ETag for the same bytes
        try:
            doc = json.loads(res.data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceError(f"{self.name}: not valid JSON ({exc}); fix the document on the server") from None
        except RecursionError:
            raise SourceError(f"{self.name}: JSON nested too deeply to read; fix the document on the server") from None
        if not isinstance(doc, dict):
            raise SourceError(f"{self.name}: the document must be a JSON object, got {type(doc).__name__}")
        media: dict[str, MediaSpec] = {}
        for ref in sorted(self._refs(doc)):
            url, problem = self.media_url(ref)
            if url is None:
                log.warning("%s: media '%s' refused: %s", self.name, ref[:200], problem)
                continue
            media[ref] = MediaSpec(url)
        return SourceResult(document=doc, media=media, state={"document_sha": res.sha, "url": self.name})

    def _refs(self, doc: dict[str, Any]) -> set[str]:
        try:
            return load_screen_dict(doc, self.name, self.templates_dir, self.timezone).screen.media_refs()
        except DocumentError:
            return set()  # the sync validates again and reports the problems

    def media_url(self, ref: str) -> tuple[str | None, str]:
        """(absolute URL, "") for an acceptable reference, else (None, why it was refused)."""
        if not ref or _CONTROL.search(ref) or "\\" in ref:
            return None, "empty, or contains control characters or backslashes"
        is_absolute = ref.lower().startswith(("http://", "https://"))
        if not is_absolute:
            if ":" in ref.split("/", 1)[0]:
                return None, "only relative paths and http(s) URLs are allowed"
            if ref.startswith("/"):
                return None, "a path must be relative to the document (no leading '/')"
            path = urlsplit(ref).path
            if any(seg in ("..", ".") for seg in unquote(path).split("/")):
                return None, "a path must stay below the document's folder (no '..')"
        url = urljoin(self.url, ref)
        parts = urlsplit(url)
        if parts.username or parts.password:
            return None, "URLs with credentials are not allowed"
        problem = self.host_problem(url)
        if problem is not None:
            return None, problem
        return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, "")), ""
