"""Redis faults done for real to a private redis-server: flushed or restarted empty while
the projectors catch up or rebuild, and a MULTI in which Redis refuses a command.
After each, a replay of the log into scratch spaces equals the live read models."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from domain.commands import CreatePost, LikePost, PublishPost, RegisterUser
from harness.redis_server import PrivateRedis
from infra.settings import Settings
from projections.live.namespaces import NAMESPACE_GRACE_SECONDS
from projections.projectors import runner
from projections.projectors.rebuild import Rebuild, sweep_abandoned
from projections.projectors.scripts import Scripts
from projections.readers.pagination import Slice
from projections.tools.verify import differences, drop, replay
from tests.support.in_process import send, settle
from tests.support.settings import make_settings
from tests.support.waiting import until
from wiring.bootstrap import PROJECTIONS, Inkwell, running

NAMES = [projection.name for projection in PROJECTIONS]


@pytest.fixture
def private_settings(
    private_redis: PrivateRedis, sqlite_url: str, prefix: str, tmp_path: Path
) -> Settings:
    return make_settings(sqlite_url, private_redis.url, prefix, tmp_path)


async def assert_verified(inkwell: Inkwell) -> None:
    """What `verify` does: replay the log into scratch spaces, compare with the live ones."""
    await settle(inkwell, timeout=60)
    scratch = await replay(inkwell.redis, inkwell.store, inkwell.keys, PROJECTIONS)
    try:
        assert await differences(inkwell.redis, inkwell.keys, scratch, NAMES) == []
    finally:
        await drop(inkwell.redis, scratch, NAMES)


async def write_posts(inkwell: Inkwell, authors: int, posts_each: int) -> int:
    """Authors writing and publishing posts concurrently; returns how many posts."""

    async def author(i: int) -> None:
        user = (await send(inkwell, RegisterUser(f"Author {i}")))["user_id"]
        for n in range(posts_each):
            post = await send(inkwell, CreatePost(f"Post {i}.{n}", "Body", ("cqrs",)), user)
            await send(inkwell, PublishPost(post["post_id"]), user)

    await asyncio.gather(*(author(i) for i in range(authors)))
    return authors * posts_each


def when_catching_up(settings: Settings, fault: Callable[[], object]) -> threading.Thread:
    """Does the fault once the posts projection has applied some, not all, of the log. Where
    it starts from is read before the projectors start: read by the thread, it was now
    and then read after they had caught up, and the fault never came (1 run in 6)."""
    client = redis.Redis.from_url(str(settings.redis_url), decode_responses=True)
    checkpoint = f"{settings.prefix}:checkpoint:posts"
    first = int(client.get(checkpoint) or 0)

    def watch() -> None:
        while int(client.get(checkpoint) or 0) == first:
            time.sleep(0.001)
        fault()
        client.close()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


async def fill_behind_the_projectors(settings: Settings) -> int:
    """Read models built, then more events in the log than one catch-up batch."""
    async with running(settings) as first:
        await settle(first)
    async with running(settings, projectors=False) as writer:
        return await write_posts(writer, authors=20, posts_each=40)


async def test_a_flush_while_catching_up_is_answered_by_a_rebuild(
    private_settings: Settings, private_redis: PrivateRedis
) -> None:
    posts = await fill_behind_the_projectors(private_settings)
    flusher = when_catching_up(private_settings, lambda: private_redis.client().flushall())
    async with running(private_settings) as inkwell:
        await asyncio.to_thread(flusher.join, 30)
        assert not flusher.is_alive(), "the projectors never moved"
        await assert_verified(inkwell)
        assert (await inkwell.services.reads.recent_posts(Slice(1))).total == posts


async def test_redis_restarting_empty_while_catching_up_loses_nothing(
    private_settings: Settings, private_redis: PrivateRedis
) -> None:
    posts = await fill_behind_the_projectors(private_settings)
    restarter = when_catching_up(private_settings, private_redis.restart_empty)
    async with running(private_settings) as inkwell:
        await asyncio.to_thread(restarter.join, 30)
        assert not restarter.is_alive(), "the projectors never moved"
        await assert_verified(inkwell)
        assert (await inkwell.services.reads.recent_posts(Slice(1))).total == posts


async def test_a_rebuild_after_redis_lost_the_read_models_moves_the_build_time(
    private_settings: Settings, private_redis: PrivateRedis
) -> None:
    """The rebuild counter lives in Redis and starts again with the read models: 1 before
    the flush and 1 after, no increase for an alert to see (an outside probe). The build
    time (inkwell_projection_last_build_timestamp_seconds) moves."""
    async with running(private_settings) as inkwell:
        progress = inkwell.keys.progress("posts")

        async def built_after(moment: float) -> float | None:
            built = await inkwell.redis.hget(progress, "builtAt")
            return float(built) if built is not None and float(built) > moment else None

        await until(lambda: built_after(0))  # the first build
        first = await built_after(0)
        assert first is not None
        assert await inkwell.redis.hget(progress, "rebuilds") == "1"
        await inkwell.redis.flushall()
        await until(lambda: built_after(first))
        assert await inkwell.redis.hget(progress, "rebuilds") == "1"


def flusher(private_redis: PrivateRedis) -> tuple[list[int], Callable[[int, int], None]]:
    """A rebuild's progress callback that flushes Redis once, between two of its batches
    (the one applied, the next not yet sent), and the positions it flushed at."""
    flushed: list[int] = []

    def flush_once(position: int, head: int) -> None:
        if not flushed:
            flushed.append(position)
            private_redis.client().flushall()

    return flushed, flush_once


async def test_a_flush_during_a_rebuild_starts_it_over(
    private_settings: Settings, private_redis: PrivateRedis
) -> None:
    async with running(private_settings) as inkwell:
        posts = await write_posts(inkwell, authors=5, posts_each=20)
        await settle(inkwell)
        flushed, flush_once = flusher(private_redis)
        build = Rebuild(
            inkwell.redis, inkwell.keys, Scripts.register(inkwell.redis), inkwell.store,
            PROJECTIONS, flush_once, batch=50,
        )  # fmt: skip
        swapped = await build.run()
        assert flushed and swapped.position == await inkwell.store.head_position()
        await assert_verified(inkwell)
        assert (await inkwell.services.reads.recent_posts(Slice(1))).total == posts


async def spaces_found(inkwell: Inkwell) -> dict[str, set[str]]:
    """Every space that has keys in Redis, the active ones, and those the registries list
    for the sweep (the test's Redis is its own: every key in it is the app's)."""
    prefix = inkwell.keys.prefix
    found: set[str] = set()
    async for key in inkwell.redis.scan_iter(match=f"{prefix}:*", count=1000):
        head = key[len(prefix) + 1 :].split(":", 1)[0]
        if "." in head:  # <prefix>:<projection>.<version>:...
            found.add(f"{prefix}:{head}")
    active = await inkwell.redis.mget([inkwell.keys.namespace(name) for name in NAMES])
    listed: set[str] = set()
    for name in NAMES:
        registry = inkwell.keys.space_registry(name)
        listed.update(str(space) for space in await inkwell.redis.zrange(registry, 0, -1))
    return {"found": found, "active": {str(a) for a in active if a}, "listed": listed}


async def test_a_flush_during_the_projectors_rebuild_orphans_no_space(
    private_settings: Settings, private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault probe's `flushall; sleep 2; flushall`, the second flush landing while the
    projectors rebuilt after the first: the batch that followed the flush wrote into the
    space whose checkpoint (and registry entry) had gone, the rebuild started over in a
    new space, and the old one stayed, listed nowhere, never swept (826 keys of feeds, 850
    of search, 310 of users, with 68,000 events in the log)."""
    async with running(private_settings) as inkwell:
        await write_posts(inkwell, authors=5, posts_each=20)
        await settle(inkwell)
        flushed, flush_once = flusher(private_redis)
        rebuild = functools.partial(Rebuild, on_progress=flush_once, batch=50)
        monkeypatch.setattr(runner, "Rebuild", rebuild)
        await inkwell.redis.flushall()  # every projector rebuilds, and one of them flushes
        await settle(inkwell, timeout=60)
        assert flushed
        spaces = await spaces_found(inkwell)
        assert spaces["found"] <= spaces["active"] | spaces["listed"], spaces
        await asyncio.sleep(NAMESPACE_GRACE_SECONDS)
        for name in NAMES:
            await sweep_abandoned(inkwell.redis, inkwell.keys, name)
        spaces = await spaces_found(inkwell)
        assert spaces["found"] <= spaces["active"], spaces
        assert await inkwell.redis.exists(inkwell.keys.namespace("posts"))


