"""The memoized Content-Type parse answers as strawberry's own and is the one the view uses."""

from __future__ import annotations

from strawberry.http import async_base_view
from strawberry.http.parse_content_type import parse_content_type

import schema.view  # noqa: F401  (installs the memo)
from schema.content_type import parsed_content_type


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
