"""The event store's contract, run against the in-memory store, SQLite and PostgreSQL alike.

As the eventsourcing library tests its persistence modules: one suite, every store.
What only the SQL store does (group commit, several writers on one database) is in
test_sql_store.py.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from domain.errors import ConcurrencyError
from domain.events import PostCreated, PostPublished
from domain.ports import DuplicateCommand, Outcome
from eventstore.memory import InMemoryEventStore
from eventstore.store import SqlEventStore
from tests.support.appends import NOW, command, registration, request

Store = InMemoryEventStore | SqlEventStore


async def test_appended_events_load_back_in_order_with_the_stream_version(
    store: Store,
) -> None:
    created = PostCreated("p1", "u1", "T", "C", ("a",), NOW)
    published = PostPublished("p1", "u1", NOW)
    outcome = await store.append(request("post-p1", 0, created, published))
    assert outcome == Outcome(position=2, ids={"id": "post-p1"})
    assert await store.load("post-p1") == ([created, published], 2)


async def test_a_load_past_a_version_returns_the_later_events_and_the_stream_version(
    store: Store,
) -> None:
    created = PostCreated("p1", "u1", "T", "C", ("a",), NOW)
    published = PostPublished("p1", "u1", NOW)
    await store.append(request("post-p1", 0, created))
    await store.append(request("post-p1", 1, published))
    assert await store.load("post-p1", after=1) == ([published], 2)
    assert await store.load("post-p1", after=2) == ([], 2)
    assert await store.load("post-nope", after=0) == ([], 0)


async def test_an_unknown_stream_is_empty_at_version_zero(store: Store) -> None:
    assert await store.load("post-nope") == ([], 0)


async def test_a_stale_expected_version_is_a_conflict_and_appends_nothing(
    store: Store,
) -> None:
    await store.append(request("user-u1", 0))
    with pytest.raises(ConcurrencyError) as conflict:
        await store.append(request("user-u1", 0))
    assert conflict.value.current_version == 1
    assert await store.head_position() == 1


async def test_of_many_concurrent_appends_at_one_version_exactly_one_wins(
    store: Store,
) -> None:
    results = await asyncio.gather(
        *[store.append(request("user-u1", 0)) for _ in range(25)], return_exceptions=True
    )
    assert sum(isinstance(r, Outcome) for r in results) == 1
    assert sum(isinstance(r, ConcurrencyError) for r in results) == 24
    assert (await store.load("user-u1"))[1] == 1


async def test_an_append_fails_when_a_stream_it_was_decided_on_moved(store: Store) -> None:
    await store.append(request("post-p1", 0))
    await store.append(request("post-p1", 1))
    with pytest.raises(ConcurrencyError) as conflict:
        await store.append(request("like-p1-u2", 0, conditions=(("post-p1", 1),)))
    assert conflict.value.stream_id == "post-p1"
    assert (await store.load("like-p1-u2"))[1] == 0
    await store.append(request("like-p1-u2", 0, conditions=(("post-p1", 2),)))


async def test_a_command_id_is_recorded_once_with_its_outcome(store: Store) -> None:
    first = await store.append(request("user-u1", 0, command_id="cmd-1"))
    with pytest.raises(DuplicateCommand):
        await store.append(request("user-u2", 0, registration("u2"), command_id="cmd-1"))
    stored = await store.outcome_of("user:u1", "cmd-1")
    assert stored is not None and stored.outcome == first
    assert await store.head_position() == 1
    assert await store.outcome_of("user:u1", "cmd-unknown") is None
    assert await store.outcome_of("user:u2", "cmd-1") is None


async def test_a_command_sent_without_an_id_records_no_outcome(store: Store) -> None:
    made_here = dataclasses.replace(command("cmd-made-here"), idempotency=None)
    append = request("user-u1", 0)
    await store.append(dataclasses.replace(append, command=made_here))
    assert await store.outcome_of("user:u1", "cmd-made-here") is None
    (recorded,) = await store.read_all(after=0, limit=10)
    assert recorded.command_id == "cmd-made-here"  # the events still say which command
    again = request("user-u2", 0, registration("u2"))  # the same id: no record to clash with
    await store.append(dataclasses.replace(again, command=made_here))
    assert await store.head_position() == 2


async def test_the_log_reads_back_in_position_order_from_any_point(store: Store) -> None:
    await asyncio.gather(*[store.append(request(f"user-u{i}", 0)) for i in range(40)])
    everything = await store.read_all(after=0, limit=1000)
    assert [e.position for e in everything] == list(range(1, 41))
    assert [e.position for e in await store.read_all(after=35, limit=3)] == [36, 37, 38]
    assert await store.head_position() == 40


async def test_recorded_events_carry_who_asked_and_when(store: Store) -> None:
    await store.append(request("user-u1", 0, command_id="cmd-7"))
    (recorded,) = await store.read_all(after=0, limit=1)
    assert (recorded.stream_id, recorded.version, recorded.command_id) == ("user-u1", 1, "cmd-7")
    assert (recorded.actor_id, recorded.correlation_id) == ("u1", "corr")
    assert recorded.recorded_at.tzinfo is not None


async def test_a_refused_append_writes_nothing_at_all(store: Store) -> None:
    """Positions only grow: a refused append may use one up (a PostgreSQL sequence does)."""
    await store.append(request("user-u1", 0, command_id="cmd-1"))
    with pytest.raises(DuplicateCommand):
        await store.append(request("user-u2", 0, registration("u2"), command_id="cmd-1"))
    with pytest.raises(ConcurrencyError):
        await store.append(request("user-u3", 0, conditions=(("user-u1", 0),)))
    assert await store.load("user-u2") == ([], 0)
    assert await store.load("user-u3") == ([], 0)
    assert [e.stream_id for e in await store.read_all(after=0, limit=10)] == ["user-u1"]
    later = await store.append(request("user-u2", 0, registration("u2")))
    assert [e.stream_id for e in await store.read_all(after=0, limit=10)] == ["user-u1", "user-u2"]
    assert await store.head_position() == later.position > 1


async def test_an_empty_log_reads_empty_and_skips_nothing(store: Store) -> None:
    assert await store.head_position() == 0
    assert await store.read_all(after=0, limit=10) == []
    assert await store.skipped("posts") == frozenset()
