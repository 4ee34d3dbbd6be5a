"""Sends a client never acknowledges are given up: every connection the server accepts,
HTTP and upgraded to a WebSocket alike, carries TCP_USER_TIMEOUT (wiring/http_protocol.py).
Without it, answers a client never read stayed in the kernel's send buffers after the
connection closed, for as long as the client kept its end (an outside probe: 556 MB for
200 connections); with it, 28 MB left by ten such connections went 30 s after the last
acknowledged byte (measured against `serve`)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import websockets
from websockets.typing import Subprotocol

from infra.settings import Settings
from tests.support.served_app import served
from wiring.http_protocol import SEND_STALL_SECONDS


def user_timeouts(connections: set[Any]) -> set[int]:
    """The open connections' TCP_USER_TIMEOUTs, in milliseconds, read off their sockets."""
    return {
        connection.transport.get_extra_info("socket").getsockopt(
            socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT
        )
        for connection in connections
        if not connection.transport.is_closing()
    }


async def test_http_connections_and_websockets_give_up_unacknowledged_sends(
    settings: Settings,
) -> None:
    async with served(settings) as running:
        port = int(running.url.split(":")[2].split("/")[0])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        assert user_timeouts(running.connections) == {SEND_STALL_SECONDS * 1000}
        writer.close()
        await writer.wait_closed()
        async with websockets.connect(
            running.url, subprotocols=[Subprotocol("graphql-transport-ws")]
        ):
            assert user_timeouts(running.connections) == {SEND_STALL_SECONDS * 1000}
