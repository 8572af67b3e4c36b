"""Pillow steps shared by the screen's decoder (player/ui/imaging.py, on a worker thread) and preparation at sync
time (player/prepare.py): the size limit, EXIF orientation, a JPEG decoded reduced by libjpeg, the pixel mode.

Every full-size copy costs a Pi time and memory, so there are only as many as the steps need: the orientation is
applied in place and the mode converted only when it differs (measured in docs/performance.md). No Qt here."""

from __future__ import annotations

from PIL import Image, ImageOps

from player.memory import import_with_stand_ins, refusing_module

# Pillow's JPEG plugin imports subprocess (with selectors, signal and their enums) for load_djpeg() alone, which runs
# the djpeg program and which the player never calls: it gets a stand-in (as APScheduler, player/feeds/scheduling.py).
import_with_stand_ins("PIL", ["PIL.JpegImagePlugin"], {"subprocess": refusing_module("subprocess", "djpeg decoding")})

MAX_PIXELS = 64_000_000  # 8000x8000; anything larger is refused as a likely decompression bomb
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
TURNED = (5, 6, 7, 8)  # EXIF orientations stored on their side (phones held upright): width and height swap


def too_large(size: tuple[int, int]) -> str | None:
    """The one-line reason to refuse a picture of *size* pixels, or None."""
    w, h = size
    if w * h <= MAX_PIXELS:
        return None
    return (f"refused as a decompression bomb: {w}x{h} pixels is more than the {MAX_PIXELS} allowed; scale it "
            "down before publishing")


def orientation(img: Image.Image) -> object:
    return img.getexif().get(0x0112, 1)


def stored_box(box: tuple[int, int], turn: object) -> tuple[int, int]:
    """*box* (width, height as shown) in the picture's stored orientation."""
    return (box[1], box[0]) if turn in TURNED else box


def load_upright(img: Image.Image, keep: tuple[int, int]) -> Image.Image:
    """*img* (opened, not loaded yet) decoded and turned upright, in RGB or RGBA (RGBA when it has transparency).

    A JPEG is decoded at 1/2, 1/4 or 1/8 of its size by libjpeg (much faster on a Pi) where that still keeps at
    least *keep* (width, height as shown); a picture stored on its side is reduced against *keep* turned the same
    way, else a wide zone could get it too small and enlarged, an upright zone larger than needed."""
    if img.format == "JPEG":
        img.draft("RGB", stored_box(keep, orientation(img)))
    img.load()
    ImageOps.exif_transpose(img, in_place=True)
    alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    mode = "RGBA" if alpha else "RGB"
    return img if img.mode == mode else img.convert(mode)
