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


def test_invalid_utf8_spelling_a_surrogate_is_no_json(client: httpx.Client) -> None:
    """The standard library decodes bytes with surrogatepass: CESU-8's "\xed\xa0\xbd"
    was read as a lone surrogate where every other invalid UTF-8 is a 400."""
    body = b'{"query": "{ __typename }", "operationName": "\xed\xa0\xbd"}'
    response = client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text


@pytest.mark.parametrize(
    ("subscribe", "answer"),
    [
        # Shared subscriptions: the group's key and the frame's head were written by
        # orjson, which raised outside any handler: no answer, the id kept for good.
        (
            {
                "query": "subscription($x: ID!) { post(id: $x) { id } }",
                "variables": {"x": "\ud83d"},
            },
            "BAD_USER_INPUT",
        ),
        (
            {"query": "subscription { projections { name } }", "variables": {"z": "\ud83d"}},
            "next",
        ),
        ({"query": "{ __typename }"}, "next"),  # its size was measured by orjson: lost
    ],
)
async def test_a_subscribe_holding_one_is_answered_and_frees_its_id(
    server: ServerProcess, subscribe: dict[str, Any], answer: str
) -> None:
    import websockets
    from websockets.typing import Subprotocol

    url = server.url.replace("http", "ws") + "/graphql"
    async with websockets.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send('{"type": "connection_init"}')
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        for id_ in ("1", HALF_AN_EMOJI):
            payload = json.loads(json.dumps(subscribe).replace("\\ud83d", "\ud83d"))
            await ws.send(json.dumps({"id": id_, "type": "subscribe", "payload": payload}))
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            while first["id"] != id_:  # what the last id still had coming
                assert first["type"] in ("next", "complete"), first
                first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if answer == "next":
                assert first["type"] == "next" and "errors" not in first["payload"], first
            else:
                assert first["payload"]["errors"][0]["extensions"]["code"] == answer, first
            await ws.send(json.dumps({"id": id_, "type": "complete"}))
        await ws.send('{"type": "ping"}')
        while (message := json.loads(await asyncio.wait_for(ws.recv(), 10)))["type"] != "pong":
            assert message["type"] in ("next", "complete"), message


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
