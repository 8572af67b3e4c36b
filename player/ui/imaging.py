"""Image decoding for the screen: Pillow on a worker thread, scaled to the zone, EXIF orientation applied.

Returns a QImage (safe to create off the GUI thread, unlike QPixmap)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps
from PySide6.QtGui import QImage

from player.model import Fit

MAX_PIXELS = 64_000_000  # 8000x8000; anything larger is refused as a likely decompression bomb
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class ImageError(Exception):
    pass


def decode_for_zone(path: Path, width: int, height: int, fit: Fit) -> QImage:
    """Decodes ``path`` and scales it for a zone of ``width`` x ``height`` device pixels.

    ``contain``: the result is at most the zone size, aspect kept (the view centres it);
    ``cover``: exactly the zone size, cropped centrally; ``stretch``: exactly the zone size.

    Every full-size copy costs a Pi time and memory, so there are as few as the steps need: the orientation is
    applied in place, the mode converted only when it differs, and each intermediate picture is let go as soon as
    the next exists (measured in docs/performance.md)."""
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageError(f"{path.name}: refused as a decompression bomb: {w}x{h} pixels is more than the "
                                 f"{MAX_PIXELS} allowed; scale it down before publishing")
            if img.format == "JPEG":  # let libjpeg decode at 1/2, 1/4, 1/8 scale: much faster on a Pi
                img.draft("RGB", draft_request(width, height, fit, img.getexif().get(0x0112, 1)))
            img.load()
            ImageOps.exif_transpose(img, in_place=True)
            out = img
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{path.name}: refused as a decompression bomb: more than {MAX_PIXELS} pixels ({exc})") from None
    except (OSError, ValueError, SyntaxError, AttributeError) as exc:  # AttributeError: Pillow 10 on some TIFFs
        raise ImageError(f"{path.name}: cannot decode image: {exc}") from None
    del img
    has_alpha = out.mode in ("RGBA", "LA", "PA") or (out.mode == "P" and "transparency" in out.info)
    mode = "RGBA" if has_alpha else "RGB"
    if out.mode != mode:
        out = out.convert(mode)
    if fit == Fit.STRETCH:
        if out.size != (width, height):
            out = out.resize((width, height), Image.Resampling.LANCZOS)
    elif fit == Fit.COVER:
        out = ImageOps.fit(out, (width, height), Image.Resampling.LANCZOS)
    else:
        scale = min(width / out.width, height / out.height)
        size = (max(1, round(out.width * scale)), max(1, round(out.height * scale)))
        if size != out.size:
            out = out.resize(size, Image.Resampling.LANCZOS)
    fmt, bpp = _qt_format(out)
    data, w, h = out.tobytes(), out.width, out.height
    del out  # the Pillow picture goes before Qt's copy is made
    return QImage(data, w, h, w * bpp, fmt).copy()  # own the pixels: ``data`` goes away with this frame


def draft_request(width: int, height: int, fit: Fit, orientation: object) -> tuple[int, int]:
    """The size a JPEG must at least keep when libjpeg decodes it reduced, in the picture's stored orientation.

    A picture stored turned (EXIF orientation 5-8: phones held upright) is reduced against the zone turned the
    same way; otherwise a wide zone could get a picture decoded too small and then enlarged, and an upright zone
    one decoded larger than needed. ``cover`` keeps twice the zone size, so the final scaling has room."""
    w, h = (max(width, 1), max(height, 1)) if fit != Fit.COVER else (width * 2, height * 2)
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _qt_format(img: Image.Image) -> tuple[QImage.Format, int]:
    if img.mode == "RGBA":
        return QImage.Format.Format_RGBA8888, 4
    if img.mode != "RGB":
        raise ValueError(f"no QImage format for mode {img.mode}")
    return QImage.Format.Format_RGB888, 3

