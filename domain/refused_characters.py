"""The characters no text of the blog may hold, found in one pass (domain/rules.py `plain`).

- C0 and C1 controls (NUL, ANSI escapes...): PostgreSQL's text cannot hold NUL, and a
  terminal or a log takes the others for commands.
- Bidirectional embeddings, overrides and isolates (U+202A-E, U+2066-9): text that
  displays other than it reads ("Trojan Source"). The marks (U+200E/F, U+061C) stay:
  Arabic and Hebrew text needs them, and they reorder nothing but neutral characters.
- Lone surrogates: no UTF-8 encodes them.
- Noncharacters (U+FDD0-FDEF and the last two code points of every plane): Unicode keeps
  them for a program's own use, never for interchange.
- Unicode tag characters (U+E0000-E007F): invisible copies of ASCII
  (domain/visibility.py), except, where `flags` allows, inside the flags of England,
  Scotland and Wales.

One-line text (titles, names, command ids) holds no tab, newline, carriage return or
Unicode line separator either.
"""

from __future__ import annotations

import re

from domain.visibility import FLAGS, TAG_CHARACTERS

_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_LINE_BREAKS = "\t\n\r\u2028\u2029"
_NONCHARACTERS_BMP = "\ufdd0-\ufdef\ufffe\uffff"
_NONCHARACTERS_ASTRAL = "".join(
    f"{chr(plane + 0xFFFE)}{chr(plane + 0xFFFF)}" for plane in range(0x10000, 0x110000, 0x10000)
)
NONCHARACTER = re.compile(f"[{_NONCHARACTERS_BMP}{_NONCHARACTERS_ASTRAL}]")


class _Search:
    """Every refused character is below U+10000, or from U+1FFFE on (tag characters and
    the astral noncharacters; emoji are below). `first` is a class of the BMP ones and
    that one astral range, which `re` checks as fast as the BMP class alone: 100,000
    characters of ASCII took 3 ms, where `full`, with the sixteen pairs of astral
    noncharacters, took 30-40. Only a text holding a character from U+1FFFE on (CJK
    extension B and later, tags, private use) is searched again with `full`, from there."""

    def __init__(self, allowed_breaks: bool) -> None:
        bmp = _CONTROLS + ("" if allowed_breaks else _LINE_BREAKS) + _NONCHARACTERS_BMP
        self.first = re.compile(f"[{bmp}\U0001fffe-\U0010ffff]")
        self.full = re.compile(f"[{bmp}{_NONCHARACTERS_ASTRAL}\U000e0000-\U000e007f]")

    def __call__(self, text: str) -> str | None:
        found = self.first.search(text)
        if found is not None and found.group() > "\uffff":
            found = self.full.search(text, found.start())
        return None if found is None else found.group()


_IN_TEXT = _Search(allowed_breaks=True)
_IN_LINE = _Search(allowed_breaks=False)


def first_refused(text: str, *, one_line: bool, flags: bool) -> str | None:
    """The first character of `text` it must not hold, or None. With `flags`, the tag
    characters of the three flags are allowed."""
    search = _IN_LINE if one_line else _IN_TEXT
    found = search(text)
    if found is not None and flags and TAG_CHARACTERS.match(found):
        found = search(FLAGS.sub("", text))
    return found
