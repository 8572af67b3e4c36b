"""Where a screen's configuration comes from. Every source produces the same model (``player.model.Screen``).

Remote sources implement the protocol in :mod:`player.sources.base` and are built by :func:`make_source`;
the folder source (:mod:`player.sources.folder`) is read directly, without the cache.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from player.sources.base import Source, SourceError

if TYPE_CHECKING:
    from player.config import Config
    from player.fetch import Downloader

__all__ = ["make_source"]


def make_source(config: Config, downloader: Downloader) -> Source:
    """The remote source configured in ``[source] type`` (``http`` or ``hub``). Raises :class:`SourceError`
    (one clear line) for a folder source, an unknown type or a missing/broken source module."""
    kind = config["source"]["type"]
    if kind == "http":
        from player.sources.http import HttpSource

        url = config["source"]["url"]
        if not url:
            raise SourceError("source.url is empty: set it to the http(s) address of screen.json (source.type = http)")
        return HttpSource(url, downloader, allowed_hosts=config["source"]["allowed_hosts"],
                          timezone=config.timezone)
    if kind == "hub":
        # --- hook for the Open SmartCity Hub source (player/sources/parse_hub.py, written separately) ---
        try:
            from player.sources.parse_hub import make_hub_source  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:
            raise SourceError(f"source.type = hub, but the hub source is not available ({exc}); "
                              "install a player version with player/sources/parse_hub.py") from None
        params = inspect.signature(make_hub_source).parameters
        if "downloader" in params:
            return make_hub_source(config, downloader=downloader)  # type: ignore[no-any-return]
        if len(params) >= 2:
            return make_hub_source(config, downloader)  # type: ignore[no-any-return]
        return make_hub_source(config)  # type: ignore[no-any-return]
    if kind == "folder":
        raise SourceError("source.type = folder is read directly from source.path; there is nothing to sync")
    raise SourceError(f"source.type = {kind!r} is unknown (known: folder, http, hub)")
