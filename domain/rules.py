"""Input rules of the aggregates: each cleans a value or raises InvalidInput naming the field."""

from __future__ import annotations

import re

from domain.errors import InvalidInput, excerpt

TITLE_MAX = 200
CONTENT_MAX = 100_000
TAGS_MAX = 10
TAG_PATTERN = re.compile(r"[a-z0-9-]{1,32}")
NAME_MAX = 100
BIO_MAX = 2_000
URL_MAX = 2_000
COMMENT_MAX = 5_000

# What no text here may hold: C0 and C1 controls (NUL, ANSI escapes...), bidirectional
# embeddings, overrides and isolates (U+202A-E, U+2066-9: text that displays other than
# it reads), and lone surrogates. Multi-line text keeps tab, newline and carriage return;
# one-line text (titles, names) loses those and the Unicode line separators too.
_UNSAFE = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
UNSAFE_IN_TEXT = re.compile(f"[{_UNSAFE}]")
UNSAFE_IN_LINE = re.compile(f"[{_UNSAFE}\t\n\r\u2028\u2029]")
# An http(s) URL of RFC 3986 characters only, without quotes: nothing that can end an
# HTML attribute or a CSS url() it is placed in. Anything else must be percent-encoded.
URL_PATTERN = re.compile(
    r"https?://[A-Za-z0-9\-._~%!$&()*+,;=:@\[\]]+(?:[/?#][A-Za-z0-9\-._~%!$&()*+,;=:@/?#\[\]]*)?"
)


def plain(field: str, value: str, *, one_line: bool) -> str:
    """The value, or InvalidInput naming the first character it must not hold."""
    found = (UNSAFE_IN_LINE if one_line else UNSAFE_IN_TEXT).search(value)
    if found is not None:
        code = ord(found.group())
        raise InvalidInput(field, f"must not contain control characters (U+{code:04X})")
    return value


def title(value: str) -> str:
    cleaned = plain("title", value.strip(), one_line=True)
    if not 1 <= len(cleaned) <= TITLE_MAX:
        raise InvalidInput("title", f"must be 1-{TITLE_MAX} characters after trimming")
    return cleaned


def content(value: str) -> str:
    if len(plain("content", value, one_line=False)) > CONTENT_MAX:
        raise InvalidInput("content", f"must be at most {CONTENT_MAX} characters")
    return value


def tags(values: tuple[str, ...]) -> tuple[str, ...]:
    """Lower-cases, drops duplicates (first one wins), keeps the given order."""
    cleaned = tuple(dict.fromkeys(tag.strip().lower() for tag in values))
    if len(cleaned) > TAGS_MAX:
        raise InvalidInput("tags", f"at most {TAGS_MAX} tags")
    for tag in cleaned:
        if not TAG_PATTERN.fullmatch(tag):
            raise InvalidInput("tags", f"{excerpt(tag)} is not 1-32 characters of a-z, 0-9 and -")
    return cleaned


def name(value: str) -> str:
    cleaned = plain("name", value.strip(), one_line=True)
    if not 1 <= len(cleaned) <= NAME_MAX:
        raise InvalidInput("name", f"must be 1-{NAME_MAX} characters after trimming")
    return cleaned


def bio(value: str) -> str:
    if len(plain("bio", value, one_line=False)) > BIO_MAX:
        raise InvalidInput("bio", f"must be at most {BIO_MAX} characters")
    return value


def avatar_url(value: str | None) -> str | None:
    """An http(s) URL, or None; the empty string clears the avatar."""
    if value is None or value.strip() == "":
        return None
    cleaned = value.strip()
    if len(cleaned) > URL_MAX or not URL_PATTERN.fullmatch(cleaned):
        raise InvalidInput(
            "avatarUrl",
            f"must be an http(s) URL of at most {URL_MAX} characters, "
            "without quotes, spaces or angle brackets (percent-encode them)",
        )
    return cleaned


def comment_body(value: str) -> str:
    cleaned = plain("body", value.strip(), one_line=False)
    if not 1 <= len(cleaned) <= COMMENT_MAX:
        raise InvalidInput("body", f"must be 1-{COMMENT_MAX} characters after trimming")
    return cleaned
