"""The projection lease on a real Redis: one holder at a time, and an owner takes back its own."""

from __future__ import annotations

from redis.asyncio import Redis

from projections.keyspace.keys import Keys
from projections.projectors.lease import Lease

LOG = "0123456789abcdef0123456789abcdef"


async def test_a_lease_has_one_holder_until_it_is_released(redis: Redis, prefix: str) -> None:
    key = Keys(prefix).lease("posts")
    first, second = Lease(redis, key, 5.0, LOG), Lease(redis, key, 5.0, LOG)
    assert await first.acquire()
    assert not await second.acquire()
    assert not await second.renew()
    await second.release()  # not its own: nothing happens
    assert await redis.get(key) == first.owner
    await first.release()
    assert await second.acquire()
    assert await redis.get(key) == second.owner


async def test_an_owner_that_could_not_release_its_lease_takes_it_back_for_a_new_term(
    redis: Redis, prefix: str
) -> None:
    """A runner stopped by an error, its release refused (a replica's READONLY) or lost
    with the connection, starts again: its own lease must not make it stand by."""
    key = Keys(prefix).lease("posts")
    owner, other = Lease(redis, key, 5.0, LOG), Lease(redis, key, 5.0, LOG)
    assert await owner.acquire()
    await redis.pexpire(key, 200)  # most of the term gone
    assert await owner.acquire()
    assert 4_000 < await redis.pttl(key) <= 5_000
    assert not await other.acquire()


async def test_a_lease_redis_lost_is_taken_back_only_when_asked_and_never_from_another(
    redis: Redis, prefix: str
) -> None:
    """A runner within its term finds its lease gone only when Redis lost it: it takes it
    back (ProjectionRunner), where it had stood by and cancelled the rebuild it had just
    begun after the loss (an outside probe)."""
    key = Keys(prefix).lease("posts")
    owner, other = Lease(redis, key, 5.0, LOG), Lease(redis, key, 5.0, LOG)
    assert await owner.acquire()
    await redis.delete(key)  # a FLUSHALL
    assert not await owner.renew()
    assert await owner.renew(retake=True)
    assert await redis.get(key) == owner.owner
    assert 4_000 < await redis.pttl(key) <= 5_000
    assert not await other.renew(retake=True)  # held: never taken from its holder
    assert await redis.get(key) == owner.owner
