"""Which characters of a text a reader cannot see, and which hide text (domain/rules.py
applies them to names, titles and comments; domain/refused_characters.py refuses the
tag characters).

A title of two zero-width spaces, a name of one Hangul filler, or "Alice" followed by a
zero-width space (beside the real "Alice") all render as blank or as someone else.
Unicode tag characters (U+E0000-E007F) render as nothing at all, yet carry a copy of
ASCII: "a" followed by U+E0041 reads "aA" to a program (a search, a language model) and
"a" to a person. Their one visible use is the emoji tag sequence, and the only ones
vendors draw (the RGI set of UTS #51) are the flags of England, Scotland and Wales.
"""

from __future__ import annotations

import re
import unicodedata

ZERO_WIDTH_NON_JOINER = "\u200c"  # Persian and Indic words: letters kept apart
ZERO_WIDTH_JOINER = "\u200d"  # emoji sequences (👩‍💻), Indic conjuncts
JOINERS = frozenset((ZERO_WIDTH_NON_JOINER, ZERO_WIDTH_JOINER))

# Default_Ignorable_Code_Point characters that are not format characters (Cf) - the
# combining grapheme joiner, the Hangul fillers, the Khmer inherent vowels, the
# variation selectors, reserved ignorables - and U+2800 BRAILLE PATTERN BLANK, a glyph
# drawn empty: each renders as nothing where it stands alone.
_BLANK = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180d\u180f\u2800\u3164\ufe00-\ufe0f\uffa0"
    "\ufff0-\ufff8\U000e0000-\U000e0fff]"
)
_VISIBLE_ASCII = re.compile("[!-~]")
VARIATION_SELECTORS = re.compile("[\u180b-\u180d\u180f\ufe00-\ufe0f\U000e0100-\U000e01ef]")

TAG_CHARACTERS = re.compile("[\U000e0000-\U000e007f]")


def _flag(region: str) -> str:
    """The emoji tag sequence of a subdivision flag: a black flag, the region's letters as
    tag characters, and CANCEL TAG."""
    return "\U0001f3f4" + "".join(chr(0xE0000 + ord(letter)) for letter in region) + "\U000e007f"


FLAGS = re.compile("|".join(_flag(region) for region in ("gbeng", "gbsct", "gbwls")))


def invisible(char: str) -> bool:
    """Whether `char` renders as nothing, or as blank: whitespace, a format character
    (Cf: zero-width spaces and joiners, bidi marks, the byte order mark, tag
    characters), a variation selector or another blank."""
    return char.isspace() or unicodedata.category(char) == "Cf" or _BLANK.match(char) is not None


def has_visible(text: str) -> bool:
    # A printable ASCII character answers at once, without a look-up per character.
    return _VISIBLE_ASCII.search(text) is not None or not all(invisible(c) for c in text)


def stray_invisible(text: str) -> str | None:
    """The first invisible character of a name that is neither a space nor a joining mark
    where it belongs, or None. A zero-width joiner or non-joiner stands between two
    characters that are not whitespace or format characters (👩‍💻, ❤️‍🔥, می‌خواهم); a
    variation selector right after a visible character (❤️). Anything else invisible
    (a zero-width space, a bidi mark, a Hangul filler) only makes a name look like
    another, or like nothing."""
    if text.isprintable() and _BLANK.search(text) is None:
        return None  # no format character (none is printable), no space but U+0020
    for index, char in enumerate(text):
        if char.isspace() or not invisible(char):
            continue
        before = text[index - 1] if index > 0 else " "
        after = text[index + 1] if index + 1 < len(text) else " "
        if char in JOINERS and not _space_or_format(before) and not _space_or_format(after):
            continue
        if VARIATION_SELECTORS.match(char) and not invisible(before):
            continue
        return char
    return None


def _space_or_format(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) == "Cf"
