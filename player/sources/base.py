"""The source protocol: how the sync asks "what should this screen show?".

Every remote source (a ``screen.json`` over HTTP, the Open SmartCity Hub, ...) implements one method::

    class MySource:
        name: str                                   # for logs and status, e.g. the URL (no credentials)

        def fetch(self, previous: SourceState | None) -> SourceResult | NotModified: ...

* ``previous`` is the :attr:`SourceResult.state` this source returned for the snapshot that is published now
  (persisted by the sync in the state dir), or ``None`` on the first sync, after a failed sync, or when the
  published snapshot came from elsewhere. Use it for ETags, ``updatedAt`` stamps and the like.
* Return :class:`NotModified` when nothing changed since ``previous`` (ideally after ONE cheap conditional request);
  the sync then does nothing at all: no downloads, no disk writes. Never return ``NotModified`` when ``previous``
  is ``None``.
* Otherwise return a :class:`SourceResult`:

  - ``document``: the screen in the player's own ``screen.json`` format (see ``player/layouts.py`` and
    ``layouts/layout.schema.json``). Media references (``src`` of image/video items, ``background_image`` of a
    layout) are opaque strings chosen by the source, e.g. ``"media/plan.pdf"`` or an object id.
  - ``media``: ``{ref: MediaSpec(url, sha256, size)}`` for every media reference in the document. ``sha256``
    and ``size`` are optional; when known the file is verified against them and a cached copy is used without
    any request. A reference without an entry is reported as a defect and not shown.
  - ``state``: a small JSON-serialisable dict, opaque to the sync; handed back as ``previous`` next time.
  - ``setup``: a :class:`SetupNeeded` when the screen is not configured yet (the document is then ignored and
    the setup screen shows the name/id/message).

* Errors: raise :class:`SourceError` with one line per problem, each naming the URL/field and what to do
  (``"https://hub.example.org/parse: HTTP 401 Unauthorized; check hub.app_id and the secrets file"``).
  :class:`player.fetch.FetchError` may also propagate; anything else is treated as a bug and logged with a trace.
* ``fetch`` runs on the sync's background thread, never on the GUI thread; it may block on network I/O and
  should use the shared :class:`player.fetch.Downloader` (``fetch_document``) so TLS settings, retries,
  conditional requests and ``close()`` (abort at shutdown) apply.
* Sources are constructed by ``player.sources.make_source(config, downloader)``; a module
  ``player/sources/<kind>.py`` offers a factory ``make_<kind>_source(config, downloader) -> Source``.

No Qt in here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["MediaSpec", "NotModified", "SetupNeeded", "Source", "SourceError", "SourceResult", "SourceState"]

#: opaque, JSON-serialisable state of a source (ETags, updatedAt, ...), persisted by the sync
SourceState = dict[str, Any]


class SourceError(Exception):
    """The source cannot deliver a usable answer now. ``lines``: one line per problem."""

    def __init__(self, lines: list[str] | str) -> None:
        self.lines = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("; ".join(self.lines))


@dataclass(frozen=True)
class MediaSpec:
    """Where a media reference can be downloaded, and what it must be (when known)."""

    url: str
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class SetupNeeded:
    """The screen is not configured yet: what the setup screen shows."""

    screen_name: str = ""
    screen_id: str = ""
    message: str = ""


@dataclass(frozen=True)
class SourceResult:
    document: dict[str, Any]
    media: dict[str, MediaSpec] = field(default_factory=dict)
    state: SourceState = field(default_factory=dict)
    setup: SetupNeeded | None = None


@dataclass(frozen=True)
class NotModified:
    """Nothing changed since ``previous``. ``state`` may carry an updated state (None: keep the old one)."""

    state: SourceState | None = None


@runtime_checkable
class Source(Protocol):
    name: str

    def fetch(self, previous: SourceState | None) -> SourceResult | NotModified:
        """Ask for the screen's content; see the module docstring for the contract."""
        ...
