"""Folder source: a directory with ``screen.json`` and the media it references (demo, offline, USB stick)."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from player.atomic import open_regular, sweep_orphan_temps
from player.content import MediaResolver
from player.layouts import TEMPLATES_DIR, Loaded, load_screen
from player.removal import Teller, remove_same_device

if TYPE_CHECKING:
    from player.model import Screen

log = logging.getLogger(__name__)
_FOLDER = Teller(log, "folder source")

SCREEN_FILE = "screen.json"
COPY_DIR = "folder-copy"  # below cache_dir: the copies of folder sources (player/sources/folder_copy.py)
FOLDER_PDF_DIR = "folder-pdf"  # below cache_dir: first pages of a folder source's PDFs, one directory per folder
OTHER_FOLDERS_KEPT_S = 7 * 86400  # the copy or the pages of another folder not in use for this long are removed
IN_USE_MARK_S = 3600.0  # how often a player marks the copy and the pages it plays from as in use (mark_in_use)

#: size, modification time (ns), inode number, status change time (ns): see file_stamp
Stamp = tuple[int, int, int, int]


def file_stamp(path: Path) -> Stamp | None:
    """What tells a file from its replacement, cheaply (one stat): size and modification time, and also the inode
    number and the status change time (ctime). A picture replaced by another of the same size with the same
    modification time (``cp -p``, ``rsync -t``, tools that keep times) has another ctime (set by the kernel on every
    write or rename, not settable by a user) or, moved into place, another inode. On FAT (vfat) the ctime is
    the modification time and the inode numbers are made up by the kernel (new ones after re-plugging, and for a
    file dropped from memory): a stamp that differs only there costs one more look, not a copy (folder_copy.py
    compares the bytes). None when *path* cannot be read (missing, EIO, a NUL in the name)."""
    try:
        st = path.stat()
    except (OSError, ValueError):
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns


def folder_name(folder: Path) -> str:
    """A directory name for *folder* below the cache: a readable part of its absolute path plus a checksum of it."""
    absolute = os.path.abspath(folder)
    slug = re.sub(r"[^A-Za-z0-9]+", "_", absolute).strip("_")[-60:] or "root"
    return f"{slug}-{zlib.crc32(absolute.encode('utf-8', 'surrogateescape')):08x}"


def pages_dir(cache_dir: Path, root: Path) -> Path:
    """Where the rendered PDF pages of the folder *root* are kept: one directory per folder, so that a second player
    (or ``preview``) on another folder with the same cache does not remove this one's pages. The folder's copy
    (``cache_dir/folder-copy/<name>``) shares its folder's directory: its pages are the same pictures."""
    cache = Path(os.path.abspath(cache_dir))
    absolute = Path(os.path.abspath(root))
    name = absolute.name if absolute.parent == cache / COPY_DIR else folder_name(absolute)
    return cache / FOLDER_PDF_DIR / name


def mark_used(directory: Path) -> None:
    """Marks *directory* (a folder's copy or pages) as in use, at most once a day (an SD card): a player on another
    folder with the same cache removes only what was not marked for OTHER_FOLDERS_KEPT_S."""
    with contextlib.suppress(OSError):
        if time.time() - directory.stat().st_mtime > IN_USE_MARK_S * 24:
            os.utime(directory)


def drop_unused_dirs(parent: Path, own: Path) -> None:
    """The directories in *parent* other than *own* not marked as in use for OTHER_FOLDERS_KEPT_S are removed
    (another stick, another path); a younger one may belong to a player started on another folder."""
    try:
        others = [entry for entry in os.scandir(parent) if entry.path != str(own)]
    except OSError:
        return
    now = time.time()
    for entry in others:
        try:
            if entry.is_dir(follow_symlinks=False) and now - entry.stat().st_mtime > OTHER_FOLDERS_KEPT_S:
                remove_same_device(Path(entry.path), _FOLDER)  # a mount inside stays, with one warning
        except OSError:
            continue


DOCUMENT_KEPT_MAX = 1024 * 1024  # a loaded screen.json up to this size is kept to compare with (same_document)


@dataclass
class FolderSource:
    root: Path
    timezone: str = "Europe/Berlin"
    templates_dir: Path = TEMPLATES_DIR
    #: the stamp and the bytes of the screen.json last loaded (see same_document)
    _loaded: tuple[Stamp, bytes] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def document_path(self) -> Path:
        return self.root / SCREEN_FILE

    def load(self) -> Loaded:
        """Reads and validates ``screen.json`` (disk I/O: call it off the GUI thread). Raises DocumentError."""
        self._loaded = None
        before = file_stamp(self.document_path)
        loaded = load_screen(self.document_path, self.templates_dir, self.timezone)
        if before is not None and before[0] <= DOCUMENT_KEPT_MAX:
            data = _read_small(self.document_path, before[0])
            # the same stamp after: these are the bytes that were loaded (a write would have set a new ctime)
            if data is not None and file_stamp(self.document_path) == before:
                self._loaded = (before, data)
        return loaded

    def same_document(self, stamp: Stamp | None) -> bool:
        """True when ``screen.json``, whose stamp is now *stamp*, is the document last loaded though its stamp
        changed: same size and modification time and the same bytes (it is small), only a new ctime or inode
        number (chmod, chown, a hard link, extended attributes such as Samba's DOSATTRIB, a backup tool; a FAT
        stick plugged in again). Then *stamp* is taken as the loaded document's and nothing needs loading again.
        False for anything else, and for a document larger than DOCUMENT_KEPT_MAX (loaded again, as before)."""
        kept = self._loaded
        if kept is None or stamp is None or stamp[:2] != kept[0][:2]:
            return False
        if stamp == kept[0]:
            return True
        data = _read_small(self.document_path, stamp[0])
        if data != kept[1] or file_stamp(self.document_path) != stamp:  # another document, or changed meanwhile
            return False
        self._loaded = (stamp, data)
        return True

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


