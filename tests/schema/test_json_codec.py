"""The endpoint's JSON: what orjson refuses and JSON allows (schema/json_codec.py)."""

from __future__ import annotations

import json

import pytest

from schema import json_codec
from schema.limits import MAX_TOKENS
from schema.limits.variables import MAX_VARIABLE_VALUES
from schema.request_keys import GivenTwice

HALF = "\ud83d"


def test_a_lone_surrogate_is_read_and_written_back_as_its_escape() -> None:
    value = json_codec.decode('{"query": "q", "variables": {"t": "a\\ud83db"}}')
    assert value == {"query": "q", "variables": {"t": f"a{HALF}b"}}
    written = json_codec.encode({"message": f"named {HALF}"})
    assert json.loads(written) == {"message": f"named {HALF}"}
    assert json_codec.encode({"a": "é"}) == '{"a":"é"}'  # orjson's, where it can


@pytest.mark.parametrize(
    "text",
    [
        '{"t": "\\ud83d", "n": NaN}',  # past the surrogate, what orjson would refuse too
        '{"t": "\\ud83d", "n": Infinity}',
        b'{"t": "\\ud83d", "u": "\xff"}',  # not UTF-8
        '{"t": "\\ud83d", "a": ' + "[" * 1020 + "]" * 1020 + "}",  # too deep for the stdlib
        '{"t": "\\u0041", "a": ' + "[" * 1020 + "]" * 1020 + "}",  # the repeat check's read
        '{"t": "\\ud83d"',
    ],
)
def test_what_is_not_json_or_too_deep_is_a_json_error(text: str | bytes) -> None:
    with pytest.raises(json.JSONDecodeError):
        json_codec.decode(text)


def test_a_repeated_key_beside_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(GivenTwice):
        json_codec.decode('{"query": "a", "query": "b\\ud83d"}')


def test_only_the_objects_that_hold_parameters_are_read_key_by_key() -> None:
    """The repeat check read every object of a text with a hook in Python: 330,000 empty
    objects in `extensions` beside one escape held the event loop 0.7 s a request (an
    outside probe; so many are now refused unread, MAX_CONTAINERS). Other values are
    skipped whole; a repeat within the operation's variables is its own data, as orjson
    reads it (the last)."""
    objects = ",".join(["{}"] * (json_codec.MAX_CONTAINERS - 10))
    many = '{"query": "{ __typename }", "extensions": {"a": [' + objects
    assert json_codec.decode(many + ']}, "x": "\\u0041"}')["query"] == "{ __typename }"
    mixed = '{"variables": {"query": 1, "query": 2}, "x": "\\u0041"}'
    assert json_codec.decode(mixed)["variables"] == {"query": 2}
    with pytest.raises(GivenTwice):  # a message's payload holds parameters
        json_codec.decode('{"type": "subscribe", "payload": {"query": "a", "\\u0071uery": "b"}}')


def test_a_request_object_with_more_members_than_any_request_is_refused_when_read_so() -> None:
    members = ", ".join(f'"k{n}": {n}' for n in range(150))
    with pytest.raises(json.JSONDecodeError, match="more than 100 members"):
        json_codec.decode('{"x": "\\u0041", ' + members + "}")
    assert len(json_codec.decode("{" + members + "}")) == 150  # no repeat can be here


def test_only_the_objects_where_parameters_are_read_are_looked_into() -> None:
    """A chain of extensions within extensions was followed to its end; only a request's
    (or a message's) payload, extensions and their persistedQuery are looked into."""
    chained = '{"query": "a"}'
    for _ in range(30):
        chained = '{"query": "a", "query": "b", "extensions": ' + chained + "}"
    text = '{"x": "\\u0041", "extensions": {"extensions": ' + chained + "}}"
    assert json_codec.decode(text)["x"] == "A"  # the repeats are deeper than parameters
    with pytest.raises(GivenTwice, match="`payload` is given twice"):
        json_codec.decode('{"type": "subscribe", "payload": {}, "payload": {}}')


