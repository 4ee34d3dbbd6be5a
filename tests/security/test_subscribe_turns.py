"""A subscribe past a rate waits for its turn (protection/subscribe_turns.py): the rate is
not asked again before the refusal's wait has passed, and the wait ends with its socket,
even when the cancel that ends it is lost."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import ConnectionPool
from starlette.types import Message

from protection.config import RateLimits
from protection.subscribe_turns import SubscribeTurns
from protection.throttle import RateLimited, Rule, Throttle

SUBSCRIBE = {
    "type": "websocket.receive",
    "text": json.dumps(
        {"id": "1", "type": "subscribe", "payload": {"query": "subscription { feed { id } }"}}
    ),
}


class LosingThrottle(Throttle):
    """Refuses every hit for 1 s after a round trip, and loses a cancel that arrives during
    that round trip, as redis-py's writes under `asyncio.wait_for` do on Python 3.11 when
    the reply is already in."""

    hits = 0

    async def hit(self, rule: Rule, identity: str, cost: int = 1) -> None:
        self.hits += 1
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.01)
        raise RateLimited(rule.kind, 1)


@pytest.fixture
async def throttle() -> AsyncIterator[LosingThrottle]:
    pool = ConnectionPool()  # never used: no hit reaches it
    yield LosingThrottle(pool, "unused", RateLimits())
    await pool.aclose()


def held_subscribe(throttle: Throttle) -> tuple[SubscribeTurns, asyncio.Task[Message]]:
    """A socket that sent one subscribe and then nothing, being read."""
    given = iter([SUBSCRIBE])

    async def receive() -> Message:
        message = next(given, None)
        if message is None:
            await asyncio.Event().wait()  # the client sends nothing more
        assert message is not None
        return message

    async def close(reason: str) -> Message:
        return {"type": "websocket.disconnect", "code": 1013}

    turns = SubscribeTurns(receive, throttle, "192.0.2.1", close)
    return turns, asyncio.create_task(turns())


async def test_a_refused_subscribe_is_not_counted_again_before_its_wait(
    throttle: LosingThrottle,
) -> None:
    """Its turn asked at once, and was refused again: two more round trips to Redis for
    every subscribe held."""
    turns, reading = held_subscribe(throttle)
    while throttle.hits < 1:
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.5)  # within the refusal's 1 s
    assert throttle.hits == 1
    turns.close()
    reading.cancel()


async def test_a_held_subscribes_wait_stops_with_its_socket_when_its_cancel_is_lost(
    throttle: LosingThrottle,
) -> None:
    """Such waits went on after their sockets had gone: 203-254 of them, each hitting
    Redis every second, with no socket open (an outside probe's socket churn)."""
    turns, reading = held_subscribe(throttle)
    while throttle.hits < 2:  # the request rate refused it; its turn's next hit is under way
        await asyncio.sleep(0.001)
    turns.close()  # the socket went; this cancel is lost in the turn's hit
    reading.cancel()
    await asyncio.sleep(1.5)  # past the refusal's 1 s, when a wait hits again
    assert throttle.hits == 2
