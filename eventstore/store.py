"""The SQL event store: reads on reader threads, appends through the writer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import orjson
from sqlalchemy import Connection, bindparam, func, select

from domain.events import Event, event_from_dict
from domain.ports import AppendRequest, Outcome, RecordedEvent, StoredOutcome
from eventstore.codec import recorded_event
from eventstore.engines import Engines
from eventstore.tables import commands, events
from eventstore.writer import GroupCommitWriter

T = TypeVar("T")

# Built once: building a statement on every load cost about as much as running it.
STREAM = (
    select(events.c.type, events.c.data, events.c.version)
    .where(events.c.stream_id == bindparam("stream_id"))
    .order_by(events.c.version)
)


class SqlEventStore:
    """Implements the domain's EventStore and the projectors' EventLog."""

    def __init__(self, engines: Engines, writer: GroupCommitWriter) -> None:
        self._reader = engines.reader
        self._writer = writer

    async def append(self, request: AppendRequest) -> Outcome:
        return await self._writer.append(request)

    async def load(self, stream_id: str) -> tuple[list[Event], int]:
        def query(conn: Connection) -> tuple[list[Event], int]:
            rows = conn.execute(STREAM, {"stream_id": stream_id}).all()
            loaded = [event_from_dict(row.type, orjson.loads(row.data)) for row in rows]
            return loaded, rows[-1].version if rows else 0

        return await self._read(query)

    async def outcome_of(self, command_id: str) -> StoredOutcome | None:
        def query(conn: Connection) -> StoredOutcome | None:
            row = conn.execute(
                select(commands.c.position, commands.c.ids, commands.c.fingerprint).where(
                    commands.c.command_id == command_id
                )
            ).first()
            if row is None:
                return None
            return StoredOutcome(Outcome(row.position, orjson.loads(row.ids)), row.fingerprint)

        return await self._read(query)

    async def read_all(self, after: int, limit: int) -> list[RecordedEvent]:
        def query(conn: Connection) -> list[RecordedEvent]:
            rows = conn.execute(
                select(events)
                .where(events.c.position > after)
                .order_by(events.c.position)
                .limit(limit)
            ).mappings()
            return [recorded_event(row) for row in rows]

        return await self._read(query)

    async def head_position(self) -> int:
        def query(conn: Connection) -> int:
            return conn.execute(select(func.max(events.c.position))).scalar() or 0

        return await self._read(query)

    async def _read(self, query: Callable[[Connection], T]) -> T:
        def run() -> T:
            with self._reader.connect() as conn:
                return query(conn)

        return await asyncio.to_thread(run)
