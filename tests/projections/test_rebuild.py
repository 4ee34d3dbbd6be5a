"""Zero-downtime rebuild: queries answer in full throughout, writes keep landing, the new
spaces swap in at once, the old ones go, and a second rebuild of the same projection is
refused."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any, cast

import pytest
from rich.console import Console
from typer.testing import CliRunner

from cli.commands import cli
from cli.rebuild import rebuild_with_progress
from domain.commands import CreatePost, PublishPost, RegisterUser, UpdateProfile
from domain.events import PostCreated
from domain.ports import EventLog, RecordedEvent
from harness.redis_server import PrivateRedis
from infra.redis_policy import EvictingRedis, check_eviction_policy
from infra.settings import Settings
from projections.keyspace.spaces import scan_pages
from projections.projectors import rebuild
from projections.projectors.failures import BatchFailed, RebuildRunning
from projections.projectors.holders import PROJECTOR
from projections.projectors.lease import Lease
from projections.projectors.projection import Projection
from projections.projectors.rebuild import Rebuild, sweep_abandoned
from projections.projectors.scripts import Scripts
from projections.projectors.tx import Tx
from projections.readers.pagination import Slice
from projections.tools.verify import differences, drop, replay
from tests.support.in_process import send, settle
from wiring.bootstrap import PROJECTIONS, Inkwell, running

NAMES = [projection.name for projection in PROJECTIONS]


async def published_posts(inkwell: Inkwell, count: int) -> str:
    author = (await send(inkwell, RegisterUser("Ann")))["user_id"]
    for i in range(count):
        post = await send(inkwell, CreatePost(f"Post {i}", "Body", ("cqrs",)), author)
        await send(inkwell, PublishPost(post["post_id"]), author)
    return author


async def keys_in(inkwell: Inkwell, space: str) -> int:
    return sum([len(page) async for page in scan_pages(inkwell.redis, space)])


async def test_queries_answer_in_full_while_a_rebuild_runs_and_writes_land(
    inkwell: Inkwell,
) -> None:
    author = await published_posts(inkwell, 60)
    await settle(inkwell)
    old = {name: inkwell.keys.space(name) for name in NAMES}
    progress: list[int] = []
    build = Rebuild(
        inkwell.redis, inkwell.keys, Scripts.register(inkwell.redis), inkwell.store,
        PROJECTIONS, lambda position, head: progress.append(position), batch=2,
    )  # fmt: skip
    rebuilding = asyncio.create_task(build.run())
    answers, written = [], 60
    while not rebuilding.done():
        page = await inkwell.services.reads.recent_posts(Slice(100))
        user = await inkwell.services.reads.user(author)
        assert isinstance(page.total, int)  # a sorted set's size, read with the page
        assert page.total >= written and user is not None
        answers.append(page.total)
        if len(answers) % 5 == 0:  # the live projectors move on while the rebuild runs
            post = (await send(inkwell, CreatePost("During", "Body"), author))["post_id"]
            published = await send(inkwell, PublishPost(post), author)
            await inkwell.services.consistency.wait_for(int(published["position"]), 10)
            written += 1
    swapped = await rebuilding
    assert len(progress) > 5 and len(answers) > 5
    assert all(inkwell.keys.space(name) != old[name] for name in NAMES)
    await settle(inkwell)
    assert (await inkwell.services.reads.recent_posts(Slice(1))).total == written
    await build.delete_old(swapped, grace=0)
    assert [await keys_in(inkwell, space) for space in old.values()] == [0] * len(old)
    scratch = await replay(inkwell.redis, inkwell.store, inkwell.keys, PROJECTIONS)
    try:
        assert await differences(inkwell.redis, inkwell.keys, scratch, NAMES) == []
    finally:
        await drop(inkwell.redis, scratch, NAMES)


async def test_a_second_rebuild_of_the_same_projection_is_refused(inkwell: Inkwell) -> None:
    await published_posts(inkwell, 30)
    await settle(inkwell)
    scripts = Scripts.register(inkwell.redis)
    started = asyncio.Event()
    slow = Rebuild(
        inkwell.redis, inkwell.keys, scripts, inkwell.store, PROJECTIONS,
        lambda position, head: started.set(), batch=5, by=PROJECTOR,
    )  # fmt: skip
    first = asyncio.create_task(slow.run())
    await started.wait()
    posts_only = [p for p in PROJECTIONS if p.name == "posts"]
    with pytest.raises(
        RebuildRunning,
        match=r"^a rebuild of posts is already running: the projector \(process \d+ on host ",
    ):
        await Rebuild(inkwell.redis, inkwell.keys, scripts, inkwell.store, posts_only).run()
    await first
    # Once it is done, the next one may run.
    await Rebuild(inkwell.redis, inkwell.keys, scripts, inkwell.store, posts_only).run()


def wrong_type_on_poison(event: PostCreated, _: RecordedEvent, tx: Tx) -> None:
    """Redis refuses the HINCRBY of a poison post: the key holds a string."""
    key = f"{tx.keys.prefix}:fragile"
    if event.title == "poison":
        tx.pipe.hincrby(key, "count", 1)
    else:
        tx.pipe.set(key, event.title)


async def test_a_redis_error_in_a_batch_names_the_event_that_queued_it(
    inkwell: Inkwell,
) -> None:
    author = (await send(inkwell, RegisterUser("Ann")))["user_id"]
    await send(inkwell, CreatePost("fine", "x"), author)
    poison = await send(inkwell, CreatePost("poison", "x"), author)
    await send(inkwell, CreatePost("later", "x"), author)
    await settle(inkwell)
    fragile = Projection("fragile").on(PostCreated, wrong_type_on_poison)
    posts = [p for p in PROJECTIONS if p.name == "posts"]  # more commands around it
    build = Rebuild(
        inkwell.redis, inkwell.keys, Scripts.register(inkwell.redis), inkwell.store,
        [*posts, fragile],
    )  # fmt: skip
    with pytest.raises(BatchFailed) as failed:
        await build.run()
    assert [e.position for e in failed.value.events] == [int(poison["position"])]
    assert "WRONGTYPE" in failed.value.errors[0]


async def test_a_rebuild_tells_no_live_subscriber_of_its_private_writes(inkwell: Inkwell) -> None:
    """A rename's script announced every post it rewrote, into spaces not yet active
    too: a rebuild or a verify woke every feed once per rename in the log."""
    author = await published_posts(inkwell, 2)
    await send(inkwell, UpdateProfile(name="Ann B"), author)
    await settle(inkwell)
    async with inkwell.redis.pubsub() as pubsub:
        await pubsub.psubscribe(f"{inkwell.keys.prefix}:changed:*")
        await pubsub.get_message(timeout=1)  # the subscription's confirmation
        scratch = await replay(inkwell.redis, inkwell.store, inkwell.keys, PROJECTIONS)
        await drop(inkwell.redis, scratch, NAMES)
        assert await pubsub.get_message(timeout=0.5) is None


def test_the_rebuild_command_swaps_in_new_read_models(settings: Settings) -> None:
    async def prepare() -> str:
        async with running(settings) as inkwell:
            await published_posts(inkwell, 3)
            await settle(inkwell)
            return inkwell.keys.space("posts")

    before = asyncio.run(prepare())
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": str(settings.redis_url),
        "INKWELL_PREFIX": settings.prefix,
        "INKWELL_SECRET": "the-rebuild-tests-own-signing-key",
    }
    result = CliRunner().invoke(cli, ["rebuild", "--projection", "posts"], env=env)
    assert result.exit_code == 0, result.output
    assert "rebuilt posts up to position" in result.output

    async def check() -> None:
        async with running(settings) as inkwell:
            assert inkwell.keys.space("posts") != before
            assert await keys_in(inkwell, before) == 0
            assert (await inkwell.services.reads.recent_posts(Slice(10))).total == 3

    asyncio.run(check())
    wrong = CliRunner().invoke(cli, ["rebuild", "--projection", "nope"], env=env)
    assert wrong.exit_code == 2 and "posts, feeds, users, search" in wrong.output


class WrittenToAtItsEnd:
    """The log, to which a server commits and projects one more post the first time the
    build reads past its end: the swap waits for the live projectors, and the build
    catches up with them under a higher head."""

    def __init__(self, inkwell: Inkwell, author: str) -> None:
        self._inkwell = inkwell
        self._author = author
        self.written = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inkwell.store, name)

    async def read_all(self, after: int, limit: int) -> list[RecordedEvent]:
        events = await self._inkwell.store.read_all(after=after, limit=limit)
        if not events and not self.written:
            self.written = True
            sent = await send(self._inkwell, CreatePost("Late", "Body", ()), self._author)
            # settle() would wait for this rebuild's own lock
            await self._inkwell.services.consistency.wait_for(int(sent["position"]), 10.0)
        return events


async def test_the_rebuild_commands_last_frame_shows_its_rate_after_a_catch_up(
    inkwell: Inkwell,
) -> None:
    """Beside a server taking writes, `inkwell rebuild` without a terminal (cron, CI, `|
    cat`), which prints only the bar's last frame, ended with "9359/9359 events  0
    events/s" (an outside probe): Rich's speed starts again whenever the total moves."""
    author = await published_posts(inkwell, 3)
    await settle(inkwell)
    printed = io.StringIO()
    log = WrittenToAtItsEnd(inkwell, author)
    posts = [p for p in PROJECTIONS if p.name == "posts"]
    position = await rebuild_with_progress(
        inkwell.redis, inkwell.keys, cast(EventLog, log), posts, Console(file=printed, width=200)
    )
    assert log.written and position == await inkwell.store.head_position() == 8
    rate = re.search(r"8/8 events +([\d,]+) events/s", printed.getvalue())
    assert rate is not None, printed.getvalue()
    assert int(rate[1].replace(",", "")) > 0, printed.getvalue()


