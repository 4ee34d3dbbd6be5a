"""Input rules of the aggregates: each cleans a value or raises InvalidInput naming the field."""

from __future__ import annotations

import re

from domain import avatar_hosts, refused_characters, visibility
from domain.errors import InvalidInput, excerpt

TITLE_MAX = 200
CONTENT_MAX = 100_000
TAGS_MAX = 10
TAG_PATTERN = re.compile(r"[a-z0-9-]{1,32}")
NAME_MAX = 100
BIO_MAX = 2_000
URL_MAX = 2_000
COMMENT_MAX = 5_000

INVISIBLE = "must have a visible character (not only spaces or invisible characters)"
# An http(s) URL of RFC 3986 characters only, without quotes: nothing that can end an
# HTML attribute or a CSS url() it is placed in. Anything else must be percent-encoded.
URL_PATTERN = re.compile(
    r"(?i:https?)://[A-Za-z0-9\-._~%!$&()*+,;=:@\[\]]+(?:[/?#][A-Za-z0-9\-._~%!$&()*+,;=:@/?#\[\]]*)?"
)


def plain(field: str, value: str, *, one_line: bool, flags: bool) -> str:
    """The value, or InvalidInput naming the first character it must not hold
    (domain/refused_characters.py): one-line text holds no line break either, and only
    with `flags` do the flags of England, Scotland and Wales keep their tag characters."""
    found = refused_characters.first_refused(value, one_line=one_line, flags=flags)
    if found is None:
        return value
    code = ord(found)
    if refused_characters.NONCHARACTER.match(found):
        raise InvalidInput(field, f"must not contain noncharacters (U+{code:04X})")
    if visibility.TAG_CHARACTERS.match(found):
        where = " outside the flags of England, Scotland and Wales" if flags else ""
        raise InvalidInput(
            field, f"must not contain Unicode tag characters, hidden text (U+{code:04X}){where}"
        )
    if 0xD800 <= code <= 0xDFFF:
        raise InvalidInput(
            field,
            f"must not contain a lone surrogate (U+{code:04X}): half a character, such "
            "as an emoji cut in two",
        )
    raise InvalidInput(field, f"must not contain control characters (U+{code:04X})")


def title(value: str) -> str:
    cleaned = plain("title", value.strip(), one_line=True, flags=True)
    if not 1 <= len(cleaned) <= TITLE_MAX:
        raise InvalidInput("title", f"must be 1-{TITLE_MAX} characters after trimming")
    if not visibility.has_visible(cleaned):
        raise InvalidInput("title", INVISIBLE)
    return cleaned


def content(value: str) -> str:
    if len(plain("content", value, one_line=False, flags=True)) > CONTENT_MAX:
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
    """A name is how people tell users apart: besides a visible character, it holds no
    invisible one but the joiners of emoji and of Persian and Indic words
    (domain/visibility.py `stray_invisible`), so "Alice" and a zero-width space is no
    second "Alice"."""
    cleaned = plain("name", value.strip(), one_line=True, flags=False)
    if not 1 <= len(cleaned) <= NAME_MAX:
        raise InvalidInput("name", f"must be 1-{NAME_MAX} characters after trimming")
    if not visibility.has_visible(cleaned):
        raise InvalidInput("name", INVISIBLE)
    if (stray := visibility.stray_invisible(cleaned)) is not None:
        raise InvalidInput(
            "name",
            f"must not contain invisible characters (U+{ord(stray):04X}); a zero-width "
            "joiner or non-joiner only between two characters",
        )
    return cleaned


def bio(value: str) -> str:
    if len(plain("bio", value, one_line=False, flags=True)) > BIO_MAX:
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
    if not avatar_hosts.names_a_server(cleaned):
        raise InvalidInput(
            "avatarUrl",
            "must name a host (a DNS name, an IPv4 address or an IPv6 address in brackets) "
            "and at most a port from 1 to 65535, without a user name or password",
        )
    return cleaned


def comment_body(value: str) -> str:
    cleaned = plain("body", value.strip(), one_line=False, flags=True)
    if not 1 <= len(cleaned) <= COMMENT_MAX:
        raise InvalidInput("body", f"must be 1-{COMMENT_MAX} characters after trimming")
    if not visibility.has_visible(cleaned):
        raise InvalidInput("body", INVISIBLE)
    return cleaned
