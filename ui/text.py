"""Text that came from outside (an import, a driver, a customer) shown as text, never as markup.

Streamlit renders Markdown, its own directives (`:red[...]`, `:material/icon:`), LaTeX between
`$` and bare-URL autolinks in `st.markdown`, `st.caption`, `st.info`, labels and friends, and
`html.escape` does not stop any of it: `![a](http://host/p.png)` becomes an image the viewer's
browser fetches. `inert()` backslash-escapes every ASCII punctuation character (CommonMark lets
each be escaped), which leaves nothing for a link, image, emphasis, directive or entity to start
from, and folds line breaks so a value cannot open a block of its own. Bare URLs and e-mail
addresses are linked after escapes are undone (GFM's autolink literals, checked in a browser),
so an invisible word joiner (U+2060) goes before a scheme's `:`, after `www` and before `@`.
Wrap every outside string with it before it goes into a Markdown-rendering element; tables and
`st.text` show text as text already.
"""

from __future__ import annotations

import re
import string

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")
_AUTOLINK_STARTS = re.compile(r"(?i)(?<=[a-z])(?=:)|(?<=www)(?=\.)|(?=@)")
WORD_JOINER = "\u2060"


def inert(value: object) -> str:
    """`value` as a string that Markdown renders exactly as typed: no link, image or markup."""
    text = _LINE_BREAKS.sub(" ", "" if value is None else str(value))
    return _PUNCTUATION.sub(r"\\\1", _AUTOLINK_STARTS.sub(WORD_JOINER, text))
