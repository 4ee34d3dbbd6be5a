"""The single writer: one thread that commits the appends of many concurrent commands together.

Committing costs a disk flush; deciding costs microseconds. So appends queue up
while a commit is in flight, and the next transaction takes all of them (group
commit). Each append runs in its own savepoint, so one conflict refuses only its
own command. The commit is also the point of order: on PostgreSQL a transaction
lock serializes writers, so global positions become visible in increasing order
and a projector reading the log never steps over a position committed later.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from sqlalchemy import Connection, bindparam, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from domain.errors import ConcurrencyError
from domain.ports import AppendRequest, DuplicateCommand, Outcome, RecordedEvent
from domain.upcasting import SCHEMAS, EventSchemas
from eventstore.codec import event_rows, recorded_events
from eventstore.engines import Engines
from eventstore.tables import commands, events

log = logging.getLogger(__name__)

MAX_BATCH = 512
# Any constant works: it only has to be the same for every Inkwell writer of the database.
POSTGRES_APPEND_LOCK = 0x1A7E_3E11

OnCommit = Callable[[list[RecordedEvent]], None]

# Built once: building them on every append cost about as much as executing them.
STREAM_VERSION = select(func.max(events.c.version)).where(
    events.c.stream_id == bindparam("stream_id")
)
INSERT_EVENT = insert(events).returning(events.c.position)
INSERT_COMMAND = insert(commands)


@dataclass
class _Pending:
    request: AppendRequest
    future: asyncio.Future[Outcome]
    loop: asyncio.AbstractEventLoop


class _Stop:
    pass


class GroupCommitWriter:
    def __init__(
        self, engines: Engines, on_commit: OnCommit, schemas: EventSchemas = SCHEMAS
    ) -> None:
        self._engine = engines.writer
        self._schemas = schemas
        self._lock_statement = (
            None
            if engines.is_sqlite
            else text(f"SELECT pg_advisory_xact_lock({POSTGRES_APPEND_LOCK})")
        )
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[_Pending | _Stop] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="inkwell-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Finishes what is queued, then ends the thread."""
        self._queue.put(_Stop())
        self._thread.join()

    async def append(self, request: AppendRequest) -> Outcome:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._queue.put(_Pending(request, future, loop))
        return await future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if isinstance(first, _Stop):
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, _Stop):
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Pending]) -> None:
        results: list[Outcome | Exception] = []
        recorded: list[RecordedEvent] = []
        try:
            with self._engine.begin() as conn:
                if self._lock_statement is not None:
                    conn.execute(self._lock_statement)
                now = datetime.now(UTC)
                for pending in batch:
                    try:
                        with conn.begin_nested():
                            outcome, new_events = _append_one(
                                conn, pending.request, now, self._schemas
                            )
                    except (ConcurrencyError, DuplicateCommand) as refused:
                        results.append(refused)
                    else:
                        results.append(outcome)
                        recorded.extend(new_events)
        except Exception as failure:
            log.exception("commit of %d appends failed", len(batch))
            results = [failure] * len(batch)
            recorded = []
        if recorded:
            self._on_commit(recorded)
        for pending, result in zip(batch, results, strict=True):
            pending.loop.call_soon_threadsafe(_settle, pending.future, result)


def _append_one(
    conn: Connection, request: AppendRequest, now: datetime, schemas: EventSchemas
) -> tuple[Outcome, list[RecordedEvent]]:
    for stream_id, expected in ((request.stream_id, request.expected_version), *request.conditions):
        current = _stream_version(conn, stream_id)
        if current != expected:
            raise ConcurrencyError(stream_id, expected, current)
    try:
        # One row at a time: a command appends one event or two, and a plain INSERT
        # ... RETURNING skips the machinery that orders a multi-row one.
        positions = [
            conn.execute(INSERT_EVENT, row).scalar_one()
            for row in event_rows(request, now, schemas)
        ]
    except IntegrityError:
        # Another process appended to the stream between our check and our insert.
        current = _stream_version(conn, request.stream_id)
        raise ConcurrencyError(request.stream_id, request.expected_version, current) from None
    outcome = Outcome(position=positions[-1], ids=dict(request.ids))
    try:
        conn.execute(
            INSERT_COMMAND,
            {
                "command_id": request.command.command_id,
                "command_type": request.command.command_type,
                "fingerprint": request.command.fingerprint,
                "position": outcome.position,
                "ids": orjson.dumps(outcome.ids).decode(),
                "recorded_at": now,
            },
        )
    except IntegrityError:
        raise DuplicateCommand(request.command.command_id) from None
    return outcome, recorded_events(request, positions, now)


def _stream_version(conn: Connection, stream_id: str) -> int:
    version = conn.execute(STREAM_VERSION, {"stream_id": stream_id}).scalar()
    return version or 0


def _settle(future: asyncio.Future[Outcome], result: Outcome | Exception) -> None:
    if future.done():  # the caller went away; the commit stands regardless
        return
    if isinstance(result, Exception):
        future.set_exception(result)
    else:
        future.set_result(result)
