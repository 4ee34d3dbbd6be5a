"""Reads batched per turn of the event loop (projections/readers/batched_reads.py): one
batch for the reads of a moment, each read its own replies and errors, the client's
retry and deadline kept, and no read left waiting when batches queue up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from observability.faults import CountingRetry
from projections.keyspace.keys import Keys
from projections.readers.batched_reads import MAX_IN_FLIGHT, BatchedReads
from projections.readers.read_models import ReadModels
from tests.support.waiting import until


@pytest.fixture
async def reads(redis: Redis) -> AsyncIterator[BatchedReads]:
    batched = BatchedReads(redis)
    yield batched
    await batched.aclose()


async def test_reads_of_one_moment_share_a_batch_and_get_their_own_replies(
    redis: Redis, reads: BatchedReads, prefix: str
) -> None:
    await redis.hset(f"{prefix}:h", mapping={"name": "Ünïcode ✓", "n": "1"})
    asked = [
        reads.one("HGETALL", f"{prefix}:h"),
        reads.one("HGETALL", f"{prefix}:missing"),
        reads.many([("ECHO", "a"), ("CLIENT", "ID")]),
        *(reads.one("CLIENT", "ID") for _ in range(20)),
    ]
    whole, missing, (echo, first_id), *ids = await asyncio.gather(*asked)
    assert whole == {"name": "Ünïcode ✓", "n": "1"}
    assert missing in ({}, [])
    assert echo == "a"
    assert set(ids) == {first_id}  # one connection: one batch, not 22 round trips


async def test_an_error_reply_fails_only_the_read_that_asked(
    redis: Redis, reads: BatchedReads, prefix: str
) -> None:
    await redis.hset(f"{prefix}:h", "n", "1")
    answers: list[object] = await asyncio.gather(
        reads.one("GET", f"{prefix}:h"), reads.one("ECHO", "fine"), return_exceptions=True
    )
    wrong, right = answers
    assert isinstance(wrong, ResponseError) and "WRONGTYPE" in str(wrong)
    assert right == "fine"


async def test_a_read_cancelled_while_waiting_leaves_the_others_answered(
    reads: BatchedReads, prefix: str
) -> None:
    slow = asyncio.create_task(reads.one("BLPOP", f"{prefix}:empty", 0.2))
    other = asyncio.create_task(reads.one("ECHO", "still here"))
    await asyncio.sleep(0.05)
    slow.cancel()
    assert await other == "still here"
    assert await reads.one("ECHO", "next") == "next"  # the connection's replies in step


async def test_a_dropped_connection_is_retried_and_counted(
    redis_url: str, redis: Redis, prefix: str
) -> None:
    errors: list[BaseException] = []
    client = Redis.from_url(
        redis_url, decode_responses=True, retry=CountingRetry(errors.append, retries=3)
    )
    reads = BatchedReads(client)
    try:
        used = await reads.one("CLIENT", "ID")
        # Dropped while a read is in flight: dropped between reads, the pool could see
        # the closed socket first and reconnect before any read failed.
        waiting = asyncio.create_task(reads.one("BLPOP", f"{prefix}:never", 0.5))

        async def blocked() -> bool:
            return any(
                int(c["id"]) == used and c["cmd"] == "blpop" for c in await redis.client_list()
            )

        await until(blocked)
        await redis.client_kill_filter(_id=used)
        assert await waiting is None  # asked again on a new connection, where it timed out
        assert await reads.one("CLIENT", "ID") != used
        assert errors, "the failed attempt was not reported"
    finally:
        await reads.aclose()
        await client.aclose()


async def test_a_batch_past_the_clients_deadline_fails_and_the_next_reads_its_own(
    redis_url: str, prefix: str
) -> None:
    client = Redis.from_url(
        redis_url, decode_responses=True, socket_timeout=0.1, retry=Retry(NoBackoff(), 0)
    )
    reads = BatchedReads(client)
    try:
        with pytest.raises(RedisTimeoutError):
            await reads.one("BLPOP", f"{prefix}:empty", 0.3)
        await asyncio.sleep(0.3)  # the late BLPOP reply would have arrived by now
        assert await reads.one("ECHO", "mine") == "mine"
    finally:
        await reads.aclose()
        await client.aclose()


async def test_reads_queued_behind_full_flight_are_sent_when_a_batch_returns(
    reads: BatchedReads, prefix: str
) -> None:
    slow = []
    for _ in range(MAX_IN_FLIGHT):  # one batch each: a turn of the loop apart
        slow.append(asyncio.create_task(reads.one("BLPOP", f"{prefix}:empty", 0.2)))
        await asyncio.sleep(0.01)
    queued = [asyncio.create_task(reads.one("ECHO", str(n))) for n in range(10)]
    await asyncio.sleep(0.05)
    assert not any(task.done() for task in queued)  # waiting for a free batch
    assert await asyncio.wait_for(asyncio.gather(*queued), 2) == [str(n) for n in range(10)]
    assert await asyncio.gather(*slow) == [None] * MAX_IN_FLIGHT


async def test_closing_cancels_the_reads_in_flight_and_queued(redis: Redis, prefix: str) -> None:
    reads = BatchedReads(redis)
    in_flight = asyncio.create_task(reads.one("BLPOP", f"{prefix}:empty", 5))
    await asyncio.sleep(0.05)
    queued = asyncio.create_task(reads.one("ECHO", "never sent"))
    await asyncio.sleep(0)  # queued, its batch not sent yet
    await asyncio.wait_for(reads.aclose(), 1)
    for read in (in_flight, queued):  # each answered at once, none left waiting
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(read, 1)


@pytest.mark.parametrize("protocol", [2, 3])
async def test_read_models_read_hashes_and_scored_lists_whichever_protocol_the_url_names(
    redis_url: str, redis: Redis, prefix: str, protocol: int
) -> None:
    """RESP3 answers HGETALL with a map and ZREVRANGE WITHSCORES with pairs, RESP2
    (`?protocol=2` in REDIS_URL) both with a flat list."""
    keys = Keys(prefix)
    await redis.hset(
        keys.user("u1"),
        mapping={"id": "u1", "name": "Ann", "bio": "", "joinedAt": "2026-12-03T00:00:00+00:00",
                 "publishedPostCount": 2},
    )  # fmt: skip
    separator = "&" if "?" in redis_url else "?"
    client = Redis.from_url(f"{redis_url}{separator}protocol={protocol}", decode_responses=True)
    batched = BatchedReads(client)
    entry = {"type": "UserRegistered", "streamId": "user-u", "version": 1,
             "recordedAt": "2026-12-03T00:00:00+00:00"}  # fmt: skip
    for position, key in [(1, keys.recent_public_events()), (2, keys.recent_own_events("u1")),
                          (3, keys.recent_public_events())]:  # fmt: skip
        await redis.zadd(key, {orjson.dumps({"position": position, **entry}): position})
    try:
        reads = ReadModels(client, keys, [], batched)
        user = await reads.user("u1")
        assert user is not None and (user.name, user.published_post_count) == ("Ann", 2)
        events = await reads.recent_events(2, "u1")  # ZREVRANGE WITHSCORES: pairs in RESP3
        assert [event.position for event in events] == [3, 2]
    finally:
        await batched.aclose()
        await client.aclose()
