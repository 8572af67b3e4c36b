"""All screen strings in one place, every language complete."""

from __future__ import annotations

import string

from player.texts import TEXTS, text


def test_every_language_has_every_key_with_the_same_placeholders() -> None:
    keys = set(TEXTS["de"])
    for lang, table in TEXTS.items():
        assert set(table) == keys, lang
        for key, value in table.items():
            fields = {f for _, f, _, _ in string.Formatter().parse(value) if f}
            de_fields = {f for _, f, _, _ in string.Formatter().parse(TEXTS["de"][key]) if f}
            assert fields == de_fields, (lang, key)


def test_language_choice_and_fallback() -> None:
    assert text("departures_now", "de-DE") == "jetzt"
    assert text("departures_now", "en-GB") == "now"
    assert text("time_suffix", "en-US") == ""  # an empty English text is not replaced by the German one
    assert text("departures_now", "fr-FR") == "jetzt"  # unknown language: German (the default)
    assert text("setup_sync", "de-DE", done=3, total=7) == "Inhalte werden geladen: 3 von 7 Dateien"
