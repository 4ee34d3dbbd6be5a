"""Mutation payloads: the position at once; read models only when selected, once they hold it."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.errors import NotFound
from schema.context import Context
from schema.types import Author, Comment, Post, User


async def settled_post(info: Info[Context, None], post_id: str, position: str) -> Post:
    ctx = info.context
    await ctx.read_your_write(int(position))
    view = await ctx.reads.post(post_id, ctx.viewer_id)
    if view is None:
        raise NotFound("post", post_id)
    return Post.from_view(view)


async def settled_user(info: Info[Context, None], user_id: str, position: str) -> User:
    ctx = info.context
    await ctx.read_your_write(int(position))
    view = await ctx.reads.user(user_id)
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
        await ctx.read_your_write(int(self.position))
        view = await ctx.reads.comment(self.comment_id)
        if view is None:
            raise NotFound("comment", self.comment_id)
        return Comment.from_view(view)

    @strawberry.field
    async def post(self, info: Info[Context, None]) -> Post:
        return await settled_post(info, self.post_id, self.position)
