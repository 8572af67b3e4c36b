"""The `empty` widget: a calm neutral tile (also shown for widget kinds this installation cannot render)."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QFontMetrics, QPainter
from PySide6.QtWidgets import QWidget

from player.model import WidgetItem
from player.ui.items import ItemView, RenderContext
from player.ui.widgets.base import CENTER, Canvas, TextRun, color_option, wrap_lines


class EmptyTile(ItemView):
    """A neutral tile; option `text` (plain) shows one short centred line, `background` its colour."""

    item: WidgetItem

    def __init__(self, item: WidgetItem, ctx: RenderContext, parent: QWidget, message: str = ""):
        super().__init__(item, ctx, parent)
        text = (item.options or {}).get("text")
        self.message = text if isinstance(text, str) else message
        self.runs: list[TextRun] = []

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), color_option(self.item.options or {}, "background", "#12ffffff"))
        self.runs = []
        if self.message:
            font = p.font()
            font.setFamily(self.ctx.font_family)
            font.setPixelSize(max(10, min(self.height() // 8, self.ctx.px(32))))
            metrics = QFontMetrics(font)
            pad = self.ctx.px(16)
            width = max(1, self.width() - 2 * pad)
            lines = wrap_lines(self.message, metrics, width, max(1, (self.height() - 2 * pad) // metrics.height()))
            y = (self.height() - len(lines) * metrics.height()) // 2
            canvas = Canvas(p, self.runs)
            for line in lines:
                canvas.line(QRect(pad, y, width, metrics.height()), line, font, QColor(255, 255, 255, 160), CENTER)
                y += metrics.height()
        p.end()
