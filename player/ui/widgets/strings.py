"""Screen strings of the live widgets.

TODO-move: these belong in player/texts.py (all screen strings in one place). Until they are moved, `wtext`
looks in player.texts first and falls back to this table, so moving them changes nothing else.
"""

from __future__ import annotations

from typing import Any

from player import texts as _texts

WIDGET_TEXTS: dict[str, dict[str, str]] = {  # TODO-move to player/texts.py
    "de": {
        "departures_title": "Abfahrten",
        "departures_empty": "Zurzeit keine Abfahrten",
        "departures_now": "jetzt",
        "departures_in_min": "in {n} min",
        "departures_cancelled": "fällt aus",
        "departures_platform": "Steig {p}",
        "weather_title": "Wetter",
        "weather_empty": "Zurzeit keine Wetterdaten",
        "news_title": "Nachrichten",
        "news_empty": "Zurzeit keine Nachrichten",
        "events_title": "Veranstaltungen",
        "events_today": "Heute",
        "events_week": "Diese Woche",
        "events_empty": "Zurzeit keine Veranstaltungen",
        "events_cancelled": "abgesagt",
        "events_all_day": "ganztags",
        "sensors_title": "Umweltdaten",
        "sensors_empty": "Zurzeit keine Messwerte",
        "warnings_title": "Amtliche Warnung",
        "warnings_empty": "Zurzeit keine Warnungen",
        "warnings_more": "+{n} weitere",
        "warnings_until": "gültig bis {time}",
        "warnings_instruction": "Was Sie tun sollten:",
        "warnings_source": "Quelle: {provider}",
        "severity_Extreme": "Extreme Gefahr",
        "severity_Severe": "Schwere Gefahr",
        "severity_Moderate": "Warnung",
        "severity_Minor": "Hinweis",
        "severity_Unknown": "Hinweis",
        "today": "Heute",
        "yesterday": "Gestern",
        "tomorrow": "Morgen",
        "weekdays": "Mo,Di,Mi,Do,Fr,Sa,So",
        "time_suffix": " Uhr",
        "feed_missing": "Keine Daten",
    },
    "en": {
        "departures_title": "Departures",
        "departures_empty": "No departures at the moment",
        "departures_now": "now",
        "departures_in_min": "in {n} min",
        "departures_cancelled": "cancelled",
        "departures_platform": "Stop {p}",
        "weather_title": "Weather",
        "weather_empty": "No weather data at the moment",
        "news_title": "News",
        "news_empty": "No news at the moment",
        "events_title": "Events",
        "events_today": "Today",
        "events_week": "This week",
        "events_empty": "No events at the moment",
        "events_cancelled": "cancelled",
        "events_all_day": "all day",
        "sensors_title": "Environment",
        "sensors_empty": "No readings at the moment",
        "warnings_title": "Official warning",
        "warnings_empty": "No warnings at the moment",
        "warnings_more": "+{n} more",
        "warnings_until": "valid until {time}",
        "warnings_instruction": "What you should do:",
        "warnings_source": "Source: {provider}",
        "severity_Extreme": "Extreme danger",
        "severity_Severe": "Severe danger",
        "severity_Moderate": "Warning",
        "severity_Minor": "Advisory",
        "severity_Unknown": "Advisory",
        "today": "Today",
        "yesterday": "Yesterday",
        "tomorrow": "Tomorrow",
        "weekdays": "Mon,Tue,Wed,Thu,Fri,Sat,Sun",
        "time_suffix": "",
        "feed_missing": "No data",
    },
}


def wtext(key: str, locale: str = "de-DE", **args: Any) -> str:
    """A widget string in the screen's language (player.texts wins once the strings are moved there)."""
    lang = locale.split("-")[0].lower()
    table = _texts.TEXTS.get(lang, _texts.TEXTS["de"])
    template = table.get(key)
    if template is None:
        local = WIDGET_TEXTS.get(lang, WIDGET_TEXTS["de"])
        template = local.get(key) or WIDGET_TEXTS["de"][key]
    return template.format(**args) if args else template


def weekday(index: int, locale: str = "de-DE") -> str:
    return wtext("weekdays", locale).split(",")[index % 7]
