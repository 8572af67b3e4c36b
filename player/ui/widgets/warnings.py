"""Official warnings (NINA): WarningBanner (one strip, e.g. an overlay) and WarningScreen (the full text).

The `warnings` widget picks the form by option `style` ("banner", "screen") or, by default, by the zone's shape
(a flat strip is a banner). Option `min_severity` hides milder warnings; `warning_id` pins one warning (used by the
generated overlay/interrupt layouts).
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QRect, QRectF
from PySide6.QtGui import QColor, QFontMetrics

from player.feeds.warnings import SEVERITY_RANK, PublicWarning, Warnings
from player.ui.widgets.base import LEFT, RIGHT, Canvas, LiveWidget, local_hhmm, readable_on, wrap_lines
from player.ui.widgets.icons import draw_warning_triangle

SEVERITY_COLORS = {"Extreme": "#7a0a2e", "Severe": "#c62828", "Moderate": "#e8650a", "Minor": "#f5c518",
                   "Unknown": "#5f6a72"}


def severity_color(severity: str) -> QColor:
    return QColor(SEVERITY_COLORS.get(severity, SEVERITY_COLORS["Unknown"]))


class WarningView(LiveWidget):
    value_types = (Warnings,)

    def shown(self, now: datetime) -> list[PublicWarning]:
        value = self.value
        if value is None:
            return []
        floor = SEVERITY_RANK.get(str(self.options.get("min_severity", "Unknown")), 0)
        pinned = self.options.get("warning_id")
        out = []
        for w in value.items[:200]:
            if w.rank < floor or (w.expires is not None and w.expires < now):
                continue
            if isinstance(pinned, str) and pinned and w.id != pinned:
                continue
            out.append(w)
        return out

    def is_banner(self) -> bool:
        style = self.options.get("style")
        if style in ("banner", "screen"):
            return style == "banner"
        cw, ch = self.canvas_size()
        return ch <= 260 or cw >= 3.2 * ch

    def next_change(self, now: datetime) -> datetime | None:
        soonest = super().next_change(now)
        for w in self.shown(now):
            if w.expires is not None and w.expires > now and (soonest is None or w.expires < soonest):
                soonest = w.expires
        return soonest

    def paint_content(self, c: Canvas, now: datetime) -> None:
        warnings = self.shown(now)
        if self.is_banner():
            self._banner(c, warnings, now)
        else:
            self._screen(c, warnings, now)

    def footer_text(self, w: PublicWarning) -> str:
        parts = []
        if w.expires is not None:
            parts.append(self.t("warnings_until", time=local_hhmm(w.expires, self.ctx)))
        if w.provider:
            parts.append(self.t("warnings_source", provider=w.provider))
        return " · ".join(parts)

    # ---------------------------------------------------------------------------------------------- banner
    def _banner(self, c: Canvas, warnings: list[PublicWarning], now: datetime) -> None:
        h = self.height()
        if not warnings:
            u = max(8, min(round(h * 0.3), self.unit()))
            self.placeholder(c, self.rect().adjusted(self.padding(u), 0, -self.padding(u), 0),
                             self.t("warnings_empty"), u)
            return
        w = warnings[0]
        bg = severity_color(w.severity)
        c.p.fillRect(self.rect(), bg)
        fg = readable_on(bg)
        pad = max(self.ctx.px(12), round(h * 0.12))
        inner = self.rect().adjusted(pad, pad // 2, -pad, -pad // 2)
        icon_side = min(inner.height(), round(h * 0.7))
        mark = bg if fg.lightness() > 128 else QColor("#ffffff")
        draw_warning_triangle(c.p, QRectF(inner.left(), inner.top() + (inner.height() - icon_side) / 2,
                                          icon_side, icon_side), fg, mark)
        x = inner.left() + icon_side + round(pad * 0.8)
        text_w = inner.right() + 1 - x
        more = self.t("warnings_more", n=len(warnings) - 1) if len(warnings) > 1 else ""
        stale = self.stale_text(now)
        small = self.sized_font(max(8, round(inner.height() * 0.24)))
        right_text = "  ".join(t for t in (more, stale) if t)
        if right_text:
            rw = min(text_w // 3, QFontMetrics(small).horizontalAdvance(right_text) + 2)
            c.line(QRect(inner.right() + 1 - rw, inner.top(), rw, inner.height() // 2), right_text, small, fg, RIGHT)
            head_w = text_w - rw - round(pad * 0.5)
        else:
            head_w = text_w
        head_font = self.sized_font(max(8, round(inner.height() * 0.4)), bold=True)
        hm = QFontMetrics(head_font)
        c.line(QRect(x, inner.top(), head_w, hm.height()), w.headline, head_font, fg, LEFT)
        detail = w.description.split("\n")[0] if w.description else ""
        second = " · ".join(t for t in (detail, self.footer_text(w)) if t)
        if second:
            sub = self.sized_font(max(8, round(inner.height() * 0.27)))
            sm = QFontMetrics(sub)
            y = inner.top() + hm.height()
            if y + sm.height() <= inner.bottom() + 1:
                c.line(QRect(x, y, text_w, sm.height()), second, sub, fg, LEFT)

    # ---------------------------------------------------------------------------------------------- screen
    def _screen(self, c: Canvas, warnings: list[PublicWarning], now: datetime) -> None:
        u = self.unit(rows_hint=13, cols_hint=13, lo=18, hi=64)
        if not warnings:
            rect = self.content_rect(u)
            top = rect.top() + self.header(c, rect, self.t("warnings_title"), now, u)
            self.placeholder(c, QRect(rect.left(), top, rect.width(), rect.bottom() + 1 - top),
                             self.t("warnings_empty"), u)
            return
        w = warnings[0]
        bg = severity_color(w.severity)
        fg = readable_on(bg)
        pad = self.padding(u)
        band_font = self.sized_font(0.95 * u, bold=True)
        band_h = round(QFontMetrics(band_font).height() * 1.9)
        band = QRect(0, 0, self.width(), band_h)
        c.p.fillRect(band, bg)
        if self.options.get("background") is None:
            shade = QColor(bg).darker(320)
            c.p.fillRect(QRect(0, band_h, self.width(), self.height() - band_h), shade)
        icon_side = round(band_h * 0.62)
        mark = bg if fg.lightness() > 128 else QColor("#ffffff")
        draw_warning_triangle(c.p, QRectF(pad, (band_h - icon_side) / 2, icon_side, icon_side), fg, mark)
        known = w.severity if w.severity in SEVERITY_RANK else "Unknown"
        label = " · ".join(t for t in (self.t("severity_" + known), w.provider) if t)
        stale = self.stale_text(now)
        lx = pad + icon_side + round(0.5 * u)
        label_w = self.width() - pad - lx
        if stale:
            small = self.sized_font(0.7 * u)
            sw = min(label_w // 2, QFontMetrics(small).horizontalAdvance(stale) + 2)
            c.line(QRect(self.width() - pad - sw, 0, sw, band_h), stale, small, fg, RIGHT)
            label_w -= sw + round(0.4 * u)
        c.line(QRect(lx, 0, label_w, band_h), label, band_font, fg)
        body = QRect(pad, band_h + round(0.6 * u), self.width() - 2 * pad, self.height() - band_h - round(1.2 * u))
        white = QColor("#ffffff")
        footer = self.footer_text(w)
        more = self.t("warnings_more", n=len(warnings) - 1) if len(warnings) > 1 else ""
        foot_text = " · ".join(t for t in (footer, more) if t)
        foot_font = self.sized_font(0.72 * u)
        fm = QFontMetrics(foot_font)
        foot_h = fm.height() if foot_text else 0
        avail_bottom = body.bottom() + 1 - foot_h
        y = body.top()
        head_font = self.sized_font(1.35 * u, bold=True)
        y += c.wrapped(QRect(body.left(), y, body.width(), max(0, avail_bottom - y)), w.headline, head_font, white, 4)
        y += round(0.5 * u)
        text_font = self.sized_font(0.92 * u)
        tm = QFontMetrics(text_font)
        instruction_lines = 0
        if w.instruction:
            instruction_lines = min(4, len(wrap_lines(w.instruction, tm, body.width(), 4)))
        reserve = (instruction_lines + 1) * tm.height() + round(0.4 * u) if instruction_lines else 0
        if w.description:
            room = max(0, avail_bottom - y - reserve)
            y += c.wrapped(QRect(body.left(), y, body.width(), room), w.description, text_font, QColor(230, 230, 230), 12)
            y += round(0.4 * u)
        if instruction_lines and y + 2 * tm.height() <= avail_bottom:
            c.line(QRect(body.left(), y, body.width(), tm.height()), self.t("warnings_instruction"),
                   self.sized_font(0.92 * u, bold=True), bg.lighter(150) if bg.lightness() < 100 else bg)
            y += tm.height()
            y += c.wrapped(QRect(body.left(), y, body.width(), max(0, avail_bottom - y)), w.instruction, text_font,
                           white, 4)
        if foot_text:
            c.line(QRect(body.left(), body.bottom() + 1 - foot_h, body.width(), foot_h), foot_text, foot_font,
                   QColor(255, 255, 255, 190))


class WarningBanner(WarningView):
    """Always the strip form (the generated overlay uses it)."""

    def is_banner(self) -> bool:
        return True


class WarningScreen(WarningView):
    """Always the full form (the generated interrupt uses it)."""

    def is_banner(self) -> bool:
        return False
