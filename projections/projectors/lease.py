"""A Redis lease on one projection: its holder runs it, other processes stand by.

The lease only saves duplicate work. Exactly-once does not depend on it: a batch
commits under WATCH of its checkpoint, so a runner that lost its lease without
knowing (a long pause, a partition) cannot apply anything twice.

An owner takes back a lease it still holds. A runner that stopped on an error cannot
always let its lease go: Redis refuses the release as a replica after a failover
(READONLY), or is out of reach. It used to find its own lease in the way when it
started again, and stood by as if another process ran the projection for the rest of
the term (5 s by default): every read-your-writes wait of those seconds timed out.

A holder's id starts with the identity of the event log it projects: a process of
another log sees from it that this log's processes run (log_binding.py). It ends with
the holder's role, when it has one: holders.py tells an operator who holds a lock.
"""

from __future__ import annotations

import os
import socket
import uuid

from redis.asyncio import Redis

# Takes a free lease, or one this owner still holds, for a new term.
_ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
# Renews only a lease this owner still holds, or, with ARGV[3] '1', one nobody holds.
_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not holder and ARGV[3] == '1' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
# Deletes only this owner's lease.
_RELEASE = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)


class Lease:
    def __init__(
        self, redis: Redis, key: str, seconds: float, log_identity: str, role: str = ""
    ) -> None:
        self._key = key
        self._milliseconds = int(seconds * 1000)
        self.owner = holder_id(log_identity, role)
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self) -> bool:
        return bool(await self._acquire([self._key], [self.owner, self._milliseconds]))

    async def renew(self, retake: bool = False) -> bool:
        """Extends the term; with `retake`, also takes the lease back when nobody holds it.
        A holder whose term has not ended by its own clock finds its lease gone only when
        Redis lost it (flushed, restarted empty): no other process can have taken it
        legitimately. A projector stood by then, cancelling the rebuild it had just begun
        after the loss, and began it again seconds later (an outside probe)."""
        flag = "1" if retake else "0"
        return bool(await self._renew([self._key], [self.owner, self._milliseconds, flag]))

    async def release(self) -> None:
        await self._release([self._key], [self.owner])


def holder_id(log_identity: str, role: str = "") -> str:
    """A new holder id for this process: its log, host, pid, a token of its own, its role."""
    process = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    return f"{log_identity}@{process}" + (f":{role}" if role else "")
