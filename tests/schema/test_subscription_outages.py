"""A subscription's item whose reads met a Redis outage runs again once Redis answers.

Sent as it came, it was `data: null` with the outage's error, and its change was never
sent again: a signed-in reader's last `likedByViewer` item stayed an old state after
Redis froze or restarted (an outside probe). Here a real redis-server is killed while
an item is read, and started again: the item comes once Redis answers, whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path

import strawberry
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from harness.net import free_port
from harness.redis_server import start as redis_server
from schema.execution import Executor

OUTAGES = (RedisConnectionError, RedisTimeoutError)


@strawberry.type
class Item:
    number: int

    @strawberry.field
    async def stored(self, info: strawberry.Info) -> str:
        redis: Redis = info.context["redis"]
        return str(await redis.get("stored"))


@strawberry.type
class Query:
    ok: bool = True


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def items(self, info: strawberry.Info) -> AsyncGenerator[Item, None]:
        queue: asyncio.Queue[int] = info.context["queue"]
        while True:
            yield Item(number=await queue.get())


def schema_waiting(seconds: float) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        subscription=Subscription,
        execution_context_class=Executor.waiting_out(OUTAGES, seconds),
    )


async def items_across_a_restart(tmp_path: Path, wait_seconds: float) -> list[object]:
    """Item 1 read with Redis up; item 2 asked for while it is down, and Redis started
    again 1.5 s later. The results of both."""
    port = free_port()
    server = redis_server(port, directory=tmp_path)
    redis = Redis(
        port=port, retry=Retry(NoBackoff(), 0), socket_connect_timeout=0.5, decode_responses=True
    )
    queue: asyncio.Queue[int] = asyncio.Queue()
    await redis.set("stored", "before")
    stream = await schema_waiting(wait_seconds).subscribe(
        "subscription { items { number stored } }",
        context_value={"redis": redis, "queue": queue},
    )
    assert not hasattr(stream, "errors")
    try:
        queue.put_nowait(1)
        first = await anext(stream)
        server.kill()
        server.wait()
        queue.put_nowait(2)
        second = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(1.5)
        server = redis_server(port, directory=tmp_path)  # empty: the item reads it again
        await Redis(port=port).set("stored", "after")
        async with asyncio.timeout(20):
            return [first, await second]
    finally:
        await stream.aclose()
        await redis.aclose()
        server.kill()
        server.wait()


def test_an_item_read_as_redis_died_comes_whole_once_redis_is_back(tmp_path: Path) -> None:
    first, second = asyncio.run(items_across_a_restart(tmp_path, wait_seconds=30))
    assert first.data == {"items": {"number": 1, "stored": "before"}}  # type: ignore[attr-defined]
    assert second.errors is None, second.errors  # type: ignore[attr-defined]
    assert second.data == {"items": {"number": 2, "stored": "after"}}  # type: ignore[attr-defined]


def test_an_item_that_outlasts_the_wait_comes_with_its_error(tmp_path: Path) -> None:
    """After `outage_wait_seconds` the item is sent as it came: the topics give up then
    too, ending their streams with RESUBSCRIBE."""
    _, second = asyncio.run(items_across_a_restart(tmp_path, wait_seconds=0.5))
    errors = second.errors  # type: ignore[attr-defined]
    assert second.data is None  # type: ignore[attr-defined]  # a non-null field failed
    assert [type(e.original_error) for e in errors] == [RedisConnectionError]
