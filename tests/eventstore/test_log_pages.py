"""The log's pages read on the driver decode exactly as the same rows read through SQLAlchemy."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert

from domain.events import PostCreated, PostPublished
from domain.upcasting import Undecodable
from eventstore.engines import Engines
from eventstore.log_reader import LogReader
from eventstore.store import SqlEventStore
from eventstore.tables import events
from tests.support.appends import request

AT = datetime(2026, 12, 3, 20, 45, 1, 123456, tzinfo=UTC)


async def test_pages_on_the_driver_equal_the_rows_read_through_sqlalchemy(
    engines: Engines, sql_store: SqlEventStore
) -> None:
    post = PostCreated("p1", "u1", "Title", "Text", ("a", "b"), AT)
    await sql_store.append(request("user-u1", 0))
    await sql_store.append(request("post-p1", 0, post))
    damaged = {"type": "PostPublished", "schema_version": 1, "recorded_at": AT}
    with engines.writer.begin() as conn:
        conn.execute(insert(events), [
            {**damaged, "stream_id": "x-broken", "version": 1, "data": '{"post_id": ',
             "meta": "{}"},
            {**damaged, "stream_id": "x-meta", "version": 1, "data": '{"post_id": "p1",'
             ' "author_id": "u1", "published_at": "2026-12-03T20:45:01.123456+00:00"}',
             "meta": "[not json"},
        ])  # fmt: skip
    for n in range(3, 30):
        await sql_store.append(request(f"user-u{n}", 0))

    through_sqlalchemy = await LogReader(engines.reader).after(0, 1000)
    on_the_driver = await sql_store.read_all(after=0, limit=1000)

    assert on_the_driver == through_sqlalchemy
    assert [e.position for e in on_the_driver] == list(range(1, 32))
    assert on_the_driver[1].event == post
    assert isinstance(on_the_driver[2].event, Undecodable)
    assert on_the_driver[3].event == PostPublished("p1", "u1", AT)
    assert on_the_driver[3].command_id == ""  # damaged metadata loses who, not the event
    assert all(e.recorded_at.tzinfo is not None for e in on_the_driver)
    assert on_the_driver[2].recorded_at == AT
    page = await sql_store.read_all(after=4, limit=5)
    assert [e.position for e in page] == [5, 6, 7, 8, 9]
    assert await sql_store.read_all(after=31, limit=5) == []
