"""What the queries and mutations of one client cost together is bounded per address and per
user (protection/query_cost_rate.py): within its request rate, one client sent the
costliest query the cost limit allows twenty times a second and took the server's event
loop for itself. Each test runs a server whose budget holds three pages of 302."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2 as httpx
import websockets

from harness.server_process import ServerProcess
from tests.support import operations as ops
from tests.support.persisted import persisted, sha
from tests.support.protected_server import StartServer
from tests.support.socket_protocols import EACH_PROTOCOL, acknowledged

BUDGET = {"INKWELL_MAX_QUERY_COST": "1000", "INKWELL_RATE_LIMIT_QUERY_COST": "1000/minute"}
PAGE = "{ recentPosts(first: 100) { edges { node { id title } } } }"  # 1 + 1 + 100 x 3 = 302
SMALL = "{ recentPosts(first: 10) { edges { node { id } } } }"  # 1 + 1 + 10 x 2 = 22
NEW_TYPE = {"accept": "application/graphql-response+json"}
# Not 127.0.0.1, whose budget the harness's readiness check has spent from (the first
# parse of its document).
CLIENT = "127.0.0.3"


# The longest wait the minute's budget can give: a sliding window counter's count weighs on
# through the next window, less each second (protection/throttle.py, seconds_until_room).
TWO_WINDOWS = 120


def client_at(server: ServerProcess, address: str) -> httpx.Client:
    """A client whose requests come from `address` (any of 127.0.0.0/8 reaches loopback)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.url, transport=transport, timeout=30)


def parsed_before(server: ServerProcess, *documents: str) -> None:
    """Has the server parse each document, for an address no test counts: so the budget
    these tests count is what operations cost. What parsing a document the first time
    costs (protection/new_documents.py) is tested in test_new_documents.py."""
    with client_at(server, "127.0.0.250") as client:
        for document in documents:
            client.post("/graphql", json={"query": document})


def rate_limited(response: httpx.Response) -> dict[str, Any]:
    """The extensions of a refusal before execution for the budget."""
    body = response.json()
    assert "data" not in body, body
    (error,) = body["errors"]
    extensions: dict[str, Any] = error["extensions"]
    assert extensions["code"] == "RATE_LIMITED", body
    assert 0 < extensions["retryAfter"] <= TWO_WINDOWS, body
    return extensions


def test_past_the_budget_http_queries_get_429_and_cheaper_ones_still_run(
    start_server: StartServer,
) -> None:
    server = start_server(**BUDGET)
    parsed_before(server, PAGE, SMALL)
    with client_at(server, CLIENT) as client:
        # A POST, a GET and a persisted query each cost 302: 906 of the 1,000 spent.
        spent = [
            client.post("/graphql", json={"query": PAGE}),
            client.get("/graphql", params={"query": PAGE}),
            client.post("/graphql", json={"query": PAGE, "extensions": persisted(sha(PAGE))}),
        ]
        assert all("errors" not in answer.json() for answer in spent), [a.text for a in spent]
        refused = client.post("/graphql", json={"query": PAGE}, headers=NEW_TYPE)
        by_get = client.get("/graphql", params={"query": PAGE}, headers=NEW_TYPE)
        by_hash = client.post(
            "/graphql", json={"extensions": persisted(sha(PAGE))}, headers=NEW_TYPE
        )
        # In the legacy media type a request error is a 200, as for every other refusal.
        legacy = client.post("/graphql", json={"query": PAGE})
        # What is left of the budget still runs what fits in it, and what costs nothing.
        small = client.post("/graphql", json={"query": SMALL})
        free = client.post("/graphql", json={"query": "{ __typename }"})
    for answer in (refused, by_get, by_hash):
        assert answer.status_code == 429, answer.text
        extensions = rate_limited(answer)
        assert answer.headers["retry-after"] == str(extensions["retryAfter"])
        assert extensions["cost"] == 302
    assert legacy.status_code == 200
    rate_limited(legacy)
    assert small.json()["data"]["recentPosts"] == {"edges": []}, small.text
    assert free.json() == {"data": {"__typename": "Query"}}


def test_the_budget_is_per_address_and_a_users_is_shared_by_its_addresses(
    start_server: StartServer,
) -> None:
    server = start_server(**BUDGET)
    parsed_before(server, PAGE, ops.REGISTER)
    with client_at(server, CLIENT) as first, client_at(server, "127.0.0.2") as second:
        token = first.post(
            "/graphql", json={"query": ops.REGISTER, "variables": {"input": {"name": "Ada"}}}
        ).json()["data"]["registerUser"]["token"]
        signed_in = {"Authorization": f"Bearer {token}"}
        for _ in range(3):
            spent = first.post("/graphql", json={"query": PAGE}, headers=signed_in).json()
            assert "errors" not in spent, spent
        over_at_first = first.post("/graphql", json={"query": PAGE})
        # Another address has a budget of its own; the user's budget goes with the token.
        anonymous_at_second = second.post("/graphql", json={"query": PAGE})
        user_at_second = second.post("/graphql", json={"query": PAGE}, headers=signed_in)
    rate_limited(over_at_first)
    assert "errors" not in anonymous_at_second.json(), anonymous_at_second.text
    rate_limited(user_at_second)


