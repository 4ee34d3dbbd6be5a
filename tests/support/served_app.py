"""The real app under uvicorn in the test's own event loop, so its tasks and connections can be
counted from the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn

from harness.net import free_port
from infra.settings import Settings
from wiring.asgi import create_app
from wiring.bootstrap import Inkwell
from wiring.http_protocol import bounded_http_protocol
from wiring.websocket_backlog import bounded_websocket_protocol


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[str, Inkwell]]:
    """The real app under uvicorn, in this event loop, so its tasks can be counted; on
    the protocols `serve` runs (bounded request reading, frames joined into writes, unsent
    bytes bounded)."""
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
        yield f"ws://127.0.0.1:{port}/graphql", app.state.inkwell
    finally:
        server.should_exit = True
        await task
