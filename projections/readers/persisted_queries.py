"""The documents of Apollo's automatic persisted queries, kept in Redis with a bound.

Not a read model: a cache of what clients sent, by SHA-256 hash (schema/persisted.py
checks the hash before anything is stored). Each document expires unless used, and
past the count the oldest stored go first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

from projections.keyspace.keys import Keys


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
        # GETEX renews the age of a document still in use.
        found = await self._redis.getex(
            self._keys.persisted_query(digest), ex=self.bounds.ttl_seconds
        )
        assert found is None or isinstance(found, str)  # the client decodes responses
        return found

    async def store(self, digest: str, document: str) -> None:
        index = self._keys.persisted_queries()
        now = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._keys.persisted_query(digest), document, ex=self.bounds.ttl_seconds)
            pipe.zadd(index, {digest: now})
            pipe.zremrangebyscore(index, "-inf", now - self.bounds.ttl_seconds)
            pipe.zcard(index)
            *_, count = await pipe.execute()
        if count > self.bounds.max_count:
            await self._evict(count - self.bounds.max_count)

    async def _evict(self, excess: int) -> None:
        oldest = await self._redis.zpopmin(self._keys.persisted_queries(), excess)
        digests = [str(entry[0]) for entry in oldest if isinstance(entry, (tuple, list))]
        if digests:
            await self._redis.delete(*(self._keys.persisted_query(d) for d in digests))
