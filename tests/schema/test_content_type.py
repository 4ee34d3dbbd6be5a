"""The memoized Content-Type parse answers as strawberry's own and is the one the view uses;
which declared bodies the endpoint reads."""

from __future__ import annotations

import pytest
from strawberry.http import async_base_view
from strawberry.http.parse_content_type import parse_content_type

import schema.view  # noqa: F401  (installs the memo)
from schema.content_type import parsed_content_type, unreadable


def test_the_view_parses_through_the_memo() -> None:
    assert async_base_view.parse_content_type is parsed_content_type  # type: ignore[attr-defined]


def test_the_memo_answers_as_strawberry_does() -> None:
    for value in (
        "application/json",
        "application/json; charset=utf-8",
        'multipart/form-data; boundary="x y"',
        "text/plain",
        "",
        "garbage;;;=",
    ):
        assert parsed_content_type(value) == parse_content_type(value)


@pytest.mark.parametrize(
    "value",
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=UTF-8",
        'application/json; charset="utf-8"',
        "application/json;charset=us-ascii",
        "Application/Json; Charset=US-ASCII",
        "application/json; charset=utf-8; charset=UTF-8",
        "application/json; foo=bar",
    ],
)
def test_json_in_utf_8_or_no_charset_is_readable(value: str) -> None:
    assert unreadable(value) is None


@pytest.mark.parametrize(
    ("value", "charset"),
    [
        ("application/json; charset=utf-16", "utf-16"),
        ("application/json; charset=UTF-16LE", "UTF-16LE"),
        ('application/json; charset="iso-8859-1"', "iso-8859-1"),
        ("APPLICATION/JSON; CHARSET=latin1", "latin1"),
        ("application/json; charset=utf-32", "utf-32"),
        ("application/json; charset=", ""),
        # Two: a proxy may read either one.
        ("application/json; charset=utf-8; charset=utf-16", "utf-16"),
        ("application/json; charset=utf-16; charset=utf-8", "utf-16"),
        # RFC 2231's forms, which email.message reads for any parameter.
        ("application/json; charset*=utf-8''utf-16", "utf-16"),
        ("application/json; charset*0=utf; charset*1=-16", "utf-16"),
    ],
)
def test_json_in_another_charset_is_unreadable_and_named(value: str, charset: str) -> None:
    assert unreadable(value) == (
        f"A GraphQL POST body must be encoded in UTF-8, not charset {charset!r}: "
        "send it as UTF-8, or leave the charset out."
    )


@pytest.mark.parametrize("value", ["text/plain; charset=utf-8", "application/jsonx", ""])
def test_other_media_types_are_unreadable_whatever_their_charset(value: str) -> None:
    assert unreadable(value) == "A GraphQL POST body must be application/json."