async def test_a_redis_that_may_evict_keys_is_refused_in_production(
    private_redis: PrivateRedis,
) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(private_redis.url, decode_responses=True)
    try:
        assert await check_eviction_policy(client, production=True) == "noeviction"
        await client.config_set("maxmemory-policy", "allkeys-lru")
        assert await check_eviction_policy(client, production=False) == "allkeys-lru"
        with pytest.raises(EvictingRedis, match="noeviction"):
            await check_eviction_policy(client, production=True)
    finally:
        await client.aclose()


async def test_a_rebuild_stopped_by_repeated_cancellations_still_cleans_up(
    inkwell: Inkwell,
) -> None:
    """A stopping process cancels its tasks again and again (wiring/background.py's _cancel_all):
    the rebuild must still drop its half-built spaces and release its locks, or the next
    `inkwell rebuild` is refused for the lock's whole term."""
    await published_posts(inkwell, 40)
    await settle(inkwell)
    started = asyncio.Event()
    build = Rebuild(
        inkwell.redis, inkwell.keys, Scripts.register(inkwell.redis), inkwell.store,
        PROJECTIONS, lambda position, head: started.set(), batch=2,
    )  # fmt: skip
    building = asyncio.create_task(build.run())
    await started.wait()
    while not building.done():
        building.cancel()
        await asyncio.wait({building}, timeout=0.001)
    assert building.cancelled()
    assert await inkwell.redis.exists(*[inkwell.keys.rebuilding(name) for name in NAMES]) == 0
    # Only the active spaces remain: the half-built ones are gone. Active as Redis says:
    # this process's own view follows a swap a moment later, and under load that moment
    # was enough for the runner's first build to look like a leftover.
    active = await inkwell.redis.mget([inkwell.keys.namespace(name) for name in NAMES])
    spaces = {str(space) for space in active if space is not None}
    leftovers = [
        key
        async for key in inkwell.redis.scan_iter(match=f"{inkwell.keys.prefix}:*.*:*", count=1000)
        if not any(key.startswith(space + ":") for space in spaces)
    ]
    assert leftovers == []


