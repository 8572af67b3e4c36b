"""PlaceList ("pois") and PlaceMap ("map"): the hub's points of interest near the screen.

PlaceList: nearest first, name and street, distance and walking minutes. PlaceMap: an overview drawn here, north up,
"Sie sind hier" in the middle, rings at a round distance, numbered dots where the places are, and the numbered
names beside or below. It is not a street map: that would need map tiles from a tile server, downloaded and kept
offline; the overview needs nothing but the POI positions the hub already has.
"""

from __future__ import annotations

import math
from datetime import datetime

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPen

from player.feeds.places import Place, Places
from player.ui.widgets.base import CENTER, LEFT, RIGHT, Canvas, LiveWidget, format_number

RING_STEPS_M = (100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000)


def distance_text(metres: float, locale: str = "de-DE") -> str:
    """350 m, 1,2 km (de) / 1.2 km (en); rounded as a passer-by needs it."""
    if metres < 1000:
        return f"{max(10, round(metres / 10) * 10)} m"
    return f"{format_number(metres / 1000, locale, 1)} km"


def ring_step(farthest_m: float) -> int:
    """The round distance for the rings: the farthest place lies within two rings."""
    for step in RING_STEPS_M:
        if farthest_m <= 2 * step:
            return step
    return RING_STEPS_M[-1]


class PlaceList(LiveWidget):
    value_types = (Places,)

    def places(self) -> tuple[Place, ...]:
        value = self.value
        return value.places if isinstance(value, Places) else ()

    def paint_content(self, c: Canvas, now: datetime) -> None:
        u, body = self.titled(c, now, "places_title")
        places = self.places()
        if not places:
            self.placeholder(c, body, self.t("places_empty"), u)
            return
        self.rows(c, body, places, u, numbered=False)

    def rows(self, c: Canvas, body: QRect, places: tuple[Place, ...], u: int, numbered: bool) -> int:
        """As many rows as fit; returns how many were drawn."""
        name_font, meta_font = self.sized_font(u, bold=True), self.sized_font(0.72 * u)
        dist_font = self.sized_font(0.9 * u, bold=True)
        nm, mm, dm = QFontMetrics(name_font), QFontMetrics(meta_font), QFontMetrics(dist_font)
        locale = self.ctx.locale
        walk_key = "places_walk" if body.width() >= 22 * u else "places_walk_short"  # "5 Min. zu Fuß" / "5 Min."
        dist_w = max(dm.horizontalAdvance("8,8 km"), QFontMetrics(meta_font).horizontalAdvance(
            self.t(walk_key, minutes=88))) + round(0.5 * u)
        num_w = nm.horizontalAdvance("88") + round(0.4 * u) if numbered else 0
        row_h = nm.height() + mm.height() + round(0.35 * u)
        narrow = body.width() - dist_w - num_w < 7 * u
        if narrow:
            dist_w = 0
        y = body.top()
        drawn = 0
        for i, place in enumerate(places):
            if y + row_h > body.bottom() + 1:
                break
            x = body.left()
            if numbered:
                c.line(QRect(x, y, num_w, nm.height()), str(i + 1), name_font, self.accent, LEFT)
                x += num_w
            text_w = body.right() + 1 - x - dist_w
            c.line(QRect(x, y, text_w, nm.height()), place.name, name_font, self.fg)
            meta = " · ".join(p for p in (place.place, place.category) if p)
            if narrow:  # distance first on the second line, the place after it
                meta = " · ".join(p for p in (distance_text(place.distance_m, locale), meta) if p)
            c.line(QRect(x, y + nm.height(), text_w, mm.height()), meta, meta_font, self.muted)
            if not narrow:
                right = QRect(body.right() + 1 - dist_w, y, dist_w, nm.height())
                c.line(right, distance_text(place.distance_m, locale), dist_font, self.accent, RIGHT)
                c.line(QRect(right.left(), y + nm.height(), dist_w, mm.height()),
                       self.t(walk_key, minutes=place.walk_min), meta_font, self.muted, RIGHT)
            y += row_h
            drawn += 1
        return drawn


