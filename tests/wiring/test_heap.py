"""A started server process freezes its heap and collects young objects less often; a
bulk command collects none while its batches come and go."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import pytest

from domain.bus import Caller
from domain.commands import AddComment, CreatePost, PublishPost, RegisterUser
from infra.settings import Settings
from projections.projectors.rebuild import BUILD_BATCH, Rebuild
from projections.projectors.scripts import Scripts
from wiring import heap
from wiring.bootstrap import PROJECTIONS, Inkwell, running


def test_settle_freezes_the_survivors_and_raises_the_young_threshold() -> None:
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    kept = [object(), {"a": []}]  # tracked, alive: frozen by settle
    try:
        gc.set_threshold(700, 10, 10)
        heap.settle()
        assert gc.get_freeze_count() > frozen + len(kept) - 1
        assert gc.get_threshold() == (heap.YOUNG_GENERATION_THRESHOLD, 10, 10)
        gc.set_threshold(50_000, 10, 10)
        heap.settle()  # a higher threshold set by someone else stays
        assert gc.get_threshold() == (50_000, 10, 10)
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_a_bulk_command_raises_the_young_threshold_while_it_runs_and_freezes_nothing() -> None:
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    try:
        gc.set_threshold(700, 10, 10)
        with heap.young_generation_raised():
            assert gc.get_threshold() == (heap.BULK_YOUNG_GENERATION_THRESHOLD, 10, 10)
            assert gc.get_freeze_count() == frozen
        assert gc.get_threshold() == (700, 10, 10)
        with pytest.raises(RuntimeError), heap.young_generation_raised():
            raise RuntimeError("the command failed")
        assert gc.get_threshold() == (700, 10, 10)
        gc.set_threshold(500_000, 5, 5)
        with heap.young_generation_raised():  # a higher threshold set by someone else stays
            assert gc.get_threshold() == (500_000, 5, 5)
    finally:
        gc.set_threshold(*threshold)


async def test_a_rebuild_of_several_batches_runs_no_collection_at_the_bulk_threshold(
    settings: Settings,
) -> None:
    """What the bulk threshold is for: a rebuild's objects live a batch or two, then go,
    so the young count stays under it and the collector never runs. At the servers'
    threshold the same rebuild is collected every couple of thousand events."""
    async with running(settings, projectors=False) as inkwell:
        await _a_blog(inkwell, posts=BUILD_BATCH)  # 3 events a post: 3 batches and one
        assert await _collections_during_rebuild(inkwell, heap.young_generation_raised) == []
        threshold = gc.get_threshold()
        try:
            gc.set_threshold(heap.YOUNG_GENERATION_THRESHOLD, *threshold[1:])
            assert await _collections_during_rebuild(inkwell, nullcontext) != []
        finally:
            gc.set_threshold(*threshold)


async def _a_blog(inkwell: Inkwell, posts: int) -> None:
    bus = inkwell.services.bus
    author = (await bus.dispatch(RegisterUser("Ann"), Caller(None, "test"))).ids["user_id"]
    caller = Caller(author, "test")
    for _ in range(posts // 250):  # 250 at once, so the writer commits them in groups
        created = await asyncio.gather(
            *(bus.dispatch(CreatePost(f"Post {n}", "Some text."), caller) for n in range(250))
        )
        ids = [outcome.ids["post_id"] for outcome in created]
        await asyncio.gather(*(bus.dispatch(PublishPost(post), caller) for post in ids))
        await asyncio.gather(*(bus.dispatch(AddComment(post, "Nice."), caller) for post in ids))


async def _collections_during_rebuild(
    inkwell: Inkwell, setting: Callable[[], AbstractContextManager[None]]
) -> list[int]:
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.collect()
    with setting():  # left once counting stops: a lower threshold put back collects at once
        gc.callbacks.append(count)
        try:
            build = Rebuild(
                inkwell.redis, inkwell.keys, Scripts.register(inkwell.redis), inkwell.store,
                PROJECTIONS,
            )  # fmt: skip
            swapped = await build.run()
        finally:
            gc.callbacks.remove(count)
    await build.delete_old(swapped, grace=0)
    return collections
