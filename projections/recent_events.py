"""The recent-events projection: the newest events of the log, a capped sorted set.

The live page's event log reads it, so it shows the log growing from a read model like
any other. An entry names the event, never its data: drafts and their text are their
author's alone, and this list is for everybody. Each entry carries its commit time,
which also tells how long the other projections' oldest unapplied event has waited.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import orjson

from domain.events import EVENT_TYPES, Event
from domain.ports import RecordedEvent
from projections.projection import Projection
from projections.tx import Tx
from projections.views import RecentEventView

NAME = "recent_events"
KEPT = 100


def on_any_event(e: Event, at: RecordedEvent, tx: Tx) -> None:
    entry = {
        "position": at.position,
        "type": type(e).__name__,
        "streamId": at.stream_id,
        "version": at.version,
        "recordedAt": at.recorded_at.isoformat(),
    }
    # Scored by position, not pushed: an event applied late (parked, then retried) takes
    # its place in log order, so the read model equals a replay whatever the apply order.
    tx.pipe.zadd(tx.keys.recent_events(), {orjson.dumps(entry): at.position})
    tx.pipe.zremrangebyrank(tx.keys.recent_events(), 0, -KEPT - 1)


PROJECTION = Projection(NAME).on_each(EVENT_TYPES.values(), on_any_event)


def waiting_since(events: Sequence[RecentEventView], checkpoint: int) -> datetime | None:
    """When the oldest event past the checkpoint was committed, if the list still holds
    it (newest first, as stored); None when caught up or when it is older than the list."""
    pending = [event for event in events if event.position > checkpoint]
    if not pending:
        return None
    oldest = pending[-1]
    covers = len(pending) < len(events) or len(events) < KEPT
    return oldest.recorded_at if covers else None
