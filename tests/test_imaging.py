"""Pictures decoded for a zone (player/ui/imaging.py): EXIF orientation, modes, the three fits, pixels where they
belong. The picture is decoded on a worker thread in the player; here it is called directly."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageOps, ImageStat
from PySide6.QtGui import QColor, QImage

from player.model import Fit
from player.picture import load_upright, stored_box
from player.ui import imaging
from player.ui.imaging import decode_for_zone, reduce_to
from screens import photo_like

RED, BLUE = (220, 20, 20), (20, 20, 220)


def halves(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue."""
    img = Image.new("RGB", size, RED)
    img.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    return img.convert(mode) if mode != "RGB" else img


def near(color: QColor, rgb: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip((color.red(), color.green(), color.blue()), rgb, strict=True))


def save_jpeg(path: Path, img: Image.Image, orientation: int | None = None) -> Path:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    img.save(path, "JPEG", quality=95, exif=exif.tobytes())
    return path


def test_exif_orientation_turns_the_picture_upright(tmp_path: Path) -> None:
    """Stored landscape with orientation 6 (turn 90° clockwise to view): shown portrait, the left half on top."""
    path = save_jpeg(tmp_path / "phone.jpg", halves((400, 200)), orientation=6)
    out = decode_for_zone(path, 200, 400, Fit.CONTAIN)
    assert (out.width(), out.height()) == (200, 400)
    assert near(out.pixelColor(100, 60), RED) and near(out.pixelColor(100, 340), BLUE)


def test_without_orientation_the_picture_stays_as_stored(tmp_path: Path) -> None:
    path = save_jpeg(tmp_path / "plain.jpg", halves((400, 200)))
    out = decode_for_zone(path, 400, 200, Fit.CONTAIN)
    assert (out.width(), out.height()) == (400, 200)
    assert near(out.pixelColor(60, 100), RED) and near(out.pixelColor(340, 100), BLUE)


@pytest.mark.parametrize(("fit", "size"), [(Fit.CONTAIN, (300, 150)), (Fit.COVER, (300, 300)),
                                           (Fit.STRETCH, (300, 300))])
def test_each_fit_gives_its_size(tmp_path: Path, fit: Fit, size: tuple[int, int]) -> None:
    path = tmp_path / "wide.png"
    halves((800, 400)).save(path)
    out = decode_for_zone(path, 300, 300, fit)
    assert (out.width(), out.height()) == size
    assert near(out.pixelColor(5, size[1] // 2), RED) and near(out.pixelColor(size[0] - 5, size[1] // 2), BLUE)


def test_a_picture_already_the_zone_size_keeps_its_pixels(tmp_path: Path) -> None:
    path = tmp_path / "exact.png"
    halves((320, 180)).save(path)
    for fit in (Fit.CONTAIN, Fit.COVER, Fit.STRETCH):
        out = decode_for_zone(path, 320, 180, fit)
        assert (out.width(), out.height()) == (320, 180)
        assert out.pixelColor(159, 90).getRgb()[:3] == RED and out.pixelColor(160, 90).getRgb()[:3] == BLUE


def test_transparency_is_kept_and_other_modes_become_rgb(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    rgba.paste((*RED, 255), (0, 0, 50, 100))
    rgba.save(tmp_path / "logo.png")
    out = decode_for_zone(tmp_path / "logo.png", 100, 100, Fit.CONTAIN)
    assert out.format() == QImage.Format.Format_RGBA8888
    assert out.pixelColor(25, 50).alpha() == 255 and out.pixelColor(75, 50).alpha() == 0

    palette = halves((100, 100)).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    palette.info["transparency"] = palette.getpixel((90, 50))
    palette.save(tmp_path / "palette.png", transparency=palette.getpixel((90, 50)))
    out = decode_for_zone(tmp_path / "palette.png", 100, 100, Fit.CONTAIN)
    assert out.format() == QImage.Format.Format_RGBA8888 and out.pixelColor(90, 50).alpha() == 0

    for name, mode in (("grey.png", "L"), ("print.jpg", "CMYK")):
        buf = io.BytesIO()
        halves((100, 100), mode).save(buf, "PNG" if name.endswith("png") else "JPEG")
        (tmp_path / name).write_bytes(buf.getvalue())
        out = decode_for_zone(tmp_path / name, 100, 100, Fit.CONTAIN)
        assert out.format() == QImage.Format.Format_RGB888, name
        assert out.pixelColor(20, 50) != out.pixelColor(80, 50), name


@pytest.mark.parametrize(("orientation", "expected"), [(1, (400, 100)), (None, (400, 100)), (3, (400, 100)),
                                                       (6, (100, 400)), (8, (100, 400)), (5, (100, 400))])
def test_a_turned_jpeg_is_reduced_against_the_zone_turned_the_same_way(orientation: object,
                                                                       expected: tuple[int, int]) -> None:
    assert stored_box(reduce_to(400, 100), orientation) == expected


def test_a_large_jpeg_for_a_cover_zone_is_decoded_reduced_and_looks_the_same(tmp_path: Path, monkeypatch) -> None:
    """A 3200x2400 photo for a 1200x700 zone (cover): libjpeg decodes it at half size (1600x1200, both sides still
    larger than the zone), not at full size as when ``cover`` kept twice the zone; what the zone shows differs from
    the full decode by little (mean difference at most 2 of 255 per channel)."""
    path = tmp_path / "photo.jpg"
    photo_like((3200, 2400)).save(path, "JPEG", quality=90)
    decoded: list[tuple[int, int]] = []

    def recording(img: Image.Image, keep: tuple[int, int]) -> Image.Image:
        out = load_upright(img, keep)
        decoded.append(out.size)
        return out

    monkeypatch.setattr(imaging, "load_upright", recording)
    out = decode_for_zone(path, 1200, 700, Fit.COVER)
    assert decoded == [(1600, 1200)]
    shown = Image.frombuffer("RGB", (out.width(), out.height()), bytes(out.constBits()), "raw", "RGB",
                             out.bytesPerLine(), 1)
    with Image.open(path) as full:
        reference = ImageOps.fit(full.convert("RGB"), (1200, 700), Image.Resampling.LANCZOS)
    diff = ImageStat.Stat(ImageChops.difference(shown, reference)).mean
    assert max(diff) <= 2.0, diff


def test_a_turned_photo_for_a_wide_zone_is_not_decoded_too_small(tmp_path: Path) -> None:
    """Stored 3200x1200, orientation 6 (shown 1200x3200), for an 800x200 banner (cover): reduced against the zone
    as stored, libjpeg would decode it at 800x300, shown 300 wide, and the picture would be enlarged to 800."""
    img = halves((3200, 1200))
    path = save_jpeg(tmp_path / "upright.jpg", img, orientation=6)
    with Image.open(path) as probe:
        probe.draft("RGB", stored_box(reduce_to(800, 200), 6))
        assert probe.size[1] >= 800  # the shown width (stored height) still covers the zone
    out = decode_for_zone(path, 800, 200, Fit.COVER)
    assert (out.width(), out.height()) == (800, 200)
