"""Relay's conventions on a real server: node(id:) and nodes(ids:) over posts, users and
comments, with the same visibility as the other queries; full PageInfo and backward
pagination on every connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import operations as ops
from tests.support.api import Account, Api, http_api
from tests.support.shared_server import shared_server

NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Post { title status }
    ... on User { name }
    ... on Comment { body postId }
  }
}"""

NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"

PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
CONNECTIONS = {
    "recentPosts": f"""
query($first: Int, $after: String, $last: Int, $before: String) {{
  page: recentPosts(first: $first, after: $after, last: $last, before: $before) {{
    totalCount edges {{ cursor node {{ title }} }} {PAGE_INFO}
  }}
}}""",
    "postsByTag": f"""
query($first: Int, $after: String, $last: Int, $before: String) {{
  page: postsByTag(tag: "relay", first: $first, after: $after, last: $last, before: $before) {{
    totalCount edges {{ cursor node {{ title }} }} {PAGE_INFO}
  }}
}}""",
    "searchPosts": f"""
query($first: Int, $after: String, $last: Int, $before: String) {{
  page: searchPosts(query: "relay", first: $first, after: $after, last: $last, before: $before) {{
    totalCount edges {{ cursor node {{ title }} }} {PAGE_INFO}
  }}
}}""",
}


@pytest.fixture(scope="module")
def world(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Api, Account, list[str], str]]:
    """Ann's five published posts tagged relay, a draft, and five comments on the newest."""
    with shared_server(redis_url, tmp_path_factory.mktemp("relay")) as server:
        api = http_api(server)
        ann = api.register("Ann")
        titles = [f"Relay post {n}" for n in range(5)]
        posts = [api.published_post(ann, title, tags=["relay"]) for title in titles]
        draft = api.create_post(ann, "Ann's draft")["id"]
        for n in range(5):
            api.ok(
                ops.ADD_COMMENT,
                {"input": {"postId": posts[-1]["id"], "body": f"Comment {n}"}},
                token=ann.token,
            )
        yield api, ann, [post["id"] for post in posts], draft


def page(api: Api, field: str, **arguments: Any) -> dict[str, Any]:
    result: dict[str, Any] = api.ok(CONNECTIONS[field], arguments)["page"]
    return result


def titles(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["title"] for edge in connection["edges"]]


@pytest.mark.parametrize("field", list(CONNECTIONS))
def test_every_post_connection_pages_backward_from_the_end(
    world: tuple[Api, Account, list[str], str], field: str
) -> None:
    api = world[0]
    newest_first = [f"Relay post {n}" for n in reversed(range(5))]
    oldest = page(api, field, last=2)
    assert titles(oldest) == newest_first[3:]
    info = oldest["pageInfo"]
    assert info["hasPreviousPage"] is True and info["hasNextPage"] is False
    assert info["startCursor"] == oldest["edges"][0]["cursor"]
    assert info["endCursor"] == oldest["edges"][-1]["cursor"]

    before = page(api, field, last=2, before=info["startCursor"])
    assert titles(before) == newest_first[1:3]
    assert before["pageInfo"]["hasNextPage"] is True
    rest = page(api, field, last=2, before=before["pageInfo"]["startCursor"])
    assert titles(rest) == newest_first[:1]
    assert rest["pageInfo"]["hasPreviousPage"] is False
    assert rest["totalCount"] == 5


@pytest.mark.parametrize("field", list(CONNECTIONS))
def test_forward_pages_report_what_lies_behind_them(
    world: tuple[Api, Account, list[str], str], field: str
) -> None:
    api = world[0]
    first = page(api, field, first=2)
    assert first["pageInfo"]["hasPreviousPage"] is False
    second = page(api, field, first=2, after=first["pageInfo"]["endCursor"])
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert second["pageInfo"]["hasNextPage"] is True
    between = page(
        api,
        field,
        after=first["pageInfo"]["startCursor"],
        before=second["pageInfo"]["endCursor"],
    )
    assert titles(between) == titles(first)[1:] + titles(second)[:1]


def test_user_posts_and_comments_page_backward_too(
    world: tuple[Api, Account, list[str], str],
) -> None:
    api, ann, posts, _ = world
    comments = api.ok(
        f"""query($id: ID!) {{ post(id: $id) {{
            comments(last: 2) {{ edges {{ node {{ body }} }} {PAGE_INFO} }} }} }}""",
        {"id": posts[-1]},
    )["post"]["comments"]
    assert [edge["node"]["body"] for edge in comments["edges"]] == ["Comment 3", "Comment 4"]
    assert comments["pageInfo"]["hasPreviousPage"] is True
    own = api.ok(
        f"""query($id: ID!) {{ user(id: $id) {{
            posts(last: 1) {{ totalCount edges {{ node {{ title }} }} {PAGE_INFO} }} }} }}""",
        {"id": ann.id},
        token=ann.token,
    )["user"]["posts"]
    assert [edge["node"]["title"] for edge in own["edges"]] == ["Relay post 0"]
    assert own["totalCount"] == 6  # the author sees the draft too


