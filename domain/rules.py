"""Input rules of the aggregates: each cleans a value or raises InvalidInput naming the field."""

from __future__ import annotations

import re

from domain.errors import InvalidInput

TITLE_MAX = 200
CONTENT_MAX = 100_000
TAGS_MAX = 10
TAG_PATTERN = re.compile(r"[a-z0-9-]{1,32}")
NAME_MAX = 100
BIO_MAX = 2_000
URL_MAX = 2_000
COMMENT_MAX = 5_000


def title(value: str) -> str:
    cleaned = value.strip()
    if not 1 <= len(cleaned) <= TITLE_MAX:
        raise InvalidInput("title", f"must be 1-{TITLE_MAX} characters after trimming")
    return cleaned


def content(value: str) -> str:
    if len(value) > CONTENT_MAX:
        raise InvalidInput("content", f"must be at most {CONTENT_MAX} characters")
    return value


def tags(values: tuple[str, ...]) -> tuple[str, ...]:
    """Lower-cases, drops duplicates (first one wins), keeps the given order."""
    cleaned = tuple(dict.fromkeys(tag.strip().lower() for tag in values))
    if len(cleaned) > TAGS_MAX:
        raise InvalidInput("tags", f"at most {TAGS_MAX} tags")
    for tag in cleaned:
        if not TAG_PATTERN.fullmatch(tag):
            raise InvalidInput("tags", f"{tag!r} is not 1-32 characters of a-z, 0-9 and -")
    return cleaned


def name(value: str) -> str:
    cleaned = value.strip()
    if not 1 <= len(cleaned) <= NAME_MAX:
        raise InvalidInput("name", f"must be 1-{NAME_MAX} characters after trimming")
    return cleaned


def bio(value: str) -> str:
    if len(value) > BIO_MAX:
        raise InvalidInput("bio", f"must be at most {BIO_MAX} characters")
    return value


def avatar_url(value: str | None) -> str | None:
    """An http(s) URL, or None; the empty string clears the avatar."""
    if value is None or value.strip() == "":
        return None
    cleaned = value.strip()
    if len(cleaned) > URL_MAX or not re.fullmatch(r"https?://[^\s]+", cleaned):
        raise InvalidInput("avatarUrl", f"must be an http(s) URL of at most {URL_MAX} characters")
    return cleaned


def comment_body(value: str) -> str:
    cleaned = value.strip()
    if not 1 <= len(cleaned) <= COMMENT_MAX:
        raise InvalidInput("body", f"must be 1-{COMMENT_MAX} characters after trimming")
    return cleaned