async def test_the_next_rebuild_deletes_what_a_killed_one_left(
    inkwell: Inkwell, settings: Settings
) -> None:
    """A rebuild killed mid-build leaves its half-built spaces (and its locks, until their
    term ends); the next rebuild finds them in the registry and deletes them."""
    import subprocess
    import sys
    import time

    from harness.server_process import ROOT
    from projections.live.namespaces import NAMESPACE_GRACE_SECONDS

    await published_posts(inkwell, 20)
    await settle(inkwell)
    dying = [
        settings.database_url,
        str(settings.redis_url),
        settings.prefix,
        str(settings.data_dir),
    ]
    killed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tests.support.dying_rebuild", *dying],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    registered: dict[str, float] = {}
    for name in NAMES:
        key = inkwell.keys.space_registry(name)
        found = await inkwell.redis.zrange(key, 0, -1, withscores=True)
        registered.update(cast("list[tuple[str, float]]", found))
    active = {inkwell.keys.space(name) for name in NAMES}
    left = [space for space in registered if space not in active]
    assert len(left) == len(NAMES) and all([await keys_in(inkwell, s) for s in left]), left
    with pytest.raises(RebuildRunning):
        await Rebuild(
            inkwell.redis, inkwell.keys, Scripts.register(inkwell.redis), inkwell.store, PROJECTIONS
        ).run()
    # Its locks run out after LOCK_SECONDS; an operator waits, the test ends them now.
    await inkwell.redis.delete(*[inkwell.keys.rebuilding(name) for name in NAMES])
    # A space is abandoned once the grace period has passed since its build began.
    began = max(registered[space] for space in left)
    await asyncio.sleep(max(0.0, began + NAMESPACE_GRACE_SECONDS - time.time()))
    await Rebuild(
        inkwell.redis, inkwell.keys, Scripts.register(inkwell.redis), inkwell.store, PROJECTIONS
    ).run()
    assert [await keys_in(inkwell, space) for space in left] == [0] * len(left)


