"""Built-in screens: the setup screen (a screen not configured yet) and the error screen (content unusable).

A passer-by never sees a blank screen or a stack trace; staff see what to do. Texts come from ``player.texts``."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QWidget

from player.texts import text
from player.ui.items import fit_font


@dataclass
class SetupInfo:
    screen_name: str = ""
    screen_id: str = ""
    hub_url: str = ""
    network: str = ""  # e.g. "verbunden", "kein Netz"
    last_contact: str = ""
    progress: tuple[int, int] | None = None  # files done, files total
    progress_bytes: tuple[int, int] | None = None  # bytes done, bytes total (when the sizes are known)
    detail: str = ""
    lines: list[str] = field(default_factory=list)


class MessageScreen(QWidget):
    """Title, lines, optional QR code and progress bar, in the city's colours. Scales with the window."""

    def __init__(self, parent: QWidget, branding: dict[str, str], locale: str = "de-DE"):
        super().__init__(parent)
        self.branding = branding
        self.language = locale  # "de-DE"...; not self.locale, which would hide QWidget.locale()
        self.title = ""
        self.lines: list[str] = []
        self.qr_data: str | None = None
        self.progress: tuple[int, int] | None = None  # what the bar shows: (done, total) in bytes, else in files
        self._qr: list[list[bool]] | None = None
        self._qr_for: str | None = None

    def show_error(self, lines: list[str]) -> None:
        self.title = text("error_title", self.language)
        self.lines = [text("error_hint", self.language), ""] + lines[:8] + (
            [text("more_problems", self.language, n=len(lines) - 8)] if len(lines) > 8 else [])
        self.qr_data = None
        self._qr = self._qr_for = None
        self.progress = None
        self.update()

    def show_setup(self, info: SetupInfo) -> None:
        self.title = text("setup_title", self.language)
        lines = [text("setup_name", self.language, name=info.screen_name or "–"),
                 text("setup_id", self.language, id=info.screen_id or "–")]
        if info.hub_url:
            lines.append(text("setup_hub", self.language, url=info.hub_url))
        if info.network:
            lines.append(text("setup_network", self.language, state=info.network))
        if info.last_contact:
            lines.append(text("setup_contact", self.language, when=info.last_contact))
        if info.detail:
            lines.append(info.detail)
        self.lines = lines + info.lines
        self.qr_data = info.screen_id or None
        if not self.qr_data:
            self._qr = None
        elif self.qr_data != self._qr_for:  # progress updates come often: encode the id once
            from player.ui.qr import (
                qr_matrix,  # preloaded off the GUI thread (ContentController) before setup shows
            )

            self._qr = qr_matrix(self.qr_data)
        self._qr_for = self.qr_data if self._qr is not None else None
        self.progress = info.progress_bytes if info.progress_bytes and info.progress_bytes[1] > 0 else info.progress
        self.update()

    def layout_rects(self) -> dict[str, QRect]:
        """Where the parts go (also read by tests): ``title`` and ``body`` text, ``qr`` code, progress ``bar``.
        Landscape: the QR code right of the text; portrait: below it, so the text keeps the full width."""
        w, h = self.width(), self.height()
        bar_h = max(8, h // 90)
        margin = max(16, w // 24)
        portrait = h > w
        qr_side = 0
        if self._qr:
            n = len(self._qr) + 8  # 4 modules of quiet zone on each side
            module = max(1, (min(w // 2, h // 4) if portrait else min(w // 4, h // 2)) // n)
            qr_side = module * n
        bottom = h - margin - (bar_h * 4 if self.progress else 0)
        rects: dict[str, QRect] = {}
        if qr_side and portrait:
            rects["qr"] = QRect((w - qr_side) // 2, bottom - qr_side, qr_side, qr_side)
            bottom -= qr_side + margin
        elif qr_side:
            rects["qr"] = QRect(w - margin - qr_side, margin + bar_h, qr_side, qr_side)
        text_w = w - 2 * margin - (qr_side + margin if qr_side and not portrait else 0)
        rects["title"] = QRect(margin, margin + bar_h, text_w, h // 5)
        rects["body"] = QRect(margin, margin + bar_h, text_w, max(10, bottom - margin - bar_h))  # top set in paint
        if self.progress:
            rects["bar"] = QRect(margin, h - margin - bar_h * 3, w - 2 * margin, bar_h * 2)
        return rects

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        p = QPainter(self)
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), QColor(self.branding.get("background", "#0b2540")))
        bar_h = max(8, h // 90)
        p.fillRect(0, 0, w, bar_h, QColor(self.branding.get("accent", "#ffcc00")))
        family = self.branding.get("font_family", "DejaVu Sans")
        margin = max(16, w // 24)
        rects = self.layout_rects()
        title_font = QFont(family)
        title_font.setBold(True)
        title_font.setPixelSize(max(14, min(h, w) // 14))
        flags = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap)
        title_rect = rects["title"]
        title_font = fit_font(title_font, self.title, title_rect, flags)
        p.setFont(title_font)
        p.setPen(QColor(self.branding.get("text", "#ffffff")))
        p.drawText(title_rect, flags, self.title)
        body_top = title_rect.top() + QFontMetrics(title_font).boundingRect(title_rect, flags, self.title).height() + margin // 2
        body_rect = QRect(rects["body"])
        body_rect.setTop(body_top)
        body_rect.setHeight(max(10, rects["body"].bottom() - body_top))
        body_font = QFont(family)
        body_font.setPixelSize(max(12, min(h // 30, w // 26)))
        body = "\n".join(self.lines)
        body_font = fit_font(body_font, body, body_rect, flags, min_px=10)
        p.setFont(body_font)
        p.drawText(body_rect, flags, body)
        if self._qr and "qr" in rects:
            qr = rects["qr"]
            module = qr.width() // (len(self._qr) + 8)
            p.fillRect(qr, QColor("#ffffff"))
            for r, row in enumerate(self._qr):
                for c, dark in enumerate(row):
                    if dark:
                        p.fillRect(qr.left() + (c + 4) * module, qr.top() + (r + 4) * module, module, module,
                                   QColor("#000000"))
        if self.progress and "bar" in rects:
            done, total = self.progress
            pb = rects["bar"]
            p.fillRect(pb, QColor(255, 255, 255, 40))
            if total > 0:
                p.fillRect(QRect(pb.left(), pb.top(), int(pb.width() * min(1.0, max(0, done) / total)), pb.height()),
                           QColor(self.branding.get("accent", "#ffcc00")))
        p.end()
