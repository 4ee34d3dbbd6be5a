"""The two GraphQL WebSocket protocols as tests drive them: the message type that starts
an operation, and where an `error` message keeps its error (graphql-transport-ws sends a
list of them, the legacy protocol one)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from harness.server_process import ServerProcess


def first_error(message: dict[str, Any]) -> dict[str, Any]:
    error: dict[str, Any] = message["payload"][0]
    return error


def only_error(message: dict[str, Any]) -> dict[str, Any]:
    error: dict[str, Any] = message["payload"]
    return error


# Parametrizes a test over (protocol, start, error_of).
EACH_PROTOCOL = pytest.mark.parametrize(
    ("protocol", "start", "error_of"),
    [
        ("graphql-transport-ws", "subscribe", first_error),
        ("graphql-ws", "start", only_error),
    ],
)


@asynccontextmanager
async def acknowledged(
    server: ServerProcess, protocol: str, address: str = "127.0.0.1"
) -> AsyncIterator[ClientConnection]:
    """A socket from `address` speaking `protocol`, its connection_init acknowledged."""
    async with websockets.connect(
        f"ws://127.0.0.1:{server.port}/graphql",
        subprotocols=[protocol],  # type: ignore[list-item]
        local_addr=(address, 0),
    ) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        yield socket
