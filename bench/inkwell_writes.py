"""Inkwell's side of the write benchmark: the real command bus, store and group-commit writer.

Built as `wiring.bootstrap.running()` builds them, without Redis: the writer's on_commit
does nothing, so what is measured is deciding, loading and committing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from domain.bus import Caller, CommandBus
from domain.commands import CreatePost, RegisterUser, UpdatePost
from domain.handlers import HANDLERS
from domain.ports import RecordedEvent
from eventstore.engines import open_engines
from eventstore.store import SqlEventStore
from eventstore.writer import GroupCommitWriter, OnTransaction

Command = Callable[[int], Awaitable[object]]


def _ignore(_: list[RecordedEvent]) -> None:
    pass


@asynccontextmanager
async def open_bus(
    database: Path, on_transaction: OnTransaction | None = None
) -> AsyncIterator[tuple[CommandBus, Caller]]:
    """A command bus on a fresh SQLite file, and a registered author to act as."""
    engines = open_engines(f"sqlite:///{database}")
    writer = GroupCommitWriter(engines, _ignore, on_transaction=on_transaction)
    writer.start()
    try:
        bus = CommandBus(
            SqlEventStore(engines, writer), HANDLERS, lambda: datetime.now(UTC),
            lambda: str(uuid.uuid4()),
        )  # fmt: skip
        registered = await bus.dispatch(RegisterUser("Author"), Caller(None, "bench"))
        yield bus, Caller(registered.ids["user_id"], "bench")
    finally:
        writer.stop()
        engines.dispose()


async def creators(bus: CommandBus, author: Caller, workers: int) -> list[Command]:
    """Each worker's command: create a post (the handler checks that the author exists)."""
    return [lambda n: bus.dispatch(CreatePost(f"Post {n}", "Text."), author)] * workers


async def updaters(bus: CommandBus, author: Caller, workers: int, posts: int) -> list[Command]:
    """Each worker's command: edit the next of its own posts, made before the clock starts,
    so that streams stay short and no two workers meet. The handler loads the author and
    the post, decides, and appends at the version it saw."""
    versions: dict[str, int] = {}
    for start in range(0, posts, 50):
        created = await asyncio.gather(
            *(
                bus.dispatch(CreatePost("Mine", "Text."), author)
                for _ in range(start, min(posts, start + 50))
            )
        )
        versions.update((outcome.ids["post_id"], 1) for outcome in created)
    ids = list(versions)
    return [_editor(bus, author, ids[worker::workers], versions) for worker in range(workers)]


def _editor(bus: CommandBus, author: Caller, mine: list[str], versions: dict[str, int]) -> Command:
    async def edit(n: int) -> None:
        post_id = mine[n % len(mine)]
        await bus.dispatch(UpdatePost(post_id, versions[post_id], title=f"Edit {n}"), author)
        versions[post_id] += 1

    return edit
