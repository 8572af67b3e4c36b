"""Preparation of media at sync time (off the GUI thread): what a small Pi should not do while playing.

* Images are scaled down to the largest zone they appear in (computed from the layouts), EXIF orientation applied.
  The target box of a reference is the largest zone width x the largest zone height over all zones showing it
  (the layout canvas for a background image); the picture is scaled so that it still *covers* that box
  (enough pixels for ``contain``, ``cover`` and ``stretch``), never up. Pictures that are already small enough and
  upright are used as they are.
* PDFs: the first page is rendered to an image (PDFium via pypdfium2) at the same target box. Rendering runs in a
  child process with a time and memory limit, so a "PDF bomb" is refused with a clear error instead of taking
  the player down; absurd page sizes are refused before rendering.
* Media types by content: :func:`correct_media_kinds` sniffs each downloaded image/video file (magic numbers:
  ISO-BMFF ``ftyp``, Matroska/WebM, AVI, MPEG-TS; PNG, JPEG, GIF, WebP, BMP; PDF) and retypes items whose name
  lied, or leaves out files that are none of these (an HTML error page saved as ``.jpg``), one line each.
* Derived files are cached by (source hash, target box): ``ContentCache.put_derived(sha, "screen:WxH", ...)``.
  :func:`build_resolver` maps each reference to the derived file when there is one.

No Qt in here.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import logging
import math
import os
import resource
import subprocess
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from player.atomic import temp_prefix
from player.cache import CacheFullError, ContentCache, InvalidHashError
from player.content import MediaResolver
from player.model import ImageItem, Screen, VideoItem
from player.picture import load_upright, orientation, stored_box, too_large
from player.system.device import NO_ROOM, disk_room, in_mb

log = logging.getLogger(__name__)

__all__ = ["MediaKinds", "MediaResolver", "PrepareError", "Prepared", "build_resolver", "correct_media_kinds",
           "prepare_files", "sniff_bytes", "sniff_kind", "target_boxes", "variant_for"]

MAX_PDF_PAGE_PT = 14_400  # 200 inches, the largest page the PDF specification allows
MAX_PDF_RENDER_PIXELS = 40_000_000
PDF_RENDER_TIMEOUT_S = 60.0
PDF_RENDER_MEMORY_BYTES = 1024 * 1024 * 1024
JPEG_QUALITY = 90


class PrepareError(Exception):
    """A media file cannot be prepared; ``str(err)`` is one line naming the reference and the problem."""


@dataclass
class Prepared:
    """Result of :func:`prepare_files`: derived file per reference, and refused references with their reason."""

    derived: dict[str, str] = field(default_factory=dict)  # ref -> sha of the file to show
    refused: dict[str, str] = field(default_factory=dict)  # ref -> one-line reason
    created: int = 0  # derived files made in this run (not found in the cache)
    short_of_room: set[str] = field(default_factory=set)  # refused refs that disk room may let through later


def variant_for(box: tuple[int, int]) -> str:
    return f"screen:{box[0]}x{box[1]}"


def target_boxes(screen: Screen) -> dict[str, tuple[int, int]]:
    """Image reference -> (largest zone width, largest zone height) it appears in, in canvas pixels."""
    boxes: dict[str, tuple[int, int]] = {}

    def add(ref: str, w: int, h: int) -> None:
        ow, oh = boxes.get(ref, (0, 0))
        boxes[ref] = (max(ow, w, 1), max(oh, h, 1))

    for layout in screen.layouts.values():
        if layout.background_image:
            add(layout.background_image, layout.width, layout.height)
        for zone in layout.zones:
            for item in zone.items:
                if isinstance(item, ImageItem) and item.src:
                    add(item.src, zone.width, zone.height)
    return boxes


# ISO-BMFF brands that are still pictures (HEIF/AVIF), not videos
_IMAGE_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"})
_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_SNIFF_BYTES = 1024


def sniff_bytes(head: bytes) -> str:
    """"video", "image", "pdf", "empty" or "other" from the first bytes of a file (magic numbers only)."""
    if not head:
        return "empty"
    if head[4:8] == b"ftyp":  # ISO-BMFF: MP4, MOV, M4V, 3GP ... and HEIF/AVIF pictures
        return "image" if head[8:12] in _IMAGE_BRANDS else "video"
    if head[4:8] in _QUICKTIME_ATOMS and int.from_bytes(head[:4], "big") >= 8:
        return "video"  # old QuickTime without an ftyp box
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska / WebM
        return "video"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image"
    for offset in (0, 4):  # MPEG transport stream (188-byte packets; M2TS has a 4-byte prefix per packet)
        step = 192 if offset else 188
        if len(head) > offset + 2 * step and all(head[offset + i * step] == 0x47 for i in range(3)):
            return "video"
    if head.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")):  # MPEG program stream / MPEG-1/2 video
        return "video"
    if head.startswith((b"OggS", b"FLV\x01", b"\x30\x26\xb2\x75\x8e\x66\xcf\x11",  # Ogg/OGV, FLV, ASF/WMV
                        b"\x06\x0e\x2b\x34\x02\x05\x01\x01", b"\x00\x00\x00\x01")):  # MXF, raw H.264/H.265
        return "video"
    if head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")):
        return "image"
    if head.startswith(b"BM") and len(head) >= 14 and head[6:10] == b"\x00\x00\x00\x00":
        return "image"
    if b"%PDF-" in head:
        return "pdf"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html")):
        return "other"  # an error page, whatever its name says
    if text.startswith((b"<svg", b"<?xml", b"<!--")) and b"<svg" in text:
        return "image"  # SVG: the picture decoder decides
    return "other"


def sniff_kind(path: Path) -> str:
    """"video", "image", "pdf", "empty" or "other", by the content of the file (not its name).

    Magic numbers first; a file without known magic that the picture library still identifies (TIFF variants,
    ICO, ...) counts as "image"."""
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    kind = sniff_bytes(head)
    if kind == "other" and not head.lstrip().startswith(b"<"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(path):  # reads the header only
                    return "image"
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            pass
    return kind


@dataclass
class MediaKinds:
    """Result of :func:`correct_media_kinds`: the document with item types fixed (None: nothing to change)."""

    document: dict[str, Any] | None = None
    lines: list[str] = field(default_factory=list)  # one line per corrected or refused reference
    refused: set[str] = field(default_factory=set)  # references whose file is no picture, video or PDF


def correct_media_kinds(cache: ContentCache, document: Mapping[str, Any], screen: Screen,
                        files: Mapping[str, str]) -> MediaKinds:
    """Check each downloaded image/video item by its content: a picture (or PDF) named like a video becomes an
    image item, a video named like a picture a video item; a file that is none of these (e.g. an HTML error page
    saved as .jpg) is refused (one line; :func:`build_resolver` never hands it to the screen). Reads the first
    kilobyte of each file."""
    declared: dict[str, str] = {}
    for layout in screen.layouts.values():
        for zone in layout.zones:
            for item in zone.items:
                if isinstance(item, ImageItem | VideoItem) and item.src:
                    declared.setdefault(item.src, item.kind)
    result = MediaKinds()
    change: dict[str, str] = {}  # ref -> new item type
    for ref, kind in sorted(declared.items()):
        sha = files.get(ref)
        if sha is None:
            continue
        try:
            path = cache.path_of(sha)
            found = sniff_kind(path)
            head = _head(path) if found in ("other", "empty") else b""
        except (OSError, InvalidHashError):
            continue  # a missing file is the sync's business
        if found == "other" and kind == "video" and not _looks_like_text(head):
            continue  # a container not known here: VLC decides (a file it cannot play is skipped within 2 s)
        if found in ("other", "empty"):
            result.refused.add(ref)  # never handed to the screen (build_resolver)
            if kind == "video":  # pictures: prepare_files reports it, in the same words
                result.lines.append(f"'{ref}': {_not_media(head)}")
        elif kind == "image" and found == "video":
            change[ref] = "video"
            result.lines.append(f"'{ref}': the file is a video; played as a video, not as a picture")
        elif kind == "video" and found in ("image", "pdf"):
            change[ref] = "image"
            what = "a PDF" if found == "pdf" else "a picture"
            result.lines.append(f"'{ref}': the file is {what}, not a video; shown as a picture")
    if change:
        result.document = _retyped(document, change)
    return result


def _head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(_SNIFF_BYTES)


def _looks_like_text(head: bytes) -> bool:
    """An error page, JSON or XML answer saved under a media name: (almost) all printable text."""
    sample = head[:512]
    if not sample:
        return False
    printable = sum(1 for b in sample if 32 <= b < 127 or b in (9, 10, 13))
    return printable >= 0.95 * len(sample)


def _not_media(head: bytes) -> str:
    if not head:
        return "the file is empty; not shown"
    text = head[:24].decode("latin-1")
    shown = "".join(ch if ch.isprintable() else "." for ch in text)
    return f"not a picture, video or PDF (it starts with '{shown}'); not shown"


_ONLY_FOR = {"image": ("transition", "transition_ms"), "video": ("volume", "loop")}


def _retyped(document: Mapping[str, Any], change: Mapping[str, str]) -> dict[str, Any]:
    """A copy of *document* with the image/video items of the changed references retyped."""
    out = copy.deepcopy(dict(document))
    layouts = out.get("layouts")
    for layout in layouts.values() if isinstance(layouts, dict) else ():
        zones = layout.get("zones") if isinstance(layout, dict) else None
        for zone in zones if isinstance(zones, list) else ():
            found = zone.get("items") if isinstance(zone, dict) else None
            items: list[Any] = found if isinstance(found, list) else []
            for n, item in enumerate(items):
                if isinstance(item, dict) and item.get("type") in _ONLY_FOR and item.get("src") in change:
                    new = change[item["src"]]
                    if new != item["type"]:
                        items[n] = {k: v for k, v in item.items() if k not in _ONLY_FOR[item["type"]]}
                        items[n]["type"] = new
    return out


def _cover_size(w: int, h: int, box: tuple[int, int]) -> tuple[int, int]:
    scale = min(1.0, max(box[0] / w, box[1] / h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def scale_image(src: Path, box: tuple[int, int], out_dir: Path) -> Path | None:
    """A scaled, upright copy of the picture in *out_dir*, or None when the original can be shown as it is."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(src)
        with img:
            if problem := too_large(img.size):
                raise PrepareError(problem)
            turn = orientation(img)
            ow, oh = stored_box(img.size, turn)  # as shown
            tw, th = _cover_size(ow, oh, box)
            if (tw, th) == (ow, oh) and turn in (1, None):
                return None
            out = load_upright(img, (tw, th))
            if out.size != (tw, th):
                out = out.resize((tw, th), Image.Resampling.LANCZOS)
    except PrepareError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PrepareError(f"refused as a decompression bomb ({exc})") from None
    except (OSError, ValueError, SyntaxError, AttributeError) as exc:  # AttributeError: Pillow 10 on some TIFFs
        raise PrepareError(f"cannot decode the picture ({exc})") from None
    return _save(out, out_dir, out.mode == "RGBA")


