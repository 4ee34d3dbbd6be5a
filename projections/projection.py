"""A projection: a name and one small function per event type it turns into read-model writes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.events import Event
from domain.ports import RecordedEvent
from projections.tx import Tx

Apply = Callable[[Any, RecordedEvent, Tx], None]


@dataclass(frozen=True)
class Projection:
    name: str
    handlers: Mapping[type[Event], Apply]

    def apply(self, recorded: RecordedEvent, tx: Tx) -> None:
        handler = self.handlers.get(type(recorded.event))
        if handler is not None:
            tx.event_position = recorded.position
            handler(recorded.event, recorded, tx)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(moment: datetime) -> int:
    """A sorted-set score: microseconds since the epoch, exact in a double until year 2255."""
    return (moment - EPOCH) // timedelta(microseconds=1)
