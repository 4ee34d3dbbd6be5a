"""Names, titles and comments a reader can see, and text that hides nothing
(domain/rules.py, domain/visibility.py, domain/refused_characters.py): what an outside
probe got stored, refused with the field; what real writing needs, kept."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from domain import rules
from domain.errors import InvalidInput

WALES = "\U0001f3f4\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f"
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
# A black flag with made-up tag letters: drawn as a plain black flag, carrying "hi".
HIDDEN_IN_A_FLAG = "\U0001f3f4\U000e0068\U000e0069\U000e007f"

RULES: dict[str, Callable[[str], object]] = {
    "title": rules.title,
    "name": rules.name,
    "body": rules.comment_body,
    "content": rules.content,
    "bio": rules.bio,
}

REFUSED = [
    # Blank: no character a reader sees.
    ("title", "\u200b\u200b"),
    ("title", "\ufeff"),
    ("title", "\u2060\u00ad"),
    ("title", "\u3164"),
    ("title", "\ufe0f"),
    ("name", "\u200b"),
    ("name", " \u2800 "),
    ("body", "\u200b \u200c"),
    # Hidden text: tag characters, alone or beside visible text.
    ("title", "a\U000e0041b"),
    ("title", HIDDEN_IN_A_FLAG),
    ("content", "Read me\U000e0049\U000e0067\U000e006e\U000e006f\U000e0072\U000e0065"),
    ("bio", "a\U000e0001b"),
    ("body", "ok\U000e007f"),
    ("name", "\U000e0041\U000e0042"),
    ("name", f"Gareth {WALES}"),
    # Noncharacters, in every text.
    ("title", "a\uffffb"),
    ("content", "a\ufdd0b"),
    ("bio", "a\U0010fffeb"),
    ("body", "a\U0001ffffb"),
    ("name", "a\ufffeb"),
    # A name that looks like another: invisible characters beside visible ones.
    ("name", "Alice\u200b"),
    ("name", "Al\u200bice"),
    ("name", "Alice\u200d"),
    ("name", "\u200cAlice"),
    ("name", "Alice\u200f"),
    ("name", "Alice\u061c"),
    ("name", "Alice\u3164"),
    ("name", "Alice\u00ad"),
    ("name", "Alice \ufe0f"),
    # Bidi embeddings, overrides and isolates ("Trojan Source"), as before.
    ("name", "a\u202eb"),
    ("title", "a\u2067b"),
    ("content", "a\u202ab"),
]


@pytest.mark.parametrize(("field", "text"), REFUSED)
def test_blank_hidden_and_lookalike_text_is_refused_naming_the_field(field: str, text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        RULES[field](text)
    assert refused.value.field == field


KEPT = [
    ("name", "Ada \U0001f469\u200d\U0001f4bb"),  # ZWJ sequence: woman technologist
    ("name", "\u2764\ufe0f\u200d\U0001f525"),  # heart on fire: VS16 then ZWJ
    ("name", "I \u2764\ufe0f"),
    ("name", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"),  # Persian, with ZWNJ
    ("name", "\u0915\u094d\u200d\u0937"),  # Devanagari half form, with ZWJ
    ("name", "Zoë Ω 中文"),
    ("name", "\u05e9\u05e8\u05d4"),  # Hebrew
    ("title", f"A week in Wales {WALES}"),
    ("title", f"{ENGLAND} v {WALES}"),
    ("title", "Hello\u200bWorld"),  # a line-break hint inside visible text
    ("title", "\u05e9\u05dc\u05d5\u05dd world\u200f!"),  # an RTL mark, as Hebrew needs
    ("title", "a\u061cb"),
    ("title", "a\ue000b"),  # private use: drawn by the fonts that define it
    ("content", "\u0645\u0631\u062d\u0628\u0627 \u200f(1)\u200f\nline\ttwo"),
    ("content", f"Flags: {WALES}\nand text \U00020000"),  # CJK extension B too
    ("content", ""),
    ("bio", "\U0001f469\U0001f3fd\u200d\U0001f4bb"),
    ("body", "1\ufe0f\u20e3"),  # keycap
]


@pytest.mark.parametrize(("field", "text"), KEPT)
def test_real_writing_is_kept(field: str, text: str) -> None:
    assert RULES[field](text) == text


def test_tags_are_visible_ascii_already() -> None:
    for tag in ("\u200b", "a\U000e0041", "a\u202eb", "\ufeffcqrs"):
        with pytest.raises(InvalidInput) as refused:
            rules.tags((tag,))
        assert refused.value.field == "tags"
    assert rules.tags(("CQRS", "event-sourcing")) == ("cqrs", "event-sourcing")


def test_the_message_names_the_character_and_the_rule() -> None:
    messages = {}
    for field, text in [
        ("title", "\u200b"),
        ("title", "a\U000e0041"),
        ("name", "a\U000e0041"),
        ("title", "a\uffff"),
        ("name", "Alice\u200b"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            RULES[field](text)
        messages[field, text] = str(refused.value)
    assert messages == {
        ("title", "\u200b"): "title: must have a visible character "
        "(not only spaces or invisible characters)",
        ("title", "a\U000e0041"): "title: must not contain Unicode tag characters, hidden "
        "text (U+E0041) outside the flags of England, Scotland and Wales",
        ("name", "a\U000e0041"): "name: must not contain Unicode tag characters, hidden "
        "text (U+E0041)",
        ("title", "a\uffff"): "title: must not contain noncharacters (U+FFFF)",
        ("name", "Alice\u200b"): "name: must not contain invisible characters (U+200B); "
        "a zero-width joiner or non-joiner only between two characters",
    }


def test_a_refused_character_after_a_rare_astral_one_is_still_found() -> None:
    """The search looks again from the first character from U+1FFFE on (CJK extension B
    here): what follows it must be checked as well."""
    for text in ("\U00020000 \x00", "\U00020000 a\uffff", "\U00020000 a\U000e0041"):
        with pytest.raises(InvalidInput):
            rules.content(text)
