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
# read the first `sha256Hash`, and the last ran; of two payloads of a WebSocket message,
# the last ran (a re-check probe); of two ids, the operation ran as the last, which a
# client that read the first could not complete (an outside probe); of two Authorizations
# in a connection_init payload, the socket ran as the last, a junk token before it
# uncounted as a guess (an outside probe).
AUTHORIZATION = ("Authorization", "authorization")
GUARDED = (
    *GRAPHQL_PARAMETERS, "persistedQuery", "sha256Hash", "payload", "type", "id", *AUTHORIZATION
)  # fmt: skip
# Where parameters are read: the request object (a WebSocket message, a GET's
# `extensions`) may hold a payload, extensions and a persistedQuery, a payload
# extensions, extensions a persistedQuery; nothing deeper. `variables` is the
# operation's own data, and only read whole. Followed at any depth, a chain of
# `extensions` nested 20 deep, 99 members each, 20 to a batch element, took 0.7 s a
# body (a re-check probe).
WITHIN = {
    "": ("payload", "extensions", "persistedQuery"),
    "payload": ("extensions",),
    "extensions": ("persistedQuery",),
    "persistedQuery": (),
}
# More members than any request object, payload or extensions has; so many that a
# scan of them in Python costs more than the whole text's read in C.
MAX_MEMBERS = 100
_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")


class TooManyMembers(json.JSONDecodeError):
    """An object where parameters are read with more members than any request has; read
    as not JSON, as GivenTwice is. Only a text that may repeat a key is looked at so."""

    def __init__(self, doc: str) -> None:
        super().__init__(f"An object of the request has more than {MAX_MEMBERS} members", doc, 0)


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
    """The first guarded key that an object where parameters are read gives twice: the
    request object (or WebSocket message), its payload, extensions and persistedQuery.
    A batch is not looked into: batching is refused whatever it holds."""
    raw = data.encode() if isinstance(data, str) else data
    if not _may_repeat(raw):
        return None
    text = data if isinstance(data, str) else data.decode()
    start = _space(text, 0)
    if not text.startswith("{", start):
        return None
    twice: list[str] = []
    _scan(text, start, "", twice)
    return twice[0] if twice else None


def _scan(text: str, index: int, name: str, twice: list[str]) -> int:
    """Reads the object at `index` (its brace), the member `name` of its parent: notes
    the first guarded key it gives twice, looks into the members WITHIN it that hold
    parameters, and skips every other value whole, in C. Returns where the object ends,
    or where it stopped once a key came twice. Reading every object with a hook in
    Python, as the standard library's `object_pairs_hook` does, took 0.7 s for a 990 KB
    body of 330,000 empty objects in `extensions` and one escape (an outside probe:
    another client's `{ __typename }` p50 515-791 ms, one client, within every limit)."""
    seen: set[str] = set()
    index = _space(text, index + 1)
    if text.startswith("}", index):
        return index + 1
    for _ in range(MAX_MEMBERS):
        key, index = scanstring(text, index + 1)
        if key in GUARDED:
            if key in seen:
                twice.append(key)
                return index
            seen.add(key)
        index = _space(text, _space(text, index) + 1)  # past the colon
        if key in WITHIN[name] and text.startswith("{", index):
            index = _scan(text, index, key, twice)
            if twice:
                return index
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
        or raw.count(b'"payload"') > 1
        or raw.count(b'"type"') > 1
        or raw.count(b'"id"') > 1
        or raw.count(b'"Authorization"') > 1
        or raw.count(b'"authorization"') > 1
    )
