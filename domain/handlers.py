"""One handler per command: load the aggregate, let it decide, append what it decided."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from domain import streams
from domain.commands import (
    AddComment,
    ArchivePost,
    Command,
    CreatePost,
    DeleteComment,
    LikePost,
    PublishPost,
    RegisterUser,
    UnlikePost,
    UpdatePost,
    UpdateProfile,
)
from domain.comment import Comment
from domain.errors import ConcurrencyError, NotFound, Unauthenticated, UnreadableHistory
from domain.events import Event
from domain.like import Like
from domain.ports import AppendRequest, CommandRecord, EventStore, Outcome
from domain.post import Post
from domain.replay import Replays, evolved
from domain.upcasting import UndecodableEvent
from domain.user import User

R = TypeVar("R")  # what a stream replays into: an aggregate, or None for an empty stream


@dataclass(frozen=True)
class Handling:
    """Everything one handler run may use: the store, the clock, the id maker, who asks.

    With `trust_held`, a stream this process holds an aggregate of (domain/replay.py) is
    not read from the log at all: the decision is made on the held aggregate and its
    version, and the append checks that version, as it checks the written stream's (a
    read stream it does not write is added to its conditions). So a held aggregate that
    another process moved on fails the append, never decides a write; the command bus
    then decides again on the log's state, as it does for a refusal made on held state.
    Profiled under the write benchmark (50 writers), the two loads per command that
    found nothing new were the loop's largest cost after the handler itself."""

    store: EventStore
    now: Callable[[], datetime]
    new_id: Callable[[], str]
    command: CommandRecord
    replays: Replays
    trust_held: bool = False
    # Streams decided on as held, unread from the log: stream -> the version held.
    unverified: dict[str, int] = field(default_factory=dict)
    # Each stream as loaded (rebuild, version, aggregate): what its append evolves and holds.
    loaded: dict[str, tuple[Callable[[list[Event]], Any], int, Any]] = field(default_factory=dict)

    async def load(self, stream_id: str, rebuild: Callable[[list[Event]], R]) -> tuple[R, int]:
        """`rebuild`'s aggregate of the stream, and the stream's version: the aggregate
        this process holds, as it is (trust_held) or evolved by the events appended since
        (domain/replay.py)."""
        held = self.replays.held(stream_id, rebuild)
        if held is None:
            events, version = await self._read(stream_id)
            aggregate = rebuild(events)
        elif self.trust_held:
            version, aggregate = held
            self.unverified[stream_id] = version
        else:
            seen, before = held
            events, version = await self._read(stream_id, after=seen)
            aggregate = evolved(before, events) if events else before
        self.replays.hold(stream_id, rebuild, version, aggregate)
        self.loaded[stream_id] = (rebuild, version, aggregate)
        return aggregate, version

    async def _read(self, stream_id: str, after: int = 0) -> tuple[list[Event], int]:
        try:
            return await self.store.load(stream_id, after)
        except UndecodableEvent as error:
            raise UnreadableHistory(stream_id) from error

    async def actor(self) -> str:
        """The acting user, who must exist in the log (a signed token from a wiped log does
        not). One this process holds is not looked up again: the log only grows, and no
        event takes a user out of it."""
        actor_id = self.command.actor_id
        if actor_id is not None and self.replays.held(streams.user(actor_id), User.from_history):
            return actor_id
        user, _ = await self.acting_user()
        return user.id

    async def acting_user(self) -> tuple[User, int]:
        """The acting user's aggregate and stream version, for commands that change it."""
        actor_id = self.command.actor_id
        if actor_id is None:
            raise Unauthenticated()
        user, version = await self.load(streams.user(actor_id), User.from_history)
        if user is None:
            raise Unauthenticated("the token's user does not exist")
        return user, version

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: list[Event],
        ids: Mapping[str, str],
        conditions: tuple[tuple[str, int], ...] = (),
    ) -> Outcome:
        """Appends, on condition that every stream decided on as held is still at its
        held version; then holds what the written stream became."""
        named = {stream_id, *(stream for stream, _ in conditions)}
        conditions += tuple(held for held in self.unverified.items() if held[0] not in named)
        outcome = await self.store.append(
            AppendRequest(stream_id, expected_version, tuple(events), self.command, ids, conditions)
        )
        loaded = self.loaded.get(stream_id)
        if loaded is not None and loaded[1] == expected_version and loaded[2] is not None:
            rebuild, _, aggregate = loaded
            version = expected_version + len(events)
            self.replays.hold(stream_id, rebuild, version, evolved(aggregate, events))
        return outcome


C = TypeVar("C", bound=Command)

# What handles one command type: Handler[CreatePost] takes a CreatePost.
Handler = Callable[[C, Handling], Awaitable[Outcome]]


class Handlers:
    """Each command type with its one handler, registered by `on`.

    `on` ties the handler's parameter to the command type, so the type checker refuses
    a handler registered for a command it does not take (a dict literal could only
    say Any). Registering a command type twice is refused when the module loads.
    """

    def __init__(self) -> None:
        # Each value takes the command type it is filed under; only `on` adds one.
        self._handlers: dict[type[Command], Handler[Any]] = {}

    def on(self, command: type[C], handler: Handler[C]) -> Handlers:
        """A registry with this one added; this one is left as it was."""
        if command in self._handlers:
            raise ValueError(f"{command.__name__} has a handler already")
        extended = Handlers()
        extended._handlers = {**self._handlers, command: handler}
        return extended

    def for_command(self, command: C) -> Handler[C]:
        """The handler of the command's type; KeyError for a type with none."""
        return self._handlers[type(command)]


