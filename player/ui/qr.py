"""QR code items, loaded on first use (see ``LAZY_VIEWS`` in player/ui/items.py): the encoder, segno, imports
urllib and TLS, which a screen without QR codes should not carry in memory."""

from __future__ import annotations

import segno
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFontMetrics, QPainter
from PySide6.QtWidgets import QWidget

from player.model import QrItem
from player.ui.items import VIEW_FACTORIES, ItemView, RenderContext, fit_font, qcolor


def qr_matrix(data: str) -> list[list[bool]]:
    """Dark modules of the QR code for ``data`` (error correction M, no micro codes), row by row."""
    return [[bool(dark) for dark in row] for row in segno.make(data, error="m", micro=False).matrix]


class QrView(ItemView):
    item: QrItem

    def __init__(self, item: QrItem, ctx: RenderContext, parent: QWidget):
        super().__init__(item, ctx, parent)
        self._matrix = qr_matrix(item.data)

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