def _save(img: Image.Image, out_dir: Path, alpha: bool) -> Path:
    import tempfile

    fd, name = tempfile.mkstemp(dir=out_dir, prefix=temp_prefix(), suffix=".png" if alpha else ".jpg")
    os.close(fd)
    try:
        if alpha:
            img.save(name, "PNG", optimize=False, compress_level=3)
        else:
            img.save(name, "JPEG", quality=JPEG_QUALITY)
    except BaseException:  # a full disk: the partial file would only keep it full
        Path(name).unlink(missing_ok=True)
        raise
    return _within_room(Path(name))


def _within_room(out: Path) -> Path:
    """*out* (a file just written), unless it took some of the share of its disk that downloads and the folder
    copy leave free (player/system/device.py): then it is removed and refused."""
    room = disk_room(out)
    if room is not None and room[0] < 0:
        size = out.stat().st_size
        out.unlink(missing_ok=True)
        raise PrepareError(f"{NO_ROOM}: its copy for the screen ({in_mb(size)}) would use some of the "
                           f"{in_mb(room[1])} the disk keeps free")
    return out


def render_pdf(src: Path, box: tuple[int, int], out_dir: Path,
               timeout: float = PDF_RENDER_TIMEOUT_S, memory_bytes: int = PDF_RENDER_MEMORY_BYTES) -> Path:
    """The first page of a PDF as a picture covering *box*, rendered in a child process with limits."""
    import tempfile

    fd, name = tempfile.mkstemp(dir=out_dir, prefix=temp_prefix(), suffix=".png")
    os.close(fd)
    out = Path(name)

    def limits() -> None:  # runs in the child before exec
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    cmd = [sys.executable, "-m", "player.prepare", "render-pdf", str(src), str(out), str(box[0]), str(box[1])]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, preexec_fn=limits,
                              env={**os.environ, "PYTHONPATH": _package_root()})
    except subprocess.TimeoutExpired:
        out.unlink(missing_ok=True)
        raise PrepareError(f"PDF refused: rendering the first page took longer than {timeout:.0f} s "
                           "(a 'PDF bomb'?); simplify or re-export it") from None
    if proc.returncode != 0:
        out.unlink(missing_ok=True)
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        msg = lines[-1] if lines else f"renderer exited with code {proc.returncode}"
        if any(f"[Errno {code}]" in msg for code in (errno.ENOSPC, errno.EDQUOT)):  # the page did not fit the disk
            raise PrepareError(f"{NO_ROOM}: {msg.removeprefix('PrepareError: ')}")
        if proc.returncode < 0 or "MemoryError" in msg or "bad_alloc" in msg:
            msg = (f"PDF refused: rendering the first page needs more than {memory_bytes // 2**20} MB "
                   "(a 'PDF bomb'?); simplify or re-export it")
        raise PrepareError(msg.removeprefix("PrepareError: "))
    return _within_room(out)


