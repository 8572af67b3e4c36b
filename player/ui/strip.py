"""A line of text that repeats along a ticker's strip, drawn on demand in narrow pixmaps (chunks).

The tickers (``TickerView``, ``NewsTicker``) used to draw their whole text once into one pixmap as wide as the text:
5,801 x 80 px (1.8 MB) for the demo's ticker line, and 50 press titles of up to 16,000 px each could need hundreds
of MB. Here the text is measured once and split into pieces at spaces; a chunk of :data:`CHUNK_PX` pixels is drawn
when the strip first shows it, from the pieces that reach into it, and only the last few chunks are kept. A ticker
moved by scrolling paints only the newly exposed column at each step, so it needs the chunk at its right edge and
the next one: its pixmaps stay at a few hundred kB whatever the length of the text. A translucent ticker repaints
its whole width at each step and keeps the chunks for its width.

Text with right-to-left script (or bidi controls) is kept as one piece: placing words left to right one by one would
reverse the order Qt's bidi algorithm gives a whole right-to-left line. Line and paragraph breaks, tabs and the other
control whitespace become spaces first: a strip is one line, and a tab or a carriage return is measured differently
from how it is drawn (a piece holding one left a gap or ran into the next).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Sequence

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPixmap

CHUNK_PX = 256
PIECE_CHARS = 24  # words are gathered into pieces of about this many characters
_ALIGN = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignAbsolute
             | Qt.TextFlag.TextDontClip)
# Hebrew, Arabic, Syriac, Thaana, NKo, Samaritan, Mandaic, their presentation forms, the RTL scripts beyond the BMP,
# and the bidi marks, embeddings, overrides and isolates (U+200F, U+202A-U+202E, U+2066-U+2069)
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff\U00010800-\U00010fff\U0001e800-\U0001efff"
                  "\u200f\u202a-\u202e\u2066-\u2069]")
# whitespace that is not a plain or no-break space: tab, line and paragraph breaks, vertical tab, form feed, the
# information separators, NEL
_BREAKS = re.compile("[\t\n\v\f\r\x1c-\x1f\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with every tab, line or paragraph break (and the like) made a space; other spaces stay as they are."""
    return _BREAKS.sub(" ", text)


def pieces(text: str) -> list[str]:
    """``text`` cut after spaces into pieces of about :data:`PIECE_CHARS` characters (a longer word stays whole);
    right-to-left text stays whole. Joined, the pieces give ``text`` back."""
    if len(text) <= PIECE_CHARS or _RTL.search(text):
        return [text] if text else []
    out: list[str] = []
    start = 0
    while start < len(text):
        cut = text.find(" ", start + PIECE_CHARS - 1)
        end = len(text) if cut < 0 else cut + 1
        out.append(text[start:end])
        start = end
    return out


class TextStrip:
    """``texts`` one after another in ``font`` and ``color`` on a strip ``height`` px high, repeating every
    :attr:`width` px, each made one line (:func:`one_line`). ``background`` None leaves the strip transparent. At most
    ``keep`` chunks are kept."""

    def __init__(self, texts: Sequence[str], font: QFont, color: QColor, height: int,
                 background: QColor | None = None, keep: int = 3):
        metrics = QFontMetricsF(font)
        self.font, self.color, self.background = QFont(font), QColor(color), background
        self.height = max(1, height)
        self.keep = max(2, keep)
        # where each piece starts and how wide it is, unrounded: a glyph lands on the pixel it would have in the line
        # drawn whole
        self._x: list[float] = []
        self._w: list[float] = []
        self._text: list[str] = []
        x = 0.0
        for text in texts:
            for piece in pieces(one_line(text)):
                w = metrics.horizontalAdvance(piece)
                self._x.append(x)
                self._w.append(w)
                self._text.append(piece)
                x += w
        self.width = round(x)  # the strip repeats every this many whole pixels
        self._longest = max(self._w, default=0.0)
        self._pad = metrics.height()  # glyphs may reach beyond their advance (italics, antialiasing)
        self._chunks: OrderedDict[int, QPixmap] = OrderedDict()
        self.drawn = 0  # chunks drawn so far (for tests)

    @property
    def texts(self) -> list[str]:
        """The pieces in order (joined: the strip's text)."""
        return list(self._text)

    def cached_px(self) -> int:
        """Pixel columns held in chunks now."""
        return sum(c.width() for c in self._chunks.values())

    def _chunk(self, k: int) -> QPixmap:
        chunk = self._chunks.get(k)
        if chunk is not None:
            self._chunks.move_to_end(k)
            return chunk
        x0 = k * CHUNK_PX
        width = min(CHUNK_PX, self.width - x0)
        chunk = QPixmap(width, self.height)
        chunk.fill(self.background if self.background is not None else QColor(0, 0, 0, 0))
        p = QPainter(chunk)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        p.setFont(self.font)
        p.setPen(self.color)
        # the pieces that reach into [x0 - pad, x0 + width + pad): starts are sorted, a piece is at most _longest wide
        i = bisect_left(self._x, x0 - self._pad - self._longest)
        while i < len(self._x) and self._x[i] < x0 + width + self._pad:
            if self._x[i] + self._w[i] + self._pad > x0:
                p.drawText(QRectF(self._x[i] - x0, 0, self._w[i], self.height), _ALIGN, self._text[i])
            i += 1
        p.end()
        self._chunks[k] = chunk
        self.drawn += 1
        while len(self._chunks) > self.keep:
            self._chunks.popitem(last=False)
        return chunk

    def paint(self, p: QPainter, x: int, left: int, right: int) -> None:
        """Paints the columns ``left`` to ``right`` (exclusive) of a widget on which the strip starts at ``x`` and
        repeats in both directions."""
        if self.width <= 0 or right <= left:
            return
        s = (left - x) % self.width  # the strip's column shown at `left`
        pos = left
        while pos < right:
            k = s // CHUNK_PX
            x0 = k * CHUNK_PX
            chunk = self._chunk(k)
            take = min(x0 + chunk.width() - s, right - pos)
            p.drawPixmap(pos, 0, chunk, s - x0, 0, take, self.height)
            pos += take
            s += take
            if s >= self.width:
                s = 0
