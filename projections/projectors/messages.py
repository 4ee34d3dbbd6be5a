"""The pub/sub message that carries one committed event from the writer to the projectors."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

import orjson

from domain.events import event_from_dict
from domain.ports import RecordedEvent
from domain.recorded_json import recorded_to_dict


def encode(recorded: RecordedEvent) -> bytes:
    return orjson.dumps(recorded_to_dict(recorded))


@lru_cache(maxsize=1024)
def decode(payload: str | bytes) -> RecordedEvent:
    """Memoized: every projection of the process receives the same message (the same
    object, whose hash Python keeps), and the decoded event is immutable, so it is
    decoded once rather than once per projection."""
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
