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
# Unicode's stream-safe text format (UAX #15): no more than 30 combining marks in a row;
# after each 30 of a longer run, U+034F COMBINING GRAPHEME JOINER (invisible, and a
# starter: NFKC's canonical reordering stops at it). That reordering takes time
# quadratic in the length of a run: "a" and 99,999 marks alternating between two
# classes took 28 s to fold, and a createPost of them held the event loop as long. Real
# text never has 30 marks in a row, and the index and a query fold alike.
MAX_MARKS_IN_A_ROW = 30
GRAPHEME_JOINER = "\u034f"


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


def _without(ranges: Ranges, code: int) -> Ranges:
    """`ranges` without the code point `code`."""
    kept: list[tuple[int, int]] = []
    for first, last in ranges:
        if first <= code <= last:
            kept += [part for part in ((first, code - 1), (code + 1, last)) if part[0] <= part[1]]
        else:
            kept.append((first, last))
    return tuple(kept)


# What a run counts: the marks but the grapheme joiner itself, and the two halfwidth
# katakana sound marks (letters, each the compatibility form of a combining mark). Marks
# that never reorder (Indic vowel signs) count too: no text has 30 of them in a row.
_RUN_MARK_RANGES = (*_without(COMBINING_MARKS, ord(GRAPHEME_JOINER)), (0xFF9E, 0xFF9F))
_RUN_MARKS = frozenset(
    chr(code) for first, last in _RUN_MARK_RANGES for code in range(first, last + 1)
)
# Where a run may be: more than 30 in a row of those marks or of anything above U+FFFF.
# Found in 1-4 ms in 100,000 characters; `re` checks a mark above U+FFFF range by range,
# so a class of the marks themselves took 37 ms in 80,000 characters of Brahmi.
_BMP_RUN_MARKS = _below_and_above(_RUN_MARK_RANGES)[0]
_MAYBE_A_RUN = re.compile(f"[{_BMP_RUN_MARKS}\U00010000-\U0010ffff]{{{MAX_MARKS_IN_A_ROW + 1},}}")


def _stream_safe(text: str) -> str:
    """`text` with a GRAPHEME_JOINER after each MAX_MARKS_IN_A_ROW marks of a longer run."""
    pieces: list[str] = []
    done = 0
    for maybe in _MAYBE_A_RUN.finditer(text):
        run = 0
        for at, char in enumerate(maybe[0], maybe.start()):
            if char not in _RUN_MARKS:
                run = 0
            elif run < MAX_MARKS_IN_A_ROW:
                run += 1
            else:
                pieces += (text[done:at], GRAPHEME_JOINER)
                done, run = at, 1
    pieces.append(text[done:])
    return "".join(pieces)


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
    "½" is "1", a fraction slash and "2"), so a folded word may split again.

    Case folding maps the Turkish capital "İ" to "i" and a combining dot above, so that
    "İstanbul" was not found by "istanbul" nor "Istanbul": an "i" keeps no dot above
    here (it has one already).

    Before folding, a run of more than MAX_MARKS_IN_A_ROW marks is made stream-safe:
    a GRAPHEME_JOINER after each 30, which stays in the word."""
    folded = unicodedata.normalize("NFKC", _stream_safe(text)).casefold()
    return unicodedata.normalize("NFKC", folded.replace(_I_WITH_DOT_ABOVE, "i"))


_I_WITH_DOT_ABOVE = "i\u0307"