def test_sizes_out_of_range_are_bad_input(world: tuple[Api, Account, list[str], str]) -> None:
    api = world[0]
    error = api.error(CONNECTIONS["recentPosts"], {"last": 101})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    error = api.error(CONNECTIONS["recentPosts"], {"last": 1, "before": "nonsense"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("field", list(CONNECTIONS))
def test_first_given_beside_last_is_refused_on_every_connection(
    world: tuple[Api, Account, list[str], str], field: str
) -> None:
    """`first` was ignored beside `last`: first: 1, last: 1 answered the oldest post, out
    of the window asked for (an outside probe). Left unset, or null, it is the default."""
    api = world[0]
    error = api.error(CONNECTIONS[field], {"first": 1, "last": 1})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "last"}
    assert error["message"].startswith("give first or last, not both")
    assert titles(page(api, field, first=None, last=1)) == ["Relay post 0"]
    assert titles(page(api, field, last=1)) == ["Relay post 0"]
    assert titles(page(api, field, first=1, last=None)) == ["Relay post 4"]


def test_first_given_beside_last_is_refused_on_nested_connections(
    world: tuple[Api, Account, list[str], str],
) -> None:
    api, ann, posts, _ = world
    for query, variables in (
        ("query($id: ID!) { post(id: $id) { comments(first: 2, last: 1) { totalCount } } }",
         {"id": posts[-1]}),
        ("query($id: ID!) { user(id: $id) { posts(first: 2, last: 1) { totalCount } } }",
         {"id": ann.id}),
    ):  # fmt: skip
        error = api.error(query, variables, token=ann.token)
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "last"}, query


def test_node_finds_posts_users_and_comments_by_the_ids_the_contract_returns(
    world: tuple[Api, Account, list[str], str],
) -> None:
    api, ann, posts, _ = world
    post = api.ok(NODE, {"id": posts[0]})["node"]
    assert post == {
        "__typename": "Post",
        "id": posts[0],
        "title": "Relay post 0",
        "status": "PUBLISHED",
    }
    assert api.ok(NODE, {"id": ann.id})["node"] == {
        "__typename": "User",
        "id": ann.id,
        "name": "Ann",
    }
    comment_id = api.ok(
        "query($id: ID!) { post(id: $id) { comments(first: 1) { edges { node { id } } } } }",
        {"id": posts[-1]},
    )["post"]["comments"]["edges"][0]["node"]["id"]
    assert api.ok(NODE, {"id": comment_id})["node"] == {
        "__typename": "Comment",
        "id": comment_id,
        "body": "Comment 0",
        "postId": posts[-1],
    }


def test_node_reads_an_id_in_upper_case_as_post_id_does(
    world: tuple[Api, Account, list[str], str],
) -> None:
    """The server issues ids in lower case and every field that takes one lower-cases
    it; node and nodes answered null for a post that post(id:) found (an outside probe)."""
    api, ann, posts, _ = world
    shouted = posts[0].upper()
    assert api.ok("query($id: ID!) { post(id: $id) { id } }", {"id": shouted})["post"] == {
        "id": posts[0]
    }
    assert api.ok(NODE, {"id": shouted})["node"]["id"] == posts[0]
    found = api.ok(NODES, {"ids": [shouted, ann.id.upper(), posts[0]]})["nodes"]
    assert found == [
        {"__typename": "Post", "id": posts[0]},
        {"__typename": "User", "id": ann.id},
        {"__typename": "Post", "id": posts[0]},
    ]


@pytest.mark.parametrize(
    "unknown", ["", "nope", "00000000-0000-0000-0000-000000000000", "x" * 10_000, "a:*"]
)
def test_node_of_an_unknown_or_malformed_id_is_null(
    world: tuple[Api, Account, list[str], str], unknown: str
) -> None:
    assert world[0].ok(NODE, {"id": unknown})["node"] is None


def test_a_draft_is_a_node_for_its_author_only(
    world: tuple[Api, Account, list[str], str],
) -> None:
    api, ann, _, draft = world
    assert api.ok(NODE, {"id": draft})["node"] is None
    assert api.ok(NODE, {"id": draft}, token=ann.token)["node"]["title"] == "Ann's draft"


def test_nodes_answers_in_order_with_nulls_and_refuses_over_100(
    world: tuple[Api, Account, list[str], str],
) -> None:
    api, ann, posts, draft = world
    found = api.ok(NODES, {"ids": [posts[1], "missing", ann.id, draft, posts[1], "missing"]})
    assert found["nodes"] == [
        {"__typename": "Post", "id": posts[1]},
        None,
        {"__typename": "User", "id": ann.id},
        None,
        {"__typename": "Post", "id": posts[1]},  # an id asked for twice is read once
        None,
    ]
    assert (
        api.ok(NODES, {"ids": [draft] * 2}, token=ann.token)["nodes"]
        == [{"__typename": "Post", "id": draft}] * 2
    )
    error = api.error(NODES, {"ids": [posts[0]] * 101})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
