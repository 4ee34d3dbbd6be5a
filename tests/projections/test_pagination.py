"""Relay pages over a real sorted set and over the intersection of sorted sets (a search,
walked in Redis) agree with Relay's algorithm, for every cursor pair, both directions and
every size, with tied scores."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from projections.readers.pagination import (
    INTERSECTION_SLICE,
    LOOKUPS_PER_SLICE,
    BadPageRequest,
    Page,
    Position,
    Slice,
    in_every,
    newest_first,
    pages,
)
from projections.redisio.read_only_scripts import ReadOnlyScript


def member(n: int) -> str:
    """The n-th id, in order: a cursor names a member the server made, a UUID."""
    return f"{n:08x}-0000-4000-8000-000000000000"


# Ties on purpose: Redis orders equal scores by member, and so must the cursors.
ITEMS = [Position(score, member(n)) for n, score in enumerate([1, 2, 2, 2, 3, 5, 5, 8])]


def relay(ordered: list[Position], window: Slice) -> tuple[list[Position], bool, bool]:
    """The specification's ApplyCursorsToEdges, then first or last: (edges, next, previous)."""
    edges = ordered
    if window.after:
        edges = edges[ordered.index(Position.from_cursor(window.after, "after")) + 1 :]
    if window.before:
        cut = Position.from_cursor(window.before, "before")
        edges = [edge for edge in edges if ordered.index(edge) < ordered.index(cut)]
    if window.last is None:
        return edges[: window.first], len(edges) > window.first, window.after is not None
    page = edges[max(0, len(edges) - window.last) :] if window.last else []
    return page, window.before is not None, len(edges) > window.last


def windows() -> Iterator[Slice]:
    cursors = [None, *(item.cursor() for item in ITEMS)]
    for after, before in itertools.product(cursors, cursors):
        for size in (0, 1, 2, 3, 10):
            yield Slice(size, after, None, before)
            yield Slice(20, after, size, before)


@pytest.fixture
async def sorted_set(redis_url: str, prefix: str) -> AsyncIterator[tuple[aioredis.Redis, str]]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    key = f"{prefix}:pages"
    await client.zadd(key, {item.member: item.score for item in ITEMS})
    yield client, key
    await client.delete(key)
    await client.aclose()


def outcome(page: Page) -> tuple[list[Position], bool, bool]:
    return page.items, page.has_next, page.has_previous


class Charges:
    """What each slice of a walk charged, as the server's budget would be charged."""

    def __init__(self) -> None:
        self.slices: list[int] = []

    async def __call__(self, lookups: int) -> None:
        self.slices.append(lookups)


class Recorded:
    """The slice script, recording what each call says it cost Redis."""

    def __init__(self, script: ReadOnlyScript) -> None:
        self.script = script
        self.registered_client = script.registered_client
        self.costs: list[int] = []

    async def __call__(self, keys: list[str], args: list[str | int]) -> list[Any]:
        reply: list[Any] = await self.script(keys=keys, args=args)
        self.costs.append(int(reply[4]))
        return reply


async def total(page: Page) -> int:
    return page.total if isinstance(page.total, int) else await page.total()


async def test_newest_first_pages_match_relays_algorithm(
    sorted_set: tuple[aioredis.Redis, str],
) -> None:
    client, key = sorted_set
    ordered = sorted(ITEMS, reverse=True)
    # The items, and others besides: the two sets' intersection is the items.
    wider = f"{key}:wider"
    await client.zadd(wider, {item.member: item.score for item in ITEMS})
    await client.zadd(wider, {"x": 2, "y": 9, "z": 0})
    walk = ReadOnlyScript(client, INTERSECTION_SLICE)
    try:
        for window in windows():
            expected = relay(ordered, window)
            assert outcome(await newest_first(client, key, window)) == expected, window
            page = await in_every(walk, [key, wider], window, Charges())
            assert outcome(page) == expected, window
            assert await total(page) == len(ITEMS)
    finally:
        await client.delete(wider)


