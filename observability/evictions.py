"""Keys Redis evicted, as a sign that read models lost data in silence.

Under `noeviction` (what Inkwell asks for, infra/redis_policy.py) Redis never deletes a
key to make room, and under a volatile-* policy it deletes only keys with a TTL, which no
read model has. But an allkeys-* policy set for a while, then set back, left read models
missing thousands of keys while /ready said ready and `status` exited 0: only `verify`
noticed (an outside probe: 7,713 keys evicted, 1,579 users and posts NOT_FOUND).

Redis counts every eviction since it started (`INFO stats`, `evicted_keys`). Whatever it
counted beyond what the last full `rebuild` or matching `verify` accounted for
(Keys.evictions_accounted) means the read models may miss keys. A Redis restart zeroes
the count; it then either reloaded its data or lost it all, which the projectors rebuild.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from projections.keyspace.keys import Keys


def evicted_in(info: Mapping[str, Any]) -> int | None:
    """From INFO's memory and stats sections: Redis's count of evictions since it started,
    or None where any key it evicts has a TTL (a volatile-* policy), so none is a read
    model's."""
    if str(info.get("maxmemory_policy", "")).startswith("volatile-"):
        return None
    return int(info.get("evicted_keys", 0))


async def evicted_keys(redis: Redis) -> int | None:
    """`evicted_in` of Redis's INFO; None too where INFO is refused (an ACL, a managed
    Redis): nothing can be said, and the commands that ask go on."""
    info = await memory_info(redis)
    return None if info is None else evicted_in(info)


async def memory_info(redis: Redis) -> Mapping[str, Any] | None:
    """INFO's memory and stats sections; None where INFO is refused."""
    try:
        info: Mapping[str, Any] = await redis.info("memory", "stats")
    except ResponseError:
        return None
    return info


def evicting_policy(info: Mapping[str, Any]) -> str | None:
    """What to say while Redis's maxmemory-policy may delete read-model keys (allkeys-*),
    or None. /ready is degraded then, and `inkwell status` exits 1: it said nothing until
    keys were gone."""
    policy = str(info.get("maxmemory_policy", ""))
    if not policy.startswith("allkeys-"):
        return None
    return (
        f"Redis's maxmemory-policy is {policy}: when memory is full it deletes read-model "
        "keys, which queries then miss. Set it to noeviction, then run `inkwell verify` "
        "(and `inkwell rebuild` if it finds differences)"
    )


async def unaccounted_evictions(redis: Redis, keys: Keys, evicted: int | None) -> int:
    """How many of `evicted` (evicted_keys) no rebuild or verify since has accounted for."""
    if evicted is None:
        return 0
    accounted = int(await redis.get(keys.evictions_accounted()) or 0)
    return max(0, evicted - accounted)


async def account_for(redis: Redis, keys: Keys, evicted: int | None) -> None:
    """Records that the read models are whole as of `evicted` evictions (read before the
    rebuild or verify that shows it began)."""
    if evicted is not None:
        await redis.set(keys.evictions_accounted(), evicted)


def advice(count: int) -> str:
    return (
        f"Redis evicted {count:,} keys under a policy that may delete any key (INFO "
        "evicted_keys): the read models may miss some. Run `inkwell verify`, and "
        "`inkwell rebuild` if it finds differences; either clears this"
    )
