"""Mutation payloads: the position at once; read models only when selected, once they hold it."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable

import strawberry
from strawberry.types import Info
from strawberry.types.nodes import SelectedField, Selection

from domain.errors import NotFound
from projections.readers.views import CommentView, PostView
from schema.context import Context
from schema.errors import HiddenPost
from schema.types import Author, Comment, Post, User


async def settled_post(info: Info[Context, None], post_id: str, position: str) -> Post:
    """The post once the read models hold the write. Posts are never deleted, so one
    missing then is hidden from the caller: the error says the write was committed."""
    ctx = info.context
    view = await ctx.settled(int(position), lambda: ctx.reads.post(post_id, ctx.viewer_id))
    if view is None:
        raise HiddenPost(post_id, position)
    return Post.from_view(view)


def selects_post(info: Info[Context, None]) -> bool:
    """Whether the mutation's answer selects its payload's `post`."""
    return _selects(info.selected_fields[0].selections, "post")


async def refuse_hidden_post(info: Info[Context, None], comment: CommentView | None) -> None:
    """HiddenPost before the command runs when the read model hides the comment's post,
    which the answer selects, from the caller: the domain lets a reader delete their
    comment on a post archived since (unlike the other commands on a post, which refuse a
    post hidden from their caller), but then `post` could only fail, after the write.
    Called only when `post` is selected: without it, the command runs and answers.

    The post is read as of the comment's position (Context.settled): read once Redis holds
    it, and read again when a flush came between the comment's read and the post's. An
    outside probe had 3 of 445 deleteComment answer NOT_FOUND "not visible to you" for a
    published post, a FLUSHALL every 0.7 s."""
    if comment is None:
        return
    ctx = info.context

    def read() -> Awaitable[PostView | None]:
        return ctx.reads.post(comment.post_id, ctx.viewer_id)

    found = await (read() if comment.position is None else ctx.settled(comment.position, read))
    if found is None:
        raise HiddenPost(comment.post_id)


def _selects(selections: Iterable[Selection], name: str) -> bool:
    """Whether `name` is among the fields selected, through fragments too."""
    return any(
        selection.name == name
        if isinstance(selection, SelectedField)
        else _selects(selection.selections, name)
        for selection in selections
    )


async def settled_user(info: Info[Context, None], user_id: str, position: str) -> User:
    ctx = info.context
    view = await ctx.settled(int(position), lambda: ctx.reads.user(user_id))
    if view is None:
        raise NotFound("user", user_id)
    return User.from_view(view)


@strawberry.type
class UserPayload:
    position: str
    user_id: strawberry.ID = strawberry.field(
        description="Known at once, without waiting for the read models (unlike `user`)."
    )

    @strawberry.field
    async def user(self, info: Info[Context, None]) -> User:
        return await settled_user(info, self.user_id, self.position)

    @strawberry.field(
        description=(
            "The user as their posts and comments show them (`Author`, which carries the "
            "user's id): select it in updateProfile so that a normalized client cache "
            "(Apollo, urql, Relay) shows the new name and avatar on every cached post."
        )
    )
    async def author(self, info: Info[Context, None]) -> Author:
        user = await settled_user(info, self.user_id, self.position)
        return Author(id=user.id, name=user.name, avatar_url=user.avatar_url)


@strawberry.type
class RegisterUserPayload(UserPayload):
    token: str = strawberry.field(
        description="Bearer token for the Authorization header; shown once."
    )


@strawberry.type
class PostPayload:
    position: str
    post_id: strawberry.ID = strawberry.field(
        description="Known at once, without waiting for the read models (unlike `post`)."
    )
    deleted_comment_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The comment deleteComment deleted, as `Comment.id` names it, for a client "
            "cache to drop it from the post's `comments` (Apollo's `cache.evict` and "
            "`cache.modify`, Relay's `@deleteEdge` and `@deleteRecord`); null for every "
            "other mutation. Known at once, like `postId`."
        ),
    )

    @strawberry.field
    async def post(self, info: Info[Context, None]) -> Post:
        return await settled_post(info, self.post_id, self.position)


@strawberry.type
class CommentPayload:
    position: str
    comment_id: strawberry.ID = strawberry.field(
        description="Known at once, without waiting for the read models (unlike `comment`)."
    )
    post_id: strawberry.ID

    @strawberry.field
    async def comment(self, info: Info[Context, None]) -> Comment:
        ctx = info.context
        view = await ctx.settled(int(self.position), lambda: ctx.reads.comment(self.comment_id))
        if view is None:
            raise NotFound("comment", self.comment_id)
        return Comment.from_view(view)

    @strawberry.field
    async def post(self, info: Info[Context, None]) -> Post:
        return await settled_post(info, self.post_id, self.position)