@pytest.mark.parametrize("spacing", [250, 37], ids=["sparse", "dense"])
async def test_the_intersection_of_large_sets_pages_as_relay_says(
    redis_url: str, prefix: str, spacing: int
) -> None:
    """Two sets of 6,000 members and more, sharing one member every `spacing` scores, tied
    with others. Sparse: a page needs more slices than one (lua/intersection_slice.lua).
    Dense: the first slice finds a page."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    keys = [f"{prefix}:left", f"{prefix}:right"]
    shared = [Position(score, member(score)) for score in range(0, 3_000, spacing)]
    for side, key in enumerate(keys):
        await client.zadd(key, {f"{side}-{n}": n // 2 for n in range(6_000)})
        await client.zadd(key, {item.member: item.score for item in shared})
    walk = ReadOnlyScript(client, INTERSECTION_SLICE)
    ordered = sorted(shared, reverse=True)
    cursors = [None, *(item.cursor() for item in ordered[:: max(1, len(ordered) // 8)])]
    try:
        for after, before in itertools.product(cursors, cursors):
            for window in (Slice(5, after, None, before), Slice(20, after, 5, before)):
                page = await in_every(walk, keys, window, Charges())
                assert outcome(page) == relay(ordered, window), window
                assert await total(page) == len(shared)
    finally:
        await client.delete(*keys)
        await client.aclose()


async def test_a_search_of_many_common_words_looks_at_a_slice_at_a_time(
    redis_url: str, prefix: str
) -> None:
    """Ten sets of 5,000 of the same 6,000 posts (words in 83% of the posts, as an outside
    probe had them): the count and every page are exact, and made of script calls that
    each cost Redis LOOKUPS_PER_SLICE lookups at most. It was one ZINTERCARD over them
    all, 26-42 ms of Redis at 20,000 posts with nothing else let in."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    posts = [Position(n, member(n)) for n in range(6_000)]
    keys = [f"{prefix}:word{w}" for w in range(10)]
    held = [set(range(w * 100, w * 100 + 5_000)) for w in range(10)]  # 5,000 each
    for key, numbers in zip(keys, held, strict=True):
        await client.zadd(key, {posts[n].member: posts[n].score for n in numbers})
    walk = Recorded(ReadOnlyScript(client, INTERSECTION_SLICE))
    ordered = sorted((posts[n] for n in set.intersection(*held)), reverse=True)
    try:
        charges = Charges()
        page = await in_every(walk, keys, Slice(20), charges)  # type: ignore[arg-type]
        assert outcome(page) == relay(ordered, Slice(20))
        assert await total(page) == len(ordered) == 4_100
        assert len(walk.costs) == len(charges.slices) > 10  # each call charged before it
        assert max(walk.costs) <= max(charges.slices) <= LOOKUPS_PER_SLICE
        assert sum(charges.slices) >= 5_000  # the smallest set read once, at least
        cursor = ordered[1_000].cursor()
        for window in (Slice(100, cursor), Slice(20, None, 100, cursor)):
            walk.costs.clear()
            page = await in_every(walk, keys, window, Charges())  # type: ignore[arg-type]
            assert outcome(page) == relay(ordered, window), window
            assert max(walk.costs) <= LOOKUPS_PER_SLICE
        # Two fields asking for the count at once (aliases) share one count.
        walk.costs.clear()
        page = await in_every(walk, keys, Slice(0), Charges())  # type: ignore[arg-type]
        calls = len(walk.costs)
        assert list(await asyncio.gather(total(page), total(page))) == [4_100, 4_100]
        assert len(walk.costs) - calls == len(charges.slices) - 1  # one count, no walk
    finally:
        await client.delete(*keys)
        await client.aclose()


async def test_a_cursor_whose_post_left_the_search_pages_on_from_its_place(
    redis_url: str, prefix: str
) -> None:
    """A cursor names a post that was unpublished since (no longer in any word's set),
    tied with others: the next page starts where it stood, forward and backward."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    keys = [f"{prefix}:alpha", f"{prefix}:beta"]
    for key in keys:
        await client.zadd(key, {item.member: item.score for item in ITEMS})
    walk = ReadOnlyScript(client, INTERSECTION_SLICE)
    gone = ITEMS[2]  # score 2, between two others of score 2
    ordered = sorted(ITEMS, reverse=True)
    try:
        for key in keys:
            await client.zrem(key, gone.member)
        forward = await in_every(walk, keys, Slice(2, gone.cursor()), Charges())
        assert forward.items == [ITEMS[1], ITEMS[0]]
        backward = await in_every(walk, keys, Slice(20, None, 2, gone.cursor()), Charges())
        assert backward.items == [ITEMS[4], ITEMS[3]]
        assert await total(forward) == len(ordered) - 1
    finally:
        await client.delete(*keys)
        await client.aclose()


async def test_oldest_first_pages_match_relays_algorithm(
    sorted_set: tuple[aioredis.Redis, str],
) -> None:
    client, key = sorted_set
    for window in windows():
        (page,) = await pages(client, [(key, window)], newest_first=False)
        assert isinstance(page, Page)
        assert outcome(page) == relay(ITEMS, window), window


async def test_paging_backward_from_the_end_visits_every_item_once(
    sorted_set: tuple[aioredis.Redis, str],
) -> None:
    client, key = sorted_set
    seen: list[Position] = []
    before = None
    while True:
        page = await newest_first(client, key, Slice(20, None, 3, before))
        seen = page.items + seen
        assert page.total == len(ITEMS)
        if not page.has_previous:
            break
        before = page.items[0].cursor()
    assert seen == sorted(ITEMS, reverse=True)


async def test_many_pages_in_one_call_match_one_by_one(
    sorted_set: tuple[aioredis.Redis, str],
) -> None:
    client, key = sorted_set
    every = list(windows())
    batched = await pages(client, [(key, window) for window in every], newest_first=True)
    for window, page in zip(every, batched, strict=True):
        assert isinstance(page, Page)
        assert outcome(page) == outcome(await newest_first(client, key, window)), window


@pytest.mark.parametrize("window", [Slice(20, last=101), Slice(20, last=-1), Slice(101)])
async def test_sizes_out_of_range_are_refused(
    sorted_set: tuple[aioredis.Redis, str], window: Slice
) -> None:
    client, key = sorted_set
    with pytest.raises(BadPageRequest):
        await newest_first(client, key, window)


@pytest.mark.parametrize("score", [0, 1, -1, 2**63 - 1, -(2**63)])
def test_every_cursor_the_server_writes_reads_back(score: int) -> None:
    position = Position(score, member(7))
    assert Position.from_cursor(position.cursor(), "after") == position


@pytest.mark.parametrize("score", [2**63, -(2**63) - 1])
def test_a_score_past_64_bits_is_no_cursor_of_the_servers(score: int) -> None:
    with pytest.raises(BadPageRequest):
        Position.from_cursor(Position(score, member(7)).cursor(), "after")
