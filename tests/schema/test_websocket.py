"""The GraphQL WebSocket on /graphql, as graphql-ws clients (GraphiQL, browsers, Node) see it."""

from __future__ import annotations

import pytest

from tests.support.api import Api


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
def test_websocket_messages_are_text_frames(api: Api, protocol: str) -> None:
    # graphql-ws rejects binary frames ("Message is missing the 'type' property").
    with api.client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        message = ws.receive()
        assert message.get("bytes") is None, message
        assert message["text"] == '{"type":"connection_ack"}'
