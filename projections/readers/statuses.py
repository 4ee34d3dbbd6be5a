"""Each projection's progress as the API shows it: position, head, what is parked, and
since when its oldest unapplied event waits (from the recent-events list)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from redis.asyncio import Redis

from projections.keyspace.keys import Keys
from projections.readers.views import ProjectionStatusView, RecentEventView


async def projection_statuses(
    redis: Redis, keys: Keys, names: Sequence[str]
) -> list[ProjectionStatusView]:
    """Read in one MULTI, so the figures are of one moment."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.mget([keys.checkpoint(name) for name in names])
        pipe.zscore(keys.head(), "head")
        pipe.zrevrange(keys.recent_events(), 0, -1)
        for name in names:
            pipe.zcard(keys.parked(name))
            pipe.hlen(keys.parked_streams(name))
        checkpoints, head, recent, *parked = await pipe.execute()
    newest = [RecentEventView.from_json(entry) for entry in recent]
    return [
        ProjectionStatusView(
            name,
            int(checkpoint or 0),
            int(head or 0),
            events,
            streams,
            waiting_since(newest, int(checkpoint or 0)),
        )
        for name, checkpoint, events, streams in zip(
            names, checkpoints, parked[0::2], parked[1::2], strict=True
        )
    ]


def waiting_since(events: Sequence[RecentEventView], checkpoint: int) -> datetime | None:
    """When the oldest event past the checkpoint was committed, if the list still holds
    it (newest first, as stored); None when caught up or when it is older than the list."""
    pending = [event for event in events if event.position > checkpoint]
    if not pending:
        return None
    oldest = pending[-1]
    covers = len(pending) < len(events) or len(events) < Keys.RECENT_EVENTS_KEPT
    return oldest.recorded_at if covers else None