def _package_root() -> str:
    root = str(Path(__file__).resolve().parent.parent)
    existing = os.environ.get("PYTHONPATH")
    return root if not existing else f"{root}{os.pathsep}{existing}"


def _render_pdf_here(src: Path, out: Path, box: tuple[int, int]) -> None:
    """Child-process side of :func:`render_pdf`."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(src))
    except pdfium.PdfiumError as exc:
        raise PrepareError(f"not a readable PDF ({exc})") from None
    try:
        if len(pdf) < 1:
            raise PrepareError("the PDF has no pages")
        page = pdf[0]
        w, h = page.get_size()
        if not (0 < w <= MAX_PDF_PAGE_PT and 0 < h <= MAX_PDF_PAGE_PT):
            raise PrepareError(f"PDF refused: absurd page size {w:.0f}x{h:.0f} pt (at most "
                               f"{MAX_PDF_PAGE_PT}x{MAX_PDF_PAGE_PT} pt allowed)")
        scale = max(box[0] / w, box[1] / h)
        pixels = (w * scale) * (h * scale)
        if pixels > MAX_PDF_RENDER_PIXELS:
            scale *= math.sqrt(MAX_PDF_RENDER_PIXELS / pixels)
        bitmap = page.render(scale=scale)
        img = bitmap.to_pil().convert("RGB")
        img.save(out, "PNG", compress_level=3)
    finally:
        pdf.close()


def prepare_one(cache: ContentCache, sha: str, box: tuple[int, int]) -> str | None:
    """The sha of the file to show for (sha, box): a cached or new derived file, or None for the original.

    Raises :class:`PrepareError` when the file cannot be shown at all (broken picture, refused PDF)."""
    variant = variant_for(box)
    existing = cache.get_derived(sha, variant)
    if existing is not None:
        return existing
    src = cache.path_of(sha)
    kind = sniff_kind(src)
    if kind == "pdf":
        tmp = render_pdf(src, box, cache.tmp_dir)
    elif kind == "image":
        scaled = scale_image(src, box, cache.tmp_dir)
        if scaled is None:
            return None
        tmp = scaled
    elif kind == "video":
        raise PrepareError("the file is a video, not a picture")
    else:
        raise PrepareError(_not_media(_head(src)))
    return cache.put_derived(sha, variant, tmp, suffix=tmp.suffix)


def prepare_files(cache: ContentCache, screen: Screen, files: Mapping[str, str],
                  should_stop: Callable[[], bool] = lambda: False) -> Prepared:
    """Prepare every picture/PDF of *screen* whose file is in *files* (ref -> sha). Problems go to ``refused``."""
    result = Prepared()
    for ref, box in sorted(target_boxes(screen).items()):
        if should_stop():
            break
        sha = files.get(ref)
        if sha is None:
            continue
        try:
            before = cache.get_derived(sha, variant_for(box))
            derived = prepare_one(cache, sha, box)
        except PrepareError as exc:
            result.refused[ref] = f"'{ref}': {exc}"
            if str(exc).startswith(NO_ROOM):
                result.short_of_room.add(ref)
            continue
        except CacheFullError as exc:  # the quota is taken by pinned content: the original plays as it is
            result.refused[ref] = f"'{ref}': no room in the cache quota for its copy for the screen ({exc})"
            result.short_of_room.add(ref)
            continue
        except (OSError, InvalidHashError) as exc:
            result.refused[ref] = f"'{ref}': cannot prepare ({exc})"
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                result.short_of_room.add(ref)
            continue
        if derived is not None:
            result.derived[ref] = derived
            if before is None:
                result.created += 1
    return result


def build_resolver(cache: ContentCache, screen: Screen, files: Mapping[str, str],
                   snapshot_id: str | None = None) -> MediaResolver:
    """Map every reference to its derived file (when prepared), else the cached original; a PDF without a rendered
    page, a file that is no picture, video or PDF (by content) and a missing file map to None. Disk I/O: call it off the GUI thread."""
    boxes = target_boxes(screen)
    paths: dict[str, Path | None] = {}
    for ref, sha in files.items():
        try:
            if not cache.has(sha):
                paths[ref] = None
                continue
            box = boxes.get(ref)
            if box is not None:
                derived = cache.get_derived(sha, variant_for(box))
                if derived is not None:
                    paths[ref] = cache.path_of(derived)
                    continue
            kind = sniff_kind(cache.path_of(sha))
            if (box is not None and kind == "pdf") or kind in ("other", "empty"):
                paths[ref] = None  # an unrendered PDF, or no media at all (e.g. an HTML error page)
                continue
            cache.touch(sha)
            paths[ref] = cache.path_of(sha)
        except (OSError, InvalidHashError):
            paths[ref] = None
    return MediaResolver(paths, snapshot_id)


def _main(argv: list[str]) -> int:
    if len(argv) == 5 and argv[0] == "render-pdf":
        try:
            _render_pdf_here(Path(argv[1]), Path(argv[2]), (int(argv[3]), int(argv[4])))
        except PrepareError as exc:
            print(f"PrepareError: {exc}", file=sys.stderr)
            return 2
        except MemoryError:
            print("MemoryError", file=sys.stderr)
            return 3
        return 0
    print("usage: python -m player.prepare render-pdf SRC OUT WIDTH HEIGHT", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
