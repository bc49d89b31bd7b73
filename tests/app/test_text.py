"""`ui.text.inert`: outside text reaches Markdown with nothing left to interpret."""

import re
import string

from hypothesis import given
from hypothesis import strategies as st

from ui.text import inert

HOSTILE = "![a](http://127.0.0.1:9/p.png) [Call dispatch](http://127.0.0.1:9/x) <img src=x> :red[hi] $x$"


def _unescape(markdown: str) -> str:
    return re.sub(r"\\([" + re.escape(string.punctuation) + "])", r"\1", markdown)


def test_every_punctuation_character_is_escaped_so_no_link_or_image_can_start():
    shown = inert(HOSTILE)
    assert re.search(r"(?<!\\)[\[\]()!<>:$]", shown) is None
    assert _unescape(shown) == HOSTILE


def test_line_breaks_are_folded_so_a_value_cannot_open_a_block():
    assert inert("ok\n# heading\r\n> quote") == r"ok \# heading \> quote"


@given(st.text())
def test_unescaping_gives_back_the_text_with_line_breaks_folded(text):
    assert _unescape(inert(text)) == re.sub(r"[\r\n\u2028\u2029]+", " ", text)
