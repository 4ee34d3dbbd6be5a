"""The SQL event store: a command's reads on the event loop for SQLite (loop_reads.py) and
on reader threads for PostgreSQL (reads.py), appends through the single writer."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy import Connection, func, select

from domain.events import Event
from domain.ports import AppendRequest, Outcome, RecordedEvent, StoredOutcome
from domain.upcasting import SCHEMAS, EventSchemas
from eventstore.engines import Engines
from eventstore.log_pages import LogPages
from eventstore.loop_reads import OUTCOME, STREAM, LoopReads
from eventstore.reads import read, read_within
from eventstore.tables import events, log_identity, skipped_events
from eventstore.writer import COMMIT_SECONDS, GroupCommitWriter


class SqlEventStore:
    """Implements the domain's EventStore and the projectors' EventLog."""

    def __init__(
        self,
        engines: Engines,
        writer: GroupCommitWriter,
        schemas: EventSchemas = SCHEMAS,
        read_seconds: float = COMMIT_SECONDS,
    ) -> None:
        """A command's reads on a database server are given up after `read_seconds`, as its
        commit is (SQLite's wait on a lock is its busy timeout)."""
        self._reader = engines.reader
        self._read_seconds = read_seconds
        self._writer = writer
        self._schemas = schemas
        self._pages = LogPages(engines.reader, schemas)
        # A command's reads: on the loop through the driver for SQLite (see loop_reads).
        self._loop_reads = LoopReads(engines.reader) if engines.is_sqlite else None

    async def append(self, request: AppendRequest) -> Outcome:
        return await self._writer.append(request)

    def recent_commit_failure(self, within: float) -> str | None:
        """Why this process's latest commit failed, if it did within `within` seconds."""
        return self._writer.recent_failure(within)

    def waiting_commit(self, longer_than: float) -> float | None:
        """Seconds this process's commit under way has taken, if more than `longer_than`."""
        return self._writer.waiting_commit(longer_than)

    async def load(self, stream_id: str, after: int = 0) -> tuple[list[Event], int]:
        """Raises UndecodableEvent when the events read hold one this code cannot read: no
        decision is made on part of a history. A stream's versions count up from 1 and
        are never taken back, so with no event past `after` the stream is at `after`."""
        if self._loop_reads is not None:
            rows = self._loop_reads.stream(stream_id, after)
        else:

            def query(conn: Connection) -> list[tuple[str, int, str, int]]:
                found = conn.execute(STREAM, {"stream_id": stream_id, "after": after})
                return [(row.type, row.schema_version, row.data, row.version) for row in found]

            rows = await read_within(self._reader, query, self._read_seconds)
        decode = self._schemas.decode
        loaded = [decode(kind, schema, data, orjson.loads) for kind, schema, data, _ in rows]
        return loaded, rows[-1][3] if rows else after

    async def outcome_of(self, scope: str, command_id: str) -> StoredOutcome | None:
        if self._loop_reads is not None:
            return _outcome(self._loop_reads.outcome(scope, command_id))

        def query(conn: Connection) -> StoredOutcome | None:
            row = conn.execute(OUTCOME, {"scope": scope, "command_id": command_id}).first()
            return _outcome(None if row is None else (row.position, row.ids, row.fingerprint))

        return await read_within(self._reader, query, self._read_seconds)

    async def read_all(self, after: int, limit: int) -> list[RecordedEvent]:
        """Undecodable rows come back as Undecodable events, in their place."""
        return await self._pages.after(after, limit)

    async def at(self, positions: Sequence[int]) -> list[RecordedEvent]:
        return await self._pages.at(positions)

    async def skipped(self, projection: str) -> frozenset[int]:
        """Positions an operator dropped from the projection (`parked skip`)."""

        return await read(self._reader, lambda conn: skipped_positions(conn, projection))

    async def identity(self) -> str:
        return await read(self._reader, identity_of_log)

    async def head_position(self) -> int:
        def query(conn: Connection) -> int:
            return conn.execute(select(func.max(events.c.position))).scalar() or 0

        return await read(self._reader, query)


def _outcome(row: tuple[int, str, str] | None) -> StoredOutcome | None:
    if row is None:
        return None
    position, ids, fingerprint = row
    return StoredOutcome(Outcome(position, orjson.loads(ids)), fingerprint)


def identity_of_log(conn: Connection) -> str:
    """The id the migration that made this log gave it (eventstore/migrations/versions/
    0004_log_identity.py)."""
    return str(conn.execute(select(log_identity.c.id)).scalar_one())


def skipped_positions(conn: Connection, projection: str) -> frozenset[int]:
    """Positions an operator dropped from the projection (`parked skip`)."""
    rows = conn.execute(
        select(skipped_events.c.position).where(skipped_events.c.projection == projection)
    ).all()
    return frozenset(row.position for row in rows)
