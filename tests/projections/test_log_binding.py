"""Read models bound to the event log they were built from, on a real Redis and SQLite.

tests/e2e/test_log_binding.py runs two deployments as processes; these check the
binding's rules one by one, and the runners' part in it."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from redis.asyncio import Redis

from domain.commands import RegisterUser
from projections.keyspace.keys import Keys
from projections.projectors.lease import Lease
from projections.projectors.log_binding import (
    AnotherLogRuns,
    BoundToAnotherLog,
    LogBinding,
    Presence,
)
from projections.projectors.rebuild import sweep_abandoned
from tests.support.in_process import send, settle
from tests.support.waiting import until
from wiring.bootstrap import NAMES, Inkwell


def another_log() -> str:
    return uuid.uuid4().hex


async def test_a_running_app_binds_its_read_models_to_its_log(inkwell: Inkwell) -> None:
    assert await inkwell.redis.get(inkwell.keys.log()) == await inkwell.log.identity()


async def test_another_log_is_refused_while_a_lease_names_this_one(inkwell: Inkwell) -> None:
    await send(inkwell, RegisterUser("Ann"))
    await settle(inkwell)
    before = await _bookkeeping(inkwell.redis, inkwell.keys)
    other = LogBinding(inkwell.redis, inkwell.keys, NAMES, another_log())
    for take_over in (True, False):
        with pytest.raises(AnotherLogRuns, match="a process of that log runs now"):
            await other.bind(take_over=take_over)
    assert await _bookkeeping(inkwell.redis, inkwell.keys) == before


async def test_a_rebuild_lock_of_another_log_also_counts_as_running(
    redis: Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    running_log, starting_log = another_log(), another_log()
    await LogBinding(redis, keys, NAMES, running_log).bind()
    assert await Lease(redis, keys.rebuilding("search"), 30.0, running_log).acquire()
    with pytest.raises(AnotherLogRuns):
        await LogBinding(redis, keys, NAMES, starting_log).bind()


async def test_a_process_that_only_serves_another_log_counts_as_running(
    redis: Redis, prefix: str
) -> None:
    """An `api` node holds no lease: while its log's projectors restarted, a stray
    process of another log took the read models over from under it (an outside probe).
    Its presence refuses that until it leaves, or lapses when it dies unannounced."""
    keys = Keys(prefix)
    serving_log, stray_log = another_log(), another_log()
    await LogBinding(redis, keys, NAMES, serving_log).bind()
    node = Presence(redis, keys, serving_log, seconds=30.0)
    await node.enter()
    with pytest.raises(AnotherLogRuns, match="a process of that log runs now"):
        await LogBinding(redis, keys, NAMES, stray_log).bind()
    assert await redis.get(keys.log()) == serving_log
    await LogBinding(redis, keys, NAMES, serving_log).bind()  # its own log's: welcome

    await node.leave()
    lapsed = Presence(redis, keys, serving_log, seconds=0.2)  # died, never renewed
    await lapsed.enter()
    longer = Presence(redis, keys, serving_log, seconds=30.0)
    await longer.enter()
    await Presence(redis, keys, serving_log, seconds=0.1).enter()  # the set outlives it
    await asyncio.sleep(0.15)
    with pytest.raises(AnotherLogRuns):
        await LogBinding(redis, keys, NAMES, stray_log).bind()
    await longer.leave()
    with pytest.raises(AnotherLogRuns):
        await LogBinding(redis, keys, NAMES, stray_log).bind()
    await asyncio.sleep(0.3)
    await LogBinding(redis, keys, NAMES, stray_log).bind()
    assert await redis.get(keys.log()) == stray_log


async def test_a_renewed_presence_binds_the_read_models_redis_lost(
    redis: Redis, prefix: str
) -> None:
    """Redis flushed under a running `api` node: another log's process took the read
    models over before the node's presence came back (a re-check probe). A renewal,
    nine a term, binds them to its log again."""
    keys = Keys(prefix)
    serving_log, stray_log = another_log(), another_log()
    await LogBinding(redis, keys, NAMES, serving_log).bind()
    node = Presence(redis, keys, serving_log, seconds=30.0)
    await node.enter()
    await redis.delete(keys.log(), keys.log_processes())  # as a flush leaves them
    await node.enter()
    assert await redis.get(keys.log()) == serving_log
    with pytest.raises(AnotherLogRuns):
        await LogBinding(redis, keys, NAMES, stray_log).bind()
    await node.leave()


async def test_a_running_app_is_among_its_logs_processes_until_it_stops(
    inkwell: Inkwell,
) -> None:
    members = [str(m) for m in await inkwell.redis.zrange(inkwell.keys.log_processes(), 0, -1)]
    assert [m.split("@")[0] for m in members] == [await inkwell.log.identity()]
    assert members[0].endswith(":serving")


async def test_another_log_takes_over_read_models_nobody_runs(redis: Redis, prefix: str) -> None:
    """Their positions and content go with them; their spaces are left to the sweep, as a
    swap leaves the space it replaced: a query that began before may still read it."""
    keys = Keys(prefix).with_space("posts", f"{prefix}:posts.old")
    old, new = another_log(), another_log()
    await LogBinding(redis, keys, NAMES, old).bind()
    bound = {
        keys.namespace("posts"): f"{prefix}:posts.old",
        keys.checkpoint("posts"): "40",
        keys.unconfirmed("posts"): "1",
        keys.parked("posts"): "x",
    }
    await redis.mset(bound)
    await redis.zadd(keys.head(), {"head": 40})
    await redis.zadd(keys.commit_times(), {"40:1796000000000": 40})
    await redis.set(keys.post("p1"), "the old log's post")
    with pytest.raises(BoundToAnotherLog, match="start this log's server"):
        await LogBinding(redis, keys, NAMES, new).bind(take_over=False)
    assert await redis.get(keys.checkpoint("posts")) == "40"  # refused: nothing changed

    await LogBinding(redis, keys, NAMES, new).bind()
    assert await redis.get(keys.log()) == new
    assert await redis.exists(*bound, keys.head(), keys.commit_times()) == 0
    assert await redis.zrange(keys.space_registry("posts"), 0, -1) == [f"{prefix}:posts.old"]
    await LogBinding(redis, keys, NAMES, new).bind(take_over=False)  # its own now
    assert await redis.get(keys.post("p1")) == "the old log's post"  # until the grace ends
    await redis.zadd(keys.space_registry("posts"), {f"{prefix}:posts.old": 0})  # it ended
    await sweep_abandoned(redis, Keys(prefix), "posts")
    assert not await redis.exists(keys.post("p1"))


async def test_a_runner_stops_projecting_into_read_models_another_log_took_over(
    inkwell: Inkwell, caplog: pytest.LogCaptureFixture
) -> None:
    """As when this process was paused past its leases' term and a server of another log
    started meanwhile: its runners must neither apply their events there nor rebuild the
    read models from their log."""
    await send(inkwell, RegisterUser("Ann"))
    await settle(inkwell)
    other = another_log()
    await inkwell.redis.set(inkwell.keys.log(), other)
    spaces = await _spaces(inkwell)
    with caplog.at_level(logging.ERROR, logger="projections.projectors.runner"):
        position = int((await send(inkwell, RegisterUser("Bob")))["position"])
        await until(lambda: _stopped(caplog) == len(NAMES))
        await asyncio.sleep(1.5)  # past a quiet second's catch-up
    checkpoints = await inkwell.redis.mget([inkwell.keys.checkpoint(name) for name in NAMES])
    assert all(int(str(checkpoint)) < position for checkpoint in checkpoints)
    assert await _spaces(inkwell) == spaces
    assert await inkwell.redis.get(inkwell.keys.log()) == other
    assert _stopped(caplog) == len(NAMES), "one error line per projection, not one per retry"


async def test_a_runner_records_its_log_again_after_redis_lost_it(inkwell: Inkwell) -> None:
    await inkwell.redis.delete(inkwell.keys.log())
    await send(inkwell, RegisterUser("Ann"))
    await settle(inkwell)
    await until(lambda: inkwell.redis.exists(inkwell.keys.log()))
    assert await inkwell.redis.get(inkwell.keys.log()) == await inkwell.log.identity()


async def _bookkeeping(redis: Redis, keys: Keys) -> list[object]:
    names = [keys.log(), *(keys.namespace(n) for n in NAMES), *(keys.checkpoint(n) for n in NAMES)]
    return list(await redis.mget(names))


async def _spaces(inkwell: Inkwell) -> list[object]:
    return list(await inkwell.redis.mget([inkwell.keys.namespace(name) for name in NAMES]))


def _stopped(caplog: pytest.LogCaptureFixture) -> int:
    return sum("were taken over by event log" in record.getMessage() for record in caplog.records)
