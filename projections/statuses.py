"""Each projection's progress as the API shows it: position, head, and what is parked."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from projections.keys import Keys
from projections.views import ProjectionStatusView


async def projection_statuses(
    redis: Redis, keys: Keys, names: Sequence[str]
) -> list[ProjectionStatusView]:
    """Read in one MULTI, so the figures are of one moment."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.mget([keys.checkpoint(name) for name in names])
        pipe.zscore(keys.head(), "head")
        for name in names:
            pipe.zcard(keys.parked(name))
            pipe.hlen(keys.parked_streams(name))
        checkpoints, head, *parked = await pipe.execute()
    return [
        ProjectionStatusView(name, int(checkpoint or 0), int(head or 0), events, streams)
        for name, checkpoint, events, streams in zip(
            names, checkpoints, parked[0::2], parked[1::2], strict=True
        )
    ]
