"""The JSON the GraphQL endpoint reads (POST bodies, a GET's variables and extensions,
WebSocket messages) and writes (every answer).

orjson reads and writes it, but for two things JSON allows and orjson refuses:

- A lone surrogate's escape, `"\\ud83d"`: what JavaScript's JSON.stringify writes for an
  emoji cut in half. orjson refused the whole body as not JSON, and a WebSocket message
  so refused closed the socket with 4400, ending every subscription on it, where a title
  holding one is BAD_USER_INPUT naming its field (docs/security.md). Such a text is read
  again by the standard library, which keeps the surrogate for the input rules to refuse.
- Writing one: an answer may quote what a client sent (the name of an operation the
  document lacks, a variable's value). The standard library writes it as its escape.

The standard library's reader recurses in C under Python's recursion limit, lower than
orjson's 1,024 levels: a text it cannot read so is refused as orjson refuses one nested
deeper (the check for repeated keys reads some texts with it too).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from schema.request_keys import refuse_repeats


def decode(data: str | bytes) -> Any:
    """The JSON value of `data`; json.JSONDecodeError (a ValueError) when it is not JSON,
    or gives a guarded key twice (schema/request_keys.py)."""
    parsed = parse(data)
    try:
        refuse_repeats(data)
    except RecursionError:
        raise _too_deep(data) from None
    return parsed


def parse(data: str | bytes) -> Any:
    """The JSON value of `data`, repeated keys unchecked (the last kept): for a look at a
    message that `decode` reads again where it counts. json.JSONDecodeError if not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        if "surrogate" not in error.msg:
            raise
        return _with_lone_surrogates(data, error)


def encode(data: object, *, sort_keys: bool = False) -> str:
    """Text, not bytes: strawberry sends bytes as binary WebSocket frames, which
    graphql-ws clients refuse."""
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS if sort_keys else None).decode()
    except TypeError:  # orjson.JSONEncodeError: a lone surrogate quoted from the input
        return json.dumps(data, separators=(",", ":"), sort_keys=sort_keys)


def encoded_size(data: object) -> int:
    """The bytes `encode` writes for `data`, without decoding them to text."""
    try:
        return len(orjson.dumps(data))
    except TypeError:
        return len(encode(data))  # all ASCII: the surrogates written as escapes


def _with_lone_surrogates(data: str | bytes, refusal: orjson.JSONDecodeError) -> Any:
    try:
        # Decoded here, strictly: the standard library decodes bytes with surrogatepass,
        # taking a surrogate encoded in UTF-8 (not UTF-8: "\xed\xa0\xbd") for one.
        text = data.decode() if isinstance(data, bytes) else data
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise _too_deep(data) from None
    except ValueError:  # not JSON past the surrogate either (NaN, bad UTF-8, ...)
        raise refusal from None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _too_deep(data: str | bytes) -> json.JSONDecodeError:
    doc = data if isinstance(data, str) else data.decode(errors="replace")
    return json.JSONDecodeError("nested too deeply", doc, 0)
