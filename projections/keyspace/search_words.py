"""The words a text is filed under in the search index (`Keys.search_word`): the search
projector indexes a post under them, a search query looks them up, and the search-words
budget (schema/write_costs.py) counts them, so all three split text here, the same way.

A word is found however it was typed. Invisible characters (a zero-width space, a soft
hyphen, a bidi control) neither split a word nor stay in it; a combining accent or an
Indic vowel sign belongs to the letter before it; and each word is folded, so that
fullwidth "CQRS", "CQRS" and "cqrs" are one word, and so are "Straße" and "strasse",
"ﬁle" and "file", "café" with a precomposed "é" and with "e" and a combining accent.
"""

from __future__ import annotations

import re
import unicodedata

from projections.keyspace.unicode_ranges import (
    COMBINING_MARKS,
    FORMAT_CHARACTERS,
    VARIATION_SELECTORS,
    Ranges,
    char_class,
)

MIN_WORD = 2
# A longer word is filed under its first MAX_WORD characters, folded, and so is a query's:
# a query of the whole word finds it. One word of 100,000 "ﷲ" (each "الله" folded) was a
# key of 400,000 characters and a member of the post's set as long: 1.8 MB of Redis for
# one createPost, counted as one word by the search-words budget.
MAX_WORD = 200


def _below_and_above(ranges: Ranges) -> tuple[str, str]:
    """The insides of two [...] classes: the code points of `ranges` below U+10000, and
    those above. `re` checks the first kind at once (a bitmap), the second range by
    range: with every mark in one class, splitting 10,000 characters of ASCII words took
    3 times as long. Behind `_ASTRAL`, the second class is tried only up there."""
    below = char_class(tuple(r for r in ranges if r[1] <= 0xFFFF))
    above = char_class(tuple(r for r in ranges if r[0] > 0xFFFF))
    return below, above


_ASTRAL = r"(?=[\U00010000-\U0010FFFF])"
_MARKS, _ASTRAL_MARKS = _below_and_above(COMBINING_MARKS)
_INVISIBLES, _ASTRAL_INVISIBLES = _below_and_above(FORMAT_CHARACTERS + VARIATION_SELECTORS)

# Runs of letters, digits, marks and invisible characters, as typed.
_TYPED = re.compile(
    f"(?:[\\w{_MARKS}{_INVISIBLES}]+|{_ASTRAL}[{_ASTRAL_MARKS}{_ASTRAL_INVISIBLES}]+)++"
)
_INVISIBLE = re.compile(f"[{_INVISIBLES}]+|{_ASTRAL}[{_ASTRAL_INVISIBLES}]+")
_INVISIBLE_OR_ASTRAL = re.compile(f"[{_INVISIBLES}\\U00010000-\\U0010FFFF]")
# Split on, not kept: "_" (`\w` takes it, a word does not) and the two ligatures that
# stand for whole phrases, U+FDFA and U+FDFB. Folded, they are 4 and 2 words (U+FDFA
# 18 characters): 100,000 of them, the most a post holds, took 260 ms to split (10 ms
# as separators). As typed, one alone was never a word (under 2 characters).
_SEPARATOR = re.compile("[_\ufdfa\ufdfb]")
# A letter or digit, then letters, digits and marks.
_WORD = re.compile(f"[^\\W_](?:[\\w{_MARKS}]+|{_ASTRAL}[{_ASTRAL_MARKS}]+)*+")
_ASCII_WORD = re.compile("[a-z0-9]+")


def words(*texts: str) -> list[str]:
    """The folded words of `texts` of at least 2 characters, cut to MAX_WORD, each once,
    in order of first appearance. Text splits at anything that is not a letter, digit or
    mark; invisible characters are taken out, and each word is folded."""
    found = (word for text in texts for word in _split(text))
    return list(dict.fromkeys(word[:MAX_WORD] for word in found if len(word) >= MIN_WORD))


def _split(text: str) -> list[str]:
    """The folded words of one text, short ones too."""
    if text.isascii():  # a flag the string keeps; ASCII has nothing to fold but case
        return _ASCII_WORD.findall(text.lower())
    # Folding costs once for each distinct word, however often it is written, and a
    # line break between two words keeps them apart whatever folding does to them.
    typed = "\n".join(dict.fromkeys(_TYPED.findall(text)))
    if _INVISIBLE_OR_ASTRAL.search(typed):  # one class, quick; most texts have neither
        typed = _INVISIBLE.sub("", typed)
    return _WORD.findall(fold(_SEPARATOR.sub(" ", typed)))


def fold(text: str) -> str:
    """The text in its compatibility form (NFKC: fullwidth letters, ligatures and
    superscripts become plain letters and digits, accents join their letters), case
    folded (`casefold`, which also maps "ß" to "ss", where `lower` keeps it). Case
    folding leaves a few Greek letters and "ǰ" decomposed, so NFKC runs again: folding
    the result gives it back. Some compatibility forms hold punctuation (the fraction
    "½" is "1", a fraction slash and "2"), so a folded word may split again."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
