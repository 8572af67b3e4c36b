"""Folder source: a directory with ``screen.json`` and the media it references (demo, offline, USB stick)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from player.layouts import TEMPLATES_DIR, Loaded, load_screen

SCREEN_FILE = "screen.json"


@dataclass
class FolderSource:
    root: Path
    timezone: str = "Europe/Berlin"
    templates_dir: Path = TEMPLATES_DIR

    @property
    def document_path(self) -> Path:
        return self.root / SCREEN_FILE

    def load(self) -> Loaded:
        """Reads and validates ``screen.json`` (disk I/O: call it off the GUI thread). Raises DocumentError."""
        return load_screen(self.document_path, self.templates_dir, self.timezone)

    def resolve(self, ref: str) -> Path | None:
        """The local file for a media reference, or None when it is missing or would leave the folder."""
        if ref.startswith(("http://", "https://")):
            return None
        try:
            root = self.root.resolve()
            path = (root / ref).resolve()
            if not path.is_relative_to(root) or not path.is_file():
                return None
        except (OSError, ValueError, RuntimeError):  # a NUL in the name, a symlink loop, an unreadable folder
            return None
        return path
