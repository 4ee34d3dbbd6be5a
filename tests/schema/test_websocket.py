"""The GraphQL WebSocket on /graphql, as graphql-ws clients (GraphiQL, browsers, Node) see it."""

from __future__ import annotations

from typing import cast

import pytest
from starlette.testclient import TestClient

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


def test_a_client_leaving_mid_item_is_not_logged_as_an_error_but_real_errors_are() -> None:
    import logging
    import sys

    from strawberry.http.exceptions import WebSocketDisconnected

    from schema.view import ClientGone

    def record(error: Exception) -> logging.LogRecord:
        try:
            raise error
        except Exception:
            info = sys.exc_info()
        return logging.LogRecord("strawberry.ws.task", logging.ERROR, "", 0, "x", None, info)

    assert ClientGone().filter(record(WebSocketDisconnected())) is False
    assert ClientGone().filter(record(RuntimeError("a bug"))) is True
