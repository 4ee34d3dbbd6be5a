"""The aggregates a process replayed last (domain/replay.py, Handling.load): the aggregate a
full replay gives, from only the events appended since, however another process wrote."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.events import Event, PostCreated, PostPublished, PostUpdated
from domain.handlers import Handling
from domain.post import Post, PostStatus
from domain.replay import Replays
from eventstore.memory import InMemoryEventStore
from tests.support.appends import command, request

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
CREATED = PostCreated("p1", "ann", "Title", "Body", (), NOW)
UPDATED = PostUpdated("p1", "ann", "Edited", "Body", ("cqrs",), NOW)
PUBLISHED = PostPublished("p1", "ann", NOW)


class Rebuilds:
    """Post.from_history, counting the events it replays."""

    def __init__(self) -> None:
        self.replayed = 0

    def __call__(self, events: list[Event]) -> Post | None:
        self.replayed += len(events)
        return Post.from_history(events)


def handling(store: InMemoryEventStore, replays: Replays) -> Handling:
    """What one process's command bus hands its handlers."""
    return Handling(store, lambda: NOW, lambda: "id", command(), replays)


async def test_a_stream_another_process_grew_is_evolved_by_the_new_events_alone() -> None:
    store, rebuild = InMemoryEventStore(), Rebuilds()
    here, there = handling(store, Replays()), handling(store, Replays())
    await store.append(request("post-p1", 0, CREATED))
    assert await here.load("post-p1", rebuild) == (Post.from_history([CREATED]), 1)
    await there.append("post-p1", 1, [UPDATED, PUBLISHED], {})
    post, version = await here.load("post-p1", rebuild)
    assert (post, version) == (Post.from_history([CREATED, UPDATED, PUBLISHED]), 3)
    assert post is not None and post.status is PostStatus.PUBLISHED and post.title == "Edited"
    assert rebuild.replayed == 1  # the two new events went through evolve, not a replay
    assert await here.load("post-p1", rebuild) == (post, 3)


async def test_an_empty_stream_is_not_held() -> None:
    store, rebuild = InMemoryEventStore(), Rebuilds()
    here = handling(store, Replays())
    assert await here.load("post-p1", rebuild) == (None, 0)
    await store.append(request("post-p1", 0, CREATED))
    assert await here.load("post-p1", rebuild) == (Post.from_history([CREATED]), 1)
    assert rebuild.replayed == 1


def test_the_least_recently_used_stream_goes_first() -> None:
    replays, post = Replays(streams=2), Post.from_history([CREATED])
    for stream in ("a", "b", "a", "c"):  # b is the least recently used when c comes
        if replays.held(stream, Post.from_history) is None:
            replays.hold(stream, Post.from_history, 1, post)
    assert replays.held("b", Post.from_history) is None
    assert replays.held("a", Post.from_history) == (1, post)
    assert replays.held("c", Post.from_history) == (1, post)
