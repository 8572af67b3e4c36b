"""Image decoding for the screen: Pillow on a worker thread, scaled to the zone, EXIF orientation applied.

Returns a QImage (safe to create off the GUI thread, unlike QPixmap)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from PIL import Image, ImageOps
from PySide6.QtGui import QImage

from player.model import Fit
from player.picture import MAX_PIXELS, load_upright, too_large


class ImageError(Exception):
    pass


def decode_for_zone(path: Path, width: int, height: int, fit: Fit) -> QImage:
    """Decodes ``path`` and scales it for a zone of ``width`` x ``height`` device pixels.

    ``contain``: the result is at most the zone size, aspect kept (the view centres it);
    ``cover``: exactly the zone size, cropped centrally; ``stretch``: exactly the zone size.
    Each intermediate picture is let go as soon as the next exists (see player/picture.py)."""
    try:
        # a FIFO (possible on a share) would block the decoder for ever; checked here and Pillow given the path:
        # given an open file instead, the player measured 0.6 MB more RSS on a static picture (A/B, 2026-11-29)
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        with Image.open(path) as img:
            if problem := too_large(img.size):
                raise ImageError(f"{path.name}: {problem}")
            out = load_upright(img, reduce_to(width, height))
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{path.name}: refused as a decompression bomb: more than {MAX_PIXELS} pixels ({exc})") from None
    except (OSError, ValueError, SyntaxError, AttributeError) as exc:  # AttributeError: Pillow 10 on some TIFFs
        raise ImageError(f"{path.name}: cannot decode image: {exc}") from None
    del img
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
    fmt, bpp = ((QImage.Format.Format_RGBA8888, 4) if out.mode == "RGBA"  # load_upright gives RGB or RGBA
                else (QImage.Format.Format_RGB888, 3))
    data, w, h = out.tobytes(), out.width, out.height
    del out  # the Pillow picture goes before Qt's copy is made
    return QImage(data, w, h, w * bpp, fmt).copy()  # own the pixels: ``data`` goes away with this frame


def reduce_to(width: int, height: int) -> tuple[int, int]:
    """The size (as shown) a JPEG must keep when libjpeg decodes it reduced: the zone, for every fit.

    libjpeg reduces by 1/2, 1/4 or 1/8 only while both sides stay at least this size, so ``cover`` still only crops
    and shrinks afterwards (bench/decode.py: time, memory and the difference against twice the zone)."""
    return max(width, 1), max(height, 1)
