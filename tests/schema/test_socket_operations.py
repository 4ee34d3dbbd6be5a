"""Queries and mutations over the legacy subscriptions-transport-ws protocol run as over
graphql-transport-ws (a `data` message, then `complete`) and under the same limits as
over HTTP; the per-connection operation limit answers with a code on both protocols."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketTestSession

from harness.redis_keys import forget
from protection.config import RateLimits
from tests.support.settings import make_settings
from tests.support.socket_protocols import EACH_PROTOCOL
from wiring.asgi import create_app

REGISTER = """mutation($input: RegisterUserInput!) { registerUser(input: $input) { token } }"""
PROJECTIONS = {"query": "subscription { projections { name } }"}
OPERATIONS_PER_CONNECTION = 100  # strawberry's max_subscriptions_per_connection


@pytest.fixture(scope="module")
def client(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """Rate limits on, with registrations at 2 a minute; subscribe messages at 1,000 a
    minute and a subscription budget that holds 100 of them (each `projections` costs
    101), so that one connection can reach its operation limit."""
    directory = tmp_path_factory.mktemp("socket-operations")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    settings = make_settings(f"sqlite:///{directory / 'events.db'}", redis_url, prefix, directory)
    limits = RateLimits(register="2/minute", subscribes="1000/minute")
    edge = dataclasses.replace(settings.edge, max_live_cost_per_address=100 * 101)
    try:
        with TestClient(
            create_app(dataclasses.replace(settings, rate_limits=limits, edge=edge))
        ) as tc:
            yield tc
    finally:
        forget(redis_url, prefix)


def acknowledged(ws: WebSocketTestSession, params: dict[str, Any] | None = None) -> None:
    ws.send_json({"type": "connection_init", "payload": params or {}})
    assert ws.receive_json() == {"type": "connection_ack"}


def answers(ws: WebSocketTestSession, id_: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The legacy messages that answer a `start`, up to its `complete` or `error`."""
    ws.send_json({"id": id_, "type": "start", "payload": payload})
    received = [ws.receive_json()]
    while received[-1]["type"] not in ("complete", "error"):
        received.append(ws.receive_json())
    return received


def test_a_query_runs_over_the_legacy_protocol(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.ERROR),
        client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws,
    ):
        acknowledged(ws)
        received = answers(ws, "1", {"query": "{ __typename }"})
    assert received == [
        {"type": "data", "id": "1", "payload": {"data": {"__typename": "Query"}}},
        {"type": "complete", "id": "1"},
    ]
    assert not caplog.records


def test_mutations_over_the_legacy_protocol_count_against_the_rate_limits(
    client: TestClient,
) -> None:
    with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
        acknowledged(ws)
        tokens = []
        for n in range(2):
            data, complete = answers(
                ws, str(n), {"query": REGISTER, "variables": {"input": {"name": f"Legacy {n}"}}}
            )
            assert (data["type"], complete["type"]) == ("data", "complete"), data
            tokens.append(data["payload"]["data"]["registerUser"]["token"])
        (refused,) = answers(
            ws, "3", {"query": REGISTER, "variables": {"input": {"name": "One too many"}}}
        )
    assert refused["type"] == "error", refused  # refused before it ran, as over HTTP (429)
    assert refused["payload"]["extensions"]["code"] == "RATE_LIMITED", refused
    with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
        acknowledged(ws, {"Authorization": f"Bearer {tokens[0]}"})
        data, _ = answers(ws, "1", {"query": "{ viewer { name } }"})
    assert data["payload"] == {"data": {"viewer": {"name": "Legacy 0"}}}


@EACH_PROTOCOL
def test_the_operation_past_the_connections_limit_is_refused_with_a_code(
    client: TestClient, protocol: str, start: str, error_of: Any
) -> None:
    with client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
        acknowledged(ws)
        for n in range(OPERATIONS_PER_CONNECTION):
            ws.send_json({"id": str(n), "type": start, "payload": PROJECTIONS})
            assert ws.receive_json()["id"] == str(n)  # its first item
        ws.send_json({"id": "over", "type": start, "payload": PROJECTIONS})
        refused = ws.receive_json()
    assert (refused["id"], refused["type"]) == ("over", "error"), refused
    assert error_of(refused)["message"].startswith("Subscription limit reached")
    assert error_of(refused)["extensions"] == {"code": "RATE_LIMITED"}


@EACH_PROTOCOL
def test_a_query_with_a_variable_of_the_wrong_type_is_refused_with_an_error(
    client: TestClient, protocol: str, start: str, error_of: Any
) -> None:
    """As a subscription's is, and as over HTTP (no `data`): both protocols sent it as a
    result, `data: null` then `complete`, which clients take for an answer."""
    query = "query($n: Int) { recentPosts(first: $n) { totalCount } }"
    with client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
        acknowledged(ws)
        ws.send_json(
            {"id": "q", "type": start, "payload": {"query": query, "variables": {"n": "x"}}}
        )
        refused = ws.receive_json()
        assert refused["type"] == "error", refused
        error = error_of(refused)
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "$n"}, refused
        # The next message answers the next operation: no `complete` for a refused one.
        ws.send_json({"id": "t", "type": start, "payload": {"query": "{ __typename }"}})
        answered = ws.receive_json()
        assert answered["id"] == "t" and answered["type"] in ("next", "data"), answered


def test_a_start_reusing_a_live_id_replaces_its_operation_without_completing_it(
    client: TestClient,
) -> None:
    """As the reference subscriptions-transport-ws server does. The server sent `complete`
    for the replaced operation, then the new one's `data` under the same id: clients drop
    an id at its `complete`, and lost every item after it (an outside probe)."""
    positions = {"query": "subscription { projections { position } }"}
    with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
        acknowledged(ws)
        ws.send_json({"id": "1", "type": "start", "payload": PROJECTIONS})
        assert ws.receive_json()["type"] == "data"
        ws.send_json({"id": "1", "type": "start", "payload": positions})
        item = ws.receive_json()
        assert (item["id"], item["type"]) == ("1", "data"), item
        assert all(set(status) == {"position"} for status in item["payload"]["data"]["projections"])
        ws.send_json({"id": "1", "type": "stop"})
        ws.send_json({"id": "q", "type": "start", "payload": {"query": "{ __typename }"}})
        received = [ws.receive_json()]
        while (received[-1]["id"], received[-1]["type"]) != ("q", "complete"):
            received.append(ws.receive_json())
    assert [(message["id"], message["type"]) for message in received] == [
        ("1", "complete"),  # the new one's, stopped: one operation ran under the id
        ("q", "data"),
        ("q", "complete"),
    ]
