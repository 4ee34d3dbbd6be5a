"""A database that stops answering mid-commit: the command's wait ends at its deadline, and
what was still queued behind the stuck commit is never committed.

PostgreSQL's backends for this test are paused with SIGSTOP (the connection stays open
and nothing answers, as in a failover or a partition); they are resumed before the test
ends, whatever happens."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

from eventstore.engines import open_engines
from eventstore.reads import ReadUnanswered
from eventstore.store import SqlEventStore
from eventstore.writer import CommitUnconfirmed, GroupCommitWriter
from tests.support.appends import request

pytestmark = pytest.mark.postgres


@contextmanager
def paused_backends(url: str, application_name: str) -> Iterator[list[int]]:
    """Pauses the backends of the connections named `application_name`, found through a
    connection of its own to `url`."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                {"name": application_name},
            )
            pids = [int(pid) for (pid,) in found]
    finally:
        admin.dispose()
    assert pids, "the writer's connection should be open"
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield pids
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


async def test_a_database_that_stops_answering_fails_the_wait_and_drops_what_was_queued(
    postgres_url: str,
) -> None:
    name = f"inkwell-test-{uuid.uuid4().hex[:8]}"
    engines = open_engines(f"{postgres_url}&application_name={name}")
    writer = GroupCommitWriter(engines, lambda _: None, commit_seconds=1.0)
    writer.start()
    store = SqlEventStore(engines, writer)
    try:
        await store.append(request("user-before", 0))  # the writer's connection is open
        with paused_backends(postgres_url, name):
            stuck = asyncio.create_task(store.append(request("user-stuck", 0)))
            await asyncio.sleep(0.3)  # the writer thread is in its commit now
            queued = asyncio.create_task(store.append(request("user-queued", 0)))
            for waiting in (stuck, queued):
                with pytest.raises(CommitUnconfirmed):
                    await waiting
        after = await store.append(request("user-after", 0))
        assert after.position > 0
        # The stuck commit finished once the database answered again; the one queued
        # behind it was left out, so its caller's answer (not confirmed) stays true.
        assert (await store.load("user-stuck"))[1] == 1  # (events, version)
        assert (await store.load("user-queued"))[1] == 0
    finally:
        writer.stop()
        engines.dispose()


async def test_a_commands_reads_are_given_up_at_their_deadline_too(postgres_url: str) -> None:
    """Only the commit was bounded: a command loading its stream from a database that
    stopped answering waited as long as it did (24 s of a 25 s pause, 45 s behind a 45 s
    lock on the table, in an outside probe). A lock held here stands for both."""
    engines = open_engines(postgres_url)
    writer = GroupCommitWriter(engines, lambda _: None, commit_seconds=1.0)
    writer.start()
    store = SqlEventStore(engines, writer, read_seconds=1.0)
    locker = create_engine(postgres_url)
    try:
        await store.append(request("user-before", 0))
        with locker.connect() as conn:
            conn.execute(text("LOCK TABLE events, commands IN ACCESS EXCLUSIVE MODE"))
            with pytest.raises(ReadUnanswered):
                await store.load("user-before")
            with pytest.raises(ReadUnanswered):
                await store.outcome_of("user", "a-command")
            conn.rollback()
        assert (await store.load("user-before"))[1] == 1  # answered once the lock is gone
    finally:
        locker.dispose()
        writer.stop()
        engines.dispose()
