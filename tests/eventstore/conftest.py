"""Event stores for the tests: the contract's `store` runs each test on the in-memory store,
SQLite and PostgreSQL (when configured); `sql_store` on the SQL databases only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from eventstore.engines import Engines, open_engines
from eventstore.memory import InMemoryEventStore
from eventstore.store import SqlEventStore
from eventstore.writer import GroupCommitWriter
from tests.support.appends import Committed
from tests.support.stores import opened_store


@pytest.fixture
def engines(database_url: str) -> Iterator[Engines]:
    opened = open_engines(database_url)
    yield opened
    opened.dispose()


@pytest.fixture
def committed() -> Committed:
    return Committed()


@pytest.fixture
async def sql_store(engines: Engines, committed: Committed) -> AsyncIterator[SqlEventStore]:
    writer = GroupCommitWriter(engines, committed)
    writer.start()
    yield SqlEventStore(engines, writer)
    writer.stop()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """None for the in-memory store, else the test's own database."""
    if request.param == "memory":
        return None
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
async def store(store_url: str | None) -> AsyncIterator[InMemoryEventStore | SqlEventStore]:
    if store_url is None:
        yield InMemoryEventStore()
        return
    async with opened_store(store_url) as opened:
        yield opened
