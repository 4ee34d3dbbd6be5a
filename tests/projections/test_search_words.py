"""How text splits into search words (projections/keyspace/search_words.py): the same on
the index's side and the query's, so a word is found however it was typed."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from projections.keyspace.search_words import GRAPHEME_JOINER, MAX_MARKS_IN_A_ROW, fold, words
from projections.keyspace.unicode_ranges import (
    COMBINING_MARKS,
    FORMAT_CHARACTERS,
    Ranges,
)
from tests.support.typed_text import fullwidth

INVISIBLE = {
    "zero-width space": "\u200b",
    "zero-width non-joiner": "\u200c",
    "zero-width joiner": "\u200d",
    "soft hyphen": "\u00ad",
    "word joiner": "\u2060",
    "byte order mark": "\ufeff",
    "left-to-right mark": "\u200e",
    "right-to-left override": "\u202e",
    "first strong isolate": "\u2068",
    "tag space (above U+FFFF)": "\U000e0020",
    "variation selector 16": "\ufe0f",
    "variation selector 17 (above U+FFFF)": "\U000e0100",
}


@pytest.mark.parametrize("invisible", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_an_invisible_character_neither_splits_a_word_nor_stays_in_it(invisible: str) -> None:
    assert words(f"cq{invisible}rs") == ["cqrs"]
    assert words(f"{invisible}cqrs{invisible} redis") == ["cqrs", "redis"]
    assert words(f"cq{invisible}{invisible}rs and Caf{invisible}e\u0301") == ["cqrs", "and", "café"]


def test_compatibility_forms_are_their_plain_letters_and_digits() -> None:
    assert words(fullwidth("CQRS"), fullwidth("cqrs Redis7")) == ["cqrs", "redis7"]
    assert words("\ufb01le") == ["file"]  # the "fi" ligature
    assert words("x\u00b2 H\u2082O") == ["x2", "h2o"]  # superscript two, subscript two
    assert words("\U0001d402\U0001d410\U0001d411\U0001d412") == ["cqrs"]  # mathematical bold
    assert words("\uff76\uff9e\uff72\uff84\uff9e") == ["ガイド"]  # halfwidth katakana


def test_case_is_folded_fully() -> None:
    assert words("Straße STRASSE strasse") == ["strasse"]
    assert words("ΛΌΓΟΣ λόγος") == ["λόγοσ"]  # final sigma too
    assert words("ǰa J\u030cA") == ["ǰa"]  # casefold decomposes "ǰ"; NFKC composes it again
    # casefold gives "İ" as "i" and a dot above: "istanbul" did not find "İstanbul".
    assert words("İstanbul Istanbul istanbul I\u0307STANBUL") == ["istanbul"]
    assert words("Aİ\u0301") == words("aí")


def test_accents_match_precomposed_or_combining_in_any_order() -> None:
    assert words("café", "cafe\u0301", "CAFE\u0301") == ["café"]
    assert words("ca\u0323\u0302n", "ca\u0302\u0323n", "c\u1eadn") == ["c\u1eadn"]


def test_marks_belong_to_their_letter() -> None:
    """Indic vowel signs and viramas are marks: as separators they cut Hindi into single
    letters, none of which was a word."""
    assert words("हिन्दी भाषा") == ["हिन्दी", "भाषा"]
    assert words("\U00011013\U00011038\U00011026") == ["\U00011013\U00011038\U00011026"]  # Brahmi


def test_symbols_punctuation_and_underscores_still_split() -> None:
    assert words("Inkwell\u2122 pub/sub snake_case") == ["inkwell", "pub", "sub", "snake", "case"]
    assert words("محمد\ufdfa") == ["محمد"]  # a ligature standing for a phrase splits


def test_a_long_word_is_filed_under_its_first_200_characters_folded() -> None:
    long = "x" * 250
    assert words(long) == ["x" * 200]
    assert words(f"{long}a {long}b") == ["x" * 200]  # one word of the index and the budget
    assert words("\ufdf2" * 100) == ["الله" * 50]  # cut once folded, 4 characters each


BELOW, ABOVE = "\u0316", "\u0301"  # combining classes 220 and 230: NFKC puts BELOW first


def test_a_run_of_more_than_30_marks_gets_a_grapheme_joiner_after_each_30() -> None:
    """UAX #15's stream-safe format: NFKC reorders a run of marks in time quadratic in
    its length (100,000 alternating marks took 28 s), so a run is cut before folding.
    Up to 30, marks fold as before."""
    thirty = BELOW * 15 + ABOVE * 15
    assert words("x" + (ABOVE + BELOW) * 15) == ["x" + thirty]
    cut = "x" + GRAPHEME_JOINER.join([thirty] * 7)
    assert words("x" + (ABOVE + BELOW) * 1_000) == [cut[:200]]
    assert words("x" + ABOVE * 1_000 + BELOW * 1_000) == [
        ("x" + (ABOVE * 30 + GRAPHEME_JOINER) * 7)[:200]
    ]
    assert words(f"x{ABOVE * 20}\u200b{ABOVE * 20} y") == [
        "x" + ABOVE * 30 + GRAPHEME_JOINER + ABOVE * 10
    ]


def test_every_character_that_decomposes_into_marks_counts_in_a_run() -> None:
    """A character whose compatibility form is all non-starters (the marks NFKC reorders)
    is counted, the halfwidth sound mark U+FF9E too; a typed grapheme joiner ends a run."""
    counted = 0
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        form = unicodedata.normalize("NFKD", chr(code))
        if all(unicodedata.combining(part) for part in form):
            assert GRAPHEME_JOINER in fold("x" + chr(code) * (MAX_MARKS_IN_A_ROW + 1)), hex(code)
            counted += 1
    assert counted > 900
    assert (
        fold("x" + (ABOVE * 30 + GRAPHEME_JOINER) * 3) == "x" + (ABOVE * 30 + GRAPHEME_JOINER) * 3
    )


def test_an_ascii_text_splits_as_the_general_path_splits_it() -> None:
    """ASCII text takes a path of its own (nothing to fold but case)."""
    text = "Hello_World, CQRS-2 and a x9 'quoted' e-mail@example.com"
    assert words(text) == words(text + " café")[:-1] == [
        "hello", "world", "cqrs", "and", "x9", "quoted", "mail", "example", "com",
    ]  # fmt: skip


def test_folding_gives_its_result_back_and_a_folded_word_is_found_as_itself() -> None:
    """Every code point: folded twice is folded once; with its canonical decomposition,
    folded the same; and a word folded from it splits into itself again."""
    changed = []
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        folded = fold(char)
        assert fold(folded) == folded, hex(code)
        assert fold(unicodedata.normalize("NFD", char)) == folded, hex(code)
        if folded != char:
            changed.append(char)
    for char in changed:
        found = words(char * 2)
        assert words(*found) == found, hex(ord(char))


def ranges_of(categories: tuple[str, ...]) -> Ranges:
    found: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code)) in categories:
            if found and found[-1][1] == code - 1:
                found[-1] = (found[-1][0], code)
            else:
                found.append((code, code))
    return tuple(found)


def as_source(ranges: Ranges) -> str:
    return "\n".join(f"    (0x{first:04X}, 0x{last:04X})," for first, last in ranges)


@pytest.mark.parametrize(
    ("ranges", "categories"),
    [(FORMAT_CHARACTERS, ("Cf",)), (COMBINING_MARKS, ("Mn", "Mc", "Me"))],
    ids=["FORMAT_CHARACTERS", "COMBINING_MARKS"],
)
def test_the_tables_are_this_pythons_unicode(ranges: Ranges, categories: tuple[str, ...]) -> None:
    expected = ranges_of(categories)
    assert ranges == expected, (
        f"Unicode {unicodedata.unidata_version} has other ranges; in "
        f"projections/keyspace/unicode_ranges.py write:\n{as_source(expected)}"
    )
