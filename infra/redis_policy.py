"""Refuses a Redis that may evict keys: an evicted read-model key is data lost in silence.

A projector cannot notice that Redis dropped one hash to make room: the
checkpoint says the event was applied, and queries just miss it. So Inkwell
wants `maxmemory-policy noeviction` (writes fail loudly when memory is full, and a
failed batch is retried or rebuilt). The volatile-* policies only evict keys with a
TTL, which no read model has, so they are accepted too.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import ResponseError

log = logging.getLogger(__name__)


class EvictingRedis(RuntimeError):
    """Raised at startup in production mode when Redis may evict read-model keys."""


PRODUCTION_REFUSAL = " Refusing to start (INKWELL_ENV=production)."


async def maxmemory_policy(redis: Redis) -> str | None:
    """Redis's maxmemory-policy, or None when it does not say (CONFIG disabled, as on some
    managed Redis)."""
    try:
        return str((await redis.config_get("maxmemory-policy"))["maxmemory-policy"])
    except (ResponseError, KeyError):
        return None


def eviction_refusal(policy: str | None) -> str | None:
    """Why a Redis under `policy` may lose read-model keys, or None when it may not."""
    if policy is None or not policy.startswith("allkeys-"):
        return None
    return (
        f"Redis's maxmemory-policy is {policy}: when memory is full Redis deletes "
        "read-model keys, and the read models silently lose data. Set it to noeviction "
        "(redis-cli CONFIG SET maxmemory-policy noeviction, and in redis.conf)."
    )


async def check_eviction_policy(redis: Redis, *, production: bool) -> str | None:
    """Warns loudly (refuses, in production) when Redis may evict any key; returns the
    policy, or None when Redis does not say."""
    policy = await maxmemory_policy(redis)
    if policy is None:
        log.warning(
            "could not read Redis's maxmemory-policy; make sure it is noeviction: "
            "an evicted read-model key is lost without anyone noticing"
        )
        return None
    message = eviction_refusal(policy)
    if message is not None:
        if production:
            raise EvictingRedis(message + PRODUCTION_REFUSAL)
        log.error(message)
    return policy
