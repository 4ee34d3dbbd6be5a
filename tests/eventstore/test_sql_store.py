"""What only the SQL store does: group commit, and several writers on one database."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from domain.commands import CreatePost, PublishPost, RegisterUser, UpdatePost
from domain.errors import ConcurrencyError
from domain.events import PostCreated, PostPublished, UserRegistered
from domain.ports import Outcome
from eventstore.engines import Engines
from eventstore.store import SqlEventStore
from eventstore.writer import GroupCommitWriter
from infra.settings import Settings
from tests.support.appends import NOW, Committed, registration, request
from tests.support.in_process import send
from wiring.bootstrap import running


async def test_two_writers_on_one_database_never_share_a_version(engines: Engines) -> None:
    """Two writer threads stand in for two API processes appending to the same streams."""
    writers = [GroupCommitWriter(engines, lambda _: None) for _ in range(2)]
    for writer in writers:
        writer.start()
    stores = [SqlEventStore(engines, writer) for writer in writers]
    try:
        results = await asyncio.gather(
            *[stores[i % 2].append(request(f"user-u{i % 5}", 0)) for i in range(40)],
            return_exceptions=True,
        )
        assert sum(isinstance(r, Outcome) for r in results) == 5
        assert all(isinstance(r, (Outcome, ConcurrencyError)) for r in results)
        positions = [e.position for e in await stores[0].read_all(after=0, limit=100)]
        assert positions == sorted(positions) and len(positions) == 5
    finally:
        for writer in writers:
            writer.stop()


async def test_appends_committed_together_each_get_their_own_positions_in_order(
    sql_store: SqlEventStore, committed: Committed
) -> None:
    """Appends of one to three events, committed in one batch around a refused one: each
    outcome names its last event's position, and the log, the loads and what the writer
    reported all agree, event by event."""
    appended = {
        f"post-p{i}": [
            PostCreated(f"p{i}", "u1", f"T{i}", "C", (), NOW),
            *[PostPublished(f"p{i}", "u1", NOW)] * (i % 3),
        ]
        for i in range(30)
    }
    await sql_store.append(request("post-taken", 0))
    results = await asyncio.gather(
        *[sql_store.append(request(stream, 0, *events)) for stream, events in appended.items()],
        sql_store.append(request("post-taken", 0)),
        return_exceptions=True,
    )
    *outcomes, refused = results
    assert isinstance(refused, ConcurrencyError)

    log = await sql_store.read_all(after=0, limit=1000)
    assert [e.position for e in log] == list(range(1, 1 + 1 + sum(map(len, appended.values()))))
    assert sorted(committed.events, key=lambda e: e.position) == log
    for (stream, events), outcome in zip(appended.items(), outcomes, strict=True):
        mine = [e for e in log if e.stream_id == stream]
        assert [(e.version, e.event) for e in mine] == list(enumerate(events, start=1))
        assert outcome == Outcome(position=mine[-1].position, ids={"id": stream})
        assert await sql_store.load(stream) == (events, len(events))


async def test_after_a_failed_commit_the_writer_commits_the_next_appends(
    sql_store: SqlEventStore, committed: Committed
) -> None:
    """A commit that fails for another reason than a refusal fails its batch; the writer
    gives its connection back, takes a new one and goes on."""
    unencodable = UserRegistered("u9", object(), None, "", NOW)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await sql_store.append(request("user-u9", 0, unencodable))
    for n in range(3):
        await sql_store.append(request(f"user-u{n}", 0, registration(f"u{n}")))
    log = await sql_store.read_all(after=0, limit=10)
    assert [e.stream_id for e in log] == ["user-u0", "user-u1", "user-u2"]
    assert [e.stream_id for e in committed.events] == ["user-u0", "user-u1", "user-u2"]


async def test_a_log_restored_to_an_older_copy_under_a_running_process_takes_new_commands(
    settings: Settings, tmp_path: Path
) -> None:
    """The process holds the post it replayed at version 2 (domain/replay.py); the
    database is then put back to a copy where the post is at version 1 (its second and
    third events gone). The next append, conditional on version 2, is refused; the
    refusal drops what was held, so the command's retry replays the stream whole and
    lands, rather than being refused again at a version the log no longer has."""
    async with running(settings, projectors=False) as inkwell:
        ann = (await send(inkwell, RegisterUser("Ann")))["user_id"]
        post = (await send(inkwell, CreatePost("Title", "Text."), ann))["post_id"]
        await send(inkwell, UpdatePost(post, 1, title="Edited"), ann)
        await send(inkwell, UpdatePost(post, 2, title="Edited again"), ann)  # loads it at 2
        with sqlite3.connect(tmp_path / "events.db") as db:
            db.execute("DELETE FROM events WHERE stream_id = ? AND version > 1", (f"post-{post}",))
        await send(inkwell, PublishPost(post), ann)
        events, version = await inkwell.store.load(f"post-{post}")
        assert [type(e) for e in events] == [PostCreated, PostPublished] and version == 2
