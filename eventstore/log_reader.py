"""The log as operators read it: its identity, its head, when the oldest unapplied events were
committed, a tail.

Operator paths use this (`/metrics`, `/ready`, `status`, `events tail`). The GraphQL
read path touches SQL only to read the head, when a query's X-Consistent-With is past
every projection's checkpoint (projections/live/consistency.py).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text

from domain.ports import RecordedEvent
from domain.upcasting import SCHEMAS, EventSchemas
from eventstore.codec import LOG_COLUMNS, as_utc, recorded_event
from eventstore.log_pages import LogPages
from eventstore.reads import read
from eventstore.store import identity_of_log, skipped_positions
from eventstore.tables import commands, events


@dataclass(frozen=True)
class Frontier:
    """The log's head, and for each checkpoint asked about, the commit time of the first
    event after it (absent when the checkpoint is at the head)."""

    head: int
    next_recorded_at: dict[int, datetime]


class LogReader:
    def __init__(self, engine: Engine, schemas: EventSchemas = SCHEMAS) -> None:
        self._engine = engine
        self._schemas = schemas
        self._pages = LogPages(engine, schemas)
        self._identity: str | None = None

    async def identity(self) -> str:
        """The id its first migration gave this log: a copy or a restored backup has the
        same, another database or SQLite file another. Read once."""
        if self._identity is None:
            self._identity = await read(self._engine, identity_of_log)
        return self._identity

    async def head_position(self) -> int:
        return await read(self._engine, _head)

    def answers_within(self, seconds: float) -> bool:
        """Whether the log answers a read within `seconds`. For operator commands, which
        must say it does not rather than wait behind a lock: `status` waited silently as
        long as a PostgreSQL `LOCK TABLE events` lasted, then said all was well. A read
        that does not answer goes on in a daemon thread, which the exit does not wait for
        (a worker of asyncio's executor would hold the exit up)."""
        answered = threading.Event()

        def probe() -> None:
            try:
                with self._engine.connect() as conn:
                    _head(conn)
            except Exception:  # unreachable, or refused: it does not answer
                return
            answered.set()

        threading.Thread(target=probe, name="log probe", daemon=True).start()
        return answered.wait(seconds)

    def free_bytes(self) -> int | None:
        """How much room the disk holding a SQLite log has (None for a server database): a
        full disk refuses every commit, and only a write shows it; `status`, which writes
        nothing, said all was well."""
        url = self._engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return shutil.disk_usage(Path(url.database).resolve().parent).free

    async def refuses_writes(self) -> bool:
        """Whether the database refuses writes now: a PostgreSQL standby, or a server or role
        with default_transaction_read_only on (SQLite has no such setting). Raises when a
        table every write uses does not answer: with the commands table dropped, every
        mutation answered UNAVAILABLE while /ready said ready, its reads of the events
        table going on (an outside probe)."""
        return await read(self._engine, _read_only)

    async def frontier(self, checkpoints: Iterable[int]) -> Frontier:
        """One connection for all projections; checkpoints they share are asked once."""
        wanted = sorted(set(checkpoints))

        def query(conn: Connection) -> Frontier:
            head = _head(conn)
            times = {}
            for checkpoint in wanted:
                if checkpoint < head:
                    recorded_at = conn.execute(
                        select(events.c.recorded_at)
                        .where(events.c.position > checkpoint)
                        .order_by(events.c.position)
                        .limit(1)
                    ).scalar()
                    if recorded_at is not None:
                        times[checkpoint] = as_utc(recorded_at)
            return Frontier(head, times)

        return await read(self._engine, query)

    async def after(
        self, position: int, limit: int, stream_id: str | None = None
    ) -> list[RecordedEvent]:
        """Events past `position` in log order, optionally of one stream."""

        def query(conn: Connection) -> Sequence[Sequence[Any]]:
            statement = select(*LOG_COLUMNS).where(events.c.position > position)
            if stream_id is not None:
                statement = statement.where(events.c.stream_id == stream_id)
            return conn.execute(statement.order_by(events.c.position).limit(limit)).all()

        return [recorded_event(row, self._schemas) for row in await read(self._engine, query)]

    async def skipped(self, projection: str) -> frozenset[int]:
        """Positions an operator dropped from the projection (`parked skip`)."""
        return await read(self._engine, lambda conn: skipped_positions(conn, projection))

    async def read_all(self, after: int, limit: int) -> list[RecordedEvent]:
        """The whole log in order (the projectors' EventLog), for operator commands."""
        return await self._pages.after(after, limit)

    async def at(self, positions: Sequence[int]) -> list[RecordedEvent]:
        return await self._pages.at(positions)

    async def last(self, count: int, stream_id: str | None = None) -> list[RecordedEvent]:
        """The newest `count` events, oldest first, optionally of one stream."""

        def query(conn: Connection) -> Sequence[Sequence[Any]]:
            statement = select(*LOG_COLUMNS)
            if stream_id is not None:
                statement = statement.where(events.c.stream_id == stream_id)
            return conn.execute(statement.order_by(events.c.position.desc()).limit(count)).all()

        rows = await read(self._engine, query)
        return [recorded_event(row, self._schemas) for row in reversed(rows)]


def _head(conn: Connection) -> int:
    return conn.execute(select(func.max(events.c.position))).scalar() or 0


def _read_only(conn: Connection) -> bool:
    # Every write uses both tables; the events table answers the head's read already.
    conn.execute(select(commands.c.command_id).limit(0))
    if conn.dialect.name != "postgresql":
        return False
    return conn.execute(text("SHOW transaction_read_only")).scalar() == "on"
