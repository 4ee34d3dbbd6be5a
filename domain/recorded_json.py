"""A recorded event as JSON-ready fields: what the pub/sub message carries to the projectors
and what `events tail --json` prints."""

from __future__ import annotations

from typing import Any

from domain.events import event_to_dict
from domain.ports import RecordedEvent
from domain.upcasting import Undecodable


def kind_and_data(recorded: RecordedEvent) -> tuple[str, dict[str, Any]]:
    """The event's type and fields, in today's shape (upcast); for a row that cannot be
    decoded, its stored type and why."""
    event = recorded.event
    if isinstance(event, Undecodable):
        return event.type_name, {"undecodable": event.error}
    return type(event).__name__, event_to_dict(event)


def recorded_to_dict(recorded: RecordedEvent) -> dict[str, Any]:
    kind, data = kind_and_data(recorded)
    return {
        "position": recorded.position,
        "recorded_at": recorded.recorded_at.isoformat(),
        "stream_id": recorded.stream_id,
        "version": recorded.version,
        "type": kind,
        "data": data,
        "command_id": recorded.command_id,
        "correlation_id": recorded.correlation_id,
        "actor_id": recorded.actor_id,
    }
