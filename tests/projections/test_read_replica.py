"""Queries and subscriptions served by a Redis replica, writes by the primary, and
read-your-writes still holds: notices replicate in order with the data."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import redis

from domain.commands import LikePost, RegisterUser
from harness import redis_server
from harness.net import free_port
from projections.readers.pagination import Slice
from tests.support.in_process import author_with_posts, send
from tests.support.settings import make_settings
from wiring.bootstrap import running


def reads_served(port: int) -> int:
    client = redis.Redis(port=port)
    try:
        stats = client.info("commandstats")
        return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("hgetall", "mget"))
    finally:
        client.close()


async def test_a_replica_serves_the_reads_and_still_shows_your_writes(
    tmp_path: Path, sqlite_url: str, prefix: str
) -> None:
    primary_port, replica_port = free_port(), free_port()
    primary = redis_server.start(primary_port, directory=tmp_path)
    replica = redis_server.start(replica_port, replica_of=primary_port, directory=tmp_path)
    try:
        settings = replace(
            make_settings(sqlite_url, f"redis://127.0.0.1:{primary_port}", prefix, tmp_path),
            redis_read_url=f"redis://127.0.0.1:{replica_port}",
        )
        async with running(settings) as inkwell:
            author = await author_with_posts(inkwell, published=1)
            reader = (await send(inkwell, RegisterUser("Reader")))["user_id"]
            before = reads_served(primary_port)

            position = int((await send(inkwell, RegisterUser("Late")))["position"])
            await inkwell.services.consistency.wait_for(position, timeout=10)
            page = await inkwell.services.reads.posts_by_author(author, None, Slice(5))
            post_id = page.posts[0][1].id
            async with inkwell.services.live.post(post_id) as updates:
                first = await asyncio.wait_for(anext(updates), 5)
                assert first is not None and first.like_count == 0
                liked = int((await send(inkwell, LikePost(post_id), reader))["position"])
                after = await asyncio.wait_for(anext(updates), 5)
                assert after is not None and after.like_count == 1
            await inkwell.services.consistency.wait_for(liked, timeout=10)
            post = await inkwell.services.reads.post(post_id, None)
            assert post is not None and post.like_count == 1

            assert reads_served(replica_port) > 0
            assert reads_served(primary_port) == before, "a query read the primary"
    finally:
        for server in (replica, primary):
            server.kill()
            server.wait()
