"""A newest-first page of posts is read in one round trip, cursors and ties included."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from harness import redis_server
from harness.net import free_port
from projections.keyspace.keys import Keys
from projections.readers.batched_reads import BatchedReads
from projections.readers.pagination import Slice
from projections.readers.read_models import ReadModels

# (member, score): ties on both sides of every page boundary when paging by 2. Members
# are ids as the server makes them (a cursor names one), in the order of their number.
POSTS = [
    (f"00000000-0000-4000-8000-00000000000{n}", score)
    for n, score in [(7, 9), (6, 5), (5, 5), (4, 5), (3, 5), (2, 3), (1, 3)]
]


@pytest.fixture
def private_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test's own: it counts the commands it serves."""
    port = free_port()
    process = redis_server.start(port, directory=tmp_path)
    yield f"redis://127.0.0.1:{port}/0"
    process.kill()
    process.wait()


@pytest.fixture
async def reads(private_url: str, prefix: str) -> AsyncIterator[tuple[ReadModels, Redis]]:
    redis = Redis.from_url(private_url, decode_responses=True)
    keys = Keys(prefix)
    for member, score in POSTS:
        await redis.zadd(keys.recent(), {member: score})
        await redis.hset(keys.post(member), mapping={
            "id": member, "version": 1, "authorId": "a", "title": member, "content": "",
            "tags": "[]", "status": "PUBLISHED", "commentCount": 0, "likeCount": 0,
            "topComments": "[]", "createdAt": "2026-12-02T00:00:00+00:00",
            "updatedAt": "2026-12-02T00:00:00+00:00",
        })  # fmt: skip
    batched = BatchedReads(redis)
    yield ReadModels(redis, keys, [], batched), redis
    await batched.aclose()
    await redis.aclose()


async def test_paging_by_two_returns_every_post_once_newest_first(
    reads: tuple[ReadModels, Redis],
) -> None:
    models, _ = reads
    seen: list[str] = []
    after = None
    while True:
        page = await models.recent_posts(Slice(2, after))
        assert page.total == len(POSTS)
        seen += [post.id for _, post in page.posts]
        if not page.has_next:
            break
        after = page.posts[-1][0]
    assert seen == [member for member, _ in POSTS]


async def test_a_page_is_one_round_trip(reads: tuple[ReadModels, Redis]) -> None:
    models, redis = reads
    await models.recent_posts(Slice(20))  # loads the script, opens the connection
    before = await redis.info("commandstats")
    page = await models.recent_posts(Slice(20))
    after = await redis.info("commandstats")
    assert len(page.posts) == len(POSTS)
    calls = {name: stats["calls"] - before.get(name, {"calls": 0})["calls"]
             for name, stats in after.items()}  # fmt: skip
    # Redis counts the script's own calls too: these are all inside the one EVALSHA.
    assert {name: n for name, n in calls.items() if n} == {
        "cmdstat_info": 1, "cmdstat_evalsha_ro": 1,
        "cmdstat_zcard": 1, "cmdstat_zrevrangebyscore": 1, "cmdstat_hgetall": len(POSTS),
    }  # fmt: skip