def check_expected(stream_id: str, expected: int | None, current: int) -> None:
    """Refuses early when the caller decided on a stale version; the append checks again."""
    if expected is not None and expected != current:
        raise ConcurrencyError(stream_id, expected, current)


async def load_post(h: Handling, post_id: str) -> tuple[Post, int]:
    post, version = await h.load(streams.post(post_id), Post.from_history)
    if post is None:
        raise NotFound("post", post_id)
    return post, version


async def load_visible_post(h: Handling, post_id: str, actor: str) -> tuple[Post, int]:
    """A post the actor may not see (someone else's draft or archived post) is NOT_FOUND,
    exactly like a missing one: no refusal tells a stranger that it exists, or its version."""
    post, version = await load_post(h, post_id)
    if not post.visible_to(actor):
        raise NotFound("post", post_id)
    return post, version


async def load_comment(h: Handling, comment_id: str) -> tuple[Comment, int]:
    comment, version = await h.load(streams.comment(comment_id), Comment.from_history)
    if comment is None or comment.deleted:
        raise NotFound("comment", comment_id)
    return comment, version


async def register_user(cmd: RegisterUser, h: Handling) -> Outcome:
    user_id = h.new_id()
    event = User.register(user_id, cmd.name, cmd.avatar_url, cmd.bio, h.now())
    return await h.append(streams.user(user_id), 0, [event], {"user_id": user_id})


async def update_profile(cmd: UpdateProfile, h: Handling) -> Outcome:
    user, version = await h.acting_user()  # one load: the actor is the aggregate
    event = user.update_profile(user.id, cmd.name, cmd.avatar_url, cmd.bio, h.now())
    return await h.append(streams.user(user.id), version, [event], {"user_id": user.id})


async def create_post(cmd: CreatePost, h: Handling) -> Outcome:
    actor = await h.actor()
    post_id = h.new_id()
    event = Post.create(post_id, actor, cmd.title, cmd.content, cmd.tags, h.now())
    return await h.append(streams.post(post_id), 0, [event], {"post_id": post_id})


async def update_post(cmd: UpdatePost, h: Handling) -> Outcome:
    def decide(post: Post, actor: str, now: datetime) -> Event:
        return post.update(actor, cmd.title, cmd.content, cmd.tags, now)

    return await _change_post(h, cmd.post_id, cmd.expected_version, decide)


async def publish_post(cmd: PublishPost, h: Handling) -> Outcome:
    return await _change_post(h, cmd.post_id, cmd.expected_version, Post.publish)


async def archive_post(cmd: ArchivePost, h: Handling) -> Outcome:
    return await _change_post(h, cmd.post_id, cmd.expected_version, Post.archive)


async def _change_post(
    h: Handling,
    post_id: str,
    expected_version: int | None,
    decide: Callable[[Post, str, datetime], Event],
) -> Outcome:
    actor = await h.actor()
    post, version = await load_visible_post(h, post_id, actor)
    post.require_author(actor, "change")  # before the version: a stranger learns nothing of it
    check_expected(streams.post(post_id), expected_version, version)
    event = decide(post, actor, h.now())
    return await h.append(streams.post(post.id), version, [event], {"post_id": post.id})


async def like_post(cmd: LikePost, h: Handling) -> Outcome:
    return await _set_like(h, cmd.post_id, cmd.expected_version, Like.like)


async def unlike_post(cmd: UnlikePost, h: Handling) -> Outcome:
    return await _set_like(h, cmd.post_id, cmd.expected_version, Like.unlike)


async def _set_like(
    h: Handling,
    post_id: str,
    expected_version: int | None,
    decide: Callable[[Like, Post, str, datetime], Event],
) -> Outcome:
    """A like lives in its own stream; the append still requires the post unchanged,
    so a rule checked against it (published?) cannot go stale before the commit."""
    actor = await h.actor()
    post, post_version = await load_visible_post(h, post_id, actor)
    check_expected(streams.post(post.id), expected_version, post_version)
    stream = streams.like(post.id, actor)
    like, version = await h.load(stream, Like.from_history)
    event = decide(like, post, actor, h.now())
    return await h.append(
        stream,
        version,
        [event],
        {"post_id": post.id},
        conditions=((streams.post(post.id), post_version),),
    )


async def add_comment(cmd: AddComment, h: Handling) -> Outcome:
    actor = await h.actor()
    post, post_version = await load_visible_post(h, cmd.post_id, actor)
    comment_id = h.new_id()
    event = Comment.add(comment_id, post, actor, cmd.body, h.now())
    return await h.append(
        streams.comment(comment_id),
        0,
        [event],
        {"comment_id": comment_id, "post_id": post.id},
        conditions=((streams.post(post.id), post_version),),
    )


async def delete_comment(cmd: DeleteComment, h: Handling) -> Outcome:
    actor = await h.actor()
    comment, version = await load_comment(h, cmd.comment_id)
    post, _ = await load_post(h, comment.post_id)
    event = comment.delete(post, actor, h.now())
    return await h.append(
        streams.comment(comment.id),
        version,
        [event],
        {"comment_id": comment.id, "post_id": comment.post_id},
    )


HANDLERS = (
    Handlers()
    .on(RegisterUser, register_user)
    .on(UpdateProfile, update_profile)
    .on(CreatePost, create_post)
    .on(UpdatePost, update_post)
    .on(PublishPost, publish_post)
    .on(ArchivePost, archive_post)
    .on(LikePost, like_post)
    .on(UnlikePost, unlike_post)
    .on(AddComment, add_comment)
    .on(DeleteComment, delete_comment)
)
