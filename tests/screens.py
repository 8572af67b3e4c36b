"""Helpers for tests: small screen folders, the demo folder, required tools."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "player" / "demo"


def require_tool(name: str) -> str:
    """The path of a command-line tool; a missing tool fails under CI=true and skips elsewhere."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"required tool '{name}' is not installed (make test installs it)")
        pytest.skip(f"'{name}' is not installed")
    return path


def solid_image(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (160, 90)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def photo_like(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A picture with a camera photo's kind of detail, drawn here (no third-party photo): a sky, house fronts with
    lit and dark windows, soft edges from a blur, light sensor noise."""
    from PIL import ImageChops, ImageDraw, ImageFilter

    rnd = random.Random(seed)
    w, h = size
    sky = Image.linear_gradient("L").resize(size)
    img = Image.merge("RGB", (sky.point(lambda v: 90 + v * 100 // 255), sky.point(lambda v: 140 + v * 60 // 255),
                              Image.new("L", size, 230)))
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x, bw, top = rnd.randrange(-w // 20, w), rnd.randrange(w // 27, w // 8), rnd.randrange(h * 4 // 15, h * 11 // 15)
        draw.rectangle((x, top, x + bw, h), fill=tuple(rnd.randrange(60, 200) for _ in range(3)))
        for wy in range(top + 30, h, 60):
            for wx in range(x + 20, x + bw - 20, 45):
                draw.rectangle((wx, wy, wx + 22, wy + 30),
                               fill=(250, 230, 150) if rnd.random() < 0.4 else (40, 40, 60))
    img = img.filter(ImageFilter.GaussianBlur(1.2))
    return ImageChops.add(img, Image.effect_noise(size, 6).convert("RGB"), offset=-128)


def write_screen(folder: Path, doc: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "screen.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def one_zone(items: list[dict[str, Any]], width: int = 1920, height: int = 1080, background: str = "#202020",
             zone: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    z = {"id": "main", "x": 0, "y": 0, "width": width, "height": height, "items": items}
    z.update(zone or {})
    return {"version": 1, "layouts": {"main": {"width": width, "height": height, "background": background,
                                               "zones": [z]}}, **extra}
