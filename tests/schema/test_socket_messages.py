"""Malformed messages on the GraphQL WebSocket close it with 4400 and a reason, as the
graphql-transport-ws protocol asks, with rate limits on (as in production): no traceback,
no dropped socket, and no operation left holding its slot without an answer. Messages
well formed but ambiguous or unauthorised are refused as over HTTP."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from harness.redis_keys import forget
from protection.config import RateLimits
from schema.view import InkwellGraphQL
from tests.support.settings import make_settings
from tests.support.socket_protocols import EACH_PROTOCOL
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
    {"id": "x" * 129, "type": "subscribe", "payload": QUERY},
    {"id": "x" * 129, "type": "complete"},
    {"type": "x" * 1000},
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
    {"id": "x" * 129, "type": "start", "payload": QUERY},
    {"id": "x" * 129, "type": "stop"},
    {"type": "subscribe", "id": "1", "payload": QUERY},
    {"type": "x" * 1000},
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
    return answer_to_text(client, protocol, orjson.dumps(frame).decode())


# A message each protocol always answers: sent after one that may be ignored, it makes an
# ignored message fail a test instead of leaving it waiting (a second connection_init
# closes the socket with 4429).
ANSWERED = {"graphql-transport-ws": {"type": "ping"}, "graphql-ws": {"type": "connection_init"}}


def answer_to_text(client: TestClient, protocol: str, text: str) -> dict[str, Any]:
    with client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_text(text)
        ws.send_json(ANSWERED[protocol])
        return dict(ws.receive())


@pytest.mark.parametrize(
    ("protocol", "frame"),
    [
        *(("graphql-transport-ws", frame) for frame in TRANSPORT_FRAMES),
        *(("graphql-ws", frame) for frame in LEGACY_FRAMES),
    ],
    ids=lambda value: repr(value)[:80],
)
def test_a_malformed_message_closes_with_4400(
    client: TestClient, protocol: str, frame: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        closed = closing_of(client, protocol, frame)
    assert closed["type"] == "websocket.close" and closed["code"] == 4400, closed
    assert 0 < len(closed["reason"].encode()) <= CLOSE_REASON_BYTES
    # Errors only: the app's projectors, started by the module's client, may say at any
    # moment that they are building their read models (a WARNING that failed a CI run).
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
@pytest.mark.parametrize("text", ["{nope", "", '{"type": "start"'])
def test_a_frame_that_is_not_json_closes_with_4400(
    client: TestClient, protocol: str, text: str
) -> None:
    """The legacy protocol skipped it silently, as it did a message of an unknown type."""
    closed = answer_to_text(client, protocol, text)
    assert closed["type"] == "websocket.close" and closed["code"] == 4400, closed


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
def test_a_binary_frame_closes_with_4400(client: TestClient, protocol: str) -> None:
    """The legacy protocol closed with 1002, where the README promises both protocols
    graphql-transport-ws's codes (an outside probe)."""
    with client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_bytes(b'{"type": "connection_init"}')
        closed = dict(ws.receive())
    assert closed["type"] == "websocket.close" and closed["code"] == 4400, closed


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


CLOSE_REASON_BYTES = 123  # RFC 6455, 5.5: 125 bytes in a control frame, 2 of them the code

TWO_OPERATIONS = f"subscription A {PROJECTIONS[len('subscription ') :]} query B {{ __typename }}"


@EACH_PROTOCOL
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


@pytest.mark.parametrize("authorization", ["Bearer", "Bearer  ", "Bearer nope"])
def test_bearer_credentials_that_prove_nothing_close_with_4403(
    client: TestClient, authorization: str
) -> None:
    """Where HTTP answers 401 (a token that does not verify) or 400 (no token)."""
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": authorization}})
        closed = ws.receive()
    assert closed["type"] == "websocket.close" and closed["code"] == 4403, closed


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
def test_a_connection_init_giving_authorization_twice_closes_with_4403(
    client: TestClient, protocol: str
) -> None:
    """As two Authorization headers are a 400 over HTTP: the first spelling counted, and
    the second was never looked at (an outside probe)."""
    twice = {"Authorization": "Basic QWxhZGRpbjpvcGVu", "authorization": "Bearer nope"}
    with client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
        ws.send_json({"type": "connection_init", "payload": twice})
        if protocol == "graphql-ws":
            assert ws.receive_json()["type"] == "connection_error"
        closed = ws.receive()
    assert closed["type"] == "websocket.close" and closed["code"] == 4403, closed


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
@pytest.mark.parametrize("key", ["Authorization", "authorization"])
def test_a_connection_init_giving_one_spelling_of_authorization_twice_is_refused(
    client: TestClient, protocol: str, key: str
) -> None:
    """The JSON reader kept the last: a junk token before a valid one was neither refused
    nor counted as a guess, and a gateway reading the first saw another user (an
    outside probe). Here the last would have made an anonymous reader."""
    twice = f'{{"{key}": "Bearer junk", "{key}": "Basic QWxhZGRpbjpvcGVu"}}'
    with client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
        ws.send_text(f'{{"type": "connection_init", "payload": {twice}}}')
        closed = ws.receive()
    assert closed["type"] == "websocket.close" and closed["code"] == 4400, closed
    assert f"`{key}` is given twice" in closed["reason"], closed


