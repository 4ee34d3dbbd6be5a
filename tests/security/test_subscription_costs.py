"""What one client's live subscriptions may ask of the server per change is bounded: a
subscription has a cost limit of its own, far below a query's, and the subscriptions one
address holds at once share a budget (protection/subscription_budget.py). Before, one
socket held 40 subscriptions of 24,000 each to one post, and every like on it stalled
the event loop for everyone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2 as httpx
import websockets
from graphql import OperationType
from websockets.asyncio.client import ClientConnection

from harness.server_process import ServerProcess
from protection.config import EdgeLimits
from protection.subscription_budget import SubscriptionBudget
from schema.limits.cost import CostLimit
from tests.support.api import http_api
from tests.support.protected_server import StartServer

PROJECTIONS = "subscription { projections { name position } }"  # costs 1 + 100 x 2 = 201
COMMENTS = (
    "c{k}_{i}: comments(first: 100) "
    "{{ edges {{ node {{ id body createdAt author {{ name }} }} }} }}"
)


def costly(k: int, aliases: int) -> str:
    """The probe's subscription: a post's comments under `aliases` aliases, its name and
    aliases distinct so that no two are shared. 16 aliases cost 24,033; one, 1,503."""
    pages = " ".join(COMMENTS.format(k=k, i=i) for i in range(aliases))
    return f"subscription S{k}($id: ID!) {{ post(id: $id) {{ {pages} }} }}"


class Socket:
    """A graphql-transport-ws client that sends raw messages and reads them in order."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def subscribe(
        self, id_: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Subscribes, and returns the first message for `id_`."""
        payload = {"query": query, "variables": variables or {}}
        await self.connection.send(json.dumps({"id": id_, "type": "subscribe", "payload": payload}))
        return await self.next_for(id_)

    async def complete(self, id_: str) -> None:
        await self.connection.send(json.dumps({"id": id_, "type": "complete"}))

    async def next_for(self, id_: str) -> dict[str, Any]:
        while True:
            message = json.loads(await asyncio.wait_for(self.connection.recv(), timeout=10))
            if message.get("id") == id_:
                return dict(message)


@asynccontextmanager
async def socket(server: ServerProcess) -> AsyncIterator[Socket]:
    async with websockets.connect(
        f"ws://127.0.0.1:{server.port}/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
    ) as connection:
        await connection.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await connection.recv()) == {"type": "connection_ack"}
        yield Socket(connection)


def refused(message: dict[str, Any], code: str) -> dict[str, Any]:
    """The extensions of the `error` that refused an operation with `code`."""
    assert message["type"] == "error", message
    (error,) = message["payload"]
    assert error["extensions"]["code"] == code, error
    extensions: dict[str, Any] = error["extensions"]
    return extensions


def published_post(server: ServerProcess) -> str:
    """A published post, in the read models already: publishPost's `post` waited for them."""
    api = http_api(server)
    post_id: str = api.published_post(api.register("Ann"))["id"]
    return post_id


def test_the_budget_counts_each_address_apart_and_takes_back_what_ends() -> None:
    budget = SubscriptionBudget(500)
    assert budget.take("10.0.0.1", 300) and budget.take("10.0.0.1", 200)
    assert not budget.take("10.0.0.1", 1)
    assert budget.take("10.0.0.2", 500)
    budget.give_back("10.0.0.1", 300)
    assert budget.held("10.0.0.1") == 200
    assert budget.take("10.0.0.1", 300)


def test_a_subscription_is_held_to_the_lower_of_the_two_limits() -> None:
    defaults = EdgeLimits()
    assert CostLimit(defaults.max_query_cost, defaults.max_subscription_cost).of(None) == 25_000
    assert (
        EdgeLimits.from_env({"INKWELL_MAX_SUBSCRIPTION_COST": "700"}).max_subscription_cost == 700
    )
    assert CostLimit(100, 2_500).of(OperationType.SUBSCRIPTION) == 100
    assert CostLimit(25_000, 2_500).of(OperationType.SUBSCRIPTION) == 2_500
    assert CostLimit(25_000, 2_500).of(OperationType.QUERY) == 25_000


async def test_a_subscription_over_its_limit_is_refused_and_the_socket_goes_on(
    start_server: StartServer,
) -> None:
    """Even with rate limits off: the limit is on the document, like a query's."""
    server = start_server(INKWELL_RATE_LIMITS="off")
    post_id = published_post(server)
    async with socket(server) as client:
        refusal = await client.subscribe("1", costly(1, 2), {"id": post_id})
        assert refused(refusal, "QUERY_TOO_COMPLEX") == {
            "code": "QUERY_TOO_COMPLEX",
            "cost": 3_005,
            "maxCost": 2_500,
        }
        assert "Subscription too complex" in refusal["payload"][0]["message"]
        # The same document as a query is within a query's limit; a cheaper subscription
        # on the same socket runs, and so does the refused id, reused.
        first = await client.subscribe("1", costly(1, 1), {"id": post_id})
        assert first["type"] == "next" and first["payload"]["data"]["post"], first
        item = await client.subscribe("2", PROJECTIONS)
        assert item["type"] == "next" and item["payload"]["data"]["projections"], item
    with httpx.Client(base_url=server.url, timeout=30) as http:
        query = costly(1, 2).replace("subscription", "query", 1)
        answer = http.post("/graphql", json={"query": query, "variables": {"id": post_id}})
    assert answer.json()["data"]["post"] is not None, answer.text


