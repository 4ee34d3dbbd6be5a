"""The aggregates a process replayed last (domain/replay.py): the same aggregate a full
replay gives, from only the events past the version replayed before."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.events import Event, PostCreated, PostPublished, PostUpdated
from domain.post import Post, PostStatus
from domain.replay import Replays

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


def test_a_stream_that_grew_is_evolved_by_its_new_events_alone() -> None:
    replays, rebuild = Replays(), Rebuilds()
    assert replays.of("post-p1", [CREATED], 1, rebuild) == Post.from_history([CREATED])
    history = [CREATED, UPDATED, PUBLISHED]
    post = replays.of("post-p1", history, 3, rebuild)
    assert post == Post.from_history(history)
    assert post is not None and post.status is PostStatus.PUBLISHED and post.title == "Edited"
    assert rebuild.replayed == 1  # the two new events went through evolve, not a replay
    assert replays.of("post-p1", history, 3, rebuild) is post


def test_a_stream_shorter_than_what_was_replayed_is_replayed_in_full() -> None:
    """Another store, say, with the same stream ids: nothing of the first is reused."""
    replays, rebuild = Replays(), Rebuilds()
    replays.of("post-p1", [CREATED, UPDATED], 2, rebuild)
    assert replays.of("post-p1", [CREATED], 1, rebuild) == Post.from_history([CREATED])
    assert rebuild.replayed == 3


def test_an_empty_stream_is_not_held() -> None:
    replays, rebuild = Replays(), Rebuilds()
    assert replays.of("post-p9", [], 0, rebuild) is None
    assert replays.of("post-p9", [CREATED], 1, rebuild) == Post.from_history([CREATED])
    assert rebuild.replayed == 1


def test_the_least_recently_used_stream_goes_first() -> None:
    replays, rebuild = Replays(streams=2), Rebuilds()
    for stream in ("a", "b", "a", "c"):  # b is the least recently used when c comes
        replays.of(stream, [CREATED], 1, rebuild)
    assert rebuild.replayed == 3
    replays.of("a", [CREATED], 1, rebuild)
    assert rebuild.replayed == 3
    replays.of("b", [CREATED], 1, rebuild)
    assert rebuild.replayed == 4
