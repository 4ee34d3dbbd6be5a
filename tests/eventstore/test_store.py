"""The event store's contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from domain.errors import ConcurrencyError
from domain.events import PostCreated, PostPublished, UserRegistered
from domain.ports import AppendRequest, CommandRecord, DuplicateCommand, Outcome
from eventstore.engines import Engines
from eventstore.store import SqlEventStore
from eventstore.writer import GroupCommitWriter
from tests.eventstore.conftest import Committed

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def command(command_id: str | None = None) -> CommandRecord:
    return CommandRecord(command_id or uuid.uuid4().hex, "Test", "fp", "u1", "corr")


def registration(user_id: str = "u1") -> UserRegistered:
    return UserRegistered(user_id, "Ann", None, "", NOW)


def request(
    stream: str,
    expected: int,
    *events: object,
    command_id: str | None = None,
    conditions: tuple[tuple[str, int], ...] = (),
) -> AppendRequest:
    return AppendRequest(
        stream,
        expected,
        tuple(events) or (registration(),),
        command(command_id),  # type: ignore[arg-type]
        {"id": stream},
        conditions,
    )


async def test_appended_events_load_back_in_order_with_the_stream_version(
    store: SqlEventStore,
) -> None:
    created = PostCreated("p1", "u1", "T", "C", ("a",), NOW)
    published = PostPublished("p1", "u1", NOW)
    outcome = await store.append(request("post-p1", 0, created, published))
    assert outcome == Outcome(position=2, ids={"id": "post-p1"})
    assert await store.load("post-p1") == ([created, published], 2)


async def test_an_unknown_stream_is_empty_at_version_zero(store: SqlEventStore) -> None:
    assert await store.load("post-nope") == ([], 0)


async def test_a_stale_expected_version_is_a_conflict_and_appends_nothing(
    store: SqlEventStore,
) -> None:
    await store.append(request("user-u1", 0))
    with pytest.raises(ConcurrencyError) as conflict:
        await store.append(request("user-u1", 0))
    assert conflict.value.current_version == 1
    assert await store.head_position() == 1


async def test_of_many_concurrent_appends_at_one_version_exactly_one_wins(
    store: SqlEventStore,
) -> None:
    results = await asyncio.gather(
        *[store.append(request("user-u1", 0)) for _ in range(25)], return_exceptions=True
    )
    assert sum(isinstance(r, Outcome) for r in results) == 1
    assert sum(isinstance(r, ConcurrencyError) for r in results) == 24
    assert (await store.load("user-u1"))[1] == 1


async def test_an_append_fails_when_a_stream_it_was_decided_on_moved(store: SqlEventStore) -> None:
    await store.append(request("post-p1", 0))
    await store.append(request("post-p1", 1))
    with pytest.raises(ConcurrencyError) as conflict:
        await store.append(request("like-p1-u2", 0, conditions=(("post-p1", 1),)))
    assert conflict.value.stream_id == "post-p1"
    assert (await store.load("like-p1-u2"))[1] == 0
    await store.append(request("like-p1-u2", 0, conditions=(("post-p1", 2),)))


async def test_a_command_id_is_recorded_once_with_its_outcome(store: SqlEventStore) -> None:
    first = await store.append(request("user-u1", 0, command_id="cmd-1"))
    with pytest.raises(DuplicateCommand):
        await store.append(request("user-u2", 0, registration("u2"), command_id="cmd-1"))
    stored = await store.outcome_of("cmd-1")
    assert stored is not None and stored.outcome == first
    assert await store.head_position() == 1
    assert await store.outcome_of("cmd-unknown") is None


async def test_the_log_reads_back_in_position_order_from_any_point(
    store: SqlEventStore, committed: Committed
) -> None:
    await asyncio.gather(*[store.append(request(f"user-u{i}", 0)) for i in range(40)])
    everything = await store.read_all(after=0, limit=1000)
    assert [e.position for e in everything] == list(range(1, 41))
    assert [e.position for e in await store.read_all(after=35, limit=3)] == [36, 37, 38]
    assert await store.head_position() == 40
    assert sorted(e.position for e in committed.events) == list(range(1, 41))


async def test_recorded_events_carry_who_asked_and_when(store: SqlEventStore) -> None:
    await store.append(request("user-u1", 0, command_id="cmd-7"))
    (recorded,) = await store.read_all(after=0, limit=1)
    assert (recorded.stream_id, recorded.version, recorded.command_id) == ("user-u1", 1, "cmd-7")
    assert (recorded.actor_id, recorded.correlation_id) == ("u1", "corr")
    assert recorded.recorded_at.tzinfo is not None


async def test_two_writers_on_one_database_never_share_a_version(engines: Engines) -> None:
    """Two writer threads stand in for two API processes appending to the same streams."""
    writers = [GroupCommitWriter(engines, lambda _: None) for _ in range(2)]
    for writer in writers:
        writer.start()
    stores = [SqlEventStore(engines, writer) for writer in writers]
    try:
        results = await asyncio.gather(
            *[stores[i % 2].append(request(f"user-u{i % 5}", 0)) for i in range(40)],
            return_exceptions=True,
        )
        assert sum(isinstance(r, Outcome) for r in results) == 5
        assert all(isinstance(r, (Outcome, ConcurrencyError)) for r in results)
        positions = [e.position for e in await stores[0].read_all(after=0, limit=100)]
        assert positions == sorted(positions) and len(positions) == 5
    finally:
        for writer in writers:
            writer.stop()


async def test_appends_committed_together_each_get_their_own_positions_in_order(
    store: SqlEventStore, committed: Committed
) -> None:
    """Appends of one to three events, committed in one batch around a refused one: each
    outcome names its last event's position, and the log, the loads and what the writer
    reported all agree, event by event."""
    appended = {
        f"post-p{i}": [
            PostCreated(f"p{i}", "u1", f"T{i}", "C", (), NOW),
            *[PostPublished(f"p{i}", "u1", NOW)] * (i % 3),
        ]
        for i in range(30)
    }
    await store.append(request("post-taken", 0))
    results = await asyncio.gather(
        *[store.append(request(stream, 0, *events)) for stream, events in appended.items()],
        store.append(request("post-taken", 0)),
        return_exceptions=True,
    )
    *outcomes, refused = results
    assert isinstance(refused, ConcurrencyError)

    log = await store.read_all(after=0, limit=1000)
    assert [e.position for e in log] == list(range(1, 1 + 1 + sum(map(len, appended.values()))))
    assert sorted(committed.events, key=lambda e: e.position) == log
    for (stream, events), outcome in zip(appended.items(), outcomes, strict=True):
        mine = [e for e in log if e.stream_id == stream]
        assert [(e.version, e.event) for e in mine] == list(enumerate(events, start=1))
        assert outcome == Outcome(position=mine[-1].position, ids={"id": stream})
        assert await store.load(stream) == (events, len(events))
