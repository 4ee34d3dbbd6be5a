"""Malformed messages on the GraphQL WebSocket close it with 4400 and a reason, as the
graphql-transport-ws protocol asks, with rate limits on (as in production): no traceback,
no dropped socket, and no operation left holding its slot without an answer. Messages
well formed but ambiguous or unauthorised are refused as over HTTP."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from harness.redis_keys import forget
from protection.config import RateLimits
from tests.support.settings import make_settings
from wiring.asgi import create_app

PROJECTIONS = "subscription { projections { name } }"
QUERY: dict[str, Any] = {"query": PROJECTIONS}

TRANSPORT_FRAMES: list[Any] = [
    [],
    5,
    "x",
    None,
    {"type": []},
    {"type": {}},
    {"id": {}, "type": "subscribe", "payload": QUERY},
    {"id": [], "type": "subscribe", "payload": QUERY},
    {"id": 1, "type": "subscribe", "payload": QUERY},
    {"id": None, "type": "subscribe", "payload": QUERY},
    {"id": "", "type": "subscribe", "payload": QUERY},
    {"type": "subscribe", "payload": QUERY},
    {"id": "1", "type": "subscribe", "payload": 5},
    {"id": "1", "type": "subscribe", "payload": "ab"},
    {"id": "1", "type": "subscribe", "payload": None},
    {"id": "1", "type": "subscribe"},
    {"id": "1", "type": "subscribe", "payload": {**QUERY, "extensions": "x"}},
    {"id": "1", "type": "subscribe", "payload": {**QUERY, "variables": []}},
    {"id": "1", "type": "subscribe", "payload": {**QUERY, "operationName": []}},
    {"id": "1", "type": "subscribe", "payload": {"query": None}},
    {"id": "1", "type": "subscribe", "payload": {"query": 5}},
    {"id": "1", "type": "subscribe", "payload": {"query": ["x"]}},
    {"id": "1", "type": "subscribe", "payload": {"query": ""}},
    {"id": "1", "type": "subscribe", "payload": {}},
    {"type": "complete", "id": {}},
    {"type": "complete", "id": 1},
    {"type": "complete"},
]
LEGACY_FRAMES: list[Any] = [
    [],
    None,
    {"type": []},
    {"id": "1", "type": "start", "payload": 5},
    {"id": {}, "type": "start", "payload": QUERY},
    {"id": "1", "type": "start", "payload": {"query": None}},
    {"type": "start", "payload": QUERY},
    {"id": {}, "type": "stop"},
]


@pytest.fixture(scope="module")
def client(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the module, rate limits on: the guard in front of the handler reads
    every subscribe message too."""
    directory = tmp_path_factory.mktemp("socket-messages")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    settings = make_settings(f"sqlite:///{directory / 'events.db'}", redis_url, prefix, directory)
    try:
        with TestClient(create_app(dataclasses.replace(settings, rate_limits=RateLimits()))) as tc:
            yield tc
    finally:
        forget(redis_url, prefix)


def closing_of(client: TestClient, protocol: str, frame: Any) -> dict[str, Any]:
    """What the server answers `frame` with, sent after connection_init was acknowledged."""
    with client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_text(orjson.dumps(frame).decode())
        return dict(ws.receive())


@pytest.mark.parametrize(
    ("protocol", "frame"),
    [
        *(("graphql-transport-ws", frame) for frame in TRANSPORT_FRAMES),
        *(("graphql-ws", frame) for frame in LEGACY_FRAMES),
    ],
    ids=repr,
)
def test_a_malformed_message_closes_with_4400(
    client: TestClient, protocol: str, frame: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        closed = closing_of(client, protocol, frame)
    assert closed["type"] == "websocket.close" and closed["code"] == 4400, closed
    assert closed["reason"]
    assert not caplog.records


def test_a_well_formed_subscription_still_runs(client: TestClient) -> None:
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json() == {"type": "connection_ack"}
        payload = {**QUERY, "operationName": None, "variables": None, "extensions": {}}
        ws.send_json({"id": "1", "type": "subscribe", "payload": payload})
        item = ws.receive_json()
        assert (item["id"], item["type"]) == ("1", "next"), item
        assert isinstance(item["payload"]["data"]["projections"], list)
        ws.send_json({"id": "1", "type": "complete"})
        ws.send_json({"type": "ping"})
        while (answer := ws.receive_json()) != {"type": "pong"}:
            assert (answer["id"], answer["type"]) == ("1", "next"), answer


def test_a_well_formed_legacy_subscription_still_runs(client: TestClient) -> None:
    with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json({"id": "1", "type": "start", "payload": QUERY})
        item = ws.receive_json()
        assert (item["id"], item["type"]) == ("1", "data"), item
        assert isinstance(item["payload"]["data"]["projections"], list)


def test_a_document_named_by_hash_alone_is_not_malformed(client: TestClient) -> None:
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json() == {"type": "connection_ack"}
        payloads: list[dict[str, Any]] = [
            {"query": "", "extensions": persisted},
            {"extensions": persisted},
        ]
        for i, payload in enumerate(payloads):
            ws.send_json({"id": str(i), "type": "subscribe", "payload": payload})
            error = ws.receive_json()
            assert (error["id"], error["type"]) == (str(i), "error"), error
            assert error["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


TWO_OPERATIONS = f"subscription A {PROJECTIONS[len('subscription ') :]} query B {{ __typename }}"


@pytest.mark.parametrize(
    ("protocol", "start", "error_of"),
    [
        ("graphql-transport-ws", "subscribe", lambda error: error["payload"][0]),
        ("graphql-ws", "start", lambda error: error["payload"]),
    ],
)
def test_several_operations_without_a_name_are_refused_and_run_neither(
    client: TestClient, protocol: str, start: str, error_of: Any
) -> None:
    """As over HTTP (test_operation_names.py): strawberry would run the first."""
    with client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json({"id": "1", "type": start, "payload": {"query": TWO_OPERATIONS}})
        error = ws.receive_json()
        assert (error["id"], error["type"]) == ("1", "error"), error
        assert error_of(error)["extensions"] == {"code": "BAD_REQUEST"}
        named = {"query": TWO_OPERATIONS, "operationName": "A"}
        ws.send_json({"id": "2", "type": start, "payload": named})
        item = ws.receive_json()
        assert item["id"] == "2" and isinstance(item["payload"]["data"]["projections"], list)


@pytest.mark.parametrize("authorization", [5, ["Bearer x"], {"token": "x"}, True])
def test_an_authorization_that_is_not_a_string_closes_with_4403(
    client: TestClient, authorization: Any
) -> None:
    """Like a token that does not verify; it used to be taken for an anonymous reader."""
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": authorization}})
        closed = ws.receive()
    assert closed["type"] == "websocket.close" and closed["code"] == 4403, closed
