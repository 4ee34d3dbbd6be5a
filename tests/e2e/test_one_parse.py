"""A document is parsed once whichever part of the server reads it (schema/parsed.py):
the subscribe rate's kind check, the socket's refusals and live cost, the shared
subscriptions' root field and the schema each had a parse memo of their own, and a
130 KB comment-padded query over a socket was parsed four times (a re-check probe)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import websockets
from websockets.typing import Subprotocol

from infra.settings import Settings
from schema.parsed import parsed_document
from tests.support.served_app import serving

PADDED = "# " + "x" * 40_000 + "\n{ __typename }"  # a long text, kept apart by the memo


async def test_a_long_query_over_a_socket_is_parsed_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses: list[str] = []
    parse: Callable[[str], Any] = parsed_document._function

    def counted(query: str) -> Any:
        parses.append(query)
        return parse(query)

    monkeypatch.setattr(parsed_document, "_function", counted)
    async with serving(settings) as (url, _):
        subprotocols = [Subprotocol("graphql-transport-ws")]
        async with websockets.connect(url, subprotocols=subprotocols) as socket:
            await socket.send(json.dumps({"type": "connection_init"}))
            assert json.loads(await socket.recv())["type"] == "connection_ack"
            message = {"id": "q", "type": "subscribe", "payload": {"query": PADDED}}
            await socket.send(json.dumps(message))
            answer = json.loads(await socket.recv())
    assert answer["payload"] == {"data": {"__typename": "Query"}}
    assert parses.count(PADDED) == 1
