"""Query shape and cost limits, through a running server: refused with QUERY_TOO_COMPLEX
before any work, in time linear in the document."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest
import websockets

from harness.server_process import ServerProcess
from schema.limits import MAX_DOCUMENT_CHARACTERS
from schema.limits.cost import CostLimit
from tests.support import operations as ops
from tests.support.api import Api
from tests.support.costly_queries import COSTLY, FRAGMENT_BOMB, REPEATS
from tests.support.protected_server import StartServer
from tests.support.shared_server import shared_server

ADD_COMMENT = ops.ADD_COMMENT
NESTED = """query($posts: Int, $comments: Int) { recentPosts(first: $posts) { edges { node {
  id comments(first: $comments) { edges { node { id body author { name } } } } } } } }"""


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the tests that only send queries (nothing is written, every read
    model stays empty), rate limits off."""
    with shared_server(redis_url, tmp_path_factory.mktemp("query-limits")) as running:
        yield running


def post(server: ServerProcess, query: str, variables: dict[str, Any] | None = None) -> Any:
    # Today's limiters took 17 s on the bomb; the generous timeout fails them, not a slow CI.
    response = httpx.post(
        f"{server.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=8
    )
    assert response.status_code == 200, response.text
    return response.json()


def too_complex(body: dict[str, Any]) -> dict[str, Any]:
    """The first error's extensions; every error is QUERY_TOO_COMPLEX."""
    assert "data" not in body, body
    assert {error["extensions"]["code"] for error in body["errors"]} == {"QUERY_TOO_COMPLEX"}
    assert "Traceback" not in json.dumps(body)
    extensions: dict[str, Any] = body["errors"][0]["extensions"]
    return extensions


def test_a_fragment_bomb_is_refused_at_once(server: ServerProcess) -> None:
    too_complex(post(server, FRAGMENT_BOMB))
    assert httpx.get(f"{server.url}/health", timeout=8).status_code == 200


def test_one_field_repeated_hundreds_of_times_is_refused(server: ServerProcess) -> None:
    too_complex(post(server, REPEATS))


def test_a_fragment_chain_nested_too_deep_is_refused(server: ServerProcess) -> None:
    chain = (
        "{ recentPosts { ...F0 } } "
        + " ".join(f"fragment F{i} on PostConnection {{ ...F{i + 1} }}" for i in range(500))
        + " fragment F500 on PostConnection { totalCount }"
    )
    too_complex(post(server, chain))


def test_the_cost_is_in_the_refusal(server: ServerProcess) -> None:
    extensions = too_complex(post(server, COSTLY))
    max_cost = CostLimit().max_cost
    assert extensions["maxCost"] == max_cost
    # 30 x (recentPosts, edges, 100 x (node, comments, edges, 100 x (node, id, body)));
    # a body weighs 10: it may hold 5,000 characters.
    assert extensions["cost"] == 30 * (2 + 100 * (3 + 100 * (2 + 10))) > max_cost


def test_page_sizes_in_variables_count(server: ServerProcess) -> None:
    too_complex(post(server, NESTED, {"posts": 100, "comments": 100}))
    assert post(server, NESTED, {"posts": 10, "comments": 10}) == {
        "data": {"recentPosts": {"edges": []}}
    }
    # Omitted page sizes count as their defaults (20 and 20).
    assert "errors" not in post(server, NESTED)


def test_an_omitted_variable_counts_its_default(server: ServerProcess) -> None:
    """The operation's default, not the argument's: left out, `$n: Int = 100` runs pages of
    100, and was costed at `first`'s 20 (an outside probe: counted 24,696, ran 102,508
    comments in 7.6 s). An explicit null runs the argument's default, and counts it."""
    defaulted = NESTED.replace("$posts: Int,", "$posts: Int = 100,").replace(
        "$comments: Int)", "$comments: Int = 100)"
    )
    for _ in range(2):  # costed, then costed again from the cache
        assert (
            too_complex(post(server, defaulted, {}))["cost"]
            == too_complex(post(server, NESTED, {"posts": 100, "comments": 100}))["cost"]
        )
    assert "errors" not in post(server, defaulted, {"posts": None, "comments": None})
    assert "errors" not in post(server, defaulted, {"posts": 10, "comments": 10})


def test_long_texts_weigh_by_the_characters_they_may_hold(server: ServerProcess) -> None:
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(100)]
    # Asked for as often as the alias limit allows, 100,000-character contents made a
    # 300 MB answer to a 5 KB request.
    copies = " ".join(f"a{n}: nodes(ids: $ids) {{ ... on Post {{ content }} }}" for n in range(30))
    extensions = too_complex(post(server, f"query($ids: [ID!]!) {{ {copies} }}", {"ids": ids}))
    assert extensions["cost"] == 30 * (1 + 100 * 200)
    # A full page of posts with their contents still fits.
    page = "{ recentPosts(first: 100) { edges { node { content } } } }"
    assert post(server, page) == {"data": {"recentPosts": {"edges": []}}}


