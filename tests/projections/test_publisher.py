"""The publisher: every committed event on the events channel, in order, and the log's head."""

from __future__ import annotations

import asyncio

import orjson
from redis.asyncio import Redis

from domain.commands import CreatePost, PublishPost, RegisterUser
from infra.settings import Settings
from projections.projectors import messages
from tests.support.in_process import send
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
                    published.append(messages.decode(message["data"]).position)
                else:
                    heads.append(orjson.loads(message["data"])["head"])

        assert published == [recorded.position for recorded in logged]
        assert heads == sorted(heads)
        assert await inkwell.redis.zscore(inkwell.keys.head(), "head") == logged[-1].position
