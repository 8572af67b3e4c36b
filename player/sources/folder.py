"""Folder source: a directory with ``screen.json`` and the media it references (demo, offline, USB stick)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from player.atomic import sweep_orphan_temps
from player.content import MediaResolver
from player.layouts import TEMPLATES_DIR, Loaded, load_screen

if TYPE_CHECKING:
    from player.model import Screen

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
            if not path.is_file():
                path = _same_name_other_form(root, ref) or path
            if not path.is_relative_to(root) or not path.is_file():
                return None
        except (OSError, ValueError, RuntimeError):  # a NUL in the name, a symlink loop, an unreadable folder
            return None
        return path


def _same_name_other_form(root: Path, ref: str) -> Path | None:
    """The file *ref* names when its name on disk is in another Unicode form: a Mac writes "Bäume.png" with the
    ä as a + combining diaeresis (NFD), the document typed elsewhere has the single character (NFC). Looked up
    only when the plain name is missing: one directory listing per part of the path."""
    import unicodedata

    path = root
    for part in Path(ref).parts:
        nearest = path / part
        if part in (".", "..") or nearest.exists():
            path = nearest
            continue
        want = unicodedata.normalize("NFC", part)
        matches = [entry for entry in os.listdir(path) if unicodedata.normalize("NFC", entry) == want]
        if len(matches) != 1:
            return None
        path = path / matches[0]
    return path.resolve()


FOLDER_PDF_DIR = "folder-pdf"  # below cache_dir: first pages of a folder source's PDFs, rendered once


def folder_media(source: FolderSource, screen: Screen, cache_dir: Path) -> tuple[MediaResolver, list[str]]:
    """The resolver for a folder screen (off the GUI thread: stats files, may render PDFs) and one line per refused
    PDF. Used by the running player and by ``preview`` alike."""
    files = {ref: source.resolve(ref) for ref in screen.media_refs()}
    rendered, problems = render_pdfs(source, screen, cache_dir / FOLDER_PDF_DIR)
    files.update(rendered)
    return MediaResolver(files), problems


def render_pdfs(source: FolderSource, screen: Screen, out_dir: Path) -> tuple[dict[str, Path | None], list[str]]:
    """The PDF references of a folder screen (timetables, as the steles show them) as pictures of their first page,
    rendered to cover the largest zone each appears in, like the sync does for remote sources (player/prepare.py).

    Call it off the GUI thread. Rendered pictures are kept in *out_dir* under a name made from the reference, the
    file's modification time and size and the target box, so an unchanged PDF is rendered once (from the folder or
    from its copy); pictures no longer needed are removed. Returns reference -> picture (None: refused) and one line per refused PDF."""
    refs = sorted(ref for ref in screen.media_refs() if ref.lower().endswith(".pdf"))
    if not refs:
        return {}, []
    import hashlib  # only when there is a PDF: hashlib loads OpenSSL's libcrypto (3.4 MB RSS)

    from player.prepare import PrepareError, render_pdf, sniff_kind, target_boxes

    boxes = target_boxes(screen)
    out: dict[str, Path | None] = {}
    problems: list[str] = []
    keep: set[str] = set()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return dict.fromkeys(refs), [f"{out_dir}: cannot keep rendered PDF pages: {exc.strerror or exc}"]
    for ref in refs:
        src, box = source.resolve(ref), boxes.get(ref)
        if src is None or box is None:  # missing (the zone says so), or not used as a picture
            continue
        try:
            st = src.stat()
            # by reference, not absolute path: the folder's copy (folder_copy.py keeps times) names the same picture
            key = hashlib.sha256(f"{ref}\0{st.st_mtime_ns}\0{st.st_size}\0{box[0]}x{box[1]}".encode()).hexdigest()
            target = out_dir / f"{key[:32]}.png"
            keep.add(target.name)
            if not target.exists():
                if sniff_kind(src) != "pdf":
                    raise PrepareError("named .pdf but it is no PDF")
                os.replace(render_pdf(src, box, out_dir), target)  # rendered to a temp file: atomic
            out[ref] = target
        except (PrepareError, OSError) as exc:
            out[ref] = None
            problems.append(f"{source.root / ref}: {exc}; not shown")
    for old in out_dir.glob("*.png"):
        if _RENDERED.fullmatch(old.name) and old.name not in keep:
            old.unlink(missing_ok=True)
    sweep_orphan_temps(out_dir)  # temp files of a renderer that was killed (another process's stay)
    return out, problems


_RENDERED = re.compile(r"[0-9a-f]{32}\.png")
