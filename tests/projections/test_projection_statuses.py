"""What the API says of each projection's progress (`projections`, query and subscription)
when Redis has lost the head it keeps, or holds an older one."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from domain.commands import RegisterUser
from harness.redis_keys import forget
from infra.settings import Settings
from projections.readers.statuses import LogHeadWithin, waiting_since
from tests.support.in_process import send, settle
from tests.support.waiting import until
from wiring.bootstrap import Inkwell, running


async def test_a_head_redis_lost_is_read_from_the_log(inkwell: Inkwell) -> None:
    """A flush took the head with the read models: every projection said head 0, lag 0,
    caught up, for as long as their rebuild took, while /ready and `inkwell status` (which
    read the log) said not ready."""
    for name in ("Ann", "Bob", "Cy"):
        await send(inkwell, RegisterUser(name))
    await settle(inkwell)
    head = await inkwell.store.head_position()
    await inkwell.redis.delete(inkwell.keys.head())  # as a flush leaves it

    statuses = await inkwell.services.reads.projection_statuses()
    assert {status.head_position for status in statuses} == {head}
    async with inkwell.services.live.projections() as updates:
        assert {status.head_position for status in await anext(updates)} == {head}


async def test_a_head_redis_holds_from_before_is_raised_as_the_projectors_catch_up(
    inkwell: Inkwell,
) -> None:
    """Redis restarted from an older snapshot brings an older head back with the older
    checkpoints: every projection said lag 0, caught up, while they caught up 30 events
    (an outside probe), and /ready and `inkwell status` said lag 30. The statuses read
    Redis alone; the projectors raise its head to the log's as they catch up."""
    for name in ("Ann", "Bob", "Cy"):
        await send(inkwell, RegisterUser(name))
    await settle(inkwell)
    head = await inkwell.store.head_position()
    await inkwell.redis.zadd(inkwell.keys.head(), {"head": head - 2})  # as the snapshot had it

    await inkwell.runners[0].catch_up()
    statuses = await inkwell.services.reads.projection_statuses()
    assert {status.head_position for status in statuses} == {head}
    async with inkwell.services.live.projections() as updates:
        assert {status.head_position for status in await anext(updates)} == {head}


async def test_the_subscription_tells_of_read_models_redis_lost(settings: Settings) -> None:
    """Its items were ordered by the sum of the positions read, so after a FLUSHALL every
    one was taken for older than the last sent and dropped: the subscription said nothing
    for up to 35 s while one projection rebuilt and the others moved on, where the query
    showed it at 0 (an outside probe). No projector runs here to rebuild them."""
    async with running(settings) as first:
        for name in ("Ann", "Bob"):
            await send(first, RegisterUser(name))
        await settle(first)
    async with (
        running(settings, projectors=False) as inkwell,
        inkwell.services.live.projections() as updates,
    ):
        assert all(status.position > 0 for status in await anext(updates))
        await asyncio.to_thread(forget, str(settings.redis_url), settings.prefix)
        after = await asyncio.wait_for(anext(updates), timeout=10)
    assert {status.position for status in after} == {0}


async def test_a_log_that_does_not_answer_leaves_redis_head_and_one_read_waiting() -> None:
    """Read on every `projections` query and update, the log's head held each of them for
    as long as a paused PostgreSQL did (15 s in an outside probe)."""
    answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    reads = 0

    async def stuck_read() -> int:
        nonlocal reads
        reads += 1
        return await answer

    head = LogHeadWithin(stuck_read, seconds=0.05)
    assert [await head() for _ in range(3)] == [None, None, None]
    assert reads == 1  # the first read still waits: no more are started meanwhile
    answer.set_result(42)
    assert await head() == 42


async def test_lag_milliseconds_counts_from_the_oldest_unapplied_commit(settings: Settings) -> None:
    """It was read from the recent-events list, a read model the stopped projectors
    kept no more than the others: null for every projection whenever they fell behind,
    while /metrics gave the real figure (an outside probe). The publisher keeps each
    commit's time beside the head; with no projector at all, the wait is known."""
    async with running(settings, projectors=False) as inkwell:
        first = await send(inkwell, RegisterUser("Ann"))
        committed = time.time()
        await send(inkwell, RegisterUser("Bob"))
        await until(lambda: _kept(inkwell, 2))
        await asyncio.sleep(0.3)
        statuses = await inkwell.services.reads.projection_statuses()
    assert {status.lag for status in statuses} == {int(first["position"]) + 1}
    waited = {status.lag_milliseconds(datetime.now(UTC)) for status in statuses}
    (only,) = waited
    assert only is not None and 300 <= only <= (time.time() - committed) * 1000 + 100


async def _kept(inkwell: Inkwell, count: int) -> bool:
    return bool(await inkwell.redis.zcard(inkwell.keys.commit_times()) >= count)


def test_the_wait_is_unknown_unless_the_commit_times_reach_back_to_the_checkpoint() -> None:
    assert waiting_since("8:1796000000000", oldest_kept=8, checkpoint=7) == datetime.fromtimestamp(
        1_796_000_000, UTC
    )
    assert waiting_since("8:1796000000000", oldest_kept=3, checkpoint=7) is not None
    assert waiting_since("9:1796000000000", oldest_kept=9, checkpoint=7) is None  # 8 is gone
    assert waiting_since(None, oldest_kept=3, checkpoint=7) is None  # none past it kept
