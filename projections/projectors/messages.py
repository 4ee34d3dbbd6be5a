"""The pub/sub message that carries committed events from the writer to the projectors.

One message holds up to MESSAGE_EVENTS events and MESSAGE_BYTES, in order: what the
publisher found pending at once (the commits of one turn of its loop; about 14 events
under createPost load at 1,500 requests/s). With a message per event, every projector
process parsed and dispatched one message per event, and handed each to every runner's
inbox.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from domain.events import event_from_dict
from domain.frozen_records import built
from domain.ports import RecordedEvent
from domain.recorded_json import as_is, recorded_to_dict
from projections.live.broadcast import Inbox

# The runner's logger: a message it cannot decode sends the runner to the log.
log = logging.getLogger("projections.projectors.runner")

# Bound a message. Redis keeps a subscriber's unsent messages in its output buffer and
# drops the subscriber whose buffer passes 32 MB (its default for pub/sub): a hundred
# posts of the longest content allowed would have made one message of that size. A
# runner takes messages until it holds its batch size or more.
MESSAGE_EVENTS = 100
MESSAGE_BYTES = 1 << 20  # a single event larger than this goes alone
# A runner's inbox holds this many messages, at most 10,000 events, before it is
# marked lost and the runner reads the log instead (the bound it had in events when a
# message carried one).
INBOX_MESSAGES = 10_000 // MESSAGE_EVENTS


def encode(events: Iterable[RecordedEvent]) -> list[bytes]:
    """The events as messages, in order, each of at most MESSAGE_EVENTS events and
    MESSAGE_BYTES bytes (an event larger than that alone)."""
    encoded: list[bytes] = []
    held: list[bytes] = []
    size = 1  # the array's "[", then each event with the "," or "]" after it
    for recorded in events:
        event = orjson.dumps(recorded_to_dict(recorded, as_is))
        if held and (len(held) == MESSAGE_EVENTS or size + len(event) + 1 > MESSAGE_BYTES):
            encoded.append(_array(held))
            held, size = [], 1
        held.append(event)
        size += len(event) + 1
    if held:
        encoded.append(_array(held))
    return encoded


def _array(events: list[bytes]) -> bytes:
    return b"[" + b",".join(events) + b"]"


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
    return built(  # RecordedEvent(...), without its frozen __init__ (domain/frozen_records.py)
        RecordedEvent,
        {
            "position": message["position"],
            "stream_id": message["stream_id"],
            "version": message["version"],
            "event": event_from_dict(message["type"], message["data"]),
            "command_id": message["command_id"],
            "actor_id": message["actor_id"],
            "correlation_id": message["correlation_id"],
            "recorded_at": datetime.fromisoformat(message["recorded_at"]),
        },
    )
