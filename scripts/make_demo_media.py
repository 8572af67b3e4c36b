"""Draws the demo's pictures (made for this project; no third-party photos). Run: python scripts/make_demo_media.py

The results are committed under player/demo/media/, so `make demo` needs no generation step."""

from __future__ import annotations

import math
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

OUT = Path(__file__).resolve().parent.parent / "player" / "demo" / "media"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
W, H = 1440, 880


def font(size: int, bold: bool = True) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")), size)


def gradient(top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    img = Image.new("RGB", (W, H))
    d = ImageDraw.Draw(img)
    for y in range(H):
        t = y / (H - 1)
        d.line([(0, y), (W, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    return img


def caption(img: Image.Image, title: str, lines: list[str], color: str = "#ffffff") -> None:
    shade = Image.new("RGBA", img.size, (0, 0, 0, 0))
    ImageDraw.Draw(shade).rounded_rectangle([60, H - 330, W - 60, H - 50], radius=28, fill=(0, 0, 0, 150))
    img.paste(Image.alpha_composite(img.convert("RGBA"), shade).convert(img.mode))
    d = ImageDraw.Draw(img)
    d.text((100, H - 300), title, font=font(76), fill=color)
    y = H - 190
    for line in lines:
        d.text((100, y), line, font=font(44, bold=False), fill=color)
        y += 58


def market() -> Image.Image:
    img = gradient((12, 20, 60), (40, 30, 90)).convert("RGBA")
    d = ImageDraw.Draw(img)
    rnd = random.Random(7)
    for _ in range(160):  # snow
        x, y, r = rnd.randrange(W), rnd.randrange(H - 300), rnd.choice([2, 3, 4])
        d.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 255, 200))
    for i, x in enumerate(range(80, W - 100, 260)):  # market stalls
        base = 560
        d.polygon([(x, base - 120), (x + 110, base - 200), (x + 220, base - 120)], fill=(170, 30, 40) if i % 2 else (200, 150, 40))
        d.rectangle([x + 10, base - 120, x + 210, base], fill=(110, 70, 40))
        for k in range(5):
            d.ellipse([x + 20 + k * 40, base - 110, x + 34 + k * 40, base - 96], fill=(255, 220, 120))
    tree = [(W - 250, 140), (W - 140, 520), (W - 360, 520)]
    d.polygon(tree, fill=(30, 120, 60))
    d.regular_polygon((W - 250, 130, 28), 5, fill=(255, 215, 0))
    caption(img, "Weihnachtsmarkt", ["Rathausplatz · 27.11.–23.12.", "täglich 11–21 Uhr · Glühwein & Kunsthandwerk"])
    return img.convert("RGB")


def library() -> Image.Image:
    img = gradient((230, 240, 245), (180, 205, 220))
    d = ImageDraw.Draw(img)
    colors = [(200, 60, 50), (40, 110, 170), (240, 180, 40), (60, 150, 90), (120, 70, 150)]
    rnd = random.Random(3)
    for shelf in range(3):
        y = 90 + shelf * 150
        x = 80
        while x < W - 120:
            w = rnd.randrange(24, 48)
            h = rnd.randrange(90, 130)
            d.rectangle([x, y + 130 - h, x + w, y + 130], fill=rnd.choice(colors))
            x += w + 4
        d.rectangle([60, y + 130, W - 60, y + 142], fill=(90, 60, 40))
    caption(img, "Stadtbibliothek", ["Neue Öffnungszeiten ab Dezember:", "Mo–Fr 9–19 Uhr · Sa 10–14 Uhr"], "#ffffff")
    return img


def citizen_office() -> Image.Image:
    img = gradient((0, 58, 112), (0, 100, 150))
    d = ImageDraw.Draw(img)
    for i in range(7):  # stylised calendar
        for j in range(4):
            x, y = 120 + i * 170, 80 + j * 115
            d.rounded_rectangle([x, y, x + 150, y + 95], radius=12, fill=(255, 255, 255, 255) if (i + j) % 5 else (255, 204, 0))
            d.text((x + 14, y + 10), str(1 + i + 7 * j), font=font(34), fill=(0, 58, 112))
    caption(img, "Bürgerbüro", ["Termine online buchen – ohne Wartezeit", "Personalausweis · Meldebescheinigung · Führerschein"])
    return img


def park() -> Image.Image:
    img = gradient((120, 190, 240), (200, 235, 250))
    d = ImageDraw.Draw(img)
    d.ellipse([W - 330, 60, W - 170, 220], fill=(255, 210, 60))
    d.rectangle([0, 470, W, H], fill=(90, 170, 80))
    for k in range(9):
        x = 90 + k * 150
        d.rectangle([x + 30, 330, x + 50, 480], fill=(100, 70, 40))
        d.ellipse([x - 20, 220, x + 100, 380], fill=(40 + 10 * (k % 3), 130, 60))
    for k in range(40):
        a = k / 40 * math.pi
        d.line([(W // 2, 470), (W // 2 + 600 * math.cos(a), 470 + 60 * math.sin(a))], fill=(120, 190, 100), width=2)
    img = img.filter(ImageFilter.SMOOTH)
    caption(img, "Stadtpark", ["Frühjahrsputz: Samstag 10 Uhr am Musikpavillon", "Handschuhe und Zangen werden gestellt"], "#ffffff")
    return img


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in [("weihnachtsmarkt", market), ("bibliothek", library), ("buergerbuero", citizen_office),
                       ("stadtpark", park)]:
        make().save(OUT / f"{name}.jpg", quality=85, optimize=True)
        print("wrote", OUT / f"{name}.jpg")


if __name__ == "__main__":
    main()
