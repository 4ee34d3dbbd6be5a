"""Runners' batches handed in together go to Redis together (projections/projectors/joint.py):
three round trips for all of them, and still each batch's own outcome: a refusal fails
only the runner whose commands drew it, a command refused as queued applies nothing of
anyone's, a watched key that moved has every runner look again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis as sync_redis
from redis.asyncio import Redis

from domain.events import UserRegistered
from domain.ports import RecordedEvent
from eventstore.memory import InMemoryEventStore
from harness.redis_server import PrivateRedis
from projections.keyspace.keys import Keys
from projections.projectors.failures import BatchFailed
from projections.projectors.joint import JointBatches
from projections.projectors.projection import Projection
from projections.projectors.runner import ProjectionRunner
from projections.projectors.scripts import Scripts
from projections.projectors.tx import Tx

KEYS = Keys("joint")


def registered(position: int, name: str) -> RecordedEvent:
    at = datetime.now(UTC)
    event = UserRegistered(f"user-{position}", name, None, "", at)
    return RecordedEvent(position, f"user-{position}", 1, event, "c", None, "c", at)


def projection(name: str, redis_url: str, misbehaves: bool) -> Projection:
    """Writes each user's name; if it `misbehaves`, a user named "refused" gets a command
    of the wrong arity (refused as it is queued), "failing" one that fails as it runs,
    and "racing" moves the projection's checkpoint under the WATCH."""

    def on_user(event: UserRegistered, at: RecordedEvent, tx: Tx) -> None:
        key = f"{tx.keys.prefix}:{name}:{event.user_id}"
        tx.pipe.hset(key, "name", event.name)
        if not misbehaves:
            return
        if event.name == "refused":
            tx.pipe.stack.append(("HSET", key))
        if event.name == "failing":
            tx.pipe.hincrby(key, "name", 1)
        if event.name == "racing":
            with sync_redis.Redis.from_url(redis_url) as other:
                other.incr(KEYS.checkpoint(name))

    return Projection(name).on(UserRegistered, on_user)


@pytest.fixture
async def redis(private_redis: PrivateRedis) -> AsyncIterator[Redis]:
    client = Redis.from_url(private_redis.url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def runners(redis: Redis, private_redis: PrivateRedis) -> list[ProjectionRunner]:
    """Two runners on one JointBatches, their spaces built: "picky" misbehaves, "calm" not."""
    joint, scripts, log = JointBatches(redis), Scripts.register(redis), InMemoryEventStore()
    made = [
        ProjectionRunner(
            projection(name, private_redis.url, name == "picky"), redis, KEYS, scripts, log,
            joint=joint,
        )
        for name in ("picky", "calm")
    ]  # fmt: skip
    for runner in made:
        await runner.catch_up()
    return made


async def state(redis: Redis, name: str, users: list[RecordedEvent]) -> list[object]:
    """The checkpoint, the unconfirmed marker, and each user's name as written."""
    keys = KEYS.with_space(name, str(await redis.get(KEYS.namespace(name))))
    names = [await redis.hget(f"{keys.prefix}:{name}:user-{e.position}", "name") for e in users]
    return [
        await redis.get(KEYS.checkpoint(name)),
        await redis.get(KEYS.unconfirmed(name)),
        names,
    ]


async def apply_together(
    runners: list[ProjectionRunner], users: list[RecordedEvent]
) -> list[bool | BaseException]:
    return await asyncio.gather(
        *(runner.apply(users, from_log=True, after=0) for runner in runners),
        return_exceptions=True,
    )


async def test_batches_handed_in_together_share_three_round_trips(
    runners: list[ProjectionRunner], redis: Redis, private_redis: PrivateRedis
) -> None:
    users = [registered(1, "Ann"), registered(2, "Bob")]
    execs, watches = private_redis.calls("exec"), private_redis.calls("watch")
    assert await apply_together(runners, users) == [True, True]
    assert private_redis.calls("exec") - execs == 1
    assert private_redis.calls("watch") - watches == 1
    for name in ("picky", "calm"):
        assert await state(redis, name, users) == ["2", None, ["Ann", "Bob"]]
    assert await apply_together(runners, users) == [False, False]  # read against 0: look again


@pytest.mark.parametrize(
    ("name", "calm_applied", "picky_after", "calm_after"),
    [
        # Failed as it ran: only picky's batch failed (its marker has its space rebuilt);
        # calm's, in the same MULTI, applied and is confirmed.
        ("failing", True, ["0", "2", ["Ann", "failing"]], ["2", None, ["Ann", "failing"]]),
        # Refused as it was queued: Redis ran nothing of anyone's, calm reads the log again.
        ("refused", False, ["0", None, [None, None]], ["0", None, [None, None]]),
    ],
)
async def test_a_refused_command_fails_only_its_own_runner(
    runners: list[ProjectionRunner],
    redis: Redis,
    name: str,
    calm_applied: bool,
    picky_after: list[object],
    calm_after: list[object],
) -> None:
    users = [registered(1, "Ann"), registered(2, name)]
    picky, calm = await apply_together(runners, users)
    assert isinstance(picky, BatchFailed) and picky.events == [users[1]]
    assert calm is calm_applied
    assert await state(redis, "picky", users) == picky_after
    assert await state(redis, "calm", users) == calm_after


async def test_a_watched_key_that_moved_has_every_runner_look_again(
    runners: list[ProjectionRunner], redis: Redis
) -> None:
    users = [registered(1, "Ann"), registered(2, "racing")]
    assert await apply_together(runners, users) == [False, False]
    assert await state(redis, "picky", users) == ["1", None, [None, None]]  # the racer's incr
    assert await state(redis, "calm", users) == ["0", None, [None, None]]


async def test_a_leader_cancelled_while_gathering_hands_the_others_back(
    runners: list[ProjectionRunner], redis: Redis
) -> None:
    """The first runner of a turn gathers the others' batches; cancelled then (its lease
    lost, its process stopping), the others read the log again instead of waiting."""
    users = [registered(1, "Ann")]
    picky, calm = runners
    leader = asyncio.create_task(picky.apply(users, from_log=True, after=0))
    follower = asyncio.create_task(calm.apply(users, from_log=True, after=0))
    await asyncio.sleep(0)  # the leader has yielded to let the follower hand its batch in
    leader.cancel()
    assert await asyncio.wait_for(follower, timeout=5) is False
    assert leader.cancelled()
    assert await calm.apply(users, from_log=True, after=0)  # the next batch goes on
    assert await state(redis, "calm", users) == ["1", None, ["Ann"]]
