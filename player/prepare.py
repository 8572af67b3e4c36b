"""Preparation of media at sync time (off the GUI thread): what a small Pi should not do while playing.

* Images are scaled down to the largest zone they appear in (computed from the layouts), EXIF orientation applied.
  The target box of a reference is the largest zone width x the largest zone height over all zones showing it
  (the layout canvas for a background image); the picture is scaled so that it still *covers* that box
  (enough pixels for ``contain``, ``cover`` and ``stretch``), never up. Pictures that are already small enough and
  upright are used as they are.
* PDFs: the first page is rendered to an image (PDFium via pypdfium2) at the same target box. Rendering runs in a
  child process with a time and memory limit, so a "PDF bomb" is refused with a clear error instead of taking
  the player down; absurd page sizes are refused before rendering.
* Derived files are cached by (source hash, target box): ``ContentCache.put_derived(sha, "screen:WxH", ...)``.
  :func:`build_resolver` maps each reference to the derived file when there is one.

No Qt in here.
"""

from __future__ import annotations

import contextlib
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

from PIL import Image, ImageOps

from player.cache import ContentCache, InvalidHashError
from player.content import MediaResolver
from player.model import ImageItem, Screen

log = logging.getLogger(__name__)

__all__ = ["MediaResolver", "PrepareError", "Prepared", "build_resolver", "prepare_files", "target_boxes",
           "variant_for"]

MAX_PIXELS = 64_000_000  # same limit as the UI decoder: larger pictures are refused as decompression bombs
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


def sniff_kind(path: Path) -> str:
    """"pdf", "image" or "other", by the first bytes of the file."""
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if b"%PDF-" in head:
        return "pdf"
    return "image" if head else "other"


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
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise PrepareError(f"refused as a decompression bomb: {w}x{h} pixels is more than the "
                                   f"{MAX_PIXELS} allowed; scale it down before publishing")
            orientation = img.getexif().get(0x0112, 1)
            ow, oh = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
            tw, th = _cover_size(ow, oh, box)
            if (tw, th) == (ow, oh) and orientation in (1, None):
                return None
            if img.format == "JPEG":  # decode at 1/2, 1/4, 1/8 scale where that still covers the target
                img.draft("RGB", (th, tw) if orientation in (5, 6, 7, 8) else (tw, th))
            img.load()
            out = ImageOps.exif_transpose(img)
            has_alpha = out.mode in ("RGBA", "LA", "PA") or (out.mode == "P" and "transparency" in out.info)
            out = out.convert("RGBA" if has_alpha else "RGB")
            if out.size != (tw, th):
                out = out.resize((tw, th), Image.Resampling.LANCZOS)
    except PrepareError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PrepareError(f"refused as a decompression bomb ({exc})") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise PrepareError(f"cannot decode the picture ({exc})") from None
    return _save(out, out_dir, has_alpha)


def _save(img: Image.Image, out_dir: Path, alpha: bool) -> Path:
    import tempfile

    fd, name = tempfile.mkstemp(dir=out_dir, suffix=".png" if alpha else ".jpg")
    os.close(fd)
    if alpha:
        img.save(name, "PNG", optimize=False, compress_level=3)
    else:
        img.save(name, "JPEG", quality=JPEG_QUALITY)
    return Path(name)


def render_pdf(src: Path, box: tuple[int, int], out_dir: Path,
               timeout: float = PDF_RENDER_TIMEOUT_S, memory_bytes: int = PDF_RENDER_MEMORY_BYTES) -> Path:
    """The first page of a PDF as a picture covering *box*, rendered in a child process with limits."""
    import tempfile

    fd, name = tempfile.mkstemp(dir=out_dir, suffix=".png")
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
        if proc.returncode < 0 or "MemoryError" in msg or "bad_alloc" in msg:
            msg = (f"PDF refused: rendering the first page needs more than {memory_bytes // 2**20} MB "
                   "(a 'PDF bomb'?); simplify or re-export it")
        raise PrepareError(msg.removeprefix("PrepareError: "))
    return out


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
    else:
        raise PrepareError("the file is empty")
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
            continue
        except (OSError, InvalidHashError) as exc:
            result.refused[ref] = f"'{ref}': cannot prepare ({exc})"
            continue
        if derived is not None:
            result.derived[ref] = derived
            if before is None:
                result.created += 1
    return result


def build_resolver(cache: ContentCache, screen: Screen, files: Mapping[str, str],
                   snapshot_id: str | None = None) -> MediaResolver:
    """Map every reference to its derived file (when prepared), else the cached original; a PDF without a rendered
    page and a missing file map to None. Disk I/O: call it off the GUI thread."""
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
                if sniff_kind(cache.path_of(sha)) == "pdf":
                    paths[ref] = None
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
