"""Proof that the read models are a function of the log: replay it into scratch spaces
and compare every key, value for value, with the active ones.

Both sides are streamed a SCAN page at a time, and Redis compares each page in one
script call that returns only the keys that differ: never one round trip per key,
so a million keys compare in minutes. This is an operator's tool and a test's: it
SCANs, which the hot path never does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from domain.ports import EventLog
from projections.keyspace.keys import Keys
from projections.keyspace.spaces import drop_space, scan_pages
from projections.projectors.projection import Projection
from projections.projectors.rebuild import Rebuild
from projections.projectors.scripts import Scripts
from projections.redisio.read_only_scripts import ReadOnlyScript


async def replay(
    redis: Redis, event_log: EventLog, keys: Keys, projections: Sequence[Projection]
) -> Keys:
    """Applies the whole log to new scratch spaces; returns `keys` naming them. The
    active spaces are left alone; `drop` deletes the scratch ones."""
    scripts = Scripts.register(redis)
    spaces, _ = await Rebuild(redis, keys, scripts, event_log, projections).scratch()
    scratch = Keys(keys.prefix)
    for name, space in spaces.items():
        scratch = scratch.with_space(name, space)
    return scratch


async def drop(redis: Redis, keys: Keys, projections: Sequence[str]) -> None:
    for name in projections:
        await drop_space(redis, keys.space(name))


@dataclass
class Comparison:
    keys: int = 0  # keys compared, both sides together
    differences: list[str] = field(default_factory=list)


COMPARE_KEYS = (Path(__file__).parent / "lua" / "compare_keys.lua").read_text()


async def compare(
    redis: Redis, live: Keys, rebuilt: Keys, projections: Sequence[str]
) -> Comparison:
    """What differs between the read models of two sets of spaces, one line per key.
    Redis compares each SCAN page in one script call; only differing keys come back."""
    script = ReadOnlyScript(redis, COMPARE_KEYS)
    result = Comparison()
    for name in projections:
        left, right = live.space(name), rebuilt.space(name)
        for ours, theirs, mode in ((left, right, "differ"), (right, left, "missing")):
            async for page in scan_pages(redis, ours):
                names = [key.removeprefix(ours) for key in page]
                found = await script([*page, *(theirs + key for key in names)], [mode])
                result.keys += len(page)
                odd = [
                    names[int(i) - 1]
                    for i in found
                    if not names[int(i) - 1].startswith(Keys.SPACE_BOOKKEEPING)
                ]
                a = await values(redis, [left + key for key in odd])
                b = await values(redis, [right + key for key in odd])
                result.differences += [
                    f"{name}{key}: live {x!r} != replayed {y!r}"
                    for key, x, y in zip(odd, a, b, strict=True)
                ]
    return result


async def differences(
    redis: Redis, live: Keys, rebuilt: Keys, projections: Sequence[str]
) -> list[str]:
    return (await compare(redis, live, rebuilt, projections)).differences


async def values(redis: Redis, keys: Sequence[str]) -> list[Any]:
    """Each key's whole value in a comparable form (None if absent): two round trips."""
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.type(key)
        kinds = await pipe.execute()
        for key, kind in zip(keys, kinds, strict=True):
            _read(pipe, key, kind)
        replies = await pipe.execute()
    return [_comparable(kind, reply) for kind, reply in zip(kinds, replies, strict=True)]


def _read(pipe: Any, key: str, kind: str) -> None:
    if kind == "hash":
        pipe.hgetall(key)
    elif kind == "zset":
        pipe.zrange(key, 0, -1, withscores=True)
    elif kind == "set":
        pipe.smembers(key)
    elif kind == "list":
        pipe.lrange(key, 0, -1)
    else:
        pipe.get(key)


def _comparable(kind: str, reply: Any) -> Any:
    return sorted(reply) if kind == "set" else reply


async def dump(redis: Redis, prefix: str) -> dict[str, Any]:
    """Every key under the prefix (named without it) with its whole value."""
    contents: dict[str, Any] = {}
    async for page in scan_pages(redis, prefix):
        for key, value in zip(page, await values(redis, page), strict=True):
            contents[key.removeprefix(prefix)] = value
    return contents
