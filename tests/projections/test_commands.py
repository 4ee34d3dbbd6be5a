"""A batch's command buffer sends what redis-py's Pipeline sends for the same calls, and
replays into a MULTI whose replies redis-py parses as it would its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from projections.projectors.commands import Commands
from projections.redisio.bulk_pipeline import packed

CALLS: list[Callable[[Any], object]] = [
    lambda p: p.zadd("z", {"a": 1796229288987989, "b": 2}),
    lambda p: p.zadd("z", {b"\x00json": 3}),
    lambda p: p.zadd("z", {"a": 2**32}, xx=True, incr=True),
    lambda p: p.zrem("z", "a", "b"),
    lambda p: p.sadd("s", "x", "y"),
    lambda p: p.srem("s", "x"),
    lambda p: p.hset("h", "f", 1.5),
    lambda p: p.hset("h", mapping={"a": "é", "b": -1}),
    lambda p: p.hsetnx("h", "f", 2),
    lambda p: p.hincrby("h", "n", -1),
    lambda p: p.hdel("h", "a", "b"),
    lambda p: p.set("k", "v"),
    lambda p: p.delete("k", "z"),
    lambda p: p.publish("channel", b'{"id":1}'),
    lambda p: p.evalsha("abc", 2, "k1", "k2", 7, "x"),
]


async def test_the_same_commands_as_redis_pys_pipeline() -> None:
    ours = Commands()
    theirs = Redis().pipeline(transaction=False)
    for call in CALLS:
        call(ours)
        call(theirs)
    assert packed(ours.stack) == packed(args for args, _ in theirs.command_stack)


async def test_a_replay_is_parsed_as_redis_py_parses_its_own(redis_url: str, prefix: str) -> None:
    redis = Redis.from_url(redis_url, decode_responses=True)
    commands = Commands()
    commands.zadd(f"{prefix}:z", {"a": 1})
    commands.hset(f"{prefix}:h", "f", "v")
    commands.zadd(f"{prefix}:z", {"a": 2**32}, xx=True, incr=True)
    try:
        async with redis.pipeline(transaction=True) as pipe:
            commands.replay(pipe)
            assert await pipe.execute() == [1, 1, 2**32 + 1.0]
    finally:
        await redis.aclose()


def test_discarded_commands_are_gone() -> None:
    commands = Commands()
    commands.sadd("s", "kept")
    mark = len(commands.stack)
    commands.zadd("z", {"a": 1}, xx=True, incr=True)
    commands.discard_after(mark)
    commands.zadd("z", {"a": 1})
    assert commands.stack == [("SADD", "s", "kept"), ("ZADD", "z", 1, "a")]