@pytest.mark.parametrize("where", ["connection_init", "handshake"])
def test_another_schemes_credentials_are_an_anonymous_reader(
    client: TestClient, where: str
) -> None:
    """As over HTTP: a proxy's Basic authentication in front of Inkwell is not Inkwell's,
    and a browser sends it with the handshake too. It closed the socket with 4403."""
    basic = {"Authorization": "Basic QWxhZGRpbjpvcGVu"}
    with client.websocket_connect(
        "/graphql",
        subprotocols=["graphql-transport-ws"],
        headers=dict(basic) if where == "handshake" else {},
    ) as ws:
        payload = basic if where == "connection_init" else {}
        ws.send_json({"type": "connection_init", "payload": payload})
        assert ws.receive_json()["type"] == "connection_ack"
        viewer = {"query": "{ viewer { id } }"}
        ws.send_json({"id": "1", "type": "subscribe", "payload": viewer})
        assert ws.receive_json()["payload"] == {"data": {"viewer": None}}


def test_a_legacy_token_that_does_not_verify_closes_with_4403_after_connection_error(
    client: TestClient,
) -> None:
    """As over graphql-transport-ws; it closed with 1011, an internal error."""
    with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}})
        refused = ws.receive_json()
        closed = ws.receive()
    assert refused["type"] == "connection_error", refused
    assert closed["type"] == "websocket.close" and closed["code"] == 4403, closed


@pytest.mark.parametrize(
    "init", [{"type": "connection_init", "payload": None}, {"type": "connection_init"}]
)
def test_a_connection_init_without_a_payload_is_acknowledged(
    client: TestClient, init: dict[str, Any]
) -> None:
    """The graphql-ws reference server accepts a payload that is null or missing."""
    for protocol in ("graphql-transport-ws", "graphql-ws"):
        with client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
            ws.send_json(init)
            assert ws.receive_json() == {"type": "connection_ack"}


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
def test_a_second_connection_init_closes_with_4429(client: TestClient, protocol: str) -> None:
    """Legacy graphql-ws acknowledged a second one, and its token became the socket's
    user, past that token's expiry (an outside probe)."""
    with client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json({"type": "connection_init", "payload": {"Authorization": "Bearer x"}})
        closed = ws.receive()
    assert closed["type"] == "websocket.close" and closed["code"] == 4429, closed


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
@pytest.mark.parametrize("payload", [5, "x", []])
def test_a_connection_init_payload_that_is_not_an_object_closes_with_4400(
    client: TestClient, protocol: str, payload: Any
) -> None:
    with client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
        ws.send_json({"type": "connection_init", "payload": payload})
        while (answer := ws.receive())["type"] != "websocket.close":
            assert orjson.loads(answer["text"]) == {"type": "connection_error"}  # legacy's
    assert answer["code"] == 4400, answer


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
def test_a_socket_that_never_sends_connection_init_closes_with_4408(
    client: TestClient, protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The view's connection_init_wait_timeout (a minute) for both protocols; the legacy
    one had none, and a socket stayed open past 75 s."""
    # The HTTP route and the WebSocket route serve the same view.
    (view,) = {
        route.app
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(getattr(route, "app", None), InkwellGraphQL)
    }
    monkeypatch.setattr(view, "connection_init_wait_timeout", timedelta(seconds=0.2))
    with client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
        time.sleep(1)
        # Answered with connection_ack were the socket open; ignored once timed out.
        ws.send_json({"type": "connection_init", "payload": {}})
        closed = ws.receive()
    assert closed["type"] == "websocket.close" and closed["code"] == 4408, closed


TWO_SUBSCRIPTIONS = f"{TWO_OPERATIONS.split(' query ')[0]} subscription B {PROJECTIONS[13:]}"


@EACH_PROTOCOL
@pytest.mark.parametrize(
    ("query", "name"),
    [(TWO_SUBSCRIPTIONS, "C"), (PROJECTIONS, "C"), ("fragment F on Query { __typename }", None)],
)
def test_an_operation_name_that_selects_nothing_is_refused_for_that_id_alone(
    client: TestClient,
    protocol: str,
    start: str,
    error_of: Any,
    query: str,
    name: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As over HTTP; graphql-transport-ws closed the whole socket with 4400, the legacy
    protocol answered INTERNAL_SERVER_ERROR, and both logged a traceback."""
    with (
        caplog.at_level(logging.ERROR),
        client.websocket_connect("/graphql", subprotocols=[protocol]) as ws,
    ):
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json({"id": "1", "type": start, "payload": QUERY})
        assert ws.receive_json()["id"] == "1"
        ws.send_json({"id": "2", "type": start, "payload": {"query": query, "operationName": name}})
        error = ws.receive_json()
        assert (error["id"], error["type"]) == ("2", "error"), error
        assert error_of(error)["extensions"] == {"code": "BAD_REQUEST"}
        if name is not None:
            assert error_of(error)["message"] == f'Unknown operation named "{name}".'
        ws.send_json(
            {
                "id": "3",
                "type": start,
                "payload": {"query": TWO_SUBSCRIPTIONS, "operationName": "B"},
            }
        )
        item = ws.receive_json()
        assert item["id"] in ("1", "3") and "errors" not in item["payload"], item
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_a_reused_id_closes_with_4409_and_a_reason_that_fits_a_close_frame(
    client: TestClient,
) -> None:
    """strawberry's reason quotes the id: 128 two-byte characters made it 286 bytes, which
    uvicorn refused to send (a traceback, the socket dropped without a close frame)."""
    id_ = "é" * 128
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json({"id": id_, "type": "subscribe", "payload": QUERY})
        assert ws.receive_json()["id"] == id_
        ws.send_json({"id": id_, "type": "subscribe", "payload": QUERY})
        while (closed := ws.receive())["type"] != "websocket.close":
            pass  # the first subscription's items
    assert closed["code"] == 4409, closed
    assert closed["reason"].startswith("Subscriber for é")
    assert len(closed["reason"].encode()) <= CLOSE_REASON_BYTES
