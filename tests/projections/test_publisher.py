"""The publisher: every committed event on the events channel, in order, and the log's head;
what is pending at once goes in messages of at most MESSAGE_EVENTS events."""

from __future__ import annotations

import asyncio
import errno

import orjson
import pytest
from redis.asyncio import Redis

from domain.commands import CreatePost, PublishPost, RegisterUser
from domain.ports import RecordedEvent
from infra.settings import Settings
from projections.keyspace.keys import Keys
from projections.projectors import messages
from projections.projectors.publisher import EventPublisher
from projections.redisio.cancellation import cancel_and_wait
from tests.support.in_process import send
from tests.support.recorded import recorded
from wiring.bootstrap import running


async def test_every_committed_event_is_published_in_order_with_the_head(
    settings: Settings, redis: Redis
) -> None:
    async with running(settings, projectors=False) as inkwell:  # the publisher alone
        async with redis.pubsub() as pubsub:
            events, checkpoints = inkwell.keys.events_channel(), inkwell.keys.checkpoints_channel()
            await pubsub.subscribe(events, checkpoints)
            author = (await send(inkwell, RegisterUser("Ann")))["user_id"]
            sent = [await send(inkwell, CreatePost(f"Post {n}", "Text."), author) for n in range(3)]
            await asyncio.gather(
                *(send(inkwell, PublishPost(ids["post_id"]), author) for ids in sent)
            )
            logged = await inkwell.store.read_all(after=0, limit=100)

            published: list[int] = []
            heads: list[int] = []
            deadline = asyncio.get_running_loop().time() + 10
            while not heads or heads[-1] < logged[-1].position:
                assert asyncio.get_running_loop().time() < deadline, (published, heads)
                # None for a subscription's confirmation, too
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is None:
                    continue
                if message["channel"] == events:
                    published.extend(e.position for e in messages.decode(message["data"]))
                else:
                    heads.append(orjson.loads(message["data"])["head"])

        assert published == [recorded.position for recorded in logged]
        assert heads == sorted(heads)
        assert await inkwell.redis.zscore(inkwell.keys.head(), "head") == logged[-1].position


async def test_what_is_pending_at_once_goes_in_messages_cut_to_their_size(
    redis: Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    publisher = EventPublisher(redis, keys)
    pending = [recorded(position) for position in range(1, 2 * messages.MESSAGE_EVENTS + 51)]
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(keys.events_channel())
        running_publisher = asyncio.create_task(publisher.run())
        try:
            await asyncio.sleep(0)  # the publisher learns its loop
            publisher.committed(pending)  # one commit's events, or several commits' at once
            received: list[tuple[RecordedEvent, ...]] = []
            deadline = asyncio.get_running_loop().time() + 10
            while sum(map(len, received)) < len(pending):
                assert asyncio.get_running_loop().time() < deadline, received
                # None for the subscription's confirmation, too
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None:
                    received.append(messages.decode(message["data"]))
        finally:
            await cancel_and_wait(running_publisher)  # its pool closes with the fixture
    limit = messages.MESSAGE_EVENTS
    assert [len(events) for events in received] == [limit, limit, 50]
    assert [event for events in received for event in events] == pending


async def test_a_commit_before_the_publisher_first_ran_is_published(
    redis: Redis, prefix: str
) -> None:
    """The first command after a start could commit before the publisher's task had run:
    its events were dropped, and their commit times unknown (a full suite's run)."""
    keys = Keys(prefix)
    publisher = EventPublisher(redis, keys)
    publisher.committed([recorded(1), recorded(2)])
    running_publisher = asyncio.create_task(publisher.run())
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while await redis.zcard(keys.commit_times()) < 2:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
    finally:
        await cancel_and_wait(running_publisher)
    assert await redis.zscore(keys.head(), "head") == 2


async def test_commits_are_published_when_counting_them_fails(
    settings: Settings, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prometheus-client in multiprocess mode writes files; counting a commit fails on a
    full disk. Counted before they were published, the events never reached the events
    channel, and the projectors saw them only at their next idle catch-up."""

    def disk_full(events: list[RecordedEvent]) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    async with running(settings, projectors=False) as inkwell:
        monkeypatch.setattr(inkwell.operations.metrics, "committed", disk_full)
        async with redis.pubsub() as pubsub:
            await pubsub.subscribe(inkwell.keys.events_channel())
            await send(inkwell, RegisterUser("Ann"))
            deadline = asyncio.get_running_loop().time() + 10
            published: list[RecordedEvent] = []
            while not published:
                assert asyncio.get_running_loop().time() < deadline, "nothing published"
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None:
                    published.extend(messages.decode(message["data"]))
    assert [type(logged.event).__name__ for logged in published] == ["UserRegistered"]