async def exchange(
    server: ServerProcess, protocol: str, start: str, operations: list[str]
) -> list[dict[str, Any]]:
    """Runs each query over one socket in turn; the first message answering each."""
    answers = []
    async with acknowledged(server, protocol, CLIENT) as socket:
        for n, query in enumerate(operations):
            message = {"id": str(n), "type": start, "payload": {"query": query}}
            await socket.send(json.dumps(message))
            while True:
                answer = json.loads(await asyncio.wait_for(socket.recv(), timeout=10))
                if answer.get("id") == str(n):
                    answers.append(answer)
                    break
    return answers


@EACH_PROTOCOL
async def test_past_the_budget_a_websocket_query_gets_an_error_for_its_id(
    start_server: StartServer, protocol: str, start: str, error_of: Any
) -> None:
    """The budget is the address's over HTTP and WebSockets alike; the socket stays open."""
    server = start_server(**BUDGET)
    parsed_before(server, PAGE, "{ __typename }")
    with client_at(server, CLIENT) as client:
        for _ in range(2):
            assert "errors" not in client.post("/graphql", json={"query": PAGE}).json()
    third, refused, free = await exchange(server, protocol, start, [PAGE, PAGE, "{ __typename }"])
    assert third["type"] in ("next", "data") and "errors" not in third["payload"], third
    assert (refused["id"], refused["type"]) == ("1", "error"), refused
    error = error_of(refused)
    assert error["extensions"]["code"] == "RATE_LIMITED", error
    assert 0 < error["extensions"]["retryAfter"] <= TWO_WINDOWS
    assert free["payload"] == {"data": {"__typename": "Query"}}, free
    with client_at(server, CLIENT) as client:
        rate_limited(client.post("/graphql", json={"query": PAGE}))


CREATE = "mutation($input: CreatePostInput!) { createPost(input: $input) { position post { id } } }"
PUBLISH = "mutation($input: PostCommandInput!) { publishPost(input: $input) { position } }"
HEAVY_FEED = "subscription { feed(after: 0) { id comments(first: 100) { edges { node { id } } } } }"


async def resumed_feeds(
    server: ServerProcess, address: str, times: int
) -> list[list[dict[str, Any]]]:
    """Resumes `HEAVY_FEED` `times` over one socket from `address`: the messages for each
    subscription until its catch-up (three posts) has come, or it ended."""
    answers: list[list[dict[str, Any]]] = []
    async with websockets.connect(
        f"ws://127.0.0.1:{server.port}/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        local_addr=(address, 0),
    ) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        for n in range(times):
            message = {"id": str(n), "type": "subscribe", "payload": {"query": HEAVY_FEED}}
            await socket.send(json.dumps(message))
            got: list[dict[str, Any]] = []
            while len(got) < 3:
                answer = json.loads(await asyncio.wait_for(socket.recv(), timeout=10))
                if answer.get("id") != str(n):
                    continue
                got.append(answer)
                if answer["type"] in ("error", "complete") or answer["payload"].get("errors"):
                    break
            answers.append(got)
    return answers


async def test_a_resumed_subscriptions_catch_up_is_charged(start_server: StartServer) -> None:
    """`feed(after:)` first sends everything that changed since: a page its client asked
    for, charged as one, its bound before it is read (4 posts at 204, of a cost limit of
    1,000) and what it did not hold given back. Three posts cost 612 of the 1,300: the
    second resume from the same address is refused before any of its catch-up is read."""
    server = start_server(**{**BUDGET, "INKWELL_RATE_LIMIT_QUERY_COST": "1300/minute"})
    with client_at(server, "127.0.0.2") as writer:
        token = writer.post(
            "/graphql", json={"query": ops.REGISTER, "variables": {"input": {"name": "Ada"}}}
        ).json()["data"]["registerUser"]["token"]
        signed_in = {"Authorization": f"Bearer {token}"}
        for n in range(3):
            draft = {"title": f"Post {n}", "content": "Text.", "tags": []}
            answer = writer.post(
                "/graphql",
                json={"query": CREATE, "variables": {"input": draft}},
                headers=signed_in,
            ).json()
            assert "errors" not in answer, answer
            created = answer["data"]["createPost"]
            published = writer.post(
                "/graphql",
                json={"query": PUBLISH, "variables": {"input": {"postId": created["post"]["id"]}}},
                headers={**signed_in, "X-Consistent-With": created["position"]},
            ).json()
            assert "errors" not in published, published
        for _ in range(100):
            listed = writer.post("/graphql", json={"query": SMALL}).json()
            if len(listed["data"]["recentPosts"]["edges"]) == 3:
                break
            await asyncio.sleep(0.1)
    first, second = await resumed_feeds(server, "127.0.0.3", 2)
    assert [answer["type"] for answer in first] == ["next"] * 3, first
    assert all("errors" not in answer["payload"] for answer in first), first
    (refused,) = second
    errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "RATE_LIMITED", refused
    assert 0 < errors[0]["extensions"]["retryAfter"] <= TWO_WINDOWS, refused
