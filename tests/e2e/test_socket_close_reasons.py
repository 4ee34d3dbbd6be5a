"""Close reasons that quote what a client sent fit a close frame on a real server: RFC
6455 allows 123 bytes, and uvicorn refused a longer one with a ProtocolError (a
traceback, and the socket dropped without a close frame, which clients report as 1006).
The Starlette TestClient sends any reason, so these run against `serve`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from harness.server_process import ServerProcess
from tests.support.shared_server import shared_server

PROJECTIONS = {"query": "subscription { projections { name } }"}


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with shared_server(redis_url, tmp_path_factory.mktemp("close-reasons")) as running:
        yield running


async def closing(server: ServerProcess, protocol: str, frames: list[Any]) -> tuple[int, str]:
    """The close code and reason that answer `frames`, sent after connection_ack."""
    url = server.url.replace("http", "ws") + "/graphql"
    async with websockets.connect(url, subprotocols=[Subprotocol(protocol)]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv()) == {"type": "connection_ack"}
        for frame in frames:
            await ws.send(json.dumps(frame))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None, "no close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
def test_an_unknown_message_type_closes_with_4400_whatever_its_length(
    server: ServerProcess, protocol: str
) -> None:
    code, reason = asyncio.run(closing(server, protocol, [{"type": "é" * 1000}]))
    assert code == 4400 and reason.startswith("Unknown message type")


def test_a_reused_id_closes_with_4409_whatever_its_length(server: ServerProcess) -> None:
    subscribe = {"id": "é" * 128, "type": "subscribe", "payload": PROJECTIONS}
    code, reason = asyncio.run(closing(server, "graphql-transport-ws", [subscribe, subscribe]))
    assert code == 4409 and reason.startswith("Subscriber for é")
