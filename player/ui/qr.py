"""QR code items, loaded on first use (see ``LAZY_VIEWS`` in player/ui/items.py).

The encoder is python-qrcode: importing it costs about 2 MB, against about 10 MB for segno, whose writers module
pulls in urllib.request, http.client, e-mail and TLS (measured, docs/performance.md). It is imported with Pillow's
ImageDraw left out: only python-qrcode's styled drawers want it (the package goes on without them when it cannot be
imported), it brings FreeType along (1.5 MB resident), and the player draws the modules with Qt."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFontMetrics, QPainter
from PySide6.QtWidgets import QWidget

from player.memory import import_leaving_out
from player.model import QrItem
from player.ui.items import VIEW_FACTORIES, ItemView, RenderContext, fit_font, qcolor

qrcode = import_leaving_out("qrcode", "PIL.ImageDraw")


def qr_matrix(data: str) -> list[list[bool]]:
    """Dark modules of the QR code for ``data`` (error correction M, smallest version that fits), row by row,
    without the quiet zone. Text goes in as UTF-8 bytes. Raises ValueError when it cannot be encoded."""
    try:
        payload = data.encode("utf-8")
    except UnicodeError as exc:
        raise ValueError(f"the data cannot be encoded as UTF-8: {exc}") from None
    code = qrcode.QRCode(error_correction=qrcode.ERROR_CORRECT_M, border=0, box_size=1)
    code.add_data(payload)
    try:
        code.make(fit=True)
    except (qrcode.exceptions.DataOverflowError, ValueError):  # no version up to 40 holds it ("was 41 ...")
        raise ValueError(f"too much data for any QR code size ({len(payload)} bytes)") from None
    return [[bool(dark) for dark in row] for row in code.get_matrix()]


class QrView(ItemView):
    item: QrItem

    def __init__(self, item: QrItem, ctx: RenderContext, parent: QWidget):
        super().__init__(item, ctx, parent)
        self._problem = ""
        try:
            self._matrix = qr_matrix(item.data)
        except ValueError as exc:
            self._matrix = []
            self._problem = f"QR code: {exc}"

    def prepare(self) -> None:
        if self._problem:
            self.failed.emit(self._problem)  # the zone logs it once and skips the item
            return
        super().prepare()

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), qcolor(self.item.background))
        style = self.item.style
        caption_h = 0
        if self.item.caption:
            font = self.ctx.font(style)
            caption_h = QFontMetrics(font).height() * 2
        n = len(self._matrix) + 8  # quiet zone of 4 modules on each side
        side = min(self.width(), self.height() - caption_h)
        module = max(1, side // n)
        size = module * n
        left = (self.width() - size) // 2
        top = max(0, (self.height() - caption_h - size) // 2)
        fg = qcolor(self.item.foreground)
        for r, row in enumerate(self._matrix):
            for c, dark in enumerate(row):
                if dark:
                    p.fillRect(left + (c + 4) * module, top + (r + 4) * module, module, module, fg)
        if self.item.caption:
            rect = QRect(0, top + size, self.width(), caption_h)
            flags = int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap)
            p.setFont(fit_font(self.ctx.font(style), self.item.caption, rect, flags))
            p.setPen(qcolor(style.color))
            p.drawText(rect, flags, self.item.caption)
        p.end()


VIEW_FACTORIES["qr"] = QrView  # type: ignore[assignment]
