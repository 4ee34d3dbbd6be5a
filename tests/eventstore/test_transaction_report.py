"""What the writer reports of each transaction (eventstore/writer.py's `on_transaction`):
how many appends shared it, how long it took, and whether it committed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from eventstore.engines import Engines
from eventstore.store import SqlEventStore
from eventstore.writer import POSTGRES_APPEND_LOCK, GroupCommitWriter
from tests.support.appends import request

HELD_SECONDS = 0.3


class Transactions:
    def __init__(self) -> None:
        self.seen: list[tuple[int, float, bool]] = []

    def __call__(self, appends: int, seconds: float, committed: bool) -> None:
        self.seen.append((appends, seconds, committed))


@pytest.fixture
def transactions() -> Transactions:
    return Transactions()


@pytest.fixture
async def store(engines: Engines, transactions: Transactions) -> AsyncIterator[SqlEventStore]:
    writer = GroupCommitWriter(engines, lambda _: None, on_transaction=transactions)
    writer.start()
    yield SqlEventStore(engines, writer)
    writer.stop()


async def test_commands_queued_behind_a_waiting_commit_share_the_next_transaction(
    store: SqlEventStore, engines: Engines, transactions: Transactions
) -> None:
    # Another writer holds the log's write lock: SQLite's BEGIN IMMEDIATE (the writer
    # engine's begin) on SQLite, the append lock on PostgreSQL.
    with engines.writer.begin() as other:
        if not engines.is_sqlite:
            other.execute(text(f"SELECT pg_advisory_xact_lock({POSTGRES_APPEND_LOCK})"))
        first = asyncio.create_task(store.append(request("user-0", 0)))
        while store.waiting_commit(0) is None:  # the writer took it and waits for the lock
            await asyncio.sleep(0.01)
        queued = [asyncio.create_task(store.append(request(f"user-{n}", 0))) for n in range(1, 11)]
        await asyncio.sleep(HELD_SECONDS)
    outcomes = await asyncio.gather(first, *queued)

    assert len({outcome.position for outcome in outcomes}) == 11
    assert [(appends, committed) for appends, _, committed in transactions.seen] == [
        (1, True),
        (10, True),
    ]
    assert transactions.seen[0][1] >= HELD_SECONDS  # its wait for the lock included


async def test_a_failed_transaction_is_reported_as_failed(
    store: SqlEventStore, engines: Engines, transactions: Transactions
) -> None:
    with engines.writer.begin() as conn:  # every commit fails until it is back
        conn.execute(text("ALTER TABLE events RENAME TO events_away"))
    with pytest.raises(DBAPIError):
        await store.append(request("user-1", 0))
    with engines.writer.begin() as conn:
        conn.execute(text("ALTER TABLE events_away RENAME TO events"))
    started = time.perf_counter()
    await store.append(request("user-1", 0))

    assert [(appends, committed) for appends, _, committed in transactions.seen] == [
        (1, False),
        (1, True),
    ]
    assert 0 < transactions.seen[1][1] < time.perf_counter() - started


async def test_observers_that_raise_leave_the_appends_settled_and_the_writer_running(
    engines: Engines, caplog: pytest.LogCaptureFixture
) -> None:
    def full_disk(*_: object) -> None:
        raise OSError(28, "No space left on device")

    writer = GroupCommitWriter(engines, full_disk, on_transaction=full_disk)
    writer.start()
    try:
        store = SqlEventStore(engines, writer)
        first = await asyncio.wait_for(store.append(request("user-1", 0)), 5)
        second = await asyncio.wait_for(store.append(request("user-2", 0)), 5)
    finally:
        writer.stop()

    assert second.position > first.position
    failures = [r for r in caplog.records if "observer of the event log" in r.getMessage()]
    assert len(failures) == 4  # two observers, two transactions