async def test_a_command_redis_refuses_fails_the_batch_and_the_space_is_rebuilt(
    private_settings: Settings,
) -> None:
    async with running(private_settings) as inkwell:
        author = (await send(inkwell, RegisterUser("Ann")))["user_id"]
        post = (await send(inkwell, CreatePost("Hello", "Body"), author))["post_id"]
        await send(inkwell, PublishPost(post), author)
        await settle(inkwell)
        old_space = inkwell.keys.space("posts")
        # A key of the wrong type: the like's SADD fails inside the MULTI, its HINCRBY
        # and the checkpoint do not.
        await inkwell.redis.set(inkwell.keys.post_likers(post), "not a set")
        reader = (await send(inkwell, RegisterUser("Reader")))["user_id"]
        await send(inkwell, LikePost(post), reader)
        await assert_verified(inkwell)
        assert inkwell.keys.space("posts") != old_space
        # Counted (inkwell_projection_rebuilds_total): the first build, then this one.
        assert await inkwell.redis.hget(inkwell.keys.progress("posts"), "rebuilds") == "2"
        view = await inkwell.services.reads.post(post, None)
        assert view is not None and view.like_count == 1
        assert [liked for liked, _ in await inkwell.services.reads.liked_by(reader, [post])] == [
            True
        ]


