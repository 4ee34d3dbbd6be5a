"""The GraphQL WebSocket on /graphql, as graphql-ws clients (GraphiQL, browsers, Node) see it."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
import strawberry
from starlette.testclient import TestClient
from starlette.types import Message
from starlette.websockets import WebSocket
from starlette.websockets import WebSocketDisconnected as SocketClosed
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation
from uvicorn.protocols.utils import ClientDisconnected

from schema.sockets import INVALID_MESSAGE, TransportWSHandler
from tests.support.api import Api


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
def test_websocket_messages_are_text_frames(api: Api, protocol: str) -> None:
    # graphql-ws rejects binary frames ("Message is missing the 'type' property").
    client = cast(TestClient, api.client)  # the api fixture speaks through the TestClient
    with client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        message = ws.receive()
        assert message.get("bytes") is None, message
        assert message["text"] == '{"type":"connection_ack"}'


@strawberry.type
class Query:
    ok: bool = True


SCHEMA = strawberry.Schema(query=Query)  # `{ __typename }` is all the operations ask
INIT_WAIT = timedelta(minutes=1)
OPERATIONS = 2  # run one after another on the closed socket


async def server_closing(socket: WebSocket) -> None:
    """The server's own close (4400 for an invalid message, 4409 for a reused id)."""
    await socket.close(INVALID_MESSAGE, "Unknown message type: x")


async def client_leaving(socket: WebSocket) -> None:
    """Nothing: the client's reset shows at the next send (send_refused)."""


async def send_refused(message: Message) -> None:
    """uvicorn's send once its client has gone; the close frame is still written."""
    if message["type"] == "websocket.send":
        raise ClientDisconnected


def handler_on(socket: WebSocket) -> TransportWSHandler:
    """The graphql-transport-ws handler on `socket`, with no context (nothing here reads
    it) and a view that only encodes."""
    view = cast(Any, SimpleNamespace(encode_json=json.dumps))
    adapter = ASGIWebSocketAdapter(view, socket, socket)
    return TransportWSHandler(view, adapter, cast(Any, None), None, SCHEMA, INIT_WAIT)


@pytest.mark.parametrize("close", [server_closing, client_leaving])
async def test_a_send_after_the_socket_closed_is_not_logged_as_an_error(
    close: Callable[[WebSocket], Awaitable[None]], caplog: pytest.LogCaptureFixture
) -> None:
    """An operation whose answer is sent after its socket closed, by the server (a 4400
    or 4409 while other operations run) or by a client that left (uvicorn's
    ClientDisconnected for the first send, then Starlette's "Cannot call "send" once a
    close message has been sent." for every later one, the other operations' included):
    strawberry logged "Exception in worker task" at ERROR with the traceback (an outside
    probe, 40 sockets closing with 4400 and 4409 mid-stream). One DEBUG line each."""

    async def connect() -> Message:
        return {"type": "websocket.connect"}

    socket = WebSocket({"type": "websocket", "headers": []}, connect, send_refused)
    await socket.accept()
    await close(socket)
    handler = handler_on(socket)
    with caplog.at_level(logging.DEBUG):
        for n in range(OPERATIONS):
            operation = Operation(handler, str(n), "{ __typename }", None, None)
            with pytest.raises((WebSocketDisconnected, SocketClosed)):
                await handler.run_operation(operation)
    assert [r for r in caplog.records if r.levelno > logging.INFO or r.exc_info] == []
    assert len([r for r in caplog.records if r.name == "schema.sockets"]) == OPERATIONS


async def test_a_failing_operation_is_still_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = handler_on(cast(Any, None))
    try:
        raise RuntimeError("a bug")
    except RuntimeError as bug:
        await handler.handle_task_exception(bug)
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None
