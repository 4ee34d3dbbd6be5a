"""Helpers for read-side tests: run commands in process, wait for the projections."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.bus import Caller
from domain.commands import Command, CreatePost, PublishPost, RegisterUser
from server import Inkwell
from tests.support import redis_server
from tests.support.net import free_port
from tests.support.redis_server import PrivateRedis


async def send(inkwell: Inkwell, command: Command, actor: str | None = None) -> dict[str, str]:
    outcome = await inkwell.services.bus.dispatch(command, Caller(actor, "test"))
    return {**outcome.ids, "position": str(outcome.position)}


async def settle(inkwell: Inkwell, timeout: float = 10.0) -> None:
    """Waits until every projection has applied everything in the log."""
    head = await inkwell.store.head_position()
    await inkwell.services.consistency.wait_for(head, timeout)


async def author_with_posts(inkwell: Inkwell, published: int, drafts: int = 0) -> str:
    user = (await send(inkwell, RegisterUser("Ann")))["user_id"]
    for i in range(published + drafts):
        post = (await send(inkwell, CreatePost(f"Post {i}", "Body", ("cqrs",)), user))["post_id"]
        if i < published:
            await send(inkwell, PublishPost(post), user)
    return user


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    port = free_port()
    server = PrivateRedis(port, tmp_path, redis_server.start(port, directory=tmp_path))
    yield server
    server.process.kill()
    server.process.wait()
