"""Screen strings of the live widgets: they live in player/texts.py with all other screen strings."""

from __future__ import annotations

from typing import Any

from player import texts as _texts


def wtext(key: str, locale: str = "de-DE", **args: Any) -> str:
    """A widget string in the screen's language."""
    return _texts.text(key, locale, **args)


def weekday(index: int, locale: str = "de-DE") -> str:
    return wtext("weekdays", locale).split(",")[index % 7]
