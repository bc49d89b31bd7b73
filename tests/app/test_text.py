"""`ui.text.inert`: outside text reaches Markdown with nothing left to interpret."""

import re
import string

from hypothesis import given
from hypothesis import strategies as st

from ui.text import WORD_JOINER, inert

HOSTILE = "![a](http://127.0.0.1:9/p.png) [Call dispatch](http://127.0.0.1:9/x) <img src=x> :red[hi] $x$"


def _unescape(markdown: str) -> str:
    """What a Markdown renderer's text nodes hold once escapes are undone."""
    return re.sub(r"\\([" + re.escape(string.punctuation) + "])", r"\1", markdown)


def test_every_punctuation_character_is_escaped_so_no_link_or_image_can_start():
    shown = inert(HOSTILE)
    assert re.search(r"(?<!\\)[\[\]()!<>:$]", shown) is None
    assert _unescape(shown).replace(WORD_JOINER, "") == HOSTILE


def test_bare_urls_and_addresses_are_broken_where_autolinks_would_find_them():
    # GFM links bare URLs and e-mail addresses in the text left after escapes are undone
    text = _unescape(inert("go to http://127.0.0.1:9/x or HTTPS://a.b, www.evil.com, mail me@evil.com"))
    assert re.search(r"(?i)https?://|www\.|\w@", text) is None


def test_line_breaks_are_folded_so_a_value_cannot_open_a_block():
    assert inert("ok\n# heading\r\n> quote") == r"ok \# heading \> quote"


@given(st.text())
def test_unescaping_gives_back_the_text_with_line_breaks_folded(text):
    assert _unescape(inert(text)).replace(WORD_JOINER, "") == re.sub(r"[\r\n\u2028\u2029]+", " ", text)
