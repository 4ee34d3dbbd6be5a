"""A log restored from an older backup and written past the read models' checkpoint
before a projector looks again: its new events hold positions the old ones had, so the
head alone no longer tells that it went back (projections/projectors/checkpoint_events.py).
On a real Redis, with a SQLite file copied back while no projector runs, and with
PostgreSQL restored by pg_restore under a running projector, which the new events then
reach as published events of positions it has passed."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from domain.commands import CreatePost, PublishPost, RegisterUser, UpdateProfile
from harness.redis_keys import forget
from infra.settings import Settings
from observability.exposition import projection_families
from observability.progress import ProgressReader
from observability.readiness import Limits, Readiness
from projections.live.read_models import Resubscribe
from projections.readers.pagination import Slice
from tests.support.in_process import send, settle
from tests.support.settings import make_settings
from wiring.bootstrap import NAMES, Inkwell, running

# What recentPosts shows once the read models are the restored log's: the backup's post
# and the three written after the restore, not the ones lost with it.
RESTORED_AND_WRITTEN = ["Written since 2", "Written since 1", "Written since 0", "In the backup"]


async def publish(inkwell: Inkwell, author: str, title: str) -> None:
    post = (await send(inkwell, CreatePost(title, "Body", ()), author))["post_id"]
    await send(inkwell, PublishPost(post), author)


async def titles(inkwell: Inkwell) -> list[str]:
    page = await inkwell.services.reads.recent_posts(Slice(100))
    return [post.title for _, post in page.posts]


class Backup:
    """pg_dump of the test's schema to a file, and pg_restore of it under whatever runs:
    in one transaction, dropping the tables it brings back first."""

    def __init__(self, postgres_url: str, dump: Path) -> None:
        found = re.search(r"search_path%3D(\w+)", postgres_url)
        assert found is not None, postgres_url
        libpq = make_url(postgres_url).set(drivername="postgresql", query={})
        self.database = libpq.render_as_string(hide_password=False)
        self.schema = found[1]
        self.dump = dump

    async def take(self) -> None:
        command = ["pg_dump", f"--dbname={self.database}", f"--schema={self.schema}", "-Fc"]
        await asyncio.to_thread(subprocess.run, [*command, f"--file={self.dump}"], check=True)

    async def restore(self) -> None:
        command = ["pg_restore", f"--dbname={self.database}", "--clean", "--if-exists", "-1"]
        await asyncio.to_thread(subprocess.run, [*command, str(self.dump)], check=True)


async def test_a_restored_log_written_past_the_checkpoint_is_rebuilt_from(
    settings: Settings, tmp_path: Path
) -> None:
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    backup = tmp_path / "backup.db"
    async with running(settings) as inkwell:
        ann = (await send(inkwell, RegisterUser("Ann")))["user_id"]
        await publish(inkwell, ann, "In the backup")
        await settle(inkwell)
        with sqlite3.connect(database) as live, sqlite3.connect(backup) as copy:
            live.backup(copy)
        await publish(inkwell, ann, "Lost with the restore")
        await settle(inkwell)
        checkpoint = await inkwell.store.head_position()  # 5: the projectors are there

    for path in database.parent.glob(f"{database.name}*"):  # with its -wal and -shm
        path.unlink()
    shutil.copy(backup, database)
    async with running(settings, projectors=False) as writer:  # an API process, say
        for n in range(3):
            await publish(writer, ann, f"Written since {n}")
        assert await writer.store.head_position() == 9 > checkpoint
        # Until a projector rebuilds, /ready and `status` say so: lag and `ahead` do not.
        progress = ProgressReader(writer.redis, writer.keys, NAMES, writer.log)
        posts = {p.name: p for p in await progress.read()}["posts"]
        assert (posts.position, posts.head, posts.ahead) == (checkpoint, 9, 0)
        assert posts.went_back and posts.state(30) == "not the log's"
        gauges = {
            sample.labels["projection"]: sample.value
            for family in projection_families([posts])
            if family.name == "inkwell_projection_log_went_back"
            for sample in family.samples
        }
        assert gauges == {"posts": 1}
        verdict = await Readiness(
            writer.redis, writer.log, writer.keys, progress, Limits(1000, 30)
        ).check()
        assert "projection:posts" in verdict.failed
        assert "restored from an older backup and written since" in str(verdict.checks)

    async with running(settings) as inkwell:
        await settle(inkwell)
        assert await titles(inkwell) == RESTORED_AND_WRITTEN
        mark = await inkwell.redis.get(inkwell.keys.checkpoint_event("posts"))
        (at_head,) = await inkwell.store.at([9])
        assert mark == f"9 {at_head.stream_id} {at_head.version} {at_head.command_id}"


@pytest.mark.postgres
async def test_a_log_restored_under_a_running_projector_and_written_past_is_rebuilt_from(
    postgres_url: str, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """An outside probe's case: comments written in the 2 s after a pg_restore carried the
    head past the checkpoint, and /ready said ready over 25 keys that differed from a
    replay, for good."""
    backup = Backup(postgres_url, tmp_path / "backup.dump")
    settings = make_settings(postgres_url, redis_url, prefix, tmp_path)
    async with running(settings) as inkwell:
        ann = (await send(inkwell, RegisterUser("Ann")))["user_id"]
        await publish(inkwell, ann, "In the backup")
        await settle(inkwell)
        await backup.take()
        for n in range(2):
            await publish(inkwell, ann, f"Lost with the restore {n}")
        await settle(inkwell)
        checkpoint = await inkwell.store.head_position()

        await backup.restore()
        for n in range(3):
            await publish(inkwell, ann, f"Written since {n}")
        assert await inkwell.store.head_position() > checkpoint
        await settle(inkwell)
        assert await titles(inkwell) == RESTORED_AND_WRITTEN


@pytest.mark.postgres
async def test_a_published_batch_from_behind_the_checkpoint_and_past_it_is_looked_at_first(
    postgres_url: str, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """An outside probe's case: a backup one event behind the checkpoint, restored under
    a running projector busy for a moment while writes came. The first batch it took
    held the checkpoint's position, written anew, and the next: it dropped the first,
    applied the rest on top of the old read models, and recorded the new log's event at
    its checkpoint, so nothing ever saw it (verify differed for good)."""
    backup = Backup(postgres_url, tmp_path / "backup.dump")
    settings = make_settings(postgres_url, redis_url, prefix, tmp_path / "served")
    # Writes whose notices go where no projector listens: the test hands them over.
    unheard = make_settings(postgres_url, redis_url, f"{prefix}-unheard", tmp_path / "unheard")
    try:
        async with running(settings) as inkwell:
            ann = (await send(inkwell, RegisterUser("Ann")))["user_id"]
            await publish(inkwell, ann, "In the backup")
            await settle(inkwell)
            backup_head = await inkwell.store.head_position()
            await backup.take()
            await send(inkwell, UpdateProfile(bio="Lost with the restore"), ann)
            await settle(inkwell)  # every checkpoint one past the backup's head

            await backup.restore()
            async with running(unheard, projectors=False) as writer:
                for n in range(2):
                    await publish(writer, ann, f"Written since {n}")
            written = await inkwell.store.read_all(after=backup_head, limit=100)
            assert [e.position for e in written] == [backup_head + n for n in (1, 2, 3, 4)]
            for runner in inkwell.runners:
                assert not await runner.apply(written, from_log=False), runner.projection.name
            await settle(inkwell)  # the catch-up it asked for saw the log go back
            assert await titles(inkwell) == ["Written since 1", "Written since 0", "In the backup"]
    finally:
        forget(redis_url, unheard.prefix)


@pytest.mark.postgres
async def test_live_streams_past_a_restored_logs_head_end_at_once_with_resubscribe(
    postgres_url: str, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """Streams that had delivered past the head of a log restored under the running
    server waited for Redis to pass their position again, with a shared reader per read
    model: INKWELL_LIVE_GIVE_UP_SECONDS without writes, and with writes the events at the
    positions handed out again reached none of them. Once the projectors rebuild from the
    restored log, they end with RESUBSCRIBE; a stream opened after that follows the
    restored log."""
    backup = Backup(postgres_url, tmp_path / "backup.dump")
    settings = make_settings(postgres_url, redis_url, prefix, tmp_path)
    settings = dataclasses.replace(settings, live_give_up_seconds=300)
    async with running(settings) as inkwell:
        live = inkwell.services.live
        ann = (await send(inkwell, RegisterUser("Ann")))["user_id"]
        kept = (await send(inkwell, CreatePost("In the backup", "Body", ()), ann))["post_id"]
        await send(inkwell, PublishPost(kept), ann)
        await settle(inkwell)
        await backup.take()
        async with live.feed() as feed, live.post(kept) as post:
            assert (await anext(post)) is not None
            for n in range(2):
                await publish(inkwell, ann, f"Lost with the restore {n}")
            await settle(inkwell)
            shown = [(await asyncio.wait_for(anext(feed), 5)).title for _ in range(2)]
            assert shown == ["Lost with the restore 0", "Lost with the restore 1"]

            await backup.restore()
            started = asyncio.get_running_loop().time()
            for stream in (feed, post):
                with pytest.raises(Resubscribe, match="the event log went back"):
                    while True:
                        await asyncio.wait_for(anext(stream), 30)
            assert asyncio.get_running_loop().time() - started < 30

        async with live.feed() as feed:
            await publish(inkwell, ann, "Written since")
            assert (await asyncio.wait_for(anext(feed), 10)).title == "Written since"
        assert await titles(inkwell) == ["Written since", "In the backup"]
