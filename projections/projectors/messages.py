"""The pub/sub message that carries committed events from the writer to the projectors.

One message holds up to MESSAGE_EVENTS events, in order: what the publisher found
pending at once (the commits of one turn of its loop; about 14 events under createPost
load at 1,500 requests/s). With a message per event, every projector process parsed
and dispatched one message per event, and handed each to every runner's inbox.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from domain.events import event_from_dict
from domain.ports import RecordedEvent
from domain.recorded_json import recorded_to_dict
from projections.live.broadcast import Inbox

# The runner's logger: a message it cannot decode sends the runner to the log.
log = logging.getLogger("projections.projectors.runner")

# Bounds a message (Redis keeps a subscriber's unsent messages in its output buffer)
# and a runner's live batch: it takes messages until it holds its batch size or more.
MESSAGE_EVENTS = 100
# A runner's inbox holds this many messages, at most 10,000 events, before it is
# marked lost and the runner reads the log instead (the bound it had in events when a
# message carried one).
INBOX_MESSAGES = 10_000 // MESSAGE_EVENTS


def encode(events: Sequence[RecordedEvent]) -> bytes:
    return orjson.dumps([recorded_to_dict(recorded) for recorded in events])


@lru_cache(maxsize=64)
def decode(payload: str | bytes) -> tuple[RecordedEvent, ...]:
    """Memoized: every projection of the process receives the same message (the same
    object, whose hash Python keeps), and the decoded events are immutable, so they
    are decoded once rather than once per projection. A runner that lags the others
    by more messages than the memo holds decodes them again."""
    return tuple(_recorded(message) for message in orjson.loads(payload))


def take_events(inbox: Inbox, limit: int) -> list[RecordedEvent] | None:
    """The events of the inbox's messages, in order, taken a message at a time until
    there are `limit` or more. None when a message was lost, or one cannot be decoded
    (a newer process published it, say): the runner then reads the log, where such an
    event is parked rather than crashing it."""
    events: list[RecordedEvent] = []
    while len(events) < limit and (taken := inbox.take(1)):
        try:
            events.extend(decode(taken[0]))
        except Exception as error:
            log.warning(
                "undecodable event message (%s: %s); reading the log", type(error).__name__, error
            )
            return None
    return None if inbox.take_lost() else events


def _recorded(message: dict[str, Any]) -> RecordedEvent:
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
