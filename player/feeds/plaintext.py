"""HTML from the hub (press releases, event descriptions, titles) -> safe plain text.

The sanitising is done by nh3 (bindings to the maintained Rust sanitizer ammonia): it removes every tag
except a few block tags (kept only so paragraphs do not glue together), all attributes, comments, and the
content of script/style. What is left is read with the standard library's HTML parser, which unescapes
entities; whitespace is normalised. No regular expressions touch HTML here.

The result is plain text: widgets must still render it as plain text (Qt.PlainText), never as rich text.
"""

from __future__ import annotations

from html.parser import HTMLParser

import nh3

from player.feeds.fields import cap_text

_BLOCK_TAGS = {"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
               "blockquote", "pre", "hr", "section", "article", "dd", "dt"}
_DROP_CONTENT = {"script", "style", "noscript", "iframe", "object", "embed", "template", "svg", "math",
                 "title", "head"}
_MAX_INPUT = 200_000  # characters of HTML looked at; the rest is ignored


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[list[str]] = [[]]

    def _break(self) -> None:
        if self.blocks[-1]:
            self.blocks.append([])

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self._break()

    def handle_data(self, data: str) -> None:
        self.blocks[-1].append(data)


def _one_pass(html: str) -> list[str]:
    cleaned = nh3.clean(html, tags=_BLOCK_TAGS, clean_content_tags=_DROP_CONTENT,
                        attributes={}, link_rel=None, strip_comments=True)
    collector = _TextCollector()
    collector.feed(cleaned)
    collector.close()
    paragraphs = []
    for block in collector.blocks:
        text = "".join(ch if ch.isprintable() else " " for ch in "".join(block))
        text = " ".join(text.split())
        if text:
            paragraphs.append(text)
    return paragraphs


def plain_text(html: object, max_chars: int = 2000, *, paragraphs: bool = False) -> str:
    """Reduce *html* to plain text. Single line unless *paragraphs* (then blocks are joined with newlines).

    Non-strings give "". Entity-escaped markup ("&lt;b&gt;") is unescaped once and sanitised again, so a
    double-escaped tag never reaches the screen as a tag.
    """
    if not isinstance(html, str) or not html:
        return ""
    parts = _one_pass(html[:_MAX_INPUT])
    joined = "\n".join(parts)
    if "<" in joined and ">" in joined:
        parts = _one_pass(joined)
    text = "\n".join(parts) if paragraphs else " ".join(parts)
    return cap_text(text, max_chars)