def test_nodes_counts_the_ids_it_is_given(server: ServerProcess) -> None:
    """Counted as a full page whatever it was given, one id with a post's usual fragment
    was refused while the same selection under `node(id:)` ran."""
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(100)]
    contents = " ".join(f"{a}: nodes(ids: $ids) {{ ... on Post {{ content }} }}" for a in "ab")
    query = f"query($ids: [ID!]!) {{ {contents} }}"
    # The same document with more ids costs more: its cost is not kept by the document.
    assert post(server, query, {"ids": ids[:3]}) == {"data": {"a": [None] * 3, "b": [None] * 3}}
    assert too_complex(post(server, query, {"ids": ids}))["cost"] == 2 * (1 + 100 * 200)
    assert post(server, query, {"ids": ids[0]}) == {"data": {"a": [None], "b": [None]}}
    # Written in the document, as many as are written.
    literal = ", ".join(f'"{id}"' for id in ids[:90])
    many = " ".join(
        f"n{n}: nodes(ids: [{literal}]) {{ ... on Post {{ content }} }}" for n in range(2)
    )
    assert too_complex(post(server, "{ " + many + " }"))["cost"] == 2 * (1 + 90 * 200)
    assert "errors" not in post(
        server, f'{{ nodes(ids: ["{ids[0]}"]) {{ ... on Post {{ content }} }} }}'
    )
    # As many as a variable's default gives (they counted as a full page).
    defaulted = query.replace("[ID!]!", f'[ID!]! = ["{ids[0]}", "{ids[1]}"]')
    assert post(server, defaulted) == {"data": {"a": [None] * 2, "b": [None] * 2}}


def test_a_document_over_the_character_limit_is_refused_before_it_is_parsed(
    server: ServerProcess,
) -> None:
    """A string or a comment is one token, so the token limit let 1 MB documents through,
    each parsed seven times at 0.28 s a parse while every other client waited."""
    tag = "a" * (MAX_DOCUMENT_CHARACTERS - 100)
    within = post(server, f'{{ postsByTag(tag: "{tag}") {{ totalCount }} }}')
    assert within == {"data": {"postsByTag": {"totalCount": 0}}}  # parsed and run
    extensions = too_complex(post(server, "{ __typename } #" + "x" * MAX_DOCUMENT_CHARACTERS))
    assert extensions["maxCharacters"] == MAX_DOCUMENT_CHARACTERS


def test_the_whole_schema_is_served_once_per_request(server: ServerProcess) -> None:
    once = post(server, "{ __schema { queryType { name } } }")
    assert once == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    twice = "{ a: __schema { types { name } } b: __schema { types { name } } }"
    assert "whole schema" in post(server, twice)["errors"][0]["message"]
    too_complex(post(server, twice))


async def subscription_errors(server: ServerProcess, query: str) -> list[dict[str, Any]]:
    """The errors the first answer to a graphql-transport-ws subscribe carries."""
    async with websockets.connect(
        f"ws://127.0.0.1:{server.port}/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        max_size=None,
    ) as connection:
        await connection.send(json.dumps({"type": "connection_init", "payload": {}}))
        await connection.recv()
        await connection.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}})
        )
        message = json.loads(await asyncio.wait_for(connection.recv(), timeout=10))
    assert message["type"] in {"error", "next"}, message
    errors: list[dict[str, Any]] = (
        message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    )
    return errors


async def test_a_costly_subscription_is_refused(start_server: StartServer) -> None:
    server = start_server(INKWELL_RATE_LIMITS="off", INKWELL_MAX_QUERY_COST="100")
    costly = 'subscription { post(id: "x") { comments(first: 100) { edges { node { id } } } } }'
    errors = await subscription_errors(server, costly)
    assert errors[0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert errors[0]["extensions"]["cost"] == 3 + 100 * 2


async def test_a_subscription_over_the_character_limit_is_refused_too(
    start_server: StartServer,
) -> None:
    server = start_server(INKWELL_RATE_LIMITS="off", INKWELL_MAX_WS_MESSAGE_BYTES="1000000")
    long = "subscription { projections { name } } #" + "x" * MAX_DOCUMENT_CHARACTERS
    errors = await subscription_errors(server, long)
    assert errors[0]["extensions"]["code"] == "QUERY_TOO_COMPLEX", errors


def test_a_page_of_posts_reads_its_comments_in_one_pipeline(api: Api) -> None:
    """Counted at the read pools: each pipeline, command or batch of hashes
    (projections/readers/batched_reads.py) takes one connection."""
    author = api.register("Ann")
    position = 0
    for n in range(20):
        post_id = api.published_post(author, f"Post {n}")["id"]
        added = api.ok(
            ADD_COMMENT, {"input": {"postId": post_id, "body": "First!"}}, token=author.token
        )
        position = int(added["addComment"]["position"])
    api.ok("{ __typename }", headers={"X-Consistent-With": str(position)})
    reads = api.client.app.state.services.reads  # type: ignore[attr-defined]
    pools = [reads._redis.connection_pool, reads._batched._pool]
    checkouts = 0
    originals = [pool.get_connection for pool in pools]

    def counting(original: Any) -> Any:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal checkouts
            checkouts += 1
            return await original(*args, **kwargs)

        return counted

    query = """{ recentPosts(first: 20) { edges { node { id
      comments(first: 5) { edges { node { id body } } } } } } }"""
    for pool, original in zip(pools, originals, strict=True):
        pool.get_connection = counting(original)
    try:
        data = api.ok(query)
    finally:
        for pool, original in zip(pools, originals, strict=True):
            pool.get_connection = original
    edges = data["recentPosts"]["edges"]
    assert len(edges) == 20
    assert all(len(edge["node"]["comments"]["edges"]) == 1 for edge in edges)
    # The page with its posts (one script), the 20 comment pages (one pipeline), their
    # comments' hashes (a batch per loop turn they are asked in: one, or two when the 20
    # resolvers' wake-ups straddle a turn, as seen once on a loaded machine): 3 or 4,
    # not 2 + 2 x 20.
    assert 3 <= checkouts <= 4
