"""strawberry's parse of each request's Content-Type, memoized.

strawberry (0.341.2) parses the header of every POST through email.message.Message to
learn whether it is JSON: py-spy under `post(id)` load put that at about 3% of the
server's samples. Clients send one of a handful of values, so each distinct value is
parsed once. The cache is bounded, so odd headers cannot grow it.
"""

from __future__ import annotations

from functools import lru_cache

from strawberry.http import async_base_view
from strawberry.http.parse_content_type import parse_content_type


@lru_cache(maxsize=64)
def parsed_content_type(value: str) -> tuple[str, dict[str, str]]:
    """strawberry's parse, with the media type in lower case: media types are
    case-insensitive (RFC 9110), and strawberry compares them as written. Callers only
    read the answer."""
    media_type, parameters = parse_content_type(value)
    return media_type.lower(), parameters


def is_json(value: str | None) -> bool:
    """Whether a request body is declared JSON. strawberry accepts any type that contains
    "application/json" (so "application/jsonx" too); GraphQL over HTTP names that one."""
    return parsed_content_type(value or "")[0] == "application/json"


def memoize() -> None:
    """Makes strawberry's HTTP view use the memoized parse (the view looks the function
    up in its module's globals on every request)."""
    async_base_view.parse_content_type = parsed_content_type  # type: ignore[attr-defined]
