"""A WebSocket client that stops reading may leave the server at most an answer's worth of
bytes to hold (wiring/websocket_backlog.py): each query it sent past that had its answer
held until the client went away."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psutil
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close
from websockets.typing import Subprotocol

from harness.server_process import ServerProcess
from tests.support.long_posts import PAGE, POSTS, publish_long_posts
from tests.support.protected_server import StartServer
from tests.support.socket_protocols import EACH_PROTOCOL
from wiring.websocket_backlog import NOT_READING, TRY_AGAIN_LATER

QUERIES = 12
MB = 1024 * 1024


@EACH_PROTOCOL
def test_a_client_that_stops_reading_is_closed_and_the_server_does_not_hold_its_answers(
    start_server: StartServer, protocol: str, start: str, error_of: Any
) -> None:
    """Twelve pages of 10 MB asked for one after another, none read: the server grew by
    265 MB (both protocols), held until the client left. Now the socket is closed with
    1013 once a second answer would wait behind the first, and the server grew by 38 MB;
    another socket's client is still answered the same page."""
    server = start_server(INKWELL_RATE_LIMITS="off")  # 200 writes from one user
    publish_long_posts(server)
    closed = asyncio.run(_stall_then_read(server, protocol, start))
    assert (closed.code, closed.reason) == (TRY_AGAIN_LATER, NOT_READING)


async def _stall_then_read(server: ServerProcess, protocol: str, start: str) -> Close:
    """One client sends QUERIES without reading while another reads the same page; the
    server must not grow by their answers. Then the first reads: the close frame."""
    assert server.process is not None
    memory = psutil.Process(server.process.pid)
    async with _socket(server, protocol) as stalled, _socket(server, protocol) as reader:
        stalled.transport.pause_reading()
        before = memory.memory_info().rss
        grown = 0
        for n in range(QUERIES):
            await stalled.send(
                json.dumps({"id": str(n), "type": start, "payload": {"query": PAGE}})
            )
            await asyncio.sleep(0.25)  # one after another: each answer made before the next
            grown = max(grown, memory.memory_info().rss - before)
        await reader.send(json.dumps({"id": "r", "type": start, "payload": {"query": PAGE}}))
        answer = json.loads(await asyncio.wait_for(reader.recv(), 30))
        assert answer["type"] in ("next", "data"), answer
        assert len(answer["payload"]["data"]["recentPosts"]["edges"]) == POSTS
        grown = max(grown, memory.memory_info().rss - before)
        assert grown < 80 * MB, f"the server grew by {grown // MB} MB"
        stalled.transport.resume_reading()
        with pytest.raises(ConnectionClosed) as ended:
            while True:  # the answers written before the close, then the close
                await asyncio.wait_for(stalled.recv(), 10)
        assert ended.value.rcvd is not None, "the connection ended without a close frame"
        return ended.value.rcvd


@asynccontextmanager
async def _socket(server: ServerProcess, protocol: str) -> AsyncIterator[ClientConnection]:
    """A socket past connection_init."""
    async with websockets.connect(
        server.url.replace("http", "ws", 1) + "/graphql",
        subprotocols=[Subprotocol(protocol)],
        max_size=None,
    ) as connection:
        await connection.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await connection.recv())["type"] == "connection_ack"
        yield connection