def _read_small(path: Path, size: int) -> bytes | None:
    """The bytes of a small file, None when it cannot be read or is not *size* bytes long."""
    try:
        with open_regular(path) as fh:
            data = fh.read(size + 1)
    except OSError:
        return None
    return data if len(data) == size else None


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


def folder_media(source: FolderSource, screen: Screen, cache_dir: Path) -> tuple[MediaResolver, list[str]]:
    """The resolver for a folder screen (off the GUI thread: stats files, may render PDFs) and one line per refused
    PDF. Used by the running player and by ``preview`` alike."""
    files = {ref: source.resolve(ref) for ref in screen.media_refs()}
    out_dir = pages_dir(cache_dir, source.root)
    rendered, problems = render_pdfs(source, screen, out_dir)
    files.update(rendered)
    _drop_old_pages(out_dir)
    return MediaResolver(files), problems


def _drop_old_pages(own: Path) -> None:
    """Pages of folders not in use for a week go, and so do pages kept directly in ``folder-pdf/`` (before one
    directory per folder: all players on a cache shared them, and each one's load removed the others')."""
    parent = own.parent
    try:
        old = [entry.path for entry in os.scandir(parent) if entry.is_file() and _RENDERED.fullmatch(entry.name)]
    except OSError:
        return
    for path in old:
        with contextlib.suppress(OSError):
            os.unlink(path)
    with contextlib.suppress(OSError):
        sweep_orphan_temps(parent)
    mark_used(own)
    drop_unused_dirs(parent, own)


_DIGESTS: dict[tuple[str, Stamp], str] = {}  # PDF -> checksum of its bytes, while the file's stamp is the same


def known_pdf_digest(path: Path, stamp: Stamp | None) -> str | None:
    """The checksum _pdf_digest took of the PDF *path* while its stamp was *stamp*, if it is still known (no I/O):
    what the page shown was rendered from."""
    return _DIGESTS.get((str(path), stamp)) if stamp is not None else None


def same_pdf(path: Path, old: Stamp | None, digest: str | None) -> bool:
    """True when the PDF *path*, whose stamp was *old* when its page (*digest*: known_pdf_digest) was rendered,
    still holds those bytes though its stamp changed: same size and time, only a new ctime or inode (chmod, chown,
    extended attributes...), and the same checksum (the PDF is read once). Its page stays; nothing is loaded again.
    False when the size or time differs, nothing is known, or the file cannot be read."""
    now = file_stamp(path)
    if now is None or old is None or digest is None or now[:2] != old[:2]:
        return False
    try:
        return _pdf_digest(path) == digest
    except OSError:
        return False


def _pdf_digest(path: Path) -> str:
    """A checksum of the PDF's bytes (read once per process while the file is unchanged): what names its page, so
    a PDF replaced by another of the same size and time gets a new page, and the folder's copy the same page."""
    import hashlib  # only when there is a PDF: hashlib loads OpenSSL's libcrypto (3.4 MB RSS)

    stamp = file_stamp(path)
    known = _DIGESTS.get((str(path), stamp)) if stamp is not None else None
    if known is not None:
        return known
    sha = hashlib.sha256()
    with open_regular(path) as fh:
        while chunk := fh.read(1024 * 1024):
            sha.update(chunk)
    digest = sha.hexdigest()
    if stamp is not None and file_stamp(path) == stamp:  # not kept when the file changed while it was read
        if len(_DIGESTS) > 256:
            _DIGESTS.clear()
        _DIGESTS[(str(path), stamp)] = digest
    return digest


def render_pdfs(source: FolderSource, screen: Screen, out_dir: Path) -> tuple[dict[str, Path | None], list[str]]:
    """The PDF references of a folder screen (timetables, as the steles show them) as pictures of their first page,
    rendered to cover the largest zone each appears in, like the sync does for remote sources (player/prepare.py).

    Call it off the GUI thread. Rendered pictures are kept in *out_dir* (one per folder: pages_dir) under a name
    made from a checksum of the PDF's bytes and the target box, so an unchanged PDF is rendered once (from the
    folder or from its copy); pictures no longer needed are removed. Returns reference -> picture (None: refused)
    and one line per refused PDF."""
    refs = sorted(ref for ref in screen.media_refs() if ref.lower().endswith(".pdf"))
    if not refs:
        _drop_pages(out_dir, set())
        return {}, []
    import hashlib

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
            # by content, not by path or time: the folder's copy names the same picture, a replaced PDF another
            key = hashlib.sha256(f"{_pdf_digest(src)}\0{box[0]}x{box[1]}".encode()).hexdigest()
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
    _drop_pages(out_dir, keep)
    return out, problems


def _drop_pages(out_dir: Path, keep: set[str]) -> None:
    """The pages in *out_dir* not in *keep* go, and temp files of a renderer that was killed (another process's
    stay)."""
    try:
        for old in out_dir.glob("*.png"):
            if _RENDERED.fullmatch(old.name) and old.name not in keep:
                old.unlink(missing_ok=True)
        sweep_orphan_temps(out_dir)
    except OSError as exc:  # no such directory (no PDF yet), or no directory at all: nothing to remove
        log.debug("%s: cannot remove old pages: %s", out_dir, exc)


_RENDERED = re.compile(r"[0-9a-f]{32}\.png")
