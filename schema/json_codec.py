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

A text with more objects and arrays, or more values, than any request holds is refused
before it is read (MAX_CONTAINERS): what reading costs follows its shape more than its
size.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from schema.limits.variables import MAX_VARIABLE_VALUES
from schema.request_keys import refuse_repeats

# More objects and arrays than any request holds: its variables hold at most
# MAX_VARIABLE_VALUES values (the document is a string), the request object, payload and
# extensions a few more; seven times that leaves room. orjson makes each in 80-140 ns: a
# 130 KB WebSocket message of 64,600 nested arrays took it 9-27 ms, a 1 MB body 53 ms,
# within every size and rate limit (an outside probe: 50 sockets of such pings, paced
# within the message budget, held another client's `{ __typename }` 1.7-6.4 s). Brackets
# in strings do not count: counted, a post of LaTeX or a JSON sample with 7,100 of them
# was refused (a re-check probe).
# The same bound holds the values of a text that the slower readers read
# (_refuse_many_values).
MAX_CONTAINERS = 7 * MAX_VARIABLE_VALUES


class TooManyContainers(json.JSONDecodeError):
    """A text with more objects and arrays, or values, than MAX_CONTAINERS: refused
    unread, as one that is not JSON."""

    def __init__(self, what: str = "objects and arrays") -> None:
        super().__init__(
            f"more than {MAX_CONTAINERS:,} JSON {what}: no request holds so many", "", 0
        )


def decode(data: str | bytes) -> Any:
    """The JSON value of `data`; json.JSONDecodeError (a ValueError) when it is not JSON,
    or gives a guarded key twice (schema/request_keys.py)."""
    parsed = parse(data)
    _refuse_many_values(data)  # before the repeat check reads some values again
    try:
        refuse_repeats(data)
    except RecursionError:
        raise _too_deep(data) from None
    return parsed


def parse(data: str | bytes) -> Any:
    """The JSON value of `data`, repeated keys unchecked (the last kept): for a look at a
    message that `decode` reads again where it counts. json.JSONDecodeError if not JSON,
    TooManyContainers (one) for a text with too many objects and arrays."""
    # Two brackets a container at least: a shorter text cannot hold too many, and is not
    # counted (about 0.4 ms a MB for each character counted); nor are the strings of one
    # with few brackets in all (up to 9 ms a MB, for a text of many short strings).
    if (
        len(data) > 2 * MAX_CONTAINERS
        and _brackets(data) > MAX_CONTAINERS
        and containers(data) > MAX_CONTAINERS
    ):
        raise TooManyContainers()
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        if "surrogate" not in error.msg:
            raise
        _refuse_many_values(data)  # before the standard library reads them all again
        return _with_lone_surrogates(data, error)


def _refuse_many_values(data: str | bytes) -> None:
    """Raises TooManyContainers for a text with more values than any request holds, when
    the slower readers would read them: the standard library (a lone surrogate's escape)
    or the repeat check (any escape, schema/request_keys.py). orjson reads 520,000
    numbers in 4 ms; those two took 107 ms for such a 1 MB WebSocket ping ending in a
    lone surrogate's escape, within every size and rate limit (a re-check probe).
    Counted only then, and the values between commas only in a text of few strings (its
    quotes, less the escaped ones, are two a string): splitting one of many short
    strings took longer than reading it, up to 70 ms a MB."""
    if len(data) <= 2 * MAX_CONTAINERS or not _has_escapes(data):
        return
    strings = (_count(data, '"') - _count(data, '\\"')) // 2
    if strings > MAX_CONTAINERS or (
        _count(data, ",") > MAX_CONTAINERS and separators(data) > MAX_CONTAINERS
    ):
        raise TooManyContainers("values")


def containers(data: str | bytes) -> int:
    """How many objects and arrays the JSON text holds: its `{` and `[` outside strings."""
    return _outside_strings(data, "{", "[")


def separators(data: str | bytes) -> int:
    """The commas between the values of the text's objects and arrays: outside strings."""
    return _outside_strings(data, ",")


def _outside_strings(data: str | bytes, *chars: str) -> int:
    """How often the `chars` are in the JSON text outside its strings. Escaped
    backslashes and quotes are dropped first, so that every `"` left opens or closes a
    string (a text that is not JSON is refused when read anyway)."""
    if isinstance(data, str):
        text = data.replace("\\\\", "").replace('\\"', "")
        return sum(part.count(c) for part in text.split('"')[::2] for c in chars)
    raw = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    found = [c.encode() for c in chars]
    return sum(part.count(c) for part in raw.split(b'"')[::2] for c in found)


def _brackets(data: str | bytes) -> int:
    """Every `{` and `[` of the text, in strings too: at least `containers`."""
    return _count(data, "{") + _count(data, "[")


def _has_escapes(data: str | bytes) -> bool:
    return "\\u" in data if isinstance(data, str) else b"\\u" in data


def _count(data: str | bytes, part: str) -> int:
    """How often `part` is in the text, in strings too."""
    return data.count(part) if isinstance(data, str) else data.count(part.encode())


def encode(data: object, *, sort_keys: bool = False) -> str:
    """Text, not bytes: strawberry sends bytes as binary WebSocket frames, which
    graphql-ws clients refuse."""
    return encode_bytes(data, sort_keys=sort_keys).decode()


def encode_bytes(data: object, *, sort_keys: bool = False) -> bytes:
    """UTF-8, for an HTTP body: decoding it to text and encoding it again for the socket
    took half of a large answer's time (py-spy)."""
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS if sort_keys else None)
    except TypeError:  # orjson.JSONEncodeError: a lone surrogate quoted from the input
        # All ASCII: the surrogates written as escapes.
        return json.dumps(data, separators=(",", ":"), sort_keys=sort_keys).encode()


def encoded_size(data: object) -> int:
    """The bytes `encode` writes for `data`, without decoding them to text."""
    return len(encode_bytes(data))


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
