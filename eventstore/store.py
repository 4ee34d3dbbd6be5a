"""The SQL event store: reads on reader threads, appends through the writer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

import orjson
from sqlalchemy import Connection, func, select

from domain.events import Event, event_from_dict
from domain.ports import AppendRequest, Outcome, RecordedEvent, StoredOutcome
from eventstore.codec import recorded_event
from eventstore.engines import Engines
from eventstore.loop_reads import OUTCOME, STREAM, LoopReads
from eventstore.tables import events
from eventstore.writer import GroupCommitWriter

T = TypeVar("T")


class SqlEventStore:
    """Implements the domain's EventStore and the projectors' EventLog."""

    def __init__(self, engines: Engines, writer: GroupCommitWriter) -> None:
        self._reader = engines.reader
        self._writer = writer
        # A command's reads: on the loop through the driver for SQLite (see loop_reads).
        self._loop_reads = LoopReads(engines.reader) if engines.is_sqlite else None

    async def append(self, request: AppendRequest) -> Outcome:
        return await self._writer.append(request)

    async def load(self, stream_id: str) -> tuple[list[Event], int]:
        if self._loop_reads is not None:
            return _stream(self._loop_reads.stream(stream_id))

        def query(conn: Connection) -> tuple[list[Event], int]:
            rows = conn.execute(STREAM, {"stream_id": stream_id}).all()
            return _stream([(row.type, row.data, row.version) for row in rows])

        return await self._read(query)

    async def outcome_of(self, command_id: str) -> StoredOutcome | None:
        if self._loop_reads is not None:
            return _outcome(self._loop_reads.outcome(command_id))

        def query(conn: Connection) -> StoredOutcome | None:
            row = conn.execute(OUTCOME, {"command_id": command_id}).first()
            return _outcome(None if row is None else (row.position, row.ids, row.fingerprint))

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


def _stream(rows: Sequence[tuple[str, str, int]]) -> tuple[list[Event], int]:
    loaded = [event_from_dict(kind, orjson.loads(data)) for kind, data, _ in rows]
    return loaded, rows[-1][2] if rows else 0


def _outcome(row: tuple[int, str, str] | None) -> StoredOutcome | None:
    if row is None:
        return None
    position, ids, fingerprint = row
    return StoredOutcome(Outcome(position, orjson.loads(ids)), fingerprint)