async def test_a_rebuild_cancelled_as_it_takes_its_lock_lets_it_go(
    inkwell: Inkwell, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled once Redis had set the lock but before its reply was read, as a projector
    that stood by 29 ms into its rebuild was, the lock stayed for its 30 s term and every
    rebuild of the projection waited on it (an outside probe)."""

    class CancelledOnceTaken(Lease):
        async def acquire(self) -> bool:
            await super().acquire()
            raise asyncio.CancelledError

    # The fixture's own runners build their first read models as it starts, each under
    # its lock: counted below as this rebuild's (CI runs at 19:57 and 20:08 on
    # 2026-12-07). On an empty log settle() found no lock yet and returned at once; with
    # an event in the log it waits for every projection to have applied it.
    await published_posts(inkwell, 1)
    await settle(inkwell)
    monkeypatch.setattr(rebuild, "Lease", CancelledOnceTaken)
    build = Rebuild(
        inkwell.redis, inkwell.keys, Scripts.register(inkwell.redis), inkwell.store, PROJECTIONS
    )
    with pytest.raises(asyncio.CancelledError):
        await build.run()
    assert await inkwell.redis.exists(*[inkwell.keys.rebuilding(name) for name in NAMES]) == 0


class CancelledAfterTheSwap(Rebuild):
    """A rebuild whose caller is cancelled once the swap's EXEC has run in Redis, before
    its reply is read: as a runner that loses its lease mid-rebuild is."""

    async def _swap(self, spaces: dict[str, str], checkpoints: list[str], position: int) -> None:
        await super()._swap(spaces, checkpoints, position)
        raise asyncio.CancelledError


async def test_a_rebuild_cancelled_after_its_swap_keeps_the_spaces_it_swapped_in(
    inkwell: Inkwell,
) -> None:
    """The cancelled build used to drop every space it had built, the active ones too:
    feeds then followed the log from the swap's checkpoint over an empty space, every
    post before it gone (tests/e2e/test_faults_under_load.py found it)."""
    await published_posts(inkwell, 20)
    await settle(inkwell)
    build = CancelledAfterTheSwap(
        inkwell.redis, inkwell.keys, Scripts.register(inkwell.redis), inkwell.store, PROJECTIONS
    )
    with pytest.raises(asyncio.CancelledError):
        await build.run()
    scratch = await replay(inkwell.redis, inkwell.store, inkwell.keys, PROJECTIONS)
    try:
        assert await differences(inkwell.redis, inkwell.keys, scratch, NAMES) == []
    finally:
        await drop(inkwell.redis, scratch, NAMES)


async def test_a_projector_deletes_the_spaces_a_cancelled_rebuild_left_behind(
    settings: Settings,
) -> None:
    """The spaces a swap replaced wait out the grace period in the process that swapped;
    cancelled then (or killed), it left them, a whole copy of the read models, until the
    next rebuild. The projector that takes the lease next sweeps them."""
    import time

    from projections.live.namespaces import NAMESPACE_GRACE_SECONDS

    async with running(settings) as inkwell:
        await published_posts(inkwell, 5)
        await settle(inkwell)
        replaced = {name: inkwell.keys.space(name) for name in NAMES}
        build = CancelledAfterTheSwap(
            inkwell.redis, inkwell.keys, Scripts.register(inkwell.redis), inkwell.store,
            PROJECTIONS,
        )  # fmt: skip
        with pytest.raises(asyncio.CancelledError):
            await build.run()
        assert sum([await keys_in(inkwell, space) for space in replaced.values()]) > 20
        for name, space in replaced.items():  # as if the grace period had passed
            past = time.time() - NAMESPACE_GRACE_SECONDS - 1
            await inkwell.redis.zadd(inkwell.keys.space_registry(name), {space: past})

    async with running(settings) as restarted:
        for _ in range(100):
            if not any([await keys_in(restarted, space) for space in replaced.values()]):
                break
            await asyncio.sleep(0.1)
        assert [await keys_in(restarted, space) for space in replaced.values()] == [0] * len(NAMES)
        for name, space in replaced.items():
            registry = restarted.keys.space_registry(name)
            assert await restarted.redis.zscore(registry, space) is None
        assert (await restarted.services.reads.recent_posts(Slice(10))).total == 5


async def test_every_batch_lists_the_spaces_being_built_again(
    inkwell: Inkwell, settings: Settings
) -> None:
    """A flush takes the registry's entry while the build writes on: should its process
    die before it drops what it wrote after the flush (Rebuild.run), those keys were
    listed nowhere, and no sweep ever deleted them. Each batch lists its spaces again."""
    import redis

    await published_posts(inkwell, 10)
    await settle(inkwell)
    registry = inkwell.keys.space_registry("posts")
    client = redis.Redis.from_url(str(settings.redis_url), decode_responses=True)
    listed: list[int] = []

    def lose_the_entry(position: int, head: int) -> None:
        """After each batch: was the space listed, then its entry gone as in a flush."""
        listed.append(client.zcard(registry))
        client.delete(registry)

    posts = [p for p in PROJECTIONS if p.name == "posts"]
    build = Rebuild(
        inkwell.redis, inkwell.keys, Scripts.register(inkwell.redis), inkwell.store, posts,
        lose_the_entry, batch=5,
    )  # fmt: skip
    try:
        await build.run()
    finally:
        client.close()
    assert len(listed) > 3 and all(listed), listed


async def test_a_sweep_spares_the_active_space_and_a_rebuild_under_way(inkwell: Inkwell) -> None:
    """A projector's sweep takes no lock: it must leave alone what a rebuild of the
    projection is building (its space was registered when the build began, and a long
    build outlasts the grace period), and the space that is active."""
    import time

    from projections.live.namespaces import NAMESPACE_GRACE_SECONDS

    await published_posts(inkwell, 3)
    await settle(inkwell)
    active = inkwell.keys.space("posts")
    building = inkwell.keys.new_space("posts", "building")
    # The lock first, as a rebuild takes it before it registers its space: this process's
    # runner sweeps too, and may do so between any two of these lines.
    await inkwell.redis.set(inkwell.keys.rebuilding("posts"), "another process")
    await inkwell.redis.set(f"{building}:post:x", "half built")
    long_ago = time.time() - NAMESPACE_GRACE_SECONDS - 60
    registry = inkwell.keys.space_registry("posts")
    await inkwell.redis.zadd(registry, {building: long_ago, active: long_ago})

    async def sweep() -> None:
        await sweep_abandoned(inkwell.redis, inkwell.keys, "posts")

    await sweep()
    assert await keys_in(inkwell, building) == 1
    await inkwell.redis.delete(inkwell.keys.rebuilding("posts"))  # the rebuild died
    await sweep()
    assert await keys_in(inkwell, building) == 0
    assert await inkwell.redis.zscore(registry, building) is None
    assert await keys_in(inkwell, active) > 0
    assert await inkwell.redis.zscore(registry, active) == long_ago
