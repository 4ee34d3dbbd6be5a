"""Helpers for read-side tests: run commands in process, wait for the projections, dump Redis."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from domain.bus import Caller
from domain.commands import Command, CreatePost, PublishPost, RegisterUser
from server import Inkwell


async def send(inkwell: Inkwell, command: Command, actor: str | None = None) -> dict[str, str]:
    outcome = await inkwell.services.bus.dispatch(command, Caller(actor, "test"))
    return {**outcome.ids, "position": str(outcome.position)}


async def settle(inkwell: Inkwell, timeout: float = 10.0) -> None:
    """Waits until every projection has applied everything in the log."""
    head = await inkwell.store.head_position()
    await inkwell.services.consistency.wait_for(head, timeout)


async def author_with_posts(inkwell: Inkwell, published: int, drafts: int = 0) -> str:
    user = (await send(inkwell, RegisterUser("Ann")))["user_id"]
    for i in range(published + drafts):
        post = (await send(inkwell, CreatePost(f"Post {i}", "Body", ("cqrs",)), user))["post_id"]
        if i < published:
            await send(inkwell, PublishPost(post), user)
    return user


async def snapshot(redis: Redis, prefix: str) -> dict[str, Any]:
    """Every read-model key under the prefix with its full value (tests only: it SCANs)."""
    dump: dict[str, Any] = {}
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        kind = await redis.type(key)
        if kind == "hash":
            dump[key] = await redis.hgetall(key)
        elif kind == "zset":
            dump[key] = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            dump[key] = sorted(await redis.smembers(key))
        elif kind == "list":
            dump[key] = await redis.lrange(key, 0, -1)
        else:
            dump[key] = await redis.get(key)
    return dump
