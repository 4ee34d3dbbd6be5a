"""Commands sent to an app running in the test's process, and waits for its projections."""

from __future__ import annotations

import asyncio

from domain.bus import Caller
from domain.commands import Command, CreatePost, PublishPost, RegisterUser
from wiring.bootstrap import NAMES, Inkwell


async def send(inkwell: Inkwell, command: Command, actor: str | None = None) -> dict[str, str]:
    outcome = await inkwell.services.bus.dispatch(command, Caller(actor, "test"))
    return {**outcome.ids, "position": str(outcome.position)}


async def settle(inkwell: Inkwell, timeout: float = 10.0) -> None:
    """Waits until every projection has applied everything in the log, and no rebuild
    holds its lock any more (a runner's first build swaps its space in a moment before
    it releases its lock: a test's own rebuild would be refused in between)."""
    deadline = asyncio.get_running_loop().time() + timeout
    head = await inkwell.store.head_position()
    await inkwell.services.consistency.wait_for(head, timeout)
    locks = [inkwell.keys.rebuilding(name) for name in NAMES]
    while await inkwell.redis.exists(*locks):
        assert asyncio.get_running_loop().time() < deadline, "a rebuild still holds its lock"
        await asyncio.sleep(0.01)


async def author_with_posts(inkwell: Inkwell, published: int, drafts: int = 0) -> str:
    user = (await send(inkwell, RegisterUser("Ann")))["user_id"]
    for i in range(published + drafts):
        post = (await send(inkwell, CreatePost(f"Post {i}", "Body", ("cqrs",)), user))["post_id"]
        if i < published:
            await send(inkwell, PublishPost(post), user)
    return user
