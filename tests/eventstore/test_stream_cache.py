"""Loads that read only what was appended since (eventstore/stream_cache.py): as fresh as
a full read, across processes, and never caching an event this code cannot read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from domain.events import PostCreated, PostPublished
from domain.upcasting import UndecodableEvent
from eventstore.engines import Engines
from eventstore.store import SqlEventStore
from eventstore.stream_cache import StreamCache
from eventstore.tables import events
from eventstore.writer import GroupCommitWriter
from tests.support.appends import NOW, request

CREATED = PostCreated("p1", "u1", "Title", "Text", (), NOW)
PUBLISHED = PostPublished("p1", "u1", NOW)


@pytest.fixture
async def two_stores(engines: Engines) -> AsyncIterator[tuple[SqlEventStore, SqlEventStore]]:
    """Two stores with writers of their own on one database: two API processes."""
    writers = [GroupCommitWriter(engines, lambda _: None) for _ in range(2)]
    for writer in writers:
        writer.start()
    yield SqlEventStore(engines, writers[0]), SqlEventStore(engines, writers[1])
    for writer in writers:
        writer.stop()


async def test_a_load_sees_what_another_process_appended_since(
    two_stores: tuple[SqlEventStore, SqlEventStore],
) -> None:
    here, there = two_stores
    await here.append(request("post-p1", 0, CREATED))
    assert await here.load("post-p1") == ([CREATED], 1)
    await there.append(request("post-p1", 1, PUBLISHED))
    assert await here.load("post-p1") == ([CREATED, PUBLISHED], 2)
    assert await here.load("post-p1") == ([CREATED, PUBLISHED], 2)


async def test_a_load_reads_only_the_versions_past_the_cached_one(
    sql_store: SqlEventStore, engines: Engines
) -> None:
    await sql_store.append(request("post-p1", 0, CREATED))
    await sql_store.load("post-p1")
    # Rewritten in place behind the store's back (events never are): a full read would
    # show the new title; a load past version 1 does not read that row again.
    with engines.writer.begin() as conn:
        conn.execute(update(events).values(data='{"title": "Rewritten"}'))
    assert await sql_store.load("post-p1") == ([CREATED], 1)


async def test_an_event_this_code_cannot_read_fails_every_load_of_its_stream(
    sql_store: SqlEventStore, engines: Engines
) -> None:
    await sql_store.append(request("post-p1", 0, CREATED))
    await sql_store.load("post-p1")
    with engines.writer.begin() as conn:
        conn.execute(
            events.insert().values(
                stream_id="post-p1", version=2, type="PostPinned", schema_version=1,
                data="{}", meta="{}", recorded_at=datetime.now(UTC),
            )
        )  # fmt: skip
    for _ in range(2):
        with pytest.raises(UndecodableEvent, match="unknown event type"):
            await sql_store.load("post-p1")


def test_the_least_recently_loaded_stream_goes_first() -> None:
    cache = StreamCache(streams=2)
    cache.put("a", (CREATED,), 1)
    cache.put("b", (CREATED,), 1)
    assert cache.get("a") == ((CREATED,), 1)  # a is now the most recent
    cache.put("c", (CREATED, PUBLISHED), 2)
    assert cache.get("b") == ((), 0)
    assert cache.get("a") == ((CREATED,), 1)
    assert cache.get("c") == ((CREATED, PUBLISHED), 2)
