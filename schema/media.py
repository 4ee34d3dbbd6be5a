"""GraphQL over HTTP: which media type a response is sent as, and with which status.

The GraphQL-over-HTTP specification (graphql.github.io/graphql-over-http) defines two
response media types. With `application/json`, the legacy one, every well-formed
request gets 200, whatever errors the result holds. With
`application/graphql-response+json`, a request that fails before execution (it does
not parse, does not validate, its variables do not coerce) gets a 4xx and a body
without `data`, so that a client or a CDN can tell it from a result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
SUPPORTED = (GRAPHQL_RESPONSE, JSON)

# Codes of errors that stop a request before execution, with the status each gets under
# application/graphql-response+json. Any other such error is a 400.
STATUS_BY_CODE = {
    "RATE_LIMITED": 429,
    "CONSISTENCY_TIMEOUT": 503,  # the read side is behind: retry, nothing was wrong with it
}


# A client's Accept names a type or a few (a browser's runs to about 200 characters). A
# 64 KB one of thousands of ranges took about 25 ms of the event loop to negotiate, and
# four clients sending it raised another client's p50 from 3 to 19 ms (an outside
# probe). A longer one is answered as if absent.
LONGEST_ACCEPT = 1024


@dataclass(frozen=True)
class MediaRange:
    type: str
    quality: float


def negotiate(accept: str | None) -> str | None:
    """The media type to answer with, or None when the client accepts neither (406).

    A request without Accept, or accepting anything, gets application/json, as the
    specification asks while clients move to the new type. At the same quality, the new
    type wins when the client names it, beside the legacy one or a wildcard
    (`application/graphql-response+json, */*`). An Accept over LONGEST_ACCEPT
    characters is not read."""
    if not accept or not accept.strip() or len(accept) > LONGEST_ACCEPT:
        return JSON
    ranges = _ranges(accept)
    new, legacy = _preference(ranges, GRAPHQL_RESPONSE), _preference(ranges, JSON)
    if max(new, legacy)[0] <= 0:
        return None
    if new[0] > legacy[0] or (new[0] == legacy[0] and new[1]):
        return GRAPHQL_RESPONSE
    return JSON if legacy[0] > 0 else GRAPHQL_RESPONSE


def _preference(ranges: list[MediaRange], media_type: str) -> tuple[float, bool]:
    """The quality the client gives a type (the most specific range decides), and whether
    it named the type rather than a wildcard."""
    named = [media.quality for media in ranges if media.type == media_type]
    if named:
        return max(named), True
    wild = [media.quality for media in ranges if media.type in ("*/*", "application/*")]
    return (max(wild), False) if wild else (0.0, False)


def _ranges(accept: str) -> list[MediaRange]:
    ranges = []
    for part in accept.split(","):
        fields = [field.strip() for field in part.split(";")]
        quality = 1.0
        for parameter in fields[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append(MediaRange(fields[0].lower(), quality))
    return ranges


def status_for(media_type: str, result: dict[str, Any], executed: bool) -> int:
    """The status of a single result. `executed` is false when the request failed before
    execution began (its result has errors and no data)."""
    if media_type == JSON or executed:
        return 200
    codes = _codes(result.get("errors") or ())
    for code in codes:
        if code in STATUS_BY_CODE:
            return STATUS_BY_CODE[code]
    return 400


def retry_after(result: dict[str, Any]) -> int | None:
    """The longest `extensions.retryAfter` among a result's errors, in whole seconds."""
    waits = [
        extensions["retryAfter"]
        for error in result.get("errors") or ()
        if isinstance(error, dict)
        and isinstance(extensions := error.get("extensions"), dict)
        and isinstance(extensions.get("retryAfter"), int)
    ]
    return max(waits, default=None)


def _codes(errors: Sequence[Any]) -> list[str]:
    codes = []
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        if isinstance(extensions, dict) and isinstance(extensions.get("code"), str):
            codes.append(extensions["code"])
    return codes
