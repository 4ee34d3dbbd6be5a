"""The recent-events projection: the newest events of the log, a capped sorted set.

The live page's event log reads it, so it shows the log growing from a read model like
any other. An entry names the event, never its data: drafts and their text are their
author's alone, and this list is for everybody. Each entry carries its commit time,
which also tells how long the other projections' oldest unapplied event has waited.
"""

from __future__ import annotations

import orjson

from domain.events import EVENT_TYPES, Event
from domain.ports import RecordedEvent
from projections.projectors.projection import Projection
from projections.projectors.tx import Tx

NAME = "recent_events"


def on_any_event(e: Event, at: RecordedEvent, tx: Tx) -> None:
    # Scored by position, not pushed: an event applied late (parked, then retried) takes
    # its place in log order, so the read model equals a replay whatever the apply order.
    # Only the batch's newest entries can stay: the others are never made (Tx.add_capped).
    tx.add_capped(
        tx.keys.recent_events(), tx.keys.RECENT_EVENTS_KEPT, at.position, lambda: _entry(e, at)
    )


def _entry(e: Event, at: RecordedEvent) -> bytes:
    return orjson.dumps(
        {
            "position": at.position,
            "type": type(e).__name__,
            "streamId": at.stream_id,
            "version": at.version,
            "recordedAt": at.recorded_at.isoformat(),
        }
    )


PROJECTION = Projection(NAME).on_each(EVENT_TYPES.values(), on_any_event)
