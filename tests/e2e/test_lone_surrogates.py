"""A lone surrogate's escape (`"\\ud83d"`, what JavaScript's JSON.stringify writes for an
emoji cut in half) is JSON: a body or a socket message holding one is read, and the text
refused by the rule for its field (schema/json_codec.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from harness.server_process import ServerProcess
from tests.support import operations as ops
from tests.support.shared_server import shared_server

HALF_AN_EMOJI = "\U0001f600".encode("utf-16-le")[:2].decode("utf-16-le", "surrogatepass")


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with shared_server(redis_url, tmp_path_factory.mktemp("surrogates")) as running:
        yield running


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


def post(client: httpx.Client, body: dict[str, Any], token: str | None = None) -> httpx.Response:
    """json.dumps writes the surrogate as its escape, as browsers do."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return client.post("/graphql", content=json.dumps(body), headers=headers)


def head(client: httpx.Client) -> int:
    body = post(client, {"query": "{ projections { headPosition } }"}).json()
    return int(body["data"]["projections"][0]["headPosition"])


def test_a_title_or_name_holding_one_is_bad_user_input_naming_the_field(
    client: httpx.Client,
) -> None:
    name = {"input": {"name": f"Ann{HALF_AN_EMOJI}"}}
    (error,) = post(client, {"query": ops.REGISTER, "variables": name}).json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "name"}
    assert "lone surrogate (U+D83D)" in error["message"]

    registered = post(client, {"query": ops.REGISTER, "variables": {"input": {"name": "Ann"}}})
    token = registered.json()["data"]["registerUser"]["token"]
    before = head(client)
    post_input = {"input": {"title": f"Smile {HALF_AN_EMOJI}", "content": "C"}}
    answer = post(client, {"query": ops.CREATE_POST, "variables": post_input}, token)
    (error,) = answer.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "title"}
    assert head(client) == before


def test_a_tag_no_post_can_carry_finds_no_post(client: httpx.Client) -> None:
    """It once reached Redis, which no lone surrogate can be sent to: INTERNAL_SERVER_ERROR."""
    query = "query($t: String!) { postsByTag(tag: $t) { totalCount edges { cursor } } }"
    for tag in (HALF_AN_EMOJI, "two words"):
        body = post(client, {"query": query, "variables": {"t": tag}}).json()
        assert body == {"data": {"postsByTag": {"totalCount": 0, "edges": []}}}


def test_an_answer_quoting_one_is_json(client: httpx.Client) -> None:
    response = post(client, {"query": "query A { __typename }", "operationName": HALF_AN_EMOJI})
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert HALF_AN_EMOJI in error["message"]


@pytest.mark.parametrize(
    "body",
    [
        # Read by orjson (1,024 levels), too deep for the standard library's reader, which
        # the check for repeated keys uses on a body with an escape: it raised
        # RecursionError, a 500.
        '{"query": "{ __typename }", "variables": {"a": '
        + "[" * 1020
        + '"\\u0041"'
        + "]" * 1020
        + "}}",
        '{"query": "{ __typename }", "variables": {"b": "\\ud83d", "a": '
        + "[" * 1020
        + "]" * 1020
        + "}}",
        '{"query": "{ __typename }", "variables": {"b": "\\ud83d", "a": NaN}}',
    ],
)
def test_what_orjson_or_the_standard_library_cannot_read_is_400(
    client: httpx.Client, body: str
) -> None:
    response = client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_socket_message_holding_one_ends_no_other_subscription(
    server: ServerProcess,
) -> None:
    """The message was refused as not JSON: close 4400, and every subscription on the
    socket ended with it."""
    import websockets
    from websockets.typing import Subprotocol

    url = server.url.replace("http", "ws") + "/graphql"
    async with websockets.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:

        async def receive() -> dict[str, Any]:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
            return message

        await ws.send('{"type": "connection_init"}')
        assert (await receive())["type"] == "connection_ack"
        live = {"query": "subscription { projections { name } }"}
        await ws.send(json.dumps({"id": "a", "type": "subscribe", "payload": live}))
        assert (await receive())["id"] == "a"
        search = {
            "query": "query($q: String!) { searchPosts(query: $q) { totalCount } }",
            "variables": {"q": f"hello {HALF_AN_EMOJI}"},
        }
        await ws.send(json.dumps({"id": "b", "type": "subscribe", "payload": search}))
        answers = [await receive() for _ in range(2)]
        assert [(m["id"], m["type"]) for m in answers] == [("b", "next"), ("b", "complete")]
        assert answers[0]["payload"] == {"data": {"searchPosts": {"totalCount": 0}}}
        await ws.send('{"type": "ping"}')
        assert (await receive())["type"] == "pong"
