"""The pub/sub message that carries one committed event from the writer to the projectors."""

from __future__ import annotations

from datetime import datetime

import orjson

from domain.events import event_from_dict, event_to_dict
from domain.ports import RecordedEvent


def encode(recorded: RecordedEvent) -> bytes:
    return orjson.dumps(
        {
            "position": recorded.position,
            "stream_id": recorded.stream_id,
            "version": recorded.version,
            "type": type(recorded.event).__name__,
            "data": event_to_dict(recorded.event),
            "command_id": recorded.command_id,
            "actor_id": recorded.actor_id,
            "correlation_id": recorded.correlation_id,
            "recorded_at": recorded.recorded_at.isoformat(),
        }
    )


def decode(payload: str | bytes) -> RecordedEvent:
    message = orjson.loads(payload)
    return RecordedEvent(
        position=message["position"],
        stream_id=message["stream_id"],
        version=message["version"],
        event=event_from_dict(message["type"], message["data"]),
        command_id=message["command_id"],
        actor_id=message["actor_id"],
        correlation_id=message["correlation_id"],
        recorded_at=datetime.fromisoformat(message["recorded_at"]),
    )
