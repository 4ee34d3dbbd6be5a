"""An SQL event store opened on a database for a test, its writer running."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from eventstore.engines import open_engines
from eventstore.store import SqlEventStore
from eventstore.writer import GroupCommitWriter


@asynccontextmanager
async def opened_store(url: str) -> AsyncIterator[SqlEventStore]:
    """The store on `url`; its writer stopped and its engines closed after."""
    engines = open_engines(url)
    writer = GroupCommitWriter(engines, lambda _: None)
    writer.start()
    try:
        yield SqlEventStore(engines, writer)
    finally:
        writer.stop()
        engines.dispose()
