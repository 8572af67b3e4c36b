"""Robust readers for fields of foreign documents (hub objects, NINA, generic JSON).

Every reader accepts anything and returns a typed value or None; nothing here raises on odd input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from player.parse_rest import decode_date, iso_to_utc

MAX_TEXT = 2_000  # characters kept from any single text field
MAX_ITEMS = 1_000  # items considered from any single list

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The default clock: aware UTC now. Pure logic never calls this directly; it is injected."""
    return datetime.now(UTC)


def cap_text(text: str, max_chars: int = MAX_TEXT) -> str:
    if len(text) <= max_chars:
        return text
    return text[: max(0, max_chars - 1)].rstrip() + "…"


def clean_line(value: Any, max_chars: int = 200) -> str | None:
    """A short single-line string (names, lines, units): control characters removed, whitespace collapsed."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value[: max_chars * 4]
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())
    return cap_text(text, max_chars) if text else None


def to_float(value: Any) -> float | None:
    """Numbers and numeric strings ("12.5", "12,5") -> finite float; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str) and 0 < len(value) <= 40:
        try:
            result = float(value.strip().replace(",", "."))
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def to_datetime(value: Any, naive_tz: tzinfo = UTC) -> datetime | None:
    """Parse Date, ISO string (naive ones in *naive_tz*) or epoch seconds/milliseconds -> aware UTC datetime."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            return None
        if abs(number) > 1e11:  # milliseconds
            number /= 1000.0
        try:
            return datetime.fromtimestamp(number, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        return iso_to_utc(value, naive_tz)
    if isinstance(value, Mapping):
        return decode_date(value)
    return None


def as_list(value: Any, max_items: int = MAX_ITEMS) -> list[Any]:
    """A list (capped) or an empty list for anything else."""
    if isinstance(value, list | tuple):
        return list(value[:max_items])
    return []


def as_dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def dig(doc: Any, path: str | Sequence[str | int]) -> Any:
    """Follow a path into nested dicts/lists; None when any step is missing.

    Paths: JSON pointer ("/data/items/0", with ~1 for "/" and ~0 for "~"; the leading "/" may be left out,
    any path containing "/" is a pointer), dotted ("data.items.0"), or a sequence of keys. "" and "/" mean the
    document itself.
    """
    if isinstance(path, str):
        if path in ("", "/"):
            return doc
        if "/" in path:
            steps: list[str | int] = [p.replace("~1", "/").replace("~0", "~")
                                      for p in path.removeprefix("/").split("/")]
        else:
            steps = list(path.split("."))
    else:
        steps = list(path)
    current = doc
    for step in steps:
        if isinstance(current, Mapping):
            key = str(step)
            if key not in current:
                return None
            current = current[key]
        elif isinstance(current, list):
            try:
                index = int(step)
            except (TypeError, ValueError):
                return None
            if not -len(current) <= index < len(current):
                return None
            current = current[index]
        else:
            return None
    return current
