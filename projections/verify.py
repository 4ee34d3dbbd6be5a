"""Proof that the read models are a function of the log: replay it into an empty
namespace and compare every key, value for value, with the live one.

This is an operator's tool and a test's: it SCANs, which the hot path never does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from domain.ports import EventLog
from projections.keys import Keys
from projections.projection import Projection
from projections.runner import ProjectionRunner
from projections.scripts import Scripts


async def replay(
    redis: Redis, event_log: EventLog, keys: Keys, projections: Sequence[Projection]
) -> None:
    """Applies the whole log to the namespace of `keys`, from its checkpoints on."""
    scripts = Scripts.register(redis)
    for projection in projections:
        await ProjectionRunner(projection, redis, keys, scripts, event_log).catch_up()


async def dump(redis: Redis, prefix: str) -> dict[str, Any]:
    """Every key under the prefix (named without it) with its whole value."""
    contents: dict[str, Any] = {}
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        kind = await redis.type(key)
        if kind == "hash":
            value: Any = await redis.hgetall(key)
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            value = sorted(await redis.smembers(key))
        elif kind == "list":
            value = await redis.lrange(key, 0, -1)
        else:
            value = await redis.get(key)
        contents[key.removeprefix(prefix)] = value
    return contents


async def differences(redis: Redis, live: Keys, rebuilt: Keys) -> list[str]:
    """What differs between the read models of two namespaces, one line per key."""
    left, right = await read_models(redis, live), await read_models(redis, rebuilt)
    return [
        f"{key}: live {left.get(key)!r} != replayed {right.get(key)!r}"
        for key in sorted(left.keys() | right.keys())
        if left.get(key) != right.get(key)
    ]


async def read_models(redis: Redis, keys: Keys) -> dict[str, Any]:
    """The namespace's dump without the keys that describe a run, not the log."""
    run_state = tuple(prefix.removeprefix(keys.prefix) for prefix in keys.run_state())
    return {
        key: value
        for key, value in (await dump(redis, keys.prefix)).items()
        if not key.startswith(run_state)
    }


async def drop(redis: Redis, prefix: str) -> None:
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        await redis.delete(key)
