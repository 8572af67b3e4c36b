"""Human-readable German screen names for registration: "Freundlicher Leuchtturm 42".

Adjective + noun + number, the adjective declined for the noun's gender (strong declension, nominative:
"Fröhlicher Igel", "Fröhliche Linde", "Fröhliches Rathaus"). The word lists are written for this project.
With a seed (the device id) the name is the same on every call, so a screen whose first registration failed
half-way gets the same name on the next try.
"""

from __future__ import annotations

import random

__all__ = ["ADJECTIVES", "NOUNS", "screen_name"]

# adjective stems (undeclined)
ADJECTIVES: tuple[str, ...] = (
    "freundlich", "fröhlich", "mutig", "flink", "heiter", "klug", "ruhig", "sonnig", "tapfer", "wach",
    "munter", "gelassen", "kühn", "schlau", "treu", "stolz", "bunt", "hell", "leise", "sanft",
    "geduldig", "neugierig", "fleißig", "pünktlich", "aufmerksam", "zuverlässig", "herzlich", "gemütlich",
    "wendig", "findig", "lustig", "emsig", "grün", "blau", "golden", "silbern", "strahlend", "wetterfest",
    "höflich", "gesprächig", "schnell", "zufrieden", "verträumt", "tüchtig", "glücklich", "weise",
)  # fmt: skip

# (noun, gender): m = masculine, f = feminine, n = neuter
NOUNS: tuple[tuple[str, str], ...] = (
    ("Leuchtturm", "m"), ("Brunnen", "m"), ("Löwe", "m"), ("Fuchs", "m"), ("Igel", "m"), ("Dachs", "m"),
    ("Biber", "m"), ("Falke", "m"), ("Kranich", "m"), ("Ahorn", "m"), ("Kompass", "m"), ("Bär", "m"),
    ("Storch", "m"), ("Hirsch", "m"), ("Uhu", "m"), ("Zaunkönig", "m"), ("Wegweiser", "m"), ("Marktplatz", "m"),
    ("Linde", "f"), ("Eiche", "f"), ("Möwe", "f"), ("Eule", "f"), ("Brücke", "f"), ("Laterne", "f"),
    ("Glocke", "f"), ("Amsel", "f"), ("Meise", "f"), ("Schwalbe", "f"), ("Libelle", "f"), ("Kastanie", "f"),
    ("Sonnenblume", "f"), ("Mühle", "f"), ("Fähre", "f"), ("Straßenbahn", "f"), ("Hummel", "f"), ("Birke", "f"),
    ("Rathaus", "n"), ("Eichhörnchen", "n"), ("Reh", "n"), ("Pferd", "n"), ("Windrad", "n"), ("Fahrrad", "n"),
    ("Segelboot", "n"), ("Stadttor", "n"), ("Glockenspiel", "n"), ("Rotkehlchen", "n"), ("Murmeltier", "n"),
    ("Känguru", "n"), ("Ufer", "n"), ("Gänseblümchen", "n"),
)  # fmt: skip

_ENDINGS = {"m": "er", "f": "e", "n": "es"}


def _decline(stem: str, gender: str) -> str:
    ending = _ENDINGS[gender]
    if stem.endswith("e"):  # leise -> leiser, leise, leises
        ending = ending[1:]
    word = stem + ending
    return word[0].upper() + word[1:]


def screen_name(seed: str | None = None) -> str:
    """A name like "Freundlicher Leuchtturm 42" (number 1–99). Same seed, same name."""
    rng = random.Random(seed) if seed is not None else random.SystemRandom()
    stem = rng.choice(ADJECTIVES)
    noun, gender = rng.choice(NOUNS)
    return f"{_decline(stem, gender)} {noun} {rng.randint(1, 99)}"