@pytest.mark.parametrize("as_bytes", [False, True])
def test_more_objects_and_arrays_than_a_request_holds_are_refused_unread(as_bytes: bool) -> None:
    """Nested arrays cost orjson 80-140 ns each: 64,600 of them in a 130 KB WebSocket
    message took 9-27 ms to read, within every size and rate limit (an outside probe)."""
    nested = "[" * 200 + "]" * 200
    text = '{"type": "ping", "payload": {"x": [' + ",".join([nested] * 323) + "]}}"
    with pytest.raises(json_codec.TooManyContainers, match="no request holds so many"):
        json_codec.decode(text.encode() if as_bytes else text)
    fitting = "[" + ",".join(["[]"] * (json_codec.MAX_CONTAINERS - 1)) + "]"
    assert len(json_codec.decode(fitting)) == json_codec.MAX_CONTAINERS - 1
    one_more = "[" + ",".join(["[]"] * json_codec.MAX_CONTAINERS) + "]"
    with pytest.raises(json_codec.TooManyContainers):
        json_codec.decode(one_more)


def test_more_values_than_a_request_holds_are_refused_before_a_slow_reader_reads_them() -> None:
    """A 1 MB WebSocket ping of 520,000 numbers ending in a lone surrogate's escape was
    read by orjson, then by the standard library and the repeat check: 107 ms of the
    event loop a message, within every limit (a re-check probe). Without an escape
    orjson alone reads such a text, in a few ms."""
    numbers = "[" + ",".join(["0"] * 520_000) + "]"
    with pytest.raises(json_codec.TooManyContainers, match="JSON values"):
        json_codec.decode('{"type": "ping", "payload": {"a": ' + numbers + ', "b": "\\ud800"}}')
    with pytest.raises(json_codec.TooManyContainers, match="JSON values"):
        json_codec.decode('{"type": "ping", "payload": {"a": ' + numbers + ', "b": "\\u0041"}}')
    strings = "[" + ",".join(['"x"'] * 250_000) + "]"
    with pytest.raises(json_codec.TooManyContainers, match="JSON values"):
        json_codec.decode('{"a": ' + strings + ', "b": "\\ud800"}')
    assert len(json_codec.decode('{"a": ' + numbers + "}")["a"]) == 520_000
    prose = json.dumps({"query": "{ __typename }", "variables": {"c": "a, b, é " * 100_000}})
    assert json_codec.decode(prose)["variables"]["c"].count(",") == 200_000  # in a string


def test_the_largest_request_the_limits_let_through_fits() -> None:
    """A document of MAX_TOKENS tokens, braces half of them, with MAX_VARIABLE_VALUES
    values in its variables, all objects."""
    braces = MAX_TOKENS // 2
    document = "{" * (braces // 2) + "}" * (braces // 2)
    variables: dict[str, list[dict[str, int]]] = {"v": [{} for _ in range(MAX_VARIABLE_VALUES - 1)]}
    body = json.dumps({"query": document, "variables": variables})
    assert json_codec.decode(body)["query"] == document


@pytest.mark.parametrize(
    "content",
    [
        "$\\frac{a_{i}}{b^{2}}$ " * 1775,  # LaTeX: 7,100 braces
        json.dumps([[i, [i]] for i in range(3600)]),  # a JSON sample: 7,201 brackets
        'say "{[" ' * 8000,  # quotes, escaped in the body, beside the brackets
    ],
    ids=["latex", "json sample", "quoted"],
)
def test_brackets_in_strings_are_no_objects_or_arrays(content: str) -> None:
    """They counted: a post of LaTeX or a JSON sample with more than 7,000 was refused
    (a re-check probe), over HTTP and on a socket, where the close ended the socket's
    other subscriptions."""
    body = json.dumps({"query": "mutation { x }", "variables": {"i": {"content": content}}})
    assert json_codec.decode(body)["variables"]["i"]["content"] == content
    assert json_codec.decode(body.encode())["variables"]["i"]["content"] == content