async def test_past_the_budget_a_subscription_is_refused_until_one_ends(
    start_server: StartServer,
) -> None:
    """Over every socket of the address, and for each subscriber of a shared subscription:
    two identical ones are executed once, yet each counts."""
    server = start_server(INKWELL_MAX_LIVE_COST_PER_ADDRESS="450")
    async with socket(server) as one, socket(server) as two:
        assert (await one.subscribe("a", PROJECTIONS))["type"] == "next"
        assert (await two.subscribe("a", PROJECTIONS))["type"] == "next"  # shared: 402
        refusal = await one.subscribe("b", PROJECTIONS)
        assert refused(refusal, "RATE_LIMITED") == {
            "code": "RATE_LIMITED",
            "cost": 201,
            "liveCost": 402,
            "maxLiveCost": 450,
        }
        assert "retryAfter" not in refusal["payload"][0]["extensions"]
        # A query is not held: it runs once.
        answer = await one.subscribe("q", "{ __typename }")
        assert answer["payload"] == {"data": {"__typename": "Query"}}, answer
        await one.complete("a")
        await asyncio.sleep(0.2)  # the completed subscription's task ends
        assert (await one.subscribe("b", PROJECTIONS))["type"] == "next"
        assert (await one.subscribe("c", PROJECTIONS))["type"] == "error"
    # Closed sockets give back all they held.
    async with socket(server) as three:
        await asyncio.sleep(0.2)
        assert (await three.subscribe("a", PROJECTIONS))["type"] == "next"
        assert (await three.subscribe("b", PROJECTIONS))["type"] == "next"


async def test_the_legacy_protocol_is_held_to_the_same_budget(start_server: StartServer) -> None:
    server = start_server(INKWELL_MAX_LIVE_COST_PER_ADDRESS="300")
    async with websockets.connect(
        f"ws://127.0.0.1:{server.port}/graphql",
        subprotocols=["graphql-ws"],  # type: ignore[list-item]
    ) as connection:
        await connection.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await connection.recv())["type"] == "connection_ack"

        async def start(id_: str) -> dict[str, Any]:
            payload = {"query": PROJECTIONS}
            await connection.send(json.dumps({"id": id_, "type": "start", "payload": payload}))
            while True:
                message = json.loads(await asyncio.wait_for(connection.recv(), timeout=10))
                if message.get("id") == id_:
                    return dict(message)

        assert (await start("1"))["type"] == "data"
        refusal = await start("2")
        assert refusal["type"] == "error", refusal
        assert refusal["payload"]["extensions"]["code"] == "RATE_LIMITED"
        await connection.send(json.dumps({"id": "1", "type": "stop"}))
        await asyncio.sleep(0.2)
        assert (await start("3"))["type"] == "data"


async def test_with_rate_limits_off_there_is_no_budget(start_server: StartServer) -> None:
    server = start_server(INKWELL_RATE_LIMITS="off", INKWELL_MAX_LIVE_COST_PER_ADDRESS="300")
    async with socket(server) as client:
        for id_ in "abc":
            assert (await client.subscribe(id_, PROJECTIONS))["type"] == "next"


async def test_the_probes_attack_is_refused_within_every_other_limit(
    start_server: StartServer,
) -> None:
    """The outside probe's attack, scaled to the subscribe rate a test may spend: distinct
    costly subscriptions to one published post from one socket. At 24,033 each (under the
    query limit) every one is refused; at 1,503 each, the budget holds six (9,018 of
    10,000) and refuses the rest, and the socket serves on."""
    server = start_server()  # default limits, rate limits on
    post_id = published_post(server)
    async with socket(server) as client:
        for k in range(20):
            refusal = await client.subscribe(f"big{k}", costly(k, 16), {"id": post_id})
            assert refused(refusal, "QUERY_TOO_COMPLEX")["cost"] == 24_033
        answers = [
            await client.subscribe(f"small{k}", costly(k, 1), {"id": post_id}) for k in range(20)
        ]
        for answer in answers[:6]:
            assert answer["type"] == "next" and answer["payload"]["data"]["post"], answer
        for answer in answers[6:]:
            assert refused(answer, "RATE_LIMITED")["liveCost"] == 9_018
        item = await client.subscribe("cheap", PROJECTIONS)  # the socket serves on
        assert item["type"] == "next", item
