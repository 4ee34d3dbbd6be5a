"""For store tests: append requests (a command record, a registration, a request on one
stream) and a record of what a writer reported committed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from domain.events import Event, UserRegistered
from domain.ports import AppendRequest, CommandRecord, Idempotency, RecordedEvent

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def command(command_id: str | None = None) -> CommandRecord:
    return CommandRecord(
        command_id or uuid.uuid4().hex, "Test", "u1", "corr", Idempotency("user:u1", "fp")
    )


def registration(user_id: str = "u1") -> UserRegistered:
    return UserRegistered(user_id, "Ann", None, "", NOW)


def request(
    stream: str,
    expected: int,
    *events: Event,
    command_id: str | None = None,
    conditions: tuple[tuple[str, int], ...] = (),
) -> AppendRequest:
    """Appends `events` (one registration when none are given) to `stream` at `expected`."""
    return AppendRequest(
        stream,
        expected,
        tuple(events) or (registration(),),
        command(command_id),
        {"id": stream},
        conditions,
    )


@dataclass
class Committed:
    """What the writer reported as committed, in order."""

    events: list[RecordedEvent] = field(default_factory=list)

    def __call__(self, events: list[RecordedEvent]) -> None:
        self.events.extend(events)
