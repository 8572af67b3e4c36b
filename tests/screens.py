"""Helpers for tests: small screen folders, the demo folder, required tools."""

from __future__ import annotations

import json
import os
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
