"""An event store on the test's database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest

from domain.ports import RecordedEvent
from eventstore.engines import Engines, open_engines
from eventstore.store import SqlEventStore
from eventstore.writer import GroupCommitWriter


@dataclass
class Committed:
    """What the writer reported as committed, in order."""

    events: list[RecordedEvent] = field(default_factory=list)

    def __call__(self, events: list[RecordedEvent]) -> None:
        self.events.extend(events)


@pytest.fixture
def engines(database_url: str) -> Iterator[Engines]:
    opened = open_engines(database_url)
    yield opened
    opened.dispose()


@pytest.fixture
def committed() -> Committed:
    return Committed()


@pytest.fixture
async def store(engines: Engines, committed: Committed) -> AsyncIterator[SqlEventStore]:
    writer = GroupCommitWriter(engines, committed)
    writer.start()
    yield SqlEventStore(engines, writer)
    writer.stop()
