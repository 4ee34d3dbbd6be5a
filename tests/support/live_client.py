"""Subscriptions from the real `gql` client, over graphql-transport-ws (or legacy graphql-ws)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from gql import Client, gql
from gql.client import AsyncClientSession
from gql.transport.websockets import WebsocketsTransport


@asynccontextmanager
async def session(
    http_url: str, token: str | None = None, *, legacy: bool = False
) -> AsyncIterator[AsyncClientSession]:
    transport = WebsocketsTransport(
        url=http_url.replace("http", "ws", 1) + "/graphql",
        # gql offers the legacy protocol first unless told otherwise (docs/field-notes.md).
        subprotocols=[
            WebsocketsTransport.APOLLO_SUBPROTOCOL
            if legacy
            else WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL
        ],
        init_payload={"Authorization": f"Bearer {token}"} if token else {},
    )
    async with Client(transport=transport) as connected:
        yield connected


class Stream:
    """Collects a subscription's items in the background."""

    def __init__(
        self, client: AsyncClientSession, query: str, variables: dict[str, Any] | None = None
    ):
        self.items: list[dict[str, Any]] = []
        self.error: Exception | None = None
        self._arrived = asyncio.Event()
        self._task = asyncio.create_task(self._collect(client, query, variables or {}))

    async def _collect(
        self, client: AsyncClientSession, query: str, variables: dict[str, Any]
    ) -> None:
        try:
            request = gql(query)
            request.variable_values = variables
            async for item in client.subscribe(request):
                self.items.append(item)
                self._arrived.set()
        except Exception as error:  # the test asserts on it
            self.error = error
            self._arrived.set()

    async def until(self, predicate: Any, timeout: float = 10) -> dict[str, Any]:
        """Waits for an item that satisfies `predicate`; returns it."""
        async with asyncio.timeout(timeout):
            while True:
                for item in self.items:
                    if predicate(item):
                        return item
                if self.error is not None:
                    raise self.error
                self._arrived.clear()
                await self._arrived.wait()

    async def until_live(
        self, change: Callable[[], Awaitable[object]], every: float = 0.2, timeout: float = 10
    ) -> dict[str, Any]:
        """For a subscription that sends nothing until something changes: makes `change`
        (again every `every` seconds) until an item arrives, and returns the first. A change
        made before the server followed its channel is never sent, so an item proves that
        every later change will be."""
        async with asyncio.timeout(timeout):
            while not self.items:
                if self.error is not None:
                    raise self.error
                self._arrived.clear()
                await change()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), every)
        return self.items[0]

    async def ended(self, timeout: float = 10) -> None:
        """Returns once the server completed the subscription (or it failed: `error`)."""
        await asyncio.wait_for(asyncio.shield(self._task), timeout)

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
