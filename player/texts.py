"""All texts the player itself shows, in one place. German (de-DE) by default, English available."""

from __future__ import annotations

from typing import Any

TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "error_title": "Dieser Bildschirm wird gerade gewartet",
        "error_hint": "Die Inhalte konnten nicht geladen werden. Für das Personal:",
        "more_problems": "… und {n} weitere Probleme (siehe Protokoll)",
        "setup_title": "Dieser Bildschirm wird eingerichtet",
        "setup_name": "Name: {name}",
        "setup_id": "Kennung: {id}",
        "setup_hub": "Hub: {url}",
        "setup_network": "Netzwerk: {state}",
        "setup_contact": "Letzter Kontakt: {when}",
        "setup_waiting": "Wartet auf Freischaltung durch die Verwaltung.",
        "setup_sync": "Inhalte werden geladen: {done} von {total} Dateien",
        "network_up": "verbunden",
        "network_down": "keine Verbindung",
        "stale": "Stand: {time}",
        "no_content": "Zurzeit keine Inhalte",
        "widget_unavailable": "Diese Anzeige ist hier nicht verfügbar",
        "web_unavailable": "Webseiten-Anzeige nicht installiert",
    },
    "en": {
        "error_title": "This screen is under maintenance",
        "error_hint": "The content could not be loaded. For staff:",
        "more_problems": "… and {n} more problems (see the log)",
        "setup_title": "This screen is being set up",
        "setup_name": "Name: {name}",
        "setup_id": "Id: {id}",
        "setup_hub": "Hub: {url}",
        "setup_network": "Network: {state}",
        "setup_contact": "Last contact: {when}",
        "setup_waiting": "Waiting for an administrator to activate it.",
        "setup_sync": "Loading content: {done} of {total} files",
        "network_up": "connected",
        "network_down": "no connection",
        "stale": "As of {time}",
        "no_content": "No content at the moment",
        "widget_unavailable": "This display is not available here",
        "web_unavailable": "Web page display not installed",
    },
}


def text(key: str, locale: str = "de-DE", **args: Any) -> str:
    lang = locale.split("-")[0].lower()
    table = TEXTS.get(lang, TEXTS["de"])
    template = table.get(key) or TEXTS["de"][key]
    return template.format(**args) if args else template
