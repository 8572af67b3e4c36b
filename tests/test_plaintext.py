"""plain_text(): hub HTML -> plain text, checked against the standard library's HTML parser.

The player reads nh3's output by splitting at the tags (player/feeds/plaintext.py says why); the reference here
reads the same sanitised output with html.parser. Both must agree on hand-picked hostile input and on a few
thousand random fragments built from tags, entities, quotes and stray brackets.
"""

from __future__ import annotations

import random
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nh3
import pytest

from player.feeds import plaintext
from player.feeds.plaintext import plain_text


class _Reference(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[list[str]] = [[]]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in plaintext._BLOCK_TAGS and self.blocks[-1]:
            self.blocks.append([])

    def handle_data(self, data: str) -> None:
        self.blocks[-1].append(data)


def _reference_pass(html: str) -> list[str]:
    cleaned = nh3.clean(html, tags=plaintext._BLOCK_TAGS, clean_content_tags=plaintext._DROP_CONTENT,
                        attributes={}, link_rel=None, strip_comments=True)
    parser = _Reference()
    parser.feed(cleaned)
    parser.close()
    out = []
    for block in parser.blocks:
        text = " ".join("".join(ch if ch.isprintable() else " " for ch in "".join(block)).split())
        if text:
            out.append(text)
    return out


def _reference(html: str, paragraphs: bool = True) -> str:
    parts = _reference_pass(html)
    joined = "\n".join(parts)
    if "<" in joined and ">" in joined:
        parts = _reference_pass(joined)
    return "\n".join(parts) if paragraphs else " ".join(parts)


HOSTILE = [
    "<p>Der Weihnachtsmarkt ist bis 22&nbsp;Uhr ge&ouml;ffnet.</p><p>Stra&szlig;enbahn: 15-Minuten-Takt.</p>",
    "a &amp; b &lt;c&gt; &quot;q&quot; &#39;s&#39; &auml;&Auml;&szlig; &euro; &#x1F600; &copy; &amp;amp;",
    "<p title='x\"&lt;y&gt;' lang=de>Titel</p><div class=\"a>b\">Block</div>",
    "&lt;script&gt;alert(1)&lt;/script&gt;sichtbar",
    "&amp;lt;b&amp;gt;doppelt&amp;lt;/b&amp;gt;",
    "<script>alert(1)</script><style>p{}</style>Text<!-- Kommentar -->weiter",
    "a < b > c & d <<>> <3 ->",
    "<ul><li>eins<li>zwei</ul><br/>drei<hr>vier",
    "<b>fett</b> und <i>kursiv</i> <a href='javascript:x'>Link</a>",
    "Zeile\u2028Trenner\u00a0und\ttab\x00null",
    "<p>&nbsp;</p><p>  </p><p>x</p>",
    "<table><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr></table>",
]


@pytest.mark.parametrize("html", HOSTILE)
def test_hostile_input_matches_the_html_parser(html: str) -> None:
    assert plain_text(html, paragraphs=True) == _reference(html)
    assert plain_text(html) == _reference(html, paragraphs=False)


def test_random_fragments_match_the_html_parser() -> None:
    pieces = ["<p>", "</p>", "<br>", "<br/>", "<div title='a>b'>", "</div>", "<li>", "<b>", "</b>", "<script>",
              "</script>", "<!--", "-->", "&amp;", "&lt;", "&gt;", "&nbsp;", "&quot;", "&auml;", "&#60;", "&#x3e;",
              "&amp;lt;", "&", "<", ">", "\"", "'", " ", "\n", "Ä", "ß", "Text", "x", "<h1>", "</h1>", "<hr>",
              "<p lang=\"de\" title=\"&quot;<>\">", "<![CDATA[c]]>", "<img src=x onerror=y>"]
    rnd = random.Random(20261128)
    for _ in range(3000):
        html = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 25)))
        assert plain_text(html, paragraphs=True) == _reference(html), html


def test_reading_html_does_not_load_the_standard_html_parser() -> None:
    probe = ("import sys\nfrom player.feeds.plaintext import plain_text\n"
             "print(repr(plain_text('<p>a &amp; b</p><p>c</p>', paragraphs=True)))\n"
             "print(sorted(m for m in sys.modules if m == 'html' or m.startswith('html.')))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent).stdout.splitlines()
    assert out == ["'a & b\\nc'", "[]"]
