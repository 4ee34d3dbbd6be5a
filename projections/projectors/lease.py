"""A Redis lease on one projection: its holder runs it, other processes stand by.

The lease only saves duplicate work. Exactly-once does not depend on it: a batch
commits under WATCH of its checkpoint, so a runner that lost its lease without
knowing (a long pause, a partition) cannot apply anything twice.
"""

from __future__ import annotations

import os
import socket
import uuid

from redis.asyncio import Redis

# Renews only a lease this owner still holds; deletes only its own.
_RENEW = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
)
_RELEASE = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)


class Lease:
    def __init__(self, redis: Redis, key: str, seconds: float) -> None:
        self._redis = redis
        self._key = key
        self._milliseconds = int(seconds * 1000)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self) -> bool:
        return bool(await self._redis.set(self._key, self.owner, nx=True, px=self._milliseconds))

    async def renew(self) -> bool:
        return bool(await self._renew([self._key], [self.owner, self._milliseconds]))

    async def release(self) -> None:
        await self._release([self._key], [self.owner])
