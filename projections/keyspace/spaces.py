"""Walking and deleting a space's keys: SCAN pages, never KEYS, so Redis never stalls."""

from __future__ import annotations

from collections.abc import AsyncIterator

from redis.asyncio import Redis

PAGE = 1000


async def scan_pages(redis: Redis, space: str) -> AsyncIterator[list[str]]:
    """Every key of the space, a SCAN page (about PAGE keys) at a time."""
    cursor = 0
    while True:
        cursor, keys = await redis.scan(cursor, match=f"{space}:*", count=PAGE)
        if keys:
            yield [str(key) for key in keys]
        if cursor == 0:
            return


async def drop_space(redis: Redis, space: str) -> None:
    """Deletes every key of a space (UNLINK frees the memory in the background)."""
    async for keys in scan_pages(redis, space):
        await redis.unlink(*keys)
