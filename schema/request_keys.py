"""A GraphQL parameter given twice in one JSON object of a request body or message.

orjson, as JSON parsers do, keeps the last of `{"query": "a", "query": "b"}`, where a
gateway, a WAF or an allow-list in front may have read the first: the same ambiguity a
GET's `?query=a&query=b` has, which is refused too (schema/view.py). orjson cannot say
that a key came twice, so a body that may hold one (a parameter's name appears twice, or
an escape could spell it) is read again by the standard library, which can; nearly every
body is not.
"""

from __future__ import annotations

import json
from typing import Any

# What a request says to GraphQL over HTTP (a GET's parameters, a POST body's keys); the
# endpoint reads nothing else.
GRAPHQL_PARAMETERS = ("query", "variables", "operationName", "extensions")
# Given twice, each of these too names what runs: an allow-list of hashes in front may
# read the first `sha256Hash`, and the last ran.
GUARDED = (*GRAPHQL_PARAMETERS, "persistedQuery", "sha256Hash")


class GivenTwice(json.JSONDecodeError):
    """A guarded key given twice in one object: the JSON is read as not JSON, so that a
    WebSocket message is refused as one that does not parse (strawberry's 4400)."""

    def __init__(self, name: str, doc: str) -> None:
        super().__init__(f"`{name}` is given twice in one object: give it once", doc, 0)


def refuse_repeats(data: str | bytes) -> None:
    """Raises GivenTwice for the first guarded key some object of the (valid JSON) text
    gives twice."""
    if name := given_twice(data):
        raise GivenTwice(name, data if isinstance(data, str) else data.decode(errors="replace"))


def given_twice(data: str | bytes) -> str | None:
    """The first guarded key that some object of the (valid JSON) text gives twice."""
    raw = data.encode() if isinstance(data, str) else data
    if not _may_repeat(raw):
        return None
    twice: list[str] = []

    def checked(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        twice.extend(name for name in GUARDED if keys.count(name) > 1)
        return dict(pairs)

    json.loads(raw, object_pairs_hook=checked)
    return twice[0] if twice else None


def _may_repeat(raw: bytes) -> bool:
    """Written out, not looped over GUARDED: every body and message pays for it (1.2 us
    against 2.8 us for the loop on a 195-byte post(id) body; orjson reads it in 0.8)."""
    return (
        b"\\u" in raw
        or raw.count(b'"query"') > 1
        or raw.count(b'"variables"') > 1
        or raw.count(b'"operationName"') > 1
        or raw.count(b'"extensions"') > 1
        or raw.count(b'"persistedQuery"') > 1
        or raw.count(b'"sha256Hash"') > 1
    )
