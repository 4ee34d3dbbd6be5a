"""Whether Redis takes writes.

A Redis that serves reads and refuses writes (out of memory under noeviction, a
read-only replica, a failed snapshot under stop-writes-on-bgsave-error, too few replicas
under min-replicas-to-write) stalls every projector while they run. `inkwell status`
then said "does a projector run?" of projectors that ran (an outside probe). One write
of a key that expires at once tells, whatever the cause, in Redis's own words.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import ResponseError

PROBE_MILLISECONDS = 1_000


async def write_refusal(redis: Redis, key: str) -> str | None:
    """Redis's refusal of a write, or None when it takes one."""
    try:
        await redis.set(key, "1", px=PROBE_MILLISECONDS)
    except ResponseError as error:
        return str(error)
    return None
