"""A GraphQL parameter given twice in one JSON object of a request body or message.

orjson, as JSON parsers do, keeps the last of `{"query": "a", "query": "b"}`, where a
gateway, a WAF or an allow-list in front may have read the first: the same ambiguity a
GET's `?query=a&query=b` has, which is refused too (schema/view.py). orjson cannot say
that a key came twice, so a body that may hold one (a parameter's name appears twice, or
an escape could spell it) is read again, nearly every body is not: the objects where
parameters are read, key by key, every other value skipped whole by the standard
library's C scanner.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring  # type: ignore[attr-defined]  # the C scanner's

# What a request says to GraphQL over HTTP (a GET's parameters, a POST body's keys); the
# endpoint reads nothing else.
GRAPHQL_PARAMETERS = ("query", "variables", "operationName", "extensions")
# Given twice, each of these too names what runs: an allow-list of hashes in front may
# read the first `sha256Hash`, and the last ran.
GUARDED = (*GRAPHQL_PARAMETERS, "persistedQuery", "sha256Hash")
# The members whose object holds more parameters: a WebSocket message's payload, and
# within a request its extensions and their persistedQuery. `variables` is the
# operation's own data, and only read whole.
NESTED = frozenset({"payload", "extensions", "persistedQuery"})
# More members than any request object, payload or extensions has; so many that a
# scan of them in Python costs more than the whole text's read in C (a batch counts its
# requests so too).
MAX_MEMBERS = 100
_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")


class TooManyMembers(json.JSONDecodeError):
    """An object where parameters are read with more members than any request has; read
    as not JSON, as GivenTwice is. Only a text that may repeat a key is looked at so."""

    def __init__(self, doc: str) -> None:
        super().__init__(
            f"An object of the request has more than {MAX_MEMBERS} members", doc, 0
        )


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
    """The first guarded key that an object of the (valid JSON) text where parameters
    are read gives twice: the request object (each of a batch's), a message's `payload`,
    and `extensions` and `persistedQuery` within them."""
    raw = data.encode() if isinstance(data, str) else data
    if not _may_repeat(raw):
        return None
    text = data if isinstance(data, str) else data.decode()
    twice: list[str] = []
    start = _space(text, 0)
    if text.startswith("{", start):
        _scan(text, start, twice)
    elif text.startswith("[", start):  # a batch, refused later: its first requests
        index = _space(text, start + 1)
        for _ in range(MAX_MEMBERS):
            if text.startswith("]", index):
                break
            if text.startswith("{", index):
                index = _scan(text, index, twice)
            else:
                _, index = _DECODER.raw_decode(text, index)
            index = _space(text, index)
            if not text.startswith(",", index):
                break
            index = _space(text, index + 1)
    return twice[0] if twice else None


def _scan(text: str, index: int, twice: list[str]) -> int:
    """Reads the object at `index` (its brace): notes each guarded key it gives twice,
    looks into the members that hold parameters, and skips every other value whole, in C.
    Returns where the object ends. Reading every object with a hook in Python, as the
    standard library's `object_pairs_hook` does, took 0.7 s for a 990 KB body of 330,000
    empty objects in `extensions` and one escape (an outside probe: another client's
    `{ __typename }` p50 515-791 ms, one client, within every limit)."""
    seen: set[str] = set()
    index = _space(text, index + 1)
    if text.startswith("}", index):
        return index + 1
    for _ in range(MAX_MEMBERS):
        key, index = scanstring(text, index + 1)
        if key in GUARDED:
            if key in seen:
                twice.append(key)
            seen.add(key)
        index = _space(text, _space(text, index) + 1)  # past the colon
        if key in NESTED and text.startswith("{", index):
            index = _scan(text, index, twice)
        else:
            _, index = _DECODER.raw_decode(text, index)
        index = _space(text, index)
        if text.startswith("}", index):
            return index + 1
        index = _space(text, index + 1)  # past the comma
    raise TooManyMembers(text)


def _space(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    return match.end() if match else index


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
