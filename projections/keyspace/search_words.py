"""The words a text is filed under in the search index (`Keys.search_word`): the search
projector indexes a post under them and a search query looks them up, so both sides split
text here, the same way."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+")  # runs of letters and digits, in any script
MIN_WORD = 2


def words(*texts: str) -> list[str]:
    """Lower case, split on anything that is not a letter or digit, drop words under 2
    characters; each word once, in order of first appearance."""
    found = (word for text in texts for word in _WORD.findall(text.lower()))
    return list(dict.fromkeys(word for word in found if len(word) >= MIN_WORD))
