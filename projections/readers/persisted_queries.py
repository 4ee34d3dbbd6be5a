"""The documents of Apollo's automatic persisted queries, kept in Redis with a bound.

Not a read model: a cache of what clients sent, by SHA-256 hash (schema/persisted.py
checks the hash before anything is stored). Each document expires unless used, and
past the count the oldest stored go first.

Redis may refuse writes while it still serves reads: out of memory under the
`noeviction` policy Inkwell asks for (infra/redis_policy.py), a replica after a
failover (READONLY), a failed snapshot under `stop-writes-on-bgsave-error` (MISCONF).
A cache must not turn that into a failed request: a refused store leaves the document
unstored (the request that sent it still runs), and a refused lookup (GETEX renews the
age, so it is a write) finds nothing, so that the client sends its document, as the
protocol has it. Each refusal is one line of the log. A Redis that does not answer at
all is not caught here: the request could not run either (UNAVAILABLE, schema/view.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from projections.keyspace.keys import Keys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bounds:
    """Documents up to `max_bytes`, at most `max_count` of them (the oldest stored go
    first), each for `ttl_seconds` after it was last sent."""

    max_bytes: int = 32 * 1024
    max_count: int = 1_000
    ttl_seconds: int = 7 * 24 * 3600


class PersistedQueryStore:
    def __init__(self, redis: Redis, keys: Keys, bounds: Bounds) -> None:
        self._redis = redis
        self._keys = keys
        self.bounds = bounds

    async def load(self, digest: str) -> str | None:
        """The document, or None: not stored, or Redis refused the lookup."""
        try:
            # GETEX renews the age of a document still in use.
            found = await self._redis.getex(
                self._keys.persisted_query(digest), ex=self.bounds.ttl_seconds
            )
        except ResponseError as refused:
            log.warning("persisted query lookup refused by Redis (%s): not found", refused)
            return None
        assert found is None or isinstance(found, str)  # the client decodes responses
        return found

    async def store(self, digest: str, document: str) -> None:
        index = self._keys.persisted_queries()
        now = time.time()
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(self._keys.persisted_query(digest), document, ex=self.bounds.ttl_seconds)
                pipe.zadd(index, {digest: now})
                pipe.zremrangebyscore(index, "-inf", now - self.bounds.ttl_seconds)
                pipe.zrange(index, 0, -(self.bounds.max_count + 1))
                *_, over = await pipe.execute()
        except ResponseError as refused:
            log.warning("persisted query not stored: Redis refused the write (%s)", refused)
            return
        if over:
            await self._evict([str(digest) for digest in over])

    async def _evict(self, digests: list[str]) -> None:
        """Removes the documents stored before the newest `max_count`, as the store's MULTI
        found them. Stores at the same time find the same oldest ones: each had popped as
        many as it counted over the bound, and 40 stores at once into a full store of
        1,000 left 573 (an outside probe)."""
        await self._redis.delete(*(self._keys.persisted_query(d) for d in digests))
        await self._redis.zrem(self._keys.persisted_queries(), *digests)
