"""The event store held in memory: the port's whole contract without a database.

Bus and handler tests run on it in milliseconds, and it shows in a page what the
port promises. It passes the same contract tests as the SQL store
(tests/eventstore/test_store.py): optimistic concurrency on the written stream and
on every condition, one record per command id with its outcome, a log in position
order. It keeps the very rows the SQL store writes (eventstore/codec.py) and decodes
them on every read, so an event that would not survive the database does not
survive here either.
Everything lives in one process and is lost with it: never a production store.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from domain.errors import ConcurrencyError
from domain.events import Event
from domain.ports import (
    AppendRequest,
    DuplicateCommand,
    Outcome,
    RecordedEvent,
    StoredOutcome,
)
from domain.upcasting import SCHEMAS, EventSchemas
from eventstore.codec import LOG_COLUMNS, event_rows, recorded_event

Row = dict[str, Any]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class InMemoryEventStore:
    """Implements the domain's EventStore and the projectors' EventLog."""

    def __init__(
        self, schemas: EventSchemas = SCHEMAS, now: Callable[[], datetime] = _utc_now
    ) -> None:
        self._schemas = schemas
        self._now = now
        self._log: list[Row] = []
        self._streams: dict[str, list[Row]] = {}
        self._outcomes: dict[tuple[str, str], StoredOutcome] = {}
        self._identity = uuid.uuid4().hex

    async def append(self, request: AppendRequest) -> Outcome:
        """Checks and writes in one step of the event loop: atomic, as the SQL store's
        transaction is. Raises ConcurrencyError or DuplicateCommand and then writes nothing."""
        await asyncio.sleep(0)  # a store answers later: concurrent callers interleave here
        written = (request.stream_id, request.expected_version)
        for stream_id, expected in (written, *request.conditions):
            current = self._version(stream_id)
            if current != expected:
                raise ConcurrencyError(stream_id, expected, current)
        idempotency, command_id = request.command.idempotency, request.command.command_id
        if idempotency is not None and (idempotency.scope, command_id) in self._outcomes:
            raise DuplicateCommand(command_id)
        now = self._now()
        stream = self._streams.setdefault(request.stream_id, [])
        for row in event_rows(request, now, self._schemas):
            row["position"] = len(self._log) + 1
            self._log.append(row)
            stream.append(row)
        outcome = Outcome(position=len(self._log), ids=dict(request.ids))
        if idempotency is not None:
            self._outcomes[(idempotency.scope, command_id)] = StoredOutcome(
                outcome, idempotency.fingerprint
            )
        return outcome

    async def load(self, stream_id: str, after: int = 0) -> tuple[list[Event], int]:
        """Raises UndecodableEvent as the SQL store does: no decision on part of a history."""
        stream = self._streams.get(stream_id, [])
        decode = self._schemas.decode
        events = [decode(row["type"], row["schema_version"], row["data"]) for row in stream[after:]]
        return events, len(stream)

    async def outcome_of(self, scope: str, command_id: str) -> StoredOutcome | None:
        return self._outcomes.get((scope, command_id))

    async def read_all(self, after: int, limit: int) -> list[RecordedEvent]:
        """Undecodable rows come back as Undecodable events, in their place."""
        start = max(after, 0)
        return [self._recorded(row) for row in self._log[start : start + max(limit, 0)]]

    async def at(self, positions: Sequence[int]) -> list[RecordedEvent]:
        held = range(1, len(self._log) + 1)
        return [self._recorded(self._log[p - 1]) for p in sorted(set(positions)) if p in held]

    def _recorded(self, row: dict[str, Any]) -> RecordedEvent:
        return recorded_event([row[column.key] for column in LOG_COLUMNS], self._schemas)

    async def head_position(self) -> int:
        return len(self._log)

    async def identity(self) -> str:
        return self._identity

    async def skipped(self, projection: str) -> frozenset[int]:
        """Skipping is an operator's act on a database (`parked skip`); nothing here is skipped."""
        return frozenset()

    def _version(self, stream_id: str) -> int:
        return len(self._streams.get(stream_id, ()))
