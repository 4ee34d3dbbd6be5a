"""The real app under uvicorn in the test's own event loop, so its tasks and connections can be
counted from the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from harness.net import free_port
from infra.settings import Settings
from wiring.asgi import create_app
from wiring.bootstrap import Inkwell
from wiring.http_protocol import bounded_http_protocol
from wiring.websocket_frames import bounded_websocket_protocol


@dataclass(frozen=True)
class Served:
    url: str  # ws://127.0.0.1:<port>/graphql
    inkwell: Inkwell
    connections: set[Any]  # uvicorn's: each open connection's protocol


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[str, Inkwell]]:
    """The real app under uvicorn, in this event loop, so its tasks can be counted; on
    the protocols `serve` runs (bounded request reading, frames joined into writes, unsent
    bytes bounded)."""
    async with served(settings) as running:
        yield running.url, running.inkwell


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[Served]:
    """`serving`, with uvicorn's connections: a test may reach into a socket's protocol."""
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(
        app,
        port=port,
        log_level="warning",
        lifespan="on",
        http=bounded_http_protocol(settings.edge),
        ws=bounded_websocket_protocol(settings.edge),
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield Served(
            f"ws://127.0.0.1:{port}/graphql", app.state.inkwell, server.server_state.connections
        )
    finally:
        server.should_exit = True
        await task
