"""strawberry's parse of each request's Content-Type, memoized, and which bodies the
endpoint can read.

strawberry (0.341.2) parses the header of every POST through email.message.Message to
learn whether it is JSON: py-spy under `post(id)` load put that at about 3% of the
server's samples. Clients send one of a handful of values, so each distinct value is
parsed once. The caches are bounded, so odd headers cannot grow them.
"""

from __future__ import annotations

from email.message import Message
from email.utils import collapse_rfc2231_value
from functools import lru_cache

from strawberry.http import async_base_view
from strawberry.http.parse_content_type import parse_content_type

from domain.errors import excerpt

# A client's Content-Type is `application/json; charset=utf-8` or near it. The parse of
# email.message grows faster than the header: 15,000 `;a=b` (60 KB, inside the header
# limit) took 0.4 s of the event loop per request, and a random last parameter defeats
# the caches, so a few requests a second stalled every other client. A longer value is
# refused unparsed.
LONGEST = 256


@lru_cache(maxsize=64)
def parsed_content_type(value: str) -> tuple[str, dict[str, str]]:
    """strawberry's parse, with the media type in lower case: media types are
    case-insensitive (RFC 9110), and strawberry compares them as written. Callers only
    read the answer. A value over LONGEST is not parsed: it is no media type."""
    if len(value) > LONGEST:
        return "", {}
    media_type, parameters = parse_content_type(value)
    return media_type.lower(), parameters


# orjson reads UTF-8 only, and US-ASCII is a part of it. A body declared in another
# charset was read as if it were UTF-8: GraphQL over HTTP lets a server refuse what it
# cannot decode (415).
READABLE_CHARSETS = frozenset({"utf-8", "us-ascii"})


@lru_cache(maxsize=64)
def unreadable(value: str) -> str | None:
    """Why a POST body of this Content-Type cannot be read, or None when it can: JSON,
    in no charset or a readable one."""
    if len(value) > LONGEST:
        return (
            f"A Content-Type of over {LONGEST} characters is not one the endpoint reads: "
            "send application/json."
        )
    if parsed_content_type(value)[0] != "application/json":
        # strawberry accepts any type that contains "application/json" (so
        # "application/jsonx" too); GraphQL over HTTP names that one.
        return "A GraphQL POST body must be application/json."
    if (charset := _unreadable_charset(value)) is not None:
        return (
            f"A GraphQL POST body must be encoded in UTF-8, not charset {excerpt(charset)}: "
            "send it as UTF-8, or leave the charset out."
        )
    return None


def _unreadable_charset(value: str) -> str | None:
    """The first charset the header declares that is neither UTF-8 nor US-ASCII (in any
    case, quoted or not), or None. Every `charset` parameter counts: with two, a proxy
    may read one and the server the other, so both must be readable."""
    message = Message()
    message["content-type"] = value
    for name, declared in message.get_params(failobj=[])[1:]:
        if name != "charset":
            continue
        # RFC 2231's `charset*=utf-8''utf-16` comes as a (charset, language, value) tuple.
        charset = declared if isinstance(declared, str) else collapse_rfc2231_value(declared)
        if charset.lower() not in READABLE_CHARSETS:
            return charset
    return None


def memoize() -> None:
    """Makes strawberry's HTTP view use the memoized parse (the view looks the function
    up in its module's globals on every request)."""
    async_base_view.parse_content_type = parsed_content_type  # type: ignore[attr-defined]
