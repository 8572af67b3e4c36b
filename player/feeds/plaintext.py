"""HTML from the hub (press releases, event descriptions, titles) -> safe plain text.

The sanitising is done by nh3 (bindings to the maintained Rust sanitizer ammonia): it removes every tag
except a few block tags (kept only so paragraphs do not glue together), all attributes, comments, and the
content of script/style. What is left is serialised by ammonia in a known, narrow form: the only tags are those
block tags (so every tag ends a paragraph), and text escapes exactly four characters (``&amp;`` ``&lt;`` ``&gt;``
``&nbsp;``; ``&quot;`` only inside attributes, which are cut off with their tag). That form is read by splitting at
``<``/``>`` and undoing the four escapes, which costs about 0.6 MB less than the standard library's HTML parser
(its ``html.entities`` table alone is 2,231 names). Whitespace is normalised. No regular expressions touch HTML here.

The result is plain text: widgets must still render it as plain text (Qt.PlainText), never as rich text.
"""

from __future__ import annotations

import nh3

from player.feeds.fields import cap_text

_BLOCK_TAGS = {"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
               "blockquote", "pre", "hr", "section", "article", "dd", "dt"}
_DROP_CONTENT = {"script", "style", "noscript", "iframe", "object", "embed", "template", "svg", "math",
                 "title", "head"}
_MAX_INPUT = 200_000  # characters of HTML looked at; the rest is ignored


_ESCAPES = (("&lt;", "<"), ("&gt;", ">"), ("&nbsp;", "\u00a0"), ("&amp;", "&"))  # "&amp;" last: one level


def _unescape(text: str) -> str:
    if "&" in text:
        for escaped, char in _ESCAPES:
            text = text.replace(escaped, char)
    return text


def _blocks(cleaned: str) -> list[str]:
    """The text between the tags of ammonia's output, one entry per stretch (every tag left is a block tag)."""
    first, *rest = cleaned.split("<")  # a "<" in text is escaped, and tags have no attributes
    return [_unescape(first)] + [_unescape(chunk.partition(">")[2]) for chunk in rest]


def _no_attribute(tag: str, attribute: str, value: str) -> None:
    return None  # also the generic ones ammonia would keep (lang, title): tags come out bare


def _one_pass(html: str) -> list[str]:
    cleaned = nh3.clean(html, tags=_BLOCK_TAGS, clean_content_tags=_DROP_CONTENT,
                        attributes={}, attribute_filter=_no_attribute, link_rel=None, strip_comments=True)
    paragraphs = []
    for block in _blocks(cleaned):
        text = "".join(ch if ch.isprintable() else " " for ch in block)
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
