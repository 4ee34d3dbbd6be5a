"""Commands decided on the aggregates a process holds, unread from the log (Handling,
trust_held): no stream is read for them, and a held aggregate another process moved on
never decides a write or a refusal. Two command buses on one store are two processes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from domain.bus import Caller, CommandBus
from domain.commands import (
    AddComment,
    ArchivePost,
    CreatePost,
    DeleteComment,
    LikePost,
    PublishPost,
    RegisterUser,
    UpdatePost,
)
from domain.errors import ConcurrencyError, NotFound
from domain.events import Event, PostArchived, PostLiked, PostUpdated
from domain.handlers import HANDLERS
from domain.ports import AppendRequest, Outcome
from eventstore.memory import InMemoryEventStore


class Store(InMemoryEventStore):
    """The in-memory store, noting which streams were read and what was appended."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.appends: list[AppendRequest] = []

    async def load(self, stream_id: str, after: int = 0) -> tuple[list[Event], int]:
        self.loads.append(stream_id)
        return await super().load(stream_id, after)

    async def append(self, request: AppendRequest) -> Outcome:
        self.appends.append(request)
        return await super().append(request)


@pytest.fixture
def store() -> Store:
    return Store()


def process(store: Store) -> CommandBus:
    return CommandBus(store, HANDLERS, lambda: datetime.now(UTC), lambda: str(uuid.uuid4()))


async def user(bus: CommandBus, name: str) -> Caller:
    outcome = await bus.dispatch(RegisterUser(name), Caller(None, "corr"))
    return Caller(outcome.ids["user_id"], "corr")


async def post_by(bus: CommandBus, author: Caller, *, published: bool = True) -> str:
    post = (await bus.dispatch(CreatePost("Title", "Text."), author)).ids["post_id"]
    if published:
        await bus.dispatch(PublishPost(post), author)
    return post


async def events_of(store: Store, stream: str) -> list[type[Event]]:
    return [type(event) for event in (await store.load(stream))[0]]


async def test_a_command_on_held_aggregates_reads_no_stream(store: Store) -> None:
    here = process(store)
    ann = await user(here, "Ann")
    post = await post_by(here, ann)  # the publish loaded the post; its append held it
    store.loads.clear()
    await here.dispatch(UpdatePost(post, 2, title="Edited"), ann)
    await here.dispatch(UpdatePost(post, 3, title="Edited again"), ann)
    assert store.loads == []
    assert (await events_of(store, f"post-{post}"))[-2:] == [PostUpdated, PostUpdated]


async def test_a_read_stream_decided_on_as_held_is_a_condition_of_the_append(
    store: Store,
) -> None:
    """delete_comment reads the post (whose author may delete) but writes the comment."""
    here = process(store)
    ann = await user(here, "Ann")
    post = await post_by(here, ann)
    comment = (await here.dispatch(AddComment(post, "Hi"), ann)).ids["comment_id"]
    await here.dispatch(DeleteComment(comment), ann)
    deleted = store.appends[-1]
    assert deleted.stream_id == f"comment-{comment}"
    assert (f"post-{post}", 2) in deleted.conditions


async def test_a_post_another_process_published_is_liked_not_refused(store: Store) -> None:
    here, there = process(store), process(store)
    ann, bob = await user(here, "Ann"), await user(here, "Bob")
    post = await post_by(here, ann, published=False)
    await here.dispatch(UpdatePost(post, 1, title="Draft"), ann)  # held here as a draft
    await there.dispatch(PublishPost(post), ann)
    await here.dispatch(LikePost(post), bob)  # the held draft is not visible to Bob
    assert await events_of(store, f"like-{post}-{bob.actor_id}") == [PostLiked]


async def test_a_comment_on_a_post_another_process_archived_is_refused(store: Store) -> None:
    here, there = process(store), process(store)
    ann, bob = await user(here, "Ann"), await user(here, "Bob")
    post = await post_by(here, ann)  # held here as published
    head = await store.head_position()
    await there.dispatch(ArchivePost(post), ann)
    with pytest.raises(NotFound):
        await here.dispatch(AddComment(post, "Too late"), bob)
    assert [type(e.event) for e in await store.read_all(head, 10)] == [PostArchived]


async def test_an_expected_version_the_log_agrees_with_is_not_refused_for_a_stale_hold(
    store: Store,
) -> None:
    here, there = process(store), process(store)
    ann = await user(here, "Ann")
    post = await post_by(here, ann)  # held here at version 2
    await there.dispatch(UpdatePost(post, 2, title="There"), ann)
    await here.dispatch(UpdatePost(post, 3, title="Here"), ann)
    assert (await store.load(f"post-{post}"))[1] == 4
    with pytest.raises(ConcurrencyError) as stale:  # and one the log disagrees with is refused
        await here.dispatch(UpdatePost(post, 3, title="Late"), ann)
    assert stale.value.current_version == 4
