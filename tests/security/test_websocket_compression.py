"""WebSocket frames go uncompressed unless the operator turns permessage-deflate on: the
server would compress each update once per subscriber, and keep a zlib state for each
compressing connection (protection/config.py)."""

from __future__ import annotations

import pytest
import websockets
from websockets.typing import Subprotocol

from protection.config import EdgeLimits
from tests.support.protected_server import StartServer


async def negotiated_extensions(start_server: StartServer, **env: str) -> str | None:
    server = start_server(**env)
    async with websockets.connect(  # offers permessage-deflate, as browsers do
        f"ws://127.0.0.1:{server.port}/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
    ) as connection:
        assert connection.response is not None
        return connection.response.headers.get("Sec-WebSocket-Extensions")


async def test_frames_are_not_compressed_by_default(start_server: StartServer) -> None:
    assert await negotiated_extensions(start_server) is None


async def test_an_operator_can_turn_compression_on(start_server: StartServer) -> None:
    agreed = await negotiated_extensions(start_server, INKWELL_WS_COMPRESSION="on")
    assert agreed is not None and agreed.startswith("permessage-deflate")


def test_the_switch_takes_on_or_off_only() -> None:
    assert EdgeLimits.from_env({"INKWELL_WS_COMPRESSION": "ON"}).ws_compression
    assert not EdgeLimits.from_env({}).ws_compression
    with pytest.raises(ValueError, match="INKWELL_WS_COMPRESSION must be on or off"):
        EdgeLimits.from_env({"INKWELL_WS_COMPRESSION": "yes"})