@pytest.mark.parametrize("written_since", [False, True], ids=["nothing since", "a write since"])
async def test_a_feed_subscribed_while_redis_rebuilds_is_sent_only_what_changes_next(
    private_settings: Settings, written_since: bool
) -> None:
    """An outside probe subscribed to `feed` a second after a FLUSHALL, its process's
    first feed subscriber: once the projector's rebuild swapped in, it was sent all 800
    published posts, none of them changed: with no checkpoint the topic read from 0. It
    starts from the log's head now, with or without a write since the flush."""
    async with running(private_settings) as inkwell:
        author = (await send(inkwell, RegisterUser("Ann")))["user_id"]
        posts = []
        for n in range(12):
            post = (await send(inkwell, CreatePost(f"Post {n}", "Body", ()), author))["post_id"]
            await send(inkwell, PublishPost(post), author)
            posts.append(post)
        await settle(inkwell)
        await inkwell.redis.flushall()
        reader = (await send(inkwell, RegisterUser("Bob")))["user_id"] if written_since else ""
        async with inkwell.services.live.feed() as feed:
            await settle(inkwell, timeout=30)  # the rebuild swapped in
            liker = reader or (await send(inkwell, RegisterUser("Bob")))["user_id"]
            await send(inkwell, LikePost(posts[3]), liker)
            shown = await asyncio.wait_for(anext(feed), 10)
            assert (shown.id, shown.like_count) == (posts[3], 1)
            with pytest.raises(TimeoutError):
                extra = await asyncio.wait_for(anext(feed), 1.5)
                pytest.fail(f"sent {extra.id} too, unchanged")


async def test_after_a_flush_each_projection_is_rebuilt_once_its_lease_taken_back(
    private_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """After a FLUSHALL the projector began to rebuild, then its lease renewal found the
    lease gone, stood by, cancelled the rebuild, and began it again a term later: every
    rebuild after a loss ran twice (an outside probe). Within its term the runner takes
    back a lease Redis lost. Only what follows the flush counts, under a 3 s lease: a
    0.3 s one ran out during the event loop's own pauses at a load of 10 (3 runs in 3),
    and a 1.5 s one once, in a full suite run on a slow two-core machine."""
    settings = dataclasses.replace(private_settings, lease_seconds=3.0)
    async with running(settings) as inkwell:
        await write_posts(inkwell, authors=8, posts_each=60)
        await settle(inkwell, timeout=60)
        with caplog.at_level(logging.INFO, "projections"):
            caplog.clear()
            await inkwell.redis.flushall()
            await settle(inkwell, timeout=60)
            await asyncio.sleep(3.0)  # three renewals that would have lost the lease
    said = [record.getMessage() for record in caplog.records]
    assert not [line for line in said if "lease lost" in line], said
    for name in NAMES:
        rebuilding = [line for line in said if line.startswith(f"projection {name}: Redis lost")]
        assert len(rebuilding) == 1, said
