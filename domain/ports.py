"""What the domain needs from the outside world, as Protocols, and the records that cross them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from domain.events import Event


@dataclass(frozen=True)
class Idempotency:
    """A command id its caller named: the command's outcome is recorded under (scope,
    command_id), so the id means something only to that caller, with the fingerprint
    that tells a replay from the id reused for another command."""

    scope: str
    fingerprint: str


@dataclass(frozen=True)
class CommandRecord:
    """Who asked for what: stored with the events. A command sent without a command id
    gets one made here, which no caller can send again: no outcome is recorded for it
    (`idempotency` is None)."""

    command_id: str
    command_type: str
    actor_id: str | None
    correlation_id: str
    idempotency: Idempotency | None


@dataclass(frozen=True)
class AppendRequest:
    """New events for one stream, and the versions the decision was made against.

    `conditions` name other streams the decision read; the append fails with a
    ConcurrencyError if any of them moved, exactly as for the written stream.
    """

    stream_id: str
    expected_version: int
    events: tuple[Event, ...]
    command: CommandRecord
    ids: Mapping[str, str]
    conditions: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What a handled command answers: the position of its last event and the ids it made."""

    position: int
    ids: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredOutcome:
    outcome: Outcome
    fingerprint: str


@dataclass(frozen=True)
class RecordedEvent:
    """An event as the log holds it: with its global position and where it came from."""

    position: int
    stream_id: str
    version: int
    event: Event
    command_id: str
    actor_id: str | None
    correlation_id: str
    recorded_at: datetime


class DuplicateCommand(Exception):
    """The command id was recorded by a concurrent append; its outcome is in the store."""


class EventStore(Protocol):
    async def load(self, stream_id: str, after: int = 0) -> tuple[list[Event], int]:
        """The stream's events past version `after` (all of them by default), oldest
        first, and the stream's version (0 when the stream is empty)."""
        ...

    async def append(self, request: AppendRequest) -> Outcome:
        """Appends atomically with the command record.

        Raises ConcurrencyError or DuplicateCommand."""
        ...

    async def outcome_of(self, scope: str, command_id: str) -> StoredOutcome | None:
        """What the command that `scope`'s caller sent under `command_id` answered."""
        ...


class EventLog(Protocol):
    """The whole log in commit order, for projectors catching up."""

    async def read_all(self, after: int, limit: int) -> list[RecordedEvent]:
        """Rows that cannot be decoded come back as `Undecodable` events, in their place."""
        ...

    async def head_position(self) -> int: ...

    async def at(self, positions: Sequence[int]) -> list[RecordedEvent]:
        """The events at these positions, in log order; a position no event has, none."""
        ...

    async def identity(self) -> str:
        """Names this log: the same for a copy or a restored backup of it, another for any
        other log. Redis's read models are bound to the log they were built from."""
        ...

    async def skipped(self, projection: str) -> frozenset[int]:
        """Positions an operator chose to drop from the projection instead of applying."""
        ...
