"""A cursor is taken only as this server writes it; anything else is BAD_USER_INPUT naming
the argument, on every paged list. int() took " 1", "1_000", "+1", fullwidth and
Arabic-Indic digits and 30-digit numbers, and "1:" or "1:x" named no post, yet each
paged normally."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.support import operations as ops
from tests.support.api import Account, Api

ID = "5b0c6f1e-2d3a-4c5b-8e9f-0a1b2c3d4e5f"  # fixed: parameter ids must match across workers
FORGED = [
    f" 1:{ID}",
    f"1_000:{ID}",
    f"\uff11\uff12:{ID}",  # fullwidth 12
    f"\u0663:{ID}",  # Arabic-Indic 3
    f"+1:{ID}",
    f"01:{ID}",
    f"-0:{ID}",
    f"{'9' * 30}:{ID}",
    f"{2**63}:{ID}",
    f"1:{ID.upper()}",
    f"1:{ID} ",
    "1:",
    "1:x",
]


def encoded(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.fixture
def lists(api: Api) -> list[tuple[str, dict[str, Any]]]:
    """Each paged list with the variables that page it."""
    ann: Account = api.register("Ann")
    post = api.published_post(ann, "Cursors", tags=["cursors"])
    return [
        (ops.RECENT, {}),
        (ops.SEARCH, {"query": "cursors"}),
        (ops.BY_TAG, {"tag": "cursors"}),
        (ops.BY_AUTHOR, {"authorId": ann.id}),
        (ops.POST_ENGAGEMENT, {"id": post["id"]}),
    ]


@pytest.mark.parametrize("text", FORGED)
def test_a_cursor_not_as_the_server_writes_it_is_refused_on_every_list(
    api: Api, lists: list[tuple[str, dict[str, Any]]], text: str
) -> None:
    cursor = encoded(text)
    for query, variables in lists:
        error = api.error(query, {**variables, "first": 5, "after": cursor})
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}, query
        assert error["message"].endswith("is not a cursor this server made")


@pytest.mark.parametrize(
    "cursor",
    [
        encoded(f"1:{ID}").rstrip("="),  # base64 without its padding
        encoded(f"1:{ID}").replace("=", "") + "==",
        encoded(f"12:{ID}")[:-2] + "!" + encoded(f"12:{ID}")[-2:],  # a character not base64
        base64.b64encode(f"1:{ID}\xff".encode("latin-1")).decode(),
    ],
)
def test_a_cursor_must_be_the_servers_exact_base64(api: Api, cursor: str) -> None:
    error = api.error(ops.RECENT, {"first": 5, "after": cursor})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}


def test_the_servers_own_cursors_still_page(api: Api) -> None:
    ann = api.register("Ann")
    for title in ("one", "two", "three"):
        api.published_post(ann, title)
    first = api.ok(ops.RECENT, {"first": 2})["recentPosts"]
    after = first["pageInfo"]["endCursor"]
    rest = api.ok(ops.RECENT, {"first": 2, "after": after})["recentPosts"]
    assert [edge["node"]["title"] for edge in rest["edges"]] == ["one"]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ("first: 101", "first"),
        ("first: -1", "first"),
        ("last: 101", "last"),
        ("last: -1", "last"),
        (f'after: "{encoded("1:x")}"', "after"),
        ('before: "not-a-cursor"', "before"),
    ],
)
def test_a_bad_page_argument_is_named_in_the_error(api: Api, arguments: str, field: str) -> None:
    error = api.error(f"{{ recentPosts({arguments}) {{ totalCount }} }}")
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}


def test_a_bad_page_in_a_mutations_answer_is_named_too(api: Api) -> None:
    ann = api.register("Ann")
    post = api.published_post(ann)
    query = (
        "mutation($input: PostCommandInput!) { archivePost(input: $input) "
        '{ post { comments(before: "%%%") { totalCount } } } }'
    )
    error = api.error(query, {"input": {"postId": post["id"]}}, token=ann.token)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "before"}
