"""A peer that stops answering pings is closed with 1001, which clients reconnect after:
uvicorn's 1011 is fatal to graphql-ws (wiring/websocket_protocol.py, keepalive_timeout)."""

from __future__ import annotations

import asyncio
import base64
import os
import struct

import uvicorn
from starlette.types import Receive, Scope, Send

from harness.net import free_port
from wiring.websocket_protocol import GOING_AWAY, TurnJoinedWebSocketProtocol


async def accepting(scope: Scope, receive: Receive, send: Send) -> None:
    """Accepts a WebSocket and holds it until it closes."""
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def close_code_of_a_silent_peer(port: int) -> int:
    """Opens a WebSocket, answers no ping, and returns the code of the close it gets."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16))
    writer.write(
        b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + b"\r\n\r\n"
    )
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101 ")
    try:
        while True:
            opcode, length = struct.unpack("!BB", await reader.readexactly(2))
            payload = await reader.readexactly(length & 0x7F)  # the server's are short
            if opcode & 0x0F == 0x8:  # close
                code: int = struct.unpack("!H", payload[:2])[0]
                return code
    finally:
        writer.close()


async def test_a_peer_that_stops_answering_pings_is_closed_with_going_away() -> None:
    port = free_port()
    config = uvicorn.Config(
        accepting,
        port=port,
        log_level="warning",
        lifespan="off",
        ws=TurnJoinedWebSocketProtocol,
        ws_ping_interval=0.2,
        ws_ping_timeout=0.2,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        async with asyncio.timeout(10):
            assert await close_code_of_a_silent_peer(port) == GOING_AWAY
    finally:
        server.should_exit = True
        await serving