class PlaceMap(PlaceList):
    """The overview: north up, the screen in the middle, the places as numbered dots, a legend."""

    def paint_content(self, c: Canvas, now: datetime) -> None:
        u, body = self.titled(c, now, "map_title", rows_hint=16, cols_hint=18, lo=16, hi=44)
        if not isinstance(self.value, Places):
            self.placeholder(c, body, self.t("places_empty"), u)
            return
        places = self.places()
        gap = round(0.6 * u)
        if body.width() >= body.height() * 1.3:  # landscape: map left, legend right
            side = min(body.height(), body.width() // 2)
            plot = QRect(body.left(), body.top(), side, side)
            legend = QRect(plot.right() + 1 + gap, body.top(), body.right() - plot.right() - gap, body.height())
        else:  # portrait or square: map on top, legend below
            side = min(body.width(), round(body.height() * 0.6))
            plot = QRect(body.left() + (body.width() - side) // 2, body.top(), side, side)
            legend = QRect(body.left(), plot.bottom() + 1 + gap, body.width(), body.bottom() - plot.bottom() - gap)
        # the legend a little smaller than a list of its own: the names need the room next to the overview
        shown = self.rows(c, legend, places, max(8, round(0.82 * u)), numbered=True) if legend.height() > 0 else 0
        self.plot(c, plot, places[:max(shown, 0)], u)

    def plot(self, c: Canvas, area: QRect, places: tuple[Place, ...], u: int) -> None:
        p: QPainter = c.p
        small = self.sized_font(0.62 * u)
        sm = QFontMetrics(small)
        margin = sm.height() + round(0.2 * u)  # room for the N and the ring label inside the square
        radius = max(4.0, area.width() / 2 - margin)
        centre = QPointF(area.center().x() + 0.5, area.center().y() + 0.5)
        farthest = max((pl.distance_m for pl in places), default=100.0)
        step = ring_step(farthest)
        scale = radius / (2 * step)  # px per metre: two rings fit the radius
        ring = QColor(self.fg)
        ring.setAlphaF(0.28)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(ring, max(1, round(0.06 * u))))
        for k in (1, 2):
            r = step * k * scale
            p.drawEllipse(centre, r, r)
        labelled = area.width() >= 9 * u  # a thumbnail-sized overview gets its dots, not its labels
        label = distance_text(step * 2, self.ctx.locale)
        if labelled:
            c.line(QRect(round(centre.x() + radius * 0.72), round(centre.y() + radius * 0.72),
                       max(1, area.right() - round(centre.x() + radius * 0.72)), sm.height()), label, small,
                   self.muted)
            c.line(QRect(round(centre.x() - u), area.top(), 2 * u, sm.height()), self.t("map_north"),
                   self.sized_font(0.62 * u, bold=True), self.fg, CENTER)
        # the places: numbered dots (drawn far to near, so the nearest is on top)
        dot = max(6.0, 0.55 * u)
        badge_font = self.sized_font(0.5 * u, bold=True)
        for i in sorted(range(len(places)), key=lambda k: -places[k].distance_m):
            pl = places[i]
            r = min(radius, pl.distance_m * scale)
            angle = math.radians(pl.bearing_deg)
            at = QPointF(centre.x() + r * math.sin(angle), centre.y() - r * math.cos(angle))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(self.accent)
            p.drawEllipse(at, dot, dot)
            # the number is part of the marker (like an icon), drawn directly: markers may touch on a map
            p.setFont(badge_font)
            p.setPen(QColor("#000000"))
            p.drawText(QRectF(at.x() - dot, at.y() - dot, 2 * dot, 2 * dot), int(CENTER), str(i + 1))
        # the screen itself
        p.setPen(QPen(QColor(self.fg), max(2, round(0.12 * u))))
        p.setBrush(self.alert)
        here = max(5.0, 0.4 * u)
        p.drawEllipse(centre, here, here)
        p.setBrush(Qt.BrushStyle.NoBrush)
        if not labelled:
            return
        here_font = self.sized_font(0.62 * u, bold=True)
        text_w = min(area.width(), QFontMetrics(here_font).horizontalAdvance(self.t("map_here")) + 4)
        below = QRectF(centre.x() - text_w / 2, centre.y() + here + 2, text_w, sm.height()).toRect()
        shade = QColor("#000000")
        shade.setAlphaF(0.55)
        self.draw_box(p, below.adjusted(-3, 0, 3, 0), shade, 0.2 * u)  # readable over markers and rings
        c.line(below, self.t("map_here"), here_font, self.fg, CENTER)
